/*
 * engine/http/send/send.h - send backends: how a connection puts a file range on its
 * socket. One small table of function pointers per backend (nginx event/modules style):
 *   sendfile  sendfile(2) on the non-blocking socket, POLLOUT wait when it is full
 *   splice    io_uring IORING_OP_SPLICE file -> pooled pipe -> socket (sendfile when the
 *             worker's pipe pool is exhausted)
 *   tls       kTLS SSL_sendfile, or pread into a bounded buffer + SSL_write
 * Memory chunks never reach a backend: http_conn_flush writes them itself.
 */
#ifndef FERRY_HTTP_SEND_H
#define FERRY_HTTP_SEND_H

#include <sys/types.h>

struct http_conn;
struct http_chunk;

struct http_send_backend {
    const char *name;
    /* Send up to `max` (> 0) bytes of the file chunk `ch` (kind FILE, ch->left > 0).
     * Returns the bytes that reached the socket (> 0; the caller advances ch), -EAGAIN
     * when the socket is full (the caller waits for c->wait_mask readiness), -EINPROGRESS
     * when an io_uring operation was submitted on c->wop (its completion ends in
     * http_conn_file_sent()), or -errno (the connection is closed). */
    ssize_t (*send_file)(struct http_conn *c, struct http_chunk *ch, size_t max);
    /* Drop per-connection state (a pooled pipe...). Called when a chunk completes and
     * when the connection closes. May be NULL. */
    void (*release)(struct http_conn *c);
};

extern const struct http_send_backend http_send_sendfile;
extern const struct http_send_backend http_send_splice;
extern const struct http_send_backend http_send_tls;

/* "sendfile" | "splice" -> backend (NULL or "" = sendfile); NULL when unknown. */
const struct http_send_backend *http_send_backend_find(const char *name);

/* Largest single send of a file range (bounds the time one connection holds a worker). */
#define HTTP_SEND_MAX_CHUNK (2u * 1024 * 1024)

#endif
