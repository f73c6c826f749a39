/*
 * fileserve.c - serving published URLs: exact paths only, access rules, GET/HEAD with
 * single ranges and conditionals (decisions in conditional.c), Cache-Control for shared
 * caches (public when anonymous, private behind an access rule), the Metalink Link header and
 * URL.meta4, ConnectionLimit (sockets per group, 503) and BandwidthLimit (the group's ferry_rate), counters.
 * Runs on the data-plane worker threads: nothing here blocks beyond fstatat (and open when
 * the URL's cached descriptor no longer names its source).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ferry/auth.h"
#include "ferry/log.h"
#include "conditional.h"
#include "fileserve.h"
#include "fileserve_relay.h"
#include "upload.h"
#include "upload_reply.h"
#include "metalink.h"

#define FILESERVE_USER_MAX 65
#define FILESERVE_PASS_MAX 512

/* What on_done needs to close the books on one response. */
struct fileserve_done {
    struct fileserve *fs;
    struct urlgroup_url *url; /* reference */
};

static void
fileserve_text(struct ferry_http_response *resp, int status, const char *msg)
{
    ferry_http_response_status(resp, status);
    ferry_http_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
    ferry_http_response_body_copy(resp, msg, strlen(msg));
}

static void
fileserve_on_done(void *ud, uint64_t body_bytes_sent, bool complete)
{
    struct fileserve_done *d = ud;
    struct urlgroup_url *url = d->url;

    atomic_fetch_add(&url->bytes_sent, body_bytes_sent);
    atomic_fetch_add(&url->group->bytes_sent, body_bytes_sent);
    atomic_fetch_add(&d->fs->bytes_sent, body_bytes_sent);
    atomic_fetch_sub(&url->active, 1);
    atomic_fetch_sub(&url->group->active, 1);
    atomic_fetch_sub(&d->fs->active, 1);
    urlgroup_url_unref(url);
    free(d);
}

/*
 * ConnectionLimit counts sockets (docs/internals/server.md): a connection is bound to a
 * group by its first request that names one (routes to one of its URLs) and counts against
 * that group until it closes, idle keep-alive time included. A later request on the same
 * socket naming another group moves it: it leaves the old group's count and must find room
 * in the new one. A socket that finds its group full gets 503 + Retry-After and is closed.
 * Sockets that have not named a group yet (no request, or only 404s) count against none.
 */
struct fileserve_conn {
    struct urlgroup *group; /* reference; the group whose `sockets` counts this one */
};

static void
fileserve_conn_unbind(struct fileserve_conn *fc)
{
    if (fc->group) {
        atomic_fetch_sub(&fc->group->sockets, 1);
        fc->group = urlgroup_unref(fc->group);
    }
}

static void
fileserve_conn_free(void *p)
{
    struct fileserve_conn *fc = p;

    fileserve_conn_unbind(fc);
    free(fc);
}

/* Count the request's connection against g: true when it already is, or g had room. */
static bool
fileserve_conn_bind(const struct ferry_http_request *req, struct urlgroup *g)
{
    struct fileserve_conn *fc = ferry_http_request_conn_data(req);
    uint32_t limit;

    if (fc && fc->group == g)
        return true;
    limit = __atomic_load_n(&g->connection_limit, __ATOMIC_RELAXED);
    if (atomic_fetch_add(&g->sockets, 1) >= limit && limit > 0) {
        atomic_fetch_sub(&g->sockets, 1);
        return false;
    }
    if (!fc) {
        fc = calloc(1, sizeof(*fc));
        if (!fc) {
            atomic_fetch_sub(&g->sockets, 1);
            return false;
        }
        ferry_http_request_set_conn_data(req, fc, fileserve_conn_free);
    }
    fileserve_conn_unbind(fc);
    fc->group = urlgroup_ref(g);
    return true;
}

/* The head hook's verdict on the request's Basic credentials (request data). */
struct fileserve_auth {
    bool ok;
    char user[FERRY_AUTH_USER_MAX];
    enum ferry_role role;
    struct upload_stream *stream; /* an authorized fragment written as it arrives */
};

static void
fileserve_auth_free(void *p)
{
    struct fileserve_auth *fa = p;

    if (!fa)
        return;
    upload_stream_free(fa->stream);
    free(fa);
}

/* A password check in flight: the pool's from submit to done, then the HTTP core's (the
 * wait's result), then the head hook's. */
