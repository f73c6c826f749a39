/*
 * ctl_dist_start.c - step 2 of `ferryctl distribute`: a job on every client host, fetching
 * the host's fetch_url into the destination; with --priority the job is created suspended,
 * given its priority and resumed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_dist.h"
#include "wsman_names.h"

/* Get-modify-Put of the job's Priority. 0 or the session error. */
static int
start_set_priority(struct dist_host *h, int priority)
{
    struct ctl_pair sel = {"JobId", h->job_id};
    struct ctl_response *got = NULL, *put = NULL;
    char num[16];
    xmlNode *inst;
    int r;

    snprintf(num, sizeof(num), "%d", priority);
    r = ctl_session_get(h->s, WSMAN_URI_BITS_CLIENT_JOB, &sel, 1, &got);
    if (r == 0) {
        inst = ctl_response_instance_node(got);
        r = inst ? ctl_envelope_set_property(inst, "Priority", num) : -EBADMSG;
        if (r == 0)
            r = ctl_session_put(h->s, WSMAN_URI_BITS_CLIENT_JOB, &sel, 1, inst, &put);
    }
    ctl_response_free(got);
    ctl_response_free(put);
    return r;
}

/* Create the job on one client; on failure h is FAILED with the reason. */
static void
start_host(struct ctl_ctx *ctx, struct dist_host *h, const char *local_file,
           const char *display_name, int priority, bool held)
{
    struct ctl_response *resp = NULL;
    struct ctl_pair params[4];
    const char *id;
    int r;

    r = ctl_session_new(h->endpoint, &ctx->http, &h->s);
    if (r < 0) {
        dist_host_fail(h, "session", r == -EINVAL ? "not an http(s) URL" : strerror(-r));
        return;
    }
    params[0] = (struct ctl_pair){"DisplayName", display_name};
    params[1] = (struct ctl_pair){"RemoteUrl", h->fetch_url};
    params[2] = (struct ctl_pair){"LocalFile", local_file};
    params[3] = (struct ctl_pair){"Suspend", priority >= 0 || held ? "true" : "false"};
    r = ctl_session_invoke(h->s, WSMAN_URI_BITS_CLIENT_JOB, "CreateJob", NULL, 0, params, 4,
                           &resp);
    if (r < 0) {
        dist_host_fail(h, "CreateJob", h->s->message);
        return;
    }
    id = ctl_instance_get(resp->instances[0], "JobId");
    if (!id || !*id) {
        ctl_response_free(resp);
        dist_host_fail(h, "CreateJob", "no JobId returned");
        return;
    }
    h->job_id = strdup(id);
    ctl_response_free(resp);
    if (!h->job_id) {
        dist_host_fail(h, "CreateJob", "out of memory");
        return;
    }
    if (priority >= 0) {
        if (start_set_priority(h, priority) < 0) {
            dist_host_fail(h, "set priority", h->s->message[0] ? h->s->message : "failed");
            return;
        }
        if (!held && ctl_job_set_state(h->s, h->job_id, 2) < 0) {
            dist_host_fail(h, "resume", h->s->message);
            return;
        }
    }
    ctl_rate_init(&h->rate, 3.0);
    h->down_since = -1;
}

/*
 * Step 2. See ctl_dist.h.
 */
void
dist_start(struct dist_run *run)
{
    for (size_t i = 0; i < run->hosts.n; i++) {
        struct dist_host *h = &run->hosts.v[i];

        if (h->phase != DIST_RUNNING)
            continue;
        /* relays get their peers and URLs before they run (dist_relay_setup resumes) */
        start_host(run->ctx, h, run->local, run->display, run->o.priority, run->o.relay);
        if (h->phase == DIST_FAILED)
            fprintf(stderr, "ferryctl: %s: %s\n", h->endpoint, h->error);
    }
}
