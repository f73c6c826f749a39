/*
 * job.c - the BITS job model: states 0-8, priorities 0-3, the SetJobState transition rules,
 * writable properties and their limits, the error object, and the public info snapshot.
 * No I/O here: jobs.c persists and wakes the scheduler, the fetcher moves bytes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ferry/log.h"
#include "ferry/rate.h"
#include "client/job.h"
#include "core/relay.h"
#include "client/verify.h"

static void job_clear_error(struct job *job);

/* Allocate an empty job with BITS defaults. NULL on OOM. */
struct job *
job_new(void)
{
    struct job *job = calloc(1, sizeof(*job));

    if (!job)
        return NULL;
    job->priority = FERRY_PRIORITY_NORMAL;
    job->state = FERRY_JOB_SUSPENDED;
    job->min_retry_delay = JOB_DEFAULT_RETRY_DELAY;
    job->no_progress_timeout = JOB_DEFAULT_NO_PROGRESS;
    job->notify_flags = FERRY_NOTIFY_DEFAULT_FLAGS;
    job->max_download_time = JOB_DEFAULT_MAX_DOWNLOAD;
    job->inactivity_timeout = JOB_INACTIVITY_UNSET;
    return job;
}

/* Release a file's strings and chunk table (the struct itself is embedded). */
static void
jfile_done(struct jfile *f)
{
    free(f->remote_url);
    free(f->local_file);
    for (size_t i = 0; i < f->nmirrors; i++)
        free(f->mirrors[i]);
    free(f->mirrors);
    free(f->expected_digest);
    free(f->etag);
    free(f->last_modified);
    free(f->chunks);
    if (f->relay && !f->completed)
        relay_withdraw(f->relay); /* cancelled: its URL serves nothing more */
    relay_unref(f->relay);
    memset(f, 0, sizeof(*f));
}

/* Free a job and everything it owns. The fetcher must have stopped it. NULL-safe. */
struct job *
job_free(struct job *job)
{
    if (!job)
        return NULL;
    free(job->display_name);
    free(job->description);
    free(job->owner);
    free(job->proxy_list);
    free(job->proxy_bypass);
    free(job->cert_path);
    free(job->notify_program);
    ferry_cmdline_free(job->notify_argv, job->notify_argc);
    free(job->notify_url);
    ferry_rate_unref(job->rate);
    for (size_t i = 0; i < job->nheaders; i++)
        free(job->headers[i]);
    free(job->headers);
    job_clear_error(job);
    for (size_t i = 0; i < job->nfiles; i++)
        jfile_done(&job->files[i]);
    free(job->files);
    free(job->up.reply_file);
    free(job->up.session_id);
    free(job);
    return NULL;
}

/* Forget the error object. */
static void
job_clear_error(struct job *job)
{
    free(job->err.text);
    free(job->err.file);
    memset(&job->err, 0, sizeof(job->err));
}

/* Record the error object (context, BITS code, text, failing file's RemoteUrl). */
int
job_set_error(struct job *job, enum ferry_error_context ctx, uint32_t code, const char *file,
              const char *fmt, ...)
{
    va_list ap;
    char *text = NULL;
    int r;

    va_start(ap, fmt);
    r = vasprintf(&text, fmt, ap);
    va_end(ap);
    job_clear_error(job);
    if (r < 0)
        return -ENOMEM;
    job->err.set = true;
    job->err.context = ctx;
    job->err.code = code;
    job->err.text = text;
    job->err.file = file ? strdup(file) : NULL;
    return 0;
}

/* ACKNOWLEDGED and CANCELLED are never left. */
bool
job_state_final(enum ferry_job_state state)
{
    return state == FERRY_JOB_ACKNOWLEDGED || state == FERRY_JOB_CANCELLED;
}

