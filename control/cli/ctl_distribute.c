/*
 * control/cli/ctl_distribute.c - `ferryctl distribute`: the driver. It parses the
 * options, names what is published and fetched, and runs the steps of ctl_dist.h in
 * order: publish one file on a server host, start a job on every client host, follow them
 * all with one display (completing each job when it is TRANSFERRED), report per-host
 * figures, unpublish. Hosts are independent: one failing is reported and the others go on.
 */
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_dist.h"

/* One option of `distribute` into the options (data). */
static int
dist_opt(int c, const char *arg, void *data)
{
    struct dist_opts *o = data;
    unsigned p;
    uint64_t n;
    char *copy, *save = NULL, *tok;

    switch (c) {
    case 's':
        o->server = arg;
        return 0;
    case 'S':
        o->source = arg;
        return 0;
    case 'g':
        o->group = arg;
        return 0;
    case 'd':
        o->dest = arg;
        return 0;
    case 'v':
        o->via = arg;
        return 0;
    case 'k':
        o->keep = true;
        return 0;
    case 'R':
        o->relay = true;
        return 0;
    case 'F':
        if (ctl_parse_u64(arg, DIST_MAX_HOSTS, &n) < 0 || n == 0)
            return ctl_usage("distribute", "invalid fan-out '%s' (1..%d)", arg, DIST_MAX_HOSTS);
        o->fanout = (unsigned)n;
        return 0;
    case 'L':
        if (ctl_parse_u64(arg, UINT32_MAX, &n) < 0)
            return ctl_usage("distribute", "invalid relay limit '%s' (bytes/s)", arg);
        o->relay_limit = n;
        return 0;
    case 'G':
        o->relay_group = arg;
        return 0;
    case 'p':
        if (ctl_parse_priority(arg, &p) < 0)
            return ctl_usage("distribute", "invalid priority '%s'", arg);
        o->priority = (int)p;
        return 0;
    case 'i':
        if (ctl_parse_seconds(arg, &o->interval) < 0)
            return ctl_usage("distribute", "invalid interval '%s'", arg);
        return 0;
    case 't':
        if (o->nstorage >= DIST_MAX_HOSTS)
            return ctl_usage("distribute", "too many --to options");
        copy = strdup(arg);
        if (!copy)
            return CTL_EXIT_FAILED;
        o->to_storage[o->nstorage++] = copy;
        for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            if (!*tok)
                continue;
            if (o->nto >= DIST_MAX_HOSTS)
                return ctl_usage("distribute", "more than %d clients", DIST_MAX_HOSTS);
            o->to[o->nto++] = tok;
        }
        return 0;
    }
    return CTL_EXIT_USAGE;
}

/*
 * Derive the run's names from the options: the published suffix (basename of --source),
 * the URL clients fetch (on the --via cache's host when given), the job's local file
 * (--dest, or --dest/suffix for a directory) and display name. 0 or an exit code, reported.
 */
static int
dist_run_names(struct dist_run *run)
{
    struct dist_opts *o = &run->o;

    run->src_copy = strdup(o->source);
    if (!run->src_copy)
        return ctl_fail(run->ctx, CTL_EXIT_FAILED, "out of memory");
    run->suffix = basename(run->src_copy);
    if (!*run->suffix || strcmp(run->suffix, "/") == 0 || strcmp(run->suffix, ".") == 0)
        return ctl_usage("distribute", "--source '%s' names no file", o->source);
    if (dist_publish_url(o->group, o->server, run->suffix, &run->remote) < 0)
        return ctl_usage("distribute", "--group '%s' is not scheme://host:port/name",
                         o->group);
    if (o->via) {
        /* through a cache: the same path on the cache's host (the server is its origin) */
        char *direct = run->remote;

        if (dist_via_url(o->via, direct, &run->remote) < 0) {
            run->remote = direct;
            return ctl_usage("distribute", "--via '%s' is not scheme://host[:port]",
                             o->via);
        }
        free(direct);
    }
    if (asprintf(&run->published, "%s/%s", o->group, run->suffix) < 0 ||
        asprintf(&run->display, "ferry distribute %s", run->suffix) < 0 ||
        asprintf(&run->local, "%s%s", o->dest,
                 o->dest[strlen(o->dest) - 1] == '/' ? run->suffix : "") < 0)
        return ctl_fail(run->ctx, CTL_EXIT_FAILED, "out of memory");
    return 0;
}

