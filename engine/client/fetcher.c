/*
 * fetcher.c - moving a job's current file with a libcurl multi handle (jobs thread only).
 *
 * Per file: a HEAD probe of the RemoteUrl and each mirror learns size, ETag, Last-Modified,
 * Accept-Ranges and the Metalink `Link: rel=describedby`; the manifest (when linked) gives
 * the chunk size, per-chunk XXH3-128 digests and all-zero chunks. Then up to N chunk-aligned
 * range requests run in parallel (N = job Connections or cfg->connections_per_file), spread
 * over the mirrors, each writing with pwrite() at its offset into the hidden temp file and
 * hashing as it writes. Every range response is checked (206, exact Content-Range, same
 * validators; If-Range sent): anything else means the remote changed and the file restarts
 * from zero. Progress is checkpointed (fdatasync, then the store) every
 * cfg->progress_interval_ms or every max(1/128 of the file, 1/50 of it - 4 MiB, 1 MiB),
 * whichever comes first.
 *
 * This file holds a transfer's life (start, pump, restart, finish, stop) and the public
 * fetcher_* calls; the concepts live in fetch_probe.c, fetch_manifest.c, fetch_range.c,
 * fetch_stage.c, fetch_checkpoint.c, fetch_req.c and fetch_error.c (libcurl, HTTP and local
 * errors are translated to BITS codes there only), sharing fetcher-internal.h.
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
#include "ferry/rate.h"
#include "client/fetcher-internal.h"
#include "client/client.h"
#include "core/clock.h"
#include "client/fetcher.h"
#include "client/job.h"
#include "client/metalink.h"
#include "client/store.h"
#include "client/syncer.h"
#include "core/relay.h"
#include "client/upload.h"

static void
xfer_abort_reqs(struct xfer *x)
{
    struct jfile *f = &x->job->files[x->fidx];

    xfer_uring_stop(x); /* ufetch lets go of the file and the streams first */
    while (x->nreqs > 0) {
        struct req *q = x->reqs[--x->nreqs];
        /* keep what was received but still staged (a failed write only loses it) */
        if (q->kind == REQ_RANGE && q->stage && q->fail == FETCH_OK && !q->discard &&
            f->chunks && q->chunk < f->nchunks && f->chunks[q->chunk].state == CHUNK_INFLIGHT)
            (void)req_flush(x, q);
        if (q->kind == REQ_RANGE && f->chunks && q->chunk < f->nchunks &&
            f->chunks[q->chunk].state == CHUNK_INFLIGHT)
            f->chunks[q->chunk].state = f->chunks[q->chunk].fill ? CHUNK_PARTIAL : CHUNK_MISSING;
        req_free(x->jobs, q);
    }
}

static void
xfer_free_mirrors(struct xfer *x)
{
    for (size_t i = 0; i < x->nmirrors; i++) {
        free(x->mirrors[i].url);
        free(x->mirrors[i].etag);
        free(x->mirrors[i].last_modified);
        free(x->mirrors[i].have);
        free(x->mirrors[i].host);
        free(x->mirrors[i].target);
    }
    free(x->mirrors);
    x->mirrors = NULL;
    x->nmirrors = 0;
}

