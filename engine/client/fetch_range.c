/*
 * fetch_range.c - chunk-aligned range requests: choosing a mirror, resuming a partial
 * chunk whose prefix still hashes right, checking every response (206, exact
 * Content-Range, same validators), bandwidth pacing on ferry_rate buckets, and the chunk
 * digest check when a range completes.
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
#include "ferry/rate.h"
#include "client/job.h"
#include "client/store.h"
#include "client/verify.h"

static bool
fetch_same(const char *a, const char *b)
{
    /* compare only what both sides have: a server that never sends a validator cannot be
     * checked by it (the Content-Range total still is) */
    if (!a || !b)
        return true;
    return strcmp(a, b) == 0;
}

/* "bytes A-B/T" */
static int
fetch_parse_content_range(const char *s, uint64_t *a, uint64_t *b, uint64_t *t)
{
    unsigned long long x, y, z;
    char tail;

    if (!s || sscanf(s, "bytes %llu-%llu/%llu%c", &x, &y, &z, &tail) != 3)
        return -EBADMSG;
    *a = x;
    *b = y;
    *t = z;
    return 0;
}

/* Check the first bytes' response: 206 with our exact range and the same validators. */
static size_t
req_check_range(struct req *q)
{
    struct xfer *x = q->x;
    struct jfile *f = &x->job->files[x->fidx];
    struct mirror *m = &x->mirrors[q->mirror];
    long status = 0;
    uint64_t a, b, t;

    curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &status);
    q->checked = true;
    if (status != 206 && status != 200) {
        q->discard = true;
        return 1;
    }
    if (!fetch_same(q->etag, m->etag) || !fetch_same(q->last_modified, m->last_modified)) {
        q->fail = FETCH_REMOTE_CHANGED;
        return 0;
    }
    if (status == 200) {
        if (q->start == 0 && q->end + 1 == f->bytes_total)
            return 1; /* the whole file was asked for anyway */
        q->fail = FETCH_NO_RANGES;
        return 0;
    }
    if (fetch_parse_content_range(q->content_range, &a, &b, &t) < 0) {
        q->fail = FETCH_BAD_RESPONSE;
        return 0;
    }
    if (t != f->bytes_total) {
        q->fail = FETCH_REMOTE_CHANGED; /* another size: another version */
        return 0;
    }
    if (a != q->start || b != q->end) {
        /* same version (validators, size) but not the bytes asked for: a broken server or
         * proxy; starting over would not help, keep the progress and retry later */
        q->fail = FETCH_BAD_RESPONSE;
        return 0;
    }
    return 1;
}

/*
 * Bandwidth pacing: a ferry_rate bucket per job (its BandwidthLimit, job->rate) and one for
 * the role (cfg->bandwidth_limit, jobs->rate). libcurl's own MAX_RECV_SPEED cannot hold a
 * loopback transfer of a few MiB (it checks between reads that may take many MiB at once),
 * so the write callback pauses a request when a bucket cannot cover the bytes just read,
 * and the jobs thread resumes it once the bucket said it could (fetcher_unpause). A
 * callback must take all its bytes or none, while a bucket grants at most what it holds:
 * what was granted is kept on the request (paid_*) until it covers the bytes handed again
 * after the pause, so no byte is received unpaid and no grant is lost.
 */
static bool
xfer_pace_take(struct ferry_rate *rate, uint64_t *paid, size_t len, int64_t *resume_ms)
{
    uint64_t wait_ns = 0;
    int64_t wait_ms;

    if (*paid < len)
        *paid += ferry_rate_take(rate, len - *paid, &wait_ns);
    if (*paid >= len)
        return true;
    wait_ms = (int64_t)((wait_ns + 999999) / 1000000);
    *resume_ms = ferry_clock_ms() + (wait_ms > 0 ? wait_ms : 1);
    return false;
}

/* May q take (or send: upload_xfer.c) `len` more bytes now? false: pause it until
 * q->resume_ms. */