/* Free what the run owns (sessions, names, --to copies). */
static void
dist_run_done(struct dist_run *run)
{
    dist_hosts_done(&run->hosts);
    ctl_session_free(run->srv);
    free(run->src_copy);
    free(run->remote);
    free(run->local);
    free(run->display);
    free(run->published);
    for (size_t i = 0; i < run->o.nstorage; i++)
        free(run->o.to_storage[i]);
}

/*
 * `ferryctl distribute`: see the file comment. Returns the exit code: OK when every host
 * has the file (and the URL was unpublished), FAILED otherwise, having reported why.
 */
int
ctl_cmd_distribute(struct ctl_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"server", required_argument, NULL, 's'},
        {"source", required_argument, NULL, 'S'},
        {"group", required_argument, NULL, 'g'},
        {"to", required_argument, NULL, 't'},
        {"dest", required_argument, NULL, 'd'},
        {"via", required_argument, NULL, 'v'},
        {"keep", no_argument, NULL, 'k'},
        {"relay", no_argument, NULL, 'R'},
        {"fanout", required_argument, NULL, 'F'},
        {"relay-limit", required_argument, NULL, 'L'},
        {"relay-group", required_argument, NULL, 'G'},
        {"priority", required_argument, NULL, 'p'},
        {"interval", required_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct dist_run run;
    bool ok = true;
    int r;

    memset(&run, 0, sizeof(run));
    run.ctx = ctx;
    run.o.priority = -1;
    run.o.interval = 0.5;
    run.o.fanout = 0; /* auto: dist_relay_plan */
    run.o.relay_group = DIST_RELAY_GROUP;
    r = ctl_args("distribute", argc, argv, opts, 0, NULL, dist_opt, &run.o);
    if (r != 0) {
        r = r == CTL_ARGS_HELP ? CTL_EXIT_OK : r;
        goto out;
    }
    if (!run.o.server || !run.o.source || !run.o.group || !run.o.dest || run.o.nto == 0) {
        r = ctl_usage("distribute", "--server, --source, --group, --to and --dest are "
                                    "required");
        goto out;
    }
    r = dist_run_names(&run);
    if (r != 0)
        goto out;

    r = dist_publish(&run);
    if (r != 0)
        goto out;
    if (dist_hosts_init(&run.hosts, run.o.to, run.o.nto, run.remote) < 0) {
        r = ctl_fail(ctx, CTL_EXIT_FAILED, "out of memory");
        goto out;
    }
    if (run.o.relay && dist_relay_plan(&run) < 0) {
        r = ctl_usage("distribute", "--relay-group '%s' is not scheme://host:port/name",
                      run.o.relay_group);
        goto out;
    }
    run.t0 = ctl_now();
    dist_start(&run);
    if (run.o.relay)
        dist_relay_setup(&run);
    dist_follow(&run);
    for (size_t i = 0; i < run.hosts.n; i++)
        if (run.hosts.v[i].phase != DIST_DONE)
            ok = false;
    dist_report(&run, ctl_now() - run.t0, ok);
    r = ok ? CTL_EXIT_OK : CTL_EXIT_FAILED;

out:
    if (dist_relay_unpublish(&run) < 0 && r == CTL_EXIT_OK)
        r = CTL_EXIT_FAILED;
    if (dist_unpublish(&run) < 0 && r == CTL_EXIT_OK)
        r = CTL_EXIT_FAILED;
    dist_run_done(&run);
    return r;
}
