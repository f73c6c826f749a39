/*
 * authpool.c - password checks off the loop threads (ferry/auth.h).
 *
 * ferry_authpool_check() runs on the caller's thread and costs no PBKDF2: a credential
 * verified in the last AUTH_CACHE_TTL_S seconds (remembered as an HMAC-SHA256 of
 * "user\0password" under a random per-process key, never the password) answers OK at once
 * and bypasses the limiter, so an owner whose controller keeps polling is never locked out;
 * otherwise the limiter may refuse (LIMITED); otherwise the check joins a bounded FIFO
 * (full: BUSY, the caller answers 503) and one of the verifier threads runs PBKDF2, counts
 * a failure in the limiter or remembers a success, logs a failed login once (the user name
 * escaped) and calls req->done(req).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "clock.h"
#include "ferry/auth.h"
#include "ferry/log.h"

#define AUTH_CACHE_SLOTS 256
#define AUTH_CACHE_TTL_S 30
#define AUTH_BUSY_RETRY_S 1
/* Verifier threads run at this nice value: PBKDF2 for a flood of guesses takes CPU only
 * when the loop threads (data-N, wsman) leave some, so it does not add to their latency. */
#define AUTH_THREAD_NICE 10

struct cred_slot {
    uint8_t mac[32];
    enum ferry_role role;
    int64_t expires;
};

struct ferry_authpool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stopping;
    ferry_auth_verify_fn verify;
    struct ferry_users *users;
    struct ferry_authlimit *limit;
    uint8_t cache_key[32];
    struct cred_slot cache[AUTH_CACHE_SLOTS];
    int64_t skew;
    /* the FIFO: a ring of queue_max pointers */
    struct ferry_auth_req **q;
    unsigned queue_max, qhead, qlen;
    pthread_t *threads;
    unsigned nthreads;
};

static int64_t
pool_now(struct ferry_authpool *p)
{
    return ferry_clock_ms() / 1000 + p->skew;
}

static void
cred_mac(struct ferry_authpool *p, const char *user, const char *pass, uint8_t mac[32])
{
    unsigned int len = 32;
    size_t ul = strlen(user), pl = strlen(pass);
    uint8_t buf[FERRY_AUTH_USER_MAX + FERRY_AUTH_PASS_MAX + 1];

    /* user, NUL, password: unambiguous since user names hold no NUL */
    memcpy(buf, user, ul);
    buf[ul] = 0;
    memcpy(buf + ul + 1, pass, pl);
    if (!HMAC(EVP_sha256(), p->cache_key, sizeof(p->cache_key), buf, ul + pl + 1, mac, &len))
        memset(mac, 0, 32);
    explicit_bzero(buf, sizeof(buf));
}

/* Locked. */
static bool
cred_cached(struct ferry_authpool *p, const uint8_t mac[32], enum ferry_role *ret_role)
{
    int64_t now = pool_now(p);

    for (size_t i = 0; i < AUTH_CACHE_SLOTS; i++) {
        if (p->cache[i].expires > now && CRYPTO_memcmp(p->cache[i].mac, mac, 32) == 0) {
            *ret_role = p->cache[i].role;
            return true;
        }
    }
    return false;
}

/* Locked. */
static void
cred_remember(struct ferry_authpool *p, const uint8_t mac[32], enum ferry_role role)
{
    struct cred_slot *oldest = &p->cache[0];

    for (size_t i = 1; i < AUTH_CACHE_SLOTS; i++)
        if (p->cache[i].expires < oldest->expires)
            oldest = &p->cache[i];
    memcpy(oldest->mac, mac, 32);
    oldest->role = role;
    oldest->expires = pool_now(p) + AUTH_CACHE_TTL_S;
}

static const struct sockaddr *
req_peer(const struct ferry_auth_req *req)
{
    return req->peer_len ? (const struct sockaddr *)&req->peer : NULL;
}

static void
peer_text(const struct ferry_auth_req *req, char *buf, size_t len)
{
    const struct sockaddr *sa = req_peer(req);

    snprintf(buf, len, "?");
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, (socklen_t)len);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf,
                  (socklen_t)len);
}

/* PBKDF2 and the books, on whichever thread runs it. */
static void
pool_verify(struct ferry_authpool *p, struct ferry_auth_req *req)
{
    enum ferry_role role = FERRY_ROLE_NONE;
    uint8_t mac[32];
    int r;

    cred_mac(p, req->user, req->pass, mac);
    r = p->verify(p->users, req->user, req->pass, &role);
    explicit_bzero(req->pass, sizeof(req->pass));
    if (r == 0) {
        pthread_mutex_lock(&p->lock);
        cred_remember(p, mac, role);
        pthread_mutex_unlock(&p->lock);
        req->result = FERRY_AUTH_OK;
        req->role = role;
        return;
    }
    ferry_authlimit_fail(p->limit, req_peer(req), req->user);
    {
        char u[4 * FERRY_AUTH_USER_MAX + 4], peer[INET6_ADDRSTRLEN];

        peer_text(req, peer, sizeof(peer));
        ferry_log_info("%s login of user '%s' from %s failed", req->what ? req->what : "a",
                       ferry_log_escape(req->user, u, sizeof(u)), peer);
        if (ferry_authlimit_wait(p->limit, req_peer(req), req->user) > 0)
            ferry_log_event(FERRY_LOG_WARN, FERRY_MSGID_AUTH_LOCKOUT, NULL, NULL,
                            "logins of user '%s' from %s are locked out for a while", u, peer);
    }
    req->result = FERRY_AUTH_BAD;
}