/* Does the scheduler want to move bytes for this job? */
bool
job_runnable(const struct job *job)
{
    return job->state == FERRY_JOB_QUEUED || job->state == FERRY_JOB_CONNECTING ||
           job->state == FERRY_JOB_TRANSFERRING;
}

/*
 * Change state. The error object exists only in ERROR / TRANSIENT_ERROR: moving anywhere
 * else clears it (BITS: "until transferring restarts"). Entering TRANSFERRED stamps the
 * completion time. The modification time always moves.
 */
void
job_set_state(struct job *job, enum ferry_job_state state)
{
    if (state != FERRY_JOB_ERROR && state != FERRY_JOB_TRANSIENT_ERROR && job->err.set)
        job_clear_error(job);
    if (state == FERRY_JOB_TRANSFERRED && job->state != FERRY_JOB_TRANSFERRED)
        job->completion_time = ferry_filetime_now();
    if (job->state == FERRY_JOB_TRANSFERRED && !job_state_final(state) &&
        state != FERRY_JOB_TRANSFERRED)
        job->completion_time = 0;
    job->state = state;
    job->mtime = ferry_filetime_now();
}

/*
 * SetJobState rules (Microsoft's BITS job states, BG_JOB_STATE; docs/DESIGN.md §3): final
 * states are never left; Complete from any live state (BITS keeps the complete files:
 * BG_S_PARTIAL_COMPLETE); Resume needs files. Returns 0 when the action is allowed (it may be a
 * no-op), -EINVAL with st = RESULT BG_E_INVALID_STATE / BG_E_EMPTY otherwise.
 */
int
job_check_action(const struct job *job, enum ferry_job_action action, struct ferry_status *st)
{
    if ((unsigned)action > FERRY_JOB_ACTION_SUSPEND)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "JobState",
                                "JobState %u is not one of 0 (cancel), 1 (complete), "
                                "2 (resume), 3 (suspend)",
                                (unsigned)action);
    if (job_state_final(job->state))
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_RESULT, FERRY_BG_E_INVALID_STATE,
                                NULL, "job %s is %s: its state can no longer change", job->id,
                                ferry_job_state_name(job->state));
    switch (action) {
    case FERRY_JOB_ACTION_RESUME:
        if (job->nfiles == 0)
            return ferry_status_set(st, -EINVAL, FERRY_STATUS_RESULT, FERRY_BG_E_EMPTY, NULL,
                                    "job %s has no files to transfer", job->id);
        break;
    case FERRY_JOB_ACTION_COMPLETE:
    case FERRY_JOB_ACTION_CANCEL:
    case FERRY_JOB_ACTION_SUSPEND:
        break;
    }
    return 0;
}

static bool
job_text_ok(const char *s, size_t max)
{
    size_t n = 0;

    for (const unsigned char *p = (const unsigned char *)s; *p; p++, n++)
        if (*p < 0x20 || *p == 0x7f || n >= max)
            return false;
    return true;
}

