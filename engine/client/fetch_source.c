/*
 * fetch_source.c - which source fetches a chunk: the origin (RemoteUrl and its mirrors) or
 * a peer, another ferry host still fetching the same file (a "Peer" source, published
 * there as a relay URL; docs/internals/relay.md). Also what this host's own relay
 * (struct relay, engine/core/relay.h) learns from the transfer.
 *
 * Rules: the manifest, the size and the validators always come from the origin; a peer is
 * used only when it answers with the origin's ETag and size and lists the chunk in
 * X-Ferry-Have. A peer is asked for the lowest chunk it lists that this host still misses,
 * FETCH_PEER_WINDOW ranges at a time: the chunk a host's own children need next
 * is the one it completes next, so each hop of a relay chain or tree adds about one chunk
 * time (a chunk is served onward only whole and verified). A chunk no live peer can take
 * goes to the origin only when no peer is live or every live peer has stalled: no
 * progress (its chunk set grew, or body bytes of a range from it arrived) for
 * FETCH_PEER_STALL_MS since its last one, or, for a peer that has not progressed once
 * since the transfer started (a deep relay waiting for its own first chunk), for
 * FETCH_PEER_START_MS. A peer's "not yet" (503, 404) is never a job error; a peer that
 * fails to connect twice in a row, answers with other validators, or serves a chunk that
 * does not match the origin's manifest is dropped for the rest of the transfer, and the
 * chunk goes elsewhere. While a job waits for a peer, the peer is polled with HEAD every
 * FETCH_PEER_POLL_MS.
 *
 * Jobs thread only, with the role's lock held.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

#include "ferry/log.h"
#include "client/fetcher-internal.h"
#include "client/fetcher.h"
#include "client/client.h"
#include "core/clock.h"
#include "core/relay.h"
#include "client/job.h"

/*
 * Ranges in flight to one peer. 1: the peer's link carries one chunk at a time, so it
 * arrives in c/B instead of W·c/B, and the pipeline's hop is one chunk (bench/fleet,
 * docs/FLEET.md: a window of 2, or a second range started in the first's last quarter,
 * measured slower). The job's other connections stay with the origin's chunks, when the
 * rules allow the origin at all.
 */
#define FETCH_PEER_WINDOW 1
#define FETCH_PEER_STALL_MS 3000
#define FETCH_PEER_START_MS 30000
#define FETCH_PEER_POLL_MS 25
#define FETCH_PEER_MAX_FAILURES 2
#define FETCH_PEER_MAX_NOT_YET 100

/* Is source mi a peer? */
bool
xfer_source_is_peer(const struct xfer *x, size_t mi)
{
    return mi < x->nmirrors && x->mirrors[mi].peer;
}

static bool
xfer_peer_live(const struct mirror *m)
{
    return m->peer && !m->dropped;
}

static void
xfer_peer_drop(struct xfer *x, size_t mi, const char *why)
{
    struct mirror *m = &x->mirrors[mi];

    if (m->dropped)
        return;
    m->dropped = true;
    ferry_log_warn("job %s: peer '%s' dropped for this transfer: %s", x->job->id, m->url, why);
}

/* Ranges in flight to source mi. */
static unsigned
xfer_source_inflight(const struct xfer *x, size_t mi)
{
    unsigned n = 0;

    for (size_t i = 0; i < x->nreqs; i++)
        n += x->reqs[i]->kind == REQ_RANGE && x->reqs[i]->mirror == mi;
    return n;
}

/* Has live peer m made no progress for too long (relay.md, rule 4)? */
static bool
xfer_peer_stalled(const struct mirror *m, int64_t now)
{
    return now - m->progress_ms >= (m->progressed ? FETCH_PEER_STALL_MS : FETCH_PEER_START_MS);
}

/* Peer m progressed now. */
static void
xfer_peer_progress(struct mirror *m, int64_t now)
{
    m->progress_ms = now;
    m->progressed = true;
}

