/*
 * engine/core/relay.h - what a host still fetching a file can serve of it (docs/internals/
 * relay.md): the client role records, per job file that a URL publishes, which chunks are
 * verified against the origin's manifest, the origin's validators and manifest, and a
 * descriptor of the temp file; the server role answers from it. Shared by both roles, so
 * it lives in core; relay_have_* is the X-Ferry-Have wire format of that chunk set.
 *
 * Threads: every call locks the relay internally (relay_covers_locked: the caller holds
 * r->lock); a relay is reference counted (the job file and each URL publishing it hold
 * one). A response sends from a descriptor of its own (a dup), never from r->fd.
 */
#ifndef FERRY_CORE_RELAY_H
#define FERRY_CORE_RELAY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Seconds announced in Retry-After for chunks a relay does not have yet. */
#define RELAY_RETRY_AFTER 1
/* Longest X-Ferry-Have value relay_have_format writes (NUL included); a longer chunk set
 * is cut to the ranges that fit (a subset is still true). */
#define RELAY_HAVE_MAX 1536

struct relay {
    atomic_uint refcnt;
    pthread_mutex_t lock;
    char *path;             /* the job file's LocalFile (the key) */
    /* under lock */
    int fd;                 /* the temp file (a dup), -1 until ready */
    bool ready;             /* size, validators and the manifest are known */
    bool gone;              /* cancelled or another version: nothing to serve */
    bool complete;          /* every chunk is in */
    uint64_t size, chunk_size, nchunks, nhave;
    uint8_t *have;          /* one byte per chunk, 1 = verified against the origin */
    char *etag, *last_modified; /* the origin's */
    char *meta4;            /* the origin's manifest document, as received */
    size_t meta4_len;
};

/* A file of a transfer as the fetcher describes it to relay_setup. */
struct relay_info {
    int fd;                 /* duplicated */
    uint64_t size, chunk_size, nchunks;
    const char *etag, *last_modified;
    const char *meta4;
    size_t meta4_len;
};

/* A pending relay for path (nothing to serve until relay_setup). NULL on OOM. */
struct relay *relay_new(const char *path);
/* References (NULL-safe); the last unref closes the descriptor. unref returns NULL. */
struct relay *relay_ref(struct relay *r);
struct relay *relay_unref(struct relay *r);
/* The fetcher laid the file out with the origin's manifest: serve from info (copied, the
 * descriptor duplicated), with no chunk yet. -errno (the relay stays pending). */
int relay_setup(struct relay *r, const struct relay_info *info);
/* Chunk i is verified against the origin's manifest (out of range is ignored). */
void relay_mark(struct relay *r, uint64_t i);
/* Every chunk is in (the job's file is complete). */
void relay_complete(struct relay *r);
/* The job is cancelled or fetches another version: serve nothing from now on. */
void relay_withdraw(struct relay *r);
/* Are all chunks covering bytes [start, start + len) verified? Caller holds r->lock. */
bool relay_covers_locked(const struct relay *r, uint64_t start, uint64_t len);

/* ---- relay_have.c: the X-Ferry-Have header ---- */

/* "chunks=N; chunk-size=S; have=LIST" for have[0..n) into buf (len >= RELAY_HAVE_MAX).
 * LIST is "*" when all are set, empty when none, else ranges "a-b" and single "a" joined
 * by ",". */
void relay_have_format(const uint8_t *have, uint64_t n, uint64_t chunk_size, char *buf,
                       size_t len);
/* Parse a value for a file of n chunks of chunk_size: sets have[i] = 1 for the chunks it
 * lists (others untouched) and returns how many of them were not set before. -EBADMSG when it is malformed
 * or describes another layout. */
int64_t relay_have_parse(const char *value, uint64_t n, uint64_t chunk_size, uint8_t *have);

#endif