/* Validate a Put before anything changes (all-or-nothing). */
int
job_check_props(const struct ferry_config *cfg, const struct job *job,
                const struct ferry_job_props *props, struct ferry_status *st)
{
    if (job_state_final(job->state))
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_RESULT, FERRY_BG_E_INVALID_STATE,
                                NULL, "job %s is %s and read-only", job->id,
                                ferry_job_state_name(job->state));
    if ((props->mask & FERRY_JOBPROP_DISPLAY_NAME) &&
        (!props->display_name || !job_text_ok(props->display_name, JOB_MAX_DISPLAY_NAME)))
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "DisplayName",
                                "DisplayName must be 1 to %u printable characters",
                                JOB_MAX_DISPLAY_NAME);
    if ((props->mask & FERRY_JOBPROP_DESCRIPTION) && props->description &&
        !job_text_ok(props->description, JOB_MAX_DESCRIPTION))
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "Description",
                                "Description must be at most %u printable characters",
                                JOB_MAX_DESCRIPTION);
    if ((props->mask & FERRY_JOBPROP_PRIORITY) && props->priority > FERRY_PRIORITY_LOW)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "Priority",
                                "Priority %u is not 0 (foreground) to 3 (low)",
                                props->priority);
    if ((props->mask & FERRY_JOBPROP_CONNECTIONS) &&
        (props->connections < 1 || props->connections > JOB_MAX_CONNECTIONS))
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "Connections",
                                "Connections must be 1 to %u", JOB_MAX_CONNECTIONS);
    if ((props->mask & FERRY_JOBPROP_NOTIFY_FLAGS) &&
        (props->notify_flags & ~FERRY_NOTIFY_ALL_FLAGS))
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "NotifyFlags",
                                "NotifyFlags 0x%X has bits outside 0x1F (1 transferred, 2 "
                                "error, 4 disable, 8 modification, 16 file transferred)",
                                (unsigned)props->notify_flags);
    if ((props->mask & FERRY_JOBPROP_NOTIFY_URL) && props->notify_url && *props->notify_url)
        return job_url_check(props->notify_url, st, "NotifyUrl");
    (void)cfg;
    return 0;
}

/* Apply validated props; MinimumRetryDelay below the floor is raised to it (as BITS does). */
int
job_apply_props(const struct ferry_config *cfg, struct job *job,
                const struct ferry_job_props *props)
{
    if (props->mask & FERRY_JOBPROP_DISPLAY_NAME) {
        char *s = strdup(props->display_name);
        if (!s)
            return -ENOMEM;
        free(job->display_name);
        job->display_name = s;
    }
    if (props->mask & FERRY_JOBPROP_DESCRIPTION) {
        char *s = props->description ? strdup(props->description) : NULL;
        if (props->description && !s)
            return -ENOMEM;
        free(job->description);
        job->description = s;
    }
    if (props->mask & FERRY_JOBPROP_PRIORITY)
        job->priority = (enum ferry_job_priority)props->priority;
    if (props->mask & FERRY_JOBPROP_MIN_RETRY_DELAY) {
        uint32_t floor = cfg->retry_delay_min ? cfg->retry_delay_min : 5;
        job->min_retry_delay =
            props->minimum_retry_delay < floor ? floor : props->minimum_retry_delay;
    }
    if (props->mask & FERRY_JOBPROP_NO_PROGRESS_TIMEOUT)
        job->no_progress_timeout = props->no_progress_timeout;
    if (props->mask & FERRY_JOBPROP_CONNECTIONS)
        job->connections = props->connections;
    if (props->mask & FERRY_JOBPROP_BANDWIDTH_LIMIT)
        job->bandwidth_limit = props->bandwidth_limit;
    if (props->mask & FERRY_JOBPROP_NOTIFY_FLAGS)
        job->notify_flags = props->notify_flags;
    if (props->mask & FERRY_JOBPROP_NOTIFY_URL) {
        const char *u = props->notify_url;
        char *s = u && *u ? strdup(u) : NULL;
        if (u && *u && !s)
            return -ENOMEM;
        free(job->notify_url);
        job->notify_url = s;
    }
    if (props->mask & FERRY_JOBPROP_MAX_DOWNLOAD_TIME)
        job->max_download_time = props->max_download_time;
    if (props->mask & FERRY_JOBPROP_INACTIVITY_TIMEOUT)
        job->inactivity_timeout = props->inactivity_timeout;
    job->mtime = ferry_filetime_now();
    return 0;
}

