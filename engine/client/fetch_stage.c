/*
 * fetch_stage.c - the hidden temp file: opening it beneath the download root, staging
 * received bytes in page-aligned blocks written with pwrite(), and the chunk layout
 * (truncate, preallocate except all-zero chunks).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ferry/log.h"
#include "client/fetcher-internal.h"
#include "client/client.h"
#include "client/job.h"
#include "client/localpath.h"
#include "client/metalink.h"
#include "client/store.h"
#include "client/verify.h"
#include "ufetch.h"

/* Length of chunk i of f (the last one may be short). */
uint64_t
xfer_chunk_len(const struct jfile *f, uint64_t i)
{
    uint64_t off = i * f->chunk_size;

    return off + f->chunk_size > f->bytes_total ? f->bytes_total - off : f->chunk_size;
}

/*
 * Open the directory of the current file beneath its download root and the hidden temp
 * file there (created when missing): x->dirfd and x->fd. -errno; what was opened is closed
 * by xfer_free.
 */
int
xfer_stage_open(struct xfer *x)
{
    struct jfile *f = &x->job->files[x->fidx];
    const char *name;
    char tmp[300];
    int r;

    r = localpath_open_dir(x->jobs->cfg, f->local_file, &x->dirfd, &name);
    if (r < 0)
        return r;
    r = localpath_temp_name(name, x->job->id, tmp, sizeof(tmp));
    if (r < 0)
        return r;
    x->fd = openat(x->dirfd, tmp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (x->fd < 0)
        return -errno;
    return 0;
}

/* Write the staged bytes [wpos, pos) at their offset; the chunk's fill then covers them. */
int
req_flush(struct xfer *x, struct req *q)
{
    struct jfile *f = &x->job->files[x->fidx];
    size_t len = (size_t)(q->pos - q->wpos), done = 0;

    while (done < len) {
        ssize_t n = pwrite(x->fd, q->stage + done, len - done, (off_t)(q->wpos + done));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        done += (size_t)n;
    }
    q->wpos = q->pos;
    if (len) {
        struct chunk *c = &f->chunks[q->chunk];
        c->fill = q->wpos - q->chunk * f->chunk_size;
        /* the stream has hashed exactly [chunk start, pos): the digest of the new fill,
         * taken without ending the stream */
        verify_stream_digest(q->hs, c->fill_digest);
        c->have_fill_digest = true;
    }
    return 0;
}

/*
 * Copy `len` received bytes of q into its stage, hashing them on the way, and write the
 * stage out whenever it fills or the range ends. 0, or -errno of a failed pwrite (what was
 * staged stays staged).
 */
int
xfer_stage_write(struct xfer *x, struct req *q, const char *buf, size_t len)
{
    size_t done = 0;

    while (done < len) {
        size_t room = FETCH_STAGE_SIZE - (size_t)(q->pos - q->wpos);
        size_t n = len - done < room ? len - done : room;
        int r;

        memcpy(q->stage + (q->pos - q->wpos), buf + done, n);
        /* hash while the bytes are in cache from the socket copy, piece by piece so
         * that the stream always covers exactly [chunk start, pos) (req_flush) */
        verify_stream_update(q->hs, buf + done, n);
        q->pos += n;
        done += n;
        if (q->pos - q->wpos < FETCH_STAGE_SIZE && q->pos != q->end + 1)
            continue;
        r = req_flush(x, q);
        if (r < 0)
            return r;
    }
    return 0;
}

/*
 * Reserve the space a fresh file will take, so that a full disk fails the job now rather
 * than mid-transfer; zero chunks stay holes. On a disk file system fallocate(KEEP_SIZE)
 * places the runs. On tmpfs / ramfs there are no extents to lay out, and fallocate there
 * zeroes every page on the jobs thread before the first range starts (0.10 s per GiB,
 * measured, docs/internals/client.md), so only the free space is checked: the pages are
 * taken as the bodies arrive, and a pwrite that still finds the space gone is a disk-full
 * error like any other (fetch_error.c).
 */
static int
stage_reserve(int fd, const struct jfile *f, uint64_t n, uint64_t cs)
{
    uint64_t avail = 0, need = 0;

    if (ufetch_file_in_memory(fd, &avail)) {
        for (uint64_t k = 0; k < n; k++)
            if (f->chunks[k].state != CHUNK_ZERO)
                need += xfer_chunk_len(f, k);
        return need > avail ? -ENOSPC : 0;
    }
    for (uint64_t i = 0; i < n;) {
        uint64_t j = i;

        if (f->chunks[i].state == CHUNK_ZERO) {
            i++;
            continue;
        }
        while (j < n && f->chunks[j].state != CHUNK_ZERO)
            j++;
        if (fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)(i * cs),
                      (off_t)((j == n ? f->bytes_total : j * cs) - i * cs)) < 0 &&
            errno == ENOSPC)
            return -ENOSPC;
        i = j;
    }
    return 0;
}

