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
 * libcurl, HTTP and local errors are translated to BITS codes in one place:
 * fetcher_classify().
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ferry/log.h"
#include "jobs-internal.h"

#define FETCH_BUFFER_SIZE (512 * 1024)
/*
 * libcurl hands the write callback at most 16 KiB at a time (CURL_MAX_WRITE_SIZE), whatever
 * CURLOPT_BUFFERSIZE: one pwrite() each meant 131k syscalls for 2 GiB. Range bodies are
 * staged per request and written in page-aligned blocks of this size instead. 64 KiB gave
 * the least system time (ext4 and tmpfs): the stage is still in L2 when the kernel copies
 * it; 256 KiB stages (beside curl's 512 KiB buffer) cost more than 16 KiB writes.
 */
#define FETCH_STAGE_SIZE (64 * 1024)
#define FETCH_MAX_HEADER_VALUE 2048
#define FETCH_MAX_CHUNK_FAILURES 3
#define FETCH_MAX_REMOTE_RESTARTS 3
#define FETCH_USER_AGENT "ferry/" FERRY_VERSION " (BITS-compatible)"

enum req_kind { REQ_PROBE, REQ_MANIFEST, REQ_RANGE };

/* Why a request ended besides libcurl's own result. */
enum fetch_reason {
    FETCH_OK = 0,
    FETCH_REMOTE_CHANGED,   /* 200 to a range, other Content-Range, other validators */
    FETCH_NO_RANGES,        /* the server ignores Range for a file that needs them */
    FETCH_LOCAL,            /* pwrite/fallocate/open failed: errno in fail_errno */
    FETCH_BAD_RESPONSE,     /* more bytes than asked, missing headers, short body */
    FETCH_MISSING_SIZE,     /* HEAD without a length */
    FETCH_CHECKSUM,         /* a chunk failed its manifest digest too often */
    FETCH_TOO_BIG,          /* manifest over its cap */
};

struct mirror {
    char *url;
    char *etag;
    char *last_modified;
    bool ok;                /* probed, same size as the primary */
};

struct req {
    struct xfer *x;
    CURL *easy;
    enum req_kind kind;
    size_t mirror;
    uint64_t chunk;
    uint64_t start, end;    /* inclusive */
    uint64_t pos;           /* next offset received */
    uint64_t wpos;          /* next offset to write: [wpos, pos) sits in stage */
    uint8_t *stage;         /* FETCH_STAGE_SIZE bytes, range requests only */
    void *hs;
    bool checked;
    bool discard;           /* an error body: read and dropped */
    bool paused;            /* held back by pacing (CURL_WRITEFUNC_PAUSE) */
    enum fetch_reason fail;
    int fail_errno;
    char *etag, *last_modified, *content_range, *link, *accept_ranges;
    char *body;
    size_t body_len;
    struct curl_slist *hdrs;
    char errbuf[CURL_ERROR_SIZE];
};

enum xfer_phase { PH_PROBE, PH_MANIFEST, PH_RANGES };

struct xfer {
    struct ferry_jobs *jobs;
    struct job *job;
    size_t fidx;
    int fd;
    int dirfd;
    enum xfer_phase phase;
    struct mirror *mirrors;
    size_t nmirrors;
    size_t probes_left;
    size_t next_mirror;
    struct req **reqs;
    size_t nreqs;
    unsigned conns;
    uint64_t scan;
    uint64_t unpersisted;
    uint64_t ckpt_bytes;
    int64_t last_ckpt_ms;
    struct metalink *ml;
    char *manifest_url;
    struct sync_req *sync;   /* checkpoint in progress on the jobs-sync thread */
    struct sync_req *rehash; /* re-hash of the verified chunks of a resumed file */
    struct sync_req *digest; /* whole-file ExpectedDigest check before the file completes */
    bool digest_ok;          /* ... and it matched */
    /* credentials, loaded once per transfer; wiped on free */
    bool have_server_cred, have_proxy_cred;
    unsigned server_scheme, proxy_scheme;
    char *server_user, *server_pass, *proxy_user, *proxy_pass;
};

/* An outcome to translate (fetcher_classify). */
struct fetch_outcome {
    CURLcode res;
    long status;
    enum fetch_reason reason;
    int err;                /* errno for FETCH_LOCAL */
    const char *curl_text;
};

struct fetch_error {
    bool transient;
    enum ferry_error_context context;
    uint32_t code;
    char text[256];
};

static void xfer_free(struct xfer *x, bool checkpoint);
static void xfer_pump(struct xfer *x);

/*
 * The one translation of libcurl results, HTTP statuses and local errors into BITS terms:
 * transient (retried after MinimumRetryDelay) or fatal, an error context and an HRESULT.
 */
