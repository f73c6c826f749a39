/*
 * control/cli/ctl_cmd_server.c - `ferryctl identify`, `group ...` and `url ...`: Identify
 * and the BitsCompactServerUrlGroup class (CreateUrlGroup, DeleteUrlGroup, CreateUrl,
 * DeleteUrl, CheckUrl, Enumerate).
 */
#include <stdlib.h>
#include <string.h>

#include "ctl_cmd.h"
#include "wsman_names.h"

#define GROUP_URI WSMAN_URI_BITS_URL_GROUP

static const struct option server_no_opts[] = {
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static void
server_json_result(struct ctl_ctx *ctx, const struct ctl_pair *fields, size_t n,
                   const char *bool_name, int bool_value)
{
    ctl_json_begin_object(&ctx->js);
    for (size_t i = 0; i < n; i++) {
        ctl_json_key(&ctx->js, fields[i].name);
        ctl_json_string(&ctx->js, fields[i].value);
    }
    if (bool_name) {
        ctl_json_key(&ctx->js, bool_name);
        ctl_json_bool(&ctx->js, bool_value);
    }
    ctl_json_key(&ctx->js, "ReturnValue");
    ctl_json_u64(&ctx->js, 0);
    ctl_json_end_object(&ctx->js);
    ctl_json_end(&ctx->js);
}

int
ctl_cmd_identify(struct ctl_ctx *ctx, int argc, char **argv)
{
    struct ctl_session *s = NULL;
    struct ctl_response *resp = NULL;
    int r;

    r = ctl_args("identify", argc, argv, server_no_opts, 0, NULL, NULL, NULL);
    if (r != 0)
        return r == CTL_ARGS_HELP ? CTL_EXIT_OK : r;
    r = ctl_ctx_session(ctx, NULL, &s);
    if (r < 0)
        return -r;
    r = ctl_session_identify(s, &resp);
    return ctl_show_one(ctx, s, r, resp);
}

/* Invoke a group method; selector UrlGroup unless static. */
static int
server_invoke(struct ctl_ctx *ctx, const char *prefix, bool is_static, const char *method,
              const struct ctl_pair *params, size_t nparams, struct ctl_response **ret)
{
    struct ctl_session *s = NULL;
    struct ctl_pair sel = {"UrlGroup", prefix};
    int r;

    r = ctl_ctx_session(ctx, NULL, &s);
    if (r < 0)
        return -r;
    r = ctl_session_invoke(s, GROUP_URI, method, is_static ? NULL : &sel, is_static ? 0 : 1,
                           params, nparams, ret);
    if (r < 0)
        r = ctl_report(ctx, s, r);
    ctl_session_free(s);
    return r;
}

static int
group_list(struct ctl_ctx *ctx, int argc, char **argv)
{
    return ctl_list(ctx, "group list", argc, argv, GROUP_URI, NULL, NULL);
}

int
ctl_cmd_group(struct ctl_ctx *ctx, int argc, char **argv)
{
    struct ctl_response *resp = NULL;
    struct ctl_pair param;
    const char *sub;
    char *pos[1];
    bool create;
    int r;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        ctl_help(argc < 2 ? stderr : stdout, "group");
        return argc < 2 ? CTL_EXIT_USAGE : CTL_EXIT_OK;
    }
    sub = argv[1];
    argc--;
    argv++;
    if (strcmp(sub, "list") == 0)
        return group_list(ctx, argc, argv);
    if (strcmp(sub, "create") != 0 && strcmp(sub, "delete") != 0)
        return ctl_usage("group", "unknown group command '%s'", sub);
    create = strcmp(sub, "create") == 0;
    r = ctl_args(create ? "group create" : "group delete", argc, argv, server_no_opts, 1, pos,
                 NULL, NULL);
    if (r != 0)
        return r == CTL_ARGS_HELP ? CTL_EXIT_OK : r;
    param = (struct ctl_pair){"UrlGroup", pos[0]};
    r = server_invoke(ctx, pos[0], create, create ? "CreateUrlGroup" : "DeleteUrlGroup",
                      &param, 1, &resp);
    if (r != 0)
        return r;
    ctl_response_free(resp);
    if (ctx->json)
        server_json_result(ctx, &param, 1, NULL, 0);
    return CTL_EXIT_OK;
}

