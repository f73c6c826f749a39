/*
 * splice.c - the io_uring splice send backend (send.h): file -> pipe -> socket with two
 * IORING_OP_SPLICE operations, through a pipe borrowed from the worker's bounded pool.
 *
 * Why a pool: a pipe per connection hits fs.pipe-user-pages-soft at about a thousand
 * connections, after which new pipes are clamped to one page and throughput collapses
 * (pipe(7), /proc/sys/fs/pipe-user-pages-soft). Each worker keeps at most
 * HTTP_PIPE_POOL_MAX pipes of HTTP_PIPE_BYTES (F_SETPIPE_SZ); a connection holds one only
 * while a file chunk is in flight, and when none is free the connection falls back to
 * sendfile(2) for that send.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "http_chunk.h"
#include "http_conn.h"
#include "send.h"

#define HTTP_PIPE_POOL_MAX 16
#define HTTP_PIPE_BYTES (1024u * 1024)

static int
pipe_get(struct http_conn *c)
{
    struct http_worker *w = c->w;
    int fds[2], sz;

    if (w->npipes_free > 0) {
        c->pipe = w->pipes_free[--w->npipes_free];
        c->has_pipe = true;
        c->pipe_bytes = 0;
        return 0;
    }
    if (w->npipes_total >= HTTP_PIPE_POOL_MAX)
        return -EBUSY;
    if (!w->pipes_free) {
        w->pipes_free = calloc(HTTP_PIPE_POOL_MAX, sizeof(*w->pipes_free));
        if (!w->pipes_free)
            return -ENOMEM;
    }
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
    fcntl(fds[1], F_SETPIPE_SZ, (int)HTTP_PIPE_BYTES); /* may be refused: keep its size */
    sz = fcntl(fds[1], F_GETPIPE_SZ);
    c->pipe.fds[0] = fds[0];
    c->pipe.fds[1] = fds[1];
    c->pipe.size = sz > 0 ? (size_t)sz : 65536;
    c->has_pipe = true;
    c->pipe_bytes = 0;
    w->npipes_total++;
    return 0;
}

static void
splice_release(struct http_conn *c)
{
    struct http_worker *w = c->w;

    if (!c->has_pipe)
        return;
    c->has_pipe = false;
    if (c->pipe_bytes == 0 && w->pipes_free && w->npipes_free < HTTP_PIPE_POOL_MAX) {
        w->pipes_free[w->npipes_free++] = c->pipe;
        return;
    }
    /* Bytes left in it (connection died mid-chunk): it cannot be reused. */
    close(c->pipe.fds[0]);
    close(c->pipe.fds[1]);
    w->npipes_total--;
    c->pipe_bytes = 0;
}

static int submit_to_sock(struct http_conn *c);

static void
splice_done(struct loop *loop, struct loop_op *op, int res, bool more)
{
    struct http_conn *c = op->data;

    if (c->closing) {
        if (!c->splice_to_sock && res > 0)
            c->pipe_bytes += (size_t)res; /* not reusable: release closes it */
        http_conn_file_sent(c, -ECANCELED);
        return;
    }
    if (!c->splice_to_sock) {
        if (res <= 0) {
            http_conn_file_sent(c, res == 0 ? -EIO : res);
            return;
        }
        c->pipe_bytes = (size_t)res;
        if (submit_to_sock(c) < 0)
            http_conn_file_sent(c, -ENOMEM);
        return;
    }
    if (res > 0)
        c->pipe_bytes -= (size_t)res;
    http_conn_file_sent(c, res == 0 ? -EPIPE : res);
}

static int
submit_to_sock(struct http_conn *c)
{
    loop_op_init(&c->wop, splice_done, c);
    c->splice_to_sock = true;
    return loop_splice(c->w->loop, &c->wop, c->pipe.fds[0], -1, c->fd, -1,
                       (unsigned)c->pipe_bytes, 0);
}

static ssize_t
splice_send_file(struct http_conn *c, struct http_chunk *ch, size_t max)
{
    size_t want = max;
    int r;

    if (!c->has_pipe && pipe_get(c) < 0)
        return http_send_sendfile.send_file(c, ch, max);
    if (c->pipe_bytes > 0) {
        /* Left over from a short or refused socket splice. */
        r = submit_to_sock(c);
        return r < 0 ? r : -EINPROGRESS;
    }
    if (want > c->pipe.size)
        want = c->pipe.size;
    if (want > ch->left)
        want = (size_t)ch->left;
    loop_op_init(&c->wop, splice_done, c);
    c->splice_to_sock = false;
    r = loop_splice(c->w->loop, &c->wop, ch->fd, ch->off, c->pipe.fds[1], -1, (unsigned)want, 0);
    return r < 0 ? r : -EINPROGRESS;
}

const struct http_send_backend http_send_splice = {
    .name = "splice",
    .send_file = splice_send_file,
    .release = splice_release,
};
