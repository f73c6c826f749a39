/*
 * engine/client/syncer.h - fdatasync and re-hashing off the jobs thread
 * (syncer.c, the jobs-sync thread). The fetcher submits requests and polls them; when one
 * finishes the syncer calls the wake callback given at creation (the scheduler passes one
 * that interrupts its poll), so it knows nothing of its users.
 */
#ifndef FERRY_CLIENT_SYNCER_H
#define FERRY_CLIENT_SYNCER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct syncer;

struct sync_item {
    uint64_t idx;
    uint64_t fill;
    uint32_t epoch;
    bool done;
    /* SYNC_FDATASYNC, not done: have_digest = `digest` is the XXH3-128 of the first `fill`
     * bytes (the partial chunk's prefix made durable by this sync) */
    bool have_digest;
    /* SYNC_REHASH: the chunk's bytes [off, off+len) must hash to digest; bad = they don't */
    uint64_t off, len;
    uint8_t digest[16];
    bool bad;
};
enum sync_kind {
    SYNC_FDATASYNC,         /* checkpoint: fdatasync, items = the snapshot */
    SYNC_REHASH,            /* resume: re-hash verified chunks from disk */
    SYNC_DIGEST,            /* ExpectedDigest: whole-file digest, result 0 / -EBADMSG */
};
struct sync_req {
    struct sync_req *next;
    enum sync_kind kind;
    int fd;                 /* borrowed: open until the request finished */
    int result;             /* 0 or -errno from fdatasync */
    bool finished;
    uint32_t gen;           /* jfile.layout_gen of the snapshot */
    uint64_t size;          /* SYNC_DIGEST: bytes to hash */
    char *spec;             /* SYNC_DIGEST: "sha256:HEX" / "xxh128:HEX" (owned) */
    size_t n;
    struct sync_item *items;
};
/* Called on the jobs-sync thread after each finished request; must be thread-safe. */
typedef void (*syncer_wake_fn)(void *userdata);
/* Start the thread; wake(userdata) runs after every finished request. */
int syncer_new(syncer_wake_fn wake, void *userdata, struct syncer **ret);
struct syncer *syncer_free(struct syncer *s);
void syncer_submit(struct syncer *s, struct sync_req *q);
bool syncer_done(struct syncer *s, struct sync_req *q);
void syncer_wait(struct syncer *s, struct sync_req *q);

#endif
