/*
 * jobs.c - the client role's public API (include/ferry/jobs.h) and its lifecycle
 * (jobs_new / jobs_free from jobs_role.h). Every call takes the role's lock, validates,
 * changes the model, persists it before returning, and wakes the jobs thread.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ferry/log.h"
#include "client/client.h"
#include "client/fetcher.h"
#include "client/job.h"
#include "client/jobs_role.h"
#include "client/localpath.h"
#include "client/notify.h"
#include "client/scheduler.h"
#include "client/store.h"
#include "client/upload.h"
#include "client/verify.h"
#include "core/certstore.h"
#include "core/clock.h"
#include "core/relay.h"

#define JOBS_CERT_NOT_FOUND 0x80092004u /* CRYPT_E_NOT_FOUND */


/* FNV-1a of the id folded to lower case (ids compare case-insensitively). */
static size_t
jobs_hash_id(const char *id)
{
    uint64_t h = 14695981039346656037ull;

    for (const char *p = id; *p; p++) {
        h ^= (unsigned char)tolower((unsigned char)*p);
        h *= 1099511628211ull;
    }
    return (size_t)(h ^ (h >> 32));
}

static void
jobs_index_add(struct ferry_jobs *jobs, struct job *job)
{
    size_t b = jobs_hash_id(job->id) & (jobs->hsize - 1);

    job->hnext = jobs->hash[b];
    jobs->hash[b] = job;
}

static void
jobs_index_remove(struct ferry_jobs *jobs, struct job *job)
{
    struct job **pp;

    if (!jobs->hsize)
        return;
    pp = &jobs->hash[jobs_hash_id(job->id) & (jobs->hsize - 1)];
    while (*pp && *pp != job)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = job->hnext;
    job->hnext = NULL;
}

/* Make room in jobs->v and the id index for `want` jobs (rebuilding the index from v when
 * it grows). Caller holds the lock. 0 or -ENOMEM (nothing changed). */
static int
jobs_reserve(struct ferry_jobs *jobs, size_t want)
{
    if (want > jobs->cap) {
        size_t cap = jobs->cap < 16 ? 16 : jobs->cap;
        struct job **nv;

        while (cap < want)
            cap *= 2;
        nv = realloc(jobs->v, cap * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        jobs->v = nv;
        jobs->cap = cap;
    }
    if (want > jobs->hsize) {
        size_t hsize = jobs->hsize < 64 ? 64 : jobs->hsize;
        struct job **h;

        while (hsize < 2 * want)
            hsize *= 2;
        h = calloc(hsize, sizeof(*h));
        if (!h)
            return -ENOMEM;
        free(jobs->hash);
        jobs->hash = h;
        jobs->hsize = hsize;
        for (size_t i = 0; i < jobs->n; i++)
            jobs_index_add(jobs, jobs->v[i]);
    }
    return 0;
}

/* The job with this id (case-insensitive GUID) or NULL; caller holds the lock. */
static struct job *
jobs_find(struct ferry_jobs *jobs, const char *id)
{
    if (!id)
        return NULL;
    if (!jobs->hsize) {
        for (size_t i = 0; i < jobs->n; i++)
            if (strcasecmp(jobs->v[i]->id, id) == 0)
                return jobs->v[i];
        return NULL;
    }
    for (struct job *job = jobs->hash[jobs_hash_id(id) & (jobs->hsize - 1)]; job;
         job = job->hnext)
        if (strcasecmp(job->id, id) == 0)
            return job;
    return NULL;
}

/* Wake the jobs thread (thread-safe; call without the lock). */
static void
jobs_wake(struct ferry_jobs *jobs)
{
    fetcher_wakeup(jobs);
}

/* Lock and find the job. On success the role is locked and *ret_job set; otherwise it is
 * unlocked and st says why (-EINVAL bad id, -ENOENT unknown). */
static int
jobs_lock_job(struct ferry_jobs *jobs, const char *id, struct ferry_status *st,
              struct job **ret_job)
{
    struct job *job;

    if (ferry_guid_check(id) < 0)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "JobId", "JobId '%s' is not a {GUID}",
                                id ? id : "");
    pthread_mutex_lock(&jobs->lock);
    job = jobs_find(jobs, id);
    if (!job) {
        pthread_mutex_unlock(&jobs->lock);
        return ferry_status_set(st, -ENOENT, FERRY_STATUS_NOT_FOUND, FERRY_BG_E_NOT_FOUND,
                                "JobId", "no job with id %s", id);
    }
    *ret_job = job;
    return 0;
}

static int
jobs_persist(struct ferry_jobs *jobs, struct job *job, struct ferry_status *st)
{
    int r = store_job_put(jobs->store, job);
    int64_t now;

    /* The commit (WAL, synchronous=NORMAL) survives a crash of ferryd. Against power loss
     * a checkpoint syncs it: at once when the store was not synced by an API write within
     * JOBS_SYNC_INTERVAL_MS, so a lone change is durable on return and a burst costs one
     * sync per interval instead of one per call. */
    if (r >= 0) {
        now = ferry_clock_ms();
        if (!jobs->synced_ms || now - jobs->synced_ms >= JOBS_SYNC_INTERVAL_MS) {
            r = store_sync(jobs->store);
            if (r >= 0) {
                jobs->synced_ms = now;
                jobs->sync_due = false;
            }
        } else if (!jobs->sync_due) {
            /* the tail of a burst: the jobs thread syncs it when the interval ends */
            jobs->sync_due = true;
            jobs_wake(jobs);
        }
    }
    if (r == -EBUSY)
        return ferry_status_set(st, r, FERRY_STATUS_INTERNAL, FERRY_E_FAIL, NULL,
                                "the job store '%s' is locked by another process; nothing "
                                "was changed, try again",
                                store_path(jobs->store));
    if (r < 0)
        return ferry_status_set(st, r, FERRY_STATUS_INTERNAL, FERRY_E_FAIL, NULL,
                                "the job store could not be written (%s)", strerror(-r));
    return 0;
}

static int
jobs_unlock_ret(struct ferry_jobs *jobs, int r, bool wake)
{
    pthread_mutex_unlock(&jobs->lock);
    if (wake && r >= 0)
        jobs_wake(jobs);
    return r;
}

/* A setter's end: the job was changed under the lock; stamp its modification time, persist
 * it, unlock, and wake the scheduler when that worked. */
static int
jobs_modified_ret(struct ferry_jobs *jobs, struct job *job, struct ferry_status *st)
{
    job->mtime = ferry_filetime_now();
    return jobs_unlock_ret(jobs, jobs_persist(jobs, job, st), true);
}

/*
 * Final-state jobs stay readable by id, but not forever: beyond cfg->max_jobs of them the
 * oldest (by creation) are deleted from memory and the store. Caller holds the lock; jobs
 * in a final state have no transfer.
 */
