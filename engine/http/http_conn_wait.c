/*
 * http_conn_wait.c - head hooks that wait for another thread (ferry/http.h): a listener's head
 * hook suspends its request (e.g. while a verifier thread runs PBKDF2) and whoever finishes
 * resumes it from any thread; the connection then runs the hook again on its worker.
 *
 * A struct ferry_http_wait has two references: the connection's (dropped when it is freed
 * or when the resume is delivered) and the resumer's (dropped once the resume is handled).
 * Its `w` pointer, under its own lock, is the only thing another thread reads: it is
 * cleared when the connection goes away and when the worker is torn down, so a late
 * resume never touches a freed worker or loop; it then frees its result itself. Resumed
 * waits queue on the worker's ready list and one posted command (loop_post, which carries
 * only the worker) drains it, so a command dropped at teardown leaks nothing.
 *
 * Also the handler's data of a request and of a connection (ferry_http_request_set_data,
 * _set_conn_data): freed with the request's answer and with the connection.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "http_conn.h"
#include "http_response.h"
#include "http_conn-internal.h"
#include "http_worker.h"

struct ferry_http_wait {
    pthread_mutex_t lock;
    atomic_uint refs;
    struct http_worker *w; /* under lock; NULL once nothing may be resumed */
    struct http_conn *c;   /* worker thread only; NULL once the connection is gone */
    void *result;
    void (*result_free)(void *);
    struct ferry_http_wait *next; /* the worker's ready list (under w->wait_lock) */
};

static void
wait_unref(struct ferry_http_wait *wt)
{
    if (atomic_fetch_sub(&wt->refs, 1) != 1)
        return;
    if (wt->result && wt->result_free)
        wt->result_free(wt->result);
    pthread_mutex_destroy(&wt->lock);
    free(wt);
}

void
http_wait_worker_init(struct http_worker *w, http_wait_resume_fn resume)
{
    pthread_mutex_init(&w->wait_lock, NULL);
    w->wait_resume = resume;
}

/* The connection forgets its wait: nothing is resumed for it any more. */
static void
wait_forget(struct http_conn *c)
{
    struct ferry_http_wait *wt = c->wait;

    if (!wt)
        return;
    c->wait = NULL;
    pthread_mutex_lock(&wt->lock);
    wt->w = NULL;
    wt->c = NULL;
    pthread_mutex_unlock(&wt->lock);
    wait_unref(wt);
}

void
http_wait_conn_done(struct http_conn *c, bool request_only)
{
    void (*fn)(void *) = c->req_data_free;
    void *data = c->req_data;

    if (!request_only) {
        void (*cfn)(void *) = c->conn_data_free;
        void *cdata = c->conn_data;

        wait_forget(c);
        c->conn_data = NULL;
        c->conn_data_free = NULL;
        if (cfn)
            cfn(cdata);
    }
    if (c->wait_result && c->wait_result_free)
        c->wait_result_free(c->wait_result);
    c->wait_result = NULL;
    c->wait_result_free = NULL;
    c->req_data = NULL;
    c->req_data_free = NULL;
    if (fn)
        fn(data);
}

static void
wait_drain(struct loop *loop, void *arg)
{
    struct http_worker *w = arg;
    struct ferry_http_wait *list;

    (void)loop;
    pthread_mutex_lock(&w->wait_lock);
    list = w->waits_ready;
    w->waits_ready = NULL;
    w->waits_posted = false;
    pthread_mutex_unlock(&w->wait_lock);
    while (list) {
        struct ferry_http_wait *wt = list;
        struct http_conn *c = wt->c;

        list = wt->next;
        if (c && c->wait == wt) {
            wait_forget(c); /* the connection's reference */
            if (c->wait_result && c->wait_result_free)
                c->wait_result_free(c->wait_result);
            c->wait_result = wt->result;
            c->wait_result_free = wt->result_free;
            wt->result = NULL;
            c->w->wait_resume(c);
        }
        wait_unref(wt); /* the resumer's reference */
    }
}

void
http_wait_worker_detach(struct http_worker *w)
{
    struct ferry_http_wait *list;

    for (struct http_conn *c = w->conns; c; c = c->next) {
        if (!c->wait)
            continue;
        pthread_mutex_lock(&c->wait->lock);
        c->wait->w = NULL;
        pthread_mutex_unlock(&c->wait->lock);
    }
    pthread_mutex_lock(&w->wait_lock);
    list = w->waits_ready;
    w->waits_ready = NULL;
    pthread_mutex_unlock(&w->wait_lock);
    while (list) {
        struct ferry_http_wait *wt = list;

        list = wt->next;
        wait_unref(wt); /* the resumer's; the connection's goes with the connection */
    }
}

void
ferry_http_request_set_data(const struct ferry_http_request *r, void *data,
                            void (*free_fn)(void *))
{
    struct http_conn *c = r->c;

    if (c->req_data && c->req_data_free && c->req_data != data)
        c->req_data_free(c->req_data);
    c->req_data = data;
    c->req_data_free = free_fn;
}

void *
ferry_http_request_data(const struct ferry_http_request *r)
{
    return r->c->req_data;
}

void
ferry_http_request_set_conn_data(const struct ferry_http_request *r, void *data,
                                 void (*free_fn)(void *))
{
    struct http_conn *c = r->c;

    if (c->conn_data && c->conn_data_free && c->conn_data != data)
        c->conn_data_free(c->conn_data);
    c->conn_data = data;
    c->conn_data_free = free_fn;
}

void *
ferry_http_request_conn_data(const struct ferry_http_request *r)
{
    return r->c->conn_data;
}

struct ferry_http_wait *
ferry_http_request_suspend(const struct ferry_http_request *r)
{
    struct http_conn *c = r->c;
    struct ferry_http_wait *wt;

    if (c->wait)
        return NULL;
    wt = calloc(1, sizeof(*wt));
    if (!wt)
        return NULL;
    pthread_mutex_init(&wt->lock, NULL);
    atomic_init(&wt->refs, 2);
    wt->w = c->w;
    wt->c = c;
    c->wait = wt;
    return wt;
}

void
ferry_http_wait_resume(struct ferry_http_wait *wt, void *result, void (*result_free)(void *))
{
    struct http_worker *w;

    wt->result = result;
    wt->result_free = result_free;
    pthread_mutex_lock(&wt->lock);
    w = wt->w;
    if (w) {
        pthread_mutex_lock(&w->wait_lock);
        wt->next = w->waits_ready;
        w->waits_ready = wt;
        if (!w->waits_posted && loop_post(w->loop, wait_drain, w) == 0)
            w->waits_posted = true;
        pthread_mutex_unlock(&w->wait_lock);
    }
    pthread_mutex_unlock(&wt->lock);
    if (!w)
        wait_unref(wt);
}

void *
ferry_http_request_take_result(const struct ferry_http_request *r)
{
    struct http_conn *c = r->c;
    void *res = c->wait_result;

    c->wait_result = NULL;
    c->wait_result_free = NULL;
    return res;
}

void
ferry_http_request_allow_body(const struct ferry_http_request *r, size_t max_bytes)
{
    http_parser_allow_body(&r->c->parser, max_bytes);
}

void
ferry_http_request_body_sink(const struct ferry_http_request *r, ferry_http_body_fn fn,
                             void *ud)
{
    http_parser_set_sink(&r->c->parser, fn, ud);
}
