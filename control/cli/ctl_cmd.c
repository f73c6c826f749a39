/*
 * control/cli/ctl_cmd.c - helpers shared by ferryctl's commands: sessions, failure
 * reporting, printing, argument parsing, time.
 */
#include <errno.h>
#include <signal.h>
#include <unistd.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ctl_cmd.h"
#include "ctl_progress.h"

int
ctl_ctx_session(struct ctl_ctx *ctx, const char *endpoint, struct ctl_session **ret)
{
    int r;

    if (!endpoint)
        endpoint = ctx->endpoint;
    r = ctl_session_new(endpoint, &ctx->http, ret);
    if (r == -EINVAL)
        return -ctl_fail(ctx, CTL_EXIT_USAGE, "endpoint '%s' is not an http(s) URL", endpoint);
    if (r < 0)
        return -ctl_fail(ctx, CTL_EXIT_FAILED, "cannot set up a session: %s", strerror(-r));
    return 0;
}

static void
cmd_json_error(struct ctl_ctx *ctx, const char *message, const struct ctl_fault *f,
               uint32_t return_value)
{
    struct ctl_json *j = &ctx->js;

    ctl_json_init(j, stdout);
    ctl_json_begin_object(j);
    ctl_json_key(j, "error");
    ctl_json_begin_object(j);
    ctl_json_key(j, "message");
    ctl_json_string(j, message);
    if (f) {
        ctl_json_key(j, "code");
        ctl_json_string(j, f->code);
        ctl_json_key(j, "subcode");
        ctl_json_string(j, f->subcode);
        ctl_json_key(j, "reason");
        ctl_json_string(j, f->reason);
        ctl_json_key(j, "detail");
        ctl_json_string(j, f->detail);
    }
    if (return_value) {
        ctl_json_key(j, "ReturnValue");
        ctl_json_u64(j, return_value);
    }
    ctl_json_end_object(j);
    ctl_json_end_object(j);
    ctl_json_end(j);
}

int
ctl_report(struct ctl_ctx *ctx, struct ctl_session *s, int err)
{
    const char *msg = s->message[0] ? s->message : strerror(-err);

    fprintf(stderr, "ferryctl: %s\n", msg);
    if (ctx->json)
        cmd_json_error(ctx, msg, s->is_fault ? &s->fault : NULL,
                       err == -EIO ? s->return_value : 0);
    return ctl_session_exit_code(err);
}

int
ctl_fail(struct ctl_ctx *ctx, int code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "ferryctl: %s\n", msg);
    if (ctx && ctx->json)
        cmd_json_error(ctx, msg, NULL, 0);
    return code;
}

int
ctl_usage(const char *cmd, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "ferryctl: %s\nTry 'ferryctl %s%s--help'.\n", msg, cmd, *cmd ? " " : "");
    return CTL_EXIT_USAGE;
}

int
ctl_args(const char *cmd, int argc, char **argv, const struct option *opts, int npos,
         char **pos, ctl_opt_fn on_opt, void *data)
{
    int c;

    optind = 0; /* GNU: re-initialise for this argv */
    opterr = 1;
    for (;;) {
        int r;

        c = getopt_long(argc, argv, "h", opts, NULL);
        if (c == -1)
            break;
        if (c == 'h') {
            ctl_help(stdout, cmd);
            return CTL_ARGS_HELP;
        }
        if (c == '?' || c == ':' || !on_opt)
            return ctl_usage(cmd, "invalid option");
        r = on_opt(c, optarg, data);
        if (r != 0)
            return r;
    }
    if (argc - optind != npos)
        return ctl_usage(cmd, "expected %d argument%s, got %d", npos, npos == 1 ? "" : "s",
                         argc - optind);
    for (int i = 0; i < npos; i++)
        pos[i] = argv[optind + i];
    return 0;
}

void
ctl_print_instance(FILE *f, const struct ctl_instance *inst, unsigned indent)
{
    size_t w = 0;

    for (size_t i = 0; i < inst->nprops; i++)
        if (!inst->props[i].nested && strlen(inst->props[i].name) > w)
            w = strlen(inst->props[i].name);
    for (size_t i = 0; i < inst->nprops; i++) {
        const struct ctl_prop *p = &inst->props[i];

        if (p->nested) {
            fprintf(f, "%*s%s:\n", (int)indent, "", p->name);
            ctl_print_instance(f, p->nested, indent + 2);
            continue;
        }
        fprintf(f, "%*s%-*s  %s", (int)indent, "", (int)w, p->name,
                p->value ? p->value : "(nil)");
        if (strcmp(p->name, "State") == 0 && p->value) {
            uint64_t v;

            if (ctl_parse_u64(p->value, 100, &v) == 0)
                fprintf(f, " (%s)", ctl_state_name((unsigned)v));
        }
        fputc('\n', f);
    }
}

