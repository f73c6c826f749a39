/*
 * upload_xfer.c - the BITS upload protocol as a client (learn.microsoft.com/windows/win32/
 * bits/bits-upload-protocol): one outstanding BITS_POST at a time on the job's struct xfer.
 *
 *   Ping -> Create-Session (or, with a session from jobs.db, a zero-length Fragment that
 *   asks BITS-Received-Content-Range) -> Fragment ... -> [Type 2: GET BITS-Reply-URL into
 *   the reply's temp file] -> Close-Session -> TRANSFERRED.
 *
 * Every Ack's BITS-Received-Content-Range is the next offset sent (so a 416 or a server
 * that lost bytes re-aligns the upload), and is stored with the session id in jobs.db, so a
 * kill -9 of either side resumes from what the server acknowledged. A server that forgot
 * the session (BG_E_SESSION_NOT_FOUND) gets a new one from offset 0. LocalFile is checked
 * (size, mtime, inode) before each fragment against what it was when the upload began;
 * a change is BG_E_LOCAL_FILE_CHANGED (ERROR, context LOCAL_FILE). Bodies are read with
 * pread() in libcurl's read callback and paced by the job's and the role's ferry_rate
 * buckets (xfer_pace_allow), like download bodies.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
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
#include "client/localpath.h"
#include "client/store.h"
#include "client/upload.h"

/* Bytes one read callback may take from a paced bucket at a time. */
#define UPLOAD_PACE_STEP (16u << 10)
/* Response bodies of BITS_POST are read and dropped, up to this much. */
#define UPLOAD_ACK_BODY_MAX (64u << 10)
#define UPLOAD_HEADER_MAX 2048
/* libcurl's send buffer (default 64 KiB): fewer read callbacks and send calls */
#define UPLOAD_SEND_BUFFER (512 * 1024)

enum upload_phase {
    UP_PING,
    UP_CREATE,
    UP_QUERY,    /* resumed session: a zero-length fragment asks the received range */
    UP_FRAGMENT,
    UP_REPLY,    /* Type 2: GET of BITS-Reply-URL */
    UP_CLOSE,
};

struct upx {
    enum upload_phase phase;
    int src_fd;                 /* LocalFile, read only */
    uint64_t size;
    uint64_t frag_max;          /* halved on 413 */
    uint64_t frag_ok;           /* the largest fragment the server acked in this transfer */
    bool sent_first;            /* a fragment went out in this session (Content-Name) */
    /* the Ack of the request in flight (header callback) */
    char *r_packet, *r_session, *r_protocol, *r_received, *r_error, *r_context, *r_reply;
    uint64_t body_len;
    /* Type 2 */
    char *reply_url;
    int reply_dirfd, reply_fd;
    char reply_tmp[NAME_MAX + 1];
};

static void
upx_reset_ack(struct upx *u)
{
    free(u->r_packet);
    free(u->r_session);
    free(u->r_protocol);
    free(u->r_received);
    free(u->r_error);
    free(u->r_context);
    free(u->r_reply);
    u->r_packet = u->r_session = u->r_protocol = u->r_received = NULL;
    u->r_error = u->r_context = u->r_reply = NULL;
    u->body_len = 0;
}

/*
 * The value of a header line whose name (with its colon) is line[0, namelen): blanks and the
 * line end trimmed, cut at max bytes; malloc()ed, NULL when out of memory.
 */
char *
upload_header_value(const char *line, size_t len, size_t namelen, size_t max)
{
    const char *v = line + namelen, *e = line + len;

    while (v < e && (*v == ' ' || *v == '\t'))
        v++;
    while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t'))
        e--;
    if ((size_t)(e - v) > max)
        e = v + max;
    return strndup(v, (size_t)(e - v));
}

static size_t
upload_header_cb(char *buf, size_t size, size_t nitems, void *userdata)
{
    struct req *q = userdata;
    struct upx *u = q->x->up;
    size_t len = size * nitems;
    static const struct {
        const char *name;
        size_t off;
    } names[] = {
        {"BITS-Packet-Type:", offsetof(struct upx, r_packet)},
        {"BITS-Session-Id:", offsetof(struct upx, r_session)},
        {"BITS-Protocol:", offsetof(struct upx, r_protocol)},
        {"BITS-Received-Content-Range:", offsetof(struct upx, r_received)},
        {"BITS-Error-Code:", offsetof(struct upx, r_error)},
        {"BITS-Error-Context:", offsetof(struct upx, r_context)},
        {"BITS-Reply-URL:", offsetof(struct upx, r_reply)},
    };

    if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
        upx_reset_ack(u); /* a new response (100 Continue, an auth round) */
        return len;
    }
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        size_t n = strlen(names[i].name);
        char **slot = (char **)((char *)u + names[i].off);

        if (len > n && strncasecmp(buf, names[i].name, n) == 0) {
            free(*slot);
            *slot = upload_header_value(buf, len, n, UPLOAD_HEADER_MAX);
            break;
        }
    }
    return len;
}

