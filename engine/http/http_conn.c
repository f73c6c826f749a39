/*
 * http_conn.c - one HTTP/1.1 connection on a worker: read, parse, dispatch to the
 * listener's handler, write the response through the single chunk output path, keep-alive
 * and pipelining (requests are answered strictly in order: the next request is parsed only
 * once the previous response is out), header/idle timeouts, lingering close, and the
 * refusal tarpit: a 401 from a prefix past auth-tarpit-rate is held (the connection parked,
 * nothing read) and sent by the connection's timer (engine/core/authtarpit.c).
 *
 * I/O model: reads on plain sockets are io_uring recv operations; writes are non-blocking
 * writev/sendfile calls on the worker thread (zero-copy, no extra buffer), and when the
 * socket is full the connection waits with an io_uring POLL_ADD. TLS connections use
 * readiness for both directions (OpenSSL drives the socket itself).
 *
 * Lifetime: http_conn_close() marks the connection closing and cancels its armed
 * operations; the connection is freed by whichever completion finds nothing armed any
 * more (loop.h rule 2), or at once when nothing was armed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "ferry/auth.h"
#include "ferry/log.h"
#include "http_chunk.h"
#include "http_conn.h"
#include "http_response.h"
#include "http_tls.h"
#include "http_conn-internal.h"
#include "http_worker.h"
#include "send/send.h"

#define IOV_MAX_BATCH 16
/* Body bytes one connection may write before the worker serves others. */
#define HTTP_FLUSH_BUDGET (8u * 1024 * 1024)
/* Pipelined requests answered in one go before yielding to the loop. */
#define HTTP_PIPELINE_NEST_MAX 16
/* Bodies with at least this much still due are received straight into the parser's buffer. */
#define HTTP_DIRECT_BODY_MIN (64u * 1024)

static void conn_process(struct http_conn *c);
static void conn_set_cork(struct http_conn *c, bool on);
static void conn_process_step(struct http_conn *c);
static void conn_flush(struct http_conn *c);
static void conn_arm_read(struct http_conn *c);
static void conn_linger(struct http_conn *c);

static void
conn_queue(struct http_conn *c, struct http_chunk *list)
{
    while (list) {
        struct http_chunk *next = list->next;
        list->next = NULL;
        *c->out_tail = list;
        c->out_tail = &list->next;
        list = next;
    }
}

static void
conn_drop_output(struct http_conn *c)
{
    while (c->out) {
        struct http_chunk *next = c->out->next;
        http_chunk_free(c->out);
        c->out = next;
    }
    c->out_tail = &c->out;
}

/* ---- lifetime ---- */

static void
conn_notify_done(struct http_conn *c, bool complete)
{
    ferry_http_done_fn fn = c->done_fn;

    c->done_fn = NULL;
    if (c->rate)
        c->rate = ferry_rate_unref(c->rate);
    c->rate_credit = 0;
    c->responding = false;
    if (fn)
        fn(c->done_ud, c->body_sent, complete);
}

/* The connection's held 401 is due or gone: it no longer counts as parked. */
static void
conn_unpark(struct http_conn *c)
{
    if (!c->parked)
        return;
    c->parked = false;
    atomic_fetch_sub(&c->w->srv->tarpit_parked, 1);
}

static void
conn_free(struct http_conn *c)
{
    struct http_worker *w = c->w;

    conn_unpark(c);
    if (c->responding)
        conn_notify_done(c, false);
    if (c->backend && c->backend->release)
        c->backend->release(c);
    conn_drop_output(c);
    http_wait_conn_done(c, false);
    loop_timer_cancel(w->loop, &c->timer);
    http_parser_done(&c->parser);
    http_tls_free(c->ssl);
    c->ssl = NULL;
    free(c->tls_buf);
    c->tls_buf = NULL;
    c->tls = ferry_tls_ctx_unref(c->tls);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->fd >= 0)
        close(c->fd);
    atomic_fetch_sub(&w->srv->nconns, 1);
    http_listener_unref(c->l);
    free(c->in);
    free(c);
}

/* Free when closing and no operation is the kernel's any more. */
static bool
conn_maybe_free(struct http_conn *c)
{
    if (!c->closing)
        return false;
    if (c->rop.armed || c->wop.armed)
        return true;
    conn_free(c);
    return true;
}

