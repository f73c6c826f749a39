/*
 * upload_job.c - the API side of upload jobs (Type 1/2), called by jobs.c with the role's
 * lock held: one file per upload job, ReplyFileName (ferry_jobs_set_option), and what
 * Complete and Cancel do with the reply of an upload-reply job.
 *
 * The reply is written by the jobs thread into ".<name>.ferry-<job8>.part" beside its path
 * (upload_xfer.c) and renamed onto it at Complete, like a download's LocalFile: nothing is
 * ever half-visible at ReplyFileName.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ferry/log.h"
#include "client/job.h"
#include "client/localpath.h"
#include "client/store.h"
#include "client/upload.h"

#define UPLOAD_REPLY_SUFFIX ".reply"

int
upload_reply_path(const struct job *job, char *buf, size_t len)
{
    int n;

    if (job->up.reply_file)
        n = snprintf(buf, len, "%s", job->up.reply_file);
    else if (job->nfiles > 0)
        n = snprintf(buf, len, "%s" UPLOAD_REPLY_SUFFIX, job->files[0].local_file);
    else
        return -ENOENT;
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int
upload_check_add_file(const struct job *job, struct ferry_status *st)
{
    if (job->type == 0 || job->nfiles == 0)
        return 0;
    return ferry_status_set(st, -EMLINK, FERRY_STATUS_RESULT, FERRY_BG_E_TOO_MANY_FILES, NULL,
                            "job %s is an upload job: it has exactly one file", job->id);
}

int
upload_set_reply_file(const struct ferry_config *cfg, struct store *store, struct job *job,
                      const char *path, struct ferry_status *st)
{
    char *dup;
    int r;

    if (job->type != 2)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_RESULT, FERRY_BG_E_INVALID_STATE,
                                NULL, "job %s is not an upload-reply job (Type 2)", job->id);
    /* the reply's temp file is named after the path: fixed once a transfer may write it */
    if (job->xfer || job->state == FERRY_JOB_CONNECTING ||
        job->state == FERRY_JOB_TRANSFERRING || job->state == FERRY_JOB_TRANSFERRED ||
        job->up.reply_ready)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_RESULT, FERRY_BG_E_INVALID_STATE,
                                NULL, "job %s is %s: ReplyFileName can be changed only while "
                                "the job is queued, suspended or in error", job->id,
                                ferry_job_state_name(job->state));
    r = localpath_check(cfg, path, st);
    if (r < 0)
        return r;
    if (strcmp(path, job->files[0].local_file) == 0)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "Value",
                                "ReplyFileName must not be the uploaded LocalFile");
    dup = strdup(path);
    if (!dup)
        return ferry_status_oom(st, -ENOMEM);
    free(job->up.reply_file);
    job->up.reply_file = dup;
    r = upload_store_put(store, job);
    if (r < 0)
        return ferry_status_set(st, r, FERRY_STATUS_RESULT, FERRY_E_FAIL, NULL,
                                "job %s: ReplyFileName could not be stored", job->id);
    return 0;
}

int
upload_complete(const struct ferry_config *cfg, struct job *job)
{
    char path[4096];
    struct stat st;
    int r;

    if (job->type != 2)
        return 0;
    r = upload_reply_path(job, path, sizeof(path));
    if (r < 0)
        return r;
    r = localpath_commit(cfg, job->id, path);
    if (r == -ENOENT && job->up.reply_ready && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
        /* renamed by a Complete a crash cut short */
        ferry_log_info("job %s: reply '%s' was already in place", job->id, path);
        r = 0;
    }
    return r;
}

void
upload_remove_temps(const struct ferry_config *cfg, struct job *job)
{
    char path[4096];
    int r;

    if (job->type != 2 || upload_reply_path(job, path, sizeof(path)) < 0)
        return;
    r = localpath_remove_temp(cfg, job->id, path);
    if (r < 0)
        ferry_log_warn("job %s: the reply's temp file for '%s' could not be removed: %s",
                       job->id, path, strerror(-r));
}
