/*
 * loop.c - per-thread io_uring event loop (loop.h): operations with completion callbacks,
 * a user-space timer heap, and a command queue other threads post to through an eventfd.
 */
#include <errno.h>
#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"

struct loop_cmd {
    struct loop_cmd *next;
    loop_cmd_fn fn;
    void *arg;
};

struct loop {
    struct io_uring ring;
    bool multishot_accept;
    atomic_bool stopping;

    /* timers: binary min-heap on (deadline, seq) */
    struct loop_timer **heap;
    size_t nheap, heap_cap;
    uint64_t timer_seq;

    /* cross-thread commands */
    pthread_mutex_t lock;
    struct loop_cmd *cmd_head, *cmd_tail;
    bool closed; /* loop_free started: posts fail */
    int efd;
    uint64_t efd_buf;
    struct loop_op efd_op;
};

static _Thread_local struct loop *loop_current;

uint64_t
loop_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static bool
kernel_at_least(int want_major, int want_minor)
{
    struct utsname u;
    char *end;
    long major, minor;

    if (uname(&u) < 0)
        return false;
    major = strtol(u.release, &end, 10);
    if (*end != '.')
        return false;
    minor = strtol(end + 1, NULL, 10);
    return major > want_major || (major == want_major && minor >= want_minor);
}

/* An SQE, flushing the submission queue once when it is full. */
static struct io_uring_sqe *
loop_sqe(struct loop *loop)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&loop->ring);

    if (!sqe) {
        io_uring_submit(&loop->ring);
        sqe = io_uring_get_sqe(&loop->ring);
    }
    return sqe;
}

void
loop_op_init(struct loop_op *op, loop_op_fn fn, void *data)
{
    op->fn = fn;
    op->data = data;
    op->armed = false;
}

static int
loop_queue(struct loop *loop, struct loop_op *op, struct io_uring_sqe *sqe)
{
    io_uring_sqe_set_data(sqe, op);
    op->armed = true;
    return 0;
}

static void efd_arm(struct loop *loop);

static void
efd_done(struct loop *loop, struct loop_op *op, int res, bool more)
{
    struct loop_cmd *list;

    pthread_mutex_lock(&loop->lock);
    list = loop->cmd_head;
    loop->cmd_head = loop->cmd_tail = NULL;
    pthread_mutex_unlock(&loop->lock);
    while (list) {
        struct loop_cmd *c = list;
        list = c->next;
        c->fn(loop, c->arg);
        free(c);
    }
    if (!atomic_load(&loop->stopping))
        efd_arm(loop);
}

static void
efd_arm(struct loop *loop)
{
    struct io_uring_sqe *sqe = loop_sqe(loop);

    if (!sqe)
        return; /* cannot happen after a flush; the next post still finds the queue */
    io_uring_prep_read(sqe, loop->efd, &loop->efd_buf, sizeof(loop->efd_buf), 0);
    loop_queue(loop, &loop->efd_op, sqe);
}

/*
 * Create a loop. The ring is created here; the loop may then run on any one thread.
 * Returns 0 and *ret_loop, or -errno (nothing allocated).
 */
int
loop_new(unsigned entries, struct loop **ret_loop)
{
    struct io_uring_params p;
    struct loop *loop;
    int r;

    loop = calloc(1, sizeof(*loop));
    if (!loop)
        return -ENOMEM;
    loop->efd = -1;
    pthread_mutex_init(&loop->lock, NULL);
    memset(&p, 0, sizeof(p));
    p.flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN;
    r = io_uring_queue_init_params(entries ? entries : 256, &loop->ring, &p);
    if (r == -EINVAL) {
        memset(&p, 0, sizeof(p));
        r = io_uring_queue_init_params(entries ? entries : 256, &loop->ring, &p);
    }
    if (r < 0)
        goto error;
    loop->multishot_accept = kernel_at_least(5, 19);
    loop->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (loop->efd < 0) {
        r = -errno;
        io_uring_queue_exit(&loop->ring);
        goto error;
    }
    loop_op_init(&loop->efd_op, efd_done, loop);
    efd_arm(loop);
    *ret_loop = loop;
    return 0;
error:
    if (loop->efd >= 0)
        close(loop->efd);
    pthread_mutex_destroy(&loop->lock);
    free(loop);
    return r;
}

/*
 * Free the loop: the ring is torn down first (the kernel drops every in-flight request,
 * callbacks never run), then commands still queued are dropped. NULL-safe, returns NULL.
 */
