/*
 * wsman_http.c - the WS-Man listener's request handling, free of any socket code so unit
 * tests drive it directly (wsman_server.c adapts the HTTP core's requests to it).
 *
 *   POST /wsman     SOAP (Content-Type application/soap+xml, charset UTF-8 or UTF-16,
 *                   matched case-insensitively) -> 415 for other types; other methods 405.
 *   GET  /metrics   Prometheus text, administrators only, when --metrics is set.
 *   anything else   404.
 * No or wrong credentials -> 401 with an empty body and WWW-Authenticate: Basic
 * realm="WSMAN"; an Identify with "WSMANIDENTIFY: unauthenticated" is answered without
 * credentials when --anonymous-identify is set (then without SecurityProfiles).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ferry/log.h"
#include "wsman.h"
#include "wsman_config.h"

#define WSMAN_PATH "/wsman"
#define METRICS_PATH "/metrics"

void
wsman_http_out_done(struct wsman_http_out *out)
{
    free(out->body);
    memset(out, 0, sizeof(*out));
}

static const char *
skip_ws(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

bool
wsman_http_content_type_ok(const char *v)
{
    static const char media[] = "application/soap+xml";
    static const char *const charsets[] = {"utf-8", "utf-16", "utf-16le", "utf-16be"};

    if (!v)
        return false;
    v = skip_ws(v);
    if (strncasecmp(v, media, sizeof(media) - 1) != 0)
        return false;
    v = skip_ws(v + sizeof(media) - 1);
    while (*v) {
        const char *name, *val, *end;
        size_t nlen, vlen;

        if (*v != ';')
            return false;
        v = skip_ws(v + 1);
        name = v;
        while (*v && *v != '=' && *v != ';' && *v != ' ' && *v != '\t')
            v++;
        nlen = (size_t)(v - name);
        v = skip_ws(v);
        if (*v != '=')
            return false;
        v = skip_ws(v + 1);
        if (*v == '"') {
            val = ++v;
            end = strchr(v, '"');
            if (!end)
                return false;
            vlen = (size_t)(end - val);
            v = skip_ws(end + 1);
        } else {
            val = v;
            while (*v && *v != ';' && *v != ' ' && *v != '\t')
                v++;
            vlen = (size_t)(v - val);
            v = skip_ws(v);
        }
        if (nlen == 7 && strncasecmp(name, "charset", 7) == 0) {
            bool ok = false;

            for (size_t i = 0; i < sizeof(charsets) / sizeof(charsets[0]); i++)
                if (strlen(charsets[i]) == vlen && strncasecmp(val, charsets[i], vlen) == 0)
                    ok = true;
            if (!ok)
                return false;
        }
    }
    return true;
}

/* The charset the Content-Type names: 8 (utf-8), 16 (utf-16, byte order from the BOM),
 * 161 (utf-16le), 162 (utf-16be), 0 when none is named. Content-Type was already checked
 * by wsman_http_content_type_ok(). */
static int
declared_charset(const char *ct)
{
    const char *p = ct ? strcasestr(ct, "charset") : NULL;

    if (!p)
        return 0;
    p = skip_ws(p + 7);
    if (*p != '=')
        return 0;
    p = skip_ws(p + 1);
    if (*p == '"')
        p++;
    if (strncasecmp(p, "utf-16le", 8) == 0)
        return 161;
    if (strncasecmp(p, "utf-16be", 8) == 0)
        return 162;
    if (strncasecmp(p, "utf-16", 6) == 0)
        return 16;
    return 8;
}

/* A body whose bytes contradict its encoding is refused (w:EncodingLimit, detail
 * CharacterSet) rather than guessed at: a UTF-16 BOM decides the encoding (RFC 7303
 * §3.3) and needs an even length; a UTF-16 label without a BOM needs bytes that look like
 * UTF-16 of the stated (or little-endian) order. */
static bool
body_charset_ok(int declared, const unsigned char *b, size_t len)
{
    bool bom_le = len >= 2 && b[0] == 0xFF && b[1] == 0xFE;
    bool bom_be = len >= 2 && b[0] == 0xFE && b[1] == 0xFF;

    if (bom_le || bom_be)
        return len % 2 == 0; /* RFC 7303 §3.3: the BOM wins over the charset label */
    if (declared == 16 || declared == 161 || declared == 162) {
        bool be = declared == 162;

        if (len < 2 || len % 2 != 0)
            return false;
        /* the first code unit must be an ASCII character ('<' or whitespace) */
        return be ? (b[0] == 0 && b[1] != 0) : (b[0] != 0 && b[1] == 0);
    }
    return true;
}

