/*
 * control/cli/ctl_distribute.c - `ferryctl distribute`: publish one file on a server host,
 * create a job on every client host, follow them all with one display, complete each job
 * when it is TRANSFERRED, report per-host figures, unpublish. Hosts are independent: one
 * failing is reported and the others go on.
 */
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "ctl_cmd.h"
#include "ctl_progress.h"
#include "wsman_names.h"

/* Client endpoints one run accepts. */
#define DIST_MAX_HOSTS 256
/* How long a host may stay unreachable (an agent restarting) before it counts as failed. */
#define DIST_RECONNECT_S 60.0
/* How long distribute waits for the server's chunk manifest of the published file (s). */
#define DIST_MANIFEST_WAIT 300.0
/* Without a terminal, one status block at most this often (s). */
#define DIST_PLAIN_PERIOD 5.0

enum dist_phase {
    DIST_RUNNING = 0,
    DIST_DONE,
    DIST_FAILED,
};

struct dist_host {
    char *endpoint;
    struct ctl_session *s;
    char *job_id;
    enum dist_phase phase;
    struct ctl_job_status st;
    struct ctl_rate rate;
    double t_done;          /* s since start when completed */
    double down_since;      /* s since start of the current outage, < 0 when reachable */
    char error[600];
};

struct dist_opts {
    const char *server, *source, *group, *dest;
    bool keep;
    int priority;
    double interval;
    char *to[DIST_MAX_HOSTS];
    size_t nto;
    char *to_storage[DIST_MAX_HOSTS];
    size_t nstorage;
};

static int
dist_opt(int c, const char *arg, void *data)
{
    struct dist_opts *o = data;
    unsigned p;
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
    case 'k':
        o->keep = true;
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

/* host[:port] of an http(s) URL into buf ("" when it has none). */
static void
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

/* The URL clients fetch: the group prefix with a wildcard host (+ or *) replaced by the
 * server endpoint's host, then "/" + suffix. */
static int
dist_remote_url(const char *group, const char *server, const char *suffix, char **ret)
{
    const char *p = strstr(group, "://"), *host, *rest;
    char hostport[512], shost[512], *colon;
    const char *port;

    if (!p)
        return -EINVAL;
    host = p + 3;
    rest = host + strcspn(host, "/");
    if ((size_t)(rest - host) >= sizeof(hostport))
        return -EINVAL;
    memcpy(hostport, host, (size_t)(rest - host));
    hostport[rest - host] = '\0';
    if (hostport[0] != '+' && hostport[0] != '*')
        return asprintf(ret, "%s/%s", group, suffix) < 0 ? -ENOMEM : 0;
    port = hostport + 1; /* ":8080" or "" */
    dist_url_host(server, shost, sizeof(shost));
    /* drop the endpoint's port; IPv6 literals keep their brackets */
    colon = strrchr(shost, ':');
    if (colon && !strchr(colon, ']'))
        *colon = '\0';
    return asprintf(ret, "%.*s%s%s%s/%s", (int)(host - group), group, shost, port, rest,
                    suffix) < 0
               ? -ENOMEM
               : 0;
}

/*
 * Wait until the server reports the chunk manifest of prefix/suffix ready (the URL's
 * ManifestReady in the group instance), so clients skip all-zero chunks from the start.
 * Servers that do not report it (or fault the Get) are not waited for. 0, or the session
 * error of a transport failure.
 */
static int
dist_wait_manifest(struct ctl_ctx *ctx, struct ctl_session *s, const char *prefix,
                   const char *suffix, double interval)
{
    struct ctl_pair sel = {"UrlGroup", prefix};
    double t0 = ctl_now();
    bool told = false;

    for (;;) {
        struct ctl_response *resp = NULL;
        const struct ctl_instance *g;
        const char *ready = NULL;
        int r;

        r = ctl_session_get(s, WSMAN_URI_BITS_URL_GROUP, &sel, 1, &resp);
        if (r == -EREMOTEIO)
            return 0; /* an endpoint without Get on groups: nothing to wait for */
        if (r < 0)
            return r;
        g = resp->instances[0];
        for (size_t i = 0; i < g->nprops; i++) {
            const struct ctl_instance *u = g->props[i].nested;
            const char *sfx = u ? ctl_instance_get(u, "UrlSuffix") : NULL;

            if (sfx && strcmp(sfx, suffix) == 0)
                ready = ctl_instance_get(u, "ManifestReady");
        }
        r = !ready || ctl_parse_bool(ready);
        ctl_response_free(resp);
        if (r)
            return 0;
        if (ctl_now() - t0 > DIST_MANIFEST_WAIT) {
            fprintf(stderr, "ferryctl: the server's manifest is not ready after %.0f s; "
                            "starting anyway\n", DIST_MANIFEST_WAIT);
            return 0;
        }
        if (!told && !ctx->json) {
            printf("waiting for the server's chunk manifest of %s\n", suffix);
            told = true;
        }
        ctl_sleep(interval);
    }
}

static void
dist_host_fail(struct dist_host *h, const char *what, const char *msg)
{
    h->phase = DIST_FAILED;
    snprintf(h->error, sizeof(h->error), "%.60s: %.520s", what, msg);
}

/* Create the job on one client. */
static void
dist_host_start(struct ctl_ctx *ctx, struct dist_host *h, const char *remote_url,
                const char *local_file, const char *display_name, int priority)
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
    params[1] = (struct ctl_pair){"RemoteUrl", remote_url};
    params[2] = (struct ctl_pair){"LocalFile", local_file};
    params[3] = (struct ctl_pair){"Suspend", priority >= 0 ? "true" : "false"};
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
        struct ctl_pair sel = {"JobId", h->job_id};
        struct ctl_response *got = NULL, *put = NULL;
        char num[16];
        xmlNode *inst;

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
        if (r < 0) {
            dist_host_fail(h, "set priority", h->s->message[0] ? h->s->message : "failed");
            return;
        }
        r = ctl_job_set_state(h->s, h->job_id, 2);
        if (r < 0) {
            dist_host_fail(h, "resume", h->s->message);
            return;
        }
    }
    ctl_rate_init(&h->rate, 3.0);
    h->down_since = -1;
}

