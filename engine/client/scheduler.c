/*
 * scheduler.c - the `jobs` thread. It holds ferry_jobs.lock except while it waits in
 * curl_multi_poll (woken by API calls through curl_multi_wakeup), and on every pass:
 *   - moves TRANSIENT_ERROR jobs whose retry time came back to QUEUED, and to ERROR those
 *     whose NoProgressTimeout ran out;
 *   - network awareness: while the network is down (netwatch.h) jobs that need it wait in
 *     TRANSIENT_ERROR with BG_E_NETWORK_DISCONNECTED, no retry timer and no retry counted;
 *     when it is back they are QUEUED at once;
 *   - applies the job policies: MaxDownloadTime (time CONNECTING/TRANSFERRING since
 *     creation or Resume; exceeded → ERROR BG_E_MAXDOWNLOAD_TIMEOUT) and
 *     JobInactivityTimeout (a live job not transferring and not modified that long is
 *     cancelled, its temp files removed: BITS's 90-day cleanup);
 *   - picks the jobs that may transfer: every FOREGROUND job when there is one; otherwise
 *     the runnable jobs of the highest priority present (higher preempts lower), at most
 *     cfg->max_active_jobs of them, rotating in slices of SCHEDULER_SLICE_MS when more wait;
 *   - stops the transfers of jobs that lost their turn (back to QUEUED), were suspended or
 *     cancelled, and starts the others' current file (files in order within a job).
 * On shutdown every transfer is stopped with a checkpoint, so progress persists.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/log.h"
#include "client/client.h"
#include "core/clock.h"
#include "client/fetcher.h"
#include "client/job.h"
#include "client/notify.h"
#include "client/localpath.h"
#include "client/netwatch.h"
#include "client/scheduler.h"
#include "client/store.h"
#include "client/syncer.h"
#include "client/upload.h"

static int
scheduler_cmp(const void *a, const void *b)
{
    const struct job *x = *(struct job *const *)a, *y = *(struct job *const *)b;

    if (x->rr_seq != y->rr_seq)
        return x->rr_seq < y->rr_seq ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void
scheduler_timers(struct ferry_jobs *jobs, int64_t now)
{
    for (size_t i = 0; i < jobs->n; i++) {
        struct job *job = jobs->v[i];

        if (job->state != FERRY_JOB_TRANSIENT_ERROR || job->net_wait)
            continue;
        if (job->no_progress_since &&
            now - job->no_progress_since >= (int64_t)job->no_progress_timeout * 1000) {
            ferry_log_event(FERRY_LOG_WARN, FERRY_MSGID_JOB_ERROR, job->id, NULL,
                            "job %s: no progress for %u s; giving up", job->id,
                            job->no_progress_timeout);
            job_set_state(job, FERRY_JOB_ERROR);
            store_job_put(jobs->store, job);
            continue;
        }
        if (now >= job->retry_at_ms) {
            /* keep the error object until the transfer restarts: CONNECTING clears it */
            job->state = FERRY_JOB_QUEUED;
            job->retries++;
            store_job_put(jobs->store, job);
        }
    }
}

/* MaxDownloadTime: count CONNECTING/TRANSFERRING time; ERROR once it is used up. */
static void
scheduler_download_time(struct ferry_jobs *jobs, struct job *job, int64_t now)
{
    bool running = job->state == FERRY_JOB_CONNECTING || job->state == FERRY_JOB_TRANSFERRING;

    if (job->download_at_ms)
        job->download_ms += (uint64_t)(now - job->download_at_ms);
    job->download_at_ms = running ? now : 0;
    if (!running || job->max_download_time == 0 ||
        job->download_ms < (uint64_t)job->max_download_time * 1000)
        return;
    ferry_log_warn("job %s: MaxDownloadTime of %u s used up; job in error", job->id,
                   job->max_download_time);
    job_set_state(job, FERRY_JOB_ERROR);
    job_set_error(job, FERRY_ERRCTX_GENERAL_QUEUE_MANAGER, FERRY_BG_E_MAXDOWNLOAD_TIMEOUT, NULL,
                  "the job spent its MaxDownloadTime (%u s) connecting and transferring; "
                  "Resume gives it that time again", job->max_download_time);
    job->download_at_ms = 0;
    store_job_put(jobs->store, job);
}