static void
fetcher_classify(const struct fetch_outcome *o, struct fetch_error *e)
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

/* ---- small helpers ---- */

static uint64_t
xfer_chunk_len(const struct jfile *f, uint64_t i)
{
    uint64_t off = i * f->chunk_size;

    return off + f->chunk_size > f->bytes_total ? f->bytes_total - off : f->chunk_size;
}

static char *
fetch_header_value(const char *line, size_t len, size_t namelen)
{
    const char *v = line + namelen;
    const char *e = line + len;

    while (v < e && (*v == ' ' || *v == '\t'))
        v++;
    while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t'))
        e--;
    if ((size_t)(e - v) > FETCH_MAX_HEADER_VALUE)
        e = v + FETCH_MAX_HEADER_VALUE;
    return strndup(v, (size_t)(e - v));
}

static void
req_reset_headers(struct req *q)
{
    free(q->etag);
    free(q->last_modified);
    free(q->content_range);
    free(q->link);
    free(q->accept_ranges);
    q->etag = q->last_modified = q->content_range = q->link = q->accept_ranges = NULL;
}

static void
fetch_set(char **slot, char *v)
{
    free(*slot);
    *slot = v;
}

static size_t
req_header_cb(char *buf, size_t size, size_t nitems, void *userdata)
{
    struct req *q = userdata;
    size_t len = size * nitems;

    if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
        req_reset_headers(q); /* a new response (redirect, 100, auth round) */
        return len;
    }
    if (len > 5 && strncasecmp(buf, "ETag:", 5) == 0)
        fetch_set(&q->etag, fetch_header_value(buf, len, 5));
    else if (len > 14 && strncasecmp(buf, "Last-Modified:", 14) == 0)
        fetch_set(&q->last_modified, fetch_header_value(buf, len, 14));
    else if (len > 14 && strncasecmp(buf, "Content-Range:", 14) == 0)
        fetch_set(&q->content_range, fetch_header_value(buf, len, 14));
    else if (len > 5 && strncasecmp(buf, "Link:", 5) == 0 && !q->link)
        fetch_set(&q->link, fetch_header_value(buf, len, 5));
    else if (len > 5 && strncasecmp(buf, "Link:", 5) == 0 && q->link &&
             !strstr(q->link, "describedby"))
        fetch_set(&q->link, fetch_header_value(buf, len, 5));
    else if (len > 14 && strncasecmp(buf, "Accept-Ranges:", 14) == 0)
        fetch_set(&q->accept_ranges, fetch_header_value(buf, len, 14));
    return len;
}

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
 * Bandwidth pacing: a token bucket per job (its BandwidthLimit) and one for the role
 * (cfg->bandwidth_limit). libcurl's own MAX_RECV_SPEED cannot hold a loopback transfer of a
 * few MiB (it checks between reads that may take many MiB at once), so the write callback
 * pauses a request when a bucket is empty and the jobs thread resumes it when it refills.
 * Buckets hold at most 1/8 s of rate (min 64 KiB) so bursts stay short.
 */
static void
pace_refill(int64_t *tokens, int64_t *at_ms, uint64_t rate, int64_t now)
{
    int64_t cap = (int64_t)(rate / 8) > (64 << 10) ? (int64_t)(rate / 8) : (64 << 10);

    if (*at_ms == 0) {
        *at_ms = now;
        *tokens = cap;
        return;
    }
    if (now > *at_ms) {
        *tokens += (int64_t)(rate * (uint64_t)(now - *at_ms) / 1000);
        *at_ms = now;
    }
    if (*tokens > cap)
        *tokens = cap;
}

static bool
pace_allow(struct xfer *x, size_t len)
{
    struct ferry_jobs *jobs = x->jobs;
    uint64_t job_rate = x->job->bandwidth_limit, glob = jobs->cfg->bandwidth_limit;
    int64_t now;

    if (!job_rate && !glob)
        return true;
    now = jobs_now_ms();
    if (job_rate) {
        pace_refill(&x->job->bw_tokens, &x->job->bw_at_ms, job_rate, now);
        if (x->job->bw_tokens <= 0)
            return false;
    }
    if (glob) {
        pace_refill(&jobs->bw_tokens, &jobs->bw_at_ms, glob, now);
        if (jobs->bw_tokens <= 0)
            return false;
        jobs->bw_tokens -= (int64_t)len;
    }
    if (job_rate)
        x->job->bw_tokens -= (int64_t)len;
    return true;
}