/*
 * Print the one instance a Get or Identify returned, or report why there is none.
 */
int
ctl_show_one(struct ctl_ctx *ctx, struct ctl_session *s, int r, struct ctl_response *resp)
{
    if (r < 0) {
        r = ctl_report(ctx, s, r);
        ctl_session_free(s);
        return r;
    }
    if (ctx->json) {
        ctl_json_instance(&ctx->js, resp->instances[0]);
        ctl_json_end(&ctx->js);
    } else {
        ctl_print_instance(stdout, resp->instances[0], 0);
    }
    ctl_response_free(resp);
    ctl_session_free(s);
    return CTL_EXIT_OK;
}

/*
 * `job list`, `group list`: no options but --help, one Enumerate of uri on the default
 * endpoint, every instance printed (a JSON array with --json; else the header line when
 * given, then row() per instance, or ctl_print_instance blocks when row is NULL). The
 * instances are freed here. Returns the exit code, having reported any failure.
 */
int
ctl_list(struct ctl_ctx *ctx, const char *cmd, int argc, char **argv, const char *uri,
         const char *header, ctl_list_row_fn row)
{
    static const struct option no_opts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct ctl_session *s = NULL;
    struct ctl_instance **v = NULL;
    size_t n = 0;
    int r;

    r = ctl_args(cmd, argc, argv, no_opts, 0, NULL, NULL, NULL);
    if (r != 0)
        return r == CTL_ARGS_HELP ? CTL_EXIT_OK : r;
    r = ctl_ctx_session(ctx, NULL, &s);
    if (r < 0)
        return -r;
    r = ctl_session_enumerate(s, uri, &v, &n);
    if (r < 0) {
        r = ctl_report(ctx, s, r);
        ctl_session_free(s);
        return r;
    }
    if (ctx->json) {
        ctl_json_begin_array(&ctx->js);
        for (size_t i = 0; i < n; i++)
            ctl_json_instance(&ctx->js, v[i]);
        ctl_json_end_array(&ctx->js);
        ctl_json_end(&ctx->js);
    } else {
        if (header)
            printf("%s\n", header);
        for (size_t i = 0; i < n; i++) {
            if (row) {
                row(stdout, v[i]);
                continue;
            }
            if (i > 0)
                fputc('\n', stdout);
            ctl_print_instance(stdout, v[i], 0);
        }
    }
    for (size_t i = 0; i < n; i++)
        ctl_instance_free(v[i]);
    free(v);
    ctl_session_free(s);
    return CTL_EXIT_OK;
}

int
ctl_parse_u64(const char *s, uint64_t max, uint64_t *ret)
{
    unsigned long long v;
    char *end;
    int base = 10;

    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
        return -EINVAL;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        base = 16;
    errno = 0;
    v = strtoull(s, &end, base);
    if (errno != 0 || *end != '\0' || v > max)
        return -EINVAL;
    *ret = v;
    return 0;
}

int
ctl_parse_seconds(const char *s, double *ret)
{
    char *end;
    double v;

    if (!s || !*s)
        return -EINVAL;
    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || *end != '\0' || !isfinite(v) || v <= 0.0 || v > 86400.0)
        return -EINVAL;
    *ret = v;
    return 0;
}

int
ctl_parse_priority(const char *s, unsigned *ret)
{
    static const char *const names[] = {"foreground", "high", "normal", "low"};
    uint64_t v;

    for (unsigned i = 0; i < 4; i++)
        if (strcasecmp(s, names[i]) == 0) {
            *ret = i;
            return 0;
        }
    if (ctl_parse_u64(s, 3, &v) < 0)
        return -EINVAL;
    *ret = (unsigned)v;
    return 0;
}

bool
ctl_parse_bool(const char *s)
{
    return s && (strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0);
}

double
ctl_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
ctl_sleep(double s)
{
    struct timespec ts, rem;

    if (s <= 0)
        return;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &rem) < 0 && errno == EINTR)
        ts = rem;
}

static void
cmd_interrupted(int sig)
{
    /* only async-signal-safe calls: end the live line so the shell prompt starts clean */
    static const char nl[] = "\n";

    if (write(STDOUT_FILENO, nl, 1) < 0) {
        /* nothing more to do on the way out */
    }
    _exit(128 + sig);
}

void
ctl_live_begin(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = cmd_interrupted;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}
