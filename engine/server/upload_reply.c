/*
 * upload_reply.c - the reply of an upload-reply job (BITS Type 2) on the server role, as the
 * IIS BITS server extension does it with BITSServerNotificationType 2 ("by value"): the
 * whole upload is POSTed to the notification URL (--upload-notify-url) and the application's
 * response body is the reply. The Ack of the fragment that completes an upload names
 * BITS-Reply-URL (upload.c); the client GETs it before Close-Session. That GET's head hook
 * runs the notification on a thread of its own (libcurl, at most UPLOAD_NOTIFY_TIMEOUT s, as
 * IIS allows the application 5 minutes) while the request waits (ferry_http_wait), writes
 * the reply beside the session (".ferry-upload-HEX.reply", temp name then rename) and
 * resumes every request waiting for it; the handler then sends the file. An application
 * that fails (no answer, not 2xx) gets the GET a 502 with BITS-Error-Context 7 (remote
 * application); the next GET notifies again. Close-Session and Cancel-Session remove the
 * reply (upload.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ferry/log.h"
#include "upload.h"
#include "upload_reply.h"

#define UPLOAD_NOTIFY_TIMEOUT 300L
#define UPLOAD_REPLY_CAP (64u << 20)

struct upload_notify {
    char hex[33];
    bool running;
    bool failed;
    struct ferry_http_wait **waits;
    size_t nwaits;
    struct upload_notify *next;
};

struct upload_replies {
    pthread_mutex_t lock;
    atomic_uint refs; /* the server's + one per running notification */
    char *url;
    struct upload_notify *list;
};

/* What a notification thread owns. */
struct upload_job {
    struct upload_replies *rp;
    struct upload_notify *n;
    int dirfd;
    char *original_url;
    int out_fd;
    uint64_t out_len;
};

struct upload_replies *
upload_replies_new(const char *notify_url)
{
    struct upload_replies *rp;

    if (!notify_url || !*notify_url)
        return NULL;
    rp = calloc(1, sizeof(*rp));
    if (!rp)
        return NULL;
    rp->url = strdup(notify_url);
    if (!rp->url) {
        free(rp);
        return NULL;
    }
    pthread_mutex_init(&rp->lock, NULL);
    atomic_init(&rp->refs, 1);
    return rp;
}

static void
upload_replies_unref(struct upload_replies *rp)
{
    if (!rp || atomic_fetch_sub(&rp->refs, 1) != 1)
        return;
    while (rp->list) {
        struct upload_notify *n = rp->list;

        rp->list = n->next;
        free(n->waits);
        free(n);
    }
    pthread_mutex_destroy(&rp->lock);
    free(rp->url);
    free(rp);
}

struct upload_replies *
upload_replies_free(struct upload_replies *rp)
{
    upload_replies_unref(rp);
    return NULL;
}

static size_t
upload_notify_write(char *buf, size_t size, size_t nmemb, void *ud)
{
    struct upload_job *j = ud;
    size_t len = size * nmemb;

    if (j->out_len + len > UPLOAD_REPLY_CAP)
        return 0;
    for (size_t done = 0; done < len;) {
        ssize_t w = write(j->out_fd, buf + done, len - done);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return 0;
        done += (size_t)w;
    }
    j->out_len += len;
    return len;
}

/* POST the upload to the application; the reply into the temp file. true on a 2xx. */
static bool
upload_notify_post(struct upload_job *j, const char *part, const char *tmp)
{
    struct curl_slist *h = NULL, *n;
    char line[2300];
    struct stat st;
    FILE *in = NULL;
    CURL *e = NULL;
    long status = 0;
    bool ok = false;
    int fd;

    fd = openat(j->dirfd, part, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || fstat(fd, &st) < 0) {
        if (fd >= 0)
            close(fd);
        return false;
    }
    in = fdopen(fd, "rb");
    if (!in) {
        close(fd);
        return false;
    }
    j->out_fd = openat(j->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                       0600);
    e = curl_easy_init();
    if (j->out_fd < 0 || !e)
        goto cleanup;
    snprintf(line, sizeof(line), "BITS-Original-Request-URL: %s", j->original_url);
    h = curl_slist_append(NULL, "Content-Type: application/octet-stream");
    n = h ? curl_slist_append(h, line) : NULL;
    if (!n)
        goto cleanup;
    h = n;
    if (!(n = curl_slist_append(h, "Expect:")))
        goto cleanup;
    h = n;
    curl_easy_setopt(e, CURLOPT_URL, j->rp->url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "POST");
    curl_easy_setopt(e, CURLOPT_READDATA, in);
    curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)st.st_size);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, upload_notify_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, UPLOAD_NOTIFY_TIMEOUT);
    if (curl_easy_perform(e) == CURLE_OK &&
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status >= 200 &&
        status < 300 && fsync(j->out_fd) == 0)
        ok = true;
    if (!ok)
        ferry_log_warn("upload notification to '%s' failed (HTTP %ld)", j->rp->url, status);
cleanup:
    curl_slist_free_all(h);
    if (e)
        curl_easy_cleanup(e);
    if (j->out_fd >= 0)
        close(j->out_fd);
    fclose(in);
    return ok;
}