static void
jobs_prune(struct ferry_jobs *jobs)
{
    size_t nfinal = 0;

    for (size_t i = 0; i < jobs->n; i++)
        if (job_state_final(jobs->v[i]->state))
            nfinal++;
    for (size_t i = 0; i < jobs->n && nfinal > jobs->cfg->max_jobs;) {
        struct job *job = jobs->v[i];
        if (!job_state_final(job->state) || job->xfer) {
            i++;
            continue;
        }
        if (store_job_delete(jobs->store, job->id) < 0)
            return; /* logged by the store; try again next time */
        memmove(&jobs->v[i], &jobs->v[i + 1], (jobs->n - i - 1) * sizeof(*jobs->v));
        jobs->n--;
        jobs_index_remove(jobs, job);
        job_free(job);
        nfinal--;
    }
}

static int
jobs_count_live(struct ferry_jobs *jobs)
{
    int n = 0;

    for (size_t i = 0; i < jobs->n; i++)
        if (!job_state_final(jobs->v[i]->state))
            n++;
    return n;
}

/* CreateJob. */
int
ferry_jobs_create(struct ferry_jobs *jobs, const struct ferry_job_create *req,
                  char ret_job_id[FERRY_GUID_STRLEN], struct ferry_status *st)
{
    struct job *job = NULL;
    struct ferry_job_props p = {0};
    int r;

    ferry_status_clear(st);
    if (!req)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "", "no request");
    if (req->type > 2)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "Type",
                                "Type %u is not 0 (download), 1 (upload) or 2 (upload-reply)",
                                req->type);
    if (req->service_account > 2)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "ServiceAccount",
                                "ServiceAccount %u is not 0, 1 or 2", req->service_account);
    p.mask = FERRY_JOBPROP_DISPLAY_NAME | (req->description ? FERRY_JOBPROP_DESCRIPTION : 0);
    p.display_name = req->display_name;
    p.description = req->description;
    job = job_new();
    if (!job)
        return ferry_status_oom(st, -ENOMEM);
    job->inactivity_timeout = jobs->cfg->job_inactivity_timeout;
    r = job_check_props(jobs->cfg, job, &p, st);
    if (r < 0)
        goto error;
    r = job_url_check(req->remote_url, st, "RemoteUrl");
    if (r < 0)
        goto error;
    r = localpath_check(jobs->cfg, req->local_file, st);
    if (r < 0)
        goto error;
    r = job_apply_props(jobs->cfg, job, &p);
    if (r >= 0)
        r = job_add_file(job, req->remote_url, req->local_file);
    if (r >= 0 && req->owner) {
        job->owner = strdup(req->owner);
        if (!job->owner)
            r = -ENOMEM;
    }
    if (r < 0) {
        ferry_status_oom(st, r);
        goto error;
    }
    job->type = req->type;
    job->service_account = req->service_account;
    ferry_guid_new(job->id);
    job->ctime = job->mtime = ferry_filetime_now();
    job->state = req->suspend ? FERRY_JOB_SUSPENDED : FERRY_JOB_QUEUED;

    pthread_mutex_lock(&jobs->lock);
    /* fewer jobs than the limit in all: no need to count the live ones */
    if (jobs->n >= jobs->cfg->max_jobs && jobs_count_live(jobs) >= (int)jobs->cfg->max_jobs) {
        r = ferry_status_set(st, -EMLINK, FERRY_STATUS_RESULT,
                             FERRY_BG_E_TOO_MANY_JOBS_PER_MACHINE, NULL,
                             "the limit of %u jobs is reached", jobs->cfg->max_jobs);
        pthread_mutex_unlock(&jobs->lock);
        goto error;
    }
    if (jobs_reserve(jobs, jobs->n + 1) < 0) {
        pthread_mutex_unlock(&jobs->lock);
        r = ferry_status_oom(st, -ENOMEM);
        goto error;
    }
    job->seq = ++jobs->next_seq;
    r = jobs_persist(jobs, job, st);
    if (r < 0) {
        pthread_mutex_unlock(&jobs->lock);
        goto error;
    }
    jobs->v[jobs->n++] = job;
    jobs_index_add(jobs, job);
    snprintf(ret_job_id, FERRY_GUID_STRLEN, "%s", job->id);
    ferry_log_event(FERRY_LOG_INFO, FERRY_MSGID_JOB_CREATED, job->id, NULL,
                    "job %s created ('%s', %s)", job->id, job->display_name,
                    ferry_job_state_name(job->state));
    /* a suspended job gives the jobs thread nothing to do: no wake-up (and no scan) */
    return jobs_unlock_ret(jobs, 0, job->state == FERRY_JOB_QUEUED);
error:
    job_free(job);
    return r;
}

/* AddFile. */
int
ferry_jobs_add_file(struct ferry_jobs *jobs, const char *job_id, const char *remote_url,
                    const char *local_file, struct ferry_status *st)
{
    struct job *job;
    int r;

    ferry_status_clear(st);
    r = job_url_check(remote_url, st, "RemoteUrl");
    if (r < 0)
        return r;
    r = localpath_check(jobs->cfg, local_file, st);
    if (r < 0)
        return r;
    r = jobs_lock_job(jobs, job_id, st, &job);
    if (r < 0)
        return r;
    if (job_state_final(job->state)) {
        r = ferry_status_set(st, -EINVAL, FERRY_STATUS_RESULT, FERRY_BG_E_INVALID_STATE, NULL,
                             "job %s is %s: no files can be added", job->id,
                             ferry_job_state_name(job->state));
        return jobs_unlock_ret(jobs, r, false);
    }
    r = upload_check_add_file(job, st);
    if (r < 0)
        return jobs_unlock_ret(jobs, r, false);
    if (job->nfiles >= jobs->cfg->max_files_per_job) {
        r = ferry_status_set(st, -EMLINK, FERRY_STATUS_RESULT,
                             FERRY_BG_E_TOO_MANY_FILES_IN_JOB, NULL,
                             "job %s already has the maximum of %u files", job->id,
                             jobs->cfg->max_files_per_job);
        return jobs_unlock_ret(jobs, r, false);
    }
    r = job_add_file(job, remote_url, local_file);
    if (r < 0) {
        r = ferry_status_oom(st, r);
        return jobs_unlock_ret(jobs, r, false);
    }
    if (job->state == FERRY_JOB_TRANSFERRED)
        job_set_state(job, FERRY_JOB_QUEUED);
    r = jobs_persist(jobs, job, st);
    return jobs_unlock_ret(jobs, r, true);
}

/*
 * The relay of the job file that writes `path` (not yet completed, job not final), created
 * when none is; the running transfer fills it in (docs/internals/relay.md). A new
 * reference, or NULL when no job writes that file (or on OOM). Any thread.
 */
