/*
 * engine/core/rate-internal.h - the token bucket's clock hook, so tests can check the
 * arithmetic against a clock they drive.
 */
#ifndef FERRY_RATE_INTERNAL_H
#define FERRY_RATE_INTERNAL_H

#include <stdint.h>

#include "ferry/rate.h"

/* Returns monotonic nanoseconds. */
typedef uint64_t (*rate_clock_fn)(void *userdata);

/* ferry_rate_new with a caller-driven clock (called under the bucket's lock). */
struct ferry_rate *rate_new_with_clock(uint64_t bytes_per_sec, rate_clock_fn clock,
                                       void *userdata);

/* Bucket size for a rate: 100 ms of traffic, at least RATE_MIN_BURST bytes. */
uint64_t rate_burst(uint64_t bytes_per_sec);
/* Smallest grant after an empty bucket: 100 ms of traffic, at most RATE_MAX_QUANTUM. */
uint64_t rate_quantum(uint64_t bytes_per_sec);

#define RATE_MIN_BURST (16 * 1024)
#define RATE_MAX_QUANTUM (16 * 1024)

#endif
