/*
 * ferry/http.h - the HTTP/1.1 server core as handlers see it.
 *
 * A struct ferry_http_server owns N worker threads, each with its own io_uring ring; every
 * listener is opened once per worker with SO_REUSEPORT. Connections are parsed strictly
 * (engine/http/http_parser.c) and each complete request is handed to the listener's
 * handler, synchronously, on the worker thread. The handler fills the response: a status,
 * headers and at most one body (bytes in memory or a range of an open file). The core
 * adds Date, Content-Length, Connection, and writes head and body through one output path
 * (sendfile/splice for files on plain sockets, kTLS or userspace TLS on https).
 *
 * Handlers must not block for long: they run on the loop thread of their server.
 */
#ifndef FERRY_HTTP_H
#define FERRY_HTTP_H

#include <sys/socket.h>
#include <sys/types.h>
#include "ferry/common.h"
#include "ferry/rate.h"

struct ferry_config;
struct ferry_http_server;
struct ferry_http_request;
struct ferry_http_response;
struct ferry_tls_ctx;

enum ferry_http_method {
    FERRY_HTTP_OTHER = 0,
    FERRY_HTTP_GET,
    FERRY_HTTP_HEAD,
    FERRY_HTTP_POST,
    FERRY_HTTP_PUT,
    FERRY_HTTP_DELETE,
    FERRY_HTTP_OPTIONS,
};

/* Called once per request on the worker thread. Must set a status (default 500). */
typedef void (*ferry_http_handler_fn)(void *userdata, const struct ferry_http_request *req,
                                      struct ferry_http_response *resp);
/* A listener's head hook: called on the worker thread once a request's head is parsed,
 * before any byte of its body is read or buffered and before a 100 Continue goes out.
 * Returns one of: */
enum ferry_http_head_verdict {
    FERRY_HTTP_HEAD_GO = 0,  /* read the body (100 Continue now if asked), then the handler */
    FERRY_HTTP_HEAD_ANSWER,  /* send resp now; the body is never read (the connection closes
                                after the answer when the request has one) */
    FERRY_HTTP_HEAD_WAIT,    /* ferry_http_request_suspend() was called: the connection
                                reads nothing until the wait is resumed, then the hook runs
                                again for the same request */
};
typedef int (*ferry_http_head_fn)(void *userdata, const struct ferry_http_request *req,
                                  struct ferry_http_response *resp);
struct ferry_http_wait;

/* Called when the response has been sent (or the connection died): bytes of body sent. */
typedef void (*ferry_http_done_fn)(void *userdata, uint64_t body_bytes_sent, bool complete);

/* ---- server lifecycle ---- */

/* Create a server with `workers` threads (0 = online CPUs) using the HTTP limits of cfg.
 * `name` labels its threads in logs ("data", "wsman"). Threads start at once. */
FERRY_API int ferry_http_server_new(const struct ferry_config *cfg, const char *name,
                                    unsigned workers, struct ferry_http_server **ret_srv);
/* Stop accepting, close every connection, join the threads. Responses still in flight get
 * their on_done(complete = false) on the calling thread. Joins the workers: never call it
 * from a handler or while holding a lock handlers take. NULL-safe, returns NULL. */
FERRY_API struct ferry_http_server *ferry_http_server_free(struct ferry_http_server *srv);

struct ferry_http_listen_opts {
    const char *addr;          /* "127.0.0.1:5985", "[::1]:80", "0.0.0.0:8080", "*:8080" */
    struct ferry_tls_ctx *tls; /* NULL = plain http; the listener takes a reference */
    ferry_http_handler_fn handler;
    void *userdata;
    size_t max_body_bytes;     /* request bodies above this -> 413 (0 = no bodies: 413) */
    ferry_http_head_fn head;   /* NULL: every request goes straight to the handler */
};

/* Open a listener on every worker. Returns a listener id >= 1 in *ret_id. -EADDRINUSE etc.
 * Thread-safe: may be called while the server runs (e.g. from the WS-Man thread). */
FERRY_API int ferry_http_server_listen(struct ferry_http_server *srv,
                                       const struct ferry_http_listen_opts *opts,
                                       uint32_t *ret_id);
/* Close a listener (its open connections are still served). Thread-safe and never waits
 * for a worker (callable under locks handlers take, or from a handler); the port stops
 * listening before it returns and can be listened on again at once. */
