/*
 * authtarpit.c - the refusal tarpit (ferry/auth.h): how long the answer to an
 * unauthenticated request (401) from an address prefix is held back.
 *
 * Each prefix (/24, /64: the limiter's keys, authlimit_keys) has a leaky bucket of
 * refusals: every refusal adds one, the bucket drains at `rate` a second and holds at
 * most rate + TARPIT_EXCESS_MAX. While it holds at most `rate` (a burst of `rate`, or a
 * steady `rate` a second) the answer goes at once; past that the answer waits
 * TARPIT_BASE_MS doubled per refusal of excess, at most TARPIT_CAP_MS. A prefix that
 * stops is back to immediate answers after at most (rate + TARPIT_EXCESS_MAX) / rate
 * seconds. Requests that authenticate are never asked about (they are not refused).
 * One table of TARPIT_SLOTS slots, hashed (the limiter's keyed FNV-1a, authlimit_hash): a key lives in the
 * TARPIT_WINDOW slots from its hash; a new key takes a free slot or the one with the
 * emptiest bucket. Clock: the caller's milliseconds, so tests drive it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "authlimit-internal.h"
#include "ferry/auth.h"

#define TARPIT_SLOTS 1024
#define TARPIT_WINDOW 32
#define TARPIT_EXCESS_MAX 16
#define TARPIT_UNIT 1000 /* bucket levels in thousandths of a refusal */

struct tarpit_entry {
    unsigned char key[AUTHLIMIT_KEY_MAX];
    size_t keylen; /* 0 = free slot */
    uint64_t level;
    int64_t last_ms;
};

struct ferry_tarpit {
    pthread_mutex_t lock;
    unsigned rate;
    uint64_t hash_key;
    struct tarpit_entry *v;
};

int
ferry_tarpit_new(unsigned rate, struct ferry_tarpit **ret)
{
    struct ferry_tarpit *t = calloc(1, sizeof(*t));

    if (!t)
        return -ENOMEM;
    t->v = calloc(TARPIT_SLOTS, sizeof(*t->v));
    if (!t->v) {
        free(t);
        return -ENOMEM;
    }
    pthread_mutex_init(&t->lock, NULL);
    t->rate = rate;
    t->hash_key = authlimit_hash_key(t);
    *ret = t;
    return 0;
}

struct ferry_tarpit *
ferry_tarpit_free(struct ferry_tarpit *t)
{
    if (!t)
        return NULL;
    pthread_mutex_destroy(&t->lock);
    free(t->v);
    free(t);
    return NULL;
}

/* Locked. The bucket of e drained up to now_ms. */
static uint64_t
tarpit_level(const struct ferry_tarpit *t, const struct tarpit_entry *e, int64_t now_ms)
{
    int64_t elapsed = now_ms - e->last_ms;
    uint64_t drained;

    if (elapsed <= 0)
        return e->level;
    /* rate refusals a second = rate thousandths a millisecond */
    drained = (uint64_t)elapsed * t->rate;
    return drained >= e->level ? 0 : e->level - drained;
}

/* Locked. The entry of key, or a free slot or the emptiest bucket of its window. */
static struct tarpit_entry *
tarpit_find(struct ferry_tarpit *t, const unsigned char *key, size_t keylen, int64_t now_ms)
{
    size_t home = (size_t)(authlimit_hash(t->hash_key, key, keylen) % TARPIT_SLOTS);
    struct tarpit_entry *victim = NULL;
    uint64_t victim_level = UINT64_MAX;

    for (size_t k = 0; k < TARPIT_WINDOW; k++) {
        struct tarpit_entry *e = &t->v[(home + k) % TARPIT_SLOTS];
        uint64_t level;

        if (e->keylen == keylen && memcmp(e->key, key, keylen) == 0)
            return e;
        level = e->keylen ? tarpit_level(t, e, now_ms) : 0;
        if (!victim || level < victim_level || (!e->keylen && victim->keylen)) {
            victim = e;
            victim_level = level;
        }
    }
    memset(victim, 0, sizeof(*victim));
    memcpy(victim->key, key, keylen);
    victim->keylen = keylen;
    victim->last_ms = now_ms;
    return victim;
}

unsigned
ferry_tarpit_refusal(struct ferry_tarpit *t, const struct sockaddr *sa, int64_t now_ms)
{
    unsigned char ak[AUTHLIMIT_KEY_MAX], pk[AUTHLIMIT_KEY_MAX];
    size_t alen = 0, plen = 0;
    struct tarpit_entry *e;
    uint64_t budget, cap, excess;
    unsigned delay;

    if (!t || t->rate == 0 || !authlimit_keys(sa, ak, &alen, pk, &plen))
        return 0;
    budget = (uint64_t)t->rate * TARPIT_UNIT;
    cap = budget + (uint64_t)TARPIT_EXCESS_MAX * TARPIT_UNIT;
    pthread_mutex_lock(&t->lock);
    e = tarpit_find(t, pk, plen, now_ms);
    e->level = tarpit_level(t, e, now_ms) + TARPIT_UNIT;
    if (now_ms > e->last_ms)
        e->last_ms = now_ms;
    if (e->level > cap)
        e->level = cap;
    excess = e->level > budget ? (e->level - budget + TARPIT_UNIT - 1) / TARPIT_UNIT : 0;
    pthread_mutex_unlock(&t->lock);
    if (excess == 0)
        return 0;
    if (excess > 8)
        return FERRY_TARPIT_CAP_MS;
    delay = FERRY_TARPIT_BASE_MS << (excess - 1);
    return delay > FERRY_TARPIT_CAP_MS ? FERRY_TARPIT_CAP_MS : delay;
}
