/*
 * tests/tools/rel_serverd.c - the compact server role alone (server_new from
 * engine/server/server_role.h, the real HTTP core under it), for the reliability suite on builds where
 * ferryd does not yet run the data plane. It takes ferryd's options (the config file with
 * its url lines included), loads STATE/users, starts the role, writes "ready PID" to
 * STATE/serverd.ready, and stops cleanly on SIGTERM or SIGINT (exit 0). Exit 1 when the
 * options or the role fail, with the reason on stderr.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ferry/config.h"
#include "ferry/log.h"
#include "ferry/users.h"
#include "server_role.h"

static int
ready_write(const char *state_dir)
{
    char path[4096], tmp[4200];
    FILE *f;

    if (snprintf(path, sizeof(path), "%s/serverd.ready", state_dir) >= (int)sizeof(path))
        return -ENAMETOOLONG;
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "w");
    if (!f)
        return -errno;
    fprintf(f, "ready %ld\n", (long)getpid());
    if (fclose(f) != 0)
        return -errno;
    if (rename(tmp, path) < 0)
        return -errno;
    return 0;
}

int
main(int argc, char **argv)
{
    struct ferry_config *cfg = NULL;
    struct ferry_users *users = NULL;
    struct ferry_server *srv = NULL;
    char users_path[4096];
    enum ferry_log_level level;
    sigset_t set;
    char err[512] = "";
    int sig = 0, r, rc = 1;

    ferry_log_set_ident("rel_serverd");
    cfg = ferry_config_new();
    if (!cfg) {
        fprintf(stderr, "rel_serverd: out of memory\n");
        goto cleanup;
    }
    r = ferry_config_parse_args(cfg, argc, argv, err, sizeof(err));
    if (r == 1) {
        rc = 0;
        goto cleanup;
    }
    if (r < 0) {
        fprintf(stderr, "rel_serverd: %s\n", err);
        goto cleanup;
    }
    if (cfg->log_level && ferry_log_parse_level(cfg->log_level, &level) == 0)
        ferry_log_set_level(level);

    /* Block the stop signals before any engine thread exists, so sigwait gets them. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    snprintf(users_path, sizeof(users_path), "%s/users", cfg->state_dir);
    r = ferry_users_open(users_path, &users);
    if (r < 0) {
        fprintf(stderr, "rel_serverd: users file '%s': %s\n", users_path, strerror(-r));
        goto cleanup;
    }
    r = server_new(cfg, users, &srv);
    if (r < 0) {
        fprintf(stderr, "rel_serverd: server role failed: %s\n", strerror(-r));
        goto cleanup;
    }
    r = ready_write(cfg->state_dir);
    if (r < 0) {
        fprintf(stderr, "rel_serverd: ready file: %s\n", strerror(-r));
        goto cleanup;
    }
    if (sigwait(&set, &sig) != 0)
        goto cleanup;
    ferry_log_info("signal %d: stopping", sig);
    rc = 0;
cleanup:
    srv = server_free(srv);
    users = ferry_users_free(users);
    cfg = ferry_config_free(cfg);
    return rc;
}
