/*
 * fetch_uring.c - the fetcher's io_uring path: ranges of plain http:// sources moved by
 * ufetch.c (1 MiB receives, one pwrite per MiB, XXH3 in place) instead of libcurl.
 *
 * The choice is made per source after its HEAD probe (which stays on libcurl): io_uring when
 * the URL is http://, no proxy applies (job ProxyUsage, or the environment libcurl would
 * read), the job has no credentials, the probe was not redirected and spoke HTTP/1.1, and
 * fetch threads run (`fetch-threads` > 0, FERRY_FETCH_PATH not "curl"); libcurl otherwise.
 * The choice is logged once per source and transfer, and the primary's is the job's
 * FetchPath. A source whose answers ufetch refuses (framing or a head it does not parse)
 * goes back to libcurl for its remaining ranges; nothing fails for it.
 *
 * How an io_uring source receives bodies (ufetch.h params.splice) is chosen when its
 * ufetch source is made: `fetch-splice` (or FERRY_FETCH_SPLICE=on|off|auto, which wins) on:
 * splice, off (the default: splice did not pay in bench/run): recv + pwrite, auto: splice
 * unless the temp file is on tmpfs, shmem or ramfs (ufetch_splice_pays). Logged once per
 * source and transfer, and again when the file system refused splice and the source went
 * back to recv + pwrite.
 *
 * A fed range is a struct req without an easy handle (q->uring). Its progress (bytes on
 * disk and the digest of exactly those) is carried into the chunk (fill, fill_digest) and
 * the counters each time the jobs thread runs, so checkpoints and Get see it as on the
 * libcurl path; its result becomes the same outcome fetcher_req_done would make.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>

#include "ferry/log.h"
#include "ferry/rate.h"
#include "client/fetcher-internal.h"
#include "client/client.h"
#include "client/fetcher.h"
#include "client/job.h"
#include "client/ufetch.h"
#include "client/verify.h"

#define FETCH_PATH_URING_NAME "io_uring"
#define FETCH_PATH_CURL_NAME "libcurl"

static void
uring_wake(void *userdata)
{
    fetcher_wakeup(userdata);
}

/*
 * Start the fetch threads (cfg->fetch_threads; none when 0 or FERRY_FETCH_PATH=curl). A
 * kernel without io_uring (or a sandbox refusing it) leaves libcurl alone: logged, 0.
 */
int
fetch_uring_init(struct ferry_jobs *jobs)
{
    const char *env = getenv("FERRY_FETCH_PATH");
    unsigned n = jobs->cfg->fetch_threads;
    int r;

    if (env && (strcmp(env, "curl") == 0 || strcmp(env, FETCH_PATH_CURL_NAME) == 0)) {
        ferry_log_info("client: FERRY_FETCH_PATH=%s: every source is fetched with libcurl", env);
        return 0;
    }
    if (n == 0)
        return 0;
    r = ufetch_new(n, uring_wake, jobs, &jobs->ufetch);
    if (r < 0) {
        ferry_log_warn("client: no io_uring fetch threads (%s); every source is fetched with "
                       "libcurl", strerror(-r));
        jobs->ufetch = NULL;
        return 0;
    }
    return 0;
}

/* Stop the fetch threads (every transfer has ended). */
void
fetch_uring_done(struct ferry_jobs *jobs)
{
    jobs->ufetch = ufetch_free(jobs->ufetch);
}

static bool
uring_env_proxy(void)
{
    static const char *const names[] = {"http_proxy", "all_proxy", "ALL_PROXY"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *v = getenv(names[i]);
        if (v && *v)
            return true;
    }
    return false;
}

/* Host header and origin-form target of an http:// URL (as libcurl normalised it);
 * -EINVAL for a URL carrying user information (libcurl's: it becomes Basic auth). */
static int
uring_split_url(const char *url, char **ret_host, char **ret_target)
{
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL, *path = NULL, *query = NULL, *user = NULL;
    int r = -EINVAL;

    if (!u)
        return -ENOMEM;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
        goto out;
    if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
        curl_free(user); /* user:password@ in the URL: libcurl sends it as Basic auth */
        goto out;
    }
    (void)curl_url_get(u, CURLUPART_PORT, &port, 0);
    (void)curl_url_get(u, CURLUPART_QUERY, &query, 0);
    if (asprintf(ret_host, "%s%s%s", host, port ? ":" : "", port ? port : "") < 0)
        goto out;
    if (asprintf(ret_target, "%s%s%s", path, query ? "?" : "", query ? query : "") < 0) {
        free(*ret_host);
        *ret_host = NULL;
        goto out;
    }
    r = 0;
out:
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(query);
    curl_url_cleanup(u);
    return r;
}