static void *
pool_thread(void *arg)
{
    struct ferry_authpool *p = arg;

    ferry_log_set_thread_name("authpool");
    /* per thread on Linux (PRIO_PROCESS with a TID); raising it needs no privilege */
    if (setpriority(PRIO_PROCESS, (id_t)gettid(), AUTH_THREAD_NICE) < 0)
        ferry_log_debug("authpool: nice %d refused: %s", AUTH_THREAD_NICE, strerror(errno));
    pthread_mutex_lock(&p->lock);
    for (;;) {
        struct ferry_auth_req *req;

        while (!p->stopping && p->qlen == 0)
            pthread_cond_wait(&p->cond, &p->lock);
        if (p->qlen == 0)
            break;
        req = p->q[p->qhead];
        p->qhead = (p->qhead + 1) % p->queue_max;
        p->qlen--;
        if (p->stopping) {
            pthread_mutex_unlock(&p->lock);
            explicit_bzero(req->pass, sizeof(req->pass));
            req->result = FERRY_AUTH_BUSY;
            req->retry_after = AUTH_BUSY_RETRY_S;
            req->done(req);
            pthread_mutex_lock(&p->lock);
            continue;
        }
        pthread_mutex_unlock(&p->lock);
        pool_verify(p, req);
        req->done(req);
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int
ferry_authpool_new(unsigned threads, unsigned queue_max, ferry_auth_verify_fn verify,
                   struct ferry_users *users, struct ferry_authlimit *limit,
                   struct ferry_authpool **ret)
{
    struct ferry_authpool *p;
    int r;

    if (!verify || !limit || threads == 0 || queue_max == 0)
        return -EINVAL;
    p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->verify = verify;
    p->users = users;
    p->limit = limit;
    p->queue_max = queue_max;
    p->q = calloc(queue_max, sizeof(*p->q));
    p->threads = calloc(threads, sizeof(*p->threads));
    if (!p->q || !p->threads || RAND_bytes(p->cache_key, sizeof(p->cache_key)) != 1) {
        r = -ENOMEM;
        goto error;
    }
    for (; p->nthreads < threads; p->nthreads++) {
        r = -pthread_create(&p->threads[p->nthreads], NULL, pool_thread, p);
        if (r < 0)
            goto error;
    }
    *ret = p;
    return 0;
error:
    ferry_authpool_free(p);
    return r;
}

struct ferry_authpool *
ferry_authpool_free(struct ferry_authpool *p)
{
    if (!p)
        return NULL;
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    explicit_bzero(p->cache_key, sizeof(p->cache_key));
    explicit_bzero(p->cache, sizeof(p->cache));
    free(p->q);
    free(p->threads);
    free(p);
    return NULL;
}

void
ferry_authpool_age(struct ferry_authpool *p, unsigned seconds)
{
    pthread_mutex_lock(&p->lock);
    p->skew += seconds;
    pthread_mutex_unlock(&p->lock);
}

enum ferry_auth_result
ferry_authpool_precheck(struct ferry_authpool *p, struct ferry_auth_req *req)
{
    uint8_t mac[32];
    bool hit;
    unsigned wait;

    req->role = FERRY_ROLE_NONE;
    req->retry_after = 0;
    cred_mac(p, req->user, req->pass, mac);
    pthread_mutex_lock(&p->lock);
    hit = cred_cached(p, mac, &req->role);
    pthread_mutex_unlock(&p->lock);
    if (hit) {
        explicit_bzero(req->pass, sizeof(req->pass));
        return req->result = FERRY_AUTH_OK;
    }
    wait = ferry_authlimit_wait(p->limit, req_peer(req), req->user);
    if (wait > 0) {
        explicit_bzero(req->pass, sizeof(req->pass));
        req->retry_after = wait;
        return req->result = FERRY_AUTH_LIMITED;
    }
    return FERRY_AUTH_PENDING;
}

enum ferry_auth_result
ferry_authpool_check(struct ferry_authpool *p, struct ferry_auth_req *req)
{
    enum ferry_auth_result r = ferry_authpool_precheck(p, req);

    if (r != FERRY_AUTH_PENDING)
        return r;
    return ferry_authpool_submit(p, req);
}

enum ferry_auth_result
ferry_authpool_submit(struct ferry_authpool *p, struct ferry_auth_req *req)
{
    pthread_mutex_lock(&p->lock);
    if (p->stopping || p->qlen >= p->queue_max) {
        pthread_mutex_unlock(&p->lock);
        explicit_bzero(req->pass, sizeof(req->pass));
        req->retry_after = AUTH_BUSY_RETRY_S;
        return req->result = FERRY_AUTH_BUSY;
    }
    p->q[(p->qhead + p->qlen) % p->queue_max] = req;
    p->qlen++;
    req->result = FERRY_AUTH_PENDING;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    return FERRY_AUTH_PENDING;
}

enum ferry_auth_result
ferry_authpool_check_sync(struct ferry_authpool *p, struct ferry_auth_req *req)
{
    enum ferry_auth_result r = ferry_authpool_precheck(p, req);

    if (r != FERRY_AUTH_PENDING)
        return r;
    pool_verify(p, req);
    return req->result;
}

void
ferry_authpool_count_failure(struct ferry_authpool *p, const struct sockaddr *sa,
                             const char *user)
{
    ferry_authlimit_fail(p->limit, sa, user);
}

bool
ferry_authpool_wait(struct ferry_authpool *p, const struct sockaddr *sa, const char *user,
                    unsigned *ret_wait)
{
    unsigned w = ferry_authlimit_wait(p->limit, sa, user);

    *ret_wait = w;
    return w > 0;
}