/* Write the staged bytes [wpos, pos) at their offset; the chunk's fill then covers them. */
static int
req_flush(struct xfer *x, struct req *q)
{
    struct jfile *f = &x->job->files[x->fidx];
    size_t len = (size_t)(q->pos - q->wpos), done = 0;

    while (done < len) {
        ssize_t n = pwrite(x->fd, q->stage + done, len - done, (off_t)(q->wpos + done));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        done += (size_t)n;
    }
    q->wpos = q->pos;
    if (len) {
        struct chunk *c = &f->chunks[q->chunk];
        c->fill = q->wpos - q->chunk * f->chunk_size;
        /* the stream has hashed exactly [chunk start, pos): the digest of the new fill,
         * taken without ending the stream */
        verify_stream_digest(q->hs, c->fill_digest);
        c->have_fill_digest = true;
    }
    return 0;
}

static size_t
req_write_cb(char *buf, size_t size, size_t nmemb, void *userdata)
{
    struct req *q = userdata;
    struct xfer *x = q->x;
    size_t len = size * nmemb;

    if (q->kind == REQ_MANIFEST) {
        char *nb;
        if (q->body_len + len > METALINK_MAX_BYTES) {
            q->fail = FETCH_TOO_BIG;
            return 0;
        }
        nb = realloc(q->body, q->body_len + len + 1);
        if (!nb) {
            q->fail = FETCH_LOCAL;
            q->fail_errno = ENOMEM;
            return 0;
        }
        q->body = nb;
        memcpy(q->body + q->body_len, buf, len);
        q->body_len += len;
        q->body[q->body_len] = '\0';
        return len;
    }
    if (q->kind != REQ_RANGE)
        return len;
    if (!q->checked && req_check_range(q) == 0)
        return 0;
    if (q->discard)
        return len;
    if (q->pos + len > q->end + 1) {
        q->fail = FETCH_BAD_RESPONSE;
        return 0;
    }
    if (!pace_allow(x, len)) {
        if (!q->paused) {
            q->paused = true;
            x->jobs->paused_reqs++;
        }
        return CURL_WRITEFUNC_PAUSE;
    }
    {
        struct jfile *f = &x->job->files[x->fidx];
        size_t done = 0;

        while (done < len) {
            size_t room = FETCH_STAGE_SIZE - (size_t)(q->pos - q->wpos);
            size_t n = len - done < room ? len - done : room;
            int r;

            memcpy(q->stage + (q->pos - q->wpos), buf + done, n);
            /* hash while the bytes are in cache from the socket copy, piece by piece so
             * that the stream always covers exactly [chunk start, pos) (req_flush) */
            verify_stream_update(q->hs, buf + done, n);
            q->pos += n;
            done += n;
            if (q->pos - q->wpos < FETCH_STAGE_SIZE && q->pos != q->end + 1)
                continue;
            r = req_flush(x, q);
            if (r < 0) {
                q->fail = FETCH_LOCAL;
                q->fail_errno = -r;
                return 0;
            }
        }
        f->bytes_transferred += len;
        x->unpersisted += len;
        x->job->bytes_fetched += len;
        x->jobs->bytes_fetched += len;
        x->job->no_progress_since = 0;
        x->job->remote_restarts = 0;
        if (x->job->state == FERRY_JOB_CONNECTING)
            job_set_state(x->job, FERRY_JOB_TRANSFERRING);
    }
    return len;
}

/* Free a request; it must no longer be in its xfer's list. Never touches q->x (which may
 * be gone by now). */
static struct req *
req_free(struct ferry_jobs *jobs, struct req *q)
{
    if (!q)
        return NULL;
    if (q->paused && jobs->paused_reqs)
        jobs->paused_reqs--;
    if (q->easy) {
        if (jobs->multi)
            curl_multi_remove_handle(jobs->multi, q->easy);
        curl_easy_cleanup(q->easy);
        if (jobs->active_connections)
            jobs->active_connections--;
    }
    curl_slist_free_all(q->hdrs);
    req_reset_headers(q);
    verify_stream_free(q->hs);
    free(q->stage);
    free(q->body);
    free(q);
    return NULL;
}

static void
xfer_remove_req(struct xfer *x, struct req *q)
{
    for (size_t i = 0; i < x->nreqs; i++) {
        if (x->reqs[i] == q) {
            x->reqs[i] = x->reqs[--x->nreqs];
            break;
        }
    }
}

/* BITS proxy usage -> libcurl. PRECONFIG and AUTODETECT use the process environment
 * (http_proxy/https_proxy/no_proxy): there is no WPAD. */
