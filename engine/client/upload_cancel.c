/*
 * upload_cancel.c - the Cancel-Session of a cancelled upload job (Type 1/2) that holds a
 * server session: one BITS_POST with `BITS-Packet-Type: Cancel-Session` and the session's
 * BITS-Session-Id, so the server frees the part file at once instead of at its session
 * timeout (Microsoft: "Cancel-Session ... the server frees all resources").
 *
 * Best effort and never in the way: Cancel (any thread, the role's lock held) builds the
 * request with the job's RemoteUrl, credentials (the running transfer's copy, else loaded
 * from jobs.db before Cancel wipes them), proxy settings, client certificate and custom
 * headers, and queues it on jobs->up_cancels; the job is CANCELLED at once whatever
 * happens next. The jobs thread adds the request to its multi handle after the scheduler
 * stopped the job's transfer (upload_cancel_start, so no fragment is still on its way),
 * and libcurl ends it within UPLOAD_CANCEL_TIMEOUT_MS; its outcome is one log line. The
 * request refers to no job (the job may be pruned meanwhile): only to a copy of its id.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>

#include "ferry/log.h"
#include "client/fetcher-internal.h"
#include "client/client.h"
#include "client/job.h"
#include "client/store.h"
#include "client/upload.h"

#define UPLOAD_CANCEL_HEADER_MAX 256
#define UPLOAD_CANCEL_BODY_MAX (64u << 10)

struct upload_cancel {
    struct upload_cancel *next;
    struct req *q;              /* its easy handle; q->x is NULL */
    bool started;               /* added to the multi handle */
    char job_id[FERRY_GUID_STRLEN];
    char *session_id;
    char *r_packet, *r_error;   /* the answer's BITS-Packet-Type and BITS-Error-Code */
    size_t body_len;
};

static void
upload_cancel_free(struct ferry_jobs *jobs, struct upload_cancel *c)
{
    req_free(jobs, c->q);
    free(c->session_id);
    free(c->r_packet);
    free(c->r_error);
    free(c);
}

static size_t
upload_cancel_header_cb(char *buf, size_t size, size_t nitems, void *userdata)
{
    struct upload_cancel *c = userdata;
    size_t len = size * nitems;

    if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
        free(c->r_packet); /* a new response (100 Continue, an auth round) */
        free(c->r_error);
        c->r_packet = c->r_error = NULL;
    } else if (len > 17 && strncasecmp(buf, "BITS-Packet-Type:", 17) == 0) {
        free(c->r_packet);
        c->r_packet = upload_header_value(buf, len, 17, UPLOAD_CANCEL_HEADER_MAX);
    } else if (len > 16 && strncasecmp(buf, "BITS-Error-Code:", 16) == 0) {
        free(c->r_error);
        c->r_error = upload_header_value(buf, len, 16, UPLOAD_CANCEL_HEADER_MAX);
    }
    return len;
}

static size_t
upload_cancel_write_cb(char *buf, size_t size, size_t nmemb, void *userdata)
{
    struct upload_cancel *c = userdata;
    size_t len = size * nmemb;

    (void)buf;
    c->body_len += len;
    return c->body_len > UPLOAD_CANCEL_BODY_MAX ? 0 : len;
}

static size_t
upload_cancel_read_cb(char *buf, size_t size, size_t nitems, void *userdata)
{
    (void)buf;
    (void)size;
    (void)nitems;
    (void)userdata;
    return 0; /* no body */
}

/* The easy handle of c for job, with the credentials of x. 0 or -ENOMEM. */
static int
upload_cancel_build(struct xfer *x, struct upload_cancel *c)
{
    struct req *q = req_new(x, REQ_UPLOAD_CANCEL, 0, x->job->files[0].remote_url);
    char line[UPLOAD_CANCEL_HEADER_MAX + 32];
    struct curl_slist *n;
    CURL *e;

    if (!q)
        return -ENOMEM;
    q->x = NULL; /* the request outlives the transfer and the job */
    c->q = q;
    e = q->easy;
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, upload_cancel_header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, upload_cancel_write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "BITS_POST");
    curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)0);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, upload_cancel_read_cb);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)UPLOAD_CANCEL_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)UPLOAD_CANCEL_TIMEOUT_MS);
    snprintf(line, sizeof(line), "BITS-Session-Id: %s", c->session_id);
    n = curl_slist_append(q->hdrs, "BITS-Packet-Type: Cancel-Session");
    if (n)
        q->hdrs = n;
    n = n ? curl_slist_append(q->hdrs, line) : NULL;
    if (n)
        q->hdrs = n;
    n = n ? curl_slist_append(q->hdrs, "Expect:") : NULL;
    if (!n)
        return -ENOMEM;
    q->hdrs = n;
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, q->hdrs);
    return 0;
}