void
http_conn_close(struct http_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    loop_timer_cancel(c->w->loop, &c->timer);
    loop_cancel(c->w->loop, &c->rop);
    loop_cancel(c->w->loop, &c->wop);
    conn_maybe_free(c);
}

/* Server shutdown: the loop is gone, so no operation is armed any more (loop.h rule 4). */
void
http_conn_free_all(struct http_worker *w)
{
    while (w->conns) {
        struct http_conn *c = w->conns;
        c->rop.armed = false;
        c->wop.armed = false;
        c->timer.heap_index = 0;
        conn_free(c);
    }
}

/* ---- timers ---- */

/* Arm the connection's timer. Callers keep using c afterwards, so a failure (the heap
 * could not grow) must not free it: the socket is shut down instead and the connection
 * closes through its next I/O completion. */
static void
conn_timer(struct http_conn *c, enum http_timer_kind kind, uint64_t ns)
{
    c->timer_kind = kind;
    if (loop_timer_add(c->w->loop, &c->timer, ns) < 0)
        shutdown(c->fd, SHUT_RDWR);
}

static void
conn_timer_fire(struct loop *loop, struct loop_timer *t)
{
    struct http_conn *c = t->data;
    enum http_timer_kind kind = c->timer_kind;

    c->timer_kind = HTTP_TIMER_NONE;
    switch (kind) {
    case HTTP_TIMER_RATE:
        conn_flush(c);
        break;
    case HTTP_TIMER_RESUME:
        conn_process(c);
        break;
    case HTTP_TIMER_TARPIT:
        conn_unpark(c);
        conn_flush(c);
        break;
    case HTTP_TIMER_HEADER:
        ferry_log_debug("http: closing connection: header timeout");
        http_conn_close(c);
        break;
    case HTTP_TIMER_BODY:
        ferry_log_debug("http: closing connection: body timeout");
        http_conn_close(c);
        break;
    default:
        http_conn_close(c);
        break;
    }
}

/* ---- reading ---- */

/* Drive the TLS handshake: 0 done (kTLS and client certificate read, the TLS send backend
 * chosen), -EAGAIN waiting (c->rop armed as a readiness poll), -errno failure. */
static int
conn_tls_handshake(struct http_conn *c)
{
    unsigned events = 0;
    int r = http_tls_handshake(c->ssl, &events);

    if (r == -EAGAIN) {
        r = loop_poll(c->w->loop, &c->rop, c->fd, events);
        return r < 0 ? r : -EAGAIN;
    }
    if (r < 0)
        return r;
    c->ktls_send = http_tls_ktls_send(c->ssl);
    c->backend = &http_send_tls;
    c->has_cert = http_tls_peer_cert(c->ssl, c->cert_sha256, c->cert_sha1);
    return 0;
}

static void
conn_on_read(struct loop *loop, struct loop_op *op, int res, bool more)
{
    struct http_conn *c = op->data;

    if (conn_maybe_free(c))
        return;
    if (c->ssl) {
        /* TLS: readiness only; the SSL layer reads. */
        if (res < 0) {
            http_conn_close(c);
            return;
        }
        if (c->state == HTTP_CONN_HANDSHAKE) {
            int r = conn_tls_handshake(c);
            if (r == -EAGAIN)
                return;
            if (r < 0) {
                http_conn_close(c);
                return;
            }
            c->state = HTTP_CONN_READ;
        }
        if (c->state == HTTP_CONN_WRITE) {
            conn_flush(c); /* SSL_write wanted to read */
            return;
        }
        conn_arm_read(c);
        return;
    }
    if (res <= 0) {
        c->direct_body = false;
        http_conn_close(c);
        return;
    }
    if (c->direct_body) {
        c->direct_body = false;
        if (c->state == HTTP_CONN_READ) {
            http_parser_body_received(&c->parser, (size_t)res);
            conn_process(c);
            return;
        }
    }
    if (c->state == HTTP_CONN_LINGER) {
        c->in_len = 0; /* discard */
        conn_arm_read(c);
        return;
    }
    c->in_len += (size_t)res;
    conn_process(c);
}

/* TLS: pull decrypted bytes until OpenSSL needs the socket. Returns bytes added, 0 when
 * it must wait (an op is armed), -1 when the connection is done. */