/* RemoteUrl: http or https, a host, no control characters or spaces, bounded length. */
int
job_url_check(const char *url, struct ferry_status *st, const char *param)
{
    const char *rest;

    if (!url || !*url)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, param, "%s is required", param);
    if (strlen(url) > JOB_MAX_URL)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, param, "%s is longer than %u bytes", param,
                                JOB_MAX_URL);
    for (const unsigned char *p = (const unsigned char *)url; *p; p++)
        if (*p <= 0x20 || *p == 0x7f)
            return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                    FERRY_E_INVALIDARG, param,
                                    "%s contains a space or control character", param);
    if (strncasecmp(url, "http://", 7) == 0)
        rest = url + 7;
    else if (strncasecmp(url, "https://", 8) == 0)
        rest = url + 8;
    else
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, param,
                                "%s '%s' is not an http:// or https:// URL", param, url);
    if (*rest == '\0' || *rest == '/' || *rest == '?' || *rest == '#')
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, param, "%s '%s' has no host", param, url);
    return 0;
}

/* Replace the notification command line (validated by the caller); program NULL clears
 * it. 0 or -ENOMEM with the job unchanged. */
int
job_set_notify_cmd(struct job *job, const char *program, char *const *argv, size_t argc)
{
    char *prog = NULL, **v = NULL;

    if (program) {
        prog = strdup(program);
        v = calloc(argc ? argc : 1, sizeof(*v));
        if (!prog || !v)
            goto oom;
        for (size_t i = 0; i < argc; i++) {
            v[i] = strdup(argv[i]);
            if (!v[i]) {
                ferry_cmdline_free(v, i);
                v = NULL;
                goto oom;
            }
        }
    }
    free(job->notify_program);
    ferry_cmdline_free(job->notify_argv, job->notify_argc);
    job->notify_program = prog;
    job->notify_argv = v;
    job->notify_argc = program ? argc : 0;
    return 0;
oom:
    free(prog);
    free(v);
    return -ENOMEM;
}

/* Append a file (already validated). */
int
job_add_file(struct job *job, const char *remote_url, const char *local_file)
{
    struct jfile *nv = realloc(job->files, (job->nfiles + 1) * sizeof(*nv));
    struct jfile *f;

    if (!nv)
        return -ENOMEM;
    job->files = nv;
    f = &job->files[job->nfiles];
    memset(f, 0, sizeof(*f));
    f->remote_url = strdup(remote_url);
    f->local_file = strdup(local_file);
    f->bytes_total = FERRY_SIZE_UNKNOWN;
    if (!f->remote_url || !f->local_file) {
        jfile_done(f);
        return -ENOMEM;
    }
    job->nfiles++;
    job->mtime = ferry_filetime_now();
    return 0;
}

/* Index of the first file not completed (files go in order), nfiles when all are. */
size_t
job_current_file(const struct job *job)
{
    size_t i;

    for (i = 0; i < job->nfiles; i++)
        if (!job->files[i].completed)
            break;
    return i;
}

/* Forget a file's progress and validators (the remote changed or its bytes are bad). The
 * bytes already fetched count as re-fetched when they come again. */
void
job_file_reset(struct job *job, size_t idx)
{
    struct jfile *f = &job->files[idx];

    job->bytes_refetched += f->bytes_transferred;
    f->bytes_transferred = 0;
    f->completed = false;
    free(f->etag);
    free(f->last_modified);
    f->etag = NULL;
    f->last_modified = NULL;
    f->has_manifest = false;
    free(f->chunks);
    f->chunks = NULL;
    f->nchunks = 0;
    f->chunk_size = 0;
    f->rehash_pending = false;
    f->layout_gen++;
    if (f->relay)
        relay_withdraw(f->relay); /* until the next version is laid out */
    f->have_tree = false;
}

/*
 * Record the tree digest of a file whose chunks are all in (job.h): each chunk contributes
 * the digest computed as its bytes were written (or re-hashed on resume), else the
 * manifest's; a zero chunk (a hole never fetched) the digest of its zero bytes.
 */
