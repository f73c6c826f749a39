/*
 * manifest.c - chunk manifests: computation (holes skipped, zero chunks flagged), the cache
 * files in STATE/manifests, and the background thread that computes them after publish.
 * Format and rules: docs/internals/manifest.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <xxhash.h>

#include "ferry/log.h"
#include "manifest.h"

#define MANIFEST_READ_BUF (1024u * 1024u)
#define MANIFEST_ZERO_BUF (64u * 1024u)
#define MANIFEST_MAGIC "FRYMAN01"
/* A cache file larger than this is refused (a 1 TiB file at 4 MiB chunks is ~13 MiB). */
#define MANIFEST_CACHE_MAX ((size_t)256 * 1024 * 1024)

static const uint8_t manifest_zeros[MANIFEST_ZERO_BUF];

void
manifest_identity_from_stat(const struct stat *st, struct manifest_identity *ret)
{
    ret->dev = (uint64_t)st->st_dev;
    ret->ino = (uint64_t)st->st_ino;
    ret->size = (uint64_t)st->st_size;
    ret->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
}

bool
manifest_identity_eq(const struct manifest_identity *a, const struct manifest_identity *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime_ns == b->mtime_ns;
}

void
manifest_identity_etag(const struct manifest_identity *id, char ret[MANIFEST_ETAG_MAX])
{
    snprintf(ret, MANIFEST_ETAG_MAX, "\"%" PRIx64 "-%" PRIx64 "-%" PRIx64 "-%" PRIx64 "\"",
             id->dev, id->ino, id->size, (uint64_t)id->mtime_ns);
}

struct manifest *
manifest_ref(struct manifest *m)
{
    if (m)
        atomic_fetch_add(&m->refcnt, 1);
    return m;
}

struct manifest *
manifest_unref(struct manifest *m)
{
    if (!m)
        return NULL;
    if (atomic_fetch_sub(&m->refcnt, 1) == 1) {
        free(m->chunks);
        free(m);
    }
    return NULL;
}

static int
manifest_alloc(const struct manifest_identity *id, uint64_t chunk_size, bool sha256,
               struct manifest **ret)
{
    struct manifest *m = calloc(1, sizeof(*m));

    if (!m)
        return -ENOMEM;
    atomic_init(&m->refcnt, 1);
    m->id = *id;
    m->chunk_size = chunk_size;
    m->has_sha256 = sha256;
    m->nchunks = (id->size + chunk_size - 1) / chunk_size;
    if (m->nchunks > SIZE_MAX / sizeof(*m->chunks)) {
        free(m);
        return -EFBIG;
    }
    if (m->nchunks > 0) {
        m->chunks = calloc((size_t)m->nchunks, sizeof(*m->chunks));
        if (!m->chunks) {
            free(m);
            return -ENOMEM;
        }
    }
    *ret = m;
    return 0;
}

/* Hashing state of one chunk (and of the whole file for SHA-256). */
struct manifest_hasher {
    XXH3_state_t *xxh;
    EVP_MD_CTX *sha_chunk;
    EVP_MD_CTX *sha_file;
    bool zero;
};

static int
manifest_hasher_feed(struct manifest_hasher *h, const void *data, size_t len, bool zeros)
{
    if (XXH3_128bits_update(h->xxh, data, len) != XXH_OK)
        return -EIO;
    if (h->sha_chunk && EVP_DigestUpdate(h->sha_chunk, data, len) != 1)
        return -EIO;
    if (h->sha_file && EVP_DigestUpdate(h->sha_file, data, len) != 1)
        return -EIO;
    if (!zeros && h->zero) {
        const uint8_t *p = data;
        if (len > 0 && (p[0] != 0 || memcmp(p, p + 1, len - 1) != 0))
            h->zero = false;
    }
    return 0;
}

static int
manifest_hasher_feed_zeros(struct manifest_hasher *h, uint64_t len)
{
    while (len > 0) {
        size_t n = len > MANIFEST_ZERO_BUF ? MANIFEST_ZERO_BUF : (size_t)len;
        int r = manifest_hasher_feed(h, manifest_zeros, n, true);
        if (r < 0)
            return r;
        len -= n;
    }
    return 0;
}

