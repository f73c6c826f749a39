/*
 * ferry/rate.h - token buckets: the server role's per-group BandwidthLimit (shared by the
 * responses of one group) and the client role's global and per-job bandwidth limits.
 *
 * Thread-safe and reference counted; engine/core/rate.c implements them. A bucket never
 * blocks: ferry_rate_take grants what is available now and says how long to wait for more.
 */
#ifndef FERRY_RATE_H
#define FERRY_RATE_H

#include <stdint.h>
#include "ferry/common.h"

struct ferry_rate;

/* bytes_per_sec 0 = unlimited. Returns NULL on out of memory. */
FERRY_API struct ferry_rate *ferry_rate_new(uint64_t bytes_per_sec);
FERRY_API struct ferry_rate *ferry_rate_ref(struct ferry_rate *rate);
/* Drops one reference (NULL-safe); frees on the last. Returns NULL. */
FERRY_API struct ferry_rate *ferry_rate_unref(struct ferry_rate *rate);
/* Change the rate; 0 = unlimited. Credit above the new burst is dropped. */
FERRY_API void ferry_rate_set(struct ferry_rate *rate, uint64_t bytes_per_sec);
/* Take up to `want` bytes now; returns bytes granted (0 = wait *ret_wait_ns). */
FERRY_API uint64_t ferry_rate_take(struct ferry_rate *rate, uint64_t want,
                                   uint64_t *ret_wait_ns);

#endif