struct url_publish_opts {
    const char *rule;
};

static int
url_publish_opt(int c, const char *arg, void *data)
{
    struct url_publish_opts *o = data;

    if (c != 'r')
        return CTL_EXIT_USAGE;
    o->rule = arg;
    return 0;
}

int
ctl_cmd_url(struct ctl_ctx *ctx, int argc, char **argv)
{
    static const struct option publish_opts[] = {
        {"rule", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct url_publish_opts o = {CTL_DEFAULT_RULE};
    struct ctl_response *resp = NULL;
    struct ctl_pair params[3], out[3];
    const char *sub;
    char *pos[3], full[1200];
    int r;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        ctl_help(argc < 2 ? stderr : stdout, "url");
        return argc < 2 ? CTL_EXIT_USAGE : CTL_EXIT_OK;
    }
    sub = argv[1];
    argc--;
    argv++;
    if (strcmp(sub, "publish") == 0) {
        r = ctl_args("url publish", argc, argv, publish_opts, 3, pos, url_publish_opt, &o);
        if (r != 0)
            return r == CTL_ARGS_HELP ? CTL_EXIT_OK : r;
        params[0] = (struct ctl_pair){"UrlSuffix", pos[1]};
        params[1] = (struct ctl_pair){"SourceFilePath", pos[2]};
        params[2] = (struct ctl_pair){"SDDLAuth", o.rule};
        r = server_invoke(ctx, pos[0], false, "CreateUrl", params, 3, &resp);
        if (r != 0)
            return r;
        ctl_response_free(resp);
        snprintf(full, sizeof(full), "%s/%s", pos[0], pos[1]);
        if (ctx->json) {
            out[0] = (struct ctl_pair){"Url", full};
            out[1] = (struct ctl_pair){"UrlGroup", pos[0]};
            out[2] = (struct ctl_pair){"SourceFilePath", pos[2]};
            server_json_result(ctx, out, 3, NULL, 0);
        } else {
            printf("%s\n", full);
        }
        return CTL_EXIT_OK;
    }
    if (strcmp(sub, "delete") == 0 || strcmp(sub, "check") == 0) {
        bool check = strcmp(sub, "check") == 0;
        bool exists = false;

        r = ctl_args(check ? "url check" : "url delete", argc, argv, server_no_opts, 2, pos,
                     NULL, NULL);
        if (r != 0)
            return r == CTL_ARGS_HELP ? CTL_EXIT_OK : r;
        params[0] = (struct ctl_pair){"UrlSuffix", pos[1]};
        r = server_invoke(ctx, pos[0], false, check ? "CheckUrl" : "DeleteUrl", params, 1,
                          &resp);
        if (r != 0)
            return r;
        if (check) {
            const char *v = ctl_instance_get(resp->instances[0], "UrlExists");

            if (!v) {
                ctl_response_free(resp);
                return ctl_fail(ctx, CTL_EXIT_FAILED, "CheckUrl returned no UrlExists");
            }
            exists = ctl_parse_bool(v);
        }
        ctl_response_free(resp);
        snprintf(full, sizeof(full), "%s/%s", pos[0], pos[1]);
        out[0] = (struct ctl_pair){"Url", full};
        if (ctx->json)
            server_json_result(ctx, out, 1, check ? "UrlExists" : NULL, exists);
        else if (check)
            printf("%s %s\n", full, exists ? "exists" : "does not exist");
        return CTL_EXIT_OK;
    }
    return ctl_usage("url", "unknown url command '%s'", sub);
}
