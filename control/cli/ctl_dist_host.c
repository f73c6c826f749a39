/*
 * ctl_dist_host.c - the host list of `ferryctl distribute` and the per-host helpers every
 * step uses: failure marking, job duration, the host part of an endpoint URL.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_dist.h"

/*
 * Allocate n hosts, each RUNNING, not reachable-tested yet, fetching fetch_url. The
 * endpoint strings and fetch_url are borrowed and must outlive the list. -ENOMEM, with
 * *hosts untouched.
 */
int
dist_hosts_init(struct dist_hosts *hosts, char *const *endpoints, size_t n,
                const char *fetch_url)
{
    struct dist_host *v = calloc(n ? n : 1, sizeof(*v));

    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        v[i].endpoint = endpoints[i];
        v[i].fetch_url = fetch_url;
        v[i].phase = DIST_RUNNING;
        v[i].down_since = -1;
        v[i].parent = -1;
    }
    hosts->v = v;
    hosts->n = n;
    return 0;
}

/*
 * Free what the list owns (sessions, job ids, the array) and zero it. Safe on a zeroed
 * list.
 */
void
dist_hosts_done(struct dist_hosts *hosts)
{
    for (size_t i = 0; i < hosts->n; i++) {
        ctl_session_free(hosts->v[i].s);
        free(hosts->v[i].job_id);
        free(hosts->v[i].relay_url);
    }
    free(hosts->v);
    memset(hosts, 0, sizeof(*hosts));
}

/*
 * Mark h FAILED; its error reads "what: msg" (both cut to fit).
 */
void
dist_host_fail(struct dist_host *h, const char *what, const char *msg)
{
    h->phase = DIST_FAILED;
    snprintf(h->error, sizeof(h->error), "%.60s: %.520s", what, msg);
}

/*
 * How long h's job took, in seconds.
 */
double
dist_host_seconds(const struct dist_host *h)
{
    const struct ctl_job_status *st = &h->st;

    /* the job's own clock when the daemon reports both times */
    if (st->creation_time && st->completion_time > st->creation_time)
        return (double)(st->completion_time - st->creation_time) / 1e7;
    return h->t_done;
}

/*
 * host[:port] of url (after "scheme://", up to the first "/") into buf, cut to len - 1.
 */
void
dist_url_host(const char *url, char *buf, size_t len)
{
    const char *p = strstr(url, "://");
    size_t n;

    p = p ? p + 3 : url;
    n = strcspn(p, "/");
    if (n >= len)
        n = len - 1;
    memcpy(buf, p, n);
    buf[n] = '\0';
}