bool
xfer_pace_allow(struct xfer *x, struct req *q, size_t len)
{
    struct ferry_jobs *jobs = x->jobs;
    struct job *job = x->job;
    uint64_t job_rate = job->bandwidth_limit;

    if (job_rate) {
        if (!job->rate)
            job->rate = ferry_rate_new(job_rate);
        else if (job->rate_bps != job_rate)
            ferry_rate_set(job->rate, job_rate);
        job->rate_bps = job_rate;
        if (job->rate && !xfer_pace_take(job->rate, &q->paid_job, len, &q->resume_ms))
            return false;
    }
    if (jobs->rate && !xfer_pace_take(jobs->rate, &q->paid_glob, len, &q->resume_ms))
        return false;
    if (job_rate && job->rate)
        q->paid_job -= len;
    if (jobs->rate)
        q->paid_glob -= len;
    return true;
}

/* A range's body bytes: check the response first, pace, stage and count them. */
size_t
xfer_range_write(struct xfer *x, struct req *q, const char *buf, size_t len)
{
    if (!q->checked && req_check_range(q) == 0)
        return 0;
    if (q->discard)
        return len;
    if (q->pos + len > q->end + 1) {
        q->fail = FETCH_BAD_RESPONSE;
        return 0;
    }
    if (!xfer_pace_allow(x, q, len)) {
        if (!q->paused) {
            q->paused = true;
            x->jobs->paused_reqs++;
        }
        return CURL_WRITEFUNC_PAUSE;
    }
    {
        int r = xfer_stage_write(x, q, buf, len);

        if (r < 0) {
            q->fail = FETCH_LOCAL;
            q->fail_errno = -r;
            return 0;
        }
        xfer_range_count(x, len);
    }
    return len;
}

/* `len` more bytes of a range are on disk (either path): count them, the job transfers. */
void
xfer_range_count(struct xfer *x, uint64_t len)
{
    x->job->files[x->fidx].bytes_transferred += len;
    x->unpersisted += len;
    x->job->bytes_fetched += len;
    x->jobs->bytes_fetched += len;
    x->job->no_progress_since = 0;
    x->job->remote_restarts = 0;
    if (x->job->state == FERRY_JOB_CONNECTING)
        job_set_state(x->job, FERRY_JOB_TRANSFERRING);
}

/* A range finished with all its bytes: verify, count, maybe finish the file. */
void
xfer_range_done(struct xfer *x, struct req *q)
{
    struct jfile *f = &x->job->files[x->fidx];
    struct chunk *c = &f->chunks[q->chunk];
    uint64_t len = xfer_chunk_len(f, q->chunk);
    uint8_t d[16];

    verify_stream_digest(q->hs, d);
    if (c->have_expected && memcmp(d, c->expected, 16) != 0) {
        x->jobs->verify_failures++;
        x->job->bytes_refetched += len;
        f->bytes_transferred -= f->bytes_transferred >= c->fill ? c->fill : f->bytes_transferred;
        c->state = CHUNK_MISSING;
        c->fill = 0;
        c->fill_durable = 0;
        c->dirty = true;
        c->epoch++;
        c->failures++;
        if (xfer_source_bad_chunk(x, q)) {
            c->failures--; /* the peer's fault, not the origin's: it is dropped instead */
            return;
        }
        ferry_log_warn("job %s: chunk %llu of '%s' does not match the manifest digest "
                       "(attempt %u)",
                       x->job->id, (unsigned long long)q->chunk, f->remote_url, c->failures);
        if (c->failures >= FETCH_MAX_CHUNK_FAILURES) {
            struct fetch_outcome o = {.reason = FETCH_CHECKSUM};
            xfer_fail(x, &o);
        }
        return;
    }
    memcpy(c->digest, d, 16);
    c->have_digest = true;
    c->failures = 0;
    c->state = CHUNK_DONE;
    c->dirty = true;
    xfer_source_chunk_ok(x, q);
    (void)len;
}