/* Body bytes arriving from a peer are progress: look at its ranges in flight (a request
 * that ended was seen by xfer_source_done / xfer_source_chunk_ok). */
static void
xfer_peer_rx(struct xfer *x, int64_t now)
{
    for (size_t i = 0; i < x->nmirrors; i++) {
        struct mirror *m = &x->mirrors[i];
        uint64_t rx = 0;

        if (!xfer_peer_live(m))
            continue;
        for (size_t k = 0; k < x->nreqs; k++) {
            const struct req *q = x->reqs[k];
            if (q->kind == REQ_RANGE && q->mirror == i)
                rx += q->pos - q->start;
        }
        if (rx > m->rx_seen)
            xfer_peer_progress(m, now);
        m->rx_seen = rx;
    }
}

/* May chunks no peer can take go to the origin now? */
static bool
xfer_origin_allowed(const struct xfer *x, int64_t now)
{
    for (size_t i = 0; i < x->nmirrors; i++) {
        const struct mirror *m = &x->mirrors[i];
        if (xfer_peer_live(m) && !xfer_peer_stalled(m, now))
            return false;
    }
    return true;
}

/* The lowest chunk peer m lists that this host misses and has not asked for (<= ci, which
 * it lists), so a peer is read in ascending order. */
static uint64_t
xfer_peer_next_chunk(const struct jfile *f, const struct mirror *m, uint64_t ci)
{
    for (uint64_t j = 0; j < ci; j++) {
        uint8_t s = f->chunks[j].state;
        if (m->have[j] && (s == CHUNK_MISSING || s == CHUNK_PARTIAL))
            return j;
    }
    return ci;
}

/*
 * The rule, without I/O: where missing chunk ci may go now. A live peer that lists it,
 * is not backing off after a "not yet" and has fewer than FETCH_PEER_WINDOW ranges in
 * flight: the source is that peer and *chunk the lowest chunk it lists that is still
 * missing (of several such peers, the one whose chunk is lowest). Otherwise
 * XFER_SOURCE_ORIGIN (*chunk = ci) when the origin is allowed (no peer live, or every
 * live one stalled), else XFER_SOURCE_WAIT. x's requests count as in flight.
 */
size_t
xfer_source_choose(const struct xfer *x, uint64_t ci, int64_t now, uint64_t *chunk)
{
    const struct jfile *f = &x->job->files[x->fidx];
    size_t best = XFER_SOURCE_WAIT;
    uint64_t best_chunk = ci;

    for (size_t i = 0; i < x->nmirrors; i++) {
        const struct mirror *m = &x->mirrors[i];
        uint64_t j;
        if (!xfer_peer_live(m) || !m->have || !m->have[ci] || now < m->retry_ms)
            continue;
        if (xfer_source_inflight(x, i) >= FETCH_PEER_WINDOW)
            continue;
        j = xfer_peer_next_chunk(f, m, ci);
        if (best == XFER_SOURCE_WAIT || j < best_chunk) {
            best = i;
            best_chunk = j;
        }
    }
    if (best == XFER_SOURCE_WAIT && xfer_origin_allowed(x, now))
        best = XFER_SOURCE_ORIGIN;
    *chunk = best_chunk;
    return best;
}

/* The next origin source (RemoteUrl or a probed mirror), round robin. */
static size_t
xfer_origin_next(struct xfer *x)
{
    size_t mi = 0;

    for (size_t k = 0; k < x->nmirrors; k++) {
        size_t cand = (x->next_mirror + k) % x->nmirrors;
        if (!x->mirrors[cand].peer && x->mirrors[cand].ok) {
            mi = cand;
            break;
        }
    }
    x->next_mirror = mi + 1;
    return mi;
}

/*
 * Start chunk ci, or, when a peer takes it, the lowest missing chunk that peer lists
 * (xfer_source_choose). 1 when a request started, 0 when no source may take ci now (a
 * peer will have it; the job waits), -ENOMEM.
 */
