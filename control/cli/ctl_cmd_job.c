/*
 * control/cli/ctl_cmd_job.c - `ferryctl job ...`: BitsClientJob through CreateJob, AddFile,
 * Enumerate, Get, Put (Set-WSManInstance style), SetJobState, GetError, and `job wait`.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "ctl_cmd.h"
#include "ctl_progress.h"
#include "ferry/common.h"
#include "ferry/jobs.h"
#include "wsman_names.h"

#define JOB_URI WSMAN_URI_BITS_CLIENT_JOB
/* Without a terminal, one progress line at most this often (s). */
#define JOB_PLAIN_PERIOD 5.0
/* How long `job wait` keeps polling through connection failures (a daemon restarting:
 * the job persists and resumes), in seconds. */
#define JOB_WAIT_RECONNECT_S 60.0

static int
job_state_of(const struct ctl_instance *inst, unsigned *ret)
{
    uint64_t v;
    int r = ctl_instance_get_u64(inst, "State", &v);

    if (r < 0 || v > 1000)
        return -EBADMSG;
    *ret = (unsigned)v;
    return 0;
}

int
ctl_job_status_read(const struct ctl_instance *inst, struct ctl_job_status *ret)
{
    struct ctl_job_status st = {0};
    int r;

    r = job_state_of(inst, &st.state);
    if (r < 0)
        return r;
    if (ctl_instance_get_u64(inst, "BytesTotal", &st.bytes_total) < 0)
        st.bytes_total = CTL_SIZE_UNKNOWN;
    if (ctl_instance_get_u64(inst, "BytesTransferred", &st.bytes_transferred) < 0)
        st.bytes_transferred = 0;
    if (ctl_instance_get_u64(inst, "JobCreationTime", &st.creation_time) < 0)
        st.creation_time = 0;
    if (ctl_instance_get_u64(inst, "JobCompletionTime", &st.completion_time) < 0)
        st.completion_time = 0;
    if (ctl_instance_get_u64(inst, "BytesFromOrigin", &st.from_origin) < 0)
        st.from_origin = 0;
    if (ctl_instance_get_u64(inst, "BytesFromPeers", &st.from_peers) < 0)
        st.from_peers = 0;
    *ret = st;
    return 0;
}

int
ctl_job_set_state(struct ctl_session *s, const char *job_id, unsigned action)
{
    struct ctl_pair sel = {"JobId", job_id};
    char num[16];
    struct ctl_pair param = {"JobState", num};
    struct ctl_response *resp = NULL;
    int r;

    snprintf(num, sizeof(num), "%u", action);
    r = ctl_session_invoke(s, JOB_URI, "SetJobState", &sel, 1, &param, 1, &resp);
    ctl_response_free(resp);
    return r;
}

static int
job_get_error(struct ctl_session *s, const char *job_id, struct ctl_response **ret)
{
    struct ctl_pair sel = {"JobId", job_id};
    struct ctl_pair param = {"LanguageId", "1033"};

    return ctl_session_invoke(s, JOB_URI, "GetError", &sel, 1, &param, 1, ret);
}

static void
job_error_format(const struct ctl_instance *out, char *buf, size_t len)
{
    uint64_t code = 0, context = 0;
    const char *cd = ctl_instance_get(out, "ContextDescription");
    const char *ed = ctl_instance_get(out, "ErrorDescription");
    const char *name;

    ctl_instance_get_u64(out, "ErrorCode", &code);
    ctl_instance_get_u64(out, "ErrorContext", &context);
    name = ctl_result_name((uint32_t)code);
    snprintf(buf, len, "error 0x%08llX%s%s in context %llu%s%s%s: %s",
             (unsigned long long)code, name ? " " : "", name ? name : "",
             (unsigned long long)context, cd ? " (" : "", cd ? cd : "", cd ? ")" : "",
             ed ? ed : "(no description)");
}

int
ctl_job_error_line(struct ctl_session *s, const char *job_id, char *buf, size_t len)
{
    struct ctl_response *resp = NULL;
    int r = job_get_error(s, job_id, &resp);

    if (r < 0)
        return r;
    job_error_format(resp->instances[0], buf, len);
    ctl_response_free(resp);
    return 0;
}

