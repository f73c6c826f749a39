/*
 * fetch_error.c - the one translation of libcurl results, HTTP statuses and local errors
 * into BITS terms (fetch_error_classify), and failing a transfer with it: checkpoint, stop,
 * ERROR or TRANSIENT_ERROR.
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

/*
 * The one translation of libcurl results, HTTP statuses and local errors into BITS terms:
 * transient (retried after MinimumRetryDelay) or fatal, an error context and an HRESULT.
 */
static void
fetch_error_classify(const struct fetch_outcome *o, struct fetch_error *e)
{
    memset(e, 0, sizeof(*e));
    e->context = FERRY_ERRCTX_GENERAL_TRANSPORT;
    switch (o->reason) {
    case FETCH_OK:
        break;
    case FETCH_REMOTE_CHANGED:
        e->context = FERRY_ERRCTX_REMOTE_FILE;
        e->code = FERRY_E_REMOTE_CHANGED;
        snprintf(e->text, sizeof(e->text),
                 "the remote file keeps changing during the transfer");
        return;
    case FETCH_NO_RANGES:
        e->context = FERRY_ERRCTX_REMOTE_FILE;
        e->code = FERRY_BG_E_INSUFFICIENT_RANGE_SUPPORT;
        snprintf(e->text, sizeof(e->text),
                 "the server does not support the Range requests needed to resume");
        return;
    case FETCH_LOCAL:
        e->context = FERRY_ERRCTX_LOCAL_FILE;
        if (o->err == ENOSPC || o->err == EDQUOT)
            e->code = FERRY_E_DISK_FULL;
        else if (o->err == EACCES || o->err == EPERM || o->err == EROFS)
            e->code = FERRY_E_ACCESSDENIED;
        else if (o->err == ENOENT || o->err == ENOTDIR)
            e->code = FERRY_E_PATH_NOT_FOUND;
        else
            e->code = FERRY_E_FAIL;
        snprintf(e->text, sizeof(e->text), "local file error: %s", strerror(o->err));
        return;
    case FETCH_BAD_RESPONSE:
        e->transient = true;
        e->context = FERRY_ERRCTX_REMOTE_FILE;
        e->code = FERRY_BG_E_INVALID_SERVER_RESPONSE;
        snprintf(e->text, sizeof(e->text), "the server sent an invalid response");
        return;
    case FETCH_MISSING_SIZE:
        e->context = FERRY_ERRCTX_REMOTE_FILE;
        e->code = FERRY_BG_E_MISSING_FILE_SIZE;
        snprintf(e->text, sizeof(e->text), "the server did not return the file size");
        return;
    case FETCH_CHECKSUM:
        e->context = FERRY_ERRCTX_REMOTE_FILE;
        e->code = FERRY_E_CHECKSUM_MISMATCH;
        snprintf(e->text, sizeof(e->text),
                 "the file's content does not match its expected digest");
        return;
    case FETCH_TOO_BIG:
        e->context = FERRY_ERRCTX_REMOTE_FILE;
        e->code = FERRY_BG_E_INVALID_SERVER_RESPONSE;
        snprintf(e->text, sizeof(e->text), "the server's manifest is too large");
        return;
    case FETCH_LOCAL_CHANGED:
        e->context = FERRY_ERRCTX_LOCAL_FILE;
        e->code = FERRY_BG_E_LOCAL_FILE_CHANGED;
        snprintf(e->text, sizeof(e->text),
                 "the local file changed during the upload (size, time or inode)");
        return;
    case FETCH_BITS_ERROR:
        /* the upload server's own verdict: its context (BG_ERROR_CONTEXT values), fatal
         * unless the HTTP status says the server is busy or failing */
        e->context = o->bits_context >= FERRY_ERRCTX_UNKNOWN &&
                             o->bits_context <= FERRY_ERRCTX_REMOTE_APPLICATION
                         ? (enum ferry_error_context)o->bits_context
                         : FERRY_ERRCTX_REMOTE_FILE;
        e->code = o->bits_code;
        e->transient = o->status >= 500 || o->status == 408 || o->status == 429;
        snprintf(e->text, sizeof(e->text),
                 "the upload server refused the request: HTTP %ld, BITS error 0x%08X",
                 o->status, o->bits_code);
        return;
    }
    if (o->res != CURLE_OK) {
        const char *t = o->curl_text && *o->curl_text ? o->curl_text
                                                      : curl_easy_strerror(o->res);
        e->transient = true;
        switch (o->res) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
            e->code = 0x80072EE7u; /* ERROR_INTERNET_NAME_NOT_RESOLVED */
            break;
        case CURLE_COULDNT_CONNECT:
            e->code = 0x80072EFDu; /* ERROR_INTERNET_CANNOT_CONNECT */
            break;
        case CURLE_OPERATION_TIMEDOUT:
            e->code = 0x80072EE2u; /* ERROR_INTERNET_TIMEOUT */
            break;
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
            e->code = 0x80072EFEu; /* ERROR_INTERNET_CONNECTION_ABORTED */
            break;
        case CURLE_SSL_CONNECT_ERROR:
            e->code = 0x80072F7Du; /* ERROR_INTERNET_SECURITY_CHANNEL_ERROR */
            break;
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
            e->transient = false;
            e->code = 0x80072F0Du; /* ERROR_INTERNET_INVALID_CA */
            break;
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_ENGINE_NOTFOUND:
            e->transient = false;
            e->code = 0x80072F0Cu; /* ERROR_INTERNET_CLIENT_AUTH_CERT_NEEDED */
            break;
        case CURLE_TOO_MANY_REDIRECTS:
            e->transient = false;
            e->context = FERRY_ERRCTX_REMOTE_FILE;
            e->code = 0x80072F08u; /* ERROR_INTERNET_REDIRECT_FAILED */
            break;
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_URL_MALFORMAT:
            e->transient = false;
            e->context = FERRY_ERRCTX_REMOTE_FILE;
            e->code = FERRY_E_INVALIDARG;
            break;
        case CURLE_OUT_OF_MEMORY:
            e->context = FERRY_ERRCTX_GENERAL_QUEUE_MANAGER;
            e->code = FERRY_E_OUTOFMEMORY;
            break;
        default:
            e->code = FERRY_E_FAIL;
            break;
        }
        snprintf(e->text, sizeof(e->text), "transfer failed: %s", t);
        return;
    }
    if (o->status >= 400) {
        e->context = FERRY_ERRCTX_REMOTE_FILE;
        e->code = FERRY_BG_E_HTTP_ERROR(o->status);
        e->transient = o->status >= 500 || o->status == 408 || o->status == 429;
        if (o->status == 407)
            e->context = FERRY_ERRCTX_GENERAL_TRANSPORT;
        snprintf(e->text, sizeof(e->text), "the server returned HTTP status %ld", o->status);
        return;
    }
    /* a status we cannot use (1xx/3xx left over, 204, ...) */
    e->transient = true;
    e->context = FERRY_ERRCTX_REMOTE_FILE;
    e->code = FERRY_BG_E_INVALID_SERVER_RESPONSE;
    snprintf(e->text, sizeof(e->text), "the server answered with unexpected HTTP status %ld",
             o->status);
}