int
xfer_source_start(struct xfer *x, uint64_t ci)
{
    int64_t now = ferry_clock_ms();
    uint64_t chunk;
    size_t src;
    int r;

    xfer_peer_rx(x, now);
    src = xfer_source_choose(x, ci, now, &chunk);
    if (src == XFER_SOURCE_WAIT) {
        x->source_wait = true;
        return 0;
    }
    if (src == XFER_SOURCE_ORIGIN)
        src = xfer_origin_next(x);
    else if (chunk != ci)
        x->source_wait = true; /* ci itself still waits for a peer */
    r = xfer_start_range(x, chunk, src);
    return r < 0 ? r : 1;
}

/* Take a peer's X-Ferry-Have. replace: the set is the peer's whole truth (a HEAD or a
 * 503), so chunks it no longer lists are forgotten. */
static void
xfer_peer_have(struct xfer *x, size_t mi, const char *value, bool replace)
{
    struct jfile *f = &x->job->files[x->fidx];
    struct mirror *m = &x->mirrors[mi];
    uint8_t *nv;
    int64_t added;
    uint64_t before = m->nhave;

    if (!value || !f->chunks || f->nchunks == 0)
        return;
    nv = calloc(f->nchunks, 1);
    if (!nv)
        return;
    if (!replace && m->have)
        memcpy(nv, m->have, f->nchunks);
    added = relay_have_parse(value, f->nchunks, f->chunk_size, nv);
    if (added < 0) {
        free(nv);
        xfer_peer_drop(x, mi, "its X-Ferry-Have does not describe this file's chunks");
        return;
    }
    free(m->have);
    m->have = nv;
    m->nhave = 0;
    for (uint64_t i = 0; i < f->nchunks; i++)
        m->nhave += nv[i];
    if (m->nhave > before)
        xfer_peer_progress(m, ferry_clock_ms());
}

/* Does the peer's response carry the origin's version (size, strong ETag)? */
static bool
xfer_peer_same(struct xfer *x, struct req *q, curl_off_t cl)
{
    struct jfile *f = &x->job->files[x->fidx];

    if (cl >= 0 && (uint64_t)cl != f->bytes_total)
        return false;
    if (f->etag && (!q->etag || strcmp(q->etag, f->etag) != 0))
        return false;
    if (!f->etag && f->last_modified &&
        (!q->last_modified || strcmp(q->last_modified, f->last_modified) != 0))
        return false;
    return true;
}

/* Poll the peers of a job that waited for one in its last pump (and clear the flag: the
 * pump that follows sets it again if it still waits). */
void
xfer_source_tick(struct xfer *x)
{
    struct jfile *f = &x->job->files[x->fidx];
    int64_t now = ferry_clock_ms();
    bool waited = x->source_wait;

    x->source_wait = false;
    if (!waited || x->phase != PH_RANGES || !f->chunks)
        return;
    for (size_t i = 0; i < x->nmirrors; i++) {
        struct mirror *m = &x->mirrors[i];
        struct req *q;

        if (!xfer_peer_live(m) || m->polling || now < m->next_poll_ms ||
            (m->have && m->nhave == f->nchunks))
            continue;
        /* only when a request slot is free: a busy job learns from its range responses */
        if (x->nreqs >= x->conns + 1)
            continue;
        q = req_new(x, REQ_HAVE, i, m->url);
        if (!q)
            return;
        curl_easy_setopt(q->easy, CURLOPT_NOBODY, 1L);
        if (xfer_add_req(x, q) < 0) {
            req_free(x->jobs, q);
            return;
        }
        m->polling = true;
        m->next_poll_ms = now + FETCH_PEER_POLL_MS;
    }
}

