/*
 * control/cli/ctl_progress.h - progress figures of `job wait` and `distribute`: byte and
 * rate formatting, a smoothed transfer rate, ETA, the one-line bar, BITS state names.
 */
#ifndef FERRY_CTL_PROGRESS_H
#define FERRY_CTL_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* BytesTotal while a size is unknown (BITS: BG_SIZE_UNKNOWN). */
#define CTL_SIZE_UNKNOWN UINT64_MAX

/* "QUEUED" ... "CANCELLED", "UNKNOWN" outside 0..8. */
const char *ctl_state_name(unsigned state);
/* -1 when the name is not a state. */
int ctl_state_parse(const char *name);

/* 1536 -> "1.5 KiB", 0 -> "0 B" (binary units, one decimal). */
void ctl_format_bytes(uint64_t bytes, char *buf, size_t len);
/* bytes/s -> "112.3 MiB/s" */
void ctl_format_rate(double bytes_per_s, char *buf, size_t len);
/* seconds -> "0:07", "12:34", "1:02:03"; negative -> "--:--" */
void ctl_format_duration(double seconds, char *buf, size_t len);

/* Rate smoothed over samples (an exponential moving average with time constant tau). */
struct ctl_rate {
    double tau;        /* s */
    double last_t;     /* s, time of the last sample */
    uint64_t last_bytes;
    double rate;       /* bytes/s */
    bool started, has_rate;
};
/* Reset r; tau <= 0 means 3 s. */
void ctl_rate_init(struct ctl_rate *r, double tau);
/* Add a sample (t in seconds, monotonic; bytes transferred so far). A decrease in bytes
 * (a restart) resets the base. */
void ctl_rate_update(struct ctl_rate *r, double t, uint64_t bytes);

/* Seconds left at `rate`; -1 when unknown (no rate, unknown total). */
double ctl_eta(uint64_t done, uint64_t total, double rate);
/* Percent done in [0, 100]; -1 when the total is unknown. */
double ctl_percent(uint64_t done, uint64_t total);

/* One progress line of at most `width` columns:
 *   "[#########.........]  45.2%  1.8 GiB/4.0 GiB  112.3 MiB/s  ETA 0:20  TRANSFERRING"
 * (the bar is dropped when width is small). */
void ctl_progress_line(char *buf, size_t len, unsigned width, const char *state,
                       uint64_t done, uint64_t total, double rate);

#endif
