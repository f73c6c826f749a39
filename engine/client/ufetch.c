/*
 * ufetch.c - the io_uring range fetcher (ufetch_*, ufetch.h): fetch threads, each one
 * engine/core/loop.c ring, moving byte ranges of plain http:// sources into the temp file.
 *
 * A connection (struct uf_conn) lives on one fetch thread and does one thing at a time:
 * connect (non-blocking connect + POLLOUT), send the request, receive the response head
 * into a 16 KiB buffer (parsed by engine/http/http_resp.c), then receive the body straight
 * into its 1 MiB buffer, one recv per whatever the socket holds (no MSG_WAITALL: the stall
 * timer is re-armed by every byte, so a slow but steady server is no stall). Each receive
 * is hashed into the range's XXH3-128 stream as it completes and written with pwrite() at
 * its offset right after, while the socket copy's bytes are in cache, as the raw loop does
 * (bench/raw_fetch). Gathering a full 1 MiB before the pwrite was measured slower: 0.85 s
 * against 0.61 s for 1 GiB over one connection, 0.61 against 0.57 s over two, because the
 * socket waits unread during each 1 MiB write (perf: 2,800 receives found it empty). Only
 * then does the range's progress (bytes written + the stream's digest at that point) move,
 * under the source's lock, so a checkpoint taken from ufetch_progress() never claims a byte
 * that was not written. One pwrite per receive (~200–300 KiB each on loopback) replaces the
 * 16 KiB write callbacks of libcurl, and no byte is copied in user space except the few
 * body bytes that arrive with the head.
 *
 * Splice mode (params.splice): after the head (and the body bytes that came with it, written
 * as above), the body goes socket -> the connection's pipe -> the file at its offset with
 * splice(2): the ring waits for the socket to be readable (a poll op, the stall timer armed),
 * then, in that completion, one splice moves what the socket holds (at most the range's rest,
 * the pipe's size and what uf_pace granted; a grant not used is given back) into the pipe,
 * the pipe is drained into the file, the new bytes are read back with pread() into the 1 MiB
 * buffer (hot in the page cache) and hashed, and only then does the progress move. The
 * pipe is empty between completions, so a stop or a failure never finds bytes that are
 * neither in the file nor dropped: bytes a failed file splice left in the pipe are dropped
 * with the pipe, progress not moved. splice(2) runs on the fetch thread, not as
 * IORING_OP_SPLICE: io_uring always hands splice to an io-wq worker (one thread hop and a
 * wakeup per splice), while a socket that polled readable splices at once. A file system
 * without splice_write (EINVAL / ENOSYS) turns the whole source back to recv + pwrite; the
 * bytes already in the pipe are read out of it and written the recv way, nothing is lost.
 *
 * Ownership: the jobs thread owns sources and ranges; a fetch thread owns its connections'
 * sockets, buffers and the range it is working on (conn->r). They meet only under
 * source->lock (queue, results, progress, the live count). A loop_op belongs to the kernel
 * from submit to its completion (loop.h rule 2): a connection stops by shutting its socket
 * down and cancelling its op, and is counted off `live` only by that op's completion (or at
 * once when nothing was in flight). ufetch_source_stop() waits for live == 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <unistd.h>

#include "ferry/http.h"
#include "http_resp.h"
#include "ferry/rate.h"
#include "client/verify.h"
#include "loop.h"
#include "ufetch.h"

#define UF_HEAD_BUF HTTP_RESP_MAX_HEAD_BYTES
#define UF_MAX_THREADS 16
#define UF_NRATES 3         /* the source's own, then ufetch_source_params.rates */

struct uf_thread {
    struct ufetch *u;
    struct loop *loop;
    pthread_t th;
    bool started;
};

struct ufetch {
    unsigned n;
    struct uf_thread *t;
    ufetch_wake_fn wake;
    void *wake_data;
    unsigned next;          /* first thread of the next source's connections */
};

/* One fed range. Jobs thread allocates and frees it; a fetch thread works on it while it
 * is conn->r. Fields marked (lock) are guarded by source->lock. */
struct uf_range {
    struct uf_range *next_all;  /* (lock) every range not yet polled */
    struct uf_range *next_q;    /* (lock) queue or result list */
    void *tag;
    uint64_t start, end;        /* inclusive */
    void *hs;                   /* verify stream (ufetch.h rule 2) */
    uint64_t written;           /* (lock) bytes from start written and hashed */
    uint8_t digest[16];         /* (lock) digest of the stream when `written` was set */
    struct ufetch_result res;   /* (lock) valid once finished */
};

enum uf_state {
    UC_CLOSED, UC_CONNECTING, UC_IDLE, UC_SENDING, UC_HEAD, UC_BODY, UC_PACING,
    UC_SPLICE,  /* body, splice mode: waiting for the socket to be readable */
};