/* Response bodies: the reply of a Type 2 job into its temp file, else dropped. */
static size_t
upload_write_cb(char *buf, size_t size, size_t nmemb, void *userdata)
{
    struct req *q = userdata;
    struct upx *u = q->x->up;
    size_t len = size * nmemb;

    if (u->phase != UP_REPLY) {
        u->body_len += len;
        return u->body_len > UPLOAD_ACK_BODY_MAX ? 0 : len;
    }
    if (q->pos + len > UPLOAD_REPLY_MAX) {
        q->fail = FETCH_TOO_BIG;
        return 0;
    }
    for (size_t done = 0; done < len;) {
        ssize_t n = pwrite(u->reply_fd, buf + done, len - done, (off_t)(q->pos + done));

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            q->fail = FETCH_LOCAL;
            q->fail_errno = n < 0 ? errno : EIO;
            return 0;
        }
        done += (size_t)n;
    }
    q->pos += len;
    return len;
}

/* The fragment's bytes from LocalFile, paced. */
static size_t
upload_read_cb(char *buf, size_t size, size_t nitems, void *userdata)
{
    struct req *q = userdata;
    struct xfer *x = q->x;
    struct upx *u = x->up;
    size_t want = size * nitems;
    ssize_t n;

    if (q->pos >= q->end)
        return 0;
    if (want > q->end - q->pos)
        want = (size_t)(q->end - q->pos);
    if ((x->job->bandwidth_limit || x->jobs->rate) && want > UPLOAD_PACE_STEP)
        want = UPLOAD_PACE_STEP;
    if (!xfer_pace_allow(x, q, want)) {
        if (!q->paused) {
            q->paused = true;
            x->jobs->paused_reqs++;
        }
        return CURL_READFUNC_PAUSE;
    }
    do {
        n = pread(u->src_fd, buf, want, (off_t)q->pos);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        q->fail = FETCH_LOCAL;
        q->fail_errno = errno;
        return CURL_READFUNC_ABORT;
    }
    if (n == 0) { /* shorter than when the upload began */
        q->fail = FETCH_LOCAL_CHANGED;
        return CURL_READFUNC_ABORT;
    }
    q->pos += (uint64_t)n;
    if (x->job->state == FERRY_JOB_CONNECTING)
        job_set_state(x->job, FERRY_JOB_TRANSFERRING);
    return (size_t)n;
}

/* An authentication round may send the body again. */
static int
upload_seek_cb(void *userdata, curl_off_t offset, int origin)
{
    struct req *q = userdata;

    if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > q->end - q->start)
        return CURL_SEEKFUNC_CANTSEEK;
    q->pos = q->start + (uint64_t)offset;
    return CURL_SEEKFUNC_OK;
}

static int
upload_hdr(struct req *q, const char *fmt, ...) FERRY_PRINTF(2, 3);

static int
upload_hdr(struct req *q, const char *fmt, ...)
{
    char line[UPLOAD_HEADER_MAX + 64];
    struct curl_slist *n;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    n = curl_slist_append(q->hdrs, line);
    if (!n)
        return -ENOMEM;
    q->hdrs = n;
    return 0;
}

/* Send one packet: a BITS_POST of `type` with the body [start, end) of LocalFile, or (Type 2
 * reply) a GET of u->reply_url. */