static void
fetch_wipe(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

/*
 * End a transfer: checkpoint (when asked and the job is not cancelled or completed: its
 * temp files are gone), abort its requests,
 * wait for its background syncs, close its files; job->xfer becomes NULL and x is freed.
 */
void
xfer_free(struct xfer *x, bool checkpoint)
{
    if (!x)
        return;
    if (x->up)
        checkpoint = false; /* an upload persists at each Ack (upload_xfer.c) */
    if (checkpoint && !job_state_final(x->job->state))
        xfer_checkpoint(x, true);
    xfer_abort_reqs(x);
    if (x->up)
        upload_xfer_done(x);
    if (checkpoint && !job_state_final(x->job->state))
        xfer_checkpoint(x, true); /* partial chunks just became PARTIAL */
    if (x->sync) {
        /* the fd must stay open until the syncer is done with it */
        syncer_wait(x->jobs->syncer, x->sync);
        x->sync = sync_req_free(x->sync);
    }
    if (x->digest) {
        syncer_wait(x->jobs->syncer, x->digest);
        x->digest = sync_req_free(x->digest);
    }
    if (x->rehash) {
        /* not applied: the chunks are re-hashed again when the file resumes */
        syncer_wait(x->jobs->syncer, x->rehash);
        x->rehash = sync_req_free(x->rehash);
        x->job->files[x->fidx].rehash_pending = true;
    }
    free(x->reqs);
    xfer_free_mirrors(x);
    metalink_free(x->ml);
    free(x->ml_body);
    free(x->manifest_url);
    xfer_wipe_creds(x);
    if (x->fd >= 0)
        close(x->fd);
    if (x->dirfd >= 0)
        close(x->dirfd);
    {
        struct jfile *f = &x->job->files[x->fidx];
        for (uint64_t i = 0; f->chunks && i < f->nchunks; i++)
            if (f->chunks[i].state == CHUNK_INFLIGHT)
                f->chunks[i].state = f->chunks[i].fill ? CHUNK_PARTIAL : CHUNK_MISSING;
    }
    x->job->xfer = NULL;
    free(x);
}

/* The remote changed under us: forget the file's progress and start over with a probe. */
void
xfer_restart(struct xfer *x)
{
    struct job *job = x->job;

    xfer_abort_reqs(x);
    job->remote_restarts++;
    if (job->remote_restarts > FETCH_MAX_REMOTE_RESTARTS) {
        struct fetch_outcome o = {.reason = FETCH_REMOTE_CHANGED};
        job_file_reset(job, x->fidx);
        store_chunks_clear(x->jobs->store, job->id, x->fidx);
        xfer_fail(x, &o);
        return;
    }
    ferry_log_info("job %s: '%s' changed on the server; restarting it from zero", job->id,
                   job->files[x->fidx].remote_url);
    job_file_reset(job, x->fidx);
    store_chunks_clear(x->jobs->store, job->id, x->fidx);
    store_job_put(x->jobs->store, job);
    metalink_free(x->ml);
    x->ml = NULL;
    free(x->manifest_url);
    x->manifest_url = NULL;
    for (size_t i = 0; i < x->nmirrors; i++) {
        free(x->mirrors[i].etag);
        free(x->mirrors[i].last_modified);
        x->mirrors[i].etag = x->mirrors[i].last_modified = NULL;
        x->mirrors[i].ok = false;
    }
    xfer_source_reset(x);
    x->phase = PH_PROBE;
    x->probes_left = 0;
    x->digest_ok = false;
}

/* Every chunk is in: whole-file digest, durable, completed; next file or TRANSFERRED. */
static void
xfer_finish_file(struct xfer *x)
{
    struct ferry_jobs *jobs = x->jobs;
    struct job *job = x->job;
    size_t idx = x->fidx;
    struct jfile *f = &job->files[idx];
    int r;

    if (f->expected_digest && !x->digest_ok) {
        /* read back on the jobs-sync thread (a whole image), then come back here */
        if (!x->digest) {
            struct sync_req *q = calloc(1, sizeof(*q));
            if (q)
                q->spec = strdup(f->expected_digest);
            if (!q || !q->spec) {
                free(q);
                xfer_fail_local(x, ENOMEM);
                return;
            }
            q->kind = SYNC_DIGEST;
            q->fd = x->fd;
            q->size = f->bytes_total;
            syncer_submit(jobs->syncer, q);
            x->digest = q;
            return;
        }
        if (!syncer_done(jobs->syncer, x->digest))
            return;
        r = x->digest->result;
        x->digest = sync_req_free(x->digest);
        if (r >= 0)
            x->digest_ok = true;
        if (r == -EBADMSG) {
            struct fetch_outcome o = {.reason = FETCH_CHECKSUM};
            ferry_log_warn("job %s: '%s' does not match its ExpectedDigest", job->id,
                           f->remote_url);
            job_file_reset(job, idx);
            store_chunks_clear(jobs->store, job->id, idx);
            xfer_fail(x, &o);
            return;
        }
        if (r < 0) {
            xfer_fail_local(x, -r);
            return;
        }
    }
    r = xfer_checkpoint(x, true);
    if (r < 0) {
        xfer_fail_local(x, -r);
        return;
    }
    if (job_file_seal(f) < 0)
        ferry_log_warn("job %s: no tree digest for '%s'; recovery will judge it by size",
                       job->id, f->local_file);
    f->completed = true;
    if (f->relay)
        relay_complete(f->relay);
    f->bytes_transferred = f->bytes_total;
    free(f->chunks);
    f->chunks = NULL;
    f->nchunks = 0;
    xfer_free(x, false);
    store_chunks_clear(jobs->store, job->id, idx);
    if (job_current_file(job) >= job->nfiles) {
        job_set_state(job, FERRY_JOB_TRANSFERRED);
        job->run_since_ms = 0;
        ferry_log_event(FERRY_LOG_INFO, FERRY_MSGID_JOB_TRANSFERRED, job->id, NULL,
                        "job %s: transferred", job->id);
    }
    store_job_put(jobs->store, job);
    store_sync(jobs->store);
}

/* Keep up to `conns` ranges in flight; finish the file when everything is in. */
static void
xfer_pump(struct xfer *x)
{
    const struct ferry_config *cfg = x->jobs->cfg;
    struct jfile *f = &x->job->files[x->fidx];
    bool pending = false;
    unsigned depth;

    if (x->phase == PH_PROBE) {
        if (x->probes_left == 0 && x->nreqs == 0 && xfer_start_probes(x) < 0)
            xfer_fail_local(x, ENOMEM);
        return;
    }
    if (x->phase != PH_RANGES)
        return;
    if (x->rehash && syncer_done(x->jobs->syncer, x->rehash)) {
        xfer_rehash_apply(x, x->rehash);
        x->rehash = sync_req_free(x->rehash);
    }
    xfer_source_tick(x);
    depth = xfer_uring_depth(x);
    for (uint64_t k = 0; k < f->nchunks && x->nreqs < depth; k++) {
        uint64_t i = (x->scan + k) % f->nchunks;
        struct chunk *c = &f->chunks[i];
        int sr;
        if (c->state != CHUNK_MISSING && c->state != CHUNK_PARTIAL)
            continue;
        /* the source (origin, mirror or peer) is fetch_source.c's choice; 0: wait */
        sr = xfer_source_start(x, i);
        if (sr < 0) {
            xfer_fail_local(x, ENOMEM);
            return;
        }
        if (sr > 0)
            x->scan = i + 1;
    }
    for (uint64_t i = 0; i < f->nchunks; i++) {
        uint8_t s = f->chunks[i].state;
        if (s == CHUNK_MISSING || s == CHUNK_PARTIAL || s == CHUNK_INFLIGHT) {
            pending = true;
            break;
        }
    }
    if (!pending && x->nreqs == 0 && !x->rehash) {
        /* every chunk is in: make them durable on the jobs-sync thread first, so the
         * role's lock is not held across a long fdatasync; finish once nothing is left */
        bool undurable = false;
        int r = xfer_sync_poll(x, false);

        if (r < 0) {
            xfer_fail_local(x, -r);
            return;
        }
        if (x->sync)
            return;
        for (uint64_t i = 0; i < f->nchunks && !undurable; i++)
            undurable = f->chunks[i].state == CHUNK_DONE;
        if (undurable) {
            r = xfer_checkpoint(x, false);
            if (r < 0)
                xfer_fail_local(x, -r);
            return;
        }
        xfer_finish_file(x);
        return;
    }
    {
        int r = xfer_sync_poll(x, false);
        if (r >= 0 && !x->sync &&
            (x->unpersisted >= x->ckpt_bytes ||
             (x->unpersisted > 0 &&
              ferry_clock_ms() - x->last_ckpt_ms >= (int64_t)cfg->progress_interval_ms)))
            r = xfer_checkpoint(x, false);
        if (r < 0)
            xfer_fail_local(x, -r);
    }
}

/* One finished easy handle. May free the xfer. */
static void
fetcher_req_done(struct ferry_jobs *jobs, struct req *q, CURLcode res)
{
    struct xfer *x = q->x;
    char errtext[CURL_ERROR_SIZE];
    struct fetch_outcome o = {.res = res, .curl_text = errtext};
    long status = 0;

    if (q->kind == REQ_UPLOAD_CANCEL) { /* a cancelled job's, no transfer */
        curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &status);
        upload_cancel_done(jobs, q, (int)res, status);
        return;
    }
    /* q may be freed before the outcome is classified: keep its text */
    snprintf(errtext, sizeof(errtext), "%s", q->errbuf);

    curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &status);
    o.status = status;
    ferry_log_debug("job %s: request kind %d chunk %llu done: curl %d, HTTP %ld, reason %d, "
                    "pos %llu end %llu",
                    x->job->id, (int)q->kind, (unsigned long long)q->chunk, (int)res, status,
                    (int)q->fail, (unsigned long long)q->pos, (unsigned long long)q->end);
    xfer_remove_req(x, q);
    if (q->kind == REQ_UPLOAD) {
        upload_req_done(x, q, (int)res, status, errtext);
        return;
    }
    if (q->kind == REQ_RANGE) {
        /* the request no longer owns its chunk: success makes it DONE below */
        struct jfile *f = &x->job->files[x->fidx];
        if (q->stage && q->fail == FETCH_OK && !q->discard && f->chunks &&
            q->chunk < f->nchunks && f->chunks[q->chunk].state == CHUNK_INFLIGHT) {
            /* only a range cut short gets here with bytes staged */
            int fr = req_flush(x, q);
            if (fr < 0) {
                q->fail = FETCH_LOCAL;
                q->fail_errno = -fr;
            }
        }
        if (f->chunks && q->chunk < f->nchunks && f->chunks[q->chunk].state == CHUNK_INFLIGHT)
            f->chunks[q->chunk].state = f->chunks[q->chunk].fill ? CHUNK_PARTIAL
                                                                 : CHUNK_MISSING;
    }
    if (xfer_source_done(x, q, res, status)) {
        req_free(jobs, q); /* a peer's answer: never the job's error */
        return;
    }
    if (q->kind == REQ_PROBE && x->probes_left)
        x->probes_left--;
    if (q->fail != FETCH_OK) {
        o.reason = q->fail;
        o.err = q->fail_errno;
        if (q->fail == FETCH_REMOTE_CHANGED) {
            req_free(jobs, q);
            xfer_restart(x);
            return;
        }
        if (q->kind == REQ_MANIFEST && q->fail == FETCH_TOO_BIG) {
            req_free(jobs, q);
            xfer_manifest_done(x, &(struct req){.body = NULL});
            return;
        }
        req_free(jobs, q);
        xfer_fail(x, &o);
        return;
    }
    if (res != CURLE_OK || status >= 300 || (q->kind == REQ_RANGE && status < 200)) {
        if (q->kind == REQ_MANIFEST) {
            /* the manifest is optional: fetch without it */
            ferry_log_warn("job %s: manifest '%s' unavailable (%s, HTTP %ld)", x->job->id,
                           x->manifest_url, curl_easy_strerror(res), status);
            req_free(jobs, q);
            xfer_manifest_done(x, &(struct req){.body = NULL});
            return;
        }
        if (q->kind == REQ_PROBE && q->mirror != 0) {
            ferry_log_warn("job %s: mirror '%s' unusable (%s, HTTP %ld)", x->job->id,
                           x->mirrors[q->mirror].url, curl_easy_strerror(res), status);
            x->mirrors[q->mirror].ok = false;
            req_free(jobs, q);
            if (x->probes_left == 0)
                xfer_after_probes(x);
            return;
        }
        req_free(jobs, q);
        xfer_fail(x, &o);
        return;
    }
    switch (q->kind) {
    case REQ_PROBE: {
        struct job *job = x->job;
        xfer_probe_done(x, q);
        req_free(jobs, q);
        if (job->xfer == x && x->probes_left == 0)
            xfer_after_probes(x);
        return;
    }
    case REQ_MANIFEST:
        xfer_manifest_done(x, q);
        req_free(jobs, q);
        return;
    case REQ_HAVE:
        req_free(jobs, q);
        return;
    case REQ_RANGE:
        if (q->pos != q->end + 1) {
            o.reason = FETCH_BAD_RESPONSE;
            req_free(jobs, q);
            xfer_fail(x, &o);
            return;
        }
        xfer_range_done(x, q);
        req_free(jobs, q);
        return;
    case REQ_UPLOAD: /* handed to upload_req_done above */
    case REQ_UPLOAD_CANCEL:
        return;
    }
}