struct uf_conn {
    struct ufetch_source *s;
    struct uf_thread *t;
    int sock;
    enum uf_state st;
    struct loop_op op;          /* the one operation in flight (kernel-owned while armed) */
    struct loop_timer timer;    /* stall / connect timeout, or the pacing wait */
    bool timer_pace;
    bool timed_out;
    bool stopping;
    bool reused;                /* this connection already carried a whole response */
    bool keep_alive;
    struct uf_range *r;         /* the range in progress, NULL when idle */
    uint64_t pos;               /* next offset to receive */
    uint64_t attempt_pos;       /* pos when the current request was sent */
    size_t fill;                /* bytes in buf not yet written: [pos - fill, pos) */
    unsigned fails;             /* failures in a row without progress */
    uint64_t paid[UF_NRATES];   /* granted by bucket k and not yet received */
    size_t grant;               /* bytes the body op in flight may take (paid for) */
    int pipe_r, pipe_w;         /* splice mode: socket -> pipe -> file; -1 = none yet */
    size_t pipe_cap;            /* the pipe's size (F_SETPIPE_SZ, up to the buffer's) */
    char *req;
    size_t req_len, req_sent;
    char *hbuf;
    size_t hlen;
    char *buf;
};

struct ufetch_source {
    struct ufetch *u;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct uf_range *all;           /* (lock) */
    struct uf_range *q_head, *q_tail;   /* (lock) waiting for a connection */
    struct uf_range *d_head, *d_tail;   /* (lock) finished, not polled */
    unsigned live;                  /* (lock) connections not yet stopped */
    bool stopping;                  /* (lock) */
    bool stopped;                   /* jobs thread: stop finished */
    /* immutable after ufetch_source_new */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char *prefix;                   /* request line + fixed header fields */
    size_t prefix_len;
    char *if_range, *etag, *last_modified;
    uint64_t total;
    int fd;
    unsigned connect_timeout_s, stall_timeout_s;
    unsigned max_retries;           /* UFETCH_MAX_RETRIES, or 0 with params.no_retry */
    struct ferry_rate *rate[UF_NRATES];  /* [0] own (set_rate), [1..2] shared; NULL = none */
    unsigned nconns;
    struct uf_conn *conns;
    atomic_bool splice;             /* params.splice, cleared when the file refuses it */
    atomic_uint_fast64_t spliced;   /* body bytes moved by splice */
};

static const struct http_resp_limits uf_resp_limits = {
    .max_head_bytes = HTTP_RESP_MAX_HEAD_BYTES,
    .max_headers = HTTP_RESP_MAX_HEADERS,
    .max_value_bytes = HTTP_RESP_MAX_VALUE_BYTES,
};

static void conn_on_op(struct loop *loop, struct loop_op *op, int res, bool more);
static void conn_take(struct uf_conn *c);
static void conn_body_next(struct uf_conn *c);

/* ---- fetch-thread side ---- */

static void
conn_timer_arm(struct uf_conn *c, unsigned seconds)
{
    c->timer_pace = false;
    c->timed_out = false;
    loop_timer_add(c->t->loop, &c->timer, (uint64_t)seconds * 1000000000ULL);
}

static void
conn_close_sock(struct uf_conn *c)
{
    if (c->sock >= 0)
        close(c->sock);
    c->sock = -1;
    /* the pipe goes with the connection (and with it bytes a failed drain left there) */
    if (c->pipe_r >= 0)
        close(c->pipe_r);
    if (c->pipe_w >= 0)
        close(c->pipe_w);
    c->pipe_r = c->pipe_w = -1;
    c->st = UC_CLOSED;
    c->reused = false;
    c->hlen = 0;
}

/* Bytes up to c->pos are written and hashed: publish the range's progress. */
static void
conn_publish(struct uf_conn *c)
{
    struct ufetch_source *s = c->s;
    struct uf_range *r = c->r;
    uint8_t d[16];

    verify_stream_digest(r->hs, d);
    pthread_mutex_lock(&s->lock);
    r->written = c->pos - r->start;
    memcpy(r->digest, d, 16);
    pthread_mutex_unlock(&s->lock);
}

/*
 * Write the buffered bytes (hashed as they arrived) at their offset; then publish the
 * range's new progress. -errno when pwrite failed (the progress stays where it was).
 */
static int
conn_flush(struct uf_conn *c)
{
    struct ufetch_source *s = c->s;
    struct uf_range *r = c->r;
    uint64_t off = c->pos - c->fill;
    size_t done = 0;

    if (c->fill == 0 || !r)
        return 0;
    while (done < c->fill) {
        ssize_t n = pwrite(s->fd, c->buf + done, c->fill - done, (off_t)(off + done));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        done += (size_t)n;
    }
    c->fill = 0;
    conn_publish(c);
    return 0;
}

/* Counted off: nothing of the connection is in flight any more; the source may go. */
static void
conn_stopped(struct uf_conn *c)
{
    struct ufetch_source *s = c->s;

    loop_timer_cancel(c->t->loop, &c->timer);
    if (c->r)
        (void)conn_flush(c); /* received bytes are kept (a failed write only loses them) */
    c->r = NULL;
    conn_close_sock(c);
    pthread_mutex_lock(&s->lock);
    s->live--;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    /* c may be freed from here on */
}

