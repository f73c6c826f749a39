/*
 * fetch_checkpoint.c - making progress durable: snapshot, fdatasync on the jobs-sync
 * thread, then the store records what the sync covered; and the re-hash of verified
 * chunks of a resumed file.
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
#include "core/clock.h"
#include "client/job.h"
#include "client/store.h"
#include "client/syncer.h"

/*
 * Checkpoints make progress durable in two steps: a snapshot of what is complete (DONE
 * chunks) and of the fill of partial ones, an fdatasync of the temp file (on the jobs-sync
 * thread, so sockets keep draining), and only then one store transaction recording that
 * snapshot. A chunk row therefore never claims bytes that are not on disk. Chunks that
 * started over since the snapshot (epoch) or a file laid out again (layout_gen) are skipped.
 */
static struct sync_req *
xfer_snapshot(struct xfer *x)
{
    struct jfile *f = &x->job->files[x->fidx];
    struct sync_req *q;
    size_t n = 0;

    for (uint64_t i = 0; i < f->nchunks; i++) {
        struct chunk *c = &f->chunks[i];
        if (c->state == CHUNK_DONE ||
            ((c->state == CHUNK_INFLIGHT || c->state == CHUNK_PARTIAL) &&
             c->fill > c->fill_durable))
            n++;
    }
    if (n == 0)
        return NULL;
    q = calloc(1, sizeof(*q));
    if (q)
        q->items = calloc(n, sizeof(*q->items));
    if (!q || !q->items) {
        free(q);
        return NULL;
    }
    q->fd = x->fd;
    q->gen = f->layout_gen;
    for (uint64_t i = 0; i < f->nchunks; i++) {
        struct chunk *c = &f->chunks[i];
        bool done = c->state == CHUNK_DONE;
        if (!done && !((c->state == CHUNK_INFLIGHT || c->state == CHUNK_PARTIAL) &&
                       c->fill > c->fill_durable))
            continue;
        q->items[q->n].idx = i;
        q->items[q->n].fill = c->fill;
        q->items[q->n].epoch = c->epoch;
        q->items[q->n].done = done;
        q->items[q->n].have_digest = !done && c->have_fill_digest;
        if (q->items[q->n].have_digest)
            memcpy(q->items[q->n].digest, c->fill_digest, 16);
        q->n++;
    }
    return q;
}

/* Free a sync request and its items (NULL-safe); it must have finished. Returns NULL. */
struct sync_req *
sync_req_free(struct sync_req *q)
{
    if (q) {
        free(q->items);
        free(q->spec);
        free(q);
    }
    return NULL;
}

/* The sync of q finished: record what it made durable. */
static int
xfer_sync_apply(struct xfer *x, struct sync_req *q)
{
    struct job *job = x->job;
    struct jfile *f = &job->files[x->fidx];
    int r;

    if (q->result < 0)
        return q->result;
    if (!f->chunks || f->layout_gen != q->gen)
        return 0;
    for (size_t k = 0; k < q->n; k++) {
        struct chunk *c = &f->chunks[q->items[k].idx];
        if (c->epoch != q->items[k].epoch)
            continue;
        if (q->items[k].done && c->state == CHUNK_DONE) {
            c->state = CHUNK_VERIFIED;
            c->dirty = true;
        } else if ((c->state == CHUNK_INFLIGHT || c->state == CHUNK_PARTIAL ||
                    c->state == CHUNK_DONE) &&
                   q->items[k].fill > c->fill_durable && q->items[k].fill <= c->fill) {
            c->fill_durable = q->items[k].fill;
            c->have_durable_digest = q->items[k].have_digest;
            if (c->have_durable_digest)
                memcpy(c->durable_digest, q->items[k].digest, 16);
            c->dirty = true;
        }
    }
    r = store_progress_put(x->jobs->store, job, x->fidx);
    if (r < 0)
        ferry_log_warn("job %s: progress could not be saved: %s", job->id, strerror(-r));
    return 0;
}

/* Apply a finished background sync, if any. -errno when the sync failed. */
int
xfer_sync_poll(struct xfer *x, bool wait)
{
    int r;

    if (!x->sync)
        return 0;
    if (wait)
        syncer_wait(x->jobs->syncer, x->sync);
    else if (!syncer_done(x->jobs->syncer, x->sync))
        return 0;
    r = xfer_sync_apply(x, x->sync);
    x->sync = sync_req_free(x->sync);
    return r;
}