struct loop *
loop_free(struct loop *loop)
{
    struct loop_cmd *c;

    if (!loop)
        return NULL;
    pthread_mutex_lock(&loop->lock);
    loop->closed = true;
    c = loop->cmd_head;
    loop->cmd_head = loop->cmd_tail = NULL;
    pthread_mutex_unlock(&loop->lock);
    io_uring_queue_exit(&loop->ring);
    while (c) {
        struct loop_cmd *next = c->next;
        free(c);
        c = next;
    }
    close(loop->efd);
    pthread_mutex_destroy(&loop->lock);
    free(loop->heap);
    free(loop);
    return NULL;
}

bool
loop_has_multishot_accept(const struct loop *loop)
{
    return loop->multishot_accept;
}

bool
loop_is_current(const struct loop *loop)
{
    return loop_current == loop;
}

static void
loop_wake(struct loop *loop)
{
    uint64_t one = 1;
    ssize_t n;

    do {
        n = write(loop->efd, &one, sizeof(one));
    } while (n < 0 && errno == EINTR);
    /* EAGAIN: the counter is saturated, so a wakeup is already pending. */
}

/*
 * Queue fn(loop, arg) to run on the loop thread. Thread-safe. Returns 0, -ENOMEM, or
 * -ESHUTDOWN once loop_free has started (fn will not run).
 */
int
loop_post(struct loop *loop, loop_cmd_fn fn, void *arg)
{
    struct loop_cmd *c = malloc(sizeof(*c));

    if (!c)
        return -ENOMEM;
    c->next = NULL;
    c->fn = fn;
    c->arg = arg;
    pthread_mutex_lock(&loop->lock);
    if (loop->closed) {
        pthread_mutex_unlock(&loop->lock);
        free(c);
        return -ESHUTDOWN;
    }
    if (loop->cmd_tail)
        loop->cmd_tail->next = c;
    else
        loop->cmd_head = c;
    loop->cmd_tail = c;
    pthread_mutex_unlock(&loop->lock);
    loop_wake(loop);
    return 0;
}

/* Thread-safe: loop_run returns after finishing the current iteration. */
void
loop_stop(struct loop *loop)
{
    atomic_store(&loop->stopping, true);
    loop_wake(loop);
}

/* ---- timer heap ---- */

static bool
timer_before(const struct loop_timer *a, const struct loop_timer *b)
{
    if (a->deadline_ns != b->deadline_ns)
        return a->deadline_ns < b->deadline_ns;
    return a->seq < b->seq;
}

static void
heap_set(struct loop *loop, size_t i, struct loop_timer *t)
{
    loop->heap[i] = t;
    t->heap_index = i + 1;
}

static void
heap_up(struct loop *loop, size_t i)
{
    struct loop_timer *t = loop->heap[i];

    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!timer_before(t, loop->heap[parent]))
            break;
        heap_set(loop, i, loop->heap[parent]);
        i = parent;
    }
    heap_set(loop, i, t);
}

static void
heap_down(struct loop *loop, size_t i)
{
    struct loop_timer *t = loop->heap[i];

    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const struct loop_timer *best = t;
        if (l < loop->nheap && timer_before(loop->heap[l], best)) {
            m = l;
            best = loop->heap[l];
        }
        if (r < loop->nheap && timer_before(loop->heap[r], best))
            m = r;
        if (m == i)
            break;
        heap_set(loop, i, loop->heap[m]);
        i = m;
    }
    heap_set(loop, i, t);
}

void
loop_timer_init(struct loop_timer *t, loop_timer_fn fn, void *data)
{
    memset(t, 0, sizeof(*t));
    t->fn = fn;
    t->data = data;
}

/* Disarm t (loop thread only). Harmless when it is not armed. */
void
loop_timer_cancel(struct loop *loop, struct loop_timer *t)
{
    size_t i;

    if (!t->heap_index)
        return;
    i = t->heap_index - 1;
    t->heap_index = 0;
    loop->nheap--;
    if (i == loop->nheap)
        return;
    loop->heap[i] = loop->heap[loop->nheap];
    loop->heap[i]->heap_index = i + 1;
    heap_down(loop, i);
    heap_up(loop, loop->heap[i]->heap_index - 1);
}

/* Arm or re-arm t to fire `delay_ns` from now (loop thread only). 0 or -ENOMEM. */
int
loop_timer_add(struct loop *loop, struct loop_timer *t, uint64_t delay_ns)
{
    loop_timer_cancel(loop, t);
    if (loop->nheap == loop->heap_cap) {
        size_t cap = loop->heap_cap ? loop->heap_cap * 2 : 64;
        struct loop_timer **h = realloc(loop->heap, cap * sizeof(*h));
        if (!h)
            return -ENOMEM;
        loop->heap = h;
        loop->heap_cap = cap;
    }
    t->deadline_ns = loop_now_ns() + delay_ns;
    t->seq = ++loop->timer_seq;
    loop->heap[loop->nheap] = t;
    t->heap_index = ++loop->nheap;
    heap_up(loop, loop->nheap - 1);
    return 0;
}