/* The range ends (success or error): report it, then take the next one. */
static void
conn_finish(struct uf_conn *c, enum ufetch_status st, int http_status, int err)
{
    struct ufetch_source *s = c->s;
    struct uf_range *r = c->r;
    bool keep = st == UFETCH_DONE && c->keep_alive && c->sock >= 0;

    loop_timer_cancel(c->t->loop, &c->timer);
    if (st != UFETCH_DONE && st != UFETCH_E_LOCAL && conn_flush(c) < 0)
        st = UFETCH_E_LOCAL;
    c->r = NULL;
    c->fill = 0;
    pthread_mutex_lock(&s->lock);
    r->res.tag = r->tag;
    r->res.status = st;
    r->res.http_status = http_status;
    r->res.err = err;
    r->res.written = r->written;
    memcpy(r->res.digest, r->digest, 16);
    r->next_q = NULL;
    if (s->d_tail)
        s->d_tail->next_q = r;
    else
        s->d_head = r;
    s->d_tail = r;
    pthread_mutex_unlock(&s->lock);
    s->u->wake(s->u->wake_data);
    if (keep) {
        c->st = UC_IDLE;
        c->reused = true;
        c->hlen = 0;
    } else {
        conn_close_sock(c);
    }
    conn_take(c);
}

/*
 * The connection broke (reset, EOF, refused, timed out). Received bytes are kept; the rest
 * of the range is asked for again on a fresh connection unless this keeps failing.
 */
static void
conn_fail(struct uf_conn *c, int err)
{
    bool connecting = c->st == UC_CONNECTING;
    bool idle_close = c->reused && c->pos == c->attempt_pos && c->st != UC_CONNECTING;
    int r;

    r = conn_flush(c);
    conn_close_sock(c);
    if (r < 0) {
        conn_finish(c, UFETCH_E_LOCAL, 0, r);
        return;
    }
    if (c->timed_out) {
        conn_finish(c, UFETCH_E_TIMEOUT, 0, -ETIMEDOUT);
        return;
    }
    if (connecting) {
        conn_finish(c, UFETCH_E_NET, 0, err);
        return;
    }
    if (c->pos > c->attempt_pos)
        c->fails = 0;
    if (!idle_close)
        c->fails++; /* a keep-alive connection the server closed meanwhile is no failure */
    if (c->fails > c->s->max_retries) {
        conn_finish(c, UFETCH_E_NET, 0, err);
        return;
    }
    c->st = UC_CLOSED;
    conn_take(c); /* c->r is still set: the same range continues */
}

static int
conn_submit_recv(struct uf_conn *c, void *buf, size_t len, int flags)
{
    int r = loop_recv(c->t->loop, &c->op, c->sock, buf, len, flags);

    if (r >= 0)
        conn_timer_arm(c, c->s->stall_timeout_s);
    return r;
}

static void
conn_send_request(struct uf_conn *c)
{
    struct ufetch_source *s = c->s;
    int n, r;

    memcpy(c->req, s->prefix, s->prefix_len);
    n = snprintf(c->req + s->prefix_len, 128 + (s->if_range ? strlen(s->if_range) : 0) + 16,
                 "Range: bytes=%llu-%llu\r\n%s%s%s\r\n", (unsigned long long)c->pos,
                 (unsigned long long)c->r->end, s->if_range ? "If-Range: " : "",
                 s->if_range ? s->if_range : "", s->if_range ? "\r\n" : "");
    c->req_len = s->prefix_len + (size_t)n;
    c->req_sent = 0;
    c->attempt_pos = c->pos;
    c->hlen = 0;
    c->st = UC_SENDING;
    r = loop_send(c->t->loop, &c->op, c->sock, c->req, c->req_len, MSG_NOSIGNAL);
    if (r < 0) {
        conn_fail(c, r);
        return;
    }
    conn_timer_arm(c, s->stall_timeout_s);
}

static void
conn_connect(struct uf_conn *c)
{
    struct ufetch_source *s = c->s;
    int r;

    c->sock = socket(s->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->sock < 0) {
        c->st = UC_CONNECTING;
        conn_fail(c, -errno);
        return;
    }
    c->st = UC_CONNECTING;
    if (connect(c->sock, (const struct sockaddr *)&s->addr, s->addrlen) < 0 &&
        errno != EINPROGRESS) {
        conn_fail(c, -errno);
        return;
    }
    r = loop_poll(c->t->loop, &c->op, c->sock, POLLOUT);
    if (r < 0) {
        conn_fail(c, r);
        return;
    }
    conn_timer_arm(c, s->connect_timeout_s);
}