static void
dist_host_poll(struct dist_host *h, double t)
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

static double
dist_host_seconds(const struct dist_host *h)
{
    const struct ctl_job_status *st = &h->st;

    /* the job's own clock when the daemon reports both times */
    if (st->creation_time && st->completion_time > st->creation_time)
        return (double)(st->completion_time - st->creation_time) / 1e7;
    return h->t_done;
}

static void
dist_host_line(const struct dist_host *h, unsigned width, char *buf, size_t len)
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

/* One block: a line per host and a total line. */
static void
dist_display(struct dist_host *hosts, size_t n, bool live, unsigned *drawn, double t)
{
    uint64_t done = 0, total = 0;
    double rate = 0;
    bool total_known = true;
    unsigned width = live ? 100 : 0;
    char line[512], tl[256];

    if (live) {
        struct winsize ws;

        if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 30)
            width = ws.ws_col - 1;
        if (*drawn)
            printf("\033[%uA", *drawn);
    }
    for (size_t i = 0; i < n; i++) {
        dist_host_line(&hosts[i], width, line, sizeof(line));
        printf("%s%s\n", line, live ? "\033[K" : "");
        if (hosts[i].phase == DIST_FAILED)
            continue;
        done += hosts[i].st.bytes_transferred;
        if (hosts[i].st.bytes_total == CTL_SIZE_UNKNOWN)
            total_known = false;
        else
            total += hosts[i].st.bytes_total;
        if (hosts[i].phase == DIST_RUNNING && hosts[i].rate.has_rate)
            rate += hosts[i].rate.rate;
    }
    ctl_progress_line(tl, sizeof(tl), width > 24 ? width - 22 : 0, "", done,
                      total_known ? total : CTL_SIZE_UNKNOWN, rate);
    snprintf(line, sizeof(line), "%-21s %s %.0fs", "total", tl, t);
    printf("%s%s\n", line, live ? "\033[K" : "");
    if (!live)
        printf("\n");
    fflush(stdout);
    *drawn = (unsigned)n + 1;
}