void
upload_cancel_session(struct ferry_jobs *jobs, struct job *job)
{
    struct upload_cancel *c;
    struct xfer *tmp = NULL, *x = job->xfer;
    int r = -ENOMEM;

    if (job->type == 0 || !job->up.session_id || job->nfiles == 0)
        return;
    c = calloc(1, sizeof(*c));
    if (!c)
        goto cleanup;
    snprintf(c->job_id, sizeof(c->job_id), "%s", job->id);
    c->session_id = strdup(job->up.session_id);
    if (!c->session_id)
        goto cleanup;
    if (!x) {
        /* at rest: its credentials from jobs.db, in memory only while the request is built
         * (libcurl keeps its own copy) */
        tmp = calloc(1, sizeof(*tmp));
        if (!tmp)
            goto cleanup;
        tmp->jobs = jobs;
        tmp->job = job;
        tmp->fd = tmp->dirfd = -1;
        xfer_load_creds(tmp);
        x = tmp;
    }
    r = upload_cancel_build(x, c);
cleanup:
    if (tmp) {
        xfer_wipe_creds(tmp);
        free(tmp);
    }
    if (r < 0) {
        ferry_log_warn("job %s: Cancel-Session of upload session %s not sent: %s", job->id,
                       job->up.session_id, strerror(-r));
        if (c)
            upload_cancel_free(jobs, c);
    } else {
        c->next = jobs->up_cancels;
        jobs->up_cancels = c;
    }
    /* given up either way: the job never sends to this session again */
    free(job->up.session_id);
    job->up.session_id = NULL;
    upload_store_put(jobs->store, job);
}

void
upload_cancel_start(struct ferry_jobs *jobs)
{
    for (struct upload_cancel **p = &jobs->up_cancels; *p;) {
        struct upload_cancel *c = *p;

        if (!c->started && curl_multi_add_handle(jobs->multi, c->q->easy) != CURLM_OK) {
            ferry_log_warn("job %s: Cancel-Session of upload session %s not sent: out of "
                           "memory", c->job_id, c->session_id);
            *p = c->next;
            upload_cancel_free(jobs, c);
            continue;
        }
        c->started = true;
        p = &c->next;
    }
}

void
upload_cancel_done(struct ferry_jobs *jobs, struct req *q, int curl_result, long status)
{
    struct upload_cancel **p = &jobs->up_cancels, *c;

    while (*p && (*p)->q != q)
        p = &(*p)->next;
    c = *p;
    if (!c)
        return;
    *p = c->next;
    if (curl_result != CURLE_OK)
        ferry_log_warn("job %s: Cancel-Session of upload session %s not delivered: %s (the "
                       "server drops the session at its session timeout)", c->job_id,
                       c->session_id, q->errbuf[0] ? q->errbuf
                                                   : curl_easy_strerror((CURLcode)curl_result));
    else if (status == 200 && c->r_packet && strcasecmp(c->r_packet, "Ack") == 0 &&
             !c->r_error)
        ferry_log_info("job %s: upload session %s cancelled on the server", c->job_id,
                       c->session_id);
    else
        ferry_log_warn("job %s: Cancel-Session of upload session %s refused: HTTP %ld%s%s",
                       c->job_id, c->session_id, status,
                       c->r_error ? ", BITS-Error-Code " : "", c->r_error ? c->r_error : "");
    upload_cancel_free(jobs, c);
}

void
upload_cancel_abandon(struct ferry_jobs *jobs)
{
    while (jobs->up_cancels) {
        struct upload_cancel *c = jobs->up_cancels;

        jobs->up_cancels = c->next;
        ferry_log_info("job %s: Cancel-Session of upload session %s not %s: ferryd stops",
                       c->job_id, c->session_id, c->started ? "answered" : "sent");
        upload_cancel_free(jobs, c);
    }
}