/* Connected: blocking socket from now on (the ring waits), small request out at once. */
static void
conn_connected(struct uf_conn *c, int res)
{
    int err = 0, one = 1, fl;
    socklen_t len = sizeof(err);

    if (res < 0) {
        conn_fail(c, res);
        return;
    }
    if (getsockopt(c->sock, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err) {
        conn_fail(c, -err);
        return;
    }
    fl = fcntl(c->sock, F_GETFL);
    if (fl >= 0)
        (void)fcntl(c->sock, F_SETFL, fl & ~O_NONBLOCK);
    (void)setsockopt(c->sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    conn_send_request(c);
}

/* Take the next queued range (or continue c->r after a reconnect). */
static void
conn_take(struct uf_conn *c)
{
    struct ufetch_source *s = c->s;

    if (c->stopping)
        return;
    if (!c->r) {
        struct uf_range *r;
        pthread_mutex_lock(&s->lock);
        r = s->stopping ? NULL : s->q_head;
        if (r) {
            s->q_head = r->next_q;
            if (!s->q_head)
                s->q_tail = NULL;
            c->pos = r->start + r->written;
        }
        pthread_mutex_unlock(&s->lock);
        if (!r)
            return;
        c->r = r;
        c->fill = 0;
        c->fails = 0;
    }
    if (c->sock < 0)
        conn_connect(c);
    else
        conn_send_request(c);
}

/* A whole head is in: check it against the range and the probed version. */
static void
conn_head(struct uf_conn *c, const struct http_resp *h, size_t head_len)
{
    struct ufetch_source *s = c->s;
    struct uf_range *r = c->r;
    uint64_t want = r->end + 1 - c->pos;
    size_t extra = c->hlen - head_len;
    bool changed;

    changed = (s->etag && h->etag.p && !http_resp_str_eq(h->etag, s->etag)) ||
              (s->last_modified && h->last_modified.p &&
               !http_resp_str_eq(h->last_modified, s->last_modified));
    if (h->status >= 300 || h->status < 200) {
        conn_close_sock(c);
        conn_finish(c, UFETCH_E_HTTP, h->status, 0);
        return;
    }
    if ((h->status == 200 || h->status == 206) && changed) {
        conn_close_sock(c);
        conn_finish(c, UFETCH_E_CHANGED, h->status, 0);
        return;
    }
    if (h->status == 200) {
        /* the server ignores Range: fine only when the whole file was asked for anyway */
        if (!(c->pos == 0 && r->end + 1 == s->total && h->has_content_length &&
              h->content_length == s->total)) {
            conn_close_sock(c);
            conn_finish(c, h->has_content_length && h->content_length != s->total
                               ? UFETCH_E_CHANGED
                               : UFETCH_E_NO_RANGES,
                        200, 0);
            return;
        }
    } else if (h->status == 206) {
        if (!h->has_content_range || h->range_unsatisfied) {
            conn_close_sock(c);
            conn_finish(c, UFETCH_E_BAD_RESPONSE, 206, 0);
            return;
        }
        if (h->range_total != s->total) {
            conn_close_sock(c);
            conn_finish(c, UFETCH_E_CHANGED, 206, 0);
            return;
        }
        if (h->range_first != c->pos || h->range_last != r->end) {
            conn_close_sock(c);
            conn_finish(c, UFETCH_E_BAD_RESPONSE, 206, 0);
            return;
        }
    } else {
        conn_close_sock(c);
        conn_finish(c, UFETCH_E_BAD_RESPONSE, h->status, 0);
        return;
    }
    if (h->has_transfer_encoding || (h->has_content_length && h->content_length != want) ||
        extra > want) {
        conn_close_sock(c);
        conn_finish(c, UFETCH_E_BAD_RESPONSE, h->status, 0);
        return;
    }
    c->keep_alive = h->keep_alive && h->has_content_length;
    memcpy(c->buf, c->hbuf + head_len, extra);
    verify_stream_update(r->hs, c->buf, extra);
    c->fill = extra;
    c->pos += extra;
    c->hlen = 0;
    c->st = UC_BODY;
    conn_body_next(c);
}

/*
 * How many of `want` bytes may be received now: each bucket must have granted them. What a
 * bucket granted beyond what another allowed stays on the connection (paid[k]) for the next
 * receive, so no grant is lost and no byte goes unpaid. 0: wait *ret_wait ns.
 */
static size_t
uf_pace(struct uf_conn *c, size_t want, uint64_t *ret_wait)
{
    uint64_t grant = want;

    for (unsigned k = 0; k < UF_NRATES; k++) {
        uint64_t w = 0;
        if (!c->s->rate[k])
            continue;
        if (c->paid[k] < want)
            c->paid[k] += ferry_rate_take(c->s->rate[k], want - c->paid[k], &w);
        if (c->paid[k] < grant)
            grant = c->paid[k];
        if (grant == 0 && w > *ret_wait)
            *ret_wait = w;
    }
    if (grant == 0) {
        if (*ret_wait == 0)
            *ret_wait = 1000000;
        return 0;
    }
    for (unsigned k = 0; k < UF_NRATES; k++)
        if (c->s->rate[k])
            c->paid[k] -= grant;
    return (size_t)grant;
}

/* Give back what a body op was granted but did not take (it stays paid for the next). */
static void
uf_refund(struct uf_conn *c, size_t unused)
{
    for (unsigned k = 0; k < UF_NRATES; k++)
        if (c->s->rate[k])
            c->paid[k] += unused;
}

/* The connection's pipe for splice mode, made on first use (up to UFETCH_BUFFER_SIZE). */
static int
conn_pipe_open(struct uf_conn *c)
{
    int p[2], n;

    if (c->pipe_r >= 0)
        return 0;
    if (pipe2(p, O_CLOEXEC) < 0)
        return -errno;
    /* 1 MiB is the default pipe-max-size; a user past pipe-user-pages-soft gets less */
    for (n = (int)UFETCH_BUFFER_SIZE; n >= 64 * 1024; n /= 4)
        if (fcntl(p[1], F_SETPIPE_SZ, n) >= 0)
            break;
    n = fcntl(p[1], F_GETPIPE_SZ);
    c->pipe_cap = n > 0 && (size_t)n < UFETCH_BUFFER_SIZE ? (size_t)n : UFETCH_BUFFER_SIZE;
    if (n <= 0)
        c->pipe_cap = 64 * 1024;
    c->pipe_r = p[0];
    c->pipe_w = p[1];
    return 0;
}

/* Read exactly len bytes of fd (at off, or from the pipe when off < 0) into buf. */
static int
uf_read_full(int fd, char *buf, size_t len, int64_t off)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n = off < 0 ? read(fd, buf + done, len - done)
                            : pread(fd, buf + done, len - done, (off_t)off + (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return -EIO;
        done += (size_t)n;
    }
    return 0;
}

/* n bytes were spliced into the file at c->pos: read them back (page cache), hash, publish. */
static int
conn_splice_hash(struct uf_conn *c, size_t n)
{
    int r = uf_read_full(c->s->fd, c->buf, n, (int64_t)c->pos);

    if (r < 0)
        return r; /* in the file, not hashed: the progress stays before them */
    verify_stream_update(c->r->hs, c->buf, n);
    c->pos += n;
    atomic_fetch_add_explicit(&c->s->spliced, n, memory_order_relaxed);
    conn_publish(c);
    return 0;
}

/*
 * Splice mode, the socket polled readable: move what it holds (up to c->grant) into the
 * pipe, drain the pipe into the file, hash the new bytes, then go on. The pipe is empty
 * again when this returns (drained, read out for a file system without splice_write, or
 * closed with the connection on a local error).
 */
static void
conn_splice_body(struct uf_conn *c)
{
    struct ufetch_source *s = c->s;
    size_t grant = c->grant, moved = 0, rest;
    loff_t off = (loff_t)c->pos;
    ssize_t n;
    int err = 0, r;

    c->grant = 0;
    n = splice(c->sock, NULL, c->pipe_w, NULL, grant, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n <= 0) {
        err = n < 0 ? -errno : -ECONNRESET; /* EOF before the range's end: a short body */
        uf_refund(c, grant);
        if (err == -EAGAIN || err == -EINTR) {
            conn_body_next(c); /* the readiness went away: wait again */
            return;
        }
        if (err == -EINVAL || err == -ENOSYS) {
            atomic_store(&s->splice, false); /* no splice from this socket: recv from now */
            conn_body_next(c);
            return;
        }
        conn_fail(c, err);
        return;
    }
    uf_refund(c, grant - (size_t)n);
    while (moved < (size_t)n) {
        ssize_t w = splice(c->pipe_r, NULL, s->fd, &off, (size_t)n - moved, SPLICE_F_MOVE);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            err = w < 0 ? -errno : -EIO;
            break;
        }
        moved += (size_t)w;
    }
    r = moved ? conn_splice_hash(c, moved) : 0;
    rest = (size_t)n - moved;
    if (r == 0 && rest && (err == -EINVAL || err == -ENOSYS)) {
        /* the file system has no splice_write: the bytes in the pipe go the recv way, and
         * so does the rest of the source */
        atomic_store(&s->splice, false);
        r = uf_read_full(c->pipe_r, c->buf, rest, -1);
        if (r == 0) {
            verify_stream_update(c->r->hs, c->buf, rest);
            c->fill = rest;
            c->pos += rest;
            r = conn_flush(c);
        }
    } else if (r == 0 && rest) {
        r = err;
    }
    if (r < 0) {
        conn_close_sock(c); /* drops what the pipe still holds; progress did not count it */
        conn_finish(c, UFETCH_E_LOCAL, 0, r);
        return;
    }
    conn_body_next(c);
}

/*
 * Next body receive (or, splice mode, readiness wait), paced by the buckets; flush and
 * finish at the range's end.
 */
static void
conn_body_next(struct uf_conn *c)
{
    struct uf_range *r = c->r;
    uint64_t left = r->end + 1 - c->pos;
    bool spl = left > 0 && atomic_load_explicit(&c->s->splice, memory_order_relaxed) &&
               conn_pipe_open(c) == 0;
    size_t want;
    uint64_t wait = 0;
    int rr;

    if (c->fill) {
        rr = conn_flush(c);
        if (rr < 0) {
            conn_close_sock(c);
            conn_finish(c, UFETCH_E_LOCAL, 0, rr);
            return;
        }
    }
    if (left == 0) {
        conn_finish(c, UFETCH_DONE, 206, 0);
        return;
    }
    want = spl ? c->pipe_cap : UFETCH_BUFFER_SIZE - c->fill;
    if (want > left)
        want = (size_t)left;
    want = uf_pace(c, want, &wait);
    if (want == 0) {
        c->st = UC_PACING;
        c->timer_pace = true;
        loop_timer_add(c->t->loop, &c->timer, wait);
        return;
    }
    c->grant = want;
    if (spl) {
        c->st = UC_SPLICE;
        rr = loop_poll(c->t->loop, &c->op, c->sock, POLLIN);
        if (rr >= 0)
            conn_timer_arm(c, c->s->stall_timeout_s);
    } else {
        c->st = UC_BODY;
        rr = conn_submit_recv(c, c->buf + c->fill, want, 0);
    }
    if (rr < 0) {
        uf_refund(c, want);
        c->grant = 0;
        conn_fail(c, rr);
    }
}

static void
conn_on_op(struct loop *loop, struct loop_op *op, int res, bool more)
{
    struct uf_conn *c = op->data;
    struct http_resp h;
    int r;

    (void)loop;
    (void)more;
    loop_timer_cancel(c->t->loop, &c->timer);
    if (c->stopping) {
        conn_stopped(c);
        return;
    }
    if (c->timed_out && res >= 0)
        res = -ETIMEDOUT;
    switch (c->st) {
    case UC_CONNECTING:
        conn_connected(c, res);
        return;
    case UC_SENDING:
        if (res <= 0) {
            conn_fail(c, res ? res : -EPIPE);
            return;
        }
        c->req_sent += (size_t)res;
        if (c->req_sent < c->req_len) {
            r = loop_send(c->t->loop, &c->op, c->sock, c->req + c->req_sent,
                          c->req_len - c->req_sent, MSG_NOSIGNAL);
            if (r < 0)
                conn_fail(c, r);
            else
                conn_timer_arm(c, c->s->stall_timeout_s);
            return;
        }
        c->st = UC_HEAD;
        r = conn_submit_recv(c, c->hbuf, UF_HEAD_BUF, 0);
        if (r < 0)
            conn_fail(c, r);
        return;
    case UC_HEAD:
        if (res <= 0) {
            conn_fail(c, res ? res : -ECONNRESET);
            return;
        }
        c->hlen += (size_t)res;
        for (;;) {
            r = http_resp_parse(&uf_resp_limits, c->hbuf, c->hlen, &h);
            if (r > 0 && h.status >= 100 && h.status < 200 && h.status != 101) {
                /* interim response (100, 103): drop it, the real one follows */
                memmove(c->hbuf, c->hbuf + r, c->hlen - (size_t)r);
                c->hlen -= (size_t)r;
                continue;
            }
            break;
        }
        if (r == -EAGAIN) {
            r = conn_submit_recv(c, c->hbuf + c->hlen, UF_HEAD_BUF - c->hlen, 0);
            if (r < 0)
                conn_fail(c, r);
            return;
        }
        if (r < 0) {
            conn_close_sock(c);
            conn_finish(c, UFETCH_E_BAD_RESPONSE, 0, r);
            return;
        }
        conn_head(c, &h, (size_t)r);
        return;
    case UC_BODY:
        uf_refund(c, res > 0 ? c->grant - (size_t)res : c->grant);
        c->grant = 0;
        if (res <= 0) {
            conn_fail(c, res ? res : -ECONNRESET);
            return;
        }
        /* hashed now, while the bytes the socket copy just wrote are in cache */
        verify_stream_update(c->r->hs, c->buf + c->fill, (size_t)res);
        c->fill += (size_t)res;
        c->pos += (uint64_t)res;
        conn_body_next(c);
        return;
    case UC_SPLICE:
        if (res < 0) {
            uf_refund(c, c->grant);
            c->grant = 0;
            conn_fail(c, res);
            return;
        }
        conn_splice_body(c);
        return;
    case UC_CLOSED:
    case UC_IDLE:
    case UC_PACING:
        return;
    }
}

static void
conn_on_timer(struct loop *loop, struct loop_timer *t)
{
    struct uf_conn *c = t->data;

    if (c->timer_pace) {
        c->timer_pace = false;
        if (c->stopping)
            conn_stopped(c);
        else
            conn_body_next(c);
        return;
    }
    /* stall or connect timeout: make the pending op complete now */
    c->timed_out = true;
    if (c->sock >= 0)
        (void)shutdown(c->sock, SHUT_RDWR);
    (void)loop_cancel(loop, &c->op);
}

/* Posted by ufetch_feed: an idle connection takes a queued range. */
static void
conn_cmd_kick(struct loop *loop, void *arg)
{
    struct uf_conn *c = arg;

    (void)loop;
    if (!c->r && !c->stopping && (c->st == UC_CLOSED || c->st == UC_IDLE))
        conn_take(c);
}

/* Posted by ufetch_source_stop. */
static void
conn_cmd_stop(struct loop *loop, void *arg)
{
    struct uf_conn *c = arg;

    c->stopping = true;
    if (c->op.armed) {
        if (c->sock >= 0)
            (void)shutdown(c->sock, SHUT_RDWR);
        (void)loop_cancel(loop, &c->op);
        return; /* its completion counts it off */
    }
    conn_stopped(c);
}

static void *
uf_thread_main(void *arg)
{
    struct uf_thread *t = arg;

    pthread_setname_np(pthread_self(), "ferry-fetch");
    (void)loop_run(t->loop);
    return NULL;
}

/* ---- jobs-thread side ---- */

/*
 * Start the fetch threads. Each gets its own ring (256 entries). On failure nothing is
 * left running and -errno is returned.
 */
int
ufetch_new(unsigned threads, ufetch_wake_fn wake, void *userdata, struct ufetch **ret)
{
    struct ufetch *u;
    int r = 0;

    if (threads < 1 || threads > UF_MAX_THREADS || !wake)
        return -EINVAL;
    u = calloc(1, sizeof(*u));
    if (!u)
        return -ENOMEM;
    u->t = calloc(threads, sizeof(*u->t));
    if (!u->t) {
        free(u);
        return -ENOMEM;
    }
    u->n = threads;
    u->wake = wake;
    u->wake_data = userdata;
    for (unsigned i = 0; i < threads; i++) {
        u->t[i].u = u;
        r = loop_new(256, &u->t[i].loop);
        if (r < 0)
            goto error;
        r = -pthread_create(&u->t[i].th, NULL, uf_thread_main, &u->t[i]);
        if (r < 0)
            goto error;
        u->t[i].started = true;
    }
    *ret = u;
    return 0;
error:
    ufetch_free(u);
    return r;
}

/* Stop and join the threads, free the rings. Sources must be gone. */
struct ufetch *
ufetch_free(struct ufetch *u)
{
    if (!u)
        return NULL;
    for (unsigned i = 0; i < u->n; i++) {
        if (u->t[i].started) {
            loop_stop(u->t[i].loop);
            pthread_join(u->t[i].th, NULL);
        }
        loop_free(u->t[i].loop);
    }
    free(u->t);
    free(u);
    return NULL;
}

/* How many fetch threads run. */
unsigned
ufetch_threads(const struct ufetch *u)
{
    return u->n;
}

static bool
uf_header_safe(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++)
        if (*p < 0x20 && *p != '\t')
            return false;
    return true;
}

