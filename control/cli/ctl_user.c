/*
 * control/cli/ctl_user.c - `ferryctl user add`: writes STATE/users through
 * ferry_users_add() (include/ferry/users.h); the password comes from stdin, never from the
 * command line.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "ctl_cmd.h"
#include "ferry/users.h"

struct user_opts {
    const char *state_dir;
    const char *role;
};

static int
user_opt(int c, const char *arg, void *data)
{
    struct user_opts *o = data;

    switch (c) {
    case 's':
        o->state_dir = arg;
        return 0;
    case 'r':
        o->role = arg;
        return 0;
    }
    return CTL_EXIT_USAGE;
}

/* One line from stdin without its line end; echo off on a terminal. */
static int
user_read_password(char *buf, size_t len)
{
    struct termios old, quiet;
    bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
    char *ok;
    size_t n;

    if (tty) {
        fprintf(stderr, "Password: ");
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    ok = fgets(buf, (int)len, stdin);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    if (!ok)
        return -ENODATA;
    n = strlen(buf);
    if (n == len - 1 && buf[n - 1] != '\n')
        return -E2BIG;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    return n > 0 ? 0 : -ENODATA;
}

int
ctl_cmd_user(struct ctl_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"state-dir", required_argument, NULL, 's'},
        {"role", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct user_opts o = {NULL, NULL};
    enum ferry_role role;
    char *pos[1], *path = NULL, password[CTL_MAX_PASSWORD + 2];
    int r;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        ctl_help(argc < 2 ? stderr : stdout, "user");
        return argc < 2 ? CTL_EXIT_USAGE : CTL_EXIT_OK;
    }
    if (strcmp(argv[1], "add") != 0)
        return ctl_usage("user", "unknown user command '%s'", argv[1]);
    r = ctl_args("user add", argc - 1, argv + 1, opts, 1, pos, user_opt, &o);
    if (r != 0)
        return r == CTL_ARGS_HELP ? CTL_EXIT_OK : r;
    if (!o.state_dir)
        return ctl_usage("user add", "--state-dir is required");
    if (!o.role)
        return ctl_usage("user add", "--role is required");
    if (ferry_users_parse_role(o.role, &role) < 0)
        return ctl_usage("user add", "role '%s' is neither admin nor user", o.role);
    r = user_read_password(password, sizeof(password));
    if (r == -E2BIG)
        return ctl_fail(ctx, CTL_EXIT_USAGE, "password longer than %d bytes",
                        CTL_MAX_PASSWORD);
    if (r < 0)
        return ctl_fail(ctx, CTL_EXIT_USAGE, "no password on stdin");
    if (asprintf(&path, "%s/users", o.state_dir) < 0) {
        explicit_bzero(password, sizeof(password));
        return ctl_fail(ctx, CTL_EXIT_FAILED, "out of memory");
    }
    r = ferry_users_add(path, pos[0], role, password);
    explicit_bzero(password, sizeof(password));
    if (r < 0) {
        r = ctl_fail(ctx, CTL_EXIT_FAILED, "cannot add user '%s' to '%s': %s", pos[0], path,
                     r == -EINVAL ? "invalid name (allowed: A-Z a-z 0-9 . _ @ -, 1-64 chars)"
                                  : strerror(-r));
        free(path);
        return r;
    }
    if (ctx->json) {
        ctl_json_begin_object(&ctx->js);
        ctl_json_key(&ctx->js, "user");
        ctl_json_string(&ctx->js, pos[0]);
        ctl_json_key(&ctx->js, "role");
        ctl_json_string(&ctx->js, ferry_role_name(role));
        ctl_json_key(&ctx->js, "file");
        ctl_json_string(&ctx->js, path);
        ctl_json_end_object(&ctx->js);
        ctl_json_end(&ctx->js);
    } else {
        printf("user '%s' (%s) written to %s\n", pos[0], ferry_role_name(role), path);
    }
    free(path);
    return CTL_EXIT_OK;
}