static void *
upload_notify_thread(void *arg)
{
    struct upload_job *j = arg;
    struct upload_replies *rp = j->rp;
    struct upload_notify *n = j->n, **pp;
    char part[96], tmp[96], reply[96];
    bool ok;

    snprintf(part, sizeof(part), "%s%s.part", UPLOAD_HIDDEN_PREFIX, n->hex);
    snprintf(tmp, sizeof(tmp), "%s%s.reply-tmp", UPLOAD_HIDDEN_PREFIX, n->hex);
    snprintf(reply, sizeof(reply), "%s%s%s", UPLOAD_HIDDEN_PREFIX, n->hex, UPLOAD_REPLY_EXT);
    ok = upload_notify_post(j, part, tmp);
    if (ok && renameat(j->dirfd, tmp, j->dirfd, reply) < 0)
        ok = false;
    if (!ok)
        unlinkat(j->dirfd, tmp, 0);
    pthread_mutex_lock(&rp->lock);
    n->running = false;
    n->failed = !ok;
    for (size_t i = 0; i < n->nwaits; i++)
        ferry_http_wait_resume(n->waits[i], NULL, NULL);
    n->nwaits = 0;
    if (ok) {
        for (pp = &rp->list; *pp; pp = &(*pp)->next)
            if (*pp == n) {
                *pp = n->next;
                break;
            }
        free(n->waits);
        free(n);
    }
    pthread_mutex_unlock(&rp->lock);
    close(j->dirfd);
    free(j->original_url);
    free(j);
    upload_replies_unref(rp);
    return NULL;
}

int
upload_reply_head(struct upload_replies *rp, int dirfd, const char *hex,
                  const char *original_url, const struct ferry_http_request *req,
                  struct ferry_http_response *resp)
{
    struct upload_notify *n;
    struct upload_job *j = NULL;
    struct ferry_http_wait *wt, **nv;
    char reply[96], target[300];
    struct stat st;
    pthread_attr_t attr;
    pthread_t tid;
    int verdict = FERRY_HTTP_HEAD_WAIT;

    snprintf(reply, sizeof(reply), "%s%s%s", UPLOAD_HIDDEN_PREFIX, hex, UPLOAD_REPLY_EXT);
    if (fstatat(dirfd, reply, &st, AT_SYMLINK_NOFOLLOW) == 0)
        return FERRY_HTTP_HEAD_GO;
    if (upload_session_complete(dirfd, hex, target, sizeof(target)) < 0) {
        ferry_http_response_status(resp, 404);
        return FERRY_HTTP_HEAD_ANSWER;
    }
    pthread_mutex_lock(&rp->lock);
    for (n = rp->list; n && strcmp(n->hex, hex) != 0; n = n->next)
        ;
    if (n && !n->running && n->failed) {
        /* the last notification failed: say so; the next GET notifies again */
        n->failed = false;
        pthread_mutex_unlock(&rp->lock);
        ferry_http_response_status(resp, 502);
        ferry_http_response_header(resp, "BITS-Error-Code", "0x%08x",
                                   (unsigned)FERRY_BG_E_HTTP_ERROR(502));
        ferry_http_response_header(resp, "BITS-Error-Context", "0x7");
        return FERRY_HTTP_HEAD_ANSWER;
    }
    if (!n) {
        n = calloc(1, sizeof(*n));
        if (!n)
            goto busy;
        memcpy(n->hex, hex, sizeof(n->hex));
        n->next = rp->list;
        rp->list = n;
    }
    nv = realloc(n->waits, (n->nwaits + 1) * sizeof(*nv));
    if (!nv)
        goto busy;
    n->waits = nv;
    wt = ferry_http_request_suspend(req);
    if (!wt)
        goto busy;
    n->waits[n->nwaits++] = wt;
    if (!n->running) {
        j = calloc(1, sizeof(*j));
        if (j)
            j->original_url = strdup(original_url ? original_url : "");
        if (j)
            j->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
        if (!j || !j->original_url || j->dirfd < 0)
            goto fail_thread;
        j->rp = rp;
        j->n = n;
        j->out_fd = -1;
        atomic_fetch_add(&rp->refs, 1);
        n->running = true;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&tid, &attr, upload_notify_thread, j) != 0) {
            pthread_attr_destroy(&attr);
            n->running = false;
            atomic_fetch_sub(&rp->refs, 1);
            goto fail_thread;
        }
        pthread_attr_destroy(&attr);
    }
    pthread_mutex_unlock(&rp->lock);
    return verdict;
fail_thread:
    /* the suspended request is resumed and finds no reply: 502 on its next run */
    n->failed = true;
    for (size_t i = 0; i < n->nwaits; i++)
        ferry_http_wait_resume(n->waits[i], NULL, NULL);
    n->nwaits = 0;
    pthread_mutex_unlock(&rp->lock);
    if (j) {
        if (j->dirfd >= 0)
            close(j->dirfd);
        free(j->original_url);
        free(j);
    }
    return FERRY_HTTP_HEAD_WAIT;
busy:
    pthread_mutex_unlock(&rp->lock);
    ferry_http_response_status(resp, 503);
    ferry_http_response_header(resp, "Retry-After", "1");
    return FERRY_HTTP_HEAD_ANSWER;
}

void
upload_reply_send(int dirfd, const char *hex, struct ferry_http_response *resp)
{
    char reply[96];
    struct stat st;
    int fd;

    snprintf(reply, sizeof(reply), "%s%s%s", UPLOAD_HIDDEN_PREFIX, hex, UPLOAD_REPLY_EXT);
    fd = openat(dirfd, reply, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        ferry_http_response_status(resp, 404);
        return;
    }
    ferry_http_response_status(resp, 200);
    ferry_http_response_header(resp, "Content-Type", "application/octet-stream");
    if (st.st_size == 0) {
        close(fd);
        return;
    }
    ferry_http_response_body_file(resp, fd, 0, st.st_size); /* takes fd */
}
