/*
 * notify_spawn.c - one notification command: a child process made with posix_spawn.
 *
 * Never a shell: the program's path and the argv go straight to posix_spawn. The child
 * gets a clean environment (PATH=/usr/local/bin:/usr/bin:/bin, FERRY_JOB_ID,
 * FERRY_JOB_STATE, FERRY_NOTIFY_EVENT and nothing else), stdin /dev/null, stdout and
 * stderr on one pipe whose lines go to ferryd's log (at most NOTIFY_SPAWN_LOG_MAX bytes a
 * child), its own process group (so the timeout kills what it started too), working
 * directory /, default signal dispositions and an empty signal mask, no descriptor of
 * ferryd's (closefrom 3). Credentials: the spawning thread's (notify_spawn_drop_privileges).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ferry/log.h"
#include "client/notify_spawn.h"

#define NOTIFY_SPAWN_LINE 512
#define NOTIFY_SPAWN_LOG_MAX (16 * 1024)
#define NOTIFY_SPAWN_MAX_GROUPS 256

struct notify_child {
    char job_id[40];
    char *program;
    pid_t pid;
    int fd;                 /* read end of the output pipe, -1 at EOF */
    int64_t deadline_ms;
    unsigned timeout_ms;
    bool killed;
    bool reaped;
    size_t logged;          /* output bytes logged */
    bool truncated;
    size_t linelen;
    char line[NOTIFY_SPAWN_LINE];
};

/* See notify_spawn.h. */
int
notify_spawn_drop_privileges(const char *user)
{
    struct passwd pw, *res = NULL;
    gid_t groups[NOTIFY_SPAWN_MAX_GROUPS];
    int ngroups = NOTIFY_SPAWN_MAX_GROUPS;
    char buf[4096];
    int r;

    /* the unit's ambient capability (CAP_NET_BIND_SERVICE) is ferryd's, not the commands':
     * capabilities are per thread, so this clears them for this thread and its children */
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    if (geteuid() != 0)
        return 0;
    r = getpwnam_r(user ? user : "", &pw, buf, sizeof(buf), &res);
    if (r != 0 || !res) {
        ferry_log_error("notify-user '%s' does not exist; notification commands are not run "
                        "(ferryd runs as root and never runs them as root)",
                        user ? user : "");
        return r ? -r : -ENOENT;
    }
    if (pw.pw_uid == 0 || pw.pw_gid == 0) {
        ferry_log_error("notify-user '%s' has uid or gid 0; notification commands are not run "
                        "(never as root)", user);
        return -EPERM;
    }
    if (getgrouplist(user, pw.pw_gid, groups, &ngroups) < 0)
        ngroups = NOTIFY_SPAWN_MAX_GROUPS; /* more than fit: the first ones */
    for (int i = 0; i < ngroups; i++) {
        if (groups[i] == 0) {
            /* a member of group root: leave that group out */
            groups[i] = groups[--ngroups];
            i--;
        }
    }
    /* Raw system calls change this thread only; glibc's wrappers would change every thread
     * of ferryd. Groups first, then the gid, the uid last (after it nothing is allowed). */
    if (syscall(SYS_setgroups, (size_t)ngroups, groups) < 0 ||
        syscall(SYS_setresgid, pw.pw_gid, pw.pw_gid, pw.pw_gid) < 0 ||
        syscall(SYS_setresuid, pw.pw_uid, pw.pw_uid, pw.pw_uid) < 0) {
        r = -errno;
        ferry_log_error("the notifier could not switch to notify-user '%s': %s; "
                        "notification commands are not run",
                        user, strerror(errno));
        return r;
    }
    if (syscall(SYS_geteuid) != pw.pw_uid) {
        ferry_log_error("the notifier is not running as notify-user '%s'; notification "
                        "commands are not run", user);
        return -EPERM;
    }
    ferry_log_info("notification commands run as '%s' (uid %u, gid %u)", user,
                   (unsigned)pw.pw_uid, (unsigned)pw.pw_gid);
    return 0;
}