struct fileserve_verify {
    struct ferry_auth_req req;
    struct ferry_http_wait *wait;
};

static void
fileserve_verify_free(void *p)
{
    struct fileserve_verify *v = p;

    explicit_bzero(v, sizeof(*v));
    free(v);
}

static void
fileserve_verified(struct ferry_auth_req *req)
{
    struct fileserve_verify *v = req->ud;

    ferry_http_wait_resume(v->wait, v, fileserve_verify_free);
}

/* Record an OK verdict for the handler; LIMITED and BUSY are answered here. */
static int
fileserve_head_verdict(const struct ferry_http_request *req, struct ferry_http_response *resp,
                       const struct ferry_auth_req *ar)
{
    struct fileserve_auth *fa;

    if (ar->result == FERRY_AUTH_LIMITED || ar->result == FERRY_AUTH_BUSY) {
        fileserve_text(resp, ar->result == FERRY_AUTH_BUSY ? 503 : 429,
                       ar->result == FERRY_AUTH_BUSY
                           ? "too many password checks are waiting; try again\n"
                           : "too many failed logins from this address; try again later\n");
        ferry_http_response_header(resp, "Retry-After", "%u",
                                   ar->retry_after ? ar->retry_after : 1);
        return FERRY_HTTP_HEAD_ANSWER;
    }
    if (ar->result != FERRY_AUTH_OK)
        return FERRY_HTTP_HEAD_GO; /* the handler answers 401 */
    fa = calloc(1, sizeof(*fa));
    if (!fa) {
        fileserve_text(resp, 503, "out of memory\n");
        return FERRY_HTTP_HEAD_ANSWER;
    }
    fa->ok = true;
    fa->role = ar->role;
    snprintf(fa->user, sizeof(fa->user), "%s", ar->user);
    ferry_http_request_set_data(req, fa, fileserve_auth_free);
    return FERRY_HTTP_HEAD_GO;
}

static int fileserve_head_go(struct fileserve *fs, const struct ferry_http_request *req,
                             struct ferry_http_response *resp);

/* A GET/HEAD of a session's reply (BITS-Reply-URL) in a group that accepts uploads, with
 * --upload-notify-url: the group (a reference), its upload directory (opened) and the
 * session's hex; and the path of the upload's target, whose URL's access rule applies. */
struct fileserve_reply {
    struct urlgroup *g;
    int dirfd;
    char hex[33];
    char target_path[2048];
};

static bool
fileserve_reply_route(struct fileserve *fs, const struct ferry_http_request *req,
                      struct fileserve_reply *ret)
{
    enum ferry_http_method m = ferry_http_request_method(req);
    const char *path = ferry_http_request_path(req), *name = NULL, *slash;
    char target[256];
    int port = ferry_http_request_local_port(req);

    ret->g = NULL;
    ret->dirfd = -1;
    if (!fs->replies || fs->upload_root_fd < 0 || (m != FERRY_HTTP_GET && m != FERRY_HTTP_HEAD) ||
        port <= 0 || port > 65535 || !strstr(path, UPLOAD_HIDDEN_PREFIX))
        return false;
    if (urlgroup_route_group(fs->reg, (uint16_t)port, ferry_http_request_is_tls(req),
                             ferry_http_request_header(req, "Host"), path, &ret->g,
                             &name) < 0)
        return false;
    if (!__atomic_load_n(&ret->g->upload_enabled, __ATOMIC_RELAXED) ||
        !upload_reply_name(name, ret->hex))
        goto no;
    ret->dirfd = openat(fs->upload_root_fd, ret->g->p.name,
                        O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (ret->dirfd < 0 || upload_session_complete(ret->dirfd, ret->hex, target,
                                                  sizeof(target)) < 0)
        goto no;
    slash = strrchr(path, '/');
    if ((size_t)snprintf(ret->target_path, sizeof(ret->target_path), "%.*s%s",
                         slash ? (int)(slash - path + 1) : 0, path, target) >=
        sizeof(ret->target_path))
        goto no;
    return true;
no:
    if (ret->dirfd >= 0)
        close(ret->dirfd);
    ret->dirfd = -1;
    urlgroup_unref(ret->g);
    ret->g = NULL;
    return false;
}

static void
fileserve_reply_done(struct fileserve_reply *rr)
{
    if (rr->dirfd >= 0)
        close(rr->dirfd);
    urlgroup_unref(rr->g);
}

/* The URL whose access rule decides the request: the one at its path, or for a reply the
 * one at its upload's target. -ENOENT when none is published. */
static int
fileserve_route_rule(struct fileserve *fs, const struct ferry_http_request *req,
                     struct urlgroup_url **ret_url)
{
    struct fileserve_reply rr;
    const char *path = ferry_http_request_path(req);
    char target[2048];
    bool meta4 = false;
    int port = ferry_http_request_local_port(req);

