/*
 * http_conn-internal.h - the connection module split by concept: http_conn_wait.c holds
 * head hooks that suspend a request until another thread resumes it
 * (ferry/http.h's ferry_http_wait_*); the worker and connection side of http_conn_wait.c.
 */
#ifndef FERRY_HTTP_CONN_INTERNAL_H
#define FERRY_HTTP_CONN_INTERNAL_H

#include <stdbool.h>

struct http_worker;
struct http_conn;

/* Runs a connection again once its wait was resumed (http_conn_resume): given by the server
 * at worker set-up, so that waits never call up into the connection module. */
typedef void (*http_wait_resume_fn)(struct http_conn *c);

void http_wait_worker_init(struct http_worker *w, http_wait_resume_fn resume);
/* The worker's thread is joined and its loop about to be freed: no resume may reach it any
 * more (pending ones free their results themselves); drops the ready list. */
void http_wait_worker_detach(struct http_worker *w);
/* Connection freed or its request finished: drop its wait, result and request data. */
void http_wait_conn_done(struct http_conn *c, bool request_only);

#endif
