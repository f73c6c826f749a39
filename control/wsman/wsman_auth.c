/*
 * wsman_auth.c - who is calling the WS-Man endpoint (docs/DESIGN.md §4).
 *
 *  - HTTP Basic, checked against the users file (ferry_users_verify). Over plain http it is
 *    accepted from loopback peers only, unless allow_basic_over_http is set.
 *  - Client certificates over https, mapped to users by the certificate map STATE/certmap:
 *    one "SHA256HEX user" line per certificate (the SHA-256 of the DER certificate, 64 hex
 *    digits, any case; '#' starts a comment), re-read when its mtime changes. pywinrm's
 *    "Authorization: http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/mutual"
 *    header is accepted with a mapped certificate.
 *  - Passwords are checked by the engine's verifier pool (ferry/auth.h), shared with the
 *    data port: one failure limiter (by address, /24 or /64 prefix, and user; an address
 *    that has not failed is never refused), a 30 s cache of verified credentials, and
 *    PBKDF2 on verifier threads. wsman_auth_begin() does everything up to PBKDF2 on the
 *    calling thread; the listener (wsman_server.c) suspends the request while the pool
 *    verifies; wsman_auth_check() runs it all synchronously (unit tests).
 *    A malformed Authorization or an unmapped certificate counts as a failure too.
 * Credentials are never logged.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "ferry/auth.h"
#include "ferry/log.h"
#include "wsman.h"

#define CERTMAP_MAX 4096
#define MUTUAL_PROFILE "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/mutual"
#define AUTH_OWN_QUEUE 64

struct certmap_entry {
    char sha256[65];
    char user[65];
};

struct wsman_auth {
    pthread_mutex_t lock;
    bool basic_over_http;
    /* the engine's pool, or (no engine: unit tests) our own limiter and pool */
    struct ferry_authpool *pool;
    struct ferry_authlimit *own_limit;
    struct ferry_authpool *own_pool;
    char *certmap_path;
    struct timespec certmap_mtime;
    bool certmap_loaded;
    struct certmap_entry *certmap;
    size_t ncertmap;
};

struct wsman_auth *
wsman_auth_new(const struct ferry_config *cfg, const struct wsman_engine_ops *ops,
               struct ferry_users *users)
{
    struct wsman_auth *a = calloc(1, sizeof(*a));

    if (!a)
        return NULL;
    pthread_mutex_init(&a->lock, NULL);
    a->basic_over_http = cfg->allow_basic_over_http;
    if (ops->users_authpool)
        a->pool = ops->users_authpool(users);
    if (!a->pool) {
        if (ferry_authlimit_new(cfg->auth_fail_limit, &a->own_limit) < 0 ||
            ferry_authpool_new(1, AUTH_OWN_QUEUE, ops->users_verify, users, a->own_limit,
                               &a->own_pool) < 0)
            return wsman_auth_free(a);
        a->pool = a->own_pool;
    }
    if (cfg->state_dir && asprintf(&a->certmap_path, "%s/certmap", cfg->state_dir) < 0) {
        a->certmap_path = NULL;
        return wsman_auth_free(a);
    }
    return a;
}

struct wsman_auth *
wsman_auth_free(struct wsman_auth *a)
{
    if (!a)
        return NULL;
    a->own_pool = ferry_authpool_free(a->own_pool);
    a->own_limit = ferry_authlimit_free(a->own_limit);
    pthread_mutex_destroy(&a->lock);
    free(a->certmap_path);
    free(a->certmap);
    free(a);
    return NULL;
}

void
wsman_auth_age(struct wsman_auth *a, unsigned seconds)
{
    if (a->own_limit)
        ferry_authlimit_age(a->own_limit, seconds);
    if (a->own_pool)
        ferry_authpool_age(a->own_pool, seconds);
}