static void
xfer_set_proxy(struct xfer *x, CURL *e)
{
    struct job *job = x->job;

    if (job->proxy_usage == 1) {
        curl_easy_setopt(e, CURLOPT_PROXY, "");
    } else if (job->proxy_usage == 2 && job->proxy_list) {
        char proxy[JOB_MAX_PROXY_LIST + 1];
        char bypass[JOB_MAX_PROXY_LIST * 2 + 64];
        size_t n = strcspn(job->proxy_list, " ;,");
        size_t o = 0;

        snprintf(proxy, sizeof(proxy), "%.*s", (int)n, job->proxy_list);
        curl_easy_setopt(e, CURLOPT_PROXY, proxy);
        bypass[0] = '\0';
        for (const char *p = job->proxy_bypass; p && *p;) {
            size_t l;
            while (*p == ' ' || *p == ';' || *p == ',')
                p++;
            l = strcspn(p, " ;,");
            if (l == 0)
                break;
            if (l == 7 && strncasecmp(p, "<local>", 7) == 0)
                o += (size_t)snprintf(bypass + o, sizeof(bypass) - o, "%slocalhost,127.0.0.1,::1",
                                      o ? "," : "");
            else
                o += (size_t)snprintf(bypass + o, sizeof(bypass) - o, "%s%.*s", o ? "," : "",
                                      (int)l, p);
            if (o >= sizeof(bypass))
                break;
            p += l;
        }
        if (bypass[0])
            curl_easy_setopt(e, CURLOPT_NOPROXY, bypass);
    }
    if (x->have_proxy_cred) {
        static const long schemes[] = {CURLAUTH_BASIC, CURLAUTH_DIGEST, CURLAUTH_NTLM,
                                       CURLAUTH_NEGOTIATE};
        curl_easy_setopt(e, CURLOPT_PROXYUSERNAME, x->proxy_user);
        curl_easy_setopt(e, CURLOPT_PROXYPASSWORD, x->proxy_pass);
        curl_easy_setopt(e, CURLOPT_PROXYAUTH, schemes[x->proxy_scheme & 3]);
    }
}

static struct req *
req_new(struct xfer *x, enum req_kind kind, size_t mirror, const char *url)
{
    const struct ferry_config *cfg = x->jobs->cfg;
    struct job *job = x->job;
    struct req *q = calloc(1, sizeof(*q));
    CURL *e;

    if (!q)
        return NULL;
    q->x = x;
    q->kind = kind;
    q->mirror = mirror;
    e = curl_easy_init();
    if (!e) {
        free(q);
        return NULL;
    }
    q->easy = e;
    x->jobs->active_connections++;
    x->jobs->conns_used = true;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, q);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, q->errbuf);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_USERAGENT, FETCH_USER_AGENT);
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, (long)FETCH_BUFFER_SIZE);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)cfg->connect_timeout);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)cfg->stall_timeout);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, req_header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, q);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, req_write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, q);
    if (x->have_server_cred) {
        static const long schemes[] = {CURLAUTH_BASIC, CURLAUTH_DIGEST, CURLAUTH_NTLM,
                                       CURLAUTH_NEGOTIATE};
        curl_easy_setopt(e, CURLOPT_USERNAME, x->server_user);
        curl_easy_setopt(e, CURLOPT_PASSWORD, x->server_pass);
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, schemes[x->server_scheme & 3]);
    }
    xfer_set_proxy(x, e);
    if (job->cert_path) {
        curl_easy_setopt(e, CURLOPT_SSLCERT, job->cert_path);
        curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
        curl_easy_setopt(e, CURLOPT_SSLKEY, job->cert_path);
    }
    for (size_t i = 0; i < job->nheaders; i++)
        q->hdrs = curl_slist_append(q->hdrs, job->headers[i]);
    if (kind == REQ_PROBE)
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    return q;
}

static int
xfer_add_req(struct xfer *x, struct req *q)
{
    struct req **nv = realloc(x->reqs, (x->nreqs + 1) * sizeof(*nv));

    if (!nv)
        return -ENOMEM;
    x->reqs = nv;
    if (q->hdrs)
        curl_easy_setopt(q->easy, CURLOPT_HTTPHEADER, q->hdrs);
    if (curl_multi_add_handle(x->jobs->multi, q->easy) != CURLM_OK)
        return -ENOMEM;
    x->reqs[x->nreqs++] = q;
    return 0;
}

/* ---- checkpoints ---- */

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

static struct sync_req *
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
static int
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
static int
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
    x->last_ckpt_ms = jobs_now_ms();
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

/* ---- ending a transfer ---- */