/* JobInactivityTimeout: a live job at rest whose last modification is that old is
 * cancelled as if by SetJobState(0). Wall-clock time (FILETIME), so it spans restarts. */
static void
scheduler_inactivity(struct ferry_jobs *jobs, struct job *job, uint64_t now_ft)
{
    uint64_t limit = (uint64_t)job->inactivity_timeout * 10000000u;

    if (job->inactivity_timeout == 0 || job_state_final(job->state) || job->xfer ||
        job->state == FERRY_JOB_CONNECTING || job->state == FERRY_JOB_TRANSFERRING ||
        now_ft < job->mtime || now_ft - job->mtime < limit)
        return;
    ferry_log_info("job %s: not modified for %u s (JobInactivityTimeout); cancelled", job->id,
                   job->inactivity_timeout);
    job_set_state(job, FERRY_JOB_CANCELLED);
    upload_cancel_session(jobs, job); /* an upload's server session, when it holds one */
    for (size_t i = 0; i < job->nfiles; i++) {
        int r = localpath_remove_temp(jobs->cfg, job->id, job->files[i].local_file);
        if (r < 0)
            ferry_log_warn("job %s: temp file for '%s' could not be removed: %s", job->id,
                           job->files[i].local_file, strerror(-r));
    }
    store_chunks_clear(jobs->store, job->id, SIZE_MAX);
    store_job_put(jobs->store, job);
}

/* Does the job's current file need the network (its host is not loopback)? */
static bool
scheduler_needs_network(const struct job *job)
{
    size_t i = job_current_file(job);

    return i < job->nfiles && !netwatch_url_local(job->files[i].remote_url);
}

/* Network awareness (the file's header): hold or release the jobs that need it. */
static void
scheduler_network(struct ferry_jobs *jobs, bool up)
{
    for (size_t i = 0; i < jobs->n; i++) {
        struct job *job = jobs->v[i];

        if (up && job->net_wait) {
            job->net_wait = false;
            if (job->state == FERRY_JOB_TRANSIENT_ERROR) {
                /* the error object stays until the transfer restarts, as after a retry */
                job->state = FERRY_JOB_QUEUED;
                store_job_put(jobs->store, job);
            }
        } else if (!up && job_runnable(job) && scheduler_needs_network(job)) {
            /* also a job resumed by hand while the network is down */
            if (job->xfer)
                fetcher_stop(jobs, job);
            job->run_since_ms = 0;
            job_set_state(job, FERRY_JOB_TRANSIENT_ERROR);
            job_set_error(job, FERRY_ERRCTX_GENERAL_TRANSPORT, FERRY_BG_E_NETWORK_DISCONNECTED,
                          NULL, "the network is down; the job resumes when it is back");
            job->net_wait = true;
            store_job_put(jobs->store, job);
        }
    }
}

/* The job policies of every job (at most once per SCHEDULER_POLICY_MS). */
static void
scheduler_policies(struct ferry_jobs *jobs, int64_t now)
{
    static __thread int64_t last;
    uint64_t now_ft;

    if (last && now - last < SCHEDULER_POLICY_MS)
        return;
    last = now;
    now_ft = ferry_filetime_now();
    for (size_t i = 0; i < jobs->n; i++) {
        scheduler_download_time(jobs, jobs->v[i], now);
        scheduler_inactivity(jobs, jobs->v[i], now_ft);
    }
}

static void
scheduler_throughput(struct ferry_jobs *jobs, int64_t now)
{
    for (size_t i = 0; i < jobs->n; i++) {
        struct job *job = jobs->v[i];

        if (job->xfer && job->run_since_ms) {
            if (job->tp_at_ms == 0) {
                job->tp_at_ms = now;
                job->tp_bytes = job->bytes_fetched;
                continue;
            }
            if (now - job->tp_at_ms >= 1000) {
                int64_t dt = now - job->tp_at_ms;
                job->throughput = (job->bytes_fetched - job->tp_bytes) * 1000 / (uint64_t)dt;
                job->transfer_ms += dt;
                job->tp_at_ms = now;
                job->tp_bytes = job->bytes_fetched;
            }
        } else {
            if (job->tp_at_ms && job->bytes_fetched > job->tp_bytes)
                job->transfer_ms += now - job->tp_at_ms;
            job->tp_at_ms = 0;
            job->throughput = 0;
        }
    }
}