/* The numeric address the probe connected to. */
static int
uring_probe_addr(CURL *e, struct sockaddr_storage *ss, socklen_t *len)
{
    char *ip = NULL;
    long port = 0;

    if (curl_easy_getinfo(e, CURLINFO_PRIMARY_IP, &ip) != CURLE_OK || !ip || !*ip ||
        curl_easy_getinfo(e, CURLINFO_PRIMARY_PORT, &port) != CURLE_OK || port <= 0 ||
        port > 65535)
        return -EINVAL;
    memset(ss, 0, sizeof(*ss));
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        if (inet_pton(AF_INET6, ip, &a->sin6_addr) != 1)
            return -EINVAL;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        *len = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        if (inet_pton(AF_INET, ip, &a->sin_addr) != 1)
            return -EINVAL;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        *len = sizeof(*a);
    }
    return 0;
}

/* Record and log (once per source and transfer) which path a source takes. */
static void
uring_set_path(struct xfer *x, size_t mi, enum fetch_path p, const char *why)
{
    struct mirror *m = &x->mirrors[mi];

    m->path = p;
    if (mi == 0)
        x->job->fetch_path = p == FETCH_PATH_URING ? FETCH_PATH_URING_NAME : FETCH_PATH_CURL_NAME;
    ferry_log_info("job %s: '%s' is fetched with %s%s%s", x->job->id, m->url,
                   p == FETCH_PATH_URING ? FETCH_PATH_URING_NAME : FETCH_PATH_CURL_NAME,
                   why ? ": " : "", why ? why : "");
}

/* Splice for mirror mi's bodies? *ret_why says why (for the log line). */
static bool
uring_splice_choose(struct xfer *x, struct mirror *m, const char **ret_why)
{
    const char *env = getenv("FERRY_FETCH_SPLICE");
    const char *mode = env && *env ? env : x->jobs->cfg->fetch_splice;

    if (m->splice_refused) {
        *ret_why = "the file system refused splice before";
        return false;
    }
    if (mode && strcmp(mode, "on") == 0) {
        *ret_why = env && *env ? "FERRY_FETCH_SPLICE=on" : "fetch-splice on";
        return true;
    }
    if (mode && strcmp(mode, "off") == 0) {
        *ret_why = env && *env ? "FERRY_FETCH_SPLICE=off" : "fetch-splice off";
        return false;
    }
    if (ufetch_splice_pays(x->fd)) {
        *ret_why = "auto: the file is not in memory";
        return true;
    }
    *ret_why = "auto: the file is on tmpfs";
    return false;
}

/* Log (once per source and transfer, and at a change) how its bodies are received. */
static void
uring_splice_say(struct xfer *x, struct mirror *m, bool splice, const char *why)
{
    int said = splice ? 1 : 2;

    if (m->splice_said == said)
        return;
    m->splice_said = said;
    ferry_log_info("job %s: '%s': io_uring bodies %s (%s)", x->job->id, m->url,
                   splice ? "by splice socket -> pipe -> file" : "by recv + pwrite", why);
}

/* A source's probe answered: choose its path (mirrors[probe->mirror].path). */
void
xfer_uring_choose(struct xfer *x, struct req *probe)
{
    struct job *job = x->job;
    struct mirror *m = &x->mirrors[probe->mirror];
    const char *why = NULL;
    long redirects = 0, version = 0;

    free(m->host);
    free(m->target);
    m->host = m->target = NULL;
    curl_easy_getinfo(probe->easy, CURLINFO_REDIRECT_COUNT, &redirects);
    curl_easy_getinfo(probe->easy, CURLINFO_HTTP_VERSION, &version);
    if (!x->jobs->ufetch)
        why = x->jobs->cfg->fetch_threads ? "io_uring is off" : "fetch-threads is 0";
    else if (strncasecmp(m->url, "http://", 7) != 0)
        why = "not a plain http:// URL";
    else if (job->proxy_usage == 2 || (job->proxy_usage != 1 && uring_env_proxy()))
        why = "a proxy is configured";
    else if (x->have_server_cred || x->have_proxy_cred)
        why = "the job has credentials";
    else if (job->files[x->fidx].uring_refused)
        why = "io_uring refused an answer for this file before";
    else if (redirects > 0)
        why = "the server redirected the probe";
    else if (version != CURL_HTTP_VERSION_1_1)
        why = "the server does not speak HTTP/1.1";
    else if (uring_probe_addr(probe->easy, &m->addr, &m->addrlen) < 0 ||
             uring_split_url(m->url, &m->host, &m->target) < 0)
        why = "the URL or address is not usable by io_uring";
    uring_set_path(x, probe->mirror, why ? FETCH_PATH_CURL : FETCH_PATH_URING, why);
}

/*
 * Before a range of mirror mi starts: make its ufetch source when it has none yet (the temp
 * file, size and validators are known now). A source ufetch refuses goes to libcurl.
 */