/* Create the multi handle and the role's bucket (called by the scheduler before its thread
 * starts). -ENOMEM. */
int
fetcher_init(struct ferry_jobs *jobs)
{
    CURLM *m = curl_multi_init();

    if (!m)
        return -ENOMEM;
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, 64L);
    if (jobs->cfg->bandwidth_limit) {
        jobs->rate = ferry_rate_new(jobs->cfg->bandwidth_limit);
        if (!jobs->rate) {
            curl_multi_cleanup(m);
            return -ENOMEM;
        }
    }
    pthread_mutex_lock(&jobs->wake_lock);
    jobs->multi = m;
    pthread_mutex_unlock(&jobs->wake_lock);
    return fetch_uring_init(jobs);
}

/*
 * Keep-alive connections are reused between chunks, files and jobs; once nothing has run
 * for FETCHER_IDLE_CLOSE_MS they are closed by swapping in a fresh multi handle, so an idle
 * daemon holds no sockets. Jobs thread, with the role locked.
 */
void
fetcher_idle(struct ferry_jobs *jobs, int64_t now_ms)
{
    CURLM *fresh, *old;

    /* a transfer, or a Cancel-Session in flight (upload_cancel.c), keeps the multi handle */
    bool busy = jobs->up_cancels != NULL;

    for (size_t i = 0; i < jobs->n && !busy; i++)
        busy = jobs->v[i]->xfer != NULL;
    if (busy) {
        jobs->idle_since_ms = 0;
        return;
    }
    if (jobs->idle_since_ms == 0) {
        jobs->idle_since_ms = now_ms;
        return;
    }
    if (!jobs->conns_used || now_ms - jobs->idle_since_ms < FETCHER_IDLE_CLOSE_MS)
        return;
    fresh = curl_multi_init();
    if (!fresh)
        return;
    curl_multi_setopt(fresh, CURLMOPT_MAXCONNECTS, 64L);
    pthread_mutex_lock(&jobs->wake_lock);
    old = jobs->multi;
    jobs->multi = fresh;
    pthread_mutex_unlock(&jobs->wake_lock);
    curl_multi_cleanup(old);
    jobs->conns_used = false;
}