static int
conn_tls_read(struct http_conn *c)
{
    size_t added = 0;

    while (c->in_len < c->in_cap) {
        int n = SSL_read(c->ssl, c->in + c->in_len, (int)(c->in_cap - c->in_len));
        if (n > 0) {
            c->in_len += (size_t)n;
            added += (size_t)n;
            continue;
        }
        switch (SSL_get_error(c->ssl, n)) {
        case SSL_ERROR_WANT_READ:
            if (added)
                return (int)added;
            if (loop_poll(c->w->loop, &c->rop, c->fd, POLLIN) < 0)
                return -1;
            return 0;
        case SSL_ERROR_WANT_WRITE:
            if (added)
                return (int)added;
            if (loop_poll(c->w->loop, &c->rop, c->fd, POLLOUT) < 0)
                return -1;
            return 0;
        default:
            return added ? (int)added : -1;
        }
    }
    return (int)added;
}

static void
conn_arm_read(struct http_conn *c)
{
    int r;

    if (c->rop.armed)
        return;
    if (c->in_len >= c->in_cap) {
        /* Cannot happen: the parser refuses heads above max_header_bytes < in_cap and
         * consumes body bytes as they come. */
        http_conn_close(c);
        return;
    }
    if (c->ssl) {
        if (c->state == HTTP_CONN_LINGER) {
            http_conn_close(c);
            return;
        }
        r = conn_tls_read(c);
        if (r < 0) {
            http_conn_close(c);
            return;
        }
        if (r > 0)
            conn_process(c);
        return;
    }
    {
        char *dst;
        size_t n;

        /* a large body with nothing buffered ahead of it: straight into the parser's
         * buffer, without the copy and in far fewer receives than through c->in */
        if (c->in_len == 0 && c->state == HTTP_CONN_READ &&
            http_parser_body_window(&c->parser, &dst, &n) && n >= HTTP_DIRECT_BODY_MIN) {
            c->direct_body = true;
            r = loop_recv(c->w->loop, &c->rop, c->fd, dst, n, 0);
            if (r < 0) {
                c->direct_body = false;
                http_conn_close(c);
            }
            return;
        }
    }
    r = loop_recv(c->w->loop, &c->rop, c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
    if (r < 0)
        http_conn_close(c);
}

/* ---- writing ---- */

static void conn_on_writable(struct loop *loop, struct loop_op *op, int res, bool more);

static int
conn_wait_writable(struct http_conn *c, unsigned mask)
{
    int r;

    loop_op_init(&c->wop, conn_on_writable, c); /* a backend may have used wop */
    r = loop_poll(c->w->loop, &c->wop, c->fd, mask);

    if (r < 0)
        return r;
    /* A peer that stops reading is dropped after the idle timeout. */
    if (c->timer_kind != HTTP_TIMER_RATE)
        conn_timer(c, HTTP_TIMER_IDLE, c->w->srv->idle_timeout_ns);
    return 0;
}

static void
conn_on_writable(struct loop *loop, struct loop_op *op, int res, bool more)
{
    struct http_conn *c = op->data;

    if (conn_maybe_free(c))
        return;
    if (res < 0) {
        http_conn_close(c);
        return;
    }
    conn_flush(c);
}

/* How much body may go now under the response's rate: UINT64_MAX when unlimited, 0 when
 * the connection must wait (a timer is armed). */
static uint64_t
conn_rate_grant(struct http_conn *c, uint64_t want)
{
    uint64_t wait_ns = 0, got;

    if (!c->rate)
        return UINT64_MAX;
    if (c->rate_credit >= want || c->rate_credit > 0)
        return c->rate_credit < want ? c->rate_credit : want;
    got = ferry_rate_take(c->rate, want, &wait_ns);
    if (got > 0) {
        c->rate_credit = got;
        return got;
    }
    if (wait_ns == 0)
        wait_ns = 1000000;
    conn_timer(c, HTTP_TIMER_RATE, wait_ns);
    return 0;
}

/* n bytes of ch just went out (ch->pos already advanced past them for memory). */
static void
conn_account(struct http_conn *c, struct http_chunk *ch, uint64_t n)
{
    if (!ch->body && ch->inline_body) {
        size_t body_start = ch->len - ch->inline_body, end = ch->pos;
        size_t start = end - (size_t)n;
        if (end > body_start)
            c->body_sent += end - (start > body_start ? start : body_start);
        return;
    }
    if (!ch->body)
        return;
    c->body_sent += n;
    if (c->rate)
        c->rate_credit = c->rate_credit > n ? c->rate_credit - n : 0;
}

/* Pop the finished head chunk. */
static void
conn_pop(struct http_conn *c)
{
    struct http_chunk *ch = c->out;

    c->out = ch->next;
    if (!c->out)
        c->out_tail = &c->out;
    if (ch->kind == HTTP_CHUNK_FILE && c->backend && c->backend->release)
        c->backend->release(c);
    http_chunk_free(ch);
}

static void conn_response_sent(struct http_conn *c);

/* Plain socket, memory chunks at the head of the queue: one writev. */
static int
conn_write_mem_plain(struct http_conn *c, uint64_t grant)
{
    struct iovec iov[IOV_MAX_BATCH];
    struct msghdr msg;
    struct http_chunk *ch = c->out;
    int niov = 0, flags = MSG_NOSIGNAL;
    ssize_t n;

    for (; ch && ch->kind == HTTP_CHUNK_MEM && niov < IOV_MAX_BATCH; ch = ch->next) {
        size_t len = ch->len - ch->pos;
        if (ch->body) {
            /* A throttled body gets its own grant: it never rides along with the head. */
            if (grant == 0 || (c->rate && niov > 0))
                break;
            if (len > grant)
                len = (size_t)grant;
            grant -= len;
        }
        iov[niov].iov_base = ch->data + ch->pos;
        iov[niov].iov_len = len;
        niov++;
    }
    if (ch)
        flags |= MSG_MORE; /* a file body follows the head: one segment train */
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = iov;
    msg.msg_iovlen = (size_t)niov;
    do {
        n = sendmsg(c->fd, &msg, flags);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    while (n > 0 && c->out) {
        struct http_chunk *h = c->out;
        size_t len = h->len - h->pos;
        size_t take = (size_t)n < len ? (size_t)n : len;
        h->pos += take;
        n -= (ssize_t)take;
        conn_account(c, h, take);
        if (h->pos == h->len)
            conn_pop(c);
    }
    return 0;
}

/* TLS, one memory chunk. */
static int
conn_write_mem_tls(struct http_conn *c, uint64_t grant)
{
    struct http_chunk *ch = c->out;
    size_t len = ch->len - ch->pos;
    int n;

    if (ch->body && len > grant)
        len = (size_t)grant;
    if (len > (size_t)1 << 30)
        len = (size_t)1 << 30;
    n = SSL_write(c->ssl, ch->data + ch->pos, (int)len);
    if (n <= 0) {
        switch (SSL_get_error(c->ssl, n)) {
        case SSL_ERROR_WANT_WRITE:
            c->ssl_wait = POLLOUT;
            return -EAGAIN;
        case SSL_ERROR_WANT_READ:
            c->ssl_wait = POLLIN;
            return -EAGAIN;
        default:
            return -EPIPE;
        }
    }
    ch->pos += (size_t)n;
    conn_account(c, ch, (uint64_t)n);
    if (ch->pos == ch->len)
        conn_pop(c);
    return 0;
}

/* The single output path: drain the chunk queue until it is empty, the socket is full,
 * the rate limit says wait, or a backend operation is in flight. */
static void
conn_flush(struct http_conn *c)
{
    uint64_t sent_before = c->body_sent;

    if (c->wop.armed)
        return;
    while (c->out) {
        struct http_chunk *ch = c->out;
        uint64_t grant = UINT64_MAX;
        int r;

        if (c->body_sent - sent_before >= HTTP_FLUSH_BUDGET) {
            /* A fast reader must not monopolise the worker: yield, and continue when the
             * (still writable) socket's poll completes on the next loop iteration. */
            if (conn_wait_writable(c, POLLOUT) < 0)
                http_conn_close(c);
            return;
        }
        if (ch->body) {
            grant = conn_rate_grant(c, http_chunk_left(ch));
            if (grant == 0)
                return;
        }
        if (ch->kind == HTTP_CHUNK_MEM) {
            c->ssl_wait = POLLOUT;
            r = c->ssl ? conn_write_mem_tls(c, grant) : conn_write_mem_plain(c, grant);
        } else {
            size_t max = grant > HTTP_SEND_MAX_CHUNK ? HTTP_SEND_MAX_CHUNK : (size_t)grant;
            ssize_t n;

            c->ssl_wait = POLLOUT;
            n = c->backend->send_file(c, ch, max);
            if (n == -EINPROGRESS)
                return;
            conn_set_cork(c, false);
            r = n < 0 ? (int)n : 0;
            if (n > 0) {
                ch->off += n;
                ch->left -= (uint64_t)n;
                conn_account(c, ch, (uint64_t)n);
                if (ch->left == 0)
                    conn_pop(c);
            }
        }
        if (r == -EAGAIN) {
            if (conn_wait_writable(c, c->ssl_wait) < 0)
                http_conn_close(c);
            return;
        }
        if (r < 0) {
            http_conn_close(c);
            return;
        }
    }
    conn_response_sent(c);
}

/* A backend's io_uring operation completed (see send.h). */
void
http_conn_file_sent(struct http_conn *c, int res)
{
    struct http_chunk *ch = c->out;

    if (conn_maybe_free(c))
        return;
    conn_set_cork(c, false);
    if (res == -EAGAIN) {
        if (conn_wait_writable(c, POLLOUT) < 0)
            http_conn_close(c);
        return;
    }
    if (res <= 0 || !ch || ch->kind != HTTP_CHUNK_FILE) {
        http_conn_close(c);
        return;
    }
    ch->off += res;
    ch->left -= (uint64_t)res;
    conn_account(c, ch, (uint64_t)res);
    if (ch->left == 0)
        conn_pop(c);
    conn_flush(c);
}

/* ---- requests ---- */

/* TCP_CORK over the head and the first file send of a response: they leave in full
 * segments, and the uncork right after that send pushes what is still queued from this
 * thread rather than leaving it to the peer's ACKs (on loopback: the peer's CPU). Corking
 * a whole multi-GB body instead costs about half the single-stream throughput (measured
 * with curl on loopback); a 1 MiB range is one send, so it is corked whole. Inline bodies
 * (at most HTTP_INLINE_BODY_MAX) are never corked: two setsockopt calls would cost more
 * than the one sendmsg they ride in. */
static void
conn_set_cork(struct http_conn *c, bool on)
{
    int v = on ? 1 : 0;

    if (c->ssl || c->cork == on)
        return;
    setsockopt(c->fd, IPPROTO_TCP, TCP_CORK, &v, sizeof(v));
    c->cork = on;
}

/* Start writing `chunks` as the current response, or with hold_ms, once the refusal
 * tarpit's timer is due (the connection parked meanwhile). */
static void
conn_respond(struct http_conn *c, struct http_chunk *chunks, unsigned hold_ms)
{
    bool has_file = false;

    for (struct http_chunk *ch = chunks; ch; ch = ch->next)
        if (ch->kind == HTTP_CHUNK_FILE)
            has_file = true;
    c->state = HTTP_CONN_WRITE;
    c->responding = true;
    c->body_sent = 0;
    loop_timer_cancel(c->w->loop, &c->timer);
    c->timer_kind = HTTP_TIMER_NONE;
    conn_queue(c, chunks);
    if (has_file)
        conn_set_cork(c, true);
    if (hold_ms) {
        /* a held 401: nothing is read (no receive is armed, so the kernel's buffer and TCP
         * flow control hold what the peer still sends) nor written until the timer */
        c->timer_kind = HTTP_TIMER_TARPIT;
        if (loop_timer_add(c->w->loop, &c->timer, (uint64_t)hold_ms * 1000000ULL) == 0)
            return;
        c->timer_kind = HTTP_TIMER_NONE;
        conn_unpark(c);
    }
    conn_flush(c);
}

static void
conn_error(struct http_conn *c, int status)
{
    struct http_chunk *chunks = NULL;

    c->close_after = true;
    if (http_response_error(http_worker_date(c->w), status, &chunks) < 0) {
        http_conn_close(c);
        return;
    }
    conn_respond(c, chunks, 0);
}

/* The request as handlers and head hooks see it (ferry/http.h accessors). */
static void
conn_request(struct http_conn *c, struct ferry_http_request *req)
{
    *req = (struct ferry_http_request){
        .p = &c->parser,
        .c = c,
        .local = c->local_len ? &c->local : NULL,
        .local_len = c->local_len,
        .peer = &c->peer,
        .peer_len = c->peer_len,
        .local_port = c->local_port,
        .tls = c->ssl != NULL,
        .ktls_send = c->ktls_send,
        .cert_sha256 = c->has_cert ? c->cert_sha256 : NULL,
        .cert_sha1 = c->has_cert ? c->cert_sha1 : NULL,
    };
}

/* At most one line per HTTP_TARPIT_LOG_MS per server about held refusals. */
static void
conn_tarpit_log(struct http_conn *c, unsigned ms)
{
    struct ferry_http_server *srv = c->w->srv;
    int64_t now = ferry_clock_ms();
    long long last = atomic_load(&srv->tarpit_log_ms);
    char peer[INET6_ADDRSTRLEN] = "?";

    if (now - last < HTTP_TARPIT_LOG_MS ||
        !atomic_compare_exchange_strong(&srv->tarpit_log_ms, &last, (long long)now))
        return;
    if (c->peer.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&c->peer)->sin_addr, peer, sizeof(peer));
    else if (c->peer.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&c->peer)->sin6_addr, peer,
                  sizeof(peer));
    ferry_log_warn("http %s: too many unauthenticated requests from %s and its prefix: "
                   "401 answers held %u ms (%u held now, %llu so far)",
                   srv->name, peer, ms, atomic_load(&srv->tarpit_parked),
                   (unsigned long long)atomic_load(&srv->tarpit_held));
}