    if (port <= 0 || port > 65535)
        return -ENOENT;
    if (fileserve_reply_route(fs, req, &rr)) {
        snprintf(target, sizeof(target), "%s", rr.target_path);
        fileserve_reply_done(&rr);
        path = target;
    }
    return urlgroup_route(fs->reg, (uint16_t)port, ferry_http_request_is_tls(req),
                          ferry_http_request_header(req, "Host"), path, ret_url, &meta4);
}


int
fileserve_head(void *userdata, const struct ferry_http_request *req,
               struct ferry_http_response *resp)
{
    struct fileserve *fs = userdata;
    struct fileserve_verify *v = ferry_http_request_take_result(req);
    struct ferry_authpool *pool = ferry_users_authpool(fs->users);
    const char *auth = ferry_http_request_header(req, "Authorization");
    struct urlgroup_url *url = NULL;
    bool wants;
    socklen_t slen = 0;
    const struct sockaddr *sa;
    int port = ferry_http_request_local_port(req), verdict;

    if (v) {
        verdict = fileserve_head_verdict(req, resp, &v->req);
        fileserve_verify_free(v);
        return verdict == FERRY_HTTP_HEAD_GO ? fileserve_head_go(fs, req, resp) : verdict;
    }
    /* anonymous requests, and no pool (then the handler checks synchronously) */
    if (!auth || !pool || port <= 0 || port > 65535)
        return fileserve_head_go(fs, req, resp);
    if (fileserve_route_rule(fs, req, &url) < 0)
        return fileserve_head_go(fs, req, resp);
    wants = !url->rule->anonymous && access_rule_wants_user(url->rule);
    urlgroup_url_unref(url);
    if (!wants)
        return fileserve_head_go(fs, req, resp);
    if (!ferry_http_request_is_tls(req) && !fs->allow_basic_over_http &&
        !ferry_http_request_peer_is_loopback(req))
        return fileserve_head_go(fs, req, resp); /* the handler explains the refusal */
    v = calloc(1, sizeof(*v));
    if (!v) {
        fileserve_text(resp, 503, "out of memory\n");
        return FERRY_HTTP_HEAD_ANSWER;
    }
    sa = ferry_http_request_peer(req, &slen);
    if (sa && slen <= sizeof(v->req.peer)) {
        memcpy(&v->req.peer, sa, slen);
        v->req.peer_len = slen;
    }
    if (access_basic_parse(auth, v->req.user, sizeof(v->req.user), v->req.pass,
                           sizeof(v->req.pass)) < 0) {
        unsigned wait;

        if (ferry_authpool_wait(pool, v->req.peer_len ? (struct sockaddr *)&v->req.peer
                                                      : NULL, NULL, &wait)) {
            v->req.result = FERRY_AUTH_LIMITED;
            v->req.retry_after = wait;
        } else {
            ferry_authpool_count_failure(pool, v->req.peer_len ? (struct sockaddr *)&v->req.peer
                                                               : NULL, NULL);
            v->req.result = FERRY_AUTH_BAD;
        }
    } else {
        v->req.what = "data port";
        v->req.done = fileserve_verified;
        v->req.ud = v;
        if (ferry_authpool_precheck(pool, &v->req) == FERRY_AUTH_PENDING) {
            v->wait = ferry_http_request_suspend(req);
            if (!v->wait) {
                fileserve_verify_free(v);
                return FERRY_HTTP_HEAD_WAIT; /* no wait: the core answers 503 */
            }
            if (ferry_authpool_submit(pool, &v->req) != FERRY_AUTH_PENDING)
                ferry_http_wait_resume(v->wait, v, fileserve_verify_free); /* BUSY */
            return FERRY_HTTP_HEAD_WAIT;
        }
    }
    verdict = fileserve_head_verdict(req, resp, &v->req);
    fileserve_verify_free(v);
    return verdict == FERRY_HTTP_HEAD_GO ? fileserve_head_go(fs, req, resp) : verdict;
}

/* Establish who the request is and apply the URL's rule. Returns true when allowed;
 * otherwise the 401/403 response is filled. */
static bool
fileserve_authorize(struct fileserve *fs, const struct urlgroup_url *url,
                    const struct ferry_http_request *req, struct ferry_http_response *resp)
{
    struct access_identity id = {0};
    const char *auth;
    char user[FILESERVE_USER_MAX], pass[FILESERVE_PASS_MAX];
    bool basic_refused = false, tls = ferry_http_request_is_tls(req);
    enum access_decision d;

    if (url->rule->anonymous)
        return true;
    if (tls)
        id.cert_sha256 = ferry_http_request_client_cert_sha256(req);
    auth = ferry_http_request_header(req, "Authorization");
    if (auth && access_rule_wants_user(url->rule) && ferry_http_request_data(req)) {
        const struct fileserve_auth *fa = ferry_http_request_data(req);

        /* verified by fileserve_head on a verifier thread */
        if (fa->ok) {
            snprintf(user, sizeof(user), "%s", fa->user);
            id.user = user;
            id.role = fa->role;
        }
    } else if (auth && access_rule_wants_user(url->rule) && ferry_users_authpool(fs->users)) {
        /* the head hook found the credentials wrong (or malformed): 401 */
        if (!tls && !fs->allow_basic_over_http && !ferry_http_request_peer_is_loopback(req))
            basic_refused = true;
    } else if (auth && access_rule_wants_user(url->rule)) {
        if (!tls && !fs->allow_basic_over_http && !ferry_http_request_peer_is_loopback(req)) {
            basic_refused = true;
        } else if (fs->users &&
                   access_basic_parse(auth, user, sizeof(user), pass, sizeof(pass)) == 0 &&
                   ferry_users_verify(fs->users, user, pass, &id.role) == 0) {
            id.user = user;
        }
        explicit_bzero(pass, sizeof(pass));
    }
    d = access_decide(url->rule, &id);
    if (d == ACCESS_ALLOW)
        return true;
    if (d == ACCESS_UNAUTHORIZED) {
        fileserve_text(resp, 401, basic_refused
                                      ? "Basic authentication over plain http is only "
                                        "accepted from loopback; use https\n"
                                      : "authentication required\n");
        ferry_http_response_header(resp, "WWW-Authenticate", "Basic realm=\"ferry\"");
        return false;
    }
    fileserve_text(resp, 403, "access to this URL is not allowed\n");
    return false;
}

/* The manifest describing this file version, or NULL (then a job is queued if none is). */
static struct manifest *
fileserve_manifest(struct fileserve *fs, struct urlgroup_url *url,
                   const struct manifest_identity *id)
{
    struct manifest *m = NULL;
    bool want = false;

    pthread_mutex_lock(&url->mlock);
    if (url->manifest && manifest_identity_eq(&url->manifest->id, id)) {
        m = manifest_ref(url->manifest);
    } else {
        /* stale: the file changed since it was computed; drop it at once */
        url->manifest = manifest_unref(url->manifest);
        if (!url->manifest_pending && fs->manifest_wanted) {
            url->manifest_pending = true;
            want = true;
        }
    }
    pthread_mutex_unlock(&url->mlock);
    if (want)
        fs->manifest_wanted(fs->ud, url);
    return m;
}

static void
fileserve_meta4(struct urlgroup_url *url, struct manifest *m, bool head,
                const struct ferry_http_request *req, struct ferry_http_response *resp)
{
    char *link = NULL, *xml = NULL, host[INET6_ADDRSTRLEN + 10] = "";
    size_t len = 0;
    int r;

    /* The group's configured name, never the request's Host header (a shared cache would
     * hand a Host-forged document to everyone); a group on every address ('+', '*') names
     * the address this connection reached. */
    if (url->group->p.host_kind == URLGROUP_HOST_STRONG ||
        url->group->p.host_kind == URLGROUP_HOST_WEAK) {
        socklen_t llen = 0;
        const struct sockaddr *la = ferry_http_request_local(req, &llen);
        char ip[INET6_ADDRSTRLEN] = "";

        if (la && la->sa_family == AF_INET6 &&
            !IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)la)->sin6_addr)) {
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)la)->sin6_addr, ip, sizeof(ip));
            snprintf(host, sizeof(host), "[%s]:%u", ip, url->group->p.port);
        } else if (la && la->sa_family == AF_INET6) {
            inet_ntop(AF_INET, ((const struct sockaddr_in6 *)la)->sin6_addr.s6_addr + 12, ip,
                      sizeof(ip));
            snprintf(host, sizeof(host), "%s:%u", ip, url->group->p.port);
        } else if (la && la->sa_family == AF_INET) {
            inet_ntop(AF_INET, &((const struct sockaddr_in *)la)->sin_addr, ip, sizeof(ip));
            snprintf(host, sizeof(host), "%s:%u", ip, url->group->p.port);
        }
    }
    link = urlgroup_url_string(url, host[0] ? host : NULL);
    if (!link) {
        fileserve_text(resp, 500, "out of memory\n");
        return;
    }
    r = metalink_render(m, url->suffix, link, &xml, &len);
    free(link);
    if (r < 0) {
        fileserve_text(resp, 500, "the Metalink document could not be rendered\n");
        return;
    }
    ferry_http_response_status(resp, 200);
    ferry_http_response_header(resp, "Content-Type", METALINK_CONTENT_TYPE);
    ferry_http_response_header(resp, "Cache-Control", "no-cache");
    if (head) {
        ferry_http_response_head_only(resp, (off_t)len);
        free(xml);
    } else if (ferry_http_response_body_take(resp, xml, len) < 0) {
        free(xml);
        fileserve_text(resp, 500, "out of memory\n");
    }
}

