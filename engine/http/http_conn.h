/*
 * engine/http/http_conn.h - one HTTP/1.1 connection on a worker (http_conn.c). Owned by its
 * worker thread and touched only there.
 */
#ifndef FERRY_HTTP_CONN_H
#define FERRY_HTTP_CONN_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ferry/http.h"
#include "http_chunk.h"
#include "http_parser.h"
#include "http_worker.h"
#include "loop.h"

struct http_send_backend;
struct ssl_st;

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
    HTTP_TIMER_TARPIT,  /* a held 401 is due (the refusal tarpit) */
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
    bool direct_body;      /* the armed recv writes into the parser's body buffer (a large
                              Content-Length body, plain sockets): the buffer belongs to
                              the kernel until it completes */
    bool close_after;      /* close once the current response is out */
    bool parked;           /* its 401 is held by the tarpit: nothing is read or written */
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

    /* head hook (http_conn_wait.c): a pending suspension, its result, per-request data */
    struct ferry_http_wait *wait;
    void *wait_result;
    void (*wait_result_free)(void *);
    void *req_data;
    void (*req_data_free)(void *);
    /* per-connection data of the handler (e.g. the URL group the socket counts against),
     * freed when the connection is */
    void *conn_data;
    void (*conn_data_free)(void *);
};

int http_conn_new(struct http_worker *w, struct http_listener *l, int fd);
void http_conn_close(struct http_conn *c);
/* Free every connection of a worker whose loop is gone (server shutdown). */
void http_conn_free_all(struct http_worker *w);
/* A send backend's asynchronous operation on c->wop finished: res bytes of the current
 * file chunk reached the socket (or -errno). */
void http_conn_file_sent(struct http_conn *c, int res);

/* Run the connection again after its head hook's wait was resumed (loop thread). */
void http_conn_resume(struct http_conn *c);

#endif