/* Forget a chunk a peer left unfinished (its bytes are not trusted as a prefix). */
static void
xfer_source_chunk_forget(struct xfer *x, uint64_t ci)
{
    struct jfile *f = &x->job->files[x->fidx];
    struct chunk *c;

    if (!f->chunks || ci >= f->nchunks)
        return;
    c = &f->chunks[ci];
    if (c->state != CHUNK_PARTIAL && c->state != CHUNK_MISSING)
        return;
    if (c->fill) {
        f->bytes_transferred -= f->bytes_transferred >= c->fill ? c->fill
                                                                : f->bytes_transferred;
        x->job->bytes_refetched += c->fill;
    }
    c->state = CHUNK_MISSING;
    c->fill = 0;
    c->fill_durable = 0;
    c->have_fill_digest = false;
    c->dirty = true;
    c->epoch++;
}

/*
 * A request to a peer ended (the chunk state is already back from INFLIGHT). true when it
 * is handled here (the caller frees q): every HAVE poll, and every peer range that did not
 * bring its whole body; false lets a complete peer range be verified as any other.
 */
bool
xfer_source_done(struct xfer *x, struct req *q, CURLcode res, long status)
{
    struct mirror *m;
    curl_off_t cl = -1;
    bool replace;

    if (q->kind != REQ_HAVE && !(q->kind == REQ_RANGE && xfer_source_is_peer(x, q->mirror)))
        return false;
    m = &x->mirrors[q->mirror];
    if (q->kind == REQ_HAVE)
        m->polling = false;
    if (res != CURLE_OK && res != CURLE_WRITE_ERROR) {
        if (q->kind == REQ_RANGE)
            xfer_source_chunk_forget(x, q->chunk);
        if (++m->failures >= FETCH_PEER_MAX_FAILURES)
            xfer_peer_drop(x, q->mirror, curl_easy_strerror(res));
        return true;
    }
    m->failures = 0;
    if (status == 503 || status == 404) {
        /* not yet: what it has now, and no range to it for a poll period; one that never
         * delivers what it lists is dropped */
        xfer_peer_have(x, q->mirror, q->have, true);
        if (q->kind == REQ_RANGE) {
            xfer_source_chunk_forget(x, q->chunk);
            if (m->have)
                m->have[q->chunk] = 0;
            m->retry_ms = ferry_clock_ms() + FETCH_PEER_POLL_MS;
            if (++m->not_yet > FETCH_PEER_MAX_NOT_YET)
                xfer_peer_drop(x, q->mirror, "it keeps answering 'not yet' for chunks it lists");
        }
        return true;
    }
    if (q->kind == REQ_HAVE && status != 200) {
        xfer_peer_drop(x, q->mirror, "its HEAD answer is not 200");
        return true;
    }
    if (q->kind == REQ_HAVE)
        curl_easy_getinfo(q->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
    if (q->fail == FETCH_REMOTE_CHANGED || q->fail == FETCH_NO_RANGES ||
        !xfer_peer_same(x, q, cl)) {
        if (q->kind == REQ_RANGE)
            xfer_source_chunk_forget(x, q->chunk);
        xfer_peer_drop(x, q->mirror, "it serves another version of the file");
        return true;
    }
    if (q->kind == REQ_HAVE) {
        fetch_set(&m->etag, q->etag ? strdup(q->etag) : NULL);
        fetch_set(&m->last_modified, q->last_modified ? strdup(q->last_modified) : NULL);
        xfer_peer_have(x, q->mirror, q->have, true);
        return true;
    }
    replace = false;
    xfer_peer_have(x, q->mirror, q->have, replace);
    /* a 200 gets here only for a range that is the whole file (req_check_range) */
    if (q->fail != FETCH_OK || (status != 206 && status != 200) || q->pos != q->end + 1) {
        xfer_source_chunk_forget(x, q->chunk);
        if (q->fail == FETCH_LOCAL)
            return false; /* our disk, not the peer: the job's error */
        xfer_peer_drop(x, q->mirror, "a range came back incomplete");
        return true;
    }
    return false;
}

/* A chunk from q failed the origin's digest. true when q came from a peer: the peer is
 * dropped and the chunk is fetched elsewhere without counting against the job. */
bool
xfer_source_bad_chunk(struct xfer *x, struct req *q)
{
    if (!xfer_source_is_peer(x, q->mirror))
        return false;
    xfer_peer_drop(x, q->mirror, "it served a chunk that does not match the origin's manifest");
    return true;
}

/* Chunk q->chunk matched the origin's digest: count its bytes by source, tell the relay. */
void
xfer_source_chunk_ok(struct xfer *x, struct req *q)
{
    struct jfile *f = &x->job->files[x->fidx];
    uint64_t n = q->end + 1 - q->start;

    if (xfer_source_is_peer(x, q->mirror)) {
        struct mirror *m = &x->mirrors[q->mirror];

        x->job->bytes_from_peers += n;
        m->not_yet = 0;
        xfer_peer_progress(m, ferry_clock_ms()); /* it delivers: not stalled */
    } else
        x->job->bytes_from_origin += n;
    if (f->relay && f->chunks[q->chunk].have_expected)
        relay_mark(f->relay, q->chunk);
}

/*
 * Bring this host's relay of the file (when a URL publishes it) up to the transfer: set it
 * up once the origin's manifest laid the file out, and list the chunks verified so far
 * (VERIFIED ones from an earlier run only once rehashed says they were read back).
 */
void
xfer_source_relay_sync(struct xfer *x, bool rehashed)
{
    struct jfile *f = &x->job->files[x->fidx];
    struct relay *r = f->relay;

    if (!r || !f->chunks || !x->ml || !x->ml_body || x->phase != PH_RANGES)
        return;
    pthread_mutex_lock(&r->lock);
    {
        bool fresh = !r->ready || r->gone || r->nchunks != f->nchunks || r->fd < 0;
        pthread_mutex_unlock(&r->lock);
        if (fresh) {
            struct relay_info info = {
                .fd = x->fd, .size = f->bytes_total, .chunk_size = f->chunk_size,
                .nchunks = f->nchunks, .etag = f->etag, .last_modified = f->last_modified,
                .meta4 = x->ml_body, .meta4_len = x->ml_body_len,
            };
            if (relay_setup(r, &info) < 0)
                return;
        }
    }
    for (uint64_t i = 0; i < f->nchunks; i++) {
        const struct chunk *c = &f->chunks[i];
        if (!c->have_expected)
            continue;
        if (c->state == CHUNK_DONE ||
            (c->state == CHUNK_VERIFIED && (rehashed || (!x->rehash && !f->rehash_pending))))
            relay_mark(r, i);
    }
}

/* The file starts over (the remote changed): forget what the peers said. */
void
xfer_source_reset(struct xfer *x)
{
    for (size_t i = 0; i < x->nmirrors; i++) {
        struct mirror *m = &x->mirrors[i];
        free(m->have);
        m->have = NULL;
        m->nhave = 0;
        m->polling = false;
        m->not_yet = 0;
        m->retry_ms = 0;
        m->progress_ms = ferry_clock_ms();
        m->progressed = false;
        m->rx_seen = 0;
    }
    free(x->ml_body);
    x->ml_body = NULL;
    x->ml_body_len = 0;
}

/* Does a running job wait for a peer (the jobs thread should wake soon to poll it)? */
bool
fetcher_peers_waiting(struct ferry_jobs *jobs)
{
    for (size_t i = 0; i < jobs->n; i++) {
        const struct xfer *x = jobs->v[i]->xfer;
        if (x && x->phase == PH_RANGES && x->source_wait)
            return true;
    }
    return false;
}

/*
 * A URL of this host publishes file fidx of job (engine.c's relay lookup, jobs.c): the
 * transfer, when it runs on that file, fills the relay in now.
 */
void
fetcher_relay_attach(struct job *job, size_t fidx)
{
    if (job->xfer && job->xfer->fidx == fidx)
        xfer_source_relay_sync(job->xfer, false);
}