static void
fileserve_file(struct fileserve *fs, struct urlgroup_url *url, struct urlgroup_file *file,
               const struct stat *st,
               bool head, const struct ferry_http_request *req,
               struct ferry_http_response *resp)
{
    struct manifest_identity id;
    struct manifest *m;
    struct conditional_request rq;
    struct conditional_file f;
    struct conditional_result res;
    char etag[MANIFEST_ETAG_MAX], date[64], enc[URLGROUP_SUFFIX_MAX * 3 + 1];
    struct ferry_rate *rate;

    manifest_identity_from_stat(st, &id);
    manifest_identity_etag(&id, etag);
    conditional_date_format(st->st_mtim.tv_sec, date, sizeof(date));
    m = fileserve_manifest(fs, url, &id);

    rq = (struct conditional_request){
        .get = !head,
        .range = ferry_http_request_header(req, "Range"),
        .if_range = ferry_http_request_header(req, "If-Range"),
        .if_none_match = ferry_http_request_header(req, "If-None-Match"),
        .if_modified_since = ferry_http_request_header(req, "If-Modified-Since"),
    };
    f = (struct conditional_file){.etag = etag, .mtime = st->st_mtim.tv_sec,
                                  .size = (uint64_t)st->st_size};
    conditional_evaluate(&rq, &f, &res);

