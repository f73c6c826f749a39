/*
 * ctl_dist_report.c - step 4 of `ferryctl distribute`: what each host got and how fast, as
 * a table or (--json) one object.
 */
#include <stdio.h>

#include "ctl_dist.h"

/* The --json form: {"Url", "ok", "Seconds", "hosts": [...]}. */
static void
report_json(struct ctl_json *j, const struct dist_hosts *hosts, const char *url,
            double elapsed, bool ok)
{
    ctl_json_begin_object(j);
    ctl_json_key(j, "Url");
    ctl_json_string(j, url);
    ctl_json_key(j, "ok");
    ctl_json_bool(j, ok);
    ctl_json_key(j, "Seconds");
    ctl_json_double(j, elapsed);
    ctl_json_key(j, "hosts");
    ctl_json_begin_array(j);
    for (size_t i = 0; i < hosts->n; i++) {
        const struct dist_host *h = &hosts->v[i];
        double secs = dist_host_seconds(h);

        ctl_json_begin_object(j);
        ctl_json_key(j, "endpoint");
        ctl_json_string(j, h->endpoint);
        ctl_json_key(j, "JobId");
        ctl_json_string(j, h->job_id);
        ctl_json_key(j, "ok");
        ctl_json_bool(j, h->phase == DIST_DONE);
        ctl_json_key(j, "State");
        ctl_json_string(j, h->phase == DIST_FAILED ? "FAILED" : ctl_state_name(h->st.state));
        ctl_json_key(j, "Bytes");
        ctl_json_u64(j, h->st.bytes_transferred);
        ctl_json_key(j, "FromOrigin");
        ctl_json_u64(j, h->st.from_origin);
        ctl_json_key(j, "FromPeers");
        ctl_json_u64(j, h->st.from_peers);
        ctl_json_key(j, "Seconds");
        if (h->phase == DIST_DONE)
            ctl_json_double(j, secs);
        else
            ctl_json_null(j);
        ctl_json_key(j, "DoneAt");
        if (h->phase == DIST_DONE)
            ctl_json_double(j, h->t_done);
        else
            ctl_json_null(j);
        ctl_json_key(j, "Throughput");
        if (h->phase == DIST_DONE && secs > 0)
            ctl_json_double(j, (double)h->st.bytes_transferred / secs);
        else
            ctl_json_null(j);
        ctl_json_key(j, "error");
        ctl_json_string(j, h->phase == DIST_FAILED ? h->error : NULL);
        ctl_json_end_object(j);
    }
    ctl_json_end_array(j);
    ctl_json_end_object(j);
    ctl_json_end(j);
}

/*
 * Step 4. See ctl_dist.h.
 */
void
dist_report(struct dist_run *run, double elapsed, bool ok)
{
    const struct dist_hosts *hosts = &run->hosts;
    char b1[32], b2[32], host[64];

    if (run->ctx->json) {
        report_json(&run->ctx->js, hosts, run->remote, elapsed, ok);
        return;
    }
    printf("%-21s %-13s %10s %12s %14s\n", "HOST", "RESULT", "TIME", "BYTES", "THROUGHPUT");
    for (size_t i = 0; i < hosts->n; i++) {
        const struct dist_host *h = &hosts->v[i];
        double secs = dist_host_seconds(h);

        dist_url_host(h->endpoint, host, sizeof(host));
        if (h->phase != DIST_DONE) {
            printf("%-21s %-13s %s\n", host, "FAILED", h->error);
            continue;
        }
        ctl_format_bytes(h->st.bytes_transferred, b1, sizeof(b1));
        ctl_format_rate(secs > 0 ? (double)h->st.bytes_transferred / secs : -1, b2,
                        sizeof(b2));
        printf("%-21s %-13s %9.2fs %12s %14s\n", host, "ACKNOWLEDGED", secs, b1, b2);
    }
    printf("%s in %.2f s: %s\n", run->remote, elapsed,
           ok ? "every host has the file" : "at least one host failed");
}
