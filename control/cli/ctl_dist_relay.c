/*
 * ctl_dist_relay.c - `ferryctl distribute --relay`: the hosts relay the file to each other
 * while they fetch it, so that the origin's link carries about one copy (docs/FLEET.md,
 * docs/internals/relay.md). A pipelined tree in --to order with fan-out K (K = 1, the
 * default, is a chain): host 0 fetches from the origin only; host i > 0 has host
 * (i - 1) / K as a Peer source and the origin as its RemoteUrl (the manifest and the
 * validators always come from the origin; the origin is the fallback when the parent is
 * slow, dead or serves a bad chunk). Every host publishes its job file in the relay group
 * while the job still runs: CreateJob (suspended), SetOption Peer, CreateUrl, SetJobState
 * resume, all through WS-Man.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_defaults.h"
#include "ctl_dist.h"
#include "wsman_names.h"

/*
 * See ctl_dist.h.
 */
int
dist_relay_plan(struct dist_run *run)
{
    /* no --fanout: a chain, whose every hop adds about one chunk time; beyond
     * DIST_CHAIN_MAX hosts a tree of fan-out 2, so the deepest host stays a few dozen hops
     * from the origin and never outwaits its first-progress limit (docs/FLEET.md) */
    unsigned k = run->o.fanout ? run->o.fanout : run->hosts.n > DIST_CHAIN_MAX ? 2 : 1;

    for (size_t i = 0; i < run->hosts.n; i++) {
        struct dist_host *h = &run->hosts.v[i];
        int r = dist_publish_url(run->o.relay_group, h->endpoint, run->suffix, &h->relay_url);

        if (r < 0)
            return r;
        h->parent = i == 0 ? -1 : (long)((i - 1) / k);
    }
    return 0;
}

/* The relay group on host h (created when missing) with its upload limit. 0 or the
 * session error. */
static int
relay_group(struct dist_run *run, struct dist_host *h)
{
    struct ctl_pair params[1] = {{"UrlGroup", run->o.relay_group}};
    struct ctl_pair sel = {"UrlGroup", run->o.relay_group};
    struct ctl_response *resp = NULL;
    char num[24];
    struct ctl_pair prop[2] = {{"Property", "BandwidthLimit"}, {"Value", num}};
    int r;

    r = ctl_session_invoke(h->s, WSMAN_URI_BITS_URL_GROUP, "CreateUrlGroup", NULL, 0, params,
                           1, &resp);
    resp = ctl_response_free(resp);
    if (r < 0 && ctl_session_exit_code(r) == CTL_EXIT_CONNECT)
        return r;
    snprintf(num, sizeof(num), "%llu", (unsigned long long)run->o.relay_limit);
    r = ctl_session_invoke(h->s, WSMAN_URI_BITS_URL_GROUP, "SetProperty", &sel, 1, prop, 2,
                           &resp);
    ctl_response_free(resp);
    return r;
}

/* Publish h's job file as its relay URL, replacing one a --keep run left. 0 or the
 * session error. */
static int
relay_publish(struct dist_run *run, struct dist_host *h)
{
    struct ctl_pair sel = {"UrlGroup", run->o.relay_group};
    struct ctl_pair params[3] = {
        {"UrlSuffix", run->suffix},
        {"SourceFilePath", run->local},
        {"SDDLAuth", CTL_DEFAULT_RULE},
    };
    struct ctl_response *resp = NULL;
    int r;

    r = ctl_session_invoke(h->s, WSMAN_URI_BITS_URL_GROUP, "CreateUrl", &sel, 1, params, 3,
                           &resp);
    resp = ctl_response_free(resp);
    if (r < 0 && ctl_session_exit_code(r) != CTL_EXIT_CONNECT) {
        /* an earlier --keep run: the URL names the old copy; publish this job instead */
        if (ctl_session_invoke(h->s, WSMAN_URI_BITS_URL_GROUP, "DeleteUrl", &sel, 1, params,
                               1, &resp) == 0) {
            resp = ctl_response_free(resp);
            r = ctl_session_invoke(h->s, WSMAN_URI_BITS_URL_GROUP, "CreateUrl", &sel, 1,
                                   params, 3, &resp);
            ctl_response_free(resp);
        }
    }
    return r;
}

