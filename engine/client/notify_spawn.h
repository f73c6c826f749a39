/*
 * engine/client/notify_spawn.h - notification commands as child processes
 * (notify_spawn.c): the notifier thread's credentials, posix_spawn with a clean
 * environment, output to the log, the timeout, reaping without blocking.
 *
 * Used by the notifier thread only (notify.c); nothing here is thread-safe on its own.
 */
#ifndef FERRY_CLIENT_NOTIFY_SPAWN_H
#define FERRY_CLIENT_NOTIFY_SPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct notify_child;

/* Clear the calling thread's ambient capabilities, and when ferryd runs as root switch the
 * thread (only it: raw setgroups/setresgid/setresuid system calls) to `user`, so every
 * command it spawns runs as that user. 0 when switched or not root; -ENOENT (no such
 * user), -EPERM (the user is root) or -errno, with a logged reason: commands must then not
 * run. */
int notify_spawn_drop_privileges(const char *user);

/*
 * Start `program` with argv[0..argc) and the environment PATH, FERRY_JOB_ID, FERRY_JOB_STATE,
 * FERRY_NOTIFY_EVENT; stdin /dev/null, stdout and stderr into a pipe whose lines are logged;
 * own process group; working directory /. It is killed (the whole group) when still running
 * `timeout_ms` after now_ms. 0 and *ret_child, or -errno (logged).
 */
int notify_spawn_start(const char *job_id, const char *state, const char *event,
                       const char *program, char *const *argv, size_t argc,
                       int64_t now_ms, unsigned timeout_ms, struct notify_child **ret_child);
/* The child's output descriptor to poll (-1 once it reached end of file). */
int notify_spawn_fd(const struct notify_child *c);
/* Log what the child wrote, kill it after its deadline, reap it if it exited (WNOHANG).
 * true once it is reaped (then free it). */
bool notify_spawn_step(struct notify_child *c, int64_t now_ms);
/* Milliseconds until the child's deadline (0 when passed). */
int64_t notify_spawn_due(const struct notify_child *c, int64_t now_ms);
/* Kill (unless reaped) and reap synchronously: for shutdown. */
void notify_spawn_abort(struct notify_child *c);
struct notify_child *notify_spawn_free(struct notify_child *c);

#endif
