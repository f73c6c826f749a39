/*
 * tests/engine/core/test_loop.c - engine/core/loop.c: timers fire in deadline order and can
 * be cancelled, commands posted from another thread run on the loop thread, recv/send and
 * poll over a socketpair, cancellation of a pending recv, splice file -> pipe -> socket,
 * multishot accept.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loop.h"

/* ---- timers ---- */

struct tstate {
    int order[8];
    int n;
    struct loop_timer t[5];
};

static void
timer_fire(struct loop *loop, struct loop_timer *t)
{
    struct tstate *st = t->data;
    int idx = (int)(t - st->t);

    st->order[st->n++] = idx;
    if (idx == 4)
        loop_stop(loop);
}

START_TEST(test_timers_order_and_cancel)
{
    struct loop *loop;
    struct tstate st;
    uint64_t start;

    memset(&st, 0, sizeof(st));
    ck_assert_int_eq(loop_new(0, &loop), 0);
    for (int i = 0; i < 5; i++)
        loop_timer_init(&st.t[i], timer_fire, &st);
    /* armed out of order: 3 (30 ms), 0 (10 ms), 2 (20 ms), 1 (15 ms, then cancelled), 4 last */
    ck_assert_int_eq(loop_timer_add(loop, &st.t[3], 30000000), 0);
    ck_assert_int_eq(loop_timer_add(loop, &st.t[0], 10000000), 0);
    ck_assert_int_eq(loop_timer_add(loop, &st.t[2], 20000000), 0);
    ck_assert_int_eq(loop_timer_add(loop, &st.t[1], 15000000), 0);
    ck_assert_int_eq(loop_timer_add(loop, &st.t[4], 50000000), 0);
    ck_assert(loop_timer_armed(&st.t[1]));
    loop_timer_cancel(loop, &st.t[1]);
    ck_assert(!loop_timer_armed(&st.t[1]));
    loop_timer_cancel(loop, &st.t[1]); /* twice is harmless */
    /* re-arming moves a timer: 2 now fires after 3 */
    ck_assert_int_eq(loop_timer_add(loop, &st.t[2], 40000000), 0);
    start = loop_now_ns();
    ck_assert_int_eq(loop_run(loop), 0);
    ck_assert_uint_ge(loop_now_ns() - start, 45000000);
    ck_assert_int_eq(st.n, 4);
    ck_assert_int_eq(st.order[0], 0);
    ck_assert_int_eq(st.order[1], 3);
    ck_assert_int_eq(st.order[2], 2);
    ck_assert_int_eq(st.order[3], 4);
    loop_free(loop);
}
END_TEST

/* ---- cross-thread post ---- */

struct pstate {
    struct loop *loop;
    pthread_t loop_thread;
    int count;
    bool on_loop_thread;
};

static void
cmd_inc(struct loop *loop, void *arg)
{
    struct pstate *st = arg;

    if (!pthread_equal(pthread_self(), st->loop_thread) || !loop_is_current(loop))
        st->on_loop_thread = false;
    st->count++;
    if (st->count == 1000)
        loop_stop(loop);
}

static void *
poster(void *arg)
{
    struct pstate *st = arg;

    for (int i = 0; i < 500; i++)
        ck_assert_int_eq(loop_post(st->loop, cmd_inc, st), 0);
    return NULL;
}

static void *
runner(void *arg)
{
    struct pstate *st = arg;

    loop_run(st->loop);
    return NULL;
}

START_TEST(test_cross_thread_post)
{
    struct pstate st = {.on_loop_thread = true};
    pthread_t p1, p2;

    ck_assert_int_eq(loop_new(0, &st.loop), 0);
    ck_assert_int_eq(pthread_create(&st.loop_thread, NULL, runner, &st), 0);
    ck_assert_int_eq(pthread_create(&p1, NULL, poster, &st), 0);
    ck_assert_int_eq(pthread_create(&p2, NULL, poster, &st), 0);
    pthread_join(p1, NULL);
    pthread_join(p2, NULL);
    pthread_join(st.loop_thread, NULL);
    ck_assert_int_eq(st.count, 1000);
    ck_assert(st.on_loop_thread);
    ck_assert(!loop_is_current(st.loop));
    loop_free(st.loop);
}
END_TEST