/*
 * May partial chunk ci be continued from its `fill` bytes on disk? They are read into the
 * request's stream state and must hash to the digest recorded with that fill (docs/DESIGN.md §3:
 * nothing on disk is trusted unchecked). Without a recorded digest (a store from before it
 * was kept) only a chunk the manifest will check at its end is continued. false: the chunk
 * starts over from zero (the caller counts the refetch).
 */
static bool
xfer_prefix_resume(struct xfer *x, struct req *q, struct chunk *c, uint64_t ci, uint64_t off)
{
    uint8_t d[16];

    if (verify_stream_from_file(q->hs, x->fd, off, c->fill) < 0)
        return false;
    if (!c->have_fill_digest)
        return c->have_expected;
    verify_stream_digest(q->hs, d);
    if (memcmp(d, c->fill_digest, 16) == 0)
        return true;
    x->jobs->verify_failures++;
    ferry_log_warn("job %s: chunk %llu of '%s': its first %llu bytes on disk no longer match "
                   "their digest; fetched again", x->job->id, (unsigned long long)ci,
                   x->job->files[x->fidx].local_file, (unsigned long long)c->fill);
    return false;
}

/*
 * Start a range request for chunk ci on source mi (fetch_source.c chose it), continuing a
 * partial chunk whose prefix still verifies. The chunk becomes INFLIGHT. -ENOMEM (nothing
 * changed but the chunk's restart from zero).
 */
int
xfer_start_range(struct xfer *x, uint64_t ci, size_t mi)
{
    struct jfile *f = &x->job->files[x->fidx];
    struct chunk *c = &f->chunks[ci];
    uint64_t off = ci * f->chunk_size, len = xfer_chunk_len(f, ci);
    struct req *q;
    char range[64], ifr[FETCH_MAX_HEADER_VALUE + 16];
    struct mirror *m;

    xfer_uring_ready(x, mi);
    m = &x->mirrors[mi];
    q = req_new(x, REQ_RANGE, mi, m->url);
    if (!q)
        return -ENOMEM;
    q->hs = verify_stream_new();
    if (!q->uring)
        q->stage = malloc(FETCH_STAGE_SIZE);
    if (!q->hs || (!q->uring && !q->stage)) {
        req_free(x->jobs, q);
        return -ENOMEM;
    }
    q->chunk = ci;
    if (c->state == CHUNK_PARTIAL && c->fill > 0 && c->fill < len &&
        xfer_prefix_resume(x, q, c, ci, off)) {
        q->start = off + c->fill;
    } else {
        if (c->state == CHUNK_PARTIAL && c->fill) {
            f->bytes_transferred -= f->bytes_transferred >= c->fill ? c->fill
                                                                    : f->bytes_transferred;
            x->job->bytes_refetched += c->fill;
        }
        verify_stream_reset(q->hs);
        if (c->fill || c->fill_durable) {
            c->epoch++;
            c->fill_durable = 0;
            c->dirty = true;
        }
        c->fill = 0;
        q->start = off;
    }
    q->end = off + len - 1;
    q->pos = q->start;
    q->wpos = q->start;
    snprintf(range, sizeof(range), "%llu-%llu", (unsigned long long)q->start,
             (unsigned long long)q->end);
    if (q->uring) {
        /* ufetch sends the range and If-Range itself */
    } else if (curl_easy_setopt(q->easy, CURLOPT_RANGE, range) != CURLE_OK) {
        req_free(x->jobs, q);
        return -ENOMEM;
    } else if (m->etag && strncmp(m->etag, "W/", 2) != 0) {
        snprintf(ifr, sizeof(ifr), "If-Range: %s", m->etag);
        q->hdrs = curl_slist_append(q->hdrs, ifr);
    } else if (m->last_modified) {
        snprintf(ifr, sizeof(ifr), "If-Range: %s", m->last_modified);
        q->hdrs = curl_slist_append(q->hdrs, ifr);
    }
    if (xfer_add_req(x, q) < 0) {
        req_free(x->jobs, q);
        return -ENOMEM;
    }
    c->state = CHUNK_INFLIGHT;
    return 0;
}