static void
http_unauthorized(struct wsman_http_out *out)
{
    out->status = 401;
    out->www_authenticate = true;
}

/* The caller's authentication: the head stage's verdict, or checked here and now. */
/* What authentication needs of a request: its Authorization header, peer and TLS facts. */
static struct wsman_auth_in
http_auth_in(const struct wsman_http_in *in)
{
    return (struct wsman_auth_in){
        .authorization = in->header(in->header_userdata, "Authorization"),
        .peer = in->peer,
        .peer_sa = in->peer_sa,
        .peer_sa_len = in->peer_sa_len,
        .peer_loopback = in->peer_loopback,
        .is_tls = in->is_tls,
        .cert_sha256 = in->cert_sha256,
    };
}

static enum wsman_auth_result
http_auth(struct wsman_ctx *ctx, const struct wsman_http_in *in, char *user, size_t user_len,
          enum ferry_role *role, unsigned *retry)
{
    struct wsman_auth_in ai = http_auth_in(in);

    if (in->preauth && in->preauth->decided) {
        snprintf(user, user_len, "%s", in->preauth->user);
        *role = in->preauth->role;
        *retry = in->preauth->retry_after;
        return in->preauth->ar;
    }
    return wsman_auth_check(ctx, &ai, user, user_len, role, retry);
}

/* 429 / 503 with Retry-After; false for other results. */
static bool
http_auth_wait(enum wsman_auth_result ar, unsigned retry, struct wsman_http_out *out)
{
    if (ar != WSMAN_AUTH_RATE_LIMITED && ar != WSMAN_AUTH_BUSY)
        return false;
    out->status = ar == WSMAN_AUTH_BUSY ? 503 : 429;
    out->retry_after = retry ? retry : 1;
    return true;
}