static void *
stopper(void *arg)
{
    usleep(20000);
    loop_stop(arg);
    return NULL;
}

START_TEST(test_stop_from_other_thread)
{
    struct loop *loop;
    pthread_t t;

    ck_assert_int_eq(loop_new(0, &loop), 0);
    ck_assert_int_eq(pthread_create(&t, NULL, stopper, loop), 0);
    ck_assert_int_eq(loop_run(loop), 0); /* returns: nothing else would stop it */
    pthread_join(t, NULL);
    loop_free(loop);
}
END_TEST

/* ---- I/O over a socketpair ---- */

struct iostate {
    int sv[2];
    char rbuf[64];
    int recv_res, send_res, poll_res, cancel_res;
    struct loop_op rop, sop, pop, cop;
    int done;
};

static void
io_done(struct loop *loop, struct loop_op *op, int res, bool more)
{
    struct iostate *st = op->data;

    ck_assert(!more);
    ck_assert(!op->armed);
    if (op == &st->rop)
        st->recv_res = res;
    else if (op == &st->sop)
        st->send_res = res;
    else if (op == &st->pop)
        st->poll_res = res;
    else
        st->cancel_res = res;
    if (++st->done == 3)
        loop_stop(loop);
}

START_TEST(test_recv_send_poll)
{
    struct loop *loop;
    struct iostate st;

    memset(&st, 0, sizeof(st));
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, st.sv), 0);
    ck_assert_int_eq(loop_new(0, &loop), 0);
    loop_op_init(&st.rop, io_done, &st);
    loop_op_init(&st.sop, io_done, &st);
    loop_op_init(&st.pop, io_done, &st);
    ck_assert_int_eq(loop_poll(loop, &st.pop, st.sv[1], POLLIN), 0);
    ck_assert_int_eq(loop_recv(loop, &st.rop, st.sv[1], st.rbuf, sizeof(st.rbuf), 0), 0);
    ck_assert(st.rop.armed);
    ck_assert_int_eq(loop_send(loop, &st.sop, st.sv[0], "hello ferry", 11, MSG_NOSIGNAL), 0);
    ck_assert_int_eq(loop_run(loop), 0);
    ck_assert_int_eq(st.send_res, 11);
    ck_assert_int_eq(st.recv_res, 11);
    ck_assert_int_eq(memcmp(st.rbuf, "hello ferry", 11), 0);
    ck_assert(st.poll_res & POLLIN);
    loop_free(loop);
    close(st.sv[0]);
    close(st.sv[1]);
}
END_TEST

START_TEST(test_cancel_recv)
{
    struct loop *loop;
    struct iostate st;

    memset(&st, 0, sizeof(st));
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, st.sv), 0);
    ck_assert_int_eq(loop_new(0, &loop), 0);
    loop_op_init(&st.rop, io_done, &st);
    st.done = 2; /* only the recv completion is expected */
    ck_assert_int_eq(loop_recv(loop, &st.rop, st.sv[1], st.rbuf, sizeof(st.rbuf), 0), 0);
    ck_assert_int_eq(loop_cancel(loop, &st.rop), 0);
    ck_assert_int_eq(loop_run(loop), 0);
    ck_assert_int_eq(st.recv_res, -ECANCELED);
    ck_assert(!st.rop.armed);
    /* cancelling an op that is not armed is a no-op */
    ck_assert_int_eq(loop_cancel(loop, &st.rop), 0);
    loop_free(loop);
    close(st.sv[0]);
    close(st.sv[1]);
}
END_TEST

/* ---- splice: file -> pipe -> socket ---- */