/* See notify_spawn.h. */
int
notify_spawn_start(const char *job_id, const char *state, const char *event,
                   const char *program, char *const *argv, size_t argc, int64_t now_ms,
                   unsigned timeout_ms, struct notify_child **ret_child)
{
    char *env[5] = {NULL};
    char **av = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, all;
    struct notify_child *c;
    int pfd[2] = {-1, -1};
    char ebuf[256];
    int r;

    c = calloc(1, sizeof(*c));
    av = calloc(argc + 2, sizeof(*av));
    if (c)
        c->fd = -1;
    if (c)
        c->program = strdup(program);
    if (!c || !av || !c->program) {
        r = -ENOMEM;
        goto fail;
    }
    snprintf(c->job_id, sizeof(c->job_id), "%s", job_id);
    /* argv[0] is the program when no words were given */
    if (argc == 0)
        av[0] = (char *)program;
    for (size_t i = 0; i < argc; i++)
        av[i] = argv[i];
    if (asprintf(&env[0], "PATH=/usr/local/bin:/usr/bin:/bin") < 0 ||
        asprintf(&env[1], "FERRY_JOB_ID=%s", job_id) < 0 ||
        asprintf(&env[2], "FERRY_JOB_STATE=%s", state) < 0 ||
        asprintf(&env[3], "FERRY_NOTIFY_EVENT=%s", event) < 0) {
        r = -ENOMEM;
        goto fail;
    }
    if (pipe2(pfd, O_CLOEXEC) < 0) {
        r = -errno;
        goto fail;
    }
    fcntl(pfd[0], F_SETFL, O_NONBLOCK);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    posix_spawn_file_actions_addchdir_np(&fa, "/");
    posix_spawnattr_init(&attr);
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    r = posix_spawn(&c->pid, program, &fa, &attr, av, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(pfd[1]);
    pfd[1] = -1;
    if (r != 0) {
        ferry_log_warn("job %s: notification command '%s' could not be started: %s", job_id,
                       ferry_log_escape(program, ebuf, sizeof(ebuf)), strerror(r));
        r = -r;
        goto fail;
    }
    c->fd = pfd[0];
    c->timeout_ms = timeout_ms;
    c->deadline_ms = now_ms + timeout_ms;
    ferry_log_info("job %s: notification command '%s' started for %s (pid %d)", job_id,
                   ferry_log_escape(program, ebuf, sizeof(ebuf)), event, (int)c->pid);
    for (size_t i = 0; i < 4; i++)
        free(env[i]);
    free(av);
    *ret_child = c;
    return 0;
fail:
    if (pfd[0] >= 0)
        close(pfd[0]);
    for (size_t i = 0; i < 4; i++)
        free(env[i]);
    free(av);
    notify_spawn_free(c);
    return r;
}

/* See notify_spawn.h. */
int
notify_spawn_fd(const struct notify_child *c)
{
    return c->fd;
}

static void
notify_spawn_log_line(struct notify_child *c)
{
    char ebuf[NOTIFY_SPAWN_LINE * 4 + 8];

    if (c->linelen == 0)
        return;
    c->line[c->linelen] = '\0';
    if (c->logged < NOTIFY_SPAWN_LOG_MAX)
        ferry_log_info("job %s: notify pid %d: %s", c->job_id, (int)c->pid,
                       ferry_log_escape(c->line, ebuf, sizeof(ebuf)));
    else if (!c->truncated) {
        c->truncated = true;
        ferry_log_info("job %s: notify pid %d: further output not logged", c->job_id,
                       (int)c->pid);
    }
    c->logged += c->linelen;
    c->linelen = 0;
}

/* Read what is there without blocking; lines (or NOTIFY_SPAWN_LINE - 1 bytes) are logged. */
static void
notify_spawn_read(struct notify_child *c)
{
    char buf[4096];

    while (c->fd >= 0) {
        ssize_t n = read(c->fd, buf, sizeof(buf));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            notify_spawn_log_line(c);
            close(c->fd);
            c->fd = -1;
            return;
        }
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\n') {
                notify_spawn_log_line(c);
                continue;
            }
            c->line[c->linelen++] = buf[i];
            if (c->linelen == NOTIFY_SPAWN_LINE - 1)
                notify_spawn_log_line(c);
        }
    }
}

static void
notify_spawn_status(struct notify_child *c, int status)
{
    char ebuf[256];

    ferry_log_escape(c->program, ebuf, sizeof(ebuf));
    if (c->killed)
        ferry_log_warn("job %s: notification command '%s' (pid %d) was killed after %u s",
                       c->job_id, ebuf, (int)c->pid, c->timeout_ms / 1000);
    else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        ferry_log_info("job %s: notification command '%s' (pid %d) exited 0", c->job_id,
                       ebuf, (int)c->pid);
    else if (WIFEXITED(status))
        ferry_log_warn("job %s: notification command '%s' (pid %d) exited %d", c->job_id,
                       ebuf, (int)c->pid, WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        ferry_log_warn("job %s: notification command '%s' (pid %d) died of signal %d",
                       c->job_id, ebuf, (int)c->pid, WTERMSIG(status));
}

/* See notify_spawn.h. */
bool
notify_spawn_step(struct notify_child *c, int64_t now_ms)
{
    int status = 0;
    pid_t p;

    if (c->reaped)
        return true;
    notify_spawn_read(c);
    if (!c->killed && now_ms >= c->deadline_ms) {
        c->killed = true;
        kill(-c->pid, SIGKILL);
        kill(c->pid, SIGKILL);
    }
    p = waitpid(c->pid, &status, WNOHANG);
    if (p == 0)
        return false;
    c->reaped = true;
    if (p == c->pid) {
        if (c->killed)
            kill(-c->pid, SIGKILL); /* what it started, still in its group */
        notify_spawn_read(c);
        notify_spawn_status(c, status);
    }
    if (c->fd >= 0) {
        /* something it left behind (outside its group) holds the pipe: stop listening */
        close(c->fd);
        c->fd = -1;
    }
    return true;
}

/* See notify_spawn.h. */
int64_t
notify_spawn_due(const struct notify_child *c, int64_t now_ms)
{
    return c->deadline_ms > now_ms ? c->deadline_ms - now_ms : 0;
}

/* See notify_spawn.h. */
void
notify_spawn_abort(struct notify_child *c)
{
    int status;

    if (!c || c->reaped || c->pid <= 0)
        return;
    kill(-c->pid, SIGKILL);
    kill(c->pid, SIGKILL);
    while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR)
        ;
    c->reaped = true;
}

/* Close the pipe and free. The child must be reaped (notify_spawn_step / _abort).
 * NULL-safe; returns NULL. */
struct notify_child *
notify_spawn_free(struct notify_child *c)
{
    if (!c)
        return NULL;
    if (c->fd >= 0)
        close(c->fd);
    free(c->program);
    free(c);
    return NULL;
}