/* Locked. Re-read the certificate map when it changed. */
static void
certmap_refresh(struct wsman_auth *a)
{
    struct stat st;
    FILE *fp;
    char line[512];
    struct certmap_entry *v = NULL;
    size_t n = 0;

    if (!a->certmap_path)
        return;
    if (stat(a->certmap_path, &st) < 0) {
        free(a->certmap);
        a->certmap = NULL;
        a->ncertmap = 0;
        a->certmap_loaded = false;
        return;
    }
    if (a->certmap_loaded && st.st_mtim.tv_sec == a->certmap_mtime.tv_sec &&
        st.st_mtim.tv_nsec == a->certmap_mtime.tv_nsec)
        return;
    fp = fopen(a->certmap_path, "re");
    if (!fp)
        return;
    v = calloc(CERTMAP_MAX, sizeof(*v));
    if (!v) {
        fclose(fp);
        return;
    }
    unsigned lineno = 0;
    while (fgets(line, sizeof(line), fp) && n < CERTMAP_MAX) {
        char *save = NULL, *hash, *user, *extra;

        lineno++;
        if (strchr(line, '#'))
            *strchr(line, '#') = '\0';
        hash = strtok_r(line, " \t\r\n", &save);
        if (!hash)
            continue;
        user = strtok_r(NULL, " \t\r\n", &save);
        extra = strtok_r(NULL, " \t\r\n", &save);
        if (!user || extra || strlen(hash) != 64 || strspn(hash, "0123456789abcdefABCDEF") != 64
            || strlen(user) > 64) {
            ferry_log_warn("certmap '%s' line %u is malformed; ignored", a->certmap_path,
                           lineno);
            continue;
        }
        for (size_t i = 0; i < 64; i++)
            v[n].sha256[i] = (char)((hash[i] >= 'A' && hash[i] <= 'F') ? hash[i] - 'A' + 'a'
                                                                       : hash[i]);
        snprintf(v[n].user, sizeof(v[n].user), "%s", user);
        n++;
    }
    fclose(fp);
    free(a->certmap);
    a->certmap = v;
    a->ncertmap = n;
    a->certmap_mtime = st.st_mtim;
    a->certmap_loaded = true;
}

int
wsman_auth_certmap_lookup(struct wsman_auth *a, const char *sha256, char *user_buf,
                          size_t user_len)
{
    int r = -ENOENT;

    if (!sha256 || strlen(sha256) != 64)
        return -EINVAL;
    pthread_mutex_lock(&a->lock);
    certmap_refresh(a);
    for (size_t i = 0; i < a->ncertmap; i++) {
        if (strcasecmp(a->certmap[i].sha256, sha256) == 0) {
            snprintf(user_buf, user_len, "%s", a->certmap[i].user);
            r = 0;
            break;
        }
    }
    pthread_mutex_unlock(&a->lock);
    return r;
}