int
job_file_seal(struct jfile *f)
{
    void *tree;
    int r = 0;

    f->have_tree = false;
    if (f->bytes_total == FERRY_SIZE_UNKNOWN || (f->bytes_total > 0 && !f->chunks))
        return -ENODATA;
    tree = verify_stream_new();
    if (!tree)
        return -ENOMEM;
    verify_tree_init(tree);
    for (uint64_t i = 0; i < f->nchunks; i++) {
        const struct chunk *c = &f->chunks[i];
        uint64_t len = i + 1 < f->nchunks ? f->chunk_size : f->bytes_total - i * f->chunk_size;
        uint8_t z[16];

        if (c->state == CHUNK_ZERO) {
            r = verify_zero_digest(len, z);
            if (r < 0)
                goto cleanup;
            verify_tree_add(tree, z);
        } else if (c->have_digest) {
            verify_tree_add(tree, c->digest);
        } else if (c->have_expected) {
            verify_tree_add(tree, c->expected);
        } else {
            r = -ENODATA;
            goto cleanup;
        }
    }
    verify_stream_digest(tree, f->tree_digest);
    f->have_tree = true;
cleanup:
    verify_stream_free(tree);
    return r;
}

/* Seconds before a retry: MinimumRetryDelay, at least cfg->retry_delay_min. */
uint32_t
job_retry_delay(const struct ferry_config *cfg, const struct job *job)
{
    uint32_t floor = cfg->retry_delay_min ? cfg->retry_delay_min : 5;

    return job->min_retry_delay < floor ? floor : job->min_retry_delay;
}

/*
 * A transient error happened (the caller set the error object). BITS: retry after
 * MinimumRetryDelay, unless NoProgressTimeout is 0 (every error fatal), already ran out, or
 * is shorter than the retry delay — then ERROR.
 */
void
job_transient(const struct ferry_config *cfg, struct job *job, int64_t now_ms)
{
    uint32_t delay = job_retry_delay(cfg, job);

    job->transient_errors++;
    if (job->no_progress_since == 0)
        job->no_progress_since = now_ms;
    if (job->no_progress_timeout == 0 || delay > job->no_progress_timeout ||
        now_ms - job->no_progress_since + (int64_t)delay * 1000 >
            (int64_t)job->no_progress_timeout * 1000) {
        job_set_state(job, FERRY_JOB_ERROR);
        return;
    }
    job->retry_at_ms = now_ms + (int64_t)delay * 1000;
    job_set_state(job, FERRY_JOB_TRANSIENT_ERROR);
}

static int
job_file_info(const struct jfile *f, struct ferry_file_info *out)
{
    out->remote_url = strdup(f->remote_url);
    out->local_file = strdup(f->local_file);
    if (!out->remote_url || !out->local_file)
        return -ENOMEM;
    out->bytes_total = f->bytes_total;
    out->bytes_transferred = f->bytes_transferred;
    out->completed = f->completed;
    return 0;
}

/* Snapshot for the public API. Never contains credentials. `connections` is what the
 * fetcher has in flight for the job now (fetcher_connections), given by the caller so the
 * model does not depend on the fetcher. */
int
job_info(const struct job *job, const struct ferry_config *cfg, uint32_t connections,
         struct ferry_job_info **ret_info)
{
    struct ferry_job_info *info = calloc(1, sizeof(*info));
    bool all_known = true;
    int r = -ENOMEM;

