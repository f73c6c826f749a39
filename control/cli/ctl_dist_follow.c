/*
 * ctl_dist_follow.c - step 3 of `ferryctl distribute`: poll every running job, complete
 * each one when it is TRANSFERRED, and show one display for all hosts (a line per host and
 * a total; redrawn in place on a terminal).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "ctl_dist.h"
#include "wsman_names.h"

/* One Get of h's job at t (s since start): progress, completion, failure, outages. */
static void
follow_poll(struct dist_host *h, double t)
{
    struct ctl_pair sel = {"JobId", h->job_id};
    struct ctl_response *resp = NULL;
    char err[800];
    int r;

    if (h->phase != DIST_RUNNING)
        return;
    r = ctl_session_get(h->s, WSMAN_URI_BITS_CLIENT_JOB, &sel, 1, &resp);
    if (r < 0) {
        if (h->down_since < 0)
            h->down_since = t;
        if (ctl_session_exit_code(r) != CTL_EXIT_CONNECT || r == -EACCES ||
            t - h->down_since > DIST_RECONNECT_S)
            dist_host_fail(h, "Get", h->s->message);
        return;
    }
    h->down_since = -1;
    r = ctl_job_status_read(resp->instances[0], &h->st);
    ctl_response_free(resp);
    if (r < 0) {
        dist_host_fail(h, "Get", "the job instance has no State");
        return;
    }
    ctl_rate_update(&h->rate, t, h->st.bytes_transferred);
    switch (h->st.state) {
    case 6: /* TRANSFERRED */
        r = ctl_job_set_state(h->s, h->job_id, 1);
        if (r < 0) {
            dist_host_fail(h, "complete", h->s->message);
            return;
        }
        h->phase = DIST_DONE;
        h->t_done = t;
        h->st.state = 7;
        break;
    case 7: /* completed by someone else */
        h->phase = DIST_DONE;
        h->t_done = t;
        break;
    case 4: /* ERROR */
        if (ctl_job_error_line(h->s, h->job_id, err, sizeof(err)) < 0)
            snprintf(err, sizeof(err), "GetError failed: %.700s", h->s->message);
        dist_host_fail(h, "job", err);
        break;
    case 8:
        dist_host_fail(h, "job", "cancelled");
        break;
    default:
        break;
    }
}

/* h's display line, cut to width (0: no limit). */
static void
follow_host_line(const struct dist_host *h, unsigned width, char *buf, size_t len)
{
    char host[64], line[256];

    dist_url_host(h->endpoint, host, sizeof(host));
    if (h->phase == DIST_FAILED) {
        snprintf(buf, len, "%-21s FAILED %s", host, h->error);
    } else {
        ctl_progress_line(line, sizeof(line), width > 24 ? width - 22 : 0,
                          ctl_state_name(h->st.state), h->st.bytes_transferred,
                          h->st.bytes_total,
                          h->phase == DIST_DONE ? -1 : h->rate.has_rate ? h->rate.rate : -1);
        snprintf(buf, len, "%-21s %s", host, line);
    }
    if (width > 3 && strlen(buf) > width)
        buf[width] = '\0';
}

/* One block: a line per host and a total line; live redraws over the last *drawn lines. */
static void
follow_display(const struct dist_hosts *hosts, bool live, unsigned *drawn, double t)
{
    uint64_t done = 0, total = 0;
    double rate = 0;
    bool total_known = true;
    unsigned width = live ? 100 : 0;
    char line[768], tl[256];

    if (live) {
        struct winsize ws;

        if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 30)
            width = ws.ws_col - 1;
        if (*drawn)
            printf("\033[%uA", *drawn);
    }
    for (size_t i = 0; i < hosts->n; i++) {
        const struct dist_host *h = &hosts->v[i];

        follow_host_line(h, width, line, sizeof(line));
        printf("%s%s\n", line, live ? "\033[K" : "");
        if (h->phase == DIST_FAILED)
            continue;
        done += h->st.bytes_transferred;
        if (h->st.bytes_total == CTL_SIZE_UNKNOWN)
            total_known = false;
        else
            total += h->st.bytes_total;
        if (h->phase == DIST_RUNNING && h->rate.has_rate)
            rate += h->rate.rate;
    }
    ctl_progress_line(tl, sizeof(tl), width > 24 ? width - 22 : 0, "", done,
                      total_known ? total : CTL_SIZE_UNKNOWN, rate);
    snprintf(line, sizeof(line), "%-21s %s %.0fs", "total", tl, t);
    printf("%s%s\n", line, live ? "\033[K" : "");
    if (!live)
        printf("\n");
    fflush(stdout);
    *drawn = (unsigned)hosts->n + 1;
}

/*
 * Step 3. See ctl_dist.h.
 */
void
dist_follow(struct dist_run *run)
{
    struct ctl_ctx *ctx = run->ctx;
    bool live = ctx->tty && !ctx->json;
    double last_plain = -1e9;
    unsigned drawn = 0;

    if (live)
        ctl_live_begin();
    for (;;) {
        double t = ctl_now() - run->t0;
        size_t running = 0;

        for (size_t i = 0; i < run->hosts.n; i++) {
            follow_poll(&run->hosts.v[i], t);
            if (run->hosts.v[i].phase == DIST_RUNNING)
                running++;
        }
        if (!ctx->json && (live || t - last_plain >= DIST_PLAIN_PERIOD || running == 0)) {
            follow_display(&run->hosts, live, &drawn, t);
            last_plain = t;
        }
        if (running == 0)
            break;
        ctl_sleep(run->o.interval);
    }
}