    ferry_http_response_status(resp, res.status);
    ferry_http_response_header(resp, "Accept-Ranges", "bytes");
    ferry_http_response_header(resp, "ETag", "%s", etag);
    ferry_http_response_header(resp, "Last-Modified", "%s", date);
    /* Shared caches (nginx proxy_cache + slice, docs/FLEET.md): an anonymous URL may be
     * stored and its 200/206 answers reused by everyone; a URL with an access rule never
     * (nginx stores answers to requests with Authorization unless told "private"). The
     * freshness is the cache's choice; the strong ETag makes revalidation a 304.
     * no-transform: the bytes must stay the ones the manifest's digests describe. */
    ferry_http_response_header(resp, "Cache-Control", "%s",
                               url->rule->anonymous ? "public, no-transform"
                                                    : "private, no-transform");
    if (m && urlgroup_path_encode(url->suffix, enc, sizeof(enc)) == 0)
        ferry_http_response_header(resp, "Link",
                                   "</%s/%s.meta4>; rel=describedby; type=\"%s\"",
                                   url->group->p.name, enc, METALINK_CONTENT_TYPE);
    manifest_unref(m);

    switch (res.status) {
    case 304:
        urlgroup_file_release(file);
        return;
    case 416:
        urlgroup_file_release(file);
        ferry_http_response_header(resp, "Content-Range", "bytes */%" PRIu64, f.size);
        return;
    case 206:
        ferry_http_response_header(resp, "Content-Range",
                                   "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, res.start,
                                   res.start + res.len - 1, f.size);
        break;
    default:
        break;
    }
    ferry_http_response_header(resp, "Content-Type", "application/octet-stream");
    if (head) {
        urlgroup_file_release(file);
        ferry_http_response_head_only(resp, (off_t)res.len);
        return;
    }
    rate = fs->group_rate ? fs->group_rate(fs->ud, url->group) : NULL;
    if (rate)
        ferry_http_response_rate(resp, rate);
    /* the core holds the file reference from here, also on failure */
    if (ferry_http_response_body_file_lent(resp, file->fd, (off_t)res.start, (off_t)res.len,
                                           urlgroup_file_release, file) < 0)
        fileserve_text(resp, 500, "the file could not be sent\n");
}