    if (!info)
        return -ENOMEM;
    snprintf(info->job_id, sizeof(info->job_id), "%s", job->id);
    info->display_name = strdup(job->display_name ? job->display_name : "");
    info->description = strdup(job->description ? job->description : "");
    info->owner = strdup(job->owner ? job->owner : "");
    if (!info->display_name || !info->description || !info->owner)
        goto error;
    info->type = job->type;
    info->priority = job->priority;
    info->state = job->state;
    info->minimum_retry_delay = job->min_retry_delay;
    info->no_progress_timeout = job->no_progress_timeout;
    info->max_download_time = job->max_download_time;
    info->inactivity_timeout = job->inactivity_timeout;
    info->download_time = job->download_ms / 1000;
    info->creation_time = job->ctime;
    info->modification_time = job->mtime;
    info->completion_time = job->completion_time;
    info->files_total = (uint32_t)job->nfiles;
    info->transient_error_count = job->transient_errors;
    info->throughput = job->throughput;
    info->throughput_avg =
        job->transfer_ms > 0 ? job->bytes_fetched * 1000 / (uint64_t)job->transfer_ms : 0;
    info->bytes_refetched = job->bytes_refetched;
    info->bytes_from_origin = job->bytes_from_origin;
    info->bytes_from_peers = job->bytes_from_peers;
    info->retries = job->retries;
    info->connections = connections;
    info->connections_per_file = job->connections ? job->connections
                                                  : cfg->connections_per_file;
    info->bandwidth_limit = job->bandwidth_limit;
    info->has_credentials = job->has_credentials;
    info->notify_flags = job->notify_flags;
    if (job->notify_program) {
        info->notify_program = strdup(job->notify_program);
        info->notify_cmdline = ferry_cmdline_join(job->notify_argv, job->notify_argc);
        if (!info->notify_program || !info->notify_cmdline)
            goto error;
    }
    if (job->notify_url) {
        info->notify_url = strdup(job->notify_url);
        if (!info->notify_url)
            goto error;
    }
    snprintf(info->fetch_path, sizeof(info->fetch_path), "%s",
             job->fetch_path ? job->fetch_path : "");
    if (job->nfiles) {
        info->files = calloc(job->nfiles, sizeof(*info->files));
        if (!info->files)
            goto error;
        info->nfiles = job->nfiles;
    }
    for (size_t i = 0; i < job->nfiles; i++) {
        const struct jfile *f = &job->files[i];

        r = job_file_info(f, &info->files[i]);
        if (r < 0)
            goto error;
        if (f->bytes_total == FERRY_SIZE_UNKNOWN)
            all_known = false;
        else
            info->bytes_total += f->bytes_total;
        info->bytes_transferred += f->bytes_transferred;
        if (f->completed)
            info->files_transferred++;
    }
    if (!all_known)
        info->bytes_total = FERRY_SIZE_UNKNOWN;
    *ret_info = info;
    return 0;
error:
    ferry_job_info_free(info);
    return r < 0 ? r : -ENOMEM;
}

/* Free a snapshot from ferry_jobs_get / _list. NULL-safe; returns NULL. */
struct ferry_job_info *
ferry_job_info_free(struct ferry_job_info *info)
{
    if (!info)
        return NULL;
    free(info->display_name);
    free(info->description);
    free(info->owner);
    free(info->notify_program);
    free(info->notify_cmdline);
    free(info->notify_url);
    for (size_t i = 0; i < info->nfiles; i++) {
        free(info->files[i].remote_url);
        free(info->files[i].local_file);
    }
    free(info->files);
    free(info);
    return NULL;
}

/* Free the array from ferry_jobs_list. */
void
ferry_job_info_list_free(struct ferry_job_info **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ferry_job_info_free(v[i]);
    free(v);
}

/* Release the strings of a GetError record (the struct is the caller's). */
void
ferry_job_error_done(struct ferry_job_error *err)
{
    if (!err)
        return;
    free(err->context_text);
    free(err->text);
    free(err->file);
    memset(err, 0, sizeof(*err));
}

/* "QUEUED", "TRANSFERRING", ... ("UNKNOWN" outside 0-8). */
const char *
ferry_job_state_name(enum ferry_job_state state)
{
    static const char *const names[] = {
        "QUEUED", "CONNECTING", "TRANSFERRING", "SUSPENDED", "ERROR",
        "TRANSIENT_ERROR", "TRANSFERRED", "ACKNOWLEDGED", "CANCELLED",
    };

    if ((unsigned)state >= sizeof(names) / sizeof(names[0]))
        return "UNKNOWN";
    return names[state];
}