/* "Basic base64(user:password)" -> user, password (in buf). -EINVAL. */
static int
basic_decode(const char *hdr, char *buf, size_t buflen, char **ret_user, char **ret_pass)
{
    const char *b64;
    size_t len, pad = 0;
    int n;
    char *colon;

    if (strncasecmp(hdr, "Basic", 5) != 0 || (hdr[5] != ' ' && hdr[5] != '\t'))
        return -EINVAL;
    b64 = hdr + 6;
    while (*b64 == ' ' || *b64 == '\t')
        b64++;
    len = strlen(b64);
    while (len > 0 && (b64[len - 1] == ' ' || b64[len - 1] == '\t'))
        len--;
    if (len == 0 || len % 4 != 0 || len / 4 * 3 + 1 > buflen)
        return -EINVAL;
    if (strspn(b64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") < len)
        return -EINVAL;
    n = EVP_DecodeBlock((unsigned char *)buf, (const unsigned char *)b64, (int)len);
    if (n < 0)
        return -EINVAL;
    if (b64[len - 1] == '=')
        pad++;
    if (len > 1 && b64[len - 2] == '=')
        pad++;
    n -= (int)pad;
    buf[n] = '\0';
    if (memchr(buf, '\0', (size_t)n))
        return -EINVAL;
    colon = strchr(buf, ':');
    if (!colon)
        return -EINVAL;
    *colon = '\0';
    *ret_user = buf;
    *ret_pass = colon + 1;
    return 0;
}

/* The peer as a socket address: the listener's, else parsed from the text (unit tests). */
static socklen_t
auth_peer(const struct wsman_auth_in *in, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (in->peer_sa && in->peer_sa_len && in->peer_sa_len <= sizeof(*ss)) {
        memcpy(ss, in->peer_sa, in->peer_sa_len);
        return in->peer_sa_len;
    }
    if (in->peer) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

        if (inet_pton(AF_INET, in->peer, &s4->sin_addr) == 1) {
            s4->sin_family = AF_INET;
            return sizeof(*s4);
        }
        if (inet_pton(AF_INET6, in->peer, &s6->sin6_addr) == 1) {
            s6->sin6_family = AF_INET6;
            return sizeof(*s6);
        }
    }
    return 0;
}

static enum wsman_auth_result
auth_fail(struct wsman_auth *a, const struct sockaddr_storage *ss, socklen_t len,
          const char *user)
{
    ferry_authpool_count_failure(a->pool, len ? (const struct sockaddr *)ss : NULL, user);
    return WSMAN_AUTH_BAD;
}

enum wsman_auth_result
wsman_auth_begin(struct wsman_ctx *ctx, const struct wsman_auth_in *in,
                 struct ferry_auth_req *req, char *user_buf, size_t user_len,
                 enum ferry_role *ret_role, unsigned *ret_retry)
{
    struct wsman_auth *a = ctx->auth;
    const char *hdr = in->authorization;
    struct sockaddr_storage ss;
    socklen_t sslen = auth_peer(in, &ss);
    char buf[1024];

    *ret_retry = 0;
    if (hdr && strncasecmp(hdr, "Basic", 5) == 0) {
        char *user, *pass;
        enum ferry_auth_result r;

        if (!in->is_tls && !in->peer_loopback && !a->basic_over_http)
            return WSMAN_AUTH_REFUSED;
        if (basic_decode(hdr, buf, sizeof(buf), &user, &pass) < 0 ||
            strlen(user) >= user_len || strlen(user) >= sizeof(req->user) ||
            strlen(pass) >= sizeof(req->pass)) {
            explicit_bzero(buf, sizeof(buf));
            if (ferry_authpool_wait(a->pool, sslen ? (struct sockaddr *)&ss : NULL, NULL,
                                    ret_retry))
                return WSMAN_AUTH_RATE_LIMITED;
            return auth_fail(a, &ss, sslen, NULL);
        }
        memset(req, 0, sizeof(*req));
        snprintf(req->user, sizeof(req->user), "%s", user);
        snprintf(req->pass, sizeof(req->pass), "%s", pass);
        explicit_bzero(buf, sizeof(buf));
        memcpy(&req->peer, &ss, sizeof(ss));
        req->peer_len = sslen;
        req->what = "WS-Man";
        r = ferry_authpool_precheck(a->pool, req);
        if (r == FERRY_AUTH_PENDING)
            return WSMAN_AUTH_VERIFY;
        return wsman_auth_finish(req, user_buf, user_len, ret_role, ret_retry);
    }
    if (ferry_authpool_wait(a->pool, sslen ? (struct sockaddr *)&ss : NULL, NULL, ret_retry))
        return WSMAN_AUTH_RATE_LIMITED;
    if (in->is_tls && in->cert_sha256 &&
        (!hdr || !hdr[0] || strcmp(hdr, MUTUAL_PROFILE) == 0)) {
        enum ferry_role role;

        if (wsman_auth_certmap_lookup(a, in->cert_sha256, buf, sizeof(buf)) < 0 ||
            ctx->ops->users_role(ctx->users, buf, &role) < 0 || strlen(buf) >= user_len)
            return auth_fail(a, &ss, sslen, NULL);
        snprintf(user_buf, user_len, "%s", buf);
        *ret_role = role;
        return WSMAN_AUTH_OK;
    }
    if (hdr && hdr[0])
        return auth_fail(a, &ss, sslen, NULL);
    return WSMAN_AUTH_NONE;
}

enum wsman_auth_result
wsman_auth_submit(struct wsman_ctx *ctx, struct ferry_auth_req *req)
{
    return ferry_authpool_submit(ctx->auth->pool, req) == FERRY_AUTH_PENDING
               ? WSMAN_AUTH_VERIFY
               : WSMAN_AUTH_BUSY;
}

enum wsman_auth_result
wsman_auth_finish(const struct ferry_auth_req *req, char *user_buf, size_t user_len,
                  enum ferry_role *ret_role, unsigned *ret_retry)
{
    *ret_retry = req->retry_after;
    switch (req->result) {
    case FERRY_AUTH_OK:
        snprintf(user_buf, user_len, "%s", req->user);
        *ret_role = req->role;
        return WSMAN_AUTH_OK;
    case FERRY_AUTH_LIMITED:
        return WSMAN_AUTH_RATE_LIMITED;
    case FERRY_AUTH_BUSY:
        return WSMAN_AUTH_BUSY;
    default:
        return WSMAN_AUTH_BAD;
    }
}

enum wsman_auth_result
wsman_auth_check(struct wsman_ctx *ctx, const struct wsman_auth_in *in, char *user_buf,
                 size_t user_len, enum ferry_role *ret_role, unsigned *ret_retry)
{
    struct ferry_auth_req req;
    enum wsman_auth_result ar;

    ar = wsman_auth_begin(ctx, in, &req, user_buf, user_len, ret_role, ret_retry);
    if (ar == WSMAN_AUTH_VERIFY) {
        ferry_authpool_check_sync(ctx->auth->pool, &req);
        ar = wsman_auth_finish(&req, user_buf, user_len, ret_role, ret_retry);
    }
    explicit_bzero(&req, sizeof(req));
    return ar;
}