/*
 * A source with p->conns connections (none open yet), spread over the threads from a
 * rotating start. Strings are copied; header values with CR, LF or other control bytes are
 * refused (-EINVAL), as is a missing target or host.
 */
int
ufetch_source_new(struct ufetch *u, const struct ufetch_source_params *p,
                  struct ufetch_source **ret)
{
    struct ufetch_source *s;
    size_t plen, iflen;
    unsigned first;
    int r = -ENOMEM;

    if (!p->host || !p->target || p->target[0] != '/' || p->conns < 1 ||
        p->conns > UFETCH_MAX_CONNS || p->fd < 0 || p->addrlen == 0 ||
        p->addrlen > sizeof(p->addr) || !uf_header_safe(p->host) ||
        !uf_header_safe(p->target) || !uf_header_safe(p->if_range) ||
        !uf_header_safe(p->user_agent) || strchr(p->target, ' '))
        return -EINVAL;
    for (size_t i = 0; i < p->nheaders; i++)
        if (!uf_header_safe(p->headers[i]) || !strchr(p->headers[i], ':'))
            return -EINVAL;
    s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    s->u = u;
    s->addr = p->addr;
    s->addrlen = p->addrlen;
    s->total = p->total;
    s->fd = p->fd;
    s->connect_timeout_s = p->connect_timeout_s ? p->connect_timeout_s : 30;
    s->stall_timeout_s = p->stall_timeout_s ? p->stall_timeout_s : 60;
    s->max_retries = p->no_retry ? 0 : UFETCH_MAX_RETRIES;
    atomic_init(&s->splice, p->splice);
    atomic_init(&s->spliced, 0);
    s->stopped = true; /* until the connections exist: free needs no stop */
    plen = strlen(p->target) + strlen(p->host) + (p->user_agent ? strlen(p->user_agent) : 0) +
           128;
    for (size_t i = 0; i < p->nheaders; i++)
        plen += strlen(p->headers[i]) + 2;
    s->prefix = malloc(plen);
    if (!s->prefix)
        goto error;
    s->prefix_len = (size_t)snprintf(s->prefix, plen,
                                     "GET %s HTTP/1.1\r\nHost: %s\r\n%s%s%s"
                                     "Accept-Encoding: identity\r\n",
                                     p->target, p->host, p->user_agent ? "User-Agent: " : "",
                                     p->user_agent ? p->user_agent : "",
                                     p->user_agent ? "\r\n" : "");
    for (size_t i = 0; i < p->nheaders; i++)
        s->prefix_len += (size_t)snprintf(s->prefix + s->prefix_len, plen - s->prefix_len,
                                          "%s\r\n", p->headers[i]);
    if (s->prefix_len >= plen)
        goto error;
    if ((p->if_range && !(s->if_range = strdup(p->if_range))) ||
        (p->etag && !(s->etag = strdup(p->etag))) ||
        (p->last_modified && !(s->last_modified = strdup(p->last_modified))))
        goto error;
    if (p->rate_bps && !(s->rate[0] = ferry_rate_new(p->rate_bps)))
        goto error;
    for (unsigned k = 0; k < 2; k++)
        if (p->rates[k])
            s->rate[k + 1] = ferry_rate_ref(p->rates[k]);
    iflen = s->if_range ? strlen(s->if_range) : 0;
    s->conns = calloc(p->conns, sizeof(*s->conns));
    if (!s->conns)
        goto error;
    first = u->next++ % u->n;
    for (unsigned i = 0; i < p->conns; i++) {
        struct uf_conn *c = &s->conns[i];
        c->s = s;
        c->t = &u->t[(first + i) % u->n];
        c->sock = -1;
        c->pipe_r = c->pipe_w = -1;
        c->st = UC_CLOSED;
        loop_op_init(&c->op, conn_on_op, c);
        loop_timer_init(&c->timer, conn_on_timer, c);
        c->req = malloc(s->prefix_len + iflen + 160);
        c->hbuf = malloc(UF_HEAD_BUF);
        c->buf = malloc(UFETCH_BUFFER_SIZE);
        s->nconns = i + 1;
        if (!c->req || !c->hbuf || !c->buf)
            goto error;
    }
    s->live = s->nconns;
    s->stopped = false;
    *ret = s;
    return 0;
error:
    s->live = 0;
    s->stopped = true;
    ufetch_source_free(s);
    return r;
}

