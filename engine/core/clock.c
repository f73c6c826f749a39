/*
 * clock.c - the engine's monotonic millisecond clock (clock.h).
 */
#include <time.h>

#include "core/clock.h"

/* Monotonic milliseconds since an arbitrary point (boot); only differences mean anything. */
int64_t
ferry_clock_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