struct relay *
jobs_relay_find(struct ferry_jobs *jobs, const char *path)
{
    struct relay *r = NULL;

    if (!jobs || !path)
        return NULL;
    pthread_mutex_lock(&jobs->lock);
    for (size_t i = 0; i < jobs->n && !r; i++) {
        struct job *job = jobs->v[i];

        if (job_state_final(job->state))
            continue;
        for (size_t k = 0; k < job->nfiles; k++) {
            struct jfile *f = &job->files[k];

            if (f->completed || !f->local_file || strcmp(f->local_file, path) != 0)
                continue;
            if (!f->relay)
                f->relay = relay_new(path);
            if (f->relay) {
                fetcher_relay_attach(job, k);
                r = relay_ref(f->relay);
            }
            break;
        }
    }
    pthread_mutex_unlock(&jobs->lock);
    return r;
}

/* Remove every temp file of a job (cancel). Logs what could not be removed. */
static void
jobs_remove_temps(struct ferry_jobs *jobs, struct job *job)
{
    for (size_t i = 0; i < job->nfiles; i++) {
        int r = localpath_remove_temp(jobs->cfg, job->id, job->files[i].local_file);
        if (r < 0)
            ferry_log_warn("job %s: temp file for '%s' could not be removed: %s", job->id,
                           job->files[i].local_file, strerror(-r));
    }
}

/* localpath_placed for file i of job, with the file's ExpectedDigest and tree digest. */
static int
jobs_file_placed(struct ferry_jobs *jobs, const struct job *job, size_t i)
{
    const struct jfile *f = &job->files[i];

    return localpath_placed(jobs->cfg, job->id, f->local_file, f->bytes_total,
                            f->expected_digest, f->have_tree ? f->tree_digest : NULL,
                            f->chunk_size);
}

/*
 * Put file i in place: rename its temp file onto LocalFile. A temp file that is gone while
 * LocalFile is whole (right size, ExpectedDigest when set) was renamed by a Complete that a
 * crash cut short: that file is done (its directory is fsync()ed again). Complete is thereby
 * idempotent: repeated, or resumed by jobs_new, it finishes the renames that remain.
 */
static int
jobs_commit_file(struct ferry_jobs *jobs, struct job *job, size_t i)
{
    const struct jfile *f = &job->files[i];
    int r = localpath_commit(jobs->cfg, job->id, f->local_file);

    if (r != -ENOENT)
        return r;
    r = jobs_file_placed(jobs, job, i);
    if (r == 0)
        ferry_log_info("job %s: '%s' was already in place (a Complete interrupted)", job->id,
                       f->local_file);
    return r == 1 ? -ENOENT : r;
}

/* The job is final (ACKNOWLEDGED or CANCELLED): its credentials are of no further use and
 * leave jobs.db and its WAL now (a transfer's own copy is wiped when it is freed). A store
 * failure is logged; the rows then go with the job when it is pruned. */
static void
jobs_wipe_credentials(struct ferry_jobs *jobs, struct job *job)
{
    int r;

    if (!job->has_credentials)
        return;
    r = store_cred_clear(jobs->store, job->id);
    if (r < 0) {
        ferry_log_warn("job %s: its credentials could not be wiped from '%s': %s", job->id,
                       store_path(jobs->store), strerror(-r));
        return;
    }
    job->has_credentials = false;
}

/* The BITS code of a failed rename onto LocalFile, and words for the errno. */
static uint32_t
jobs_commit_code(int r, const char **ret_why)
{
    *ret_why = strerror(-r);
    switch (r) {
    case -EXDEV:
    case -ELOOP:
        /* openat2(RESOLVE_BENEATH) refused the way to LocalFile's directory */
        *ret_why = "its directory now resolves outside the download root (a symlink?)";
        return FERRY_E_ACCESSDENIED;
    case -EACCES:
    case -EPERM:
    case -EROFS:
    case -EISDIR:
    case -ENOTEMPTY:
        return FERRY_E_ACCESSDENIED;
    case -EBUSY:
    case -ETXTBSY:
        return FERRY_BG_E_DESTINATION_LOCKED;
    case -ENOSPC:
    case -EDQUOT:
        return FERRY_E_DISK_FULL;
    case -ENOENT:
        return FERRY_E_FILE_NOT_FOUND;
    case -ENOTDIR:
        return FERRY_E_PATH_NOT_FOUND;
    case -EBADMSG:
        *ret_why = "the file there is not the one transferred (its digest differs)";
        return FERRY_BG_E_LOCAL_FILE_CHANGED;
    default:
        return FERRY_E_FAIL;
    }
}

/*
 * Complete (SetJobState 1), as BITS: the files that are complete are put in place (an
 * upload-reply's reply; an upload leaves LocalFile alone), the others' temp files removed,
 * ACKNOWLEDGED. From TRANSFERRED every file is complete (0); from another live state the
 * answer is the success code BG_S_PARTIAL_COMPLETE in st (kind OK) when some file was not.
 * A file that cannot be put in place moves the job to ERROR with a LOCAL_FILE error (GetError
 * names LocalFile and the cause), logged once; the files already renamed stay, so after the
 * cause is fixed Resume and Complete finish the rest. st gets the same code.
 */
static int
jobs_complete(struct ferry_jobs *jobs, struct job *job, struct ferry_status *st)
{
    size_t kept = 0;

    for (size_t i = 0; i < job->nfiles; i++) {
        const struct jfile *f = &job->files[i];
        struct ferry_status pst;
        const char *why;
        uint32_t code;
        int r;

        if (!f->completed)
            continue;
        r = job->type ? upload_complete(jobs->cfg, job) : jobs_commit_file(jobs, job, i);
        if (r < 0) {
            code = jobs_commit_code(r, &why);
            ferry_log_warn("job %s: Complete failed: '%s' could not be put in place: %s",
                           job->id, f->local_file, why);
            job_set_error(job, FERRY_ERRCTX_LOCAL_FILE, code, f->remote_url,
                          "Complete: '%s' could not be put in place: %s", f->local_file, why);
            job_set_state(job, FERRY_JOB_ERROR);
            jobs_persist(jobs, job, &pst);
            return ferry_status_set(st, r, FERRY_STATUS_RESULT, code, NULL,
                                    "job %s: '%s' could not be put in place: %s", job->id,
                                    f->local_file, why);
        }
        kept++;
    }
    if (kept < job->nfiles) {
        if (job->type)
            upload_remove_temps(jobs->cfg, job);
        else
            jobs_remove_temps(jobs, job);
    }
    job_set_state(job, FERRY_JOB_ACKNOWLEDGED);
    jobs_wipe_credentials(jobs, job);
    store_chunks_clear(jobs->store, job->id, SIZE_MAX);
    if (kept < job->nfiles) {
        ferry_log_event(FERRY_LOG_INFO, FERRY_MSGID_JOB_ACKNOWLEDGED, job->id, NULL,
                        "job %s: completed with %zu of %zu files (the others were not "
                        "complete and were removed)", job->id, kept, job->nfiles);
        ferry_status_set(st, 0, FERRY_STATUS_OK, FERRY_BG_S_PARTIAL_COMPLETE, NULL,
                         "job %s: %zu of %zu files were complete and put in place; the "
                         "others were removed", job->id, kept, job->nfiles);
        return 0;
    }
    ferry_log_event(FERRY_LOG_INFO, FERRY_MSGID_JOB_ACKNOWLEDGED, job->id, NULL,
                    "job %s: completed", job->id);
    return 0;
}

