/*
 * tests/lib/ferry-test.h - helpers shared by the Check suites: temp dirs that clean up
 * (kept with FERRY_TEST_KEEP=1), starting/stopping a real ferryd on ephemeral ports, and
 * SKIP (exit 77) for what the machine lacks.
 */
#ifndef FERRY_TEST_H
#define FERRY_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define FT_SKIP 77

/* Exit 77 with the reason on stderr: meson reports SKIP. Never returns. */
void ft_skip(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* mkdtemp under $TMPDIR (or /tmp) with a recognisable name; returns a malloc()ed path. */
char *ft_tmpdir_new(const char *tag);
/* Remove the tree (unless FERRY_TEST_KEEP=1, then print where it is). Returns NULL. */
char *ft_tmpdir_free(char *path);

/* Write `len` bytes to path (created 0644); returns 0 or -errno. */
int ft_write_file(const char *path, const void *data, size_t len);
/* Read a whole file into a malloc()ed buffer (NUL-terminated); -errno. */
int ft_read_file(const char *path, char **ret_data, size_t *ret_len);

/* A running ferryd (the real binary, path from $FERRYD or the build dir). */
struct ft_ferryd {
    pid_t pid;
    char *state_dir;
    char *wsman_url;   /* "http://127.0.0.1:PORT/wsman" from STATE/ferryd.ready */
    int wsman_port;
    char *log_path;    /* its stderr */
};

/* Start ferryd --state-dir STATE --wsman-listen 127.0.0.1:0 plus extra args (NULL
 * terminated), wait (up to 10 s) for STATE/ferryd.ready. 0 or -errno. */
int ft_ferryd_start(struct ft_ferryd *d, const char *state_dir, const char *const *extra);
/* SIGTERM and wait (up to 10 s, then SIGKILL); returns the exit status or -errno. */
int ft_ferryd_stop(struct ft_ferryd *d);
/* SIGKILL and reap. */
void ft_ferryd_kill9(struct ft_ferryd *d);
void ft_ferryd_done(struct ft_ferryd *d);

#endif