static bool
fileserve_is_upload(const struct ferry_http_request *req)
{
    return ferry_http_request_method(req) == FERRY_HTTP_OTHER &&
           strcmp(ferry_http_request_method_str(req), UPLOAD_METHOD) == 0;
}

/* A BITS_POST: the group must accept uploads; the rule of a URL published at that name
 * applies, otherwise the upload is anonymous (docs/internals/server.md "Uploads"). Returns
 * true with the group (a reference for the caller) and the target name (inside the request)
 * when allowed; otherwise resp holds the refusal. Runs in the head hook, before the body is
 * read, and again in the handler (the verifier's verdict is the request's data by then). */
static bool
fileserve_upload_allowed(struct fileserve *fs, const struct ferry_http_request *req,
                         struct ferry_http_response *resp, struct urlgroup **ret_group,
                         const char **ret_name)
{
    struct urlgroup *g = NULL;
    struct urlgroup_url *url = NULL;
    const char *name = NULL;
    bool meta4 = false, ok = false;
    int port = ferry_http_request_local_port(req);

    if (port <= 0 || port > 65535 ||
        urlgroup_route_group(fs->reg, (uint16_t)port, ferry_http_request_is_tls(req),
                             ferry_http_request_header(req, "Host"),
                             ferry_http_request_path(req), &g, &name) < 0) {
        fileserve_text(resp, 404, "not found\n");
        return false;
    }
    if (fs->upload_root_fd < 0 || !__atomic_load_n(&g->upload_enabled, __ATOMIC_RELAXED) ||
        !upload_name_ok(name)) {
        fileserve_text(resp, 403, "this URL group does not accept uploads\n");
        ferry_http_response_header(resp, "BITS-Error-Code", "0x%08x", FERRY_E_ACCESSDENIED);
        ferry_http_response_header(resp, "BITS-Error-Context", "0x%x",
                                   UPLOAD_CONTEXT_REMOTE_FILE);
        goto cleanup;
    }
    if (urlgroup_route(fs->reg, (uint16_t)port, ferry_http_request_is_tls(req),
                       ferry_http_request_header(req, "Host"), ferry_http_request_path(req),
                       &url, &meta4) == 0 &&
        !fileserve_authorize(fs, url, req, resp))
        goto cleanup;
    ok = true;
    *ret_group = g;
    *ret_name = name;
    g = NULL;
cleanup:
    urlgroup_url_unref(url);
    urlgroup_unref(g);
    return ok;
}

/* An authorized fragment that continues its session: written to the part file while its
 * body arrives (upload_stream_open), so the receive and the write overlap; anything else is
 * left to the buffered path. Failure to set it up only loses the overlap. */
static void
fileserve_stream_open(struct fileserve *fs, const struct ferry_http_request *req,
                      struct urlgroup *g, const char *name)
{
    struct fileserve_auth *fa = ferry_http_request_data(req);
    struct upload_stream *st = NULL;
    int dirfd;

    if (ferry_http_request_header(req, "Content-Length") == NULL)
        return;
    dirfd = openat(fs->upload_root_fd, g->p.name, O_RDONLY | O_DIRECTORY | O_CLOEXEC |
                                                 O_NOFOLLOW);
    if (dirfd < 0)
        return;
    if (upload_stream_open(dirfd, name, __atomic_load_n(&g->max_upload_size, __ATOMIC_RELAXED),
                           req, &st) < 0 || !st) {
        close(dirfd);
        return;
    }
    close(dirfd);
    if (!fa) {
        fa = calloc(1, sizeof(*fa));
        if (!fa) {
            upload_stream_free(st);
            return;
        }
        ferry_http_request_set_data(req, fa, fileserve_auth_free);
    }
    upload_stream_free(fa->stream);
    fa->stream = st;
    ferry_http_request_body_sink(req, upload_stream_write, st);
}