/* Free the multi handle (after the jobs thread ended). */
void
fetcher_done(struct ferry_jobs *jobs)
{
    CURLM *m;

    fetch_uring_done(jobs); /* its threads wake through the multi handle */
    pthread_mutex_lock(&jobs->wake_lock);
    m = jobs->multi;
    jobs->multi = NULL;
    pthread_mutex_unlock(&jobs->wake_lock);
    if (m)
        curl_multi_cleanup(m);
    jobs->rate = ferry_rate_unref(jobs->rate);
}

/* Zero and free the credentials xfer_load_creds loaded (NULL afterwards). */
void
xfer_wipe_creds(struct xfer *x)
{
    fetch_wipe(x->server_user);
    fetch_wipe(x->server_pass);
    fetch_wipe(x->proxy_user);
    fetch_wipe(x->proxy_pass);
    x->server_user = x->server_pass = x->proxy_user = x->proxy_pass = NULL;
}

/* Load the job's credentials for this transfer (kept in memory only while it runs). */
void
xfer_load_creds(struct xfer *x)
{
    if (!x->job->has_credentials)
        return;
    x->have_server_cred = store_cred_get(x->jobs->store, x->job->id, 0, &x->server_scheme,
                                         &x->server_user, &x->server_pass) >= 0;
    x->have_proxy_cred = store_cred_get(x->jobs->store, x->job->id, 1, &x->proxy_scheme,
                                        &x->proxy_user, &x->proxy_pass) >= 0;
}