/* SetJobState. */
int
ferry_jobs_set_state(struct ferry_jobs *jobs, const char *job_id,
                     enum ferry_job_action action, struct ferry_status *st)
{
    struct job *job;
    int r;

    ferry_status_clear(st);
    r = jobs_lock_job(jobs, job_id, st, &job);
    if (r < 0)
        return r;
    r = job_check_action(job, action, st);
    if (r < 0)
        return jobs_unlock_ret(jobs, r, false);
    switch (action) {
    case FERRY_JOB_ACTION_CANCEL:
        job_set_state(job, FERRY_JOB_CANCELLED);
        /* an upload's server session: Cancel-Session, sent by the jobs thread (best effort,
         * never waited for), with the credentials wiped just below */
        upload_cancel_session(jobs, job);
        jobs_wipe_credentials(jobs, job);
        if (job->type)
            upload_remove_temps(jobs->cfg, job);
        else
            jobs_remove_temps(jobs, job);
        store_chunks_clear(jobs->store, job->id, SIZE_MAX);
        ferry_log_event(FERRY_LOG_INFO, FERRY_MSGID_JOB_CANCELLED, job->id, NULL,
                        "job %s: cancelled", job->id);
        break;
    case FERRY_JOB_ACTION_COMPLETE:
        r = jobs_complete(jobs, job, st);
        if (r < 0)
            return jobs_unlock_ret(jobs, r, false);
        break;
    case FERRY_JOB_ACTION_RESUME:
        if (job->state == FERRY_JOB_SUSPENDED || job->state == FERRY_JOB_ERROR ||
            job->state == FERRY_JOB_TRANSIENT_ERROR) {
            job_set_state(job, FERRY_JOB_QUEUED);
            job->no_progress_since = 0;
            job->remote_restarts = 0;
            job->download_ms = 0; /* BITS: Resume restarts the MaxDownloadTime clock */
        }
        break;
    case FERRY_JOB_ACTION_SUSPEND:
        if (job->state != FERRY_JOB_SUSPENDED)
            job_set_state(job, FERRY_JOB_SUSPENDED);
        break;
    }
    r = jobs_persist(jobs, job, st);
    if (r >= 0 && job_state_final(job->state) && !job->xfer)
        jobs_prune(jobs);
    return jobs_unlock_ret(jobs, r, true);
}

/* Put of the writable properties (all-or-nothing). */
int
ferry_jobs_set_props(struct ferry_jobs *jobs, const char *job_id,
                     const struct ferry_job_props *props, struct ferry_status *st)
{
    struct job *job = NULL;
    int r;

    ferry_status_clear(st);
    r = jobs_lock_job(jobs, job_id, st, &job);
    if (r < 0)
        return r;
    r = job_check_props(jobs->cfg, job, props, st);
    if (r >= 0)
        r = job_apply_props(jobs->cfg, job, props);
    if (r >= 0)
        r = jobs_persist(jobs, job, st);
    return jobs_unlock_ret(jobs, r, true);
}

/* Snapshot of one job (final states included); caller frees with ferry_job_info_free. */
int
ferry_jobs_get(struct ferry_jobs *jobs, const char *job_id, struct ferry_job_info **ret_info,
               struct ferry_status *st)
{
    struct job *job = NULL;
    int r;

    ferry_status_clear(st);
    r = jobs_lock_job(jobs, job_id, st, &job);
    if (r < 0)
        return r;
    r = job_info(job, jobs->cfg, fetcher_connections(job), ret_info);
    if (r < 0)
        ferry_status_oom(st, r);
    return jobs_unlock_ret(jobs, r, false);
}

/* Snapshots of the jobs not in a final state, oldest first; -ENOMEM. */
int
ferry_jobs_list(struct ferry_jobs *jobs, struct ferry_job_info ***ret_v, size_t *ret_n)
{
    struct ferry_job_info **v;
    size_t n = 0;
    int r = 0;

    pthread_mutex_lock(&jobs->lock);
    v = calloc(jobs->n ? jobs->n : 1, sizeof(*v));
    if (!v) {
        pthread_mutex_unlock(&jobs->lock);
        return -ENOMEM;
    }
    for (size_t i = 0; i < jobs->n; i++) {
        if (job_state_final(jobs->v[i]->state))
            continue;
        r = job_info(jobs->v[i], jobs->cfg, fetcher_connections(jobs->v[i]), &v[n]);
        if (r < 0)
            break;
        n++;
    }
    pthread_mutex_unlock(&jobs->lock);
    if (r < 0) {
        ferry_job_info_list_free(v, n);
        return r;
    }
    *ret_v = v;
    *ret_n = n;
    return 0;
}

static const char *
jobs_context_text(enum ferry_error_context ctx)
{
    switch (ctx) {
    case FERRY_ERRCTX_NONE:
        return "No error occurred.";
    case FERRY_ERRCTX_GENERAL_QUEUE_MANAGER:
        return "The error occurred in the transfer queue manager.";
    case FERRY_ERRCTX_QUEUE_MANAGER_NOTIFICATION:
        return "The error occurred while notifying the application.";
    case FERRY_ERRCTX_LOCAL_FILE:
        return "The error occurred while the local file was being processed.";
    case FERRY_ERRCTX_REMOTE_FILE:
        return "The error occurred while the remote file was being processed.";
    case FERRY_ERRCTX_GENERAL_TRANSPORT:
        return "The error occurred in the transport layer.";
    case FERRY_ERRCTX_REMOTE_APPLICATION:
        return "The error occurred in the server application.";
    case FERRY_ERRCTX_UNKNOWN:
        break;
    }
    return "The error context is unknown.";
}

/* GetError: context, code, texts and failing file of a job in ERROR/TRANSIENT_ERROR;
 * strings owned by the caller (ferry_job_error_done). */
int
ferry_jobs_get_error(struct ferry_jobs *jobs, const char *job_id,
                     struct ferry_job_error *ret_err, struct ferry_status *st)
{
    struct ferry_job_error e = {0};
    struct job *job;
    int r;

    ferry_status_clear(st);
    r = jobs_lock_job(jobs, job_id, st, &job);
    if (r < 0)
        return r;
    if ((job->state != FERRY_JOB_ERROR && job->state != FERRY_JOB_TRANSIENT_ERROR) ||
        !job->err.set) {
        r = ferry_status_set(st, -ENODATA, FERRY_STATUS_RESULT,
                                 JOB_BG_E_ERROR_INFO_UNAVAILABLE, NULL,
                                 "job %s is %s and has no error", job->id,
                                 ferry_job_state_name(job->state));
        return jobs_unlock_ret(jobs, r, false);
    }
    e.context = job->err.context;
    e.code = job->err.code;
    e.context_text = strdup(jobs_context_text(job->err.context));
    e.text = strdup(job->err.text ? job->err.text : "");
    e.file = job->err.file ? strdup(job->err.file) : NULL;
    pthread_mutex_unlock(&jobs->lock);
    if (!e.context_text || !e.text || (job->err.file && !e.file)) {
        ferry_job_error_done(&e);
        return ferry_status_oom(st, -ENOMEM);
    }
    *ret_err = e;
    return 0;
}