/* The head hook's last word on a request it lets through: a BITS_POST that may upload gets
 * a body of up to --upload-fragment-max; one that may not is answered on its head alone, so
 * no request body reaches a buffer before its access rule and authentication passed. */
static int
fileserve_head_go(struct fileserve *fs, const struct ferry_http_request *req,
                  struct ferry_http_response *resp)
{
    struct urlgroup *g = NULL;
    struct fileserve_reply rr;
    const char *name = NULL;

    if (fileserve_reply_route(fs, req, &rr)) {
        /* the upload's rule, then the notification (which may wait) */
        struct urlgroup_url *url = NULL;
        char orig[2300];
        int v = FERRY_HTTP_HEAD_ANSWER;
        bool meta4 = false;

        if (urlgroup_route(fs->reg, (uint16_t)ferry_http_request_local_port(req),
                           ferry_http_request_is_tls(req),
                           ferry_http_request_header(req, "Host"), rr.target_path, &url,
                           &meta4) < 0 ||
            fileserve_authorize(fs, url, req, resp)) {
            snprintf(orig, sizeof(orig), "%s://%s%s",
                     ferry_http_request_is_tls(req) ? "https" : "http",
                     ferry_http_request_header(req, "Host") ? ferry_http_request_header(req,
                                                                                        "Host")
                                                            : "",
                     rr.target_path);
            v = upload_reply_head(fs->replies, rr.dirfd, rr.hex, orig, req, resp);
        }
        urlgroup_url_unref(url);
        fileserve_reply_done(&rr);
        return v;
    }
    if (!fileserve_is_upload(req))
        return FERRY_HTTP_HEAD_GO;
    if (!fileserve_upload_allowed(fs, req, resp, &g, &name))
        return FERRY_HTTP_HEAD_ANSWER;
    ferry_http_request_allow_body(req, fs->upload_fragment_max);
    fileserve_stream_open(fs, req, g, name);
    urlgroup_unref(g);
    return FERRY_HTTP_HEAD_GO;
}

static void
fileserve_upload(struct fileserve *fs, const struct ferry_http_request *req,
                 struct ferry_http_response *resp)
{
    struct urlgroup *g = NULL;
    const char *name = NULL;
    int dirfd;

    if (!fileserve_upload_allowed(fs, req, resp, &g, &name))
        return;
    dirfd = openat(fs->upload_root_fd, g->p.name, O_RDONLY | O_DIRECTORY | O_CLOEXEC |
                                                 O_NOFOLLOW);
    if (dirfd < 0 && errno == ENOENT && mkdirat(fs->upload_root_fd, g->p.name, 0750) == 0)
        dirfd = openat(fs->upload_root_fd, g->p.name, O_RDONLY | O_DIRECTORY | O_CLOEXEC |
                                                     O_NOFOLLOW);
    if (dirfd < 0) {
        ferry_log_warn("upload directory '%s' cannot be opened: %s", g->p.name,
                       strerror(errno));
        fileserve_text(resp, 500, "the upload directory cannot be opened\n");
        goto cleanup;
    }
    atomic_fetch_add(&g->requests, 1);
    {
        struct fileserve_auth *fa = ferry_http_request_data(req);

        upload_handle(dirfd, name, __atomic_load_n(&g->max_upload_size, __ATOMIC_RELAXED),
                      fs->replies != NULL, fa ? fa->stream : NULL, req, resp);
    }
    close(dirfd);
cleanup:
    urlgroup_unref(g);
}

void
fileserve_handle(void *userdata, const struct ferry_http_request *req,
                 struct ferry_http_response *resp)
{
    struct fileserve *fs = userdata;
    struct urlgroup_url *url = NULL;
    struct urlgroup *g;
    struct fileserve_done *done;
    enum ferry_http_method method = ferry_http_request_method(req);
    bool meta4 = false, head = method == FERRY_HTTP_HEAD;
    struct urlgroup_file *file;
    struct stat st;
    int port = ferry_http_request_local_port(req), r;

