/*
 * engine/http/http_chunk.h - output chunks (nginx ngx_buf_t style): bytes in memory or a
 * range of an open file. Every byte a connection writes, head or body, is queued as chunks
 * and leaves through one path (http_conn.c conn_flush). A chunk belongs to one worker.
 */
#ifndef FERRY_HTTP_CHUNK_H
#define FERRY_HTTP_CHUNK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum http_chunk_kind {
    HTTP_CHUNK_MEM = 0,
    HTTP_CHUNK_FILE,
};

struct http_chunk {
    struct http_chunk *next;
    enum http_chunk_kind kind;
    bool body;     /* counts as body bytes (rate limit, on_done) */
    /* MEM: data[pos..len); freed with the chunk when owned */
    char *data;
    size_t pos, len;
    size_t inline_body; /* a head chunk: its last inline_body bytes are a file body */
    bool owned;
    /* FILE: [off, off + left) of fd; fd closed with the chunk, or handed back through
     * release(release_ud) when the handler lent it (a cached descriptor) */
    int fd;
    off_t off;
    uint64_t left;
    void (*release)(void *ud);
    void *release_ud;
};

/* Allocate a memory chunk holding a copy of data (or taking it when take is true).
 * On failure returns NULL (and frees data when take). */
struct http_chunk *http_chunk_mem(void *data, size_t len, bool take);
/* A file chunk: takes fd (closed on failure too). With release set the fd is lent:
 * release(ud) is called instead of close (also on failure). */
struct http_chunk *http_chunk_file(int fd, off_t off, uint64_t len, void (*release)(void *ud),
                                   void *ud);
/* Free one chunk (closing its fd / freeing its memory). Returns NULL. */
struct http_chunk *http_chunk_free(struct http_chunk *ch);
/* Bytes still to send. */
uint64_t http_chunk_left(const struct http_chunk *ch);

#endif
