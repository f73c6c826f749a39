/*
 * authlimit.c - the failed-login limiter (ferry/auth.h): three small tables of failure
 * counts, by exact address, by address prefix (/24, /64) and by user name.
 *
 * An entry "blocks" while count >= its threshold and less than backoff(count) seconds
 * have passed since its last failure, backoff = 5 s doubled per failure past the
 * threshold, at most 15 minutes. Counts are forgotten after an hour without failures.
 * An address must wait when its own entry blocks, or when it has failed at least once
 * and the prefix (threshold 2 x fail_limit) or the user (threshold fail_limit) blocks.
 * An address with no failure of its own is never made to wait: the owner of a guessed
 * account keeps logging in from a clean address while the guessers wait.
 * Refused attempts are not counted (they cost nothing), so a guesser's wait ends.
 * Tables are fixed-size and hashed (a keyed FNV-1a, random key per limiter): a key lives
 * in the LIMIT_WINDOW slots from its hash, so a lookup reads 32 slots, not the table (a
 * guess flood asks the limiter once or twice per guess, on loop threads, under one lock);
 * when those slots are taken, the one whose last failure is oldest (then: with the lowest
 * count) is evicted.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "authlimit-internal.h"
#include "clock.h"
#include "ferry/auth.h"

#define LIMIT_ADDR_SLOTS 4096
#define LIMIT_PREFIX_SLOTS 1024
#define LIMIT_USER_SLOTS 1024
#define LIMIT_KEY_MAX AUTHLIMIT_KEY_MAX
#define LIMIT_BACKOFF_BASE_S 5
#define LIMIT_BACKOFF_MAX_S 900
#define LIMIT_FORGET_S 3600
#define LIMIT_WINDOW 32

struct limit_entry {
    unsigned char key[LIMIT_KEY_MAX];
    size_t keylen;      /* 0 = free slot */
    unsigned count;
    int64_t last;
};

struct limit_table {
    struct limit_entry *v;
    size_t n;
};

struct ferry_authlimit {
    pthread_mutex_t lock;
    unsigned fail_limit;
    uint64_t hash_key;
    int64_t skew;
    struct limit_table addr, prefix, user;
};

static int64_t
limit_now(struct ferry_authlimit *l)
{
    return ferry_clock_ms() / 1000 + l->skew;
}

static int
table_init(struct limit_table *t, size_t n)
{
    t->v = calloc(n, sizeof(*t->v));
    t->n = n;
    return t->v ? 0 : -ENOMEM;
}

int
ferry_authlimit_new(unsigned fail_limit, struct ferry_authlimit **ret)
{
    struct ferry_authlimit *l = calloc(1, sizeof(*l));

    if (!l)
        return -ENOMEM;
    pthread_mutex_init(&l->lock, NULL);
    l->fail_limit = fail_limit;
    l->hash_key = authlimit_hash_key(l);
    if (table_init(&l->addr, LIMIT_ADDR_SLOTS) < 0 ||
        table_init(&l->prefix, LIMIT_PREFIX_SLOTS) < 0 ||
        table_init(&l->user, LIMIT_USER_SLOTS) < 0) {
        ferry_authlimit_free(l);
        return -ENOMEM;
    }
    *ret = l;
    return 0;
}

struct ferry_authlimit *
ferry_authlimit_free(struct ferry_authlimit *l)
{
    if (!l)
        return NULL;
    pthread_mutex_destroy(&l->lock);
    free(l->addr.v);
    free(l->prefix.v);
    free(l->user.v);
    free(l);
    return NULL;
}

void
ferry_authlimit_age(struct ferry_authlimit *l, unsigned seconds)
{
    pthread_mutex_lock(&l->lock);
    l->skew += seconds;
    pthread_mutex_unlock(&l->lock);
}

/*
 * The address as a family byte + 4 or 16 bytes (IPv4-mapped IPv6 is IPv4), and its
 * prefix (/24 or /64), each at most AUTHLIMIT_KEY_MAX bytes. false when sa is no IP
 * address. Shared with the refusal tarpit (authtarpit.c).
 */
bool
authlimit_keys(const struct sockaddr *sa, unsigned char *addr, size_t *addr_len,
           unsigned char *prefix, size_t *prefix_len)
{
    const unsigned char *b;

    if (!sa)
        return false;
    if (sa->sa_family == AF_INET) {
        b = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;

        if (!IN6_IS_ADDR_V4MAPPED(a6)) {
            addr[0] = 6;
            memcpy(addr + 1, a6->s6_addr, 16);
            *addr_len = 17;
            prefix[0] = 6;
            memcpy(prefix + 1, a6->s6_addr, 8);
            *prefix_len = 9;
            return true;
        }
        b = a6->s6_addr + 12;
    } else {
        return false;
    }
    addr[0] = 4;
    memcpy(addr + 1, b, 4);
    *addr_len = 5;
    prefix[0] = 4;
    memcpy(prefix + 1, b, 3);
    *prefix_len = 4;
    return true;
}

/*
 * The keyed FNV-1a of key under hash_key: its home slot in a table (the limiter's and the
 * tarpit's).
 */
uint64_t
authlimit_hash(uint64_t hash_key, const unsigned char *key, size_t keylen)
{
    uint64_t h = 0xcbf29ce484222325u ^ hash_key;

    for (size_t i = 0; i < keylen; i++) {
        h ^= key[i];
        h *= 0x100000001b3u;
    }
    h ^= h >> 29;
    return h;
}

