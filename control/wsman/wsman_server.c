/*
 * wsman_server.c - the WS-Man listeners on the HTTP server core: one ferry_http_server with
 * a single worker named "wsman", POST /wsman (and GET /metrics) on --wsman-listen and,
 * when configured, on --wsman-tls-listen with the daemon's certificate (client
 * certificates requested when tls_client_ca is set). Requests are adapted to the
 * transport-free wsman_http_handle().
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/auth.h"
#include "ferry/http.h"
#include "ferry/log.h"
#include "wsman.h"
#include "wsman_config.h"
#include "wsman_server.h"

struct wsman_server {
    struct wsman_ctx *ctx;
    struct ferry_http_server *http;
    struct ferry_tls_ctx *tls;
    uint32_t plain_id, tls_id;
    struct ferry_config hcfg; /* cfg with the WS-Man connection cap */
};

static const char *
server_header(void *userdata, const char *name)
{
    return ferry_http_request_header(userdata, name);
}

static const char *
server_method(enum ferry_http_method m)
{
    switch (m) {
    case FERRY_HTTP_GET:
        return "GET";
    case FERRY_HTTP_HEAD:
        return "HEAD";
    case FERRY_HTTP_POST:
        return "POST";
    case FERRY_HTTP_PUT:
        return "PUT";
    case FERRY_HTTP_DELETE:
        return "DELETE";
    case FERRY_HTTP_OPTIONS:
        return "OPTIONS";
    default:
        return "OTHER";
    }
}

static void
server_peer(const struct ferry_http_request *req, char *buf, size_t len)
{
    socklen_t slen = 0;
    const struct sockaddr *sa = ferry_http_request_peer(req, &slen);

    snprintf(buf, len, "?");
    if (!sa)
        return;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, (socklen_t)len);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf,
                  (socklen_t)len);
}

/* One password check in flight: owned by the verifier pool from submit to done, then by
 * the HTTP core as the wait's result, then by the head hook (freed there). */
struct server_verify {
    struct ferry_auth_req req;
    struct ferry_http_wait *wait;
};

static void
server_verify_free(void *p)
{
    struct server_verify *v = p;

    explicit_bzero(v, sizeof(*v));
    free(v);
}

static void
server_verified(struct ferry_auth_req *req)
{
    struct server_verify *v = req->ud;

    ferry_http_wait_resume(v->wait, v, server_verify_free);
}

static void
server_in(const struct ferry_http_request *req, char *peer, size_t peer_len,
          struct wsman_http_in *in)
{
    socklen_t slen = 0;

    server_peer(req, peer, peer_len);
    in->method = server_method(ferry_http_request_method(req));
    in->path = ferry_http_request_path(req);
    in->header = server_header;
    in->header_userdata = (void *)req;
    in->peer = peer;
    in->peer_sa = ferry_http_request_peer(req, &slen);
    in->peer_sa_len = slen;
    in->peer_loopback = ferry_http_request_peer_is_loopback(req);
    in->is_tls = ferry_http_request_is_tls(req);
    in->cert_sha256 = ferry_http_request_client_cert_sha256(req);
}

static void
server_answer(struct ferry_http_response *resp, struct wsman_http_out *out)
{
    ferry_http_response_status(resp, out->status);
    if (out->www_authenticate)
        ferry_http_response_header(resp, "WWW-Authenticate", "Basic realm=\"WSMAN\"");
    if (out->allow)
        ferry_http_response_header(resp, "Allow", "%s", out->allow);
    if (out->retry_after)
        ferry_http_response_header(resp, "Retry-After", "%u", out->retry_after);
    if (out->body) {
        ferry_http_response_header(resp, "Content-Type", "%s",
                                   out->content_type ? out->content_type : "text/plain");
        if (ferry_http_response_body_take(resp, out->body, out->len) < 0)
            ferry_http_response_status(resp, 500);
        out->body = NULL;
    }
    wsman_http_out_done(out);
}

/* The head hook: authenticate on the headers before any body byte is read (no 100
 * Continue before that); PBKDF2 runs on the engine's verifier threads meanwhile. */
static int
server_head(void *userdata, const struct ferry_http_request *req,
            struct ferry_http_response *resp)
{
    struct wsman_server *s = userdata;
    struct wsman_http_in in = {0};
    struct wsman_http_out out = {0};
    struct wsman_http_auth *auth = ferry_http_request_data(req);
    struct server_verify *v = ferry_http_request_take_result(req);
    enum wsman_head_verdict hv;
    char peer[64];