    atomic_fetch_add(&fs->requests, 1);
    if (fileserve_is_upload(req)) {
        fileserve_upload(fs, req, resp);
        return;
    }
    {
        struct fileserve_reply rr;

        /* authorized and notified by the head hook (fileserve_head_go) */
        if (fileserve_reply_route(fs, req, &rr)) {
            upload_reply_send(rr.dirfd, rr.hex, resp);
            fileserve_reply_done(&rr);
            return;
        }
    }
    if (port <= 0 || port > 65535 ||
        urlgroup_route(fs->reg, (uint16_t)port, ferry_http_request_is_tls(req),
                       ferry_http_request_header(req, "Host"), ferry_http_request_path(req),
                       &url, &meta4) < 0) {
        fileserve_text(resp, 404, "not found\n");
        return;
    }
    g = url->group;
    atomic_fetch_add(&url->requests, 1);
    atomic_fetch_add(&g->requests, 1);
    if (!fileserve_conn_bind(req, g)) {
        fileserve_text(resp, 503, "the URL group's connection limit is reached\n");
        ferry_http_response_header(resp, "Retry-After", "%d", FILESERVE_RETRY_AFTER);
        ferry_http_response_close(resp);
        goto cleanup;
    }
    if (!fileserve_authorize(fs, url, req, resp))
        goto cleanup;
    if (method != FERRY_HTTP_GET && method != FERRY_HTTP_HEAD) {
        fileserve_text(resp, 405, "only GET and HEAD are allowed\n");
        ferry_http_response_header(resp, "Allow", "GET, HEAD");
        goto cleanup;
    }
    atomic_fetch_add(&g->active, 1);
    atomic_fetch_add(&url->active, 1);
    atomic_fetch_add(&fs->active, 1);
    done = calloc(1, sizeof(*done));
    if (!done) {
        atomic_fetch_sub(&g->active, 1);
        atomic_fetch_sub(&url->active, 1);
        atomic_fetch_sub(&fs->active, 1);
        fileserve_text(resp, 500, "out of memory\n");
        goto cleanup;
    }
    done->fs = fs;
    done->url = url; /* the reference moves to on_done */
    url = NULL;
    ferry_http_response_on_done(resp, fileserve_on_done, done);

    {
        /* a job of this host still fetching the source: what it verified */
        struct relay *rl = urlgroup_url_relay(fs->reg, done->url);

        if (rl) {
            fileserve_relay(done->url, rl,
                            fs->group_rate ? fs->group_rate(fs->ud, done->url->group) : NULL,
                            meta4, head, req, resp);
            return;
        }
    }
    r = urlgroup_url_file(fs->reg, done->url, &st, &file);
    if (r < 0) {
        /* once per outage, not once per request */
        if (!atomic_exchange(&done->url->open_failing, true))
            ferry_log_warn("published source '%s' cannot be opened: %s", done->url->source,
                           r == -EXDEV ? "it resolves outside its publish root"
                           : r == -EINVAL ? "it is no longer a regular file" : strerror(-r));
        /* gone, replaced by something that leaves the root, or not a file any more: the
         * URL has nothing to serve */
        if (r == -ENOENT || r == -EXDEV || r == -ELOOP || r == -EINVAL || r == -ENOTDIR)
            fileserve_text(resp, 404, "the published file is not available\n");
        else if (r == -EACCES || r == -EPERM)
            fileserve_text(resp, 403, "the published file cannot be read\n");
        else
            fileserve_text(resp, 500, "the published file cannot be opened\n");
        return;
    }
    if (atomic_load_explicit(&done->url->open_failing, memory_order_relaxed) &&
        atomic_exchange(&done->url->open_failing, false))
        ferry_log_info("published source '%s' is available again", done->url->source);
    if (meta4) {
        struct manifest_identity id;
        struct manifest *m;

        urlgroup_file_release(file);
        manifest_identity_from_stat(&st, &id);
        m = fileserve_manifest(fs, done->url, &id);
        if (!m) {
            fileserve_text(resp, 404, "the manifest is not ready yet\n");
            return;
        }
        fileserve_meta4(done->url, m, head, req, resp);
        manifest_unref(m);
        return;
    }
    fileserve_file(fs, done->url, file, &st, head, req, resp);
    return;
cleanup:
    urlgroup_url_unref(url);
}