static bool
jobs_cred_text_ok(const char *s)
{
    if (!s)
        return true;
    if (strlen(s) > 1024)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 && *p != '\t')
            return false;
    return true;
}

/* SetCredentials: stored (write-only) per (target, scheme), used from the next request. */
int
ferry_jobs_set_credentials(struct ferry_jobs *jobs, const char *job_id, unsigned target,
                           unsigned scheme, const char *user, const char *password,
                           struct ferry_status *st)
{
    struct job *job;
    int r;

    ferry_status_clear(st);
    /* BITS answers a bad Target or Scheme with its own HRESULTs, as a ReturnValue */
    if (target > 1)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_RESULT,
                                FERRY_BG_E_INVALID_AUTH_TARGET, "Target",
                                "Target %u is not 0 (server) or 1 (proxy)", target);
    if (scheme == 4)
        return ferry_status_set(st, -EOPNOTSUPP, FERRY_STATUS_RESULT,
                                FERRY_BG_E_INVALID_AUTH_SCHEME, "Scheme",
                                "the Passport scheme (4) is not supported");
    if (scheme > 4)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_RESULT,
                                FERRY_BG_E_INVALID_AUTH_SCHEME, "Scheme",
                                "Scheme %u is not 0 (Basic) to 3 (Negotiate)", scheme);
    if ((scheme <= 1 && (!user || !password)) || !jobs_cred_text_ok(user) ||
        !jobs_cred_text_ok(password))
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, user ? "Password" : "UserName",
                                "UserName and Password are required for Basic and Digest "
                                "and must be printable text");
    r = jobs_lock_job(jobs, job_id, st, &job);
    if (r < 0)
        return r;
    if (job_state_final(job->state)) {
        r = ferry_status_set(st, -EINVAL, FERRY_STATUS_RESULT, FERRY_BG_E_INVALID_STATE, NULL,
                             "job %s is %s and read-only", job->id,
                             ferry_job_state_name(job->state));
        return jobs_unlock_ret(jobs, r, false);
    }
    r = store_cred_set(jobs->store, job->id, target, scheme, user ? user : "",
                       password ? password : "");
    if (r < 0) {
        r = ferry_status_set(st, r, FERRY_STATUS_INTERNAL, FERRY_E_FAIL, NULL,
                             "the job store could not be written");
        return jobs_unlock_ret(jobs, r, false);
    }
    job->has_credentials = true;
    return jobs_modified_ret(jobs, job, st);
}

/* RemoveCredentials of (target, scheme); removing what is not there succeeds. */
int
ferry_jobs_remove_credentials(struct ferry_jobs *jobs, const char *job_id, unsigned target,
                              unsigned scheme, struct ferry_status *st)
{
    struct job *job;
    int r;

    ferry_status_clear(st);
    if (target > 1 || scheme > 4)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_RESULT,
                                target > 1 ? FERRY_BG_E_INVALID_AUTH_TARGET
                                           : FERRY_BG_E_INVALID_AUTH_SCHEME,
                                target > 1 ? "Target" : "Scheme",
                                "no such credential target/scheme");
    r = jobs_lock_job(jobs, job_id, st, &job);
    if (r < 0)
        return r;
    r = store_cred_remove(jobs->store, job->id, target, scheme);
    if (r >= 0)
        r = store_cred_count(jobs->store, job->id);
    if (r < 0) {
        r = ferry_status_set(st, r, FERRY_STATUS_INTERNAL, FERRY_E_FAIL, NULL,
                             "the job store could not be written");
        return jobs_unlock_ret(jobs, r, false);
    }
    job->has_credentials = r > 0;
    return jobs_modified_ret(jobs, job, st);
}

static int
jobs_set_str(char **slot, const char *v)
{
    char *s = v && *v ? strdup(v) : NULL;

    if (v && *v && !s)
        return -ENOMEM;
    free(*slot);
    *slot = s;
    return 0;
}

/* Append a copy of s to the string list (*v, *n); -ENOMEM leaves the list as it was. */
static int
jobs_strv_append(char ***v, size_t *n, const char *s)
{
    char **nv = realloc(*v, (*n + 1) * sizeof(*nv));

    if (!nv)
        return -ENOMEM;
    *v = nv;
    nv[*n] = strdup(s);
    if (!nv[*n])
        return -ENOMEM;
    (*n)++;
    return 0;
}

/* SetProxySettings: usage 0-3, lists only with OVERRIDE (BITS). */
int
ferry_jobs_set_proxy(struct ferry_jobs *jobs, const char *job_id, unsigned usage,
                     const char *proxy_list, const char *bypass_list, struct ferry_status *st)
{
    struct job *job;
    int r;

    ferry_status_clear(st);
    if (usage > 3)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "ProxyUsage",
                                "ProxyUsage %u is not 0 to 3", usage);
    if (usage != 2 && ((proxy_list && *proxy_list) || (bypass_list && *bypass_list)))
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "ProxyList",
                                "proxy and bypass lists are only allowed with ProxyUsage 2 "
                                "(override)");
    if (usage == 2 && (!proxy_list || !*proxy_list))
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "ProxyList",
                                "ProxyUsage 2 (override) needs a proxy list");
    if ((proxy_list && (strlen(proxy_list) > JOB_MAX_PROXY_LIST ||
                        !jobs_cred_text_ok(proxy_list))) ||
        (bypass_list && (strlen(bypass_list) > JOB_MAX_PROXY_LIST ||
                         !jobs_cred_text_ok(bypass_list))))
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "ProxyList",
                                "proxy lists are at most %u printable characters",
                                JOB_MAX_PROXY_LIST);
    r = jobs_lock_job(jobs, job_id, st, &job);
    if (r < 0)
        return r;
    if (job_state_final(job->state)) {
        r = ferry_status_set(st, -EINVAL, FERRY_STATUS_RESULT, FERRY_BG_E_INVALID_STATE, NULL,
                             "job %s is %s and read-only", job->id,
                             ferry_job_state_name(job->state));
        return jobs_unlock_ret(jobs, r, false);
    }
    job->proxy_usage = usage;
    r = jobs_set_str(&job->proxy_list, proxy_list);
    if (r >= 0)
        r = jobs_set_str(&job->proxy_bypass, bypass_list);
    if (r < 0) {
        r = ferry_status_oom(st, r);
        return jobs_unlock_ret(jobs, r, false);
    }
    return jobs_modified_ret(jobs, job, st);
}

