/*
 * engine/http/http_response.h - requests and responses as handlers see them
 * (ferry/http.h), and the assembly of a response into output chunks. Knows nothing of
 * connections: the connection fills a request with what the accessors answer and passes
 * the Date value and keep-alive decision in.
 */
#ifndef FERRY_HTTP_RESPONSE_H
#define FERRY_HTTP_RESPONSE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ferry/http.h"
#include "http_chunk.h"
#include "http_parser.h"

struct http_conn;

struct ferry_http_request {
    const struct http_parser *p;
    struct http_conn *c; /* opaque here; the head-hook waits (http_conn_wait.c) suspend it */
    const struct sockaddr_storage *local; /* the address the peer connected to */
    socklen_t local_len;
    const struct sockaddr_storage *peer;
    socklen_t peer_len;
    int local_port;
    bool tls;
    bool ktls_send;          /* kTLS carries the response (read by tests/engine/http) */
    const char *cert_sha256; /* NULL without a client certificate */
    const char *cert_sha1;
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

void http_response_init(struct ferry_http_response *resp);
void http_response_done(struct ferry_http_response *resp);
/* Build head (+ body unless HEAD) chunks for the response to `p`'s request. date is the
 * Date header value, close adds "Connection: close", inline_ok allows reading a small file
 * body into the head (no rate limit, no kTLS). */
int http_response_finish(struct ferry_http_response *resp, const struct http_parser *p,
                         const char *date, bool close, bool inline_ok,
                         struct http_chunk **ret_chunks);
/* A small error response (text body, Connection: close). */
int http_response_error(const char *date, int status, struct http_chunk **ret_chunks);

#endif