/* Error decided: checkpoint, stop, and move the job to ERROR / TRANSIENT_ERROR. */
static void
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
    fetcher_classify(o, &e);
    ferry_log_info("job %s: '%s': %s (0x%08X, %s)", job->id, file ? file : "", e.text, e.code,
                   e.transient ? "transient" : "fatal");
    xfer_free(x, true);
    job_set_error(job, e.context, e.code, file, "%s", e.text);
    free(file);
    if (e.transient)
        job_transient(jobs->cfg, job, jobs_now_ms());
    else
        job_set_state(job, FERRY_JOB_ERROR);
    job->run_since_ms = 0;
    store_job_put(jobs->store, job);
    store_sync(jobs->store);
}

static void
xfer_abort_reqs(struct xfer *x)
{
    struct jfile *f = &x->job->files[x->fidx];

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

static void
xfer_free(struct xfer *x, bool checkpoint)
{
    if (!x)
        return;
    if (checkpoint && x->job->state != FERRY_JOB_CANCELLED)
        xfer_checkpoint(x, true);
    xfer_abort_reqs(x);
    if (checkpoint && x->job->state != FERRY_JOB_CANCELLED)
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
    free(x->manifest_url);
    fetch_wipe(x->server_user);
    fetch_wipe(x->server_pass);
    fetch_wipe(x->proxy_user);
    fetch_wipe(x->proxy_pass);
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
static void
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
    x->phase = PH_PROBE;
    x->probes_left = 0;
    x->digest_ok = false;
}

/* ---- phases ---- */

static int
xfer_start_probes(struct xfer *x)
{
    for (size_t i = 0; i < x->nmirrors; i++) {
        struct req *q = req_new(x, REQ_PROBE, i, x->mirrors[i].url);
        if (!q || xfer_add_req(x, q) < 0) {
            req_free(x->jobs, q);
            return -ENOMEM;
        }
        x->probes_left++;
    }
    return 0;
}

/* Link: <URL>; rel=describedby; type="application/metalink4+xml" -> absolute URL. */
static char *
xfer_manifest_link(const char *base, const char *link)
{
    const char *p = link;
    char *out = NULL;

    while (p && *p) {
        const char *lt = strchr(p, '<'), *gt, *end;
        char *target, *params;
        bool describedby;

        if (!lt)
            break;
        gt = strchr(lt, '>');
        if (!gt)
            break;
        end = strchr(gt, ',');
        if (!end)
            end = gt + strlen(gt);
        params = strndup(gt + 1, (size_t)(end - gt - 1));
        target = strndup(lt + 1, (size_t)(gt - lt - 1));
        describedby = params && (strstr(params, "rel=describedby") ||
                                 strstr(params, "rel=\"describedby\""));
        if (describedby && params && strstr(params, "type=") &&
            !strstr(params, "metalink4"))
            describedby = false;
        if (describedby && target) {
            CURLU *u = curl_url();
            char *abs = NULL;
            if (u && curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
                curl_url_set(u, CURLUPART_URL, target, 0) == CURLUE_OK &&
                curl_url_get(u, CURLUPART_URL, &abs, 0) == CURLUE_OK) {
                out = strdup(abs);
            }
            curl_free(abs);
            curl_url_cleanup(u);
        }
        free(params);
        free(target);
        if (out)
            break;
        p = *end ? end + 1 : NULL;
    }
    return out;
}

static void
xfer_fail_local(struct xfer *x, int err)
{
    struct fetch_outcome o = {.reason = FETCH_LOCAL, .err = err};

    xfer_fail(x, &o);
}

/*
 * A file resumed from the store: its VERIFIED chunks are re-hashed from disk before the file
 * can finish, on the jobs-sync thread (a disk image may take minutes to read), while the
 * missing chunks are already being fetched. VERIFIED chunks are never written meanwhile.
 */
static int
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
static void
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
}

/*
 * Chunk layout once the size (and maybe the manifest) is known. Progress from an earlier
 * run is kept when the layout matches; otherwise the file starts fresh: truncated,
 * preallocated except where the manifest marks zero chunks (those stay holes).
 */
