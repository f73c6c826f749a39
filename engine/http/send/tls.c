/*
 * tls.c - the TLS send backend (send.h). With kTLS active on the connection
 * (BIO_get_ktls_send) file ranges go out by SSL_sendfile: the kernel encrypts straight from
 * the page cache. Otherwise the range is pread into a bounded per-connection buffer and
 * written with SSL_write (userspace encryption); the buffer keeps unwritten bytes so a
 * WANT_WRITE retry repeats the same data as OpenSSL requires.
 */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include "http_chunk.h"
#include "http_conn.h"
#include "send.h"

#define TLS_BOUNCE_BYTES (256u * 1024)

static ssize_t
tls_error(struct http_conn *c, int n)
{
    switch (SSL_get_error(c->ssl, n)) {
    case SSL_ERROR_WANT_WRITE:
        c->ssl_wait = POLLOUT;
        return -EAGAIN;
    case SSL_ERROR_WANT_READ:
        c->ssl_wait = POLLIN;
        return -EAGAIN;
    default:
        ERR_clear_error();
        return -EPIPE;
    }
}

static ssize_t
tls_send_file(struct http_conn *c, struct http_chunk *ch, size_t max)
{
    size_t want = max;
    ssize_t n;

    if (want > ch->left)
        want = (size_t)ch->left;
    if (c->ktls_send) {
        if (want > HTTP_SEND_MAX_CHUNK)
            want = HTTP_SEND_MAX_CHUNK;
        n = SSL_sendfile(c->ssl, ch->fd, ch->off, want, 0);
        if (n > 0)
            return n;
        if (n == 0)
            return -EIO;
        return tls_error(c, (int)n);
    }
    if (!c->tls_buf) {
        c->tls_buf = malloc(TLS_BOUNCE_BYTES);
        if (!c->tls_buf)
            return -ENOMEM;
        c->tls_buf_len = c->tls_buf_pos = 0;
    }
    if (c->tls_buf_pos == c->tls_buf_len) {
        /* Buffer empty: it holds file bytes from ch->off on. */
        if (want > TLS_BOUNCE_BYTES)
            want = TLS_BOUNCE_BYTES;
        do {
            n = pread(ch->fd, c->tls_buf, want, ch->off);
        } while (n < 0 && errno == EINTR);
        if (n < 0)
            return -errno;
        if (n == 0)
            return -EIO; /* the file shrank */
        c->tls_buf_len = (size_t)n;
        c->tls_buf_pos = 0;
    }
    n = SSL_write(c->ssl, c->tls_buf + c->tls_buf_pos, (int)(c->tls_buf_len - c->tls_buf_pos));
    if (n <= 0)
        return tls_error(c, (int)n);
    c->tls_buf_pos += (size_t)n;
    return n;
}

static void
tls_release(struct http_conn *c)
{
    c->tls_buf_len = c->tls_buf_pos = 0;
}

const struct http_send_backend http_send_tls = {
    .name = "tls",
    .send_file = tls_send_file,
    .release = tls_release,
};