/*
 * Checkpoint now. wait = false: hand the sync to the jobs-sync thread (nothing happens while
 * one is still running); wait = true: finish any pending one, then sync inline (stop,
 * file done).
 */
int
xfer_checkpoint(struct xfer *x, bool wait)
{
    struct jfile *f = &x->job->files[x->fidx];
    struct sync_req *q;
    int r;

    if (x->fd < 0)
        return 0;
    r = xfer_sync_poll(x, wait);
    if (r < 0)
        return r;
    if (x->sync || !f->chunks)
        return 0;
    /* staged bytes go to the file first, so the snapshot covers all that was received; a
     * write error here is met again (and reported) by the request's next flush */
    for (size_t i = 0; i < x->nreqs; i++) {
        struct req *rq = x->reqs[i];
        if (rq->kind == REQ_RANGE && rq->stage && rq->fail == FETCH_OK && !rq->discard &&
            rq->pos > rq->wpos && rq->chunk < f->nchunks &&
            f->chunks[rq->chunk].state == CHUNK_INFLIGHT)
            (void)req_flush(x, rq);
    }
    q = xfer_snapshot(x);
    x->last_ckpt_ms = ferry_clock_ms();
    x->unpersisted = 0;
    if (!q)
        return 0;
    if (wait) {
        q->result = fdatasync(x->fd) < 0 ? -errno : 0;
        r = xfer_sync_apply(x, q);
        sync_req_free(q);
        return r;
    }
    syncer_submit(x->jobs->syncer, q);
    x->sync = q;
    return 0;
}

/*
 * A file resumed from the store: its VERIFIED chunks are re-hashed from disk before the file
 * can finish, on the jobs-sync thread (a disk image may take minutes to read), while the
 * missing chunks are already being fetched. VERIFIED chunks are never written meanwhile.
 */
int
xfer_rehash_start(struct xfer *x)
{
    struct jfile *f = &x->job->files[x->fidx];
    struct sync_req *q;
    size_t n = 0;

    f->rehash_pending = false;
    for (uint64_t i = 0; i < f->nchunks; i++)
        if (f->chunks[i].state == CHUNK_VERIFIED)
            n++;
    if (n == 0)
        return 0;
    q = calloc(1, sizeof(*q));
    if (q)
        q->items = calloc(n, sizeof(*q->items));
    if (!q || !q->items) {
        free(q);
        return -ENOMEM;
    }
    q->kind = SYNC_REHASH;
    q->fd = x->fd;
    q->gen = f->layout_gen;
    for (uint64_t i = 0; i < f->nchunks; i++) {
        struct chunk *c = &f->chunks[i];
        struct sync_item *it;
        if (c->state != CHUNK_VERIFIED)
            continue;
        it = &q->items[q->n++];
        it->idx = i;
        it->epoch = c->epoch;
        it->off = i * f->chunk_size;
        it->len = xfer_chunk_len(f, i);
        memcpy(it->digest, c->have_expected ? c->expected : c->digest, 16);
        if (!c->have_digest && !c->have_expected)
            memset(it->digest, 0, 16); /* nothing to compare with: refetch */
    }
    syncer_submit(x->jobs->syncer, q);
    x->rehash = q;
    return 0;
}

/* The re-hash finished: chunks whose bytes no longer match go back to MISSING. */
void
xfer_rehash_apply(struct xfer *x, struct sync_req *q)
{
    struct job *job = x->job;
    struct jfile *f = &job->files[x->fidx];
    unsigned dropped = 0;

    if (!f->chunks || f->layout_gen != q->gen)
        return;
    for (size_t k = 0; k < q->n; k++) {
        struct chunk *c = &f->chunks[q->items[k].idx];
        if (!q->items[k].bad || c->epoch != q->items[k].epoch || c->state != CHUNK_VERIFIED)
            continue;
        c->state = CHUNK_MISSING;
        c->fill = 0;
        c->fill_durable = 0;
        c->have_digest = false;
        c->dirty = true;
        c->epoch++;
        f->bytes_transferred -= f->bytes_transferred >= q->items[k].len ? q->items[k].len
                                                                        : f->bytes_transferred;
        job->bytes_refetched += q->items[k].len;
        x->jobs->verify_failures++;
        dropped++;
    }
    if (dropped) {
        ferry_log_warn("job %s: %u verified chunk(s) of '%s' no longer match on disk; "
                       "fetching them again",
                       job->id, dropped, f->remote_url);
        store_progress_put(x->jobs->store, job, x->fidx);
    }
    xfer_source_relay_sync(x, true); /* the chunks that passed may be relayed now */
}