/*
 * Start the current file of a runnable job: open its directory beneath the download root,
 * open/create the temp file there, and probe. Errors move the job to ERROR (local file
 * errors are fatal). Returns 0 when a transfer runs or the job changed state.
 */
int
fetcher_start(struct ferry_jobs *jobs, struct job *job)
{
    size_t idx = job_current_file(job);
    struct jfile *f;
    struct xfer *x;
    int r;

    if (idx >= job->nfiles)
        return 0;
    if (job->type != 0)
        return upload_start(jobs, job);
    f = &job->files[idx];
    x = calloc(1, sizeof(*x));
    if (!x)
        return -ENOMEM;
    x->jobs = jobs;
    x->job = job;
    x->fidx = idx;
    x->fd = -1;
    x->dirfd = -1;
    x->conns = job->connections ? job->connections : jobs->cfg->connections_per_file;
    x->last_ckpt_ms = ferry_clock_ms();
    job->xfer = x;
    r = xfer_stage_open(x);
    if (r < 0)
        goto local_error;
    x->nmirrors = 1 + f->nmirrors;
    x->mirrors = calloc(x->nmirrors, sizeof(*x->mirrors));
    if (!x->mirrors) {
        r = -ENOMEM;
        goto local_error;
    }
    x->mirrors[0].url = strdup(f->remote_url);
    for (size_t i = 0; i < f->nmirrors; i++) {
        /* "peer:URL": another host relaying the file (fetch_source.c) */
        bool peer = strncmp(f->mirrors[i], JOB_PEER_PREFIX, strlen(JOB_PEER_PREFIX)) == 0;
        x->mirrors[i + 1].url = strdup(f->mirrors[i] + (peer ? strlen(JOB_PEER_PREFIX) : 0));
        x->mirrors[i + 1].peer = peer;
        x->mirrors[i + 1].progress_ms = x->last_ckpt_ms;
    }
    for (size_t i = 0; i < x->nmirrors; i++)
        if (!x->mirrors[i].url) {
            r = -ENOMEM;
            goto local_error;
        }
    xfer_load_creds(x);
    x->phase = PH_PROBE;
    r = xfer_start_probes(x);
    if (r < 0)
        goto local_error;
    return 0;
local_error:
    xfer_fail_local(x, -r);
    return 0;
}