/* Give job_id the client certificate at path (taken over, also on failure). */
static int
jobs_set_cert_path(struct ferry_jobs *jobs, const char *job_id, char *path,
                   struct ferry_status *st)
{
    struct job *job;
    int r = jobs_lock_job(jobs, job_id, st, &job);

    if (r < 0) {
        free(path);
        return r;
    }
    if (job_state_final(job->state)) {
        free(path);
        r = ferry_status_set(st, -EINVAL, FERRY_STATUS_RESULT, FERRY_BG_E_INVALID_STATE, NULL,
                             "job %s is %s and read-only", job->id,
                             ferry_job_state_name(job->state));
        return jobs_unlock_ret(jobs, r, false);
    }
    free(job->cert_path);
    job->cert_path = path;
    return jobs_modified_ret(jobs, job, st);
}

/* The CertStoreLocation and StoreName checks of both SetClientCertificate methods. */
static int
jobs_cert_store_check(unsigned store_location, const char *store_name, struct ferry_status *st)
{
    if (store_location > CERTSTORE_LOCATION_MAX)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "CertStoreLocation",
                                "CertStoreLocation %u is not 0 to 7", store_location);
    if (!certstore_name_ok(store_name))
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "StoreName",
                                "StoreName must be a plain store name (e.g. MY): 1-64 "
                                "characters of [A-Za-z0-9._-], not starting with '.'");
    return 0;
}

/* SetClientCertificateById: the certificate with that SHA-1 thumbprint in store StoreName
 * at CertStoreLocation (certstore.h: each location its own tree). */
int
ferry_jobs_set_client_cert(struct ferry_jobs *jobs, const char *job_id,
                           unsigned store_location, const char *store_name,
                           const uint8_t *hash, size_t hash_len, struct ferry_status *st)
{
    char *path = NULL;
    int r;

    ferry_status_clear(st);
    r = jobs_cert_store_check(store_location, store_name, st);
    if (r < 0)
        return r;
    if (!hash || hash_len != 20)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "CertHash",
                                "CertHash must be the 20-byte SHA-1 thumbprint");
    r = certstore_find_at(jobs->cfg, store_location, store_name, hash, &path);
    if (r == -ENOMEM)
        return ferry_status_oom(st, r);
    if (r < 0) {
        char hex[41];
        r = -ENOENT; /* an unreadable store holds no certificate either */
        ferry_hex_encode(hash, 20, hex);
        ferry_status_set(st, r, FERRY_STATUS_RESULT, JOBS_CERT_NOT_FOUND, NULL,
                         "no certificate with thumbprint %s in store '%s' of %s", hex,
                         store_name, certstore_location_name(store_location));
        return r;
    }
    return jobs_set_cert_path(jobs, job_id, path, st);
}

/* SetClientCertificateByName: the first certificate (by file name) of store StoreName at
 * CertStoreLocation whose subject contains SubjectName, ignoring case (certstore.h). */
int
ferry_jobs_set_client_cert_by_name(struct ferry_jobs *jobs, const char *job_id,
                                   unsigned store_location, const char *store_name,
                                   const char *subject, struct ferry_status *st)
{
    char *path = NULL;
    int r;

    ferry_status_clear(st);
    r = jobs_cert_store_check(store_location, store_name, st);
    if (r < 0)
        return r;
    if (!subject || !*subject || strlen(subject) > 1024)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "SubjectName",
                                "SubjectName must be 1-1024 characters of the certificate's "
                                "subject (e.g. CN=client.example)");
    r = certstore_find_subject(jobs->cfg, store_location, store_name, subject, &path);
    if (r == -ENOMEM)
        return ferry_status_oom(st, r);
    if (r < 0) {
        r = -ENOENT;
        ferry_status_set(st, r, FERRY_STATUS_RESULT, JOBS_CERT_NOT_FOUND, NULL,
                         "no certificate whose subject contains '%s' in store '%s' of %s",
                         subject, store_name, certstore_location_name(store_location));
        return r;
    }
    return jobs_set_cert_path(jobs, job_id, path, st);
}

/* RemoveClientCertificate. */
int
ferry_jobs_remove_client_cert(struct ferry_jobs *jobs, const char *job_id,
                              struct ferry_status *st)
{
    struct job *job = NULL;
    int r;

    ferry_status_clear(st);
    r = jobs_lock_job(jobs, job_id, st, &job);
    if (r < 0)
        return r;
    free(job->cert_path);
    job->cert_path = NULL;
    return jobs_modified_ret(jobs, job, st);
}

/* A CustomHeader "Name: value" that libcurl may send verbatim: the name an RFC 9110
 * token, the value free of control bytes (CR, LF, NUL, DEL...), and no header that frames
 * the message or belongs to one hop (a proxy would read a smuggled request into them).
 * NULL when acceptable, else the reason. */
static const char *
jobs_custom_header_refusal(const char *value)
{
    static const char tchar[] = "!#$%&'*+-.^_`|~0123456789"
                                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    static const char *const denied[] = {"Content-Length", "Transfer-Encoding", "Host",
                                         "Connection", "TE", "Upgrade", "Expect",
                                         "Keep-Alive", "Trailer"};
    const char *colon = strchr(value, ':');
    size_t nlen;

    if (strlen(value) > JOB_MAX_HEADER_LEN)
        return "is too long";
    if (!colon || colon == value)
        return "must be 'Name: value'";
    nlen = (size_t)(colon - value);
    if (strspn(value, tchar) != nlen)
        return "has a name that is not an RFC 9110 token";
    for (const char *v = colon + 1; *v; v++)
        if (((unsigned char)*v < 0x20 && *v != '\t') || (unsigned char)*v == 0x7f)
            return "has a control character in its value";
    for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++)
        if (strlen(denied[i]) == nlen && strncasecmp(value, denied[i], nlen) == 0)
            return "names a header that frames the request or belongs to one hop";
    if (nlen >= 6 && strncasecmp(value, "Proxy-", 6) == 0)
        return "names a Proxy-* header (use SetProxySettings)";
    return NULL;
}