/* Queue a range and nudge the source's idle connections. */
int
ufetch_feed(struct ufetch_source *s, void *tag, uint64_t start, uint64_t end, void *hs)
{
    struct uf_range *r;

    if (s->stopped || start > end || end >= s->total || !hs)
        return s->stopped ? -ESHUTDOWN : -EINVAL;
    r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->tag = tag;
    r->start = start;
    r->end = end;
    r->hs = hs;
    pthread_mutex_lock(&s->lock);
    r->next_all = s->all;
    s->all = r;
    if (s->q_tail)
        s->q_tail->next_q = r;
    else
        s->q_head = r;
    s->q_tail = r;
    pthread_mutex_unlock(&s->lock);
    for (unsigned i = 0; i < s->nconns; i++)
        if (loop_post(s->conns[i].t->loop, conn_cmd_kick, &s->conns[i]) < 0)
            return -ENOMEM; /* the range stays queued; the next feed nudges again */
    return 0;
}

static void
uf_unlink_all(struct ufetch_source *s, struct uf_range *r)
{
    for (struct uf_range **pp = &s->all; *pp; pp = &(*pp)->next_all) {
        if (*pp == r) {
            *pp = r->next_all;
            return;
        }
    }
}

/* Finished ranges, oldest first; each is forgotten once returned. */
size_t
ufetch_poll(struct ufetch_source *s, struct ufetch_result *out, size_t max)
{
    size_t n = 0;

    pthread_mutex_lock(&s->lock);
    while (n < max && s->d_head) {
        struct uf_range *r = s->d_head;
        s->d_head = r->next_q;
        if (!s->d_head)
            s->d_tail = NULL;
        out[n++] = r->res;
        uf_unlink_all(s, r);
        free(r);
    }
    pthread_mutex_unlock(&s->lock);
    return n;
}

