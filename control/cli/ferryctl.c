/*
 * control/cli/ferryctl.c - the controller CLI's main(): global options, credentials, and
 * the dispatch to the command families.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxml/parser.h>

#include "ctl_cmd.h"

/* First line of path, without its line end. */
static int
main_read_password_file(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "re");
    size_t n;
    int r = 0;

    if (!f)
        return -errno;
    if (!fgets(buf, (int)len, f)) {
        buf[0] = '\0';
        r = ferror(f) ? -EIO : 0;
    }
    fclose(f);
    n = strlen(buf);
    if (n == len - 1 && buf[n - 1] != '\n')
        return -E2BIG;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    return r;
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"endpoint", required_argument, NULL, 'e'},
        {"user", required_argument, NULL, 'u'},
        {"password-file", required_argument, NULL, 'P'},
        {"cacert", required_argument, NULL, 'C'},
        {"client-cert", required_argument, NULL, 'c'},
        {"timeout", required_argument, NULL, 't'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct ctl_ctx ctx;
    const char *password_file = NULL, *cmd;
    char password[CTL_MAX_PASSWORD + 2], *client_cert = NULL;
    uint64_t timeout;
    int c, r;

    memset(&ctx, 0, sizeof(ctx));
    ctx.endpoint = CTL_DEFAULT_ENDPOINT;
    ctx.http.timeout_s = CTL_DEFAULT_TIMEOUT;
    ctx.http.user = getenv("FERRY_USER");
    if (ctx.http.user && !*ctx.http.user)
        ctx.http.user = NULL;
    for (;;) {
        c = getopt_long(argc, argv, "+h", opts, NULL);
        if (c == -1)
            break;
        switch (c) {
        case 'e':
            ctx.endpoint = optarg;
            break;
        case 'u':
            ctx.http.user = optarg;
            break;
        case 'P':
            password_file = optarg;
            break;
        case 'C':
            ctx.http.cacert = optarg;
            break;
        case 'c':
            free(client_cert);
            client_cert = strdup(optarg);
            if (!client_cert)
                return CTL_EXIT_FAILED;
            break;
        case 't':
            if (ctl_parse_u64(optarg, 86400, &timeout) < 0 || timeout == 0)
                return ctl_usage("", "invalid --timeout '%s' (1..86400 seconds)", optarg);
            ctx.http.timeout_s = (unsigned)timeout;
            break;
        case 'j':
            ctx.json = true;
            break;
        case 'h':
            ctl_help(stdout, "");
            return CTL_EXIT_OK;
        case 'V':
            printf("ferryctl %s\n", FERRY_VERSION);
            return CTL_EXIT_OK;
        default:
            return ctl_usage("", "invalid option");
        }
    }
    if (optind >= argc) {
        ctl_help(stderr, "");
        return CTL_EXIT_USAGE;
    }
    cmd = argv[optind];
    ctx.tty = isatty(STDOUT_FILENO);
    ctl_json_init(&ctx.js, stdout);
    if (client_cert) {
        /* FILE[:KEY]; a colon inside the certificate path is not supported */
        char *colon = strchr(client_cert, ':');

        if (colon) {
            *colon = '\0';
            ctx.http.client_key = colon + 1;
        }
        ctx.http.client_cert = client_cert;
    }
    password[0] = '\0';
    if (password_file) {
        r = main_read_password_file(password_file, password, sizeof(password));
        if (r < 0) {
            free(client_cert);
            return ctl_fail(&ctx, CTL_EXIT_USAGE, "cannot read --password-file '%s': %s",
                            password_file, r == -E2BIG ? "line too long" : strerror(-r));
        }
        ctx.http.password = password;
    } else if (getenv("FERRY_PASSWORD")) {
        ctx.http.password = getenv("FERRY_PASSWORD");
    }
    if (ctx.http.user && !ctx.http.password && strcmp(cmd, "user") != 0) {
        free(client_cert);
        return ctl_usage("", "--user '%s' needs a password: --password-file FILE or "
                             "FERRY_PASSWORD", ctx.http.user);
    }
    xmlInitParser();

    argc -= optind;
    argv += optind;
    if (strcmp(cmd, "identify") == 0)
        r = ctl_cmd_identify(&ctx, argc, argv);
    else if (strcmp(cmd, "job") == 0)
        r = ctl_cmd_job(&ctx, argc, argv);
    else if (strcmp(cmd, "group") == 0)
        r = ctl_cmd_group(&ctx, argc, argv);
    else if (strcmp(cmd, "url") == 0)
        r = ctl_cmd_url(&ctx, argc, argv);
    else if (strcmp(cmd, "distribute") == 0)
        r = ctl_cmd_distribute(&ctx, argc, argv);
    else if (strcmp(cmd, "user") == 0)
        r = ctl_cmd_user(&ctx, argc, argv);
    else if (strcmp(cmd, "help") == 0)
        r = ctl_help(stdout, argc > 1 ? argv[1] : "") ? CTL_EXIT_OK
                                                       : ctl_usage("", "no such command");
    else
        r = ctl_usage("", "unknown command '%s'", cmd);

    explicit_bzero(password, sizeof(password));
    free(client_cert);
    xmlCleanupParser();
    return r;
}
