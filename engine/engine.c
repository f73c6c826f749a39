/*
 * engine.c - ferry_engine: the state directory, the users file and both roles.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ferry/config.h"
#include "ferry/engine.h"
#include "ferry/log.h"
#include "jobs_role.h"
#include "server_role.h"

struct ferry_engine {
    const struct ferry_config *cfg;
    struct ferry_users *users;
    struct ferry_server *server;
    struct ferry_jobs *jobs;
};

/* The server role's view of the client role's relays (docs/internals/relay.md). */
static struct relay *
engine_relay_find(void *ud, const char *source)
{
    return jobs_relay_find(ud, source);
}

/* The state dir holds the store, credentials and the users file: owner-only. */
static int
state_dir_prepare(const char *dir)
{
    struct stat st;

    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        int r = -errno;
        ferry_log_error("mkdir('%s') failed: %s", dir, strerror(errno));
        return r;
    }
    if (stat(dir, &st) < 0) {
        int r = -errno;
        ferry_log_error("stat('%s') failed: %s", dir, strerror(errno));
        return r;
    }
    if (!S_ISDIR(st.st_mode)) {
        ferry_log_error("state dir '%s' is not a directory", dir);
        return -ENOTDIR;
    }
    if ((st.st_mode & 077) != 0 && chmod(dir, st.st_mode & 07700) < 0)
        ferry_log_warn("chmod('%s', 0700) failed: %s", dir, strerror(errno));
    return 0;
}

int
ferry_engine_new(const struct ferry_config *cfg, struct ferry_engine **ret)
{
    struct ferry_engine *e;
    char *users_path = NULL;
    int r;

    if (!cfg || !cfg->state_dir)
        return -EINVAL;
    e = calloc(1, sizeof(*e));
    if (!e)
        return -ENOMEM;
    e->cfg = cfg;

    r = state_dir_prepare(cfg->state_dir);
    if (r < 0)
        goto error;
    if (asprintf(&users_path, "%s/users", cfg->state_dir) < 0) {
        users_path = NULL;
        r = -ENOMEM;
        goto error;
    }
    r = ferry_users_open(users_path, &e->users);
    if (r < 0) {
        ferry_log_error("users file '%s' could not be read", users_path);
        goto error;
    }
    r = ferry_users_auth_start(e->users, cfg);
    if (r < 0) {
        ferry_log_error("the password verifier threads could not start: %s", strerror(-r));
        goto error;
    }
    r = jobs_new(cfg, &e->jobs);
    if (r < 0)
        goto error;
    r = server_new_relay(cfg, e->users, engine_relay_find, e->jobs, &e->server);
    if (r < 0)
        goto error;
    free(users_path);
    *ret = e;
    return 0;
error:
    free(users_path);
    ferry_engine_free(e);
    return r;
}

struct ferry_engine *
ferry_engine_free(struct ferry_engine *e)
{
    if (!e)
        return NULL;
    e->server = server_free(e->server);
    e->jobs = jobs_free(e->jobs);
    e->users = ferry_users_free(e->users);
    free(e);
    return NULL;
}

struct ferry_jobs *
ferry_engine_jobs(struct ferry_engine *e)
{
    return e->jobs;
}

struct ferry_server *
ferry_engine_server(struct ferry_engine *e)
{
    return e->server;
}

struct ferry_users *
ferry_engine_users(struct ferry_engine *e)
{
    return e->users;
}