/* Progress of a range not yet polled: written bytes and the digest of exactly those. */
bool
ufetch_progress(struct ufetch_source *s, void *tag, uint64_t *ret_written,
                uint8_t ret_digest[16])
{
    bool found = false;

    pthread_mutex_lock(&s->lock);
    for (struct uf_range *r = s->all; r; r = r->next_all) {
        if (r->tag != tag)
            continue;
        *ret_written = r->written;
        if (ret_digest)
            memcpy(ret_digest, r->digest, 16);
        found = true;
        break;
    }
    pthread_mutex_unlock(&s->lock);
    return found;
}

/* Is fd on tmpfs, shmem, ramfs or hugetlbfs (the file lives in the page cache)? The free
 * space there into *ret_avail when given. false when fstatfs fails. */
bool
ufetch_file_in_memory(int fd, uint64_t *ret_avail)
{
    struct statfs sf;

    if (fstatfs(fd, &sf) < 0)
        return false;
    if (ret_avail)
        *ret_avail = (uint64_t)sf.f_bavail * (uint64_t)sf.f_bsize;
    switch ((unsigned long)sf.f_type) {
    case TMPFS_MAGIC:
    case RAMFS_MAGIC:
    case HUGETLBFS_MAGIC:
        return true;
    default:
        return false;
    }
}

