/*
 * rate.c - token buckets shared by responses (ferry_rate_*, ferry/rate.h): the per-group
 * BandwidthLimit of the server role and the client's global bandwidth limit.
 *
 * Credit is kept in byte-nanoseconds (bytes x 1e9) in 128 bits, so refills at any rate add
 * exactly elapsed_ns x bytes_per_sec with no rounding drift. The bucket holds 100 ms of
 * traffic (at least 16 KiB) and starts full. After it runs dry a caller waits for a quantum
 * (100 ms of traffic, at most 16 KiB) rather than being handed a few bytes at a time.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "ferry/rate.h"
#include "rate-internal.h"

#define NS_PER_SEC 1000000000ULL

typedef unsigned __int128 u128;

struct ferry_rate {
    pthread_mutex_t lock;
    atomic_uint refs;
    uint64_t rate;  /* bytes per second; 0 = unlimited */
    u128 credit;    /* byte-nanoseconds available, <= burst x 1e9 */
    uint64_t last;  /* clock at the last refill */
    rate_clock_fn clock;
    void *userdata;
};

static uint64_t
monotonic_ns(void *userdata)
{
    struct timespec ts;

    (void)userdata;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

uint64_t
rate_burst(uint64_t bytes_per_sec)
{
    uint64_t b = bytes_per_sec / 10;

    return b < RATE_MIN_BURST ? RATE_MIN_BURST : b;
}

uint64_t
rate_quantum(uint64_t bytes_per_sec)
{
    uint64_t q = bytes_per_sec / 10;

    if (q == 0)
        q = 1;
    return q > RATE_MAX_QUANTUM ? RATE_MAX_QUANTUM : q;
}

/* Add the credit earned since the last refill (lock held). */
static void
rate_refill(struct ferry_rate *r, uint64_t now)
{
    u128 cap, earned;

    if (r->rate == 0 || now <= r->last) {
        if (now > r->last)
            r->last = now;
        return;
    }
    cap = (u128)rate_burst(r->rate) * NS_PER_SEC;
    earned = (u128)(now - r->last) * r->rate; /* < 2^128: both factors < 2^64 */
    if (r->credit >= cap || earned >= cap - r->credit)
        r->credit = cap;
    else
        r->credit += earned;
    r->last = now;
}

struct ferry_rate *
rate_new_with_clock(uint64_t bytes_per_sec, rate_clock_fn clock, void *userdata)
{
    struct ferry_rate *r = calloc(1, sizeof(*r));

    if (!r)
        return NULL;
    if (pthread_mutex_init(&r->lock, NULL) != 0) {
        free(r);
        return NULL;
    }
    atomic_init(&r->refs, 1);
    r->clock = clock ? clock : monotonic_ns;
    r->userdata = userdata;
    r->rate = bytes_per_sec;
    r->credit = (u128)rate_burst(bytes_per_sec) * NS_PER_SEC;
    r->last = r->clock(r->userdata);
    return r;
}

struct ferry_rate *
ferry_rate_new(uint64_t bytes_per_sec)
{
    return rate_new_with_clock(bytes_per_sec, NULL, NULL);
}

struct ferry_rate *
ferry_rate_ref(struct ferry_rate *rate)
{
    if (rate)
        atomic_fetch_add(&rate->refs, 1);
    return rate;
}

struct ferry_rate *
ferry_rate_unref(struct ferry_rate *rate)
{
    if (!rate)
        return NULL;
    if (atomic_fetch_sub(&rate->refs, 1) == 1) {
        pthread_mutex_destroy(&rate->lock);
        free(rate);
    }
    return NULL;
}

void
ferry_rate_set(struct ferry_rate *rate, uint64_t bytes_per_sec)
{
    u128 cap;

    if (!rate)
        return;
    pthread_mutex_lock(&rate->lock);
    rate_refill(rate, rate->clock(rate->userdata));
    cap = (u128)rate_burst(bytes_per_sec) * NS_PER_SEC;
    /* leaving "unlimited" starts with a full bucket, as a new one would */
    if (rate->rate == 0 || rate->credit > cap)
        rate->credit = cap;
    rate->rate = bytes_per_sec;
    pthread_mutex_unlock(&rate->lock);
}

uint64_t
ferry_rate_take(struct ferry_rate *rate, uint64_t want, uint64_t *ret_wait_ns)
{
    uint64_t granted = 0, wait = 0, avail, q;

    if (!rate || want == 0) {
        if (ret_wait_ns)
            *ret_wait_ns = 0;
        return want;
    }
    pthread_mutex_lock(&rate->lock);
    if (rate->rate == 0) {
        granted = want;
        goto done;
    }
    rate_refill(rate, rate->clock(rate->userdata));
    avail = (uint64_t)(rate->credit / NS_PER_SEC);
    q = rate_quantum(rate->rate);
    if (q > want)
        q = want;
    if (avail >= q) {
        granted = avail < want ? avail : want;
        rate->credit -= (u128)granted * NS_PER_SEC;
    } else {
        u128 need = (u128)q * NS_PER_SEC - rate->credit;
        wait = (uint64_t)((need + rate->rate - 1) / rate->rate);
        if (wait == 0)
            wait = 1;
    }
done:
    pthread_mutex_unlock(&rate->lock);
    if (ret_wait_ns)
        *ret_wait_ns = wait;
    return granted;
}
