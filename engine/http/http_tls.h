/*
 * engine/http/http_tls.h - the TLS side of a connection (http_tls.c): accept, drive the
 * handshake, read what it negotiated. Works on the OpenSSL object and the socket only,
 * so the connection (http_conn.c) calls down here and nothing here calls back up.
 */
#ifndef FERRY_HTTP_TLS_H
#define FERRY_HTTP_TLS_H

#include <stdbool.h>

#include "ferry/http.h"

struct ssl_st;

/* A server-side SSL object for fd under ctx. 0 or -ENOMEM. */
int http_tls_accept(struct ferry_tls_ctx *ctx, int fd, struct ssl_st **ret_ssl);
/* Advance the handshake: 0 complete, -EAGAIN waiting for *ret_events (POLLIN or POLLOUT)
 * on the socket, -EPROTO failed. */
int http_tls_handshake(struct ssl_st *ssl, unsigned *ret_events);
/* After the handshake: whether kTLS send is on (logged once per process), and the client
 * certificate's SHA-256 and SHA-1 hex digests (false without one). */
bool http_tls_ktls_send(struct ssl_st *ssl);
bool http_tls_peer_cert(struct ssl_st *ssl, char sha256[65], char sha1[41]);
/* Free the SSL object (NULL is fine) and clear this thread's OpenSSL error queue. */
void http_tls_free(struct ssl_st *ssl);

#endif
