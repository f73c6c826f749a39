/*
 * engine/core/loop.h - a per-thread io_uring event loop (internal API).
 *
 * One struct loop per thread, one ring per loop. Work reaches the loop three ways:
 *   - io_uring operations (accept, recv, send, poll, splice) submitted with a struct loop_op
 *     whose callback runs on the loop thread when the kernel completes the operation;
 *   - timers (loop_timer_*): a min-heap in user space, fired in deadline order between ring
 *     waits; add and cancel are synchronous and cost no system call;
 *   - commands posted from other threads (loop_post): a mutex-protected FIFO plus an eventfd
 *     whose read is kept armed on the ring, so a post wakes a sleeping loop.
 *
 * Rules (docs/internals/http.md has the long form):
 *   1. Everything except loop_post() and loop_stop() must be called on the loop's thread.
 *   2. A struct loop_op belongs to the kernel from the submit call until its callback runs
 *      with more == false. Only that callback may free or reuse it.
 *   3. loop_cancel() only asks; the operation still completes (usually with -ECANCELED) and
 *      its callback still runs. Owners free their objects when their last op completed.
 *   4. loop_free() tears the ring down (io_uring_queue_exit waits for the kernel to drop
 *      every request), so after it returns no op is owned by the kernel any more and their
 *      callbacks never run: owners may free whatever was still in flight.
 */
#ifndef FERRY_CORE_LOOP_H
#define FERRY_CORE_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

struct loop;
struct loop_op;

/* Completion of an operation: res is cqe->res (bytes, an fd, a poll mask, or -errno);
 * more is true when a multishot operation stays armed (the op is still the kernel's). */
typedef void (*loop_op_fn)(struct loop *loop, struct loop_op *op, int res, bool more);

/*
 * The request context of one io_uring operation. Embed it in the object the operation
 * works for and recover the object with container_of-style arithmetic or `data`.
 * OWNERSHIP: from the submit call until the callback runs with more == false this struct
 * belongs to the kernel: do not free it, do not resubmit it. Only the completion callback
 * may free or requeue it.
 */
struct loop_op {
    loop_op_fn fn;
    void *data;
    bool armed; /* true while the kernel owns the op (set by submit, cleared before fn) */
};

/* A timer. Embed it; it is idle (not armed) after loop_timer_init or after it fired. */
struct loop_timer;
typedef void (*loop_timer_fn)(struct loop *loop, struct loop_timer *t);
struct loop_timer {
    loop_timer_fn fn;
    void *data;
    uint64_t deadline_ns; /* CLOCK_MONOTONIC */
    size_t heap_index;    /* position in the heap + 1; 0 = not armed */
    uint64_t seq;         /* tie-break: equal deadlines fire in arming order */
};

/* A function posted from another thread; runs on the loop thread. */
typedef void (*loop_cmd_fn)(struct loop *loop, void *arg);

/* Create a loop with a ring of `entries` SQEs (0 = 256). Must be run by one thread.
 * -errno on failure (e.g. -ENOMEM, or what io_uring_queue_init returned). */
int loop_new(unsigned entries, struct loop **ret_loop);
/* Tear down the ring (rule 4) and free the loop; queued commands are dropped without
 * running. NULL-safe, returns NULL. */
struct loop *loop_free(struct loop *loop);

/* Run until loop_stop(). Returns 0 after a stop, -errno when the ring failed. */
int loop_run(struct loop *loop);
/* Ask the loop to return from loop_run after the current iteration. Thread-safe. */
void loop_stop(struct loop *loop);
/* Run fn(loop, arg) on the loop thread soon. Thread-safe; 0 or -ENOMEM/-ESHUTDOWN. Posted
 * commands run in posting order. */
int loop_post(struct loop *loop, loop_cmd_fn fn, void *arg);
/* true when called on the thread currently inside loop_run(loop). */
bool loop_is_current(const struct loop *loop);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t loop_now_ns(void);

/* ---- operations (loop thread only). Each returns 0 once queued or -errno (op untouched,
 * still the caller's). Submission to the kernel happens before the loop sleeps. ---- */
void loop_op_init(struct loop_op *op, loop_op_fn fn, void *data);
/* Accept on a listening socket; multishot when the kernel supports it (then the op stays
 * armed: callbacks run with more == true until the kernel ends it). res = new fd. */
int loop_accept(struct loop *loop, struct loop_op *op, int fd, bool multishot);
int loop_recv(struct loop *loop, struct loop_op *op, int fd, void *buf, size_t len, int flags);
int loop_send(struct loop *loop, struct loop_op *op, int fd, const void *buf, size_t len,
              int flags);
/* One-shot poll for `mask` (POLLIN/POLLOUT...); res = revents or -errno. */
int loop_poll(struct loop *loop, struct loop_op *op, int fd, unsigned mask);
/* IORING_OP_SPLICE: off = -1 means "use/advance the fd's own position" (pipes, sockets). */
int loop_splice(struct loop *loop, struct loop_op *op, int fd_in, int64_t off_in, int fd_out,
                int64_t off_out, unsigned len, unsigned flags);
/* Ask the kernel to cancel an armed op (IORING_OP_ASYNC_CANCEL). No-op when not armed. */
int loop_cancel(struct loop *loop, struct loop_op *op);
/* true when the running kernel supports multishot accept (probed at loop_new). */
bool loop_has_multishot_accept(const struct loop *loop);

/* ---- timers (loop thread only) ---- */
void loop_timer_init(struct loop_timer *t, loop_timer_fn fn, void *data);
/* Arm (or re-arm) t to fire after `delay_ns`. */
int loop_timer_add(struct loop *loop, struct loop_timer *t, uint64_t delay_ns);
/* Disarm; harmless when not armed. */
void loop_timer_cancel(struct loop *loop, struct loop_timer *t);
static inline bool
loop_timer_armed(const struct loop_timer *t)
{
    return t->heap_index != 0;
}

#endif
