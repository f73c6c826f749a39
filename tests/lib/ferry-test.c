/*
 * tests/lib/ferry-test.c - see ferry-test.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ferry-test.h"

void
ft_skip(const char *fmt, ...)
{
    va_list ap;

    fputs("SKIP: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(FT_SKIP);
}

char *
ft_tmpdir_new(const char *tag)
{
    const char *base = getenv("TMPDIR");
    char *path = NULL;

    if (!base || !*base)
        base = "/tmp";
    if (asprintf(&path, "%s/ferry-test-%s-XXXXXX", base, tag ? tag : "t") < 0)
        return NULL;
    if (!mkdtemp(path)) {
        free(path);
        return NULL;
    }
    return path;
}

static int
rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(p);
    return 0;
}

char *
ft_tmpdir_free(char *path)
{
    const char *keep = getenv("FERRY_TEST_KEEP");

    if (!path)
        return NULL;
    if (keep && strcmp(keep, "1") == 0)
        fprintf(stderr, "FERRY_TEST_KEEP: kept %s\n", path);
    else
        nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(path);
    return NULL;
}

int
ft_write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const char *p = data;
    int r = 0;

    if (fd < 0)
        return -errno;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            r = -errno;
            break;
        }
        p += n;
        len -= (size_t)n;
    }
    if (close(fd) < 0 && r == 0)
        r = -errno;
    return r;
}

int
ft_read_file(const char *path, char **ret_data, size_t *ret_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int r = 0;

    if (fd < 0)
        return -errno;
    for (;;) {
        if (cap - len < 4096) {
            char *nb = realloc(buf, cap ? cap * 2 : 8192);
            if (!nb) {
                r = -ENOMEM;
                goto error;
            }
            buf = nb;
            cap = cap ? cap * 2 : 8192;
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            r = -errno;
            goto error;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    close(fd);
    *ret_data = buf;
    if (ret_len)
        *ret_len = len;
    return 0;
error:
    free(buf);
    close(fd);
    return r;
}

static const char *
ferryd_path(void)
{
    const char *p = getenv("FERRYD");
    return p && *p ? p : FT_FERRYD_PATH;
}

int
ft_ferryd_start(struct ft_ferryd *d, const char *state_dir, const char *const *extra)
{
    char *ready = NULL;
    const char *argv[64];
    size_t argc = 0;
    int r;

    memset(d, 0, sizeof(*d));
    d->state_dir = strdup(state_dir);
    if (asprintf(&d->log_path, "%s/ferryd.log", state_dir) < 0 ||
        asprintf(&ready, "%s/ferryd.ready", state_dir) < 0)
        return -ENOMEM;
    unlink(ready);

    argv[argc++] = ferryd_path();
    argv[argc++] = "--state-dir";
    argv[argc++] = state_dir;
    argv[argc++] = "--wsman-listen";
    argv[argc++] = "127.0.0.1:0";
    for (size_t i = 0; extra && extra[i] && argc < 62; i++)
        argv[argc++] = extra[i];
    argv[argc] = NULL;

    d->pid = fork();
    if (d->pid < 0) {
        r = -errno;
        free(ready);
        return r;
    }
    if (d->pid == 0) {
        int fd = open(d->log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }

    for (int i = 0; i < 1000; i++) {
        char *data = NULL;
        int status;

        if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
            d->pid = 0;
            free(ready);
            return -ECHILD;
        }
        if (ft_read_file(ready, &data, NULL) == 0) {
            char *line = strstr(data, "wsman ");
            if (line) {
                char url[256];
                if (sscanf(line, "wsman %255s", url) == 1) {
                    const char *colon = strrchr(url, ':');
                    d->wsman_url = strdup(url);
                    d->wsman_port = colon ? (int)strtol(colon + 1, NULL, 10) : 0;
                    free(data);
                    free(ready);
                    return 0;
                }
            }
            free(data);
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    free(ready);
    ft_ferryd_kill9(d);
    return -ETIMEDOUT;
}

int
ft_ferryd_stop(struct ft_ferryd *d)
{
    int status = 0;

    if (d->pid <= 0)
        return -ESRCH;
    kill(d->pid, SIGTERM);
    for (int i = 0; i < 1000; i++) {
        pid_t w = waitpid(d->pid, &status, WNOHANG);
        if (w == d->pid) {
            d->pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    ft_ferryd_kill9(d);
    return -ETIMEDOUT;
}

void
ft_ferryd_kill9(struct ft_ferryd *d)
{
    if (d->pid <= 0)
        return;
    kill(d->pid, SIGKILL);
    waitpid(d->pid, NULL, 0);
    d->pid = 0;
}

void
ft_ferryd_done(struct ft_ferryd *d)
{
    if (d->pid > 0)
        ft_ferryd_kill9(d);
    free(d->state_dir);
    free(d->wsman_url);
    free(d->log_path);
    memset(d, 0, sizeof(*d));
}
