/*
 * sendfile.c - the sendfile(2) send backend (send.h): zero-copy from the page cache on a
 * non-blocking socket; a full socket answers -EAGAIN and the connection waits for POLLOUT.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/sendfile.h>

#include "http_chunk.h"
#include "http_conn.h"
#include "send.h"

static ssize_t
sendfile_send_file(struct http_conn *c, struct http_chunk *ch, size_t max)
{
    off_t off = ch->off;
    size_t want = max;
    ssize_t n;

    if (want > HTTP_SEND_MAX_CHUNK)
        want = HTTP_SEND_MAX_CHUNK;
    if (want > ch->left)
        want = (size_t)ch->left;
    do {
        n = sendfile(c->fd, ch->fd, &off, want);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    if (n == 0)
        return -EIO; /* the file shrank under us: the promised length cannot be sent */
    return n;
}

const struct http_send_backend http_send_sendfile = {
    .name = "sendfile",
    .send_file = sendfile_send_file,
    .release = NULL,
};