/*
 * Chunk layout once the size (and maybe the manifest) is known. Progress from an earlier
 * run is kept when the layout matches; otherwise the file starts fresh: truncated,
 * preallocated except where the manifest marks zero chunks (those stay holes).
 */
int
xfer_layout(struct xfer *x)
{
    const struct ferry_config *cfg = x->jobs->cfg;
    struct job *job = x->job;
    struct jfile *f = &job->files[x->fidx];
    struct metalink *ml = x->ml;
    uint64_t cs = ml ? ml->piece_length : cfg->fetch_chunk_size;
    uint64_t n = f->bytes_total == 0 ? 0 : (f->bytes_total + cs - 1) / cs;
    bool fresh = !f->chunks || f->chunk_size != cs || f->nchunks != n ||
                 f->has_manifest != (ml != NULL);

    if (fresh) {
        if (f->bytes_transferred)
            ferry_log_info("job %s: chunk layout of '%s' changed; restarting it", job->id,
                           f->remote_url);
        job->bytes_refetched += f->bytes_transferred;
        free(f->chunks);
        f->chunks = NULL;
        f->bytes_transferred = 0;
        f->rehash_pending = false;
        store_chunks_clear(x->jobs->store, job->id, x->fidx);
        f->layout_gen++;
        f->chunk_size = cs;
        f->nchunks = n;
        if (n) {
            f->chunks = calloc(n, sizeof(*f->chunks));
            if (!f->chunks)
                return -ENOMEM;
        }
        if (ftruncate(x->fd, 0) < 0 || ftruncate(x->fd, (off_t)f->bytes_total) < 0)
            return -errno;
    }
    f->has_manifest = ml != NULL;
    for (uint64_t i = 0; i < n && ml; i++) {
        struct chunk *c = &f->chunks[i];
        if (ml->zero[i]) {
            if (c->state != CHUNK_VERIFIED) {
                c->state = CHUNK_ZERO;
                c->fill = 0;
            }
        } else {
            c->have_expected = true;
            memcpy(c->expected, ml->pieces[i], 16);
        }
    }
    if (fresh) {
        int rr = stage_reserve(x->fd, f, n, cs);

        if (rr < 0)
            return rr;
        for (uint64_t k = 0; k < n; k++)
            if (f->chunks[k].state == CHUNK_ZERO) {
                f->bytes_transferred += xfer_chunk_len(f, k);
                f->chunks[k].dirty = false;
            }
    } else if (f->rehash_pending) {
        int r = xfer_rehash_start(x);
        if (r < 0)
            return r;
    }
    /* zero chunks count as transferred from the start (they are never fetched) */
    {
        uint64_t done = 0;
        for (uint64_t i = 0; i < n; i++) {
            struct chunk *c = &f->chunks[i];
            if (c->state == CHUNK_VERIFIED || c->state == CHUNK_ZERO || c->state == CHUNK_DONE)
                done += xfer_chunk_len(f, i);
            else if (c->state == CHUNK_PARTIAL)
                done += c->fill;
        }
        f->bytes_transferred = done;
    }
    /* B = max(size / 128, size / 50 - 4 MiB, 1 MiB): a crash still refetches < 2 % (B plus a
     * read per connection), with fewer checkpoints on large files. Each one is an fdatasync
     * (a journal commit and a disk cache flush on ext4) plus a store write: 1/128 of a
     * 2 GiB file meant ~100 of them and 1.5-2 s of syncing. */
    x->ckpt_bytes = f->bytes_total / 128;
    if (f->bytes_total / 50 > (4u << 20) && f->bytes_total / 50 - (4u << 20) > x->ckpt_bytes)
        x->ckpt_bytes = f->bytes_total / 50 - (4u << 20);
    if (x->ckpt_bytes < (1u << 20))
        x->ckpt_bytes = 1u << 20;
    x->phase = PH_RANGES;
    store_progress_put(x->jobs->store, job, x->fidx);
    xfer_source_relay_sync(x, false);
    return 0;
}