/* Give h its parent's relay as a Peer source. 0 or the session error. */
static int
relay_peer(struct dist_host *h, const char *url)
{
    struct ctl_pair sel = {"JobId", h->job_id};
    struct ctl_pair params[2] = {{"Name", "Peer"}, {"Value", url}};
    struct ctl_response *resp = NULL;
    int r;

    r = ctl_session_invoke(h->s, WSMAN_URI_BITS_CLIENT_JOB, "SetOption", &sel, 1, params, 2,
                           &resp);
    ctl_response_free(resp);
    return r;
}

/*
 * The root's ConnectionsPerFile. A relay's children take its chunks one at a time in
 * ascending order (engine/client/fetch_source.c), and a chunk is relayed only once whole:
 * with W ranges from the origin the root's chunks come in batches of W every W chunk
 * times, and its child fell ~2 s behind it at 384 MiB (bench/fleet); with one, the
 * chain follows the root at about a chunk time per hop.
 */
#define DIST_RELAY_ROOT_CONNECTIONS "1"

/* Get-modify-Put of the root's ConnectionsPerFile. 0 or the session error. */
static int
relay_root_connections(struct dist_host *h)
{
    struct ctl_pair sel = {"JobId", h->job_id};
    struct ctl_response *got = NULL, *put = NULL;
    xmlNode *inst;
    int r;

    r = ctl_session_get(h->s, WSMAN_URI_BITS_CLIENT_JOB, &sel, 1, &got);
    if (r == 0) {
        inst = ctl_response_instance_node(got);
        r = inst ? ctl_envelope_set_property(inst, "ConnectionsPerFile",
                                             DIST_RELAY_ROOT_CONNECTIONS)
                 : -EBADMSG;
        if (r == 0)
            r = ctl_session_put(h->s, WSMAN_URI_BITS_CLIENT_JOB, &sel, 1, inst, &put);
    }
    ctl_response_free(got);
    ctl_response_free(put);
    return r;
}

/*
 * See ctl_dist.h.
 */
void
dist_relay_setup(struct dist_run *run)
{
    for (size_t i = 0; i < run->hosts.n; i++) {
        struct dist_host *h = &run->hosts.v[i];

        if (h->phase != DIST_RUNNING)
            continue;
        /* a failed parent is no peer: the child fetches from the origin */
        if (h->parent >= 0 && run->hosts.v[h->parent].phase == DIST_RUNNING &&
            relay_peer(h, run->hosts.v[h->parent].relay_url) < 0) {
            dist_host_fail(h, "SetOption Peer", h->s->message);
            continue;
        }
        if (h->parent < 0 && run->hosts.n > 1 && relay_root_connections(h) < 0) {
            dist_host_fail(h, "Put ConnectionsPerFile", h->s->message);
            continue;
        }
        if (relay_group(run, h) < 0) {
            dist_host_fail(h, "relay group", h->s->message);
            continue;
        }
        if (relay_publish(run, h) < 0) {
            dist_host_fail(h, "CreateUrl (relay)", h->s->message);
            continue;
        }
        h->relay_published = !run->o.keep;
    }
    for (size_t i = 0; i < run->hosts.n; i++) {
        struct dist_host *h = &run->hosts.v[i];

        if (h->phase != DIST_RUNNING)
            continue;
        if (ctl_job_set_state(h->s, h->job_id, 2) < 0)
            dist_host_fail(h, "resume", h->s->message);
    }
    for (size_t i = 0; i < run->hosts.n; i++)
        if (run->hosts.v[i].phase == DIST_FAILED)
            fprintf(stderr, "ferryctl: %s: %s\n", run->hosts.v[i].endpoint,
                    run->hosts.v[i].error);
}

/*
 * See ctl_dist.h.
 */
int
dist_relay_unpublish(struct dist_run *run)
{
    struct ctl_pair sel = {"UrlGroup", run->o.relay_group};
    struct ctl_pair params[1] = {{"UrlSuffix", run->suffix}};
    int ret = 0;

    for (size_t i = 0; i < run->hosts.n; i++) {
        struct dist_host *h = &run->hosts.v[i];
        struct ctl_response *resp = NULL;

        if (!h->relay_published || !h->s)
            continue;
        if (ctl_session_invoke(h->s, WSMAN_URI_BITS_URL_GROUP, "DeleteUrl", &sel, 1, params, 1,
                               &resp) < 0) {
            fprintf(stderr, "ferryctl: %s: could not remove the relay URL %s: %s\n",
                    h->endpoint, h->relay_url, h->s->message);
            ret = -EIO;
        }
        ctl_response_free(resp);
        h->relay_published = false;
    }
    return ret;
}