/* A 401 is due: the milliseconds the refusal tarpit holds it (0 = send at once). A held
 * connection counts as parked until its answer starts or it is freed. */
static unsigned
conn_tarpit_hold(struct http_conn *c)
{
    struct ferry_http_server *srv = c->w->srv;
    unsigned ms;

    if (!srv->tarpit)
        return 0;
    ms = ferry_tarpit_refusal(srv->tarpit, (const struct sockaddr *)&c->peer, ferry_clock_ms());
    if (ms == 0)
        return 0;
    if (atomic_fetch_add(&srv->tarpit_parked, 1) >= srv->tarpit_max) {
        atomic_fetch_sub(&srv->tarpit_parked, 1);
        return 0; /* too many held: answer at once, as without the tarpit */
    }
    c->parked = true;
    atomic_fetch_add(&srv->tarpit_held, 1);
    conn_tarpit_log(c, ms);
    return ms;
}

/* Send the response a handler (or head hook) filled; consumes resp. A 401 may be held by
 * the refusal tarpit first. */
static void
conn_send(struct http_conn *c, struct ferry_http_response *resp)
{
    struct http_chunk *chunks = NULL;
    int status = resp->status;
    unsigned hold;

    if (!c->parser.keep_alive || resp->close)
        c->close_after = true;
    c->rate = resp->rate;
    resp->rate = NULL;
    c->done_fn = resp->done_fn;
    c->done_ud = resp->done_ud;
    if (http_response_finish(resp, &c->parser, http_worker_date(c->w), c->close_after,
                             !c->rate && !c->ktls_send, &chunks) < 0) {
        /* The handler's response cannot be sent: it still hears about it once. */
        http_response_done(resp);
        c->body_sent = 0;
        conn_notify_done(c, false);
        conn_error(c, 500);
        return;
    }
    http_response_done(resp);
    hold = status == 401 ? conn_tarpit_hold(c) : 0;
    conn_respond(c, chunks, hold);
}

