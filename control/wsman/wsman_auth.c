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
 *  - Failed attempts are rate limited per peer address: after auth_fail_limit failures
 *    within a minute, every request from that address is answered 429 with Retry-After
 *    (seconds until the minute ends) without checking the password, so guessing costs the
 *    guesser time and the daemon no PBKDF2 work.
 * Verified Basic credentials are remembered for AUTH_CACHE_TTL_S seconds as an HMAC-SHA256
 * of "user\0password" under a random per-process key (never the password itself), so a
 * controller polling Get does not pay PBKDF2 on every request; a password change or a
 * removed user therefore takes effect within that time.
 * Credentials are never logged.
 */
#include <errno.h>
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

#include "ferry/log.h"
#include "wsman.h"

#define AUTH_FAIL_SLOTS 512
#define AUTH_WINDOW_S 60
#define CERTMAP_MAX 4096
#define AUTH_CACHE_SLOTS 64
#define AUTH_CACHE_TTL_S 30
#define MUTUAL_PROFILE "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/mutual"

struct fail_slot {
    char peer[64];
    int64_t window_start;
    unsigned count;
};

struct certmap_entry {
    char sha256[65];
    char user[65];
};

struct cred_slot {
    uint8_t mac[32];
    char user[72];
    enum ferry_role role;
    int64_t expires;
};

struct wsman_auth {
    pthread_mutex_t lock;
    uint8_t cache_key[32];
    struct cred_slot cache[AUTH_CACHE_SLOTS];
    unsigned fail_limit;
    bool basic_over_http;
    int64_t skew;
    struct fail_slot fails[AUTH_FAIL_SLOTS];
    char *certmap_path;
    struct timespec certmap_mtime;
    bool certmap_loaded;
    struct certmap_entry *certmap;
    size_t ncertmap;
};

static int64_t
auth_now(struct wsman_auth *a)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec + a->skew;
}

struct wsman_auth *
wsman_auth_new(const struct ferry_config *cfg)
{
    struct wsman_auth *a = calloc(1, sizeof(*a));

    if (!a)
        return NULL;
    pthread_mutex_init(&a->lock, NULL);
    if (RAND_bytes(a->cache_key, sizeof(a->cache_key)) != 1)
        return wsman_auth_free(a);
    a->fail_limit = cfg->auth_fail_limit;
    a->basic_over_http = cfg->allow_basic_over_http;
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
    pthread_mutex_destroy(&a->lock);
    explicit_bzero(a->cache_key, sizeof(a->cache_key));
    explicit_bzero(a->cache, sizeof(a->cache));
    free(a->certmap_path);
    free(a->certmap);
    free(a);
    return NULL;
}

void
wsman_auth_age(struct wsman_auth *a, unsigned seconds)
{
    pthread_mutex_lock(&a->lock);
    a->skew += seconds;
    pthread_mutex_unlock(&a->lock);
}

/* Locked. The slot of a peer (an empty or the oldest one when new). */
static struct fail_slot *
fail_slot(struct wsman_auth *a, const char *peer, bool create)
{
    struct fail_slot *oldest = &a->fails[0];

    for (size_t i = 0; i < AUTH_FAIL_SLOTS; i++) {
        struct fail_slot *s = &a->fails[i];

        if (s->peer[0] && strcmp(s->peer, peer) == 0)
            return s;
        if (!s->peer[0] || s->window_start < oldest->window_start)
            oldest = s;
    }
    if (!create)
        return NULL;
    memset(oldest, 0, sizeof(*oldest));
    snprintf(oldest->peer, sizeof(oldest->peer), "%s", peer);
    return oldest;
}

/* Seconds the peer must wait (0 = may try). */
static unsigned
fail_wait(struct wsman_auth *a, const char *peer)
{
    struct fail_slot *s;
    unsigned wait = 0;
    int64_t now;

    if (a->fail_limit == 0)
        return 0;
    pthread_mutex_lock(&a->lock);
    now = auth_now(a);
    s = fail_slot(a, peer, false);
    if (s && now - s->window_start < AUTH_WINDOW_S && s->count >= a->fail_limit)
        wait = (unsigned)(AUTH_WINDOW_S - (now - s->window_start));
    pthread_mutex_unlock(&a->lock);
    return wait;
}