static void
http_metrics(struct wsman_ctx *ctx, const struct wsman_http_in *in, struct wsman_http_out *out)
{
    enum ferry_role role = FERRY_ROLE_NONE;
    char user[72];
    enum wsman_auth_result ar;
    unsigned retry = 0;

    if (strcmp(in->method, "GET") != 0) {
        out->status = 405;
        out->allow = "GET";
        return;
    }
    ar = http_auth(ctx, in, user, sizeof(user), &role, &retry);
    if (http_auth_wait(ar, retry, out))
        return;
    if (ar != WSMAN_AUTH_OK) {
        http_unauthorized(out);
        return;
    }
    if (role != FERRY_ROLE_ADMIN) {
        out->status = 403;
        return;
    }
    if (wsman_metrics_render(ctx, &out->body, &out->len) < 0) {
        out->status = 500;
        return;
    }
    out->status = 200;
    out->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

/* May this unauthenticated request (an anonymous Identify) have its body read? */
static bool
http_anonymous_ok(struct wsman_ctx *ctx, const struct wsman_http_in *in)
{
    const char *ident = in->header(in->header_userdata, "WSMANIDENTIFY");
    const char *cl = in->header(in->header_userdata, "Content-Length");

    if (!ctx->wcfg->anonymous_identify || !ident ||
        strcasecmp(skip_ws(ident), "unauthenticated") != 0)
        return false;
    /* the parser refused anything but digits; chunked bodies have no Content-Length */
    return cl && strlen(cl) <= 6 && strtoul(cl, NULL, 10) <= WSMAN_ANON_BODY_MAX;
}

enum wsman_head_verdict
wsman_http_head(struct wsman_ctx *ctx, const struct wsman_http_in *in,
                struct wsman_http_auth *auth, struct ferry_auth_req *req,
                struct wsman_http_out *out)
{
    bool metrics = ctx->wcfg->metrics && strcmp(in->path, METRICS_PATH) == 0;

    memset(out, 0, sizeof(*out));
    if (metrics) {
        if (strcmp(in->method, "GET") != 0) {
            out->status = 405;
            out->allow = "GET";
            return WSMAN_HEAD_ANSWER;
        }
    } else if (strcmp(in->path, WSMAN_PATH) != 0) {
        out->status = 404;
        return WSMAN_HEAD_ANSWER;
    } else if (strcmp(in->method, "POST") != 0) {
        out->status = 405;
        out->allow = "POST";
        return WSMAN_HEAD_ANSWER;
    } else if (!wsman_http_content_type_ok(in->header(in->header_userdata, "Content-Type"))) {
        out->status = 415;
        return WSMAN_HEAD_ANSWER;
    }
    if (!auth->decided) {
        struct wsman_auth_in ai = http_auth_in(in);

        auth->ar = wsman_auth_begin(ctx, &ai, req, auth->user, sizeof(auth->user),
                                    &auth->role, &auth->retry_after);
        if (auth->ar == WSMAN_AUTH_VERIFY)
            return WSMAN_HEAD_VERIFY;
        auth->decided = true;
    }
    if (http_auth_wait(auth->ar, auth->retry_after, out))
        return WSMAN_HEAD_ANSWER;
    if (auth->ar == WSMAN_AUTH_OK)
        return WSMAN_HEAD_GO;
    if (!metrics && auth->ar == WSMAN_AUTH_NONE && http_anonymous_ok(ctx, in))
        return WSMAN_HEAD_GO;
    if (auth->ar == WSMAN_AUTH_REFUSED)
        ferry_log_info("WS-Man Basic login over plain http from %s refused",
                       in->peer ? in->peer : "?");
    http_unauthorized(out);
    return WSMAN_HEAD_ANSWER;
}

void
wsman_http_handle(struct wsman_ctx *ctx, const struct wsman_http_in *in,
                  struct wsman_http_out *out)
{
    struct wsman_caller caller = {0};
    struct wsman_reply reply = {0};
    enum wsman_auth_result ar;
    enum ferry_role role = FERRY_ROLE_NONE;
    char user[72];
    const char *ident;
    unsigned retry = 0;

    memset(out, 0, sizeof(*out));
    if (ctx->wcfg->metrics && strcmp(in->path, METRICS_PATH) == 0) {
        http_metrics(ctx, in, out);
        return;
    }
    if (strcmp(in->path, WSMAN_PATH) != 0) {
        out->status = 404;
        return;
    }
    if (strcmp(in->method, "POST") != 0) {
        out->status = 405;
        out->allow = "POST";
        return;
    }
    if (!wsman_http_content_type_ok(in->header(in->header_userdata, "Content-Type"))) {
        out->status = 415;
        return;
    }
    ar = http_auth(ctx, in, user, sizeof(user), &role, &retry);
    if (http_auth_wait(ar, retry, out))
        return;
    if (ar == WSMAN_AUTH_OK) {
        caller.user = user;
        caller.role = role;
        caller.authenticated = true;
    } else {
        ident = in->header(in->header_userdata, "WSMANIDENTIFY");
        if (ar != WSMAN_AUTH_NONE || !ctx->wcfg->anonymous_identify || !ident ||
            strcasecmp(skip_ws(ident), "unauthenticated") != 0 ||
            in->body_len > WSMAN_ANON_BODY_MAX) {
            if (ar == WSMAN_AUTH_REFUSED)
                ferry_log_info("WS-Man Basic login over plain http from %s refused",
                               in->peer ? in->peer : "?");
            http_unauthorized(out);
            return;
        }
    }
    if (!body_charset_ok(declared_charset(in->header(in->header_userdata, "Content-Type")),
                         (const unsigned char *)in->body, in->body_len)) {
        struct wsman_fault f = {0};

        wsman_fault_set(&f, WSMAN_FAULT_ENCODING_LIMIT, "CharacterSet",
                        "The request body's encoding does not match its charset.");
        if (wsman_fault_reply(&f, NULL, &reply) < 0) {
            out->status = 500;
            return;
        }
    } else if (wsman_dispatch(ctx, in->body, in->body_len, &caller, &reply) < 0) {
        out->status = 500;
        return;
    }
    if (reply.need_auth) {
        wsman_reply_done(&reply);
        http_unauthorized(out);
        return;
    }
    out->status = reply.http_status;
    out->body = reply.body;
    out->len = reply.len;
    out->content_type = WSMAN_CONTENT_TYPE;
}