/* tmpfs, shmem and ramfs keep the file in the page cache: recv + pwrite is as cheap there
 * (measured slower with splice), so "auto" splices everywhere else. */
bool
ufetch_splice_pays(int fd)
{
    struct statfs sf;

    return fstatfs(fd, &sf) == 0 && !ufetch_file_in_memory(fd, NULL);
}

/* Whether the source's bodies still go by splice. */
bool
ufetch_source_splicing(const struct ufetch_source *s)
{
    return atomic_load(&s->splice);
}

/* Body bytes spliced so far. */
uint64_t
ufetch_source_spliced(const struct ufetch_source *s)
{
    return atomic_load_explicit(&s->spliced, memory_order_relaxed);
}

/* New BandwidthLimit for the job (sources made without a limit stay unlimited). */
void
ufetch_source_set_rate(struct ufetch_source *s, uint64_t bytes_per_sec)
{
    if (s->rate[0])
        ferry_rate_set(s->rate[0], bytes_per_sec);
}

/*
 * Stop every connection: each shuts its socket down and cancels its op on its own thread;
 * this waits until all are counted off. Afterwards the fd, the ranges and their streams are
 * the caller's again (ufetch.h rule 3).
 */
void
ufetch_source_stop(struct ufetch_source *s)
{
    if (s->stopped)
        return;
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    pthread_mutex_unlock(&s->lock);
    for (unsigned i = 0; i < s->nconns; i++) {
        while (loop_post(s->conns[i].t->loop, conn_cmd_stop, &s->conns[i]) == -ENOMEM)
            usleep(1000);
    }
    pthread_mutex_lock(&s->lock);
    while (s->live > 0)
        pthread_cond_wait(&s->cond, &s->lock);
    pthread_mutex_unlock(&s->lock);
    s->stopped = true;
}

/* Stop, then free the connections, buffers and every range left. */
struct ufetch_source *
ufetch_source_free(struct ufetch_source *s)
{
    if (!s)
        return NULL;
    ufetch_source_stop(s);
    for (unsigned i = 0; s->conns && i < s->nconns; i++) {
        free(s->conns[i].req);
        free(s->conns[i].hbuf);
        free(s->conns[i].buf);
    }
    free(s->conns);
    while (s->all) {
        struct uf_range *r = s->all;
        s->all = r->next_all;
        free(r);
    }
    for (unsigned k = 0; k < UF_NRATES; k++)
        ferry_rate_unref(s->rate[k]);
    free(s->prefix);
    free(s->if_range);
    free(s->etag);
    free(s->last_modified);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    free(s);
    return NULL;
}