static void
conn_dispatch(struct http_conn *c)
{
    struct ferry_http_request req;
    struct ferry_http_response resp;

    conn_request(c, &req);
    http_response_init(&resp);
    c->l->handler(c->l->userdata, &req, &resp);
    conn_send(c, &resp);
}

/* The head is parsed and the body held: ask the listener's head hook (ferry/http.h). */
static void
conn_head_check(struct http_conn *c)
{
    struct ferry_http_request req;
    struct ferry_http_response resp;
    bool has_body = c->parser.chunked || c->parser.content_length > 0;
    size_t used = 0;
    int v;

    conn_request(c, &req);
    http_response_init(&resp);
    v = c->l->head(c->l->userdata, &req, &resp);
    if (c->wait_result && c->wait_result_free)
        c->wait_result_free(c->wait_result); /* not taken by the hook */
    c->wait_result = NULL;
    c->wait_result_free = NULL;
    if (v == FERRY_HTTP_HEAD_WAIT) {
        http_response_done(&resp);
        if (!c->wait)
            conn_error(c, 503);
        return; /* nothing is read until http_conn_resume() */
    }
    http_parser_release_body(&c->parser);
    if (v != FERRY_HTTP_HEAD_ANSWER) {
        http_response_done(&resp);
        conn_process_step(c);
        return;
    }
    /* Answer on the head alone: an unread body makes the stream untrustworthy, so the
     * connection closes after the answer (draining what the peer still sends). */
    if (has_body || http_parser_execute(&c->parser, c->in, 0, &used) != 0)
        c->close_after = true;
    loop_timer_cancel(c->w->loop, &c->timer);
    c->timer_kind = HTTP_TIMER_NONE;
    conn_send(c, &resp);
}

