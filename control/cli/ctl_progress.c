/*
 * control/cli/ctl_progress.c - progress arithmetic and formatting; no I/O.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ctl_progress.h"

/* Columns kept for the text beside the bar: the longest line of figures and state,
 * "100.0%  1023.9 GiB/1023.9 GiB  1023.9 MiB/s  ETA 999:59:59  TRANSIENT_ERROR". */
#define PROGRESS_TEXT_RESERVE 76

static const char *const progress_states[] = {
    "QUEUED", "CONNECTING", "TRANSFERRING", "SUSPENDED", "ERROR",
    "TRANSIENT_ERROR", "TRANSFERRED", "ACKNOWLEDGED", "CANCELLED",
};

const char *
ctl_state_name(unsigned state)
{
    if (state < sizeof(progress_states) / sizeof(progress_states[0]))
        return progress_states[state];
    return "UNKNOWN";
}

int
ctl_state_parse(const char *name)
{
    for (size_t i = 0; i < sizeof(progress_states) / sizeof(progress_states[0]); i++)
        if (strcasecmp(name, progress_states[i]) == 0)
            return (int)i;
    return -1;
}

void
ctl_format_bytes(uint64_t bytes, char *buf, size_t len)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v = (double)bytes;
    size_t u = 0;

    if (bytes < 1024) {
        snprintf(buf, len, "%llu B", (unsigned long long)bytes);
        return;
    }
    v /= 1024.0;
    while (v >= 1024.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1024.0;
        u++;
    }
    /* 1023.96 would print as "1024.0": move to the next unit instead */
    if (v >= 1023.95 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1024.0;
        u++;
    }
    snprintf(buf, len, "%.1f %s", v, units[u]);
}

void
ctl_format_rate(double bytes_per_s, char *buf, size_t len)
{
    char b[24];

    if (!(bytes_per_s >= 0) || !isfinite(bytes_per_s)) {
        snprintf(buf, len, "-- B/s");
        return;
    }
    ctl_format_bytes((uint64_t)llround(bytes_per_s), b, sizeof(b));
    snprintf(buf, len, "%s/s", b);
}

void
ctl_format_duration(double seconds, char *buf, size_t len)
{
    unsigned long long s;

    if (!(seconds >= 0) || !isfinite(seconds) || seconds > 359999999.0) {
        snprintf(buf, len, "--:--");
        return;
    }
    s = (unsigned long long)llround(seconds);
    if (s >= 3600)
        snprintf(buf, len, "%llu:%02llu:%02llu", s / 3600, (s / 60) % 60, s % 60);
    else
        snprintf(buf, len, "%llu:%02llu", s / 60, s % 60);
}

void
ctl_rate_init(struct ctl_rate *r, double tau)
{
    memset(r, 0, sizeof(*r));
    r->tau = tau > 0 ? tau : 3.0;
}

void
ctl_rate_update(struct ctl_rate *r, double t, uint64_t bytes)
{
    double dt, inst, alpha;

    if (!r->started || bytes < r->last_bytes) {
        r->started = true;
        r->last_t = t;
        r->last_bytes = bytes;
        return;
    }
    dt = t - r->last_t;
    if (dt <= 0.0)
        return;
    inst = (double)(bytes - r->last_bytes) / dt;
    if (!r->has_rate) {
        r->rate = inst;
        r->has_rate = true;
    } else {
        alpha = 1.0 - exp(-dt / r->tau);
        r->rate += alpha * (inst - r->rate);
    }
    r->last_t = t;
    r->last_bytes = bytes;
}

double
ctl_eta(uint64_t done, uint64_t total, double rate)
{
    if (total == CTL_SIZE_UNKNOWN)
        return -1;
    if (done >= total)
        return 0;
    if (!(rate > 0.0))
        return -1;
    return (double)(total - done) / rate;
}

double
ctl_percent(uint64_t done, uint64_t total)
{
    if (total == CTL_SIZE_UNKNOWN)
        return -1;
    if (total == 0)
        return 100.0;
    if (done >= total)
        return 100.0;
    return 100.0 * (double)done / (double)total;
}

void
ctl_progress_line(char *buf, size_t len, unsigned width, const char *state, uint64_t done,
                  uint64_t total, double rate)
{
    char d[32], t[32], r[32], e[32], pct[16], text[160];
    double p = ctl_percent(done, total);
    size_t tl;

    ctl_format_bytes(done, d, sizeof(d));
    if (total == CTL_SIZE_UNKNOWN)
        snprintf(t, sizeof(t), "?");
    else
        ctl_format_bytes(total, t, sizeof(t));
    ctl_format_rate(rate, r, sizeof(r));
    ctl_format_duration(ctl_eta(done, total, rate), e, sizeof(e));
    if (p < 0)
        snprintf(pct, sizeof(pct), "  ?.?%%");
    else
        snprintf(pct, sizeof(pct), "%5.1f%%", floor(p * 10.0) / 10.0);
    snprintf(text, sizeof(text), "%s  %s/%s  %s  ETA %s  %s", pct, d, t, r, e, state);
    tl = strlen(text);
    /* The bar has a fixed width for a given terminal (the text beside it changes length
     * as figures grow): what is left after room for the longest text, 10 to 40 columns. */
    if (width >= PROGRESS_TEXT_RESERVE + 4 + 10 && tl <= PROGRESS_TEXT_RESERVE) {
        size_t bar = width - PROGRESS_TEXT_RESERVE - 4;
        size_t filled;
        char bb[48];

        if (bar > 40)
            bar = 40;
        filled = p < 0 ? 0 : (size_t)(p / 100.0 * (double)bar);
        for (size_t i = 0; i < bar; i++)
            bb[i] = i < filled ? '#' : '.';
        bb[bar] = '\0';
        snprintf(buf, len, "[%s]  %s", bb, text);
        return;
    }
    snprintf(buf, len, "%s", text);
}