static void
dist_report(struct ctl_ctx *ctx, struct dist_host *hosts, size_t n, const char *url,
            double elapsed, bool ok)
{
    char b1[32], b2[32], host[64];

    if (ctx->json) {
        struct ctl_json *j = &ctx->js;

        ctl_json_begin_object(j);
        ctl_json_key(j, "Url");
        ctl_json_string(j, url);
        ctl_json_key(j, "ok");
        ctl_json_bool(j, ok);
        ctl_json_key(j, "Seconds");
        ctl_json_double(j, elapsed);
        ctl_json_key(j, "hosts");
        ctl_json_begin_array(j);
        for (size_t i = 0; i < n; i++) {
            const struct dist_host *h = &hosts[i];
            double secs = dist_host_seconds(h);

            ctl_json_begin_object(j);
            ctl_json_key(j, "endpoint");
            ctl_json_string(j, h->endpoint);
            ctl_json_key(j, "JobId");
            ctl_json_string(j, h->job_id);
            ctl_json_key(j, "ok");
            ctl_json_bool(j, h->phase == DIST_DONE);
            ctl_json_key(j, "State");
            ctl_json_string(j, h->phase == DIST_FAILED ? "FAILED"
                                                       : ctl_state_name(h->st.state));
            ctl_json_key(j, "Bytes");
            ctl_json_u64(j, h->st.bytes_transferred);
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
        return;
    }
    printf("%-21s %-13s %10s %12s %14s\n", "HOST", "RESULT", "TIME", "BYTES", "THROUGHPUT");
    for (size_t i = 0; i < n; i++) {
        const struct dist_host *h = &hosts[i];
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
    printf("%s in %.2f s: %s\n", url, elapsed, ok ? "every host has the file"
                                                 : "at least one host failed");
}

int
ctl_cmd_distribute(struct ctl_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"server", required_argument, NULL, 's'},
        {"source", required_argument, NULL, 'S'},
        {"group", required_argument, NULL, 'g'},
        {"to", required_argument, NULL, 't'},
        {"dest", required_argument, NULL, 'd'},
        {"keep", no_argument, NULL, 'k'},
        {"priority", required_argument, NULL, 'p'},
        {"interval", required_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct dist_opts o;
    struct dist_host *hosts = NULL;
    struct ctl_session *srv = NULL;
    struct ctl_response *resp = NULL;
    struct ctl_pair sel, params[3];
    char *src_copy = NULL, *suffix, *remote = NULL, *local = NULL, *display = NULL;
    char *published = NULL;
    double t0, last_plain = -1e9;
    unsigned drawn = 0;
    size_t running;
    bool ok = true, live, unpublish = false;
    int r;

    memset(&o, 0, sizeof(o));
    o.priority = -1;
    o.interval = 0.5;
    r = ctl_args("distribute", argc, argv, opts, 0, NULL, dist_opt, &o);
    if (r != 0) {
        r = r == CTL_ARGS_HELP ? CTL_EXIT_OK : r;
        goto out;
    }
    if (!o.server || !o.source || !o.group || !o.dest || o.nto == 0) {
        r = ctl_usage("distribute", "--server, --source, --group, --to and --dest are "
                                    "required");
        goto out;
    }
    src_copy = strdup(o.source);
    if (!src_copy) {
        r = ctl_fail(ctx, CTL_EXIT_FAILED, "out of memory");
        goto out;
    }
    suffix = basename(src_copy);
    if (!*suffix || strcmp(suffix, "/") == 0 || strcmp(suffix, ".") == 0) {
        r = ctl_usage("distribute", "--source '%s' names no file", o.source);
        goto out;
    }
    if (dist_remote_url(o.group, o.server, suffix, &remote) < 0) {
        r = ctl_usage("distribute", "--group '%s' is not scheme://host:port/name", o.group);
        goto out;
    }
    if (asprintf(&published, "%s/%s", o.group, suffix) < 0 ||
        asprintf(&display, "ferry distribute %s", suffix) < 0 ||
        asprintf(&local, "%s%s", o.dest,
                 o.dest[strlen(o.dest) - 1] == '/' ? suffix : "") < 0) {
        r = ctl_fail(ctx, CTL_EXIT_FAILED, "out of memory");
        goto out;
    }

    /* 1. publish (CreateUrl creates the group when it is missing) */
    r = ctl_ctx_session(ctx, o.server, &srv);
    if (r < 0) {
        r = -r;
        goto out;
    }
    sel = (struct ctl_pair){"UrlGroup", o.group};
    params[0] = (struct ctl_pair){"UrlGroup", o.group};
    r = ctl_session_invoke(srv, WSMAN_URI_BITS_URL_GROUP, "CreateUrlGroup", NULL, 0, params,
                           1, &resp);
    resp = ctl_response_free(resp);
    if (r < 0 && ctl_session_exit_code(r) == CTL_EXIT_CONNECT) {
        r = ctl_report(ctx, srv, r);
        goto out;
    }
    /* an existing group is fine: CreateUrl below reports real problems */
    params[0] = (struct ctl_pair){"UrlSuffix", suffix};
    params[1] = (struct ctl_pair){"SourceFilePath", o.source};
    params[2] = (struct ctl_pair){"SDDLAuth", CTL_DEFAULT_RULE};
    r = ctl_session_invoke(srv, WSMAN_URI_BITS_URL_GROUP, "CreateUrl", &sel, 1, params, 3,
                           &resp);
    resp = ctl_response_free(resp);
    if (r < 0) {
        /* published by an earlier run (--keep): replace it so the source is this one */
        struct ctl_response *chk = NULL;
        bool exists = false;

        if (ctl_session_invoke(srv, WSMAN_URI_BITS_URL_GROUP, "CheckUrl", &sel, 1, params, 1,
                               &chk) == 0)
            exists = ctl_parse_bool(ctl_instance_get(chk->instances[0], "UrlExists"));
        ctl_response_free(chk);
        if (exists) {
            fprintf(stderr, "ferryctl: %s was already published; replacing it\n", published);
            if (ctl_session_invoke(srv, WSMAN_URI_BITS_URL_GROUP, "DeleteUrl", &sel, 1, params,
                                   1, &chk) == 0)
                chk = ctl_response_free(chk);
            r = ctl_session_invoke(srv, WSMAN_URI_BITS_URL_GROUP, "CreateUrl", &sel, 1,
                                   params, 3, &resp);
            resp = ctl_response_free(resp);
        }
        if (r < 0) {
            r = ctl_report(ctx, srv, r);
            goto out;
        }
    }
    unpublish = !o.keep;
    if (!ctx->json)
        printf("published %s (clients fetch %s)\n", published, remote);
    r = dist_wait_manifest(ctx, srv, o.group, suffix, o.interval);
    if (r < 0) {
        r = ctl_report(ctx, srv, r);
        goto out;
    }

    /* 2. a job on every client */
    hosts = calloc(o.nto, sizeof(*hosts));
    if (!hosts) {
        r = ctl_fail(ctx, CTL_EXIT_FAILED, "out of memory");
        goto out;
    }
    t0 = ctl_now();
    for (size_t i = 0; i < o.nto; i++) {
        hosts[i].endpoint = o.to[i];
        dist_host_start(ctx, &hosts[i], remote, local, display, o.priority);
        if (hosts[i].phase == DIST_FAILED)
            fprintf(stderr, "ferryctl: %s: %s\n", hosts[i].endpoint, hosts[i].error);
    }

    /* 3. follow them all */
    live = ctx->tty && !ctx->json;
    if (live)
        ctl_live_begin();
    for (;;) {
        double t = ctl_now() - t0;

        running = 0;
        for (size_t i = 0; i < o.nto; i++) {
            dist_host_poll(&hosts[i], t);
            if (hosts[i].phase == DIST_RUNNING)
                running++;
        }
        if (!ctx->json && (live || t - last_plain >= DIST_PLAIN_PERIOD || running == 0)) {
            dist_display(hosts, o.nto, live, &drawn, t);
            last_plain = t;
        }
        if (running == 0)
            break;
        ctl_sleep(o.interval);
    }

    /* 4. report, unpublish */
    for (size_t i = 0; i < o.nto; i++)
        if (hosts[i].phase != DIST_DONE)
            ok = false;
    dist_report(ctx, hosts, o.nto, remote, ctl_now() - t0, ok);
    r = ok ? CTL_EXIT_OK : CTL_EXIT_FAILED;

out:
    if (unpublish) {
        int d = ctl_session_invoke(srv, WSMAN_URI_BITS_URL_GROUP, "DeleteUrl", &sel, 1, params,
                                   1, &resp);

        resp = ctl_response_free(resp);
        if (d < 0) {
            fprintf(stderr, "ferryctl: could not unpublish %s: %s\n", published, srv->message);
            if (r == CTL_EXIT_OK)
                r = CTL_EXIT_FAILED;
        }
    }
    for (size_t i = 0; hosts && i < o.nto; i++) {
        ctl_session_free(hosts[i].s);
        free(hosts[i].job_id);
    }
    free(hosts);
    ctl_session_free(srv);
    free(src_copy);
    free(remote);
    free(local);
    free(display);
    free(published);
    for (size_t i = 0; i < o.nstorage; i++)
        free(o.to_storage[i]);
    return r;
}