FERRY_API int ferry_http_server_unlisten(struct ferry_http_server *srv, uint32_t id);
/* Port actually bound (useful with port 0). */
FERRY_API int ferry_http_server_port(struct ferry_http_server *srv, uint32_t id);
/* The refusal tarpit (docs/internals/http.md, "Refusal tarpit"): 401 answers held back so
 * far, and connections whose 401 is held now. Thread-safe; NULL outputs are skipped. */
FERRY_API void ferry_http_server_tarpit_stats(struct ferry_http_server *srv,
                                              uint64_t *ret_held, unsigned *ret_parked);
/* Replace a listener's TLS context (SetSslCertificate). Thread-safe. */
FERRY_API int ferry_http_server_set_tls(struct ferry_http_server *srv, uint32_t id,
                                        struct ferry_tls_ctx *tls);

/* ---- TLS contexts (engine/http/tls.c) ---- */

/* Load a server certificate chain and key (PEM). client_ca (may be NULL) enables optional
 * client-certificate requests verified against that CA file. kTLS is enabled when the
 * kernel offers it; the choice is logged once per process. */
FERRY_API int ferry_tls_ctx_new(const char *cert_file, const char *key_file,
                                const char *client_ca, struct ferry_tls_ctx **ret_ctx);
FERRY_API struct ferry_tls_ctx *ferry_tls_ctx_ref(struct ferry_tls_ctx *ctx);
FERRY_API struct ferry_tls_ctx *ferry_tls_ctx_unref(struct ferry_tls_ctx *ctx);
/* true when setsockopt(TCP_ULP, "tls") works on this kernel (probed once). */
FERRY_API bool ferry_tls_kernel_has_ktls(void);

/* ---- requests ---- */

FERRY_API enum ferry_http_method ferry_http_request_method(const struct ferry_http_request *r);
/* The method token as sent (e.g. "BITS_POST" for FERRY_HTTP_OTHER). */
FERRY_API const char *ferry_http_request_method_str(const struct ferry_http_request *r);
/* The request target's path, percent-decoded ('%2F' and NUL are refused by the parser
 * before handlers see them), and the raw query (without '?', may be ""). */
FERRY_API const char *ferry_http_request_path(const struct ferry_http_request *r);
FERRY_API const char *ferry_http_request_query(const struct ferry_http_request *r);
/* First header of that name (case-insensitive), NUL-terminated, or NULL. */
FERRY_API const char *ferry_http_request_header(const struct ferry_http_request *r,
                                                const char *name);
/* Iterate headers: returns false past the end. */
FERRY_API bool ferry_http_request_header_at(const struct ferry_http_request *r, size_t i,
                                            const char **ret_name, const char **ret_value);
/* The de-chunked body (NULL/0 when none). */
FERRY_API const void *ferry_http_request_body(const struct ferry_http_request *r,
                                              size_t *ret_len);
FERRY_API const struct sockaddr *ferry_http_request_peer(const struct ferry_http_request *r,
                                                         socklen_t *ret_len);
/* true when the peer address is loopback (127.0.0.0/8, ::1, ::ffff:127.x). */
FERRY_API bool ferry_http_request_peer_is_loopback(const struct ferry_http_request *r);
FERRY_API int ferry_http_request_local_port(const struct ferry_http_request *r);
/* The local address the peer connected to (NULL when unknown). */
FERRY_API const struct sockaddr *ferry_http_request_local(const struct ferry_http_request *r,
                                                          socklen_t *ret_len);
FERRY_API bool ferry_http_request_is_tls(const struct ferry_http_request *r);
/* SHA-256 of the client certificate's DER as 64 lowercase hex chars, or NULL. */
FERRY_API const char *ferry_http_request_client_cert_sha256(const struct ferry_http_request *r);
/* SHA-1 of the client certificate (thumbprint, 40 hex chars), or NULL. */
FERRY_API const char *ferry_http_request_client_cert_sha1(const struct ferry_http_request *r);

/* ---- head hooks: per-request data and suspension (engine/http/http_wait.c) ---- */

/* Attach data to the current request (replacing and freeing any earlier one); free_fn(data)
 * runs once the response is out or the connection is gone. Worker thread only. */
FERRY_API void ferry_http_request_set_data(const struct ferry_http_request *r, void *data,
                                           void (*free_fn)(void *));
FERRY_API void *ferry_http_request_data(const struct ferry_http_request *r);
/* Attach data to the request's connection (replacing and freeing any earlier one); it
 * outlives the request and free_fn(data) runs once, when the closing connection is freed
 * (also at server shutdown). Worker thread only; handlers and head hooks. */
