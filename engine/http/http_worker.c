/*
 * http_worker.c - what a worker's connections ask of the shared server state
 * (http_worker.h): the cached Date header and the listener reference count.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "http_worker.h"

/* ---- Date header, cached per worker per second ---- */

/* The Date header value, recomputed at most once a second (http_worker.h). */
const char *
http_worker_date(struct http_worker *w)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = time(NULL);
    struct tm tm;

    if (now != w->date_sec) {
        gmtime_r(&now, &tm);
        snprintf(w->date, sizeof(w->date), "%s, %02d %s %04d %02d:%02d:%02d GMT",
                 days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
                 tm.tm_hour, tm.tm_min, tm.tm_sec);
        w->date_sec = now;
    }
    return w->date;
}

/* ---- listeners ---- */

/* Drop one listener reference; the last frees it (http_worker.h). */
void
http_listener_unref(struct http_listener *l)
{
    if (!l || atomic_fetch_sub(&l->refs, 1) != 1)
        return;
    if (l->tls)
        ferry_tls_ctx_unref(l->tls);
    free(l->socks);
    free(l);
}