void
xfer_uring_ready(struct xfer *x, size_t mi)
{
    const struct ferry_config *cfg = x->jobs->cfg;
    struct job *job = x->job;
    struct mirror *m = &x->mirrors[mi];
    struct ufetch_source_params p;
    const char *why = NULL;
    int r;

    if (m->path != FETCH_PATH_URING || m->uf)
        return;
    if (!job->rate) {
        /* the job's bucket exists from the start, unlimited until BandwidthLimit is set,
         * so the source paces with it whatever is set later (xfer_uring_poll) */
        job->rate = ferry_rate_new(job->bandwidth_limit);
        job->rate_bps = job->bandwidth_limit;
    }
    memset(&p, 0, sizeof(p));
    p.addr = m->addr;
    p.addrlen = m->addrlen;
    p.host = m->host;
    p.user_agent = FETCH_USER_AGENT;
    p.target = m->target;
    p.etag = m->etag;
    p.last_modified = m->last_modified;
    p.if_range = m->etag && strncmp(m->etag, "W/", 2) != 0 ? m->etag : m->last_modified;
    p.total = job->files[x->fidx].bytes_total;
    p.headers = (const char *const *)job->headers;
    p.nheaders = job->nheaders;
    p.fd = x->fd;
    p.conns = x->conns < UFETCH_MAX_CONNS ? x->conns : UFETCH_MAX_CONNS;
    p.connect_timeout_s = cfg->connect_timeout;
    p.stall_timeout_s = cfg->stall_timeout;
    /* a reset or a short body is a transient error of the job, as on the libcurl path
     * (TransientErrorCount, MinimumRetryDelay); ufetch does not hide it */
    p.no_retry = true;
    p.rates[0] = job->rate;
    p.rates[1] = x->jobs->rate;
    p.splice = uring_splice_choose(x, m, &why);
    r = job->rate ? ufetch_source_new(x->jobs->ufetch, &p, &m->uf) : -ENOMEM;
    if (r < 0) {
        m->uf = NULL;
        uring_set_path(x, mi, FETCH_PATH_CURL,
                       r == -EINVAL ? "a header or target io_uring does not send"
                                    : "no io_uring source could be made");
        return;
    }
    uring_splice_say(x, m, p.splice, why);
}

/*
 * Ranges to keep fed: twice the connections when every usable source is on io_uring, so a
 * connection finds its next range queued when one ends instead of waiting for the jobs
 * thread (at 1-2 GB/s a 4 MiB range lasts 2-4 ms). Otherwise the connections.
 */
unsigned
xfer_uring_depth(const struct xfer *x)
{
    for (size_t i = 0; i < x->nmirrors; i++)
        if (x->mirrors[i].ok && !x->mirrors[i].uf)
            return x->conns;
    return x->conns * 2;
}

/* Queue q's range on its source. -errno (q is not fed). */
int
xfer_uring_feed(struct xfer *x, struct req *q)
{
    return ufetch_feed(x->mirrors[q->mirror].uf, q, q->pos, q->end, q->hs);
}

/* Carry a range's progress (bytes from q->start on disk, their digest) into its chunk. */
static void
uring_progress(struct xfer *x, struct req *q, uint64_t written, const uint8_t digest[16])
{
    struct jfile *f = &x->job->files[x->fidx];
    uint64_t pos = q->start + written;
    struct chunk *c;

    if (pos <= q->pos || !f->chunks || q->chunk >= f->nchunks)
        return;
    xfer_range_count(x, pos - q->pos);
    q->pos = q->wpos = pos;
    c = &f->chunks[q->chunk];
    c->fill = pos - q->chunk * f->chunk_size;
    memcpy(c->fill_digest, digest, 16);
    c->have_fill_digest = true;
}