static int
xfer_layout(struct xfer *x)
{
    const struct ferry_config *cfg = x->jobs->cfg;
    struct job *job = x->job;
    struct jfile *f = &job->files[x->fidx];
    struct metalink *ml = x->ml;
    uint64_t cs = ml ? ml->piece_length : cfg->fetch_chunk_size;
    uint64_t n = f->bytes_total == 0 ? 0 : (f->bytes_total + cs - 1) / cs;
    bool fresh = !f->chunks || f->chunk_size != cs || f->nchunks != n ||
                 f->has_manifest != (ml != NULL);

    if (fresh) {
        if (f->bytes_transferred)
            ferry_log_info("job %s: chunk layout of '%s' changed; restarting it", job->id,
                           f->remote_url);
        job->bytes_refetched += f->bytes_transferred;
        free(f->chunks);
        f->chunks = NULL;
        f->bytes_transferred = 0;
        f->rehash_pending = false;
        store_chunks_clear(x->jobs->store, job->id, x->fidx);
        f->layout_gen++;
        f->chunk_size = cs;
        f->nchunks = n;
        if (n) {
            f->chunks = calloc(n, sizeof(*f->chunks));
            if (!f->chunks)
                return -ENOMEM;
        }
        if (ftruncate(x->fd, 0) < 0 || ftruncate(x->fd, (off_t)f->bytes_total) < 0)
            return -errno;
    }
    f->has_manifest = ml != NULL;
    for (uint64_t i = 0; i < n && ml; i++) {
        struct chunk *c = &f->chunks[i];
        if (ml->zero[i]) {
            if (c->state != CHUNK_VERIFIED) {
                c->state = CHUNK_ZERO;
                c->fill = 0;
            }
        } else {
            c->have_expected = true;
            memcpy(c->expected, ml->pieces[i], 16);
        }
    }
    if (fresh) {
        /* preallocate what will be written; zero chunks stay holes */
        uint64_t i = 0;
        while (i < n) {
            uint64_t j = i;
            int rr;
            if (f->chunks[i].state == CHUNK_ZERO) {
                i++;
                continue;
            }
            while (j < n && f->chunks[j].state != CHUNK_ZERO)
                j++;
            rr = fallocate(x->fd, FALLOC_FL_KEEP_SIZE, (off_t)(i * cs),
                           (off_t)((j == n ? f->bytes_total : j * cs) - i * cs));
            if (rr < 0 && errno == ENOSPC)
                return -ENOSPC;
            i = j;
        }
        for (uint64_t k = 0; k < n; k++)
            if (f->chunks[k].state == CHUNK_ZERO) {
                f->bytes_transferred += xfer_chunk_len(f, k);
                f->chunks[k].dirty = false;
            }
    } else if (f->rehash_pending) {
        int r = xfer_rehash_start(x);
        if (r < 0)
            return r;
    }
    /* zero chunks count as transferred from the start (they are never fetched) */
    {
        uint64_t done = 0;
        for (uint64_t i = 0; i < n; i++) {
            struct chunk *c = &f->chunks[i];
            if (c->state == CHUNK_VERIFIED || c->state == CHUNK_ZERO || c->state == CHUNK_DONE)
                done += xfer_chunk_len(f, i);
            else if (c->state == CHUNK_PARTIAL)
                done += c->fill;
        }
        f->bytes_transferred = done;
    }
    /* B = max(size / 128, size / 50 - 4 MiB, 1 MiB): a crash still refetches < 2 % (B plus a
     * read per connection), with fewer checkpoints on large files. Each one is an fdatasync
     * (a journal commit and a disk cache flush on ext4) plus a store write: 1/128 of a
     * 2 GiB file meant ~100 of them and 1.5-2 s of syncing. */
    x->ckpt_bytes = f->bytes_total / 128;
    if (f->bytes_total / 50 > (4u << 20) && f->bytes_total / 50 - (4u << 20) > x->ckpt_bytes)
        x->ckpt_bytes = f->bytes_total / 50 - (4u << 20);
    if (x->ckpt_bytes < (1u << 20))
        x->ckpt_bytes = 1u << 20;
    x->phase = PH_RANGES;
    store_progress_put(x->jobs->store, job, x->fidx);
    return 0;
}