static int
manifest_read_range(int fd, struct manifest_hasher *h, uint8_t *buf, uint64_t off, uint64_t len,
                    const atomic_bool *cancel)
{
    while (len > 0) {
        size_t want = len > MANIFEST_READ_BUF ? MANIFEST_READ_BUF : (size_t)len;
        ssize_t n;

        if (cancel && atomic_load(cancel))
            return -ECANCELED;
        n = pread(fd, buf, want, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -ENODATA; /* file shrank under us: its identity changed */
        int r = manifest_hasher_feed(h, buf, (size_t)n, false);
        if (r < 0)
            return r;
        off += (uint64_t)n;
        len -= (uint64_t)n;
    }
    return 0;
}

/* Feed chunk [start, end) to the hasher: holes as zeros (not read), data by pread. */
static int
manifest_chunk_feed(int fd, struct manifest_hasher *h, uint8_t *buf, uint64_t start,
                    uint64_t end, bool *seek_ok, bool *ret_all_hole, const atomic_bool *cancel)
{
    uint64_t pos = start;
    bool all_hole = true;
    int r;

    while (pos < end) {
        uint64_t data = pos, hole = end;

        if (*seek_ok) {
            off_t d = lseek(fd, (off_t)pos, SEEK_DATA);
            if (d < 0 && errno == ENXIO) {
                data = end;
            } else if (d < 0) {
                *seek_ok = false; /* filesystem without SEEK_DATA: read everything */
            } else {
                data = (uint64_t)d < end ? (uint64_t)d : end;
            }
        }
        if (data > pos) {
            r = manifest_hasher_feed_zeros(h, data - pos);
            if (r < 0)
                return r;
            pos = data;
        }
        if (pos >= end)
            break;
        if (*seek_ok) {
            off_t e = lseek(fd, (off_t)pos, SEEK_HOLE);
            if (e < 0)
                *seek_ok = false;
            else
                hole = (uint64_t)e < end ? (uint64_t)e : end;
        }
        if (!*seek_ok)
            hole = end;
        all_hole = false;
        r = manifest_read_range(fd, h, buf, pos, hole - pos, cancel);
        if (r < 0)
            return r;
        pos = hole;
    }
    *ret_all_hole = all_hole;
    return 0;
}

/* true when [start, end) holds no data at all (one SEEK_DATA). Clears *seek_ok when the
 * filesystem cannot tell. */
static bool
manifest_chunk_is_hole(int fd, uint64_t start, uint64_t end, bool *seek_ok)
{
    off_t d;

    if (!*seek_ok)
        return false;
    d = lseek(fd, (off_t)start, SEEK_DATA);
    if (d < 0 && errno == ENXIO)
        return true;
    if (d < 0) {
        *seek_ok = false;
        return false;
    }
    return (uint64_t)d >= end;
}

static int
manifest_sha_feed_zeros(EVP_MD_CTX *ctx, uint64_t len)
{
    while (len > 0) {
        size_t n = len > MANIFEST_ZERO_BUF ? MANIFEST_ZERO_BUF : (size_t)len;
        if (EVP_DigestUpdate(ctx, manifest_zeros, n) != 1)
            return -EIO;
        len -= n;
    }
    return 0;
}

int
manifest_compute(int fd, const struct manifest_identity *id, uint64_t chunk_size, bool sha256,
                 const atomic_bool *cancel, struct manifest **ret_manifest)
{
    struct manifest *m = NULL;
    struct manifest_hasher h = {0};
    struct manifest_chunk zero_chunk; /* digests of a full-size hole chunk, once known */
    bool have_zero_chunk = false;
    uint8_t *buf = NULL;
    bool seek_ok = true;
    unsigned dlen = 0;
    int r;

    if (chunk_size == 0)
        return -EINVAL;
    r = manifest_alloc(id, chunk_size, sha256, &m);
    if (r < 0)
        return r;
    buf = malloc(MANIFEST_READ_BUF);
    h.xxh = XXH3_createState();
    if (!buf || !h.xxh) {
        r = -ENOMEM;
        goto error;
    }
    if (sha256) {
        h.sha_chunk = EVP_MD_CTX_new();
        h.sha_file = EVP_MD_CTX_new();
        if (!h.sha_chunk || !h.sha_file ||
            EVP_DigestInit_ex(h.sha_file, EVP_sha256(), NULL) != 1) {
            r = -ENOMEM;
            goto error;
        }
    }
    for (uint64_t i = 0; i < m->nchunks; i++) {
        uint64_t start = i * chunk_size;
        uint64_t end = start + chunk_size < id->size ? start + chunk_size : id->size;
        struct manifest_chunk *c = &m->chunks[i];
        XXH128_canonical_t canon;
        bool all_hole;

        bool hole;

        if (cancel && atomic_load(cancel)) {
            r = -ECANCELED;
            goto error;
        }
        /* A full-size chunk that is one hole has the digests of every other such chunk:
         * computed once, then copied (a 1 TiB sparse image costs lseeks, not hashing). */
        hole = end - start == chunk_size && manifest_chunk_is_hole(fd, start, end, &seek_ok);
        if (hole && have_zero_chunk) {
            *c = zero_chunk;
            if (h.sha_file) {
                r = manifest_sha_feed_zeros(h.sha_file, chunk_size);
                if (r < 0)
                    goto error;
            }
            continue;
        }
        if (XXH3_128bits_reset(h.xxh) != XXH_OK) {
            r = -EIO;
            goto error;
        }
        if (h.sha_chunk && EVP_DigestInit_ex(h.sha_chunk, EVP_sha256(), NULL) != 1) {
            r = -EIO;
            goto error;
        }
        h.zero = true;
        r = manifest_chunk_feed(fd, &h, buf, start, end, &seek_ok, &all_hole, cancel);
        if (r < 0)
            goto error;
        XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(h.xxh));
        memcpy(c->xxh, canon.digest, sizeof(c->xxh));
        c->zero = h.zero || all_hole;
        if (h.sha_chunk && EVP_DigestFinal_ex(h.sha_chunk, c->sha256, &dlen) != 1) {
            r = -EIO;
            goto error;
        }
        if (hole) {
            zero_chunk = *c;
            have_zero_chunk = true;
        }
    }
    if (h.sha_file && EVP_DigestFinal_ex(h.sha_file, m->file_sha256, &dlen) != 1) {
        r = -EIO;
        goto error;
    }
    *ret_manifest = m;
    m = NULL;
    r = 0;
error:
    EVP_MD_CTX_free(h.sha_chunk);
    EVP_MD_CTX_free(h.sha_file);
    if (h.xxh)
        XXH3_freeState(h.xxh);
    free(buf);
    manifest_unref(m);
    return r;
}