struct sstate {
    struct loop_op op;
    int res[2];
    int n;
    int pipefd[2], sv[2], file;
};

static void
splice_done(struct loop *loop, struct loop_op *op, int res, bool more)
{
    struct sstate *st = op->data;

    st->res[st->n++] = res;
    if (st->n == 1 && res > 0) {
        /* second leg from the completion handler, reusing the same op */
        ck_assert_int_eq(loop_splice(loop, op, st->pipefd[0], -1, st->sv[0], -1,
                                     (unsigned)res, 0), 0);
        return;
    }
    loop_stop(loop);
}

START_TEST(test_splice)
{
    char path[] = "/tmp/ferry-loop-splice-XXXXXX", buf[64];
    struct loop *loop;
    struct sstate st;

    memset(&st, 0, sizeof(st));
    st.file = mkstemp(path);
    ck_assert_int_ge(st.file, 0);
    unlink(path);
    ck_assert_int_eq(write(st.file, "0123456789abcdef", 16), 16);
    ck_assert_int_eq(pipe(st.pipefd), 0);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, st.sv), 0);
    ck_assert_int_eq(loop_new(0, &loop), 0);
    loop_op_init(&st.op, splice_done, &st);
    /* bytes 4..13 of the file, by offset: the file position is not used */
    ck_assert_int_eq(loop_splice(loop, &st.op, st.file, 4, st.pipefd[1], -1, 10, 0), 0);
    ck_assert_int_eq(loop_run(loop), 0);
    ck_assert_int_eq(st.res[0], 10);
    ck_assert_int_eq(st.res[1], 10);
    ck_assert_int_eq(read(st.sv[1], buf, sizeof(buf)), 10);
    ck_assert_int_eq(memcmp(buf, "456789abcd", 10), 0);
    loop_free(loop);
    close(st.file);
    close(st.pipefd[0]);
    close(st.pipefd[1]);
    close(st.sv[0]);
    close(st.sv[1]);
}
END_TEST

/* ---- multishot accept ---- */

struct astate {
    struct loop_op aop;
    int fds[3];
    int n;
    bool saw_more;
};

static void
accept_done(struct loop *loop, struct loop_op *op, int res, bool more)
{
    struct astate *st = op->data;

    ck_assert_int_ge(res, 0);
    st->fds[st->n++] = res;
    if (more)
        st->saw_more = true;
    ck_assert(more); /* multishot: the accept stays armed */
    if (st->n == 3)
        loop_stop(loop);
}

START_TEST(test_accept)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t sl = sizeof(sa);
    struct loop *loop;
    struct astate st;
    int lfd, c[3];

    memset(&st, 0, sizeof(st));
    ck_assert_int_eq(loop_new(0, &loop), 0);
    if (!loop_has_multishot_accept(loop)) {
        loop_free(loop);
        return;
    }
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(lfd, 16), 0);
    ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
    loop_op_init(&st.aop, accept_done, &st);
    ck_assert_int_eq(loop_accept(loop, &st.aop, lfd, true), 0);
    for (int i = 0; i < 3; i++) {
        c[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_eq(connect(c[i], (struct sockaddr *)&sa, sizeof(sa)), 0);
    }
    ck_assert_int_eq(loop_run(loop), 0);
    ck_assert_int_eq(st.n, 3);
    ck_assert(st.saw_more);
    ck_assert(st.aop.armed);
    loop_free(loop); /* tears down the still-armed multishot accept */
    for (int i = 0; i < 3; i++) {
        close(st.fds[i]);
        close(c[i]);
    }
    close(lfd);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("loop");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_timers_order_and_cancel);
    tcase_add_test(tc, test_cross_thread_post);
    tcase_add_test(tc, test_stop_from_other_thread);
    tcase_add_test(tc, test_recv_send_poll);
    tcase_add_test(tc, test_cancel_recv);
    tcase_add_test(tc, test_splice);
    tcase_add_test(tc, test_accept);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