static void
fail_record(struct wsman_auth *a, const char *peer)
{
    struct fail_slot *s;
    int64_t now;

    pthread_mutex_lock(&a->lock);
    now = auth_now(a);
    s = fail_slot(a, peer, true);
    if (now - s->window_start >= AUTH_WINDOW_S || s->count == 0) {
        s->window_start = now;
        s->count = 0;
    }
    s->count++;
    pthread_mutex_unlock(&a->lock);
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

static void
cred_mac(struct wsman_auth *a, const char *user, const char *pass, uint8_t mac[32])
{
    unsigned int len = 32;
    static const uint8_t zero = 0;

    /* HMAC over user, NUL, password: unambiguous since user names hold no NUL */
    uint8_t *buf;
    size_t ul = strlen(user), pl = strlen(pass);

    buf = malloc(ul + pl + 1);
    if (!buf) {
        memset(mac, 0, 32);
        return;
    }
    memcpy(buf, user, ul);
    buf[ul] = zero;
    memcpy(buf + ul + 1, pass, pl);
    if (!HMAC(EVP_sha256(), a->cache_key, sizeof(a->cache_key), buf, ul + pl + 1, mac, &len))
        memset(mac, 0, 32);
    explicit_bzero(buf, ul + pl + 1);
    free(buf);
}

static bool
cred_cached(struct wsman_auth *a, const uint8_t mac[32], enum ferry_role *ret_role)
{
    bool hit = false;
    int64_t now;

    pthread_mutex_lock(&a->lock);
    now = auth_now(a);
    for (size_t i = 0; i < AUTH_CACHE_SLOTS; i++) {
        if (a->cache[i].expires > now && CRYPTO_memcmp(a->cache[i].mac, mac, 32) == 0) {
            *ret_role = a->cache[i].role;
            hit = true;
            break;
        }
    }
    pthread_mutex_unlock(&a->lock);
    return hit;
}

static void
cred_remember(struct wsman_auth *a, const uint8_t mac[32], const char *user,
              enum ferry_role role)
{
    struct cred_slot *oldest;

    pthread_mutex_lock(&a->lock);
    oldest = &a->cache[0];
    for (size_t i = 1; i < AUTH_CACHE_SLOTS; i++)
        if (a->cache[i].expires < oldest->expires)
            oldest = &a->cache[i];
    memcpy(oldest->mac, mac, 32);
    snprintf(oldest->user, sizeof(oldest->user), "%s", user);
    oldest->role = role;
    oldest->expires = auth_now(a) + AUTH_CACHE_TTL_S;
    pthread_mutex_unlock(&a->lock);
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

enum wsman_auth_result
wsman_auth_check(struct wsman_ctx *ctx, const struct wsman_auth_in *in, char *user_buf,
                 size_t user_len, enum ferry_role *ret_role)
{
    struct wsman_auth *a = ctx->auth;
    const char *peer = in->peer ? in->peer : "?";
    const char *hdr = in->authorization;
    char buf[1024];

    if (fail_wait(a, peer) > 0)
        return WSMAN_AUTH_RATE_LIMITED;
    if (hdr && strncasecmp(hdr, "Basic", 5) == 0) {
        char *user, *pass;
        enum ferry_role role;
        int r;

        if (!in->is_tls && !in->peer_loopback && !a->basic_over_http)
            return WSMAN_AUTH_REFUSED;
        if (basic_decode(hdr, buf, sizeof(buf), &user, &pass) < 0 || strlen(user) >= user_len) {
            fail_record(a, peer);
            explicit_bzero(buf, sizeof(buf));
            return WSMAN_AUTH_BAD;
        }
        uint8_t mac[32];

        cred_mac(a, user, pass, mac);
        if (cred_cached(a, mac, &role)) {
            snprintf(user_buf, user_len, "%s", user);
            explicit_bzero(buf, sizeof(buf));
            *ret_role = role;
            return WSMAN_AUTH_OK;
        }
        r = ctx->ops->users_verify(ctx->users, user, pass, &role);
        if (r == 0)
            cred_remember(a, mac, user, role);
        if (r < 0) {
            fail_record(a, peer);
            ferry_log_info("WS-Man login of user '%s' from %s failed", user, peer);
            explicit_bzero(buf, sizeof(buf));
            return WSMAN_AUTH_BAD;
        }
        snprintf(user_buf, user_len, "%s", user);
        explicit_bzero(buf, sizeof(buf));
        *ret_role = role;
        return WSMAN_AUTH_OK;
    }
    if (in->is_tls && in->cert_sha256 &&
        (!hdr || !hdr[0] || strcmp(hdr, MUTUAL_PROFILE) == 0)) {
        enum ferry_role role;

        if (wsman_auth_certmap_lookup(a, in->cert_sha256, buf, sizeof(buf)) < 0 ||
            ctx->ops->users_role(ctx->users, buf, &role) < 0) {
            fail_record(a, peer);
            return WSMAN_AUTH_BAD;
        }
        snprintf(user_buf, user_len, "%s", buf);
        *ret_role = role;
        return WSMAN_AUTH_OK;
    }
    if (hdr && hdr[0]) {
        fail_record(a, peer);
        return WSMAN_AUTH_BAD;
    }
    return WSMAN_AUTH_NONE;
}