void
http_conn_resume(struct http_conn *c)
{
    if (c->closing)
        return;
    conn_process(c);
}

/* Parse and answer what the buffer holds. Answering a pipelined request may come straight
 * back here when its response went out at once; past a small depth the rest waits for the
 * next loop iteration (a zero-delay timer), so a buffer full of tiny requests cannot grow
 * the stack without bound. */
static void
conn_process(struct http_conn *c)
{
    struct http_worker *w = c->w; /* c may be freed by the step; w outlives it */

    if (w->nest >= HTTP_PIPELINE_NEST_MAX) {
        conn_timer(c, HTTP_TIMER_RESUME, 0);
        return;
    }
    w->nest++;
    conn_process_step(c);
    w->nest--;
}

static void
conn_process_step(struct http_conn *c)
{
    size_t consumed = 0;
    int r;

    if (c->in_len > 0 && !c->req_started) {
        c->req_started = true;
        conn_timer(c, HTTP_TIMER_HEADER, c->w->srv->header_timeout_ns);
    }
    r = http_parser_execute(&c->parser, c->in, c->in_len, &consumed);
    if (consumed) {
        memmove(c->in, c->in + consumed, c->in_len - consumed);
        c->in_len -= consumed;
    }
    if (r == -EBADMSG) {
        ferry_log_debug("http: refusing request with status %d", c->parser.status);
        conn_error(c, c->parser.status);
        return;
    }
    if (r == -EAGAIN && c->parser.state == HTTP_PARSE_HELD) {
        conn_head_check(c);
        return;
    }
    if (r == -EAGAIN) {
        if (http_parser_head_complete(&c->parser)) {
            /* Reading a body: the header timer is done; one timer bounds the whole body
             * (armed once, so a trickle of bytes cannot keep the connection forever). */
            if (c->timer_kind != HTTP_TIMER_BODY)
                conn_timer(c, HTTP_TIMER_BODY, c->w->srv->body_timeout_ns);
            if (c->parser.expect_continue && !c->sent_continue) {
                static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
                c->sent_continue = true;
                if (c->ssl) {
                    if (SSL_write(c->ssl, cont, sizeof(cont) - 1) != (int)sizeof(cont) - 1) {
                        http_conn_close(c);
                        return;
                    }
                } else if (send(c->fd, cont, sizeof(cont) - 1, MSG_NOSIGNAL) !=
                           (ssize_t)sizeof(cont) - 1) {
                    http_conn_close(c);
                    return;
                }
            }
        }
        conn_arm_read(c);
        return;
    }
    loop_timer_cancel(c->w->loop, &c->timer);
    c->timer_kind = HTTP_TIMER_NONE;
    conn_dispatch(c);
}

