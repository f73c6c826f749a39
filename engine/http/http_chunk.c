/*
 * http_chunk.c - output chunks (http_chunk.h): allocation, release of the memory or the
 * file descriptor (closed, or handed back to its lender), bytes left.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http_chunk.h"

/* A memory chunk (http_chunk.h). */
struct http_chunk *
http_chunk_mem(void *data, size_t len, bool take)
{
    struct http_chunk *ch = calloc(1, sizeof(*ch));

    if (!ch) {
        if (take)
            free(data);
        return NULL;
    }
    ch->kind = HTTP_CHUNK_MEM;
    ch->fd = -1;
    ch->len = len;
    ch->owned = true;
    if (take) {
        ch->data = data;
    } else {
        ch->data = malloc(len ? len : 1);
        if (!ch->data) {
            free(ch);
            return NULL;
        }
        memcpy(ch->data, data, len);
    }
    return ch;
}

/* A file chunk, owned or lent (http_chunk.h). */
struct http_chunk *
http_chunk_file(int fd, off_t off, uint64_t len, void (*release)(void *ud), void *ud)
{
    struct http_chunk *ch = calloc(1, sizeof(*ch));

    if (!ch) {
        if (release)
            release(ud);
        else
            close(fd);
        return NULL;
    }
    ch->kind = HTTP_CHUNK_FILE;
    ch->fd = fd;
    ch->off = off;
    ch->left = len;
    ch->release = release;
    ch->release_ud = ud;
    return ch;
}

/* Free one chunk: release a lent fd, close an owned one, free owned memory. */
struct http_chunk *
http_chunk_free(struct http_chunk *ch)
{
    if (!ch)
        return NULL;
    if (ch->kind == HTTP_CHUNK_FILE && ch->release)
        ch->release(ch->release_ud);
    else if (ch->kind == HTTP_CHUNK_FILE && ch->fd >= 0)
        close(ch->fd);
    if (ch->owned)
        free(ch->data);
    free(ch);
    return NULL;
}

/* Bytes of the chunk still to send. */
uint64_t
http_chunk_left(const struct http_chunk *ch)
{
    return ch->kind == HTTP_CHUNK_MEM ? ch->len - ch->pos : ch->left;
}