/* ---- cache files ---- */

static int
manifest_cache_path(const char *dir, const struct manifest_identity *id, uint64_t chunk_size,
                    bool sha256, char **ret_path)
{
    char *p;

    if (asprintf(&p, "%s/%016" PRIx64 "-%016" PRIx64 "-%016" PRIx64 "-%016" PRIx64
                 "-%" PRIx64 "-%d.bin", dir, id->dev, id->ino, id->size,
                 (uint64_t)id->mtime_ns, chunk_size, sha256 ? 1 : 0) < 0)
        return -ENOMEM;
    *ret_path = p;
    return 0;
}

static void
put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
get_u64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

#define MANIFEST_HDR_LEN (8 + 5 * 8 + 4 + 4)

static size_t
manifest_record_len(bool sha256)
{
    return 16 + 1 + (sha256 ? 32 : 0);
}

int
manifest_cache_save(const char *dir, const struct manifest *m)
{
    size_t rec = manifest_record_len(m->has_sha256);
    size_t len = MANIFEST_HDR_LEN + (size_t)m->nchunks * rec + (m->has_sha256 ? 32 : 0);
    char *path = NULL, *tmp = NULL;
    uint8_t *buf = NULL, *p;
    int fd = -1, r;

    r = manifest_cache_path(dir, &m->id, m->chunk_size, m->has_sha256, &path);
    if (r < 0)
        return r;
    if (asprintf(&tmp, "%s.tmp.%d", path, (int)gettid()) < 0) {
        tmp = NULL;
        r = -ENOMEM;
        goto cleanup;
    }
    buf = malloc(len);
    if (!buf) {
        r = -ENOMEM;
        goto cleanup;
    }
    memcpy(buf, MANIFEST_MAGIC, 8);
    put_u64(buf + 8, m->id.dev);
    put_u64(buf + 16, m->id.ino);
    put_u64(buf + 24, m->id.size);
    put_u64(buf + 32, (uint64_t)m->id.mtime_ns);
    put_u64(buf + 40, m->chunk_size);
    memset(buf + 48, 0, 8);
    buf[48] = m->has_sha256 ? 1 : 0;
    p = buf + MANIFEST_HDR_LEN;
    for (uint64_t i = 0; i < m->nchunks; i++) {
        memcpy(p, m->chunks[i].xxh, 16);
        p[16] = m->chunks[i].zero ? 1 : 0;
        if (m->has_sha256)
            memcpy(p + 17, m->chunks[i].sha256, 32);
        p += rec;
    }
    if (m->has_sha256)
        memcpy(p, m->file_sha256, 32);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        r = -errno;
        goto cleanup;
    }
    for (size_t off = 0; off < len;) {
        ssize_t n = write(fd, buf + off, len - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            r = -errno;
            goto cleanup;
        }
        off += (size_t)n;
    }
    if (fsync(fd) < 0 || rename(tmp, path) < 0) {
        r = -errno;
        goto cleanup;
    }
    r = 0;