static int
upload_send(struct xfer *x, const char *type, uint64_t start, uint64_t end)
{
    struct upx *u = x->up;
    struct job *job = x->job;
    struct jfile *f = &job->files[0];
    const char *sid = job->up.session_id;
    struct req *q;
    CURL *e;
    int r = 0;

    q = req_new(x, REQ_UPLOAD, 0, type ? f->remote_url : u->reply_url);
    if (!q)
        return -ENOMEM;
    e = q->easy;
    q->start = q->pos = start;
    q->end = end;
    upx_reset_ack(u);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, upload_header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, q);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, upload_write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, q);
    if (type) {
        /* a redirect would need the body again from elsewhere: BITS_POST goes where asked */
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "BITS_POST");
        curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)(end - start));
        curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, (long)UPLOAD_SEND_BUFFER);
        curl_easy_setopt(e, CURLOPT_READFUNCTION, upload_read_cb);
        curl_easy_setopt(e, CURLOPT_READDATA, q);
        curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, upload_seek_cb);
        curl_easy_setopt(e, CURLOPT_SEEKDATA, q);
        r = upload_hdr(q, "BITS-Packet-Type: %s", type);
        /* a large fragment waits for 100 Continue until the server has taken one of its
         * size: a server that refuses it (413, 401) answers on the head, before the body
         * is sent; after that the round trip per fragment is saved */
        if (r >= 0)
            r = upload_hdr(q, end - start >= UPLOAD_FRAGMENT_MIN && end - start > u->frag_ok
                                  ? "Expect: 100-continue"
                                  : "Expect:");
        if (r >= 0 && strcmp(type, "Create-Session") == 0)
            r = upload_hdr(q, "BITS-Supported-Protocols: %s", UPLOAD_CLIENT_PROTOCOL);
        if (r >= 0 && sid && strcmp(type, "Ping") != 0 && strcmp(type, "Create-Session") != 0)
            r = upload_hdr(q, "BITS-Session-Id: %s", sid);
        if (r >= 0 && strcmp(type, "Fragment") == 0) {
            if (end > start)
                r = upload_hdr(q, "Content-Range: bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64,
                               start, end - 1, u->size);
            else
                r = upload_hdr(q, "Content-Range: bytes */%" PRIu64, u->size);
            if (r >= 0 && !u->sent_first) {
                const char *name = strrchr(f->local_file, '/');

                r = upload_hdr(q, "Content-Name: %s", name ? name + 1 : f->local_file);
            }
        }
    }
    if (r >= 0)
        r = xfer_add_req(x, q);
    if (r < 0) {
        req_free(x->jobs, q);
        return r;
    }
    return 0;
}