FERRY_API void ferry_http_request_set_conn_data(const struct ferry_http_request *r,
                                                void *data, void (*free_fn)(void *));
FERRY_API void *ferry_http_request_conn_data(const struct ferry_http_request *r);
/* From a head hook that then returns FERRY_HTTP_HEAD_WAIT: a token for whoever finishes the
 * work (any thread). NULL on OOM. */
FERRY_API struct ferry_http_wait *ferry_http_request_suspend(const struct ferry_http_request *r);
/* Any thread, exactly once per token: hand `result` back and run the head hook again on the
 * worker, where ferry_http_request_take_result() returns it. When the connection or the
 * server is gone by then, result_free(result) runs instead (on some thread). Never blocks
 * on the worker. */
FERRY_API void ferry_http_wait_resume(struct ferry_http_wait *wait, void *result,
                                      void (*result_free)(void *));
/* In the head hook after a resume: the result (the caller owns it now), else NULL. */
FERRY_API void *ferry_http_request_take_result(const struct ferry_http_request *r);
/* From a head hook that then returns FERRY_HTTP_HEAD_GO: this request alone may carry a body
 * of up to max_bytes (the listener's max_body_bytes is the cap for every other request, and
 * a smaller max_bytes changes nothing). The 413 for a larger body still comes before a body
 * byte is read. Worker thread only. */
FERRY_API void ferry_http_request_allow_body(const struct ferry_http_request *r,
                                             size_t max_bytes);
/* Told of a request's body bytes as they arrive: bytes, their count and their offset in the
 * body (in order, without gaps). */
typedef void (*ferry_http_body_fn)(void *ud, const char *bytes, size_t len, uint64_t offset);
/* From a head hook that then returns FERRY_HTTP_HEAD_GO: fn(ud, ...) runs on the worker for
 * every body byte of this request as it arrives, before the handler (which still gets the
 * whole body); ud must live until the handler has run (e.g. request data). */
FERRY_API void ferry_http_request_body_sink(const struct ferry_http_request *r,
                                            ferry_http_body_fn fn, void *ud);

/* ---- responses ---- */

FERRY_API void ferry_http_response_status(struct ferry_http_response *resp, int status);
/* Add a header. The value must not contain CR or LF (-EINVAL otherwise); the name must be a
 * token and not one the core writes itself (Content-Length, Transfer-Encoding, Connection,
 * Keep-Alive, Date, Server: -EINVAL). A refused header leaves the response unchanged. */
FERRY_API int ferry_http_response_header(struct ferry_http_response *resp, const char *name,
                                         const char *fmt, ...) FERRY_PRINTF(3, 4);
/* Body from memory: copied. */
FERRY_API int ferry_http_response_body_copy(struct ferry_http_response *resp,
                                            const void *data, size_t len);
/* Body from memory: takes ownership of a malloc()ed buffer (freed by the core). */
FERRY_API int ferry_http_response_body_take(struct ferry_http_response *resp, void *data,
                                            size_t len);
/* Body from a file range: takes ownership of fd (closed by the core, also on failure). */
FERRY_API int ferry_http_response_body_file(struct ferry_http_response *resp, int fd,
                                            off_t offset, off_t len);
/* Body from a file range on a lent descriptor (a cache's): the core never closes fd and
 * calls release(ud) once it is done with it (also on failure, and at once when the body is
 * small enough to be read into the head). -EINVAL without release. */
FERRY_API int ferry_http_response_body_file_lent(struct ferry_http_response *resp, int fd,
                                                 off_t offset, off_t len,
                                                 void (*release)(void *ud), void *ud);
/* For HEAD: announce Content-Length `len` without a body (on other methods the response
 * becomes a 500). A body set for a HEAD request is dropped but its length announced. */
FERRY_API void ferry_http_response_head_only(struct ferry_http_response *resp, off_t len);
/* Close the connection after this response. */
FERRY_API void ferry_http_response_close(struct ferry_http_response *resp);
/* Throttle the body through a shared token bucket (taken by reference). */
FERRY_API void ferry_http_response_rate(struct ferry_http_response *resp,
                                        struct ferry_rate *rate);
FERRY_API void ferry_http_response_on_done(struct ferry_http_response *resp,
                                           ferry_http_done_fn fn, void *userdata);

#endif