/* Fire expired timers; returns ns until the next deadline, or UINT64_MAX when none. */
static uint64_t
timers_run(struct loop *loop)
{
    for (;;) {
        uint64_t now;
        struct loop_timer *t;

        if (loop->nheap == 0)
            return UINT64_MAX;
        t = loop->heap[0];
        now = loop_now_ns();
        if (t->deadline_ns > now)
            return t->deadline_ns - now;
        loop_timer_cancel(loop, t);
        t->fn(loop, t);
        if (atomic_load(&loop->stopping))
            return 0;
    }
}

/* ---- operations ---- */

int
loop_accept(struct loop *loop, struct loop_op *op, int fd, bool multishot)
{
    struct io_uring_sqe *sqe = loop_sqe(loop);

    if (!sqe)
        return -EBUSY;
    if (multishot && loop->multishot_accept)
        io_uring_prep_multishot_accept(sqe, fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    else
        io_uring_prep_accept(sqe, fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    return loop_queue(loop, op, sqe);
}

int
loop_recv(struct loop *loop, struct loop_op *op, int fd, void *buf, size_t len, int flags)
{
    struct io_uring_sqe *sqe = loop_sqe(loop);

    if (!sqe)
        return -EBUSY;
    io_uring_prep_recv(sqe, fd, buf, len, flags);
    return loop_queue(loop, op, sqe);
}

int
loop_send(struct loop *loop, struct loop_op *op, int fd, const void *buf, size_t len,
          int flags)
{
    struct io_uring_sqe *sqe = loop_sqe(loop);

    if (!sqe)
        return -EBUSY;
    io_uring_prep_send(sqe, fd, buf, len, flags);
    return loop_queue(loop, op, sqe);
}

int
loop_poll(struct loop *loop, struct loop_op *op, int fd, unsigned mask)
{
    struct io_uring_sqe *sqe = loop_sqe(loop);

    if (!sqe)
        return -EBUSY;
    io_uring_prep_poll_add(sqe, fd, mask);
    return loop_queue(loop, op, sqe);
}

int
loop_splice(struct loop *loop, struct loop_op *op, int fd_in, int64_t off_in, int fd_out,
            int64_t off_out, unsigned len, unsigned flags)
{
    struct io_uring_sqe *sqe = loop_sqe(loop);

    if (!sqe)
        return -EBUSY;
    io_uring_prep_splice(sqe, fd_in, off_in, fd_out, off_out, len, flags);
    return loop_queue(loop, op, sqe);
}

int
loop_cancel(struct loop *loop, struct loop_op *op)
{
    struct io_uring_sqe *sqe;

    if (!op->armed)
        return 0;
    sqe = loop_sqe(loop);
    if (!sqe)
        return -EBUSY;
    io_uring_prep_cancel(sqe, op, 0);
    io_uring_sqe_set_data(sqe, NULL); /* the cancel's own completion is ignored */
    return 0;
}

/*
 * Run the loop on the calling thread until loop_stop(). Returns 0 after a stop or -errno
 * when waiting on the ring failed for a reason other than a signal or a timeout.
 */
int
loop_run(struct loop *loop)
{
    struct loop *prev = loop_current;
    int ret = 0;

    loop_current = loop;
    while (!atomic_load(&loop->stopping)) {
        struct __kernel_timespec ts, *tsp = NULL;
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        uint64_t next = timers_run(loop);
        int r;

        if (atomic_load(&loop->stopping))
            break;
        if (next != UINT64_MAX) {
            ts.tv_sec = (long long)(next / 1000000000ULL);
            ts.tv_nsec = (long long)(next % 1000000000ULL);
            tsp = &ts;
        }
        r = io_uring_submit_and_wait_timeout(&loop->ring, &cqe, 1, tsp, NULL);
        if (r < 0 && r != -ETIME && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
            ret = r;
            break;
        }
        io_uring_for_each_cqe(&loop->ring, head, cqe) {
            struct loop_op *op = io_uring_cqe_get_data(cqe);
            bool more = (cqe->flags & IORING_CQE_F_MORE) != 0;
            int res = cqe->res;

            seen++;
            if (!op)
                continue;
            if (!more)
                op->armed = false;
            /* Advance first: the callback may submit and reap more. */
            io_uring_cq_advance(&loop->ring, seen);
            seen = 0;
            op->fn(loop, op, res, more);
        }
        if (seen)
            io_uring_cq_advance(&loop->ring, seen);
    }
    loop_current = prev;
    return ret;
}