cleanup:
    if (fd >= 0)
        close(fd);
    if (r < 0 && tmp)
        unlink(tmp);
    free(buf);
    free(tmp);
    free(path);
    return r;
}

int
manifest_cache_load(const char *dir, const struct manifest_identity *id, uint64_t chunk_size,
                    bool sha256, struct manifest **ret_manifest)
{
    struct manifest *m = NULL;
    char *path = NULL;
    uint8_t *buf = NULL;
    struct stat st;
    size_t rec = manifest_record_len(sha256), want;
    const uint8_t *p;
    int fd = -1, r;

    if (chunk_size == 0)
        return -EINVAL;
    r = manifest_cache_path(dir, id, chunk_size, sha256, &path);
    if (r < 0)
        return r;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        r = errno == ENOENT ? -ENOENT : -errno;
        goto cleanup;
    }
    r = manifest_alloc(id, chunk_size, sha256, &m);
    if (r < 0)
        goto cleanup;
    want = MANIFEST_HDR_LEN + (size_t)m->nchunks * rec + (sha256 ? 32 : 0);
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != want ||
        want > MANIFEST_CACHE_MAX) {
        r = -EBADMSG;
        goto cleanup;
    }
    buf = malloc(want);
    if (!buf) {
        r = -ENOMEM;
        goto cleanup;
    }
    for (size_t off = 0; off < want;) {
        ssize_t n = pread(fd, buf + off, want - off, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            r = -EBADMSG;
            goto cleanup;
        }
        off += (size_t)n;
    }
    if (memcmp(buf, MANIFEST_MAGIC, 8) != 0 || get_u64(buf + 8) != id->dev ||
        get_u64(buf + 16) != id->ino || get_u64(buf + 24) != id->size ||
        get_u64(buf + 32) != (uint64_t)id->mtime_ns || get_u64(buf + 40) != chunk_size ||
        buf[48] != (sha256 ? 1 : 0)) {
        r = -ENOENT;
        goto cleanup;
    }
    p = buf + MANIFEST_HDR_LEN;
    for (uint64_t i = 0; i < m->nchunks; i++) {
        if (p[16] > 1) {
            r = -EBADMSG;
            goto cleanup;
        }
        memcpy(m->chunks[i].xxh, p, 16);
        m->chunks[i].zero = p[16] == 1;
        if (sha256)
            memcpy(m->chunks[i].sha256, p + 17, 32);
        p += rec;
    }
    if (sha256)
        memcpy(m->file_sha256, p, 32);
    *ret_manifest = m;
    m = NULL;
    r = 0;
cleanup:
    if (fd >= 0)
        close(fd);
    manifest_unref(m);
    free(buf);
    free(path);
    return r;
}

int
manifest_cache_remove(const char *dir, const struct manifest_identity *id, uint64_t chunk_size,
                      bool sha256)
{
    char *path = NULL;
    int r = manifest_cache_path(dir, id, chunk_size, sha256, &path);

    if (r < 0)
        return r;
    r = unlink(path) < 0 && errno != ENOENT ? -errno : 0;
    free(path);
    return r;
}

/* ---- background thread ---- */

struct manifest_job {
    struct manifest_job *next;
    const struct manifest_job_ops *ops;
    void *ud;
};

struct manifest_worker {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct manifest_job *head, *tail;
    bool stopping;
    atomic_bool cancel;
    atomic_uint_fast64_t computed;
    char *cache_dir;
    uint64_t chunk_size;
    bool sha256;
};