/*
 * A random hash key, so a guesser cannot aim its keys at one window to evict an entry; a
 * failing getrandom gives one derived from salt (only that protection is lost).
 */
uint64_t
authlimit_hash_key(const void *salt)
{
    uint64_t k;

    if (getrandom(&k, sizeof(k), GRND_NONBLOCK) != sizeof(k))
        k = (uint64_t)(uintptr_t)salt ^ 0x9e3779b97f4a7c15u;
    return k;
}

/* Locked. The entry of key, forgetting it when stale; with create, a free or the oldest
 * slot of its window is taken for a new key. NULL when absent. */
static struct limit_entry *
table_find(const struct ferry_authlimit *l, struct limit_table *t, const unsigned char *key,
           size_t keylen, int64_t now, bool create)
{
    size_t home = (size_t)(authlimit_hash(l->hash_key, key, keylen) % t->n);
    size_t window = t->n < LIMIT_WINDOW ? t->n : LIMIT_WINDOW;
    struct limit_entry *oldest = &t->v[home];

    for (size_t k = 0; k < window; k++) {
        struct limit_entry *e = &t->v[(home + k) % t->n];

        if (e->keylen == keylen && memcmp(e->key, key, keylen) == 0) {
            if (now - e->last >= LIMIT_FORGET_S)
                e->count = 0;
            return e;
        }
        /* the victim: a free slot, else the oldest failure, else (same second) the lower
         * count, so a burst of one-off failures does not evict a blocked guesser */
        if (!e->keylen ||
            (oldest->keylen && (e->last < oldest->last ||
                                (e->last == oldest->last && e->count < oldest->count))))
            oldest = e;
    }
    if (!create)
        return NULL;
    memset(oldest, 0, sizeof(*oldest));
    memcpy(oldest->key, key, keylen);
    oldest->keylen = keylen;
    return oldest;
}

/* Seconds e still blocks at threshold thr (0 = not blocking). */
static unsigned
entry_wait(const struct limit_entry *e, unsigned thr, int64_t now)
{
    unsigned over, backoff;

    if (!e || thr == 0 || e->count < thr)
        return 0;
    over = e->count - thr;
    backoff = over >= 8 ? LIMIT_BACKOFF_MAX_S : LIMIT_BACKOFF_BASE_S << over;
    if (backoff > LIMIT_BACKOFF_MAX_S)
        backoff = LIMIT_BACKOFF_MAX_S;
    if (now - e->last >= (int64_t)backoff)
        return 0;
    return (unsigned)((int64_t)backoff - (now - e->last));
}

static size_t
user_key(const char *user, unsigned char *key)
{
    size_t n = user ? strlen(user) : 0;

    if (n > LIMIT_KEY_MAX - 1)
        n = LIMIT_KEY_MAX - 1;
    memcpy(key, user ? user : "", n);
    return n;
}

unsigned
ferry_authlimit_wait(struct ferry_authlimit *l, const struct sockaddr *sa, const char *user)
{
    unsigned char ak[LIMIT_KEY_MAX], pk[LIMIT_KEY_MAX], uk[LIMIT_KEY_MAX];
    size_t alen = 0, plen = 0, ulen;
    struct limit_entry *a = NULL, *p = NULL, *u = NULL;
    unsigned wait = 0, w;
    int64_t now;

    if (l->fail_limit == 0)
        return 0;
    ulen = user_key(user, uk);
    pthread_mutex_lock(&l->lock);
    now = limit_now(l);
    if (authlimit_keys(sa, ak, &alen, pk, &plen)) {
        a = table_find(l, &l->addr, ak, alen, now, false);
        p = table_find(l, &l->prefix, pk, plen, now, false);
    }
    if (ulen)
        u = table_find(l, &l->user, uk, ulen, now, false);
    wait = entry_wait(a, l->fail_limit, now);
    if (a && a->count > 0) {
        w = entry_wait(p, l->fail_limit * 2, now);
        if (w > wait)
            wait = w;
        w = entry_wait(u, l->fail_limit, now);
        if (w > wait)
            wait = w;
    } else if (!sa) {
        wait = entry_wait(u, l->fail_limit, now);
    }
    pthread_mutex_unlock(&l->lock);
    return wait;
}

void
ferry_authlimit_fail(struct ferry_authlimit *l, const struct sockaddr *sa, const char *user)
{
    unsigned char ak[LIMIT_KEY_MAX], pk[LIMIT_KEY_MAX], uk[LIMIT_KEY_MAX];
    size_t alen = 0, plen = 0, ulen;
    struct limit_entry *e;
    int64_t now;

    if (l->fail_limit == 0)
        return;
    ulen = user_key(user, uk);
    pthread_mutex_lock(&l->lock);
    now = limit_now(l);
    if (authlimit_keys(sa, ak, &alen, pk, &plen)) {
        e = table_find(l, &l->addr, ak, alen, now, true);
        e->count++;
        e->last = now;
        e = table_find(l, &l->prefix, pk, plen, now, true);
        e->count++;
        e->last = now;
    }
    if (ulen) {
        e = table_find(l, &l->user, uk, ulen, now, true);
        e->count++;
        e->last = now;
    }
    pthread_mutex_unlock(&l->lock);
}