    if (!auth) {
        auth = calloc(1, sizeof(*auth));
        if (!auth) {
            free(v);
            ferry_http_response_status(resp, 503);
            return FERRY_HTTP_HEAD_ANSWER;
        }
        ferry_http_request_set_data(req, auth, free);
    }
    if (v) {
        auth->ar = wsman_auth_finish(&v->req, auth->user, sizeof(auth->user), &auth->role,
                                     &auth->retry_after);
        auth->decided = true;
        server_verify_free(v);
        v = NULL;
    }
    server_in(req, peer, sizeof(peer), &in);
    v = calloc(1, sizeof(*v));
    if (!v) {
        ferry_http_response_status(resp, 503);
        return FERRY_HTTP_HEAD_ANSWER;
    }
    hv = wsman_http_head(s->ctx, &in, auth, &v->req, &out);
    if (hv == WSMAN_HEAD_VERIFY) {
        v->req.done = server_verified;
        v->req.ud = v;
        v->wait = ferry_http_request_suspend(req);
        if (!v->wait) {
            server_verify_free(v);
            return FERRY_HTTP_HEAD_WAIT; /* no wait: the core answers 503 */
        }
        if (wsman_auth_submit(s->ctx, &v->req) == WSMAN_AUTH_VERIFY)
            return FERRY_HTTP_HEAD_WAIT;
        /* queue full: resume at once with BUSY */
        ferry_http_wait_resume(v->wait, v, server_verify_free);
        return FERRY_HTTP_HEAD_WAIT;
    }
    server_verify_free(v);
    if (hv == WSMAN_HEAD_GO) {
        wsman_http_out_done(&out);
        return FERRY_HTTP_HEAD_GO;
    }
    server_answer(resp, &out);
    return FERRY_HTTP_HEAD_ANSWER;
}

static void
server_handle(void *userdata, const struct ferry_http_request *req,
              struct ferry_http_response *resp)
{
    struct wsman_server *s = userdata;
    struct wsman_http_in in = {0};
    struct wsman_http_out out = {0};
    char peer[64];

    server_in(req, peer, sizeof(peer), &in);
    in.body = ferry_http_request_body(req, &in.body_len);
    in.preauth = ferry_http_request_data(req);
    wsman_http_handle(s->ctx, &in, &out);
    server_answer(resp, &out);
}

int
wsman_server_new(const struct ferry_config *cfg, const struct wsman_engine_ops *ops,
                 struct ferry_jobs *jobs, struct ferry_server *srv, struct ferry_users *users,
                 struct wsman_server **ret)
{
    const struct wsman_config *wcfg = wsman_config_get(cfg);
    struct ferry_http_listen_opts lo = {0};
    struct wsman_server *s;
    int r;

    if (!wcfg)
        return -EINVAL;
    s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    r = wsman_ctx_new(cfg, wcfg, ops, jobs, srv, users, &s->ctx);
    if (r < 0)
        goto error;
    /* Unauthenticated bytes: at most http_max_header_bytes (+ the read buffer's slack) per
     * connection, WSMAN_ANON_BODY_MAX more for an anonymous Identify, and
     * --wsman-max-connections connections. */
    s->hcfg = *cfg;
    s->hcfg.http_max_connections = wcfg->max_connections;
    r = ferry_http_server_new(&s->hcfg, "wsman", wcfg->workers, &s->http);
    if (r < 0) {
        ferry_log_error("the WS-Man HTTP server could not start: %s", strerror(-r));
        goto error;
    }
    s->ctx->http = s->http; /* /metrics reads its refusal tarpit */
    lo.head = server_head;
    lo.handler = server_handle;
    lo.userdata = s;
    lo.max_body_bytes = wcfg->max_envelope * 2 + 65536;
    if (wcfg->listen && wcfg->listen[0]) {
        lo.addr = wcfg->listen;
        r = ferry_http_server_listen(s->http, &lo, &s->plain_id);
        if (r < 0) {
            ferry_log_error("listening on '%s' for WS-Man failed: %s", wcfg->listen,
                            strerror(-r));
            goto error;
        }
    }
    if (wcfg->tls_listen && wcfg->tls_listen[0]) {
        if (!cfg->tls_cert || !cfg->tls_key) {
            ferry_log_error("--wsman-tls-listen needs --tls-cert and --tls-key");
            r = -EINVAL;
            goto error;
        }
        r = ferry_tls_ctx_new(cfg->tls_cert, cfg->tls_key, cfg->tls_client_ca, &s->tls);
        if (r < 0) {
            ferry_log_error("loading the TLS certificate '%s' failed: %s", cfg->tls_cert,
                            strerror(-r));
            goto error;
        }
        lo.addr = wcfg->tls_listen;
        lo.tls = s->tls;
        r = ferry_http_server_listen(s->http, &lo, &s->tls_id);
        if (r < 0) {
            ferry_log_error("listening on '%s' for WS-Man over TLS failed: %s",
                            wcfg->tls_listen, strerror(-r));
            goto error;
        }
    }
    *ret = s;
    return 0;
error:
    wsman_server_free(s);
    return r;
}

int
wsman_server_port(struct wsman_server *s, bool tls)
{
    uint32_t id = tls ? s->tls_id : s->plain_id;

    if (!id)
        return -ENOENT;
    return ferry_http_server_port(s->http, id);
}

struct wsman_server *
wsman_server_free(struct wsman_server *s)
{
    if (!s)
        return NULL;
    s->http = ferry_http_server_free(s->http);
    s->tls = ferry_tls_ctx_unref(s->tls);
    s->ctx = wsman_ctx_free(s->ctx);
    free(s);
    return NULL;
}