static const struct option job_no_opts[] = {
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Get + modify + Put. props: name/value pairs to set. */
static int
job_put_props(struct ctl_ctx *ctx, struct ctl_session *s, const char *id,
              const struct ctl_pair *props, size_t nprops, bool print)
{
    struct ctl_pair sel = {"JobId", id};
    struct ctl_response *resp = NULL, *put = NULL;
    xmlNode *inst;
    int r;

    r = ctl_session_get(s, JOB_URI, &sel, 1, &resp);
    if (r < 0)
        return ctl_report(ctx, s, r);
    inst = ctl_response_instance_node(resp);
    if (!inst) {
        ctl_response_free(resp);
        return ctl_fail(ctx, CTL_EXIT_FAILED, "the Get response holds no instance");
    }
    for (size_t i = 0; i < nprops; i++) {
        r = ctl_envelope_set_property(inst, props[i].name, props[i].value);
        if (r < 0) {
            ctl_response_free(resp);
            return ctl_fail(ctx, CTL_EXIT_FAILED, "cannot set property '%s' in the instance",
                            props[i].name);
        }
    }
    r = ctl_session_put(s, JOB_URI, &sel, 1, inst, &put);
    ctl_response_free(resp);
    if (r < 0)
        return ctl_report(ctx, s, r);
    if (print) {
        const struct ctl_instance *shown = put->ninstances ? put->instances[0] : NULL;
        struct ctl_response *again = NULL;

        if (!shown) {
            r = ctl_session_get(s, JOB_URI, &sel, 1, &again);
            if (r < 0) {
                ctl_response_free(put);
                return ctl_report(ctx, s, r);
            }
            shown = again->instances[0];
        }
        if (ctx->json) {
            ctl_json_instance(&ctx->js, shown);
            ctl_json_end(&ctx->js);
        } else {
            ctl_print_instance(stdout, shown, 0);
        }
        ctl_response_free(again);
    }
    ctl_response_free(put);
    return CTL_EXIT_OK;
}

/* --notify-cmd, --notify-url, --notify-flags of `job create` and `job set`. */
struct job_notify_opts {
    const char *cmd;     /* "PROG ARG..." (split here and by ferryd), "" clears */
    const char *url;     /* "" clears */
    char flags[16];      /* "" = not given */
};

/* Parse one of the notify options into o; 1 when c is not one, 0, or a usage exit. */
static int
job_notify_opt(const char *cmd, struct job_notify_opts *o, int c, const char *arg)
{
    uint64_t v;

    switch (c) {
    case 'C': {
        char **argv = NULL;
        size_t argc = 0;
        int r = ferry_cmdline_split(arg, &argv, &argc);
        bool abs = r == 0 && argc > 0 && argv[0][0] == '/';

        ferry_cmdline_free(argv, argc);
        if (r == 0 && argc == 0 && *arg)
            return ctl_usage(cmd, "--notify-cmd has no words (use '' to clear it)");
        if (r < 0 || (argc > 0 && !abs))
            return ctl_usage(cmd, "--notify-cmd '%s' is not 'PROGRAM ARG...' with an absolute "
                             "PROGRAM (words, '...', \"...\", backslash; no shell)", arg);
        o->cmd = arg;
        return 0;
    }
    case 'U':
        o->url = arg;
        return 0;
    case 'F':
        if (ctl_parse_u64(arg, FERRY_NOTIFY_ALL_FLAGS, &v) < 0)
            return ctl_usage(cmd, "--notify-flags '%s' is not 0..31 (1 transferred, 2 error, "
                             "4 disable, 8 modification, 16 file transferred)", arg);
        snprintf(o->flags, sizeof(o->flags), "%llu", (unsigned long long)v);
        return 0;
    }
    return 1;
}

/* SetNotifyCmdLine for --notify-cmd: Program is its first word, Parameters the whole line
 * (ferryd splits it again into the argv). */
static int
job_notify_cmd_apply(struct ctl_ctx *ctx, struct ctl_session *s, const char *id,
                     const char *cmd)
{
    struct ctl_pair sel = {"JobId", id}, params[2];
    struct ctl_response *resp = NULL;
    char **argv = NULL;
    size_t argc = 0, np = 0;
    int r;

    if (ferry_cmdline_split(cmd, &argv, &argc) < 0)
        return ctl_fail(ctx, CTL_EXIT_USAGE, "--notify-cmd '%s' is not valid", cmd);
    params[np++] = (struct ctl_pair){"Program", argc ? argv[0] : ""};
    if (argc)
        params[np++] = (struct ctl_pair){"Parameters", cmd};
    r = ctl_session_invoke(s, JOB_URI, "SetNotifyCmdLine", &sel, 1, params, np, &resp);
    ferry_cmdline_free(argv, argc);
    ctl_response_free(resp);
    if (r < 0)
        return ctl_report(ctx, s, r);
    return CTL_EXIT_OK;
}

/* The Put properties of the notify options; returns how many were added to props. */
static size_t
job_notify_props(const struct job_notify_opts *o, struct ctl_pair *props)
{
    size_t n = 0;

    if (o->url)
        props[n++] = (struct ctl_pair){"NotifyUrl", o->url};
    if (o->flags[0])
        props[n++] = (struct ctl_pair){"NotifyFlags", o->flags};
    return n;
}

struct job_create_opts {
    bool suspended;
    const char *description;
    int priority;
    struct job_notify_opts notify;
    bool upload;            /* --upload: Type 1, LOCALFILE is sent to URL */
    const char *reply_file; /* --upload-reply FILE: Type 2, the server's reply into FILE */
};

static int
job_create_opt(int c, const char *arg, void *data)
{
    struct job_create_opts *o = data;
    unsigned p;
    int r = job_notify_opt("job create", &o->notify, c, arg);

    if (r != 1)
        return r;
    switch (c) {
    case 's':
        o->suspended = true;
        return 0;
    case 'd':
        o->description = arg;
        return 0;
    case 'p':
        if (ctl_parse_priority(arg, &p) < 0)
            return ctl_usage("job create", "invalid priority '%s'", arg);
        o->priority = (int)p;
        return 0;
    case 'u':
        o->upload = true;
        return 0;
    case 'r':
        o->reply_file = arg;
        return 0;
    }
    return CTL_EXIT_USAGE;
}

static int
job_create(struct ctl_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"suspended", no_argument, NULL, 's'},
        {"description", required_argument, NULL, 'd'},
        {"priority", required_argument, NULL, 'p'},
        {"notify-cmd", required_argument, NULL, 'C'},
        {"notify-url", required_argument, NULL, 'U'},
        {"notify-flags", required_argument, NULL, 'F'},
        {"upload", no_argument, NULL, 'u'},
        {"upload-reply", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct job_create_opts o = {false, NULL, -1, {NULL, NULL, ""}, false, NULL};
    bool settle;
    struct ctl_session *s = NULL;
    struct ctl_response *resp = NULL;
    struct ctl_pair params[6];
    bool hold;
    size_t np = 0;
    char *pos[3], *id = NULL;
    const char *jid;
    int r;

    r = ctl_args("job create", argc, argv, opts, 3, pos, job_create_opt, &o);
    if (r != 0)
        return r == CTL_ARGS_HELP ? CTL_EXIT_OK : r;
    if (o.upload && o.reply_file)
        return ctl_usage("job create", "--upload and --upload-reply exclude each other");
    r = ctl_ctx_session(ctx, NULL, &s);
    if (r < 0)
        return -r;
    /* a priority, notification or ReplyFileName is set before the job may start: create
     * suspended, set them, then resume */
    settle = o.priority >= 0 || o.notify.cmd || o.notify.url || o.notify.flags[0];
    hold = settle || o.reply_file;
    params[np++] = (struct ctl_pair){"DisplayName", pos[0]};
    params[np++] = (struct ctl_pair){"RemoteUrl", pos[1]};
    params[np++] = (struct ctl_pair){"LocalFile", pos[2]};
    params[np++] = (struct ctl_pair){"Suspend", o.suspended || hold ? "true" : "false"};
    if (o.description)
        params[np++] = (struct ctl_pair){"Description", o.description};
    if (o.upload || o.reply_file)
        params[np++] = (struct ctl_pair){"Type", o.reply_file ? "2" : "1"};
    r = ctl_session_invoke(s, JOB_URI, "CreateJob", NULL, 0, params, np, &resp);
    if (r < 0) {
        r = ctl_report(ctx, s, r);
        goto out;
    }
    jid = ctl_instance_get(resp->instances[0], "JobId");
    if (!jid || !*jid) {
        r = ctl_fail(ctx, CTL_EXIT_FAILED, "CreateJob returned no JobId");
        goto out;
    }
    id = strdup(jid);
    if (!id) {
        r = ctl_fail(ctx, CTL_EXIT_FAILED, "out of memory");
        goto out;
    }
    if (o.reply_file) {
        struct ctl_pair sel = {"JobId", id};
        struct ctl_pair opt[2] = {{"Name", "ReplyFileName"}, {"Value", o.reply_file}};
        struct ctl_response *set = NULL;

        r = ctl_session_invoke(s, JOB_URI, "SetOption", &sel, 1, opt, 2, &set);
        ctl_response_free(set);
        if (r < 0) {
            fprintf(stderr, "ferryctl: job %s was created but its ReplyFileName was not set\n",
                    id);
            r = ctl_report(ctx, s, r);
            goto out;
        }
    }
    if (settle) {
        char num[16];
        struct ctl_pair props[3];
        size_t nprops = 0;

        if (o.notify.cmd) {
            r = job_notify_cmd_apply(ctx, s, id, o.notify.cmd);
            if (r != CTL_EXIT_OK) {
                fprintf(stderr, "ferryctl: job %s was created but its --notify-cmd was not "
                        "set\n", id);
                goto out;
            }
        }
        if (o.priority >= 0) {
            snprintf(num, sizeof(num), "%d", o.priority);
            props[nprops++] = (struct ctl_pair){"Priority", num};
        }
        nprops += job_notify_props(&o.notify, props + nprops);
        r = nprops ? job_put_props(ctx, s, id, props, nprops, false) : CTL_EXIT_OK;
        if (r != CTL_EXIT_OK) {
            fprintf(stderr, "ferryctl: job %s was created but its priority or notification "
                    "was not set\n", id);
            goto out;
        }
    }
    if (hold) {
        if (!o.suspended) {
            r = ctl_job_set_state(s, id, 2);
            if (r < 0) {
                r = ctl_report(ctx, s, r);
                goto out;
            }
        }
    }
    if (ctx->json) {
        ctl_json_begin_object(&ctx->js);
        ctl_json_key(&ctx->js, "JobId");
        ctl_json_string(&ctx->js, id);
        ctl_json_end_object(&ctx->js);
        ctl_json_end(&ctx->js);
    } else {
        printf("%s\n", id);
    }
    r = CTL_EXIT_OK;

out:
    free(id);
    ctl_response_free(resp);
    ctl_session_free(s);
    return r;
}

/* A method on one job whose output is only ReturnValue. */
static int
job_simple_invoke(struct ctl_ctx *ctx, const char *sub, int argc, char **argv, int npos,
                  const char *method, const char *const *param_names)
{
    struct ctl_session *s = NULL;
    struct ctl_response *resp = NULL;
    struct ctl_pair sel, params[4];
    char *pos[4], full[64];
    int r;

    snprintf(full, sizeof(full), "job %s", sub);
    r = ctl_args(full, argc, argv, job_no_opts, npos, pos, NULL, NULL);
    if (r != 0)
        return r == CTL_ARGS_HELP ? CTL_EXIT_OK : r;
    r = ctl_ctx_session(ctx, NULL, &s);
    if (r < 0)
        return -r;
    sel = (struct ctl_pair){"JobId", pos[0]};
    for (int i = 1; i < npos; i++)
        params[i - 1] = (struct ctl_pair){param_names[i - 1], pos[i]};
    r = ctl_session_invoke(s, JOB_URI, method, &sel, 1, params, (size_t)(npos - 1), &resp);
    if (r < 0) {
        r = ctl_report(ctx, s, r);
        goto out;
    }
    if (ctx->json) {
        ctl_json_begin_object(&ctx->js);
        ctl_json_key(&ctx->js, "JobId");
        ctl_json_string(&ctx->js, pos[0]);
        ctl_json_key(&ctx->js, "ReturnValue");
        ctl_json_u64(&ctx->js, resp->return_value);
        ctl_json_end_object(&ctx->js);
        ctl_json_end(&ctx->js);
    }
    r = CTL_EXIT_OK;

out:
    ctl_response_free(resp);
    ctl_session_free(s);
    return r;
}

static int
job_set_state_cmd(struct ctl_ctx *ctx, const char *sub, int argc, char **argv,
                  unsigned action)
{
    struct ctl_session *s = NULL;
    char *pos[1], full[64];
    int r;

    snprintf(full, sizeof(full), "job %s", sub);
    r = ctl_args(full, argc, argv, job_no_opts, 1, pos, NULL, NULL);
    if (r != 0)
        return r == CTL_ARGS_HELP ? CTL_EXIT_OK : r;
    r = ctl_ctx_session(ctx, NULL, &s);
    if (r < 0)
        return -r;
    r = ctl_job_set_state(s, pos[0], action);
    if (r < 0) {
        r = ctl_report(ctx, s, r);
    } else {
        if (ctx->json) {
            ctl_json_begin_object(&ctx->js);
            ctl_json_key(&ctx->js, "JobId");
            ctl_json_string(&ctx->js, pos[0]);
            ctl_json_key(&ctx->js, "ReturnValue");
            ctl_json_u64(&ctx->js, 0);
            ctl_json_end_object(&ctx->js);
            ctl_json_end(&ctx->js);
        }
        r = CTL_EXIT_OK;
    }
    ctl_session_free(s);
    return r;
}

/* One `job list` line: id, state, priority, bytes done/total, name. */
static void
job_list_row(FILE *f, const struct ctl_instance *inst)
{
    static const char *const pn[] = {"foreground", "high", "normal", "low"};
    struct ctl_job_status st = {0};
    uint64_t prio = 99;
    char done[32], total[32], bytes[70];
    const char *id = ctl_instance_get(inst, "JobId");
    const char *name = ctl_instance_get(inst, "DisplayName");

    ctl_job_status_read(inst, &st);
    ctl_instance_get_u64(inst, "Priority", &prio);
    ctl_format_bytes(st.bytes_transferred, done, sizeof(done));
    if (st.bytes_total == CTL_SIZE_UNKNOWN)
        snprintf(total, sizeof(total), "?");
    else
        ctl_format_bytes(st.bytes_total, total, sizeof(total));
    snprintf(bytes, sizeof(bytes), "%s/%s", done, total);
    fprintf(f, "%-38s  %-15s  %-10s  %-21s  %s\n", id ? id : "?", ctl_state_name(st.state),
            prio < 4 ? pn[prio] : "?", bytes, name ? name : "");
}

static int
job_list(struct ctl_ctx *ctx, int argc, char **argv)
{
    char header[128];

    snprintf(header, sizeof(header), "%-38s  %-15s  %-10s  %-21s  %s", "JOBID", "STATE",
             "PRIORITY", "BYTES", "NAME");
    return ctl_list(ctx, "job list", argc, argv, JOB_URI, header, job_list_row);
}

static int
job_show(struct ctl_ctx *ctx, int argc, char **argv)
{
    struct ctl_session *s = NULL;
    struct ctl_response *resp = NULL;
    struct ctl_pair sel;
    char *pos[1];
    int r;

    r = ctl_args("job show", argc, argv, job_no_opts, 1, pos, NULL, NULL);
    if (r != 0)
        return r == CTL_ARGS_HELP ? CTL_EXIT_OK : r;
    r = ctl_ctx_session(ctx, NULL, &s);
    if (r < 0)
        return -r;
    sel = (struct ctl_pair){"JobId", pos[0]};
    r = ctl_session_get(s, JOB_URI, &sel, 1, &resp);
    return ctl_show_one(ctx, s, r, resp);
}

struct job_set_opts {
    struct ctl_pair props[10];
    char nums[10][24];
    size_t n;
    struct job_notify_opts notify;
};

static int
job_set_opt(int c, const char *arg, void *data)
{
    struct job_set_opts *o = data;
    const char *name = NULL;
    uint64_t v;
    unsigned p;
    size_t i = o->n;
    int r = job_notify_opt("job set", &o->notify, c, arg);

    if (r != 1)
        return r;
    if (i >= 8)
        return ctl_usage("job set", "too many options");
    switch (c) {
    case 'p':
        if (ctl_parse_priority(arg, &p) < 0)
            return ctl_usage("job set", "invalid priority '%s'", arg);
        snprintf(o->nums[i], sizeof(o->nums[i]), "%u", p);
        o->props[o->n++] = (struct ctl_pair){"Priority", o->nums[i]};
        return 0;
    case 'n':
        o->props[o->n++] = (struct ctl_pair){"DisplayName", arg};
        return 0;
    case 'd':
        o->props[o->n++] = (struct ctl_pair){"Description", arg};
        return 0;
    case 'r':
        name = "MinimumRetryDelay";
        break;
    case 't':
        name = "NoProgressTimeout";
        break;
    case 'c':
        name = CTL_PROP_CONNECTIONS;
        break;
    case 'b':
        name = CTL_PROP_BANDWIDTH_LIMIT;
        break;
    default:
        return CTL_EXIT_USAGE;
    }
    if (ctl_parse_u64(arg, c == 'b' ? UINT64_MAX : UINT32_MAX, &v) < 0)
        return ctl_usage("job set", "invalid number '%s'", arg);
    snprintf(o->nums[i], sizeof(o->nums[i]), "%llu", (unsigned long long)v);
    o->props[o->n++] = (struct ctl_pair){name, o->nums[i]};
    return 0;
}

static int
job_set(struct ctl_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"priority", required_argument, NULL, 'p'},
        {"display-name", required_argument, NULL, 'n'},
        {"description", required_argument, NULL, 'd'},
        {"min-retry-delay", required_argument, NULL, 'r'},
        {"no-progress-timeout", required_argument, NULL, 't'},
        {"connections", required_argument, NULL, 'c'},
        {"bandwidth-limit", required_argument, NULL, 'b'},
        {"notify-cmd", required_argument, NULL, 'C'},
        {"notify-url", required_argument, NULL, 'U'},
        {"notify-flags", required_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct job_set_opts o;
    struct ctl_session *s = NULL;
    char *pos[1];
    int r;

    memset(&o, 0, sizeof(o));
    r = ctl_args("job set", argc, argv, opts, 1, pos, job_set_opt, &o);
    if (r != 0)
        return r == CTL_ARGS_HELP ? CTL_EXIT_OK : r;
    o.n += job_notify_props(&o.notify, o.props + o.n);
    if (o.n == 0 && !o.notify.cmd)
        return ctl_usage("job set", "nothing to set");
    r = ctl_ctx_session(ctx, NULL, &s);
    if (r < 0)
        return -r;
    r = o.notify.cmd ? job_notify_cmd_apply(ctx, s, pos[0], o.notify.cmd) : CTL_EXIT_OK;
    if (r == CTL_EXIT_OK)
        r = job_put_props(ctx, s, pos[0], o.props, o.n, true);
    ctl_session_free(s);
    return r;
}

static int
job_error(struct ctl_ctx *ctx, int argc, char **argv)
{
    struct ctl_session *s = NULL;
    struct ctl_response *resp = NULL;
    char *pos[1], line[1024];
    int r;

    r = ctl_args("job error", argc, argv, job_no_opts, 1, pos, NULL, NULL);
    if (r != 0)
        return r == CTL_ARGS_HELP ? CTL_EXIT_OK : r;
    r = ctl_ctx_session(ctx, NULL, &s);
    if (r < 0)
        return -r;
    r = job_get_error(s, pos[0], &resp);
    if (r < 0) {
        r = ctl_report(ctx, s, r);
        ctl_session_free(s);
        return r;
    }
    if (ctx->json) {
        ctl_json_instance(&ctx->js, resp->instances[0]);
        ctl_json_end(&ctx->js);
    } else {
        job_error_format(resp->instances[0], line, sizeof(line));
        printf("%s\n", line);
    }
    ctl_response_free(resp);
    ctl_session_free(s);
    return CTL_EXIT_OK;
}

/* ---- job wait ---------------------------------------------------------------------- */

struct job_wait_opts {
    bool complete;
    double interval;
};

static int
job_wait_opt(int c, const char *arg, void *data)
{
    struct job_wait_opts *o = data;

    switch (c) {
    case 'c':
        o->complete = true;
        return 0;
    case 'i':
        if (ctl_parse_seconds(arg, &o->interval) < 0)
            return ctl_usage("job wait", "invalid interval '%s'", arg);
        return 0;
    }
    return CTL_EXIT_USAGE;
}

static unsigned
job_term_width(void)
{
    struct winsize ws;

    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
        return ws.ws_col - 1;
    return 79;
}

/* The statistics block at the end of `job wait`. */
static void
job_wait_stats(struct ctl_ctx *ctx, const char *id, const struct ctl_instance *inst,
               const struct ctl_job_status *st, double waited)
{
    uint64_t avg = 0, refetched = 0, retries = 0, transient = 0;
    bool has_avg = ctl_instance_get_u64(inst, CTL_PROP_THROUGHPUT_AVG, &avg) == 0;
    bool has_ref = ctl_instance_get_u64(inst, CTL_PROP_BYTES_REFETCHED, &refetched) == 0;
    bool has_retries = ctl_instance_get_u64(inst, CTL_PROP_RETRIES, &retries) == 0;
    double secs = waited;
    char b2[32], b3[32], b4[32];

    ctl_instance_get_u64(inst, "TransientErrorCount", &transient);
    if (st->creation_time && st->completion_time && st->completion_time > st->creation_time)
        secs = (double)(st->completion_time - st->creation_time) / 1e7;
    if (!has_avg && secs > 0)
        avg = (uint64_t)((double)st->bytes_transferred / secs);
    if (ctx->json) {
        struct ctl_json *j = &ctx->js;

        ctl_json_begin_object(j);
        ctl_json_key(j, "JobId");
        ctl_json_string(j, id);
        ctl_json_key(j, "State");
        ctl_json_u64(j, st->state);
        ctl_json_key(j, "StateName");
        ctl_json_string(j, ctl_state_name(st->state));
        ctl_json_key(j, "Seconds");
        ctl_json_double(j, secs);
        ctl_json_key(j, "WaitedSeconds");
        ctl_json_double(j, waited);
        ctl_json_key(j, "BytesTotal");
        if (st->bytes_total == CTL_SIZE_UNKNOWN)
            ctl_json_null(j);
        else
            ctl_json_u64(j, st->bytes_total);
        ctl_json_key(j, "BytesTransferred");
        ctl_json_u64(j, st->bytes_transferred);
        ctl_json_key(j, "ThroughputAverage");
        ctl_json_u64(j, avg);
        ctl_json_key(j, "BytesRefetched");
        if (has_ref)
            ctl_json_u64(j, refetched);
        else
            ctl_json_null(j);
        ctl_json_key(j, "Retries");
        if (has_retries)
            ctl_json_u64(j, retries);
        else
            ctl_json_null(j);
        ctl_json_key(j, "TransientErrorCount");
        ctl_json_u64(j, transient);
        ctl_json_end_object(j);
        ctl_json_end(j);
        return;
    }
    ctl_format_bytes(st->bytes_transferred, b2, sizeof(b2));
    ctl_format_rate((double)avg, b3, sizeof(b3));
    ctl_format_bytes(refetched, b4, sizeof(b4));
    printf("job %s %s\n", id, ctl_state_name(st->state));
    printf("  time        %.2f s\n", secs);
    printf("  bytes       %s (%llu)\n", b2, (unsigned long long)st->bytes_transferred);
    printf("  average     %s\n", b3);
    if (has_ref)
        printf("  re-fetched  %s\n", b4);
    else
        printf("  re-fetched  n/a\n");
    if (has_retries)
        printf("  retries     %llu (transient errors %llu)\n", (unsigned long long)retries,
               (unsigned long long)transient);
    else
        printf("  retries     n/a (transient errors %llu)\n", (unsigned long long)transient);
}

static int
job_wait(struct ctl_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"complete", no_argument, NULL, 'c'},
        {"interval", required_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct job_wait_opts o = {false, 0.5};
    struct ctl_session *s = NULL;
    struct ctl_response *resp = NULL;
    struct ctl_job_status st = {0};
    struct ctl_rate rate;
    struct ctl_pair sel;
    char *pos[1], line[256], err[1024];
    double t0, last_plain = -1e9;
    unsigned last_state = 1000;
    double down_since = -1;
    bool live, drawn = false, completed = false;
    int r;

    r = ctl_args("job wait", argc, argv, opts, 1, pos, job_wait_opt, &o);
    if (r != 0)
        return r == CTL_ARGS_HELP ? CTL_EXIT_OK : r;
    r = ctl_ctx_session(ctx, NULL, &s);
    if (r < 0)
        return -r;
    sel = (struct ctl_pair){"JobId", pos[0]};
    /* the bar goes to stdout on a terminal; with --json progress goes to stderr, plain */
    live = ctx->tty && !ctx->json;
    if (live)
        ctl_live_begin();
    ctl_rate_init(&rate, 3.0);
    t0 = ctl_now();
    for (;;) {
        double now;

        resp = ctl_response_free(resp);
        r = ctl_session_get(s, JOB_URI, &sel, 1, &resp);
        if (r < 0) {
            /* a job that is gone, or an auth failure, ends the wait; a restart does not */
            if (down_since < 0)
                down_since = ctl_now();
            if (ctl_session_exit_code(r) != CTL_EXIT_CONNECT || r == -EACCES ||
                ctl_now() - down_since > JOB_WAIT_RECONNECT_S) {
                if (drawn)
                    fputc('\n', stdout);
                r = ctl_report(ctx, s, r);
                goto out;
            }
            if (!live)
                fprintf(stderr, "ferryctl: %s; retrying\n", s->message);
            ctl_sleep(o.interval < 1.0 ? 1.0 : o.interval);
            continue;
        }
        down_since = -1;
        if (ctl_job_status_read(resp->instances[0], &st) < 0) {
            r = ctl_fail(ctx, CTL_EXIT_FAILED, "job %s: the instance has no State", pos[0]);
            goto out;
        }
        now = ctl_now();
        ctl_rate_update(&rate, now - t0, st.bytes_transferred);
        ctl_progress_line(line, sizeof(line), live ? job_term_width() : 0,
                          ctl_state_name(st.state), st.bytes_transferred, st.bytes_total,
                          rate.has_rate ? rate.rate : -1);
        if (live) {
            printf("\r%s\033[K", line);
            fflush(stdout);
            drawn = true;
        } else if (st.state != last_state || now - last_plain >= JOB_PLAIN_PERIOD) {
            fprintf(ctx->json ? stderr : stdout, "%s\n", line);
            fflush(ctx->json ? stderr : stdout);
            last_plain = now;
        }
        if (st.state == 3 && last_state != 3 && !live)
            fprintf(stderr, "ferryctl: job %s is SUSPENDED; waiting for a resume\n", pos[0]);
        last_state = st.state;

        if (st.state == 6 && o.complete && !completed) { /* TRANSFERRED */
            r = ctl_job_set_state(s, pos[0], 1);
            if (r < 0) {
                if (drawn)
                    fputc('\n', stdout);
                r = ctl_report(ctx, s, r);
                goto out;
            }
            completed = true;
            continue; /* read it again: ACKNOWLEDGED */
        }
        if ((st.state == 6 && !o.complete) || st.state == 7 || st.state == 4 ||
            st.state == 8)
            break;
        ctl_sleep(o.interval);
    }
    if (drawn)
        fputc('\n', stdout);
    if (st.state == 4) {
        r = ctl_job_error_line(s, pos[0], err, sizeof(err));
        if (r < 0)
            snprintf(err, sizeof(err), "(GetError failed: %.900s)", s->message);
        fprintf(stderr, "ferryctl: job %s failed: %s\n", pos[0], err);
    } else if (st.state == 8) {
        fprintf(stderr, "ferryctl: job %s was cancelled\n", pos[0]);
    }
    job_wait_stats(ctx, pos[0], resp->instances[0], &st, ctl_now() - t0);
    r = (st.state == 6 || st.state == 7) ? CTL_EXIT_OK : CTL_EXIT_FAILED;

out:
    ctl_response_free(resp);
    ctl_session_free(s);
    return r;
}

int
ctl_cmd_job(struct ctl_ctx *ctx, int argc, char **argv)
{
    static const char *const add_file_params[] = {"RemoteUrl", "LocalFile"};
    const char *sub;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        ctl_help(argc < 2 ? stderr : stdout, "job");
        return argc < 2 ? CTL_EXIT_USAGE : CTL_EXIT_OK;
    }
    sub = argv[1];
    argc--;
    argv++;
    if (strcmp(sub, "create") == 0)
        return job_create(ctx, argc, argv);
    if (strcmp(sub, "add-file") == 0)
        return job_simple_invoke(ctx, "add-file", argc, argv, 3, "AddFile", add_file_params);
    if (strcmp(sub, "list") == 0)
        return job_list(ctx, argc, argv);
    if (strcmp(sub, "show") == 0)
        return job_show(ctx, argc, argv);
    if (strcmp(sub, "set") == 0)
        return job_set(ctx, argc, argv);
    if (strcmp(sub, "resume") == 0)
        return job_set_state_cmd(ctx, "resume", argc, argv, 2);
    if (strcmp(sub, "suspend") == 0)
        return job_set_state_cmd(ctx, "suspend", argc, argv, 3);
    if (strcmp(sub, "complete") == 0)
        return job_set_state_cmd(ctx, "complete", argc, argv, 1);
    if (strcmp(sub, "cancel") == 0)
        return job_set_state_cmd(ctx, "cancel", argc, argv, 0);
    if (strcmp(sub, "error") == 0)
        return job_error(ctx, argc, argv);
    if (strcmp(sub, "wait") == 0)
        return job_wait(ctx, argc, argv);
    return ctl_usage("job", "unknown job command '%s'", sub);
}