/* The current response is fully on the socket. */
static void
conn_response_sent(struct http_conn *c)
{
    conn_set_cork(c, false);
    if (c->responding)
        conn_notify_done(c, true);
    http_wait_conn_done(c, true);
    if (c->closing)
        return;
    if (c->close_after) {
        conn_linger(c);
        return;
    }
    if (c->direct_body) {
        /* a receive still owns the body buffer: never reset it under the kernel */
        conn_linger(c);
        return;
    }
    http_parser_reset(&c->parser);
    c->state = HTTP_CONN_READ;
    c->req_started = false;
    c->sent_continue = false;
    if (c->in_len > 0) {
        conn_process(c); /* pipelined; TLS-buffered bytes are picked up by conn_arm_read */
        return;
    }
    conn_timer(c, HTTP_TIMER_IDLE, c->w->srv->idle_timeout_ns);
    conn_arm_read(c);
}

/* Half-close and drain what the peer still sends, so an unread request body does not turn
 * our last response into a reset; bounded by the header timeout. */
static void
conn_linger(struct http_conn *c)
{
    if (c->ssl) {
        SSL_shutdown(c->ssl);
        http_conn_close(c);
        return;
    }
    c->state = HTTP_CONN_LINGER;
    shutdown(c->fd, SHUT_WR);
    c->in_len = 0;
    conn_timer(c, HTTP_TIMER_LINGER, c->w->srv->header_timeout_ns);
    conn_arm_read(c);
}

