/*
 * engine/http/http_worker.h - the HTTP server's shared state: ferry_http_server, its worker
 * threads (one io_uring loop each) and its listeners (one socket per worker).
 *
 * Threads: ferry_http_server's listener table is protected by srv->lock; a listener's
 * handler fields are immutable after listen, its tls pointer is swapped under srv->lock.
 * A worker and everything hanging off it is touched only by its own thread.
 */
#ifndef FERRY_HTTP_WORKER_H
#define FERRY_HTTP_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "ferry/http.h"
#include "loop.h"

struct http_conn;
struct http_send_backend;
struct ferry_tarpit;

/* At most one log line this often about held refusals (per server). */
#define HTTP_TARPIT_LOG_MS 10000

/* ---- listeners ---- */
struct http_lsock {
    struct http_listener *l;
    struct http_worker *w;
    int fd;
    struct loop_op op;
    struct loop_timer retry;
    bool closing;
};

struct http_listener {
    uint32_t id;
    int port;
    ferry_http_head_fn head;
    ferry_http_handler_fn handler;
    void *userdata;
    size_t max_body_bytes;
    struct ferry_tls_ctx *tls;  /* under srv->lock */
    struct http_lsock *socks;   /* one per worker */
    atomic_uint refs;           /* server table + every connection accepted on it */
};

/* ---- workers ---- */
struct http_pipe {
    int fds[2];
    size_t size;
};

struct http_worker {
    struct ferry_http_server *srv;
    unsigned index;
    struct loop *loop;
    pthread_t thread;
    bool started;
    struct http_conn *conns; /* doubly linked */
    unsigned nest;           /* conn_process recursion depth (pipelining) */
    time_t date_sec;
    char date[40];
    /* splice backend: pool of pipes */
    struct http_pipe *pipes_free;
    size_t npipes_free, npipes_total;
    /* resumed head-hook waits (http_conn_wait.c), handed over from other threads */
    pthread_mutex_t wait_lock;
    struct ferry_http_wait *waits_ready;
    bool waits_posted;
    void (*wait_resume)(struct http_conn *c); /* http_conn_resume, set by http_wait_worker_init */
};

struct ferry_http_server {
    char *name;
    size_t max_header_bytes;
    unsigned max_headers;
    uint64_t header_timeout_ns, idle_timeout_ns, body_timeout_ns;
    unsigned max_connections;
    const struct http_send_backend *backend;
    int send_lowat;            /* TCP_NOTSENT_LOWAT of accepted sockets, 0 = not set */
    unsigned nworkers;
    struct http_worker *workers;

    pthread_mutex_t lock;
    struct http_listener **listeners;
    size_t nlisteners;
    uint32_t next_id;
    atomic_uint nconns;

    /* refusal tarpit (http_conn.c conn_send): 401s of a noisy address prefix are held */
    struct ferry_tarpit *tarpit;  /* NULL = never held */
    unsigned tarpit_max;          /* connections held at once, beyond: answered at once */
    atomic_uint tarpit_parked;    /* held now */
    atomic_ullong tarpit_held;    /* held so far */
    atomic_llong tarpit_log_ms;   /* the last log line about held refusals */
};

/* Drop one reference; the last frees the listener (and its TLS context reference). */
void http_listener_unref(struct http_listener *l);
/* The worker's Date header value, recomputed at most once a second. */
const char *http_worker_date(struct http_worker *w);

#endif