/* Decide and apply who transfers now. */
static void
scheduler_tick(struct ferry_jobs *jobs, int64_t now)
{
    struct job **cand;
    size_t ncand = 0, nsel = 0;
    unsigned max_active = jobs->cfg->max_active_jobs;
    int best = 4;
    bool waiting = false;

    scheduler_timers(jobs, now);
    scheduler_network(jobs, netwatch_up(jobs->netwatch));
    scheduler_policies(jobs, now);
    /* transfers of jobs that are no longer runnable (suspend, cancel, error via API) */
    for (size_t i = 0; i < jobs->n; i++) {
        struct job *job = jobs->v[i];
        if (job->xfer && !job_runnable(job)) {
            fetcher_stop(jobs, job);
            job->run_since_ms = 0;
        }
    }
    /* the Cancel-Sessions of cancelled uploads, now that no fragment of theirs is sent */
    upload_cancel_start(jobs);
    cand = calloc(jobs->n ? jobs->n : 1, sizeof(*cand));
    if (!cand)
        return;
    for (size_t i = 0; i < jobs->n; i++) {
        struct job *job = jobs->v[i];
        if (!job_runnable(job))
            continue;
        if ((int)job->priority < best)
            best = (int)job->priority;
    }
    for (size_t i = 0; i < jobs->n; i++) {
        struct job *job = jobs->v[i];
        if (job_runnable(job) && (int)job->priority == best)
            cand[ncand++] = job;
    }
    if (best == FERRY_PRIORITY_FOREGROUND) {
        nsel = ncand;
    } else {
        nsel = ncand < max_active ? ncand : max_active;
        waiting = ncand > max_active;
        if (waiting) {
            /* slices: a job that ran its slice goes to the back of the line */
            for (size_t i = 0; i < ncand; i++)
                if (cand[i]->run_since_ms && now - cand[i]->run_since_ms >= SCHEDULER_SLICE_MS)
                    cand[i]->rr_seq = ++jobs->rr_counter;
        }
        qsort(cand, ncand, sizeof(*cand), scheduler_cmp);
    }
    /* stop whoever runs and is not selected: lower priorities, ended slices */
    for (size_t i = 0; i < jobs->n; i++) {
        struct job *job = jobs->v[i];
        bool selected = false;

        if (!job_runnable(job))
            continue;
        for (size_t k = 0; k < nsel; k++)
            if (cand[k] == job)
                selected = true;
        if (selected)
            continue;
        if (job->xfer)
            fetcher_stop(jobs, job);
        if (job->state != FERRY_JOB_QUEUED) {
            job->state = FERRY_JOB_QUEUED;
            store_job_put(jobs->store, job);
        }
        job->run_since_ms = 0;
    }
    for (size_t k = 0; k < nsel; k++) {
        struct job *job = cand[k];

        if (job->xfer)
            continue;
        if (job_current_file(job) >= job->nfiles) {
            job_set_state(job, FERRY_JOB_TRANSFERRED);
            job->run_since_ms = 0;
            store_job_put(jobs->store, job);
            continue;
        }
        if (job->state == FERRY_JOB_QUEUED)
            job_set_state(job, FERRY_JOB_CONNECTING);
        if (!job->run_since_ms)
            job->run_since_ms = now;
        store_job_put(jobs->store, job);
        fetcher_start(jobs, job);
    }
    free(cand);
    scheduler_throughput(jobs, now);
}

/* How long the thread may sleep: until the next retry or the idle connections' close, at
 * most 200 ms while transferring (checkpoint timing), at most 1 s otherwise. */