/* "Mirror", "Peer", "ExpectedDigest", "CustomHeader", "ReplyFileName". */
int
ferry_jobs_set_option(struct ferry_jobs *jobs, const char *job_id, const char *name,
                      const char *value, struct ferry_status *st)
{
    struct job *job;
    struct jfile *f;
    int r = 0;

    ferry_status_clear(st);
    if (!name || !value)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, !name ? "Name" : "Value",
                                "option name and value are required");
    if (strcmp(name, "Mirror") == 0 || strcmp(name, "Peer") == 0) {
        r = job_url_check(value, st, "Value");
    } else if (strcmp(name, "ExpectedDigest") == 0) {
        if (verify_digest_spec_check(value) < 0)
            r = ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                 FERRY_E_INVALIDARG, "Value",
                                 "ExpectedDigest must be sha256:<64 hex> or xxh128:<32 hex>");
    } else if (strcmp(name, "ReplyFileName") == 0) {
        r = localpath_check(jobs->cfg, value, st);
    } else if (strcmp(name, "CustomHeader") == 0) {
        const char *why = jobs_custom_header_refusal(value);

        if (!why && (!jobs_cred_text_ok(value) || strpbrk(value, "\r\n")))
            why = "has a character that is not allowed";
        if (why)
            r = ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                 FERRY_E_INVALIDARG, "Value",
                                 "CustomHeader %s; it must be 'Name: value' with a token name, "
                                 "no control characters and at most %u characters",
                                 why, JOB_MAX_HEADER_LEN);
    } else {
        r = ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER, FERRY_E_INVALIDARG,
                             "Name", "unknown option '%s' (Mirror, Peer, "
                             "ExpectedDigest, CustomHeader, ReplyFileName)", name);
    }
    if (r < 0)
        return r;
    r = jobs_lock_job(jobs, job_id, st, &job);
    if (r < 0)
        return r;
    if (job_state_final(job->state) || job->nfiles == 0) {
        r = ferry_status_set(st, -EINVAL, FERRY_STATUS_RESULT, FERRY_BG_E_INVALID_STATE, NULL,
                             "job %s is %s and read-only", job->id,
                             ferry_job_state_name(job->state));
        return jobs_unlock_ret(jobs, r, false);
    }
    f = &job->files[job->nfiles - 1];
    if (strcmp(name, "ReplyFileName") == 0) {
        r = upload_set_reply_file(jobs->cfg, jobs->store, job, value, st);
        if (r < 0)
            return jobs_unlock_ret(jobs, r, false);
    } else if (strcmp(name, "Mirror") == 0 || strcmp(name, "Peer") == 0) {
        char *peer = NULL;

        if (f->nmirrors >= JOB_MAX_MIRRORS) {
            r = ferry_status_set(st, -EMLINK, FERRY_STATUS_INVALID_PARAMETER,
                                 FERRY_E_INVALIDARG, "Value",
                                 "at most %u mirrors and peers per file", JOB_MAX_MIRRORS);
            return jobs_unlock_ret(jobs, r, false);
        }
        /* a peer is kept among the mirrors, marked (and so persisted) by its prefix */
        if (name[0] == 'P' && asprintf(&peer, "%s%s", JOB_PEER_PREFIX, value) < 0) {
            peer = NULL;
            r = -ENOMEM;
        }
        if (r == 0)
            r = jobs_strv_append(&f->mirrors, &f->nmirrors, peer ? peer : value);
        free(peer);
    } else if (strcmp(name, "ExpectedDigest") == 0) {
        r = jobs_set_str(&f->expected_digest, value);
    } else {
        if (job->nheaders >= JOB_MAX_HEADERS) {
            r = ferry_status_set(st, -EMLINK, FERRY_STATUS_INVALID_PARAMETER,
                                 FERRY_E_INVALIDARG, "Value", "at most %u custom headers",
                                 JOB_MAX_HEADERS);
            return jobs_unlock_ret(jobs, r, false);
        }
        r = jobs_strv_append(&job->headers, &job->nheaders, value);
    }
    if (r < 0) {
        r = ferry_status_oom(st, r);
        return jobs_unlock_ret(jobs, r, false);
    }
    return jobs_modified_ret(jobs, job, st);
}

/* A program path for SetNotifyCmdLine: absolute, bounded, no control characters. */
static bool
jobs_notify_program_ok(const char *p)
{
    size_t n = strlen(p);

    if (p[0] != '/' || n > FERRY_NOTIFY_MAX_PROGRAM)
        return false;
    for (const unsigned char *c = (const unsigned char *)p; *c; c++)
        if (*c < 0x20 || *c == 0x7f)
            return false;
    return true;
}

/* SetNotifyCmdLine: the command run on the job's notifications (notify.c); program NULL or
 * "" clears it. */
int
ferry_jobs_set_notify_cmdline(struct ferry_jobs *jobs, const char *job_id, const char *program,
                              const char *parameters, struct ferry_status *st)
{
    char **argv = NULL;
    size_t argc = 0;
    struct job *job;
    int r;

    ferry_status_clear(st);
    if (program && !*program)
        program = NULL;
    if (program && !jobs_notify_program_ok(program))
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "Program",
                                "Program must be an absolute path of at most %u characters "
                                "without control characters",
                                FERRY_NOTIFY_MAX_PROGRAM);
    if (program && parameters && *parameters) {
        r = ferry_cmdline_split(parameters, &argv, &argc);
        if (r == -ENOMEM)
            return ferry_status_oom(st, r);
        if (r < 0)
            return ferry_status_set(st, r, FERRY_STATUS_INVALID_PARAMETER, FERRY_E_INVALIDARG,
                                    "Parameters",
                                    "Parameters is not a valid command line (unterminated "
                                    "quote, trailing backslash, control character, more than "
                                    "%u words or %u characters)",
                                    FERRY_NOTIFY_MAX_ARGS, FERRY_NOTIFY_MAX_CMDLINE);
    }
    r = jobs_lock_job(jobs, job_id, st, &job);
    if (r < 0)
        goto out;
    if (job_state_final(job->state)) {
        r = ferry_status_set(st, -EINVAL, FERRY_STATUS_RESULT, FERRY_BG_E_INVALID_STATE, NULL,
                             "job %s is %s and read-only", job->id,
                             ferry_job_state_name(job->state));
        r = jobs_unlock_ret(jobs, r, false);
        goto out;
    }
    if (argc)
        r = job_set_notify_cmd(job, program, argv, argc);
    else
        r = job_set_notify_cmd(job, program, (char *const[]){(char *)program}, program ? 1 : 0);
    if (r < 0) {
        r = jobs_unlock_ret(jobs, ferry_status_oom(st, r), false);
        goto out;
    }
    job->mtime = ferry_filetime_now();
    r = jobs_persist(jobs, job, st);
    r = jobs_unlock_ret(jobs, r, true);
out:
    ferry_cmdline_free(argv, argc);
    return r;
}

/* Counters for metrics: jobs per state, bytes fetched and re-fetched, verify failures. */
void
ferry_jobs_stats(struct ferry_jobs *jobs, struct ferry_jobs_stats *ret)
{
    memset(ret, 0, sizeof(*ret));
    pthread_mutex_lock(&jobs->lock);
    for (size_t i = 0; i < jobs->n; i++) {
        const struct job *job = jobs->v[i];
        if ((unsigned)job->state <= FERRY_JOB_CANCELLED)
            ret->jobs_by_state[job->state]++;
        ret->bytes_refetched += job->bytes_refetched;
    }
    ret->bytes_fetched = jobs->bytes_fetched;
    ret->chunk_verify_failures = jobs->verify_failures;
    ret->active_connections = jobs->active_connections;
    pthread_mutex_unlock(&jobs->lock);
}