/* The primary probe answered: size, validators, manifest link. */
static void
xfer_probe_done(struct xfer *x, struct req *q)
{
    struct job *job = x->job;
    struct jfile *f = &job->files[x->fidx];
    struct mirror *m = &x->mirrors[q->mirror];
    curl_off_t cl = -1;

    curl_easy_getinfo(q->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
    if (q->mirror == 0) {
        bool changed;

        if (cl < 0) {
            struct fetch_outcome o = {.reason = FETCH_MISSING_SIZE};
            xfer_fail(x, &o);
            return;
        }
        changed = (f->bytes_total != FERRY_SIZE_UNKNOWN && f->bytes_total != (uint64_t)cl) ||
                  (f->etag && q->etag && strcmp(f->etag, q->etag) != 0) ||
                  (f->last_modified && q->last_modified &&
                   strcmp(f->last_modified, q->last_modified) != 0);
        if (changed && (f->bytes_transferred || f->chunks)) {
            ferry_log_info("job %s: '%s' changed on the server since the last run; "
                           "restarting it from zero",
                           job->id, f->remote_url);
            job_file_reset(job, x->fidx);
            store_chunks_clear(x->jobs->store, job->id, x->fidx);
        }
        f->bytes_total = (uint64_t)cl;
        fetch_set(&f->etag, q->etag ? strdup(q->etag) : NULL);
        fetch_set(&f->last_modified, q->last_modified ? strdup(q->last_modified) : NULL);
        if (q->link && !x->manifest_url)
            x->manifest_url = xfer_manifest_link(f->remote_url, q->link);
    }
    fetch_set(&m->etag, q->etag ? strdup(q->etag) : NULL);
    fetch_set(&m->last_modified, q->last_modified ? strdup(q->last_modified) : NULL);
    m->ok = q->mirror == 0 || f->bytes_total == (uint64_t)cl;
    if (q->mirror != 0 && !m->ok)
        ferry_log_warn("job %s: mirror '%s' has a different size; not used", job->id, m->url);
}

static void
xfer_after_probes(struct xfer *x)
{
    if (!x->mirrors[0].ok)
        return;
    store_job_put(x->jobs->store, x->job);
    if (x->manifest_url) {
        struct req *q = req_new(x, REQ_MANIFEST, 0, x->manifest_url);
        if (!q || xfer_add_req(x, q) < 0) {
            req_free(x->jobs, q);
            xfer_fail_local(x, ENOMEM);
            return;
        }
        x->phase = PH_MANIFEST;
        return;
    }
    {
        int r = xfer_layout(x);
        if (r < 0)
            xfer_fail_local(x, -r);
    }
}

static void
xfer_manifest_done(struct xfer *x, struct req *q)
{
    struct jfile *f = &x->job->files[x->fidx];
    struct metalink *ml = NULL;
    int r;

    if (q->body && metalink_parse(q->body, q->body_len, &ml) >= 0) {
        if (ml->etag && f->etag && strcmp(ml->etag, f->etag) != 0) {
            /* the file changed between the probe and the manifest: start over */
            metalink_free(ml);
            xfer_restart(x);
            return;
        }
        if (f->bytes_total == 0 && ml->size == 0) {
            ml = metalink_free(ml); /* an empty file has no pieces */
        } else if (ml->size != f->bytes_total || ml->piece_length < (64u << 10)) {
            ferry_log_warn("job %s: manifest '%s' does not describe this file (size %llu, "
                           "file %llu); ignoring it",
                           x->job->id, x->manifest_url, (unsigned long long)ml->size,
                           (unsigned long long)f->bytes_total);
            ml = metalink_free(ml);
        }
    } else {
        ferry_log_warn("job %s: manifest '%s' could not be parsed; fetching without it",
                       x->job->id, x->manifest_url);
    }
    x->ml = ml;
    r = xfer_layout(x);
    if (r < 0)
        xfer_fail_local(x, -r);
}

/* A range finished with all its bytes: verify, count, maybe finish the file. */
static void
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
    (void)len;
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
    f->completed = true;
    f->bytes_transferred = f->bytes_total;
    free(f->chunks);
    f->chunks = NULL;
    f->nchunks = 0;
    xfer_free(x, false);
    store_chunks_clear(jobs->store, job->id, idx);
    if (job_current_file(job) >= job->nfiles) {
        job_set_state(job, FERRY_JOB_TRANSFERRED);
        job->run_since_ms = 0;
        ferry_log_info("job %s: transferred", job->id);
    }
    store_job_put(jobs->store, job);
    store_sync(jobs->store);
}

/*
 * May partial chunk ci be continued from its `fill` bytes on disk? They are read into the
 * request's stream state and must hash to the digest recorded with that fill (DESIGN §3:
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

static int
xfer_start_range(struct xfer *x, uint64_t ci)
{
    struct jfile *f = &x->job->files[x->fidx];
    struct chunk *c = &f->chunks[ci];
    uint64_t off = ci * f->chunk_size, len = xfer_chunk_len(f, ci);
    size_t mi = 0;
    struct req *q;
    char range[64], ifr[FETCH_MAX_HEADER_VALUE + 16];
    struct mirror *m;

    for (size_t k = 0; k < x->nmirrors; k++) {
        size_t cand = (x->next_mirror + k) % x->nmirrors;
        if (x->mirrors[cand].ok) {
            mi = cand;
            break;
        }
    }
    x->next_mirror = mi + 1;
    m = &x->mirrors[mi];
    q = req_new(x, REQ_RANGE, mi, m->url);
    if (!q)
        return -ENOMEM;
    q->hs = verify_stream_new();
    q->stage = malloc(FETCH_STAGE_SIZE);
    if (!q->hs || !q->stage) {
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
    curl_easy_setopt(q->easy, CURLOPT_RANGE, range);
    if (m->etag && strncmp(m->etag, "W/", 2) != 0) {
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

/* Keep up to `conns` ranges in flight; finish the file when everything is in. */
static void
xfer_pump(struct xfer *x)
{
    const struct ferry_config *cfg = x->jobs->cfg;
    struct jfile *f = &x->job->files[x->fidx];
    bool pending = false;

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
    for (uint64_t k = 0; k < f->nchunks && x->nreqs < x->conns; k++) {
        uint64_t i = (x->scan + k) % f->nchunks;
        struct chunk *c = &f->chunks[i];
        if (c->state != CHUNK_MISSING && c->state != CHUNK_PARTIAL)
            continue;
        if (xfer_start_range(x, i) < 0) {
            xfer_fail_local(x, ENOMEM);
            return;
        }
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
              jobs_now_ms() - x->last_ckpt_ms >= (int64_t)cfg->progress_interval_ms)))
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

    /* q may be freed before the outcome is classified: keep its text */
    snprintf(errtext, sizeof(errtext), "%s", q->errbuf);

    curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &status);
    o.status = status;
    ferry_log_debug("job %s: request kind %d chunk %llu done: curl %d, HTTP %ld, reason %d, "
                    "pos %llu end %llu",
                    x->job->id, (int)q->kind, (unsigned long long)q->chunk, (int)res, status,
                    (int)q->fail, (unsigned long long)q->pos, (unsigned long long)q->end);
    xfer_remove_req(x, q);
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
    }
}

