/*
 * engine/http/http-internal.h - the HTTP server core's shared internals: server, workers,
 * listeners, connections, the output chunk type, requests and responses.
 *
 * Threads: every struct below except ferry_http_server and http_listener is owned by one
 * worker thread and touched only there. ferry_http_server's listener table is protected by
 * srv->lock; a listener's handler fields are immutable after listen, its tls pointer is
 * swapped under srv->lock.
 */
#ifndef FERRY_HTTP_INTERNAL_H
#define FERRY_HTTP_INTERNAL_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/uio.h>
#include <time.h>

#include "ferry/http.h"
#include "http_parser.h"
#include "loop.h"

struct http_conn;
struct http_send_backend;
struct ssl_st;

/* ---- output chunks (nginx ngx_buf_t style): bytes in memory or a range of an open file.
 * Every byte a connection writes, head or body, is queued as chunks and leaves through
 * one path (http_conn_flush). ---- */
enum http_chunk_kind {
    HTTP_CHUNK_MEM = 0,
    HTTP_CHUNK_FILE,
};

struct http_chunk {
    struct http_chunk *next;
    enum http_chunk_kind kind;
    bool body;     /* counts as body bytes (rate limit, on_done) */
    /* MEM: data[pos..len); freed with the chunk when owned */
    char *data;
    size_t pos, len;
    size_t inline_body; /* a head chunk: its last inline_body bytes are a file body */
    bool owned;
    /* FILE: [off, off + left) of fd; fd closed with the chunk, or handed back through
     * release(release_ud) when the handler lent it (a cached descriptor) */
    int fd;
    off_t off;
    uint64_t left;
    void (*release)(void *ud);
    void *release_ud;
};

/* Allocate a memory chunk holding a copy of data (or taking it when take is true).
 * On failure returns NULL (and frees data when take). */
struct http_chunk *http_chunk_mem(void *data, size_t len, bool take);
/* A file chunk: takes fd (closed on failure too). With release set the fd is lent:
 * release(ud) is called instead of close (also on failure). */
struct http_chunk *http_chunk_file(int fd, off_t off, uint64_t len, void (*release)(void *ud),
                                   void *ud);
/* Free one chunk (closing its fd / freeing its memory). Returns NULL. */
struct http_chunk *http_chunk_free(struct http_chunk *ch);
/* Bytes still to send. */
uint64_t http_chunk_left(const struct http_chunk *ch);

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
    /* resumed head-hook waits (http_wait.c), handed over from other threads */
    pthread_mutex_t wait_lock;
    struct ferry_http_wait *waits_ready;
    bool waits_posted;
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
};

/* ---- requests and responses as handlers see them ---- */
struct ferry_http_request {
    struct http_conn *c;
    struct http_parser *p;
};

#define HTTP_RESPONSE_MAX_HEADERS_BYTES (64 * 1024)
/* File bodies up to this size are read into the head's buffer and leave with it in one
 * send: one syscall and one segment instead of head + sendfile. */
#define HTTP_INLINE_BODY_MAX (16 * 1024)
/* Header bytes a response holds without allocating. */
#define HTTP_RESPONSE_HDRS_INLINE 512

struct ferry_http_response {
    int status;
    char *hdrs; /* "Name: value\r\n"...: hdrs_inline until it outgrows it */
    size_t hdrs_len, hdrs_cap;
    bool hdrs_failed;
    struct http_chunk *body;   /* at most one */
    bool head_only;
    uint64_t head_only_len;
    bool close;
    struct ferry_rate *rate;
    ferry_http_done_fn done_fn;
    void *done_ud;
    char hdrs_inline[HTTP_RESPONSE_HDRS_INLINE]; /* last: init clears only what is above */
};

/* ---- connections ---- */
enum http_conn_state {
    HTTP_CONN_HANDSHAKE = 0, /* TLS handshake in progress */
    HTTP_CONN_READ,          /* reading a request */
    HTTP_CONN_WRITE,         /* writing a response */
    HTTP_CONN_LINGER,        /* shut down for writing, draining input before close */
};

enum http_timer_kind {
    HTTP_TIMER_NONE = 0,
    HTTP_TIMER_HEADER,
    HTTP_TIMER_IDLE,
    HTTP_TIMER_BODY,    /* the whole body must arrive in time; not re-armed per read */
    HTTP_TIMER_RATE,
    HTTP_TIMER_LINGER,
    HTTP_TIMER_RESUME,  /* continue answering pipelined requests on the next iteration */
};