/* Defaults for the numeric limits a hand-built or partial config leaves at 0. */
static void
jobs_cfg_defaults(struct ferry_config *c)
{
    if (!c->max_jobs)
        c->max_jobs = 300;
    if (!c->max_files_per_job)
        c->max_files_per_job = 1000;
    if (!c->max_ranges_per_file)
        c->max_ranges_per_file = 500;
    if (!c->connections_per_file)
        c->connections_per_file = 4;
    if (c->connections_per_file > JOB_MAX_CONNECTIONS)
        c->connections_per_file = JOB_MAX_CONNECTIONS;
    if (!c->fetch_chunk_size)
        c->fetch_chunk_size = 4u << 20;
    if (!c->progress_interval_ms)
        c->progress_interval_ms = 1000;
    if (!c->max_active_jobs)
        c->max_active_jobs = 4;
    if (!c->retry_delay_min)
        c->retry_delay_min = 5;
    if (!c->connect_timeout)
        c->connect_timeout = 30;
    if (!c->stall_timeout)
        c->stall_timeout = 60;
}

/*
 * Recovery found file i's temp gone and, at its LocalFile, a file of the right size whose
 * bytes are not the job's (its tree digest or ExpectedDigest differs): someone put it there
 * while ferryd was down. It is not the job's result and it is not ours to remove: the job
 * goes to ERROR with BG_E_LOCAL_FILE_CHANGED naming the file, which is left as it is.
 */
static void
jobs_recover_foreign(struct ferry_jobs *jobs, struct job *job, size_t i)
{
    const char *path = job->files[i].local_file;

    ferry_log_warn("job %s: '%s' is not the file this job fetched (its digest differs); "
                   "left untouched, job in error", job->id, path);
    job_set_state(job, FERRY_JOB_ERROR);
    job_set_error(job, FERRY_ERRCTX_LOCAL_FILE, FERRY_BG_E_LOCAL_FILE_CHANGED, path,
                  "'%s' was replaced while ferry was stopped: its bytes are not the ones "
                  "this job fetched (the file was left untouched)", path);
    store_job_put(jobs->store, job);
    store_sync(jobs->store);
}

/*
 * Recovery of a Complete that a crash cut between its renames and its state commit: a
 * TRANSFERRED job with a file already renamed onto LocalFile (temp gone, LocalFile whole)
 * is completed now — the remaining temp files renamed, directories fsync()ed, ACKNOWLEDGED
 * persisted. A job with all its temp files in place is left alone (Complete not started).
 */
static void
jobs_recover_complete(struct ferry_jobs *jobs, struct job *job)
{
    struct ferry_status st;
    bool started = false;
    int r;

    if (job->type)
        return; /* an upload's LocalFile is its source, never renamed */
    for (size_t i = 0; i < job->nfiles; i++) {
        r = jobs_file_placed(jobs, job, i);
        if (r == -EBADMSG) {
            jobs_recover_foreign(jobs, job, i);
            return;
        }
        started = started || r == 0;
    }
    if (!started)
        return;
    ferry_status_clear(&st);
    r = jobs_complete(jobs, job, &st);
    if (r < 0) {
        ferry_log_warn("job %s: an interrupted Complete could not be finished: %s", job->id,
                       strerror(-r));
        return;
    }
    ferry_log_info("job %s: an interrupted Complete was finished", job->id);
    store_job_put(jobs->store, job);
    store_sync(jobs->store);
}

/* The private copy of the configuration the role reads (defaults filled in). */
struct jobs_with_cfg {
    struct ferry_jobs jobs;
    struct ferry_config cfg;
};

/*
 * Open STATE/jobs.db, load every job, recover those a crash left CONNECTING/TRANSFERRING
 * (back to QUEUED; their verified chunks are re-hashed before they are trusted), and start
 * the jobs thread. cfg must outlive the role.
 */
int
jobs_new(const struct ferry_config *cfg, struct ferry_jobs **ret_jobs)
{
    struct jobs_with_cfg *w;
    struct ferry_jobs *jobs;
    int r;

    if (!cfg || !cfg->state_dir)
        return -EINVAL;
    w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->cfg = *cfg;
    jobs_cfg_defaults(&w->cfg);
    jobs = &w->jobs;
    jobs->cfg = &w->cfg;
    pthread_mutex_init(&jobs->lock, NULL);
    pthread_mutex_init(&jobs->wake_lock, NULL);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    r = store_open(cfg->state_dir, &jobs->store);
    if (r < 0)
        goto error;
    r = store_load(jobs->store, &jobs->v, &jobs->n);
    if (r >= 0)
        r = upload_store_load(jobs->store, jobs->v, jobs->n);
    if (r < 0) {
        ferry_log_error("job store '%s' could not be loaded: %s", store_path(jobs->store),
                        strerror(-r));
        goto error;
    }
    jobs->cap = jobs->n;
    r = jobs_reserve(jobs, jobs->n);
    if (r < 0)
        goto error;
    for (size_t i = 0; i < jobs->n; i++) {
        struct job *job = jobs->v[i];
        if (job->seq > jobs->next_seq)
            jobs->next_seq = job->seq;
        if (job->inactivity_timeout == JOB_INACTIVITY_UNSET)
            job->inactivity_timeout = jobs->cfg->job_inactivity_timeout;
        if (job->state == FERRY_JOB_CONNECTING || job->state == FERRY_JOB_TRANSFERRING) {
            ferry_log_info("job %s: was %s when ferry stopped; queued again", job->id,
                           ferry_job_state_name(job->state));
            job->state = FERRY_JOB_QUEUED;
            store_job_put(jobs->store, job);
        } else if (job->state == FERRY_JOB_TRANSIENT_ERROR) {
            job->retry_at_ms = ferry_clock_ms() + (int64_t)job_retry_delay(jobs->cfg, job) * 1000;
            job->no_progress_since = ferry_clock_ms();
        } else if (job->state == FERRY_JOB_TRANSFERRED) {
            jobs_recover_complete(jobs, job);
        } else if (job_state_final(job->state)) {
            jobs_wipe_credentials(jobs, job); /* finished by a ferryd that kept them */
        }
    }
    jobs_prune(jobs);
    r = notify_new(jobs, &jobs->notify);
    if (r < 0)
        goto error;
    r = scheduler_start(jobs);
    if (r < 0)
        goto error;
    *ret_jobs = jobs;
    return 0;
error:
    jobs_free(jobs);
    return r;
}

/* Stop the thread (transfers checkpointed), close the store, free everything. */
struct ferry_jobs *
jobs_free(struct ferry_jobs *jobs)
{
    if (!jobs)
        return NULL;
    scheduler_stop(jobs);
    upload_cancel_abandon(jobs); /* queued while no jobs thread ran */
    jobs->notify = notify_free(jobs->notify);
    for (size_t i = 0; i < jobs->n; i++)
        job_free(jobs->v[i]);
    free(jobs->v);
    free(jobs->hash);
    jobs->store = store_free(jobs->store);
    pthread_mutex_destroy(&jobs->wake_lock);
    pthread_mutex_destroy(&jobs->lock);
    free((struct jobs_with_cfg *)jobs);
    return NULL;
}