/* A result of q: the outcome fetcher_req_done would make of it. May free x. */
static void
uring_done(struct xfer *x, struct req *q, const struct ufetch_result *res)
{
    struct ferry_jobs *jobs = x->jobs;
    struct jfile *f = &x->job->files[x->fidx];
    struct fetch_outcome o = {.res = CURLE_OK, .status = res->http_status};

    uring_progress(x, q, res->written, res->digest);
    xfer_remove_req(x, q);
    if (f->chunks && q->chunk < f->nchunks && f->chunks[q->chunk].state == CHUNK_INFLIGHT)
        f->chunks[q->chunk].state = f->chunks[q->chunk].fill ? CHUNK_PARTIAL : CHUNK_MISSING;
    ferry_log_debug("job %s: io_uring range chunk %llu done: status %d, HTTP %d, err %d, "
                    "pos %llu end %llu", x->job->id, (unsigned long long)q->chunk,
                    (int)res->status, res->http_status, res->err, (unsigned long long)q->pos,
                    (unsigned long long)q->end);
    switch (res->status) {
    case UFETCH_DONE:
        if (q->pos != q->end + 1) {
            o.reason = FETCH_BAD_RESPONSE;
            break;
        }
        xfer_range_done(x, q); /* may free x (a chunk failing too often) */
        req_free(jobs, q);
        return;
    case UFETCH_E_CHANGED:
        req_free(x->jobs, q);
        xfer_restart(x);
        return;
    case UFETCH_E_BAD_RESPONSE:
        /* not for ufetch's strict parser: libcurl takes this source from here on (the
         * chunk keeps its verified bytes and continues there) */
        f->uring_refused = true;
        if (x->mirrors[q->mirror].path == FETCH_PATH_URING)
            uring_set_path(x, q->mirror, FETCH_PATH_CURL,
                           "its answers are not for the io_uring path; falling back");
        req_free(x->jobs, q);
        return;
    case UFETCH_E_HTTP:
        break;
    case UFETCH_E_NO_RANGES:
        o.reason = FETCH_NO_RANGES;
        break;
    case UFETCH_E_NET:
        o.res = res->err == -ECONNREFUSED ? CURLE_COULDNT_CONNECT : CURLE_RECV_ERROR;
        o.curl_text = strerror(-res->err);
        break;
    case UFETCH_E_TIMEOUT:
        o.res = CURLE_OPERATION_TIMEDOUT;
        o.curl_text = "no data within the stall timeout";
        break;
    case UFETCH_E_LOCAL:
        o.reason = FETCH_LOCAL;
        o.err = -res->err;
        break;
    }
    req_free(x->jobs, q);
    xfer_fail(x, &o);
}

/*
 * Jobs thread, each run: follow the job's BandwidthLimit, carry the progress of every fed
 * range into its chunk, and handle finished ranges one at a time (a failure or a restart
 * ends or resets the transfer: then nothing more is looked at). May free x.
 */
void
xfer_uring_poll(struct xfer *x)
{
    struct job *job = x->job;

    if (job->rate && job->rate_bps != job->bandwidth_limit) {
        ferry_rate_set(job->rate, job->bandwidth_limit);
        job->rate_bps = job->bandwidth_limit;
    }
    for (size_t i = 0; i < x->nreqs; i++) {
        struct req *q = x->reqs[i];
        uint64_t w;
        uint8_t d[16];
        if (q->uring && ufetch_progress(x->mirrors[q->mirror].uf, q, &w, d))
            uring_progress(x, q, w, d);
    }
    for (size_t mi = 0; mi < x->nmirrors; mi++) {
        struct mirror *m = &x->mirrors[mi];
        if (m->uf && m->splice_said == 1 && !ufetch_source_splicing(m->uf)) {
            m->splice_refused = true;
            uring_splice_say(x, m, false, "the file system refused splice");
        }
    }
    for (size_t mi = 0; mi < x->nmirrors; mi++) {
        struct ufetch_result res;
        while (job->xfer == x && mi < x->nmirrors && x->mirrors[mi].uf &&
               ufetch_poll(x->mirrors[mi].uf, &res, 1) == 1) {
            uring_done(x, res.tag, &res);
            if (job->xfer != x)
                return;
        }
    }
}

/*
 * Stop every source of x (before its requests are aborted or its file changes): nothing of
 * ufetch touches the file or the streams afterwards. Fed ranges keep their bytes (fill and
 * digest); one that got all its bytes but whose result was not seen completes here when it
 * verifies. The sources are freed; the next range makes them again.
 */
void
xfer_uring_stop(struct xfer *x)
{
    struct jfile *f = &x->job->files[x->fidx];

    for (size_t mi = 0; mi < x->nmirrors; mi++)
        if (x->mirrors[mi].uf)
            ufetch_source_stop(x->mirrors[mi].uf);
    for (size_t i = 0; i < x->nreqs; i++) {
        struct req *q = x->reqs[i];
        struct chunk *c;
        uint64_t w;
        uint8_t d[16];
        if (!q->uring || !x->mirrors[q->mirror].uf)
            continue;
        if (!ufetch_progress(x->mirrors[q->mirror].uf, q, &w, d))
            continue; /* results are handled as soon as they are polled: not reached */
        uring_progress(x, q, w, d);
        if (q->pos != q->end + 1 || !f->chunks || q->chunk >= f->nchunks)
            continue;
        c = &f->chunks[q->chunk];
        verify_stream_digest(q->hs, d);
        if (c->state == CHUNK_INFLIGHT && (!c->have_expected || memcmp(d, c->expected, 16) == 0))
            xfer_range_done(x, q);
    }
    for (size_t mi = 0; mi < x->nmirrors; mi++)
        x->mirrors[mi].uf = ufetch_source_free(x->mirrors[mi].uf);
}