/* ---- public to the client role ---- */

/* Create the multi handle (called by the scheduler thread before its loop). */
int
fetcher_init(struct ferry_jobs *jobs)
{
    CURLM *m = curl_multi_init();

    if (!m)
        return -ENOMEM;
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, 64L);
    pthread_mutex_lock(&jobs->wake_lock);
    jobs->multi = m;
    pthread_mutex_unlock(&jobs->wake_lock);
    return 0;
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

    for (size_t i = 0; i < jobs->n; i++) {
        if (jobs->v[i]->xfer) {
            jobs->idle_since_ms = 0;
            return;
        }
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

    pthread_mutex_lock(&jobs->wake_lock);
    m = jobs->multi;
    jobs->multi = NULL;
    pthread_mutex_unlock(&jobs->wake_lock);
    if (m)
        curl_multi_cleanup(m);
}

/* Load the job's credentials for this transfer (kept in memory only while it runs). */
static void
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
    const char *name;
    char tmp[300];
    int r;

    if (idx >= job->nfiles)
        return 0;
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
    x->last_ckpt_ms = jobs_now_ms();
    job->xfer = x;
    r = localpath_open_dir(jobs->cfg, f->local_file, &x->dirfd, &name);
    if (r < 0)
        goto local_error;
    r = localpath_temp_name(name, job->id, tmp, sizeof(tmp));
    if (r < 0)
        goto local_error;
    x->fd = openat(x->dirfd, tmp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (x->fd < 0) {
        r = -errno;
        goto local_error;
    }
    x->nmirrors = 1 + f->nmirrors;
    x->mirrors = calloc(x->nmirrors, sizeof(*x->mirrors));
    if (!x->mirrors) {
        r = -ENOMEM;
        goto local_error;
    }
    x->mirrors[0].url = strdup(f->remote_url);
    for (size_t i = 0; i < f->nmirrors; i++)
        x->mirrors[i + 1].url = strdup(f->mirrors[i]);
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

/* Resume paused requests whose buckets have refilled. */
static void
fetcher_unpause(struct ferry_jobs *jobs)
{
    int64_t now = jobs_now_ms();

    if (jobs->cfg->bandwidth_limit) {
        pace_refill(&jobs->bw_tokens, &jobs->bw_at_ms, jobs->cfg->bandwidth_limit, now);
        if (jobs->bw_tokens <= 0)
            return;
    }
    for (size_t i = 0; i < jobs->n; i++) {
        struct job *job = jobs->v[i];
        struct xfer *x = job->xfer;

        if (!x)
            continue;
        if (job->bandwidth_limit) {
            pace_refill(&job->bw_tokens, &job->bw_at_ms, job->bandwidth_limit, now);
            if (job->bw_tokens <= 0)
                continue;
        }
        for (size_t k = 0; k < x->nreqs && job->xfer == x; k++) {
            struct req *q = x->reqs[k];
            if (!q->paused)
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
        if (job->xfer && job_runnable(job))
            xfer_pump(job->xfer);
    }
}

/* Requests the job has in flight (its connections in use), 0 when it is not running. */
uint32_t
fetcher_connections(const struct job *job)
{
    return job->xfer ? (uint32_t)job->xfer->nreqs : 0;
}

/* Does pacing hold requests back (so the thread should wake again soon)? */
bool
fetcher_throttled(struct ferry_jobs *jobs)
{
    return jobs->paused_reqs > 0;
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