/* ---- accept ---- */

/*
 * Adopt an accepted socket on worker w. Takes fd (closed on failure). The connection is
 * counted against the server's max_connections by the caller. 0 or -errno.
 */
int
http_conn_new(struct http_worker *w, struct http_listener *l, int fd)
{
    struct ferry_http_server *srv = w->srv;
    struct http_parser_limits lim;
    struct sockaddr_storage local;
    socklen_t local_len = sizeof(local);
    struct http_conn *c;
    int one = 1;

    c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return -ENOMEM;
    }
    c->w = w;
    c->l = l;
    atomic_fetch_add(&l->refs, 1);
    c->fd = fd;
    c->out_tail = &c->out;
    c->backend = srv->backend;
    c->in_cap = srv->max_header_bytes + 4096;
    c->in = malloc(c->in_cap);
    c->peer_len = sizeof(c->peer);
    getpeername(fd, (struct sockaddr *)&c->peer, &c->peer_len);
    if (getsockname(fd, (struct sockaddr *)&local, &local_len) == 0) {
        c->local = local;
        c->local_len = local_len;
    }
    if (c->local_len)
        c->local_port = local.ss_family == AF_INET6
                            ? ntohs(((struct sockaddr_in6 *)&local)->sin6_port)
                            : ntohs(((struct sockaddr_in *)&local)->sin_port);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    /* Keep at most send_lowat unsent bytes queued: the worker's own sendfile then puts
     * the data on the wire, and the peer's ACKs only wake the worker instead of clocking
     * out a deep queue in the peer's context (on loopback, the peer's CPU); the socket also
     * holds less memory per connection. Measured in docs/internals/http.md §8. */
    if (srv->send_lowat > 0)
        setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &srv->send_lowat,
                   sizeof(srv->send_lowat));
    lim.max_header_bytes = srv->max_header_bytes;
    lim.max_headers = srv->max_headers;
    lim.max_target_bytes = srv->max_header_bytes / 2;
    lim.max_body_bytes = l->max_body_bytes;
    lim.hold_body = l->head != NULL;
    http_parser_init(&c->parser, &lim);
    loop_op_init(&c->rop, conn_on_read, c);
    loop_op_init(&c->wop, conn_on_writable, c);
    loop_timer_init(&c->timer, conn_timer_fire, c);
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    atomic_fetch_add(&srv->nconns, 1);
    if (!c->in) {
        http_conn_close(c);
        return -ENOMEM;
    }
    /* A connection that sends nothing is a slowloris too. */
    c->req_started = true;
    conn_timer(c, HTTP_TIMER_HEADER, srv->header_timeout_ns);
    pthread_mutex_lock(&srv->lock);
    c->tls = l->tls ? ferry_tls_ctx_ref(l->tls) : NULL;
    pthread_mutex_unlock(&srv->lock);
    if (c->tls) {
        int r;
        c->state = HTTP_CONN_HANDSHAKE;
        r = http_tls_accept(c->tls, c->fd, &c->ssl);
        if (r < 0) {
            http_conn_close(c);
            return r;
        }
        r = conn_tls_handshake(c);
        if (r == -EAGAIN)
            return 0;
        if (r < 0) {
            http_conn_close(c);
            return r;
        }
    }
    c->state = HTTP_CONN_READ;
    conn_arm_read(c);
    return 0;
}