/* Stop a job's transfer (suspend, preemption, cancel, shutdown). */
void
fetcher_stop(struct ferry_jobs *jobs, struct job *job)
{
    (void)jobs;
    if (job->xfer)
        xfer_free(job->xfer, true);
}

/* Resume paused requests whose bucket said they could go on by now. */
static void
fetcher_unpause(struct ferry_jobs *jobs)
{
    int64_t now = ferry_clock_ms();

    for (size_t i = 0; i < jobs->n; i++) {
        struct job *job = jobs->v[i];
        struct xfer *x = job->xfer;

        if (!x)
            continue;
        for (size_t k = 0; k < x->nreqs && job->xfer == x; k++) {
            struct req *q = x->reqs[k];
            if (!q->paused || q->resume_ms > now)
                continue;
            q->paused = false;
            jobs->paused_reqs--;
            curl_easy_pause(q->easy, CURLPAUSE_CONT);
        }
    }
}

/* Perform, handle completions, keep every running transfer busy, checkpoint. */
void
fetcher_run(struct ferry_jobs *jobs)
{
    CURLMsg *msg;
    int running = 0, left;

    curl_multi_perform(jobs->multi, &running);
    while ((msg = curl_multi_info_read(jobs->multi, &left))) {
        struct req *q = NULL;
        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&q);
        if (q)
            fetcher_req_done(jobs, q, msg->data.result);
    }
    if (jobs->paused_reqs)
        fetcher_unpause(jobs);
    for (size_t i = 0; i < jobs->n; i++) {
        struct job *job = jobs->v[i];
        /* a job suspended or cancelled by the API is stopped by the next tick; never
         * finish or checkpoint it here */
        if (job->xfer && job_runnable(job) && job->xfer->up) {
            upload_pump(job->xfer);
            continue;
        }
        if (job->xfer && job_runnable(job))
            xfer_uring_poll(job->xfer);
        if (job->xfer && job_runnable(job))
            xfer_pump(job->xfer);
    }
}

/* Requests the job has in flight (its connections in use), 0 when it is not running. */
uint32_t
fetcher_connections(const struct job *job)
{
    /* io_uring sources queue ranges ahead (xfer_uring_depth): not connections */
    return job->xfer ? (uint32_t)(job->xfer->nreqs < job->xfer->conns ? job->xfer->nreqs
                                                                      : job->xfer->conns)
                     : 0;
}

/* Does pacing hold requests back (so the thread should wake again soon)? */
bool
fetcher_throttled(struct ferry_jobs *jobs)
{
    return jobs->paused_reqs > 0 || fetcher_peers_waiting(jobs);
}

/* Sleep until a socket is ready, a wakeup, or timeout_ms; called without the lock. */
void
fetcher_poll(struct ferry_jobs *jobs, int timeout_ms)
{
    curl_multi_poll(jobs->multi, NULL, 0, timeout_ms, NULL);
}

/* Thread-safe: interrupt curl_multi_poll. */
void
fetcher_wakeup(struct ferry_jobs *jobs)
{
    pthread_mutex_lock(&jobs->wake_lock);
    if (jobs->multi)
        curl_multi_wakeup(jobs->multi);
    pthread_mutex_unlock(&jobs->wake_lock);
}
