/*
 * fetch_req.c - one libcurl easy handle of a transfer (struct req): its options (proxy,
 * credentials, client certificate, custom headers), the header callback keeping the
 * validators, the write callback dispatching bodies to the manifest or the range. Also the
 * one dispatch point between the two fetch paths: req_new() + xfer_add_req() hand a range
 * of a source fetch_uring.c chose to ufetch instead of libcurl.
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
#include "client/job.h"
#include "client/verify.h"

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
    free(q->have);
    q->etag = q->last_modified = q->content_range = q->link = q->accept_ranges = NULL;
    q->have = NULL;
}

/* Replace the string in *slot by v (owned), freeing the old one. */
void
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
    else if (len > 13 && strncasecmp(buf, "X-Ferry-Have:", 13) == 0)
        fetch_set(&q->have, fetch_header_value(buf, len, 13));
    else if (len > 14 && strncasecmp(buf, "Accept-Ranges:", 14) == 0)
        fetch_set(&q->accept_ranges, fetch_header_value(buf, len, 14));
    return len;
}

static size_t
req_write_cb(char *buf, size_t size, size_t nmemb, void *userdata)
{
    struct req *q = userdata;
    struct xfer *x = q->x;
    size_t len = size * nmemb;

    if (q->kind == REQ_MANIFEST)
        return fetch_manifest_body(q, buf, len) < 0 ? 0 : len;
    if (q->kind != REQ_RANGE)
        return len;
    return xfer_range_write(x, q, buf, len);
}

/* Free a request; it must no longer be in its xfer's list. Never touches q->x (which may
 * be gone by now). */
struct req *
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

/* Take q out of x's request list (it stays allocated; req_free frees it). */
void
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

/*
 * A request for `url`: a configured easy handle (not yet added to the multi handle), or,
 * for a range of a source on the io_uring path (fetch_uring.c), none. NULL on OOM.
 */
struct req *
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
    if (kind == REQ_RANGE && x->mirrors[mirror].path == FETCH_PATH_URING &&
        x->mirrors[mirror].uf) {
        /* the dispatch (with xfer_add_req): this source's ranges go to io_uring */
        q->uring = true;
        return q;
    }
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

/* Add q to the multi handle (or feed it to its io_uring source) and to x's list. -ENOMEM: q
 * is not added; the caller frees it. */
int
xfer_add_req(struct xfer *x, struct req *q)
{
    struct req **nv = realloc(x->reqs, (x->nreqs + 1) * sizeof(*nv));

    if (!nv)
        return -ENOMEM;
    x->reqs = nv;
    if (q->uring) {
        if (xfer_uring_feed(x, q) < 0)
            return -ENOMEM;
        x->reqs[x->nreqs++] = q;
        return 0;
    }
    if (q->hdrs)
        curl_easy_setopt(q->easy, CURLOPT_HTTPHEADER, q->hdrs);
    if (curl_multi_add_handle(x->jobs->multi, q->easy) != CURLM_OK)
        return -ENOMEM;
    x->reqs[x->nreqs++] = q;
    return 0;
}