/* Does LocalFile still look as it did when the upload began? */
static bool
upload_src_same(const struct job *job, const struct stat *st)
{
    const struct job_upload *up = &job->up;

    return (uint64_t)st->st_size == up->src_size && (uint64_t)st->st_ino == up->src_ino &&
           (uint64_t)st->st_dev == up->src_dev &&
           (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec == up->src_mtime_ns;
}

static void
upload_persist(struct xfer *x)
{
    store_job_put(x->jobs->store, x->job);
    upload_store_put(x->jobs->store, x->job);
}

/* The server's acknowledged offset moved to `acked`: statistics and jobs.db. */
static void
upload_acked(struct xfer *x, uint64_t acked)
{
    struct job *job = x->job;
    struct jfile *f = &job->files[0];

    if (acked > job->up.acked) {
        uint64_t d = acked - job->up.acked;

        job->bytes_fetched += d;
        x->jobs->bytes_fetched += d;
        job->no_progress_since = 0;
    }
    job->up.acked = acked;
    f->bytes_transferred = acked;
    upload_persist(x);
}

static void
upload_fail_reason(struct xfer *x, enum fetch_reason reason, int err)
{
    struct fetch_outcome o = {.reason = reason, .err = err};

    xfer_fail(x, &o);
}

/* A refusal: the server's BITS-Error-Code when it gave one, else the HTTP status. */
static void
upload_fail_status(struct xfer *x, long status)
{
    struct upx *u = x->up;
    struct fetch_outcome o = {.status = status};
    unsigned long code = 0, ctx = 0;
    char *end = NULL;

    if (u->r_error) {
        errno = 0;
        code = strtoul(u->r_error, &end, 16);
        if (errno || end == u->r_error || code > UINT32_MAX)
            code = 0;
    }
    if (u->r_context) {
        errno = 0;
        ctx = strtoul(u->r_context, &end, 16);
        if (errno || end == u->r_context)
            ctx = 0;
    }
    if (code && status >= 400) {
        o.reason = FETCH_BITS_ERROR;
        o.bits_code = (uint32_t)code;
        o.bits_context = (unsigned)ctx;
    } else if (status < 400) {
        o.reason = FETCH_BAD_RESPONSE;
    }
    xfer_fail(x, &o);
}

static bool
upload_is_ack(const struct upx *u)
{
    return u->r_packet && strcasecmp(u->r_packet, "Ack") == 0;
}

/* BG_E_SESSION_NOT_FOUND: start a new session (a few times in a row at most). */
static bool
upload_session_lost(struct xfer *x)
{
    struct upx *u = x->up;
    struct job *job = x->job;

    if (!u->r_error || strtoul(u->r_error, NULL, 16) != UPLOAD_CLIENT_E_SESSION_NOT_FOUND)
        return false;
    if (++job->remote_restarts > UPLOAD_MAX_SESSION_RESTARTS)
        return false;
    ferry_log_info("job %s: the server forgot upload session %s; starting a new one", job->id,
                   job->up.session_id ? job->up.session_id : "");
    free(job->up.session_id);
    job->up.session_id = NULL;
    upload_acked(x, 0);
    u->phase = UP_CREATE;
    return true;
}

/* All acknowledged: the reply (Type 2, when the server named one) or Close-Session. */
static void
upload_all_acked(struct xfer *x)
{
    struct upx *u = x->up;

    free(u->reply_url);
    u->reply_url = NULL;
    if (x->job->type == 2 && u->r_reply && *u->r_reply) {
        /* relative to RemoteUrl */
        CURLU *h = curl_url();
        char *abs = NULL;

        if (h && curl_url_set(h, CURLUPART_URL, x->job->files[0].remote_url, 0) == CURLUE_OK &&
            curl_url_set(h, CURLUPART_URL, u->r_reply, 0) == CURLUE_OK &&
            curl_url_get(h, CURLUPART_URL, &abs, 0) == CURLUE_OK) {
            u->reply_url = strdup(abs);
        }
        curl_free(abs);
        curl_url_cleanup(h);
        if (!u->reply_url) {
            upload_fail_reason(x, FETCH_BAD_RESPONSE, 0);
            return;
        }
        u->phase = UP_REPLY;
        return;
    }
    u->phase = UP_CLOSE;
}

/* Type 2: the reply's temp file beside its path, empty. */
static int
upload_reply_open(struct xfer *x)
{
    struct upx *u = x->up;
    char path[PATH_MAX];
    const char *name;
    int r;

    if (u->reply_fd >= 0) /* a reply fetched again starts over */
        return ftruncate(u->reply_fd, 0) < 0 ? -errno : 0;
    r = upload_reply_path(x->job, path, sizeof(path));
    if (r < 0)
        return r;
    r = localpath_open_dir(x->jobs->cfg, path, &u->reply_dirfd, &name);
    if (r < 0)
        return r;
    r = localpath_temp_name(name, x->job->id, u->reply_tmp, sizeof(u->reply_tmp));
    if (r < 0)
        return r;
    u->reply_fd = openat(u->reply_dirfd, u->reply_tmp,
                         O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    return u->reply_fd < 0 ? -errno : 0;
}

/* Close-Session acknowledged: the server has the file; the job is TRANSFERRED. */
static void
upload_finish(struct xfer *x)
{
    struct ferry_jobs *jobs = x->jobs;
    struct job *job = x->job;
    struct jfile *f = &job->files[0];
    int r;

    if (job->type == 2) {
        /* without a BITS-Reply-URL the reply is empty */
        r = x->up->reply_fd < 0 ? upload_reply_open(x) : 0;
        if (r >= 0 && fsync(x->up->reply_fd) < 0)
            r = -errno;
        if (r < 0) {
            upload_fail_reason(x, FETCH_LOCAL, -r);
            return;
        }
        job->up.reply_ready = true;
    }
    free(job->up.session_id);
    job->up.session_id = NULL;
    job->up.acked = f->bytes_total;
    f->completed = true;
    f->bytes_transferred = f->bytes_total;
    xfer_free(x, false);
    job_set_state(job, FERRY_JOB_TRANSFERRED);
    job->run_since_ms = 0;
    ferry_log_info("job %s: uploaded", job->id);
    store_job_put(jobs->store, job);
    upload_store_put(jobs->store, job);
    store_sync(jobs->store);
}

/* The received range of an Ack: 0 and *ret, or -EBADMSG. */
static int
upload_received(const struct upx *u, uint64_t *ret)
{
    char *end = NULL;
    unsigned long long v;

    if (!u->r_received || !*u->r_received || *u->r_received == '-')
        return -EBADMSG;
    errno = 0;
    v = strtoull(u->r_received, &end, 10);
    if (errno || *end || v > u->size)
        return -EBADMSG;
    *ret = v;
    return 0;
}

void
upload_req_done(struct xfer *x, struct req *q, int curl_result, long status,
                const char *curl_text)
{
    struct ferry_jobs *jobs = x->jobs;
    struct job *job = x->job;
    struct upx *u = x->up;
    enum fetch_reason fail = q->fail;
    int fail_errno = q->fail_errno;
    uint64_t got = q->pos, sent_start = q->start, sent_end = q->end, received = 0;

    req_free(jobs, q);
    if (job->state == FERRY_JOB_CANCELLED) {
        /* cancelled while the packet was out: the next tick stops x; a session created
         * meanwhile is cancelled too (upload_cancel.c) */
        if (u->phase == UP_CREATE && curl_result == CURLE_OK && status / 100 == 2 &&
            upload_is_ack(u) && u->r_session && *u->r_session && strlen(u->r_session) <= 100) {
            free(job->up.session_id);
            job->up.session_id = u->r_session;
            u->r_session = NULL;
            upload_cancel_session(jobs, job);
        }
        return;
    }
    if (fail != FETCH_OK) {
        upload_fail_reason(x, fail, fail_errno);
        return;
    }
    if (curl_result != CURLE_OK) {
        struct fetch_outcome o = {.res = (CURLcode)curl_result, .curl_text = curl_text};

        xfer_fail(x, &o);
        return;
    }
    switch (u->phase) {
    case UP_PING:
        if (status != 200 || !upload_is_ack(u)) {
            upload_fail_status(x, status);
            return;
        }
        u->phase = job->up.session_id ? UP_QUERY : UP_CREATE;
        break;
    case UP_CREATE:
        if ((status != 200 && status != 201) || !upload_is_ack(u)) {
            upload_fail_status(x, status);
            return;
        }
        if (!u->r_protocol || strcasecmp(u->r_protocol, UPLOAD_CLIENT_PROTOCOL) != 0 ||
            !u->r_session || !*u->r_session || strlen(u->r_session) > 100) {
            upload_fail_reason(x, FETCH_BAD_RESPONSE, 0);
            return;
        }
        free(job->up.session_id);
        job->up.session_id = u->r_session;
        u->r_session = NULL;
        u->sent_first = false;
        ferry_log_info("job %s: upload session %s created", job->id, job->up.session_id);
        upload_acked(x, 0);
        store_sync(jobs->store);
        u->phase = UP_FRAGMENT;
        break;
    case UP_QUERY:
    case UP_FRAGMENT:
        if (upload_session_lost(x))
            break;
        if (status == 413 && u->frag_max > UPLOAD_FRAGMENT_MIN) {
            u->frag_max /= 2; /* the server's fragment cap is lower: smaller fragments */
            break;
        }
        if ((status != 200 && status != 416) || upload_received(u, &received) < 0) {
            upload_fail_status(x, status);
            return;
        }
        if (u->phase == UP_FRAGMENT && sent_end > sent_start && received <= sent_start) {
            /* a fragment that moved nothing: sending it again would loop */
            upload_fail_reason(x, FETCH_BAD_RESPONSE, 0);
            return;
        }
        if (u->phase == UP_QUERY)
            ferry_log_info("job %s: resuming upload session %s at %" PRIu64, job->id,
                           job->up.session_id, received);
        u->sent_first = u->sent_first || u->phase == UP_FRAGMENT || received > 0;
        if (status == 200 && sent_end - sent_start > u->frag_ok)
            u->frag_ok = sent_end - sent_start;
        job->remote_restarts = 0;
        upload_acked(x, received);
        u->phase = UP_FRAGMENT;
        if (received == u->size && (u->sent_first || u->size == 0))
            upload_all_acked(x);
        break;
    case UP_REPLY:
        if (status != 200) {
            upload_fail_status(x, status);
            return;
        }
        ferry_log_info("job %s: reply of %" PRIu64 " bytes received", job->id, got);
        u->phase = UP_CLOSE;
        break;
    case UP_CLOSE:
        if (upload_session_lost(x))
            break;
        if (status != 200 || !upload_is_ack(u)) {
            upload_fail_status(x, status);
            return;
        }
        upload_finish(x);
        return;
    }
    if (job->xfer == x)
        upload_pump(x);
}

void
upload_pump(struct xfer *x)
{
    struct upx *u = x->up;
    struct job *job = x->job;
    uint64_t start = job->up.acked, end;
    struct stat st;
    int r = 0;

    if (x->nreqs > 0)
        return;
    /* before every fragment and before the session is closed: the bytes sent are LocalFile
     * as it was when the upload began */
    if (u->phase == UP_FRAGMENT || u->phase == UP_CLOSE) {
        if (fstat(u->src_fd, &st) < 0) {
            upload_fail_reason(x, FETCH_LOCAL, errno);
            return;
        }
        if (!upload_src_same(job, &st)) {
            upload_fail_reason(x, FETCH_LOCAL_CHANGED, 0);
            return;
        }
    }
    switch (u->phase) {
    case UP_PING:
        r = upload_send(x, "Ping", 0, 0);
        break;
    case UP_CREATE:
        r = upload_send(x, "Create-Session", 0, 0);
        break;
    case UP_QUERY:
        r = upload_send(x, "Fragment", 0, 0);
        break;
    case UP_FRAGMENT:
        end = u->size - start > u->frag_max ? start + u->frag_max : u->size;
        r = upload_send(x, "Fragment", start, end);
        if (r >= 0)
            u->sent_first = true;
        break;
    case UP_REPLY:
        r = upload_reply_open(x);
        if (r < 0) {
            upload_fail_reason(x, FETCH_LOCAL, -r);
            return;
        }
        r = upload_send(x, NULL, 0, 0);
        break;
    case UP_CLOSE:
        r = upload_send(x, "Close-Session", 0, 0);
        break;
    }
    if (r < 0)
        upload_fail_reason(x, FETCH_LOCAL, -r);
}

int
upload_start(struct ferry_jobs *jobs, struct job *job)
{
    struct jfile *f = &job->files[0];
    struct xfer *x;
    struct upx *u;
    struct stat st;
    const char *name;
    int dirfd = -1, r;

    x = calloc(1, sizeof(*x));
    u = calloc(1, sizeof(*u));
    if (!x || !u) {
        free(x);
        free(u);
        return -ENOMEM;
    }
    x->jobs = jobs;
    x->job = job;
    x->fidx = 0;
    x->fd = -1;
    x->dirfd = -1;
    x->conns = 1;
    x->last_ckpt_ms = ferry_clock_ms();
    x->up = u;
    u->src_fd = u->reply_fd = u->reply_dirfd = -1;
    u->frag_max = UPLOAD_FRAGMENT_MAX;
    job->xfer = x;
    r = localpath_open_dir(jobs->cfg, f->local_file, &dirfd, &name);
    if (r >= 0) {
        u->src_fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (u->src_fd < 0)
            r = -errno;
        close(dirfd);
    }
    if (r >= 0 && fstat(u->src_fd, &st) < 0)
        r = -errno;
    if (r >= 0 && !S_ISREG(st.st_mode))
        r = -EINVAL;
    if (r < 0) {
        upload_fail_reason(x, FETCH_LOCAL, -r);
        return 0;
    }
    if (job->up.have_src && !upload_src_same(job, &st)) {
        ferry_log_warn("job %s: '%s' changed since its upload began", job->id, f->local_file);
        upload_fail_reason(x, FETCH_LOCAL_CHANGED, 0);
        return 0;
    }
    if (!job->up.have_src) {
        job->up.have_src = true;
        job->up.src_size = (uint64_t)st.st_size;
        job->up.src_ino = (uint64_t)st.st_ino;
        job->up.src_dev = (uint64_t)st.st_dev;
        job->up.src_mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
        f->bytes_total = (uint64_t)st.st_size;
        upload_persist(x);
    }
    u->size = job->up.src_size;
    xfer_load_creds(x);
    u->phase = UP_PING;
    upload_pump(x);
    return 0;
}

void
upload_xfer_done(struct xfer *x)
{
    struct upx *u = x->up;

    if (!u)
        return;
    if (u->src_fd >= 0)
        close(u->src_fd);
    if (u->reply_fd >= 0)
        close(u->reply_fd);
    if (u->reply_dirfd >= 0)
        close(u->reply_dirfd);
    upx_reset_ack(u);
    free(u->reply_url);
    free(u);
    x->up = NULL;
}