static int
scheduler_timeout(struct ferry_jobs *jobs, int64_t now)
{
    int64_t t = fetcher_throttled(jobs) ? 5 : 1000;

    for (size_t i = 0; i < jobs->n; i++) {
        struct job *job = jobs->v[i];
        if (job->xfer && t > 200)
            t = 200;
        if (job->state == FERRY_JOB_TRANSIENT_ERROR && !job->net_wait &&
            job->retry_at_ms - now < t)
            t = job->retry_at_ms - now;
    }
    /* wake when the idle keep-alive connections are due to close (fetcher_idle), not up to
     * a second later */
    if (jobs->conns_used && jobs->idle_since_ms) {
        int64_t due = jobs->idle_since_ms + FETCHER_IDLE_CLOSE_MS - now;
        if (due < 10)
            due = 10; /* fetcher_idle could not swap (OOM): retry, do not spin */
        if (due < t)
            t = due;
    }
    return t < 0 ? 0 : (int)t;
}

static void *
scheduler_main(void *arg)
{
    struct ferry_jobs *jobs = arg;

    ferry_log_set_thread_name("jobs");
    pthread_mutex_lock(&jobs->lock);
    while (!jobs->stopping) {
        int64_t now;
        int timeout;

        fetcher_run(jobs);
        now = ferry_clock_ms();
        scheduler_tick(jobs, now);
        notify_scan(jobs);
        fetcher_idle(jobs, now);
        timeout = scheduler_timeout(jobs, now);
        if (jobs->sync_due) {
            /* API writes of the last interval are committed but not yet synced */
            int64_t left = jobs->synced_ms + JOBS_SYNC_INTERVAL_MS - now;
            if (left <= 0) {
                if (store_sync(jobs->store) >= 0) {
                    jobs->synced_ms = now;
                    jobs->sync_due = false;
                }
                left = JOBS_SYNC_INTERVAL_MS;
            }
            if (jobs->sync_due && (timeout < 0 || timeout > left))
                timeout = (int)left;
        }
        pthread_mutex_unlock(&jobs->lock);
        fetcher_poll(jobs, timeout);
        pthread_mutex_lock(&jobs->lock);
    }
    for (size_t i = 0; i < jobs->n; i++) {
        struct job *job = jobs->v[i];
        if (job->xfer) {
            fetcher_stop(jobs, job);
            store_job_put(jobs->store, job);
        }
    }
    upload_cancel_abandon(jobs);
    store_sync(jobs->store);
    pthread_mutex_unlock(&jobs->lock);
    return NULL;
}

/* The syncer's wake callback: a finished sync interrupts the jobs thread's poll. */
static void
scheduler_wake(void *userdata)
{
    fetcher_wakeup(userdata);
}

/* Start the fetcher, the jobs-sync thread and the jobs thread. */
int
scheduler_start(struct ferry_jobs *jobs)
{
    int r = fetcher_init(jobs);

    if (r < 0)
        return r;
    r = syncer_new(scheduler_wake, jobs, &jobs->syncer);
    if (r < 0) {
        fetcher_done(jobs);
        return r;
    }
    r = netwatch_new(scheduler_wake, jobs, &jobs->netwatch);
    if (r < 0)
        ferry_log_warn("network changes cannot be watched (rtnetlink: %s); transfers do not "
                       "wait for the network", strerror(-r));
    r = pthread_create(&jobs->thread, NULL, scheduler_main, jobs);
    if (r != 0) {
        jobs->netwatch = netwatch_free(jobs->netwatch);
        jobs->syncer = syncer_free(jobs->syncer);
        fetcher_done(jobs);
        return -r;
    }
    jobs->thread_started = true;
    return 0;
}

/* Ask the thread to stop, wait for it (transfers checkpointed), free the multi handle. */
void
scheduler_stop(struct ferry_jobs *jobs)
{
    if (!jobs->thread_started)
        return;
    pthread_mutex_lock(&jobs->lock);
    jobs->stopping = true;
    pthread_mutex_unlock(&jobs->lock);
    fetcher_wakeup(jobs);
    pthread_join(jobs->thread, NULL);
    jobs->thread_started = false;
    jobs->netwatch = netwatch_free(jobs->netwatch);
    jobs->syncer = syncer_free(jobs->syncer);
    fetcher_done(jobs);
}
