/*
 * ctl_dist_publish.c - step 1 of `ferryctl distribute`: publish the source file on the
 * server host (CreateUrl, creating the group when missing, replacing an earlier
 * publication of the same name) and wait for the server's chunk manifest of it; the URL
 * clients fetch, directly or through a cache (--via).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_dist.h"
#include "wsman_names.h"

/*
 * The URL clients fetch for group/suffix as published on the server endpoint. See
 * ctl_dist.h.
 */
int
dist_publish_url(const char *group, const char *server, const char *suffix, char **ret)
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
 * The URL clients fetch through a cache. See ctl_dist.h.
 */
int
dist_via_url(const char *via, const char *url, char **ret)
{
    const char *vp = strstr(via, "://"), *up = strstr(url, "://"), *path, *vpath;
    size_t vlen;

    *ret = NULL;
    if (!vp || vp == via || !up || up == url || !vp[3] || vp[3] == '/')
        return -EINVAL;
    /* no path of its own: the server's Link header names the Metalink by an absolute
     * path, which must reach the same cache and the same origin path */
    vpath = vp + 3 + strcspn(vp + 3, "/?#");
    if (*vpath && strcmp(vpath, "/") != 0)
        return -EINVAL;
    path = up + 3 + strcspn(up + 3, "/");
    vlen = (size_t)(vpath - via);
    return asprintf(ret, "%.*s%s", (int)vlen, via, *path ? path : "/") < 0 ? -ENOMEM : 0;
}

/*
 * Wait until the server reports the chunk manifest of prefix/suffix ready (the URL's
 * ManifestReady in the group instance), so clients skip all-zero chunks from the start.
 * Servers that do not report it (or fault the Get) are not waited for. 0, or the session
 * error of a transport failure.
 */
static int
publish_wait_manifest(struct ctl_ctx *ctx, struct ctl_session *s, const char *prefix,
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

/*
 * CreateUrl of run->suffix in the group; when that fails because an earlier run (--keep)
 * published the same name, delete and create it again so the source is this one. 0 or the
 * session error (the session's message says why).
 */
static int
publish_url(struct dist_run *run)
{
    struct ctl_session *srv = run->srv;
    struct ctl_pair sel = {"UrlGroup", run->o.group};
    struct ctl_pair params[3] = {
        {"UrlSuffix", run->suffix},
        {"SourceFilePath", run->o.source},
        {"SDDLAuth", CTL_DEFAULT_RULE},
    };
    struct ctl_response *resp = NULL, *chk = NULL;
    bool exists = false;
    int r;

    r = ctl_session_invoke(srv, WSMAN_URI_BITS_URL_GROUP, "CreateUrl", &sel, 1, params, 3,
                           &resp);
    ctl_response_free(resp);
    if (r == 0)
        return 0;
    if (ctl_session_invoke(srv, WSMAN_URI_BITS_URL_GROUP, "CheckUrl", &sel, 1, params, 1,
                           &chk) == 0)
        exists = ctl_parse_bool(ctl_instance_get(chk->instances[0], "UrlExists"));
    chk = ctl_response_free(chk);
    if (!exists)
        return r;
    fprintf(stderr, "ferryctl: %s was already published; replacing it\n", run->published);
    if (ctl_session_invoke(srv, WSMAN_URI_BITS_URL_GROUP, "DeleteUrl", &sel, 1, params, 1,
                           &chk) == 0)
        chk = ctl_response_free(chk);
    resp = NULL;
    r = ctl_session_invoke(srv, WSMAN_URI_BITS_URL_GROUP, "CreateUrl", &sel, 1, params, 3,
                           &resp);
    ctl_response_free(resp);
    return r;
}

/*
 * Step 1. See ctl_dist.h.
 */
int
dist_publish(struct dist_run *run)
{
    struct ctl_ctx *ctx = run->ctx;
    struct ctl_response *resp = NULL;
    struct ctl_pair params[1] = {{"UrlGroup", run->o.group}};
    int r;

    r = ctl_ctx_session(ctx, run->o.server, &run->srv);
    if (r < 0)
        return -r;
    /* CreateUrl creates the group when it is missing; an existing group is fine too:
     * CreateUrl below reports real problems */
    r = ctl_session_invoke(run->srv, WSMAN_URI_BITS_URL_GROUP, "CreateUrlGroup", NULL, 0,
                           params, 1, &resp);
    ctl_response_free(resp);
    if (r < 0 && ctl_session_exit_code(r) == CTL_EXIT_CONNECT)
        return ctl_report(ctx, run->srv, r);
    r = publish_url(run);
    if (r < 0)
        return ctl_report(ctx, run->srv, r);
    run->unpublish = !run->o.keep;
    if (!ctx->json)
        printf("published %s (clients fetch %s)\n", run->published, run->remote);
    r = publish_wait_manifest(ctx, run->srv, run->o.group, run->suffix, run->o.interval);
    if (r < 0)
        return ctl_report(ctx, run->srv, r);
    return 0;
}
