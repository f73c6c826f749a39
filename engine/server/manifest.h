/*
 * engine/server/manifest.h - chunk manifests of published files (docs/internals/manifest.md):
 * XXH3-128 per fixed-size chunk, zero/hole flags, optional SHA-256 pieces; computed on a
 * background thread, cached in STATE/manifests keyed by the file's identity.
 */
#ifndef FERRY_SERVER_MANIFEST_H
#define FERRY_SERVER_MANIFEST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

/* A file version: what ETag, Last-Modified and the manifest are derived from. */
struct manifest_identity {
    uint64_t dev;
    uint64_t ino;
    uint64_t size;
    int64_t mtime_ns;
};

struct manifest_chunk {
    uint8_t xxh[16];    /* XXH3-128, canonical (big-endian) form */
    uint8_t sha256[32]; /* only when the manifest has_sha256 */
    bool zero;          /* every byte of the chunk is zero (hole or zero data) */
};

/* Immutable once built; shared by reference between the manifest thread and the workers. */
struct manifest {
    atomic_uint refcnt;
    struct manifest_identity id;
    uint64_t chunk_size;
    uint64_t nchunks;
    bool has_sha256;
    uint8_t file_sha256[32];
    struct manifest_chunk *chunks;
};

/* Longest strong ETag manifest_identity_etag writes, NUL included. */
#define MANIFEST_ETAG_MAX 80

/* The identity of an fstat()ed file (device, inode, size, mtime in ns). Cannot fail. */
void manifest_identity_from_stat(const struct stat *st, struct manifest_identity *ret);
/* true when both describe the same file version. */
bool manifest_identity_eq(const struct manifest_identity *a, const struct manifest_identity *b);
/* The strong ETag of a file version, quotes included: "DEV-INO-SIZE-MTIMENS" in hex. */
void manifest_identity_etag(const struct manifest_identity *id, char ret[MANIFEST_ETAG_MAX]);

/* Compute the manifest of the open file fd (read with pread, holes skipped with
 * SEEK_DATA/SEEK_HOLE, never read). `id` is the identity the caller fstat()ed; chunk_size
 * must be > 0. `cancel` (may be NULL) is polled between reads: -ECANCELED when set.
 * Returns 0 and a manifest with one reference, or -errno (read errors, -ENOMEM). */
int manifest_compute(int fd, const struct manifest_identity *id, uint64_t chunk_size,
                     bool sha256, const atomic_bool *cancel, struct manifest **ret_manifest);
/* Take one more reference (NULL-safe); returns m. */
struct manifest *manifest_ref(struct manifest *m);
/* Drop one reference (NULL-safe); frees on the last. Returns NULL. */
struct manifest *manifest_unref(struct manifest *m);

/* Cache files DIR/KEY.bin. load: -ENOENT when absent or not matching (id, chunk size,
 * sha256 flag), -EBADMSG when corrupt. save: atomic (temp + rename), -errno. */
int manifest_cache_load(const char *dir, const struct manifest_identity *id,
                        uint64_t chunk_size, bool sha256, struct manifest **ret_manifest);
int manifest_cache_save(const char *dir, const struct manifest *m);
int manifest_cache_remove(const char *dir, const struct manifest_identity *id,
                          uint64_t chunk_size, bool sha256);

/* ---- the background thread ---- */

/* What the worker needs from the owner of a file: open it (O_RDONLY fd or -errno), hear the
 * result (done: m is borrowed, NULL on failure with the error), release the job's userdata
 * (after done, or when the worker is freed with the job pending). Called on the manifest
 * thread. */
struct manifest_job_ops {
    int (*open)(void *ud);
    void (*done)(void *ud, struct manifest *m, int error);
    void (*release)(void *ud);
};

struct manifest_worker;

/* Start the thread. cache_dir (created if missing) may be NULL: no cache. */
int manifest_worker_new(const char *cache_dir, uint64_t chunk_size, bool sha256,
                        struct manifest_worker **ret_worker);
/* Queue a job; the worker owns ud from now on (released through ops->release). -ENOMEM,
 * -ESHUTDOWN after free began. */
int manifest_worker_submit(struct manifest_worker *w, const struct manifest_job_ops *ops,
                           void *ud);
/* Stop: cancel the running job, release pending ones, join. NULL-safe, returns NULL. */
struct manifest_worker *manifest_worker_free(struct manifest_worker *w);
/* Manifests computed (not loaded from cache) since start. */
uint64_t manifest_worker_computed(struct manifest_worker *w);

#endif