static void
manifest_worker_run_job(struct manifest_worker *w, struct manifest_job *job)
{
    struct manifest *m = NULL;
    struct manifest_identity id, after;
    struct stat st;
    int fd, r;

    fd = job->ops->open(job->ud);
    if (fd < 0) {
        job->ops->done(job->ud, NULL, fd);
        return;
    }
    if (fstat(fd, &st) < 0) {
        r = -errno;
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        r = -EINVAL;
        goto done;
    }
    manifest_identity_from_stat(&st, &id);
    r = w->cache_dir ? manifest_cache_load(w->cache_dir, &id, w->chunk_size, w->sha256, &m)
                     : -ENOENT;
    if (r < 0) {
        r = manifest_compute(fd, &id, w->chunk_size, w->sha256, &w->cancel, &m);
        if (r < 0)
            goto done;
        /* The file changed while we read it: this manifest describes nothing real. */
        if (fstat(fd, &st) < 0) {
            r = -errno;
            goto done;
        }
        manifest_identity_from_stat(&st, &after);
        if (!manifest_identity_eq(&id, &after)) {
            r = -ESTALE;
            goto done;
        }
        atomic_fetch_add(&w->computed, 1);
        if (w->cache_dir) {
            int s = manifest_cache_save(w->cache_dir, m);
            if (s < 0)
                ferry_log_warn("manifest cache in '%s' could not be written: %s",
                               w->cache_dir, strerror(-s));
        }
    }
    r = 0;
done:
    close(fd);
    job->ops->done(job->ud, r < 0 ? NULL : m, r);
    manifest_unref(m);
}

static void *
manifest_worker_main(void *arg)
{
    struct manifest_worker *w = arg;

    ferry_log_set_thread_name("manifest");
    pthread_mutex_lock(&w->lock);
    for (;;) {
        struct manifest_job *job;

        while (!w->head && !w->stopping)
            pthread_cond_wait(&w->cond, &w->lock);
        if (w->stopping)
            break;
        job = w->head;
        w->head = job->next;
        if (!w->head)
            w->tail = NULL;
        pthread_mutex_unlock(&w->lock);
        manifest_worker_run_job(w, job);
        job->ops->release(job->ud);
        free(job);
        pthread_mutex_lock(&w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

int
manifest_worker_new(const char *cache_dir, uint64_t chunk_size, bool sha256,
                    struct manifest_worker **ret_worker)
{
    struct manifest_worker *w;
    int r;

    if (chunk_size == 0)
        return -EINVAL;
    w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    atomic_init(&w->cancel, false);
    atomic_init(&w->computed, 0);
    w->chunk_size = chunk_size;
    w->sha256 = sha256;
    if (cache_dir) {
        w->cache_dir = strdup(cache_dir);
        if (!w->cache_dir) {
            r = -ENOMEM;
            goto error;
        }
        if (mkdir(cache_dir, 0700) < 0 && errno != EEXIST) {
            r = -errno;
            goto error;
        }
    }
    r = -pthread_create(&w->thread, NULL, manifest_worker_main, w);
    if (r < 0)
        goto error;
    *ret_worker = w;
    return 0;
error:
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    free(w->cache_dir);
    free(w);
    return r;
}

int
manifest_worker_submit(struct manifest_worker *w, const struct manifest_job_ops *ops, void *ud)
{
    struct manifest_job *job = calloc(1, sizeof(*job));

    if (!job)
        return -ENOMEM;
    job->ops = ops;
    job->ud = ud;
    pthread_mutex_lock(&w->lock);
    if (w->stopping) {
        pthread_mutex_unlock(&w->lock);
        free(job);
        return -ESHUTDOWN;
    }
    if (w->tail)
        w->tail->next = job;
    else
        w->head = job;
    w->tail = job;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    return 0;
}

struct manifest_worker *
manifest_worker_free(struct manifest_worker *w)
{
    struct manifest_job *job;

    if (!w)
        return NULL;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    atomic_store(&w->cancel, true);
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    while (w->head) {
        job = w->head;
        w->head = job->next;
        job->ops->release(job->ud);
        free(job);
    }
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    free(w->cache_dir);
    free(w);
    return NULL;
}

uint64_t
manifest_worker_computed(struct manifest_worker *w)
{
    return atomic_load(&w->computed);
}
