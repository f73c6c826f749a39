/*
 * engine/core/clock.h - the engine's monotonic clock in milliseconds (timers, checkpoints,
 * pacing waits, log timings). One definition for every folder of the engine.
 */
#ifndef FERRY_CLOCK_H
#define FERRY_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in milliseconds; never fails, never steps back. */
int64_t ferry_clock_ms(void);

#endif