struct http_conn {
    struct http_conn *prev, *next;
    struct http_worker *w;
    struct http_listener *l;
    int fd;
    struct sockaddr_storage peer;
    socklen_t peer_len;
    int local_port;
    struct sockaddr_storage local; /* the address the peer connected to */
    socklen_t local_len;
    enum http_conn_state state;
    bool closing;
    bool req_started;      /* bytes of the current request have arrived */
    bool sent_continue;
    bool close_after;      /* close once the current response is out */
    bool cork;             /* TCP_CORK set for a head + file body */

    /* input */
    char *in;
    size_t in_len, in_cap;
    struct http_parser parser;

    /* I/O operations, owned by the kernel while armed (loop.h rule 2) */
    struct loop_op rop;    /* recv (plain) or read-readiness poll (TLS) */
    struct loop_op wop;    /* write-readiness poll or a send backend's splice */
    struct loop_timer timer;
    enum http_timer_kind timer_kind;

    /* output of the current response */
    struct http_chunk *out, **out_tail;
    struct ferry_rate *rate;
    uint64_t rate_credit;
    uint64_t body_sent;
    ferry_http_done_fn done_fn;
    void *done_ud;
    bool responding;

    /* send backend state */
    const struct http_send_backend *backend;
    struct http_pipe pipe;   /* splice: held while a file chunk is in flight */
    bool has_pipe;
    size_t pipe_bytes;       /* bytes in the pipe not yet on the socket */
    bool splice_to_sock;     /* the in-flight splice is pipe -> socket */

    /* TLS */
    struct ferry_tls_ctx *tls;
    struct ssl_st *ssl;
    bool ktls_send;
    char *tls_buf;           /* userspace TLS: pread bounce buffer */
    size_t tls_buf_len, tls_buf_pos;
    char cert_sha256[65];
    char cert_sha1[41];
    bool has_cert;
    unsigned ssl_wait;       /* readiness OpenSSL asked for (POLLIN or POLLOUT) */

    /* head hook (http_wait.c): a pending suspension, its result, per-request data */
    struct ferry_http_wait *wait;
    void *wait_result;
    void (*wait_result_free)(void *);
    void *req_data;
    void (*req_data_free)(void *);
};

/* http_server.c */
void http_listener_unref(struct http_listener *l);
const char *http_worker_date(struct http_worker *w);

/* http_conn.c */
int http_conn_new(struct http_worker *w, struct http_listener *l, int fd);
void http_conn_close(struct http_conn *c);
/* Free every connection of a worker whose loop is gone (server shutdown). */
void http_conn_free_all(struct http_worker *w);
/* A send backend's asynchronous operation on c->wop finished: res bytes of the current
 * file chunk reached the socket (or -errno). */
void http_conn_file_sent(struct http_conn *c, int res);

/* Run the connection again after its head hook's wait was resumed (loop thread). */
void http_conn_resume(struct http_conn *c);

/* http_wait.c */
void http_wait_worker_init(struct http_worker *w);
/* The worker's thread is joined and its loop about to be freed: no resume may reach it any
 * more (pending ones free their results themselves); drops the ready list. */
void http_wait_worker_detach(struct http_worker *w);
/* Connection freed or its request finished: drop its wait, result and request data. */
void http_wait_conn_done(struct http_conn *c, bool request_only);

/* http_response.c */
void http_response_init(struct ferry_http_response *resp);
void http_response_done(struct ferry_http_response *resp);
/* Build head (+ body unless HEAD) chunks for the response to `p`'s request. */
int http_response_finish(struct http_conn *c, struct ferry_http_response *resp,
                         const struct http_parser *p, struct http_chunk **ret_chunks);
/* A small error response (text body, Connection: close). */
int http_response_error(struct http_conn *c, int status, struct http_chunk **ret_chunks);

/* tls.c */
int http_tls_conn_start(struct http_conn *c);
/* Drive the handshake: 0 done, -EAGAIN waiting (c->rop armed), -errno failure. */
int http_tls_handshake(struct http_conn *c);
void http_tls_conn_free(struct http_conn *c);

#endif