/* Error decided: checkpoint, stop, and move the job to ERROR / TRANSIENT_ERROR. */
void
xfer_fail(struct xfer *x, const struct fetch_outcome *o)
{
    struct ferry_jobs *jobs = x->jobs;
    struct job *job = x->job;
    struct fetch_error e;
    char *file = strdup(job->files[x->fidx].remote_url);

    if (!job_runnable(job)) {
        /* suspended or cancelled meanwhile: the API's state stands, only stop */
        free(file);
        xfer_free(x, true);
        return;
    }
    fetch_error_classify(o, &e);
    ferry_log_event(e.transient ? FERRY_LOG_INFO : FERRY_LOG_WARN, FERRY_MSGID_JOB_ERROR, job->id,
                    file, "job %s: '%s': %s (0x%08X, %s)", job->id, file ? file : "", e.text,
                    e.code, e.transient ? "transient" : "fatal");
    xfer_free(x, true);
    job_set_error(job, e.context, e.code, file, "%s", e.text);
    free(file);
    if (e.transient)
        job_transient(jobs->cfg, job, ferry_clock_ms());
    else
        job_set_state(job, FERRY_JOB_ERROR);
    job->run_since_ms = 0;
    store_job_put(jobs->store, job);
    store_sync(jobs->store);
}

/* A local error (an errno, > 0) ends the transfer: xfer_fail as FETCH_LOCAL. Frees x. */
void
xfer_fail_local(struct xfer *x, int err)
{
    struct fetch_outcome o = {.reason = FETCH_LOCAL, .err = err};

    xfer_fail(x, &o);
}
