/*
 * tests/engine/core/test_authlimit.c - engine/core/authlimit.c and authpool.c: who waits
 * after failed logins (address, /24 and /64 prefix, user), that a clean address is never
 * made to wait, backoff expiry, and the pool's cache, queue bound and threads; and
 * engine/core/authtarpit.c: the refusal budget per prefix, the held delays and their decay
 * (on a clock the test drives).
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "ferry/auth.h"

static struct sockaddr_storage
addr(const char *text)
{
    struct sockaddr_storage ss;

    memset(&ss, 0, sizeof(ss));
    if (strchr(text, ':')) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        ck_assert_int_eq(inet_pton(AF_INET6, text, &s6->sin6_addr), 1);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        ck_assert_int_eq(inet_pton(AF_INET, text, &s4->sin_addr), 1);
    }
    return ss;
}

/* A socket address for text, valid until the 8th call after this one. */
static const struct sockaddr *
SA(const char *text)
{
    static struct sockaddr_storage ring[8];
    static unsigned next;
    struct sockaddr_storage *ss = &ring[next++ % 8];

    *ss = addr(text);
    return (const struct sockaddr *)ss;
}

START_TEST(test_one_address)
{
    struct ferry_authlimit *l;

    ck_assert_int_eq(ferry_authlimit_new(3, &l), 0);
    for (int i = 0; i < 3; i++) {
        ck_assert_uint_eq(ferry_authlimit_wait(l, SA("10.0.0.1"), "admin"), 0);
        ferry_authlimit_fail(l, SA("10.0.0.1"), "admin");
    }
    /* the guessing address waits, for any user */
    ck_assert_uint_gt(ferry_authlimit_wait(l, SA("10.0.0.1"), "admin"), 0);
    ck_assert_uint_gt(ferry_authlimit_wait(l, SA("10.0.0.1"), "bob"), 0);
    /* a clean address is never refused, even for the guessed user */
    ck_assert_uint_eq(ferry_authlimit_wait(l, SA("10.0.0.2"), "admin"), 0);
    ck_assert_uint_eq(ferry_authlimit_wait(l, SA("192.168.1.1"), "admin"), 0);
    /* backoff: 5 s at the limit */
    ferry_authlimit_age(l, 6);
    ck_assert_uint_eq(ferry_authlimit_wait(l, SA("10.0.0.1"), "admin"), 0);
    /* and it doubles with every further failure */
    ferry_authlimit_fail(l, SA("10.0.0.1"), "admin");
    ck_assert_uint_gt(ferry_authlimit_wait(l, SA("10.0.0.1"), "x"), 5);
    ck_assert_uint_le(ferry_authlimit_wait(l, SA("10.0.0.1"), "x"), 10);
    ferry_authlimit_free(l);
}
END_TEST

START_TEST(test_prefix_and_user)
{
    struct ferry_authlimit *l;
    char a[32];

    ck_assert_int_eq(ferry_authlimit_new(3, &l), 0);
    /* 40 addresses of one /24, one guess each against admin: every first guess is
     * allowed (clean), every second one waits (prefix and user are hot) */
    for (int i = 1; i <= 40; i++) {
        snprintf(a, sizeof(a), "127.0.0.%d", i);
        ck_assert_uint_eq(ferry_authlimit_wait(l, SA(a), "admin"), 0);
        ferry_authlimit_fail(l, SA(a), "admin");
    }
    ck_assert_uint_gt(ferry_authlimit_wait(l, SA("127.0.0.7"), "admin"), 0);
    ck_assert_uint_gt(ferry_authlimit_wait(l, SA("127.0.0.7"), "bob"), 0); /* hot prefix */
    /* the owner's clean address in the same /24 is never refused */
    ck_assert_uint_eq(ferry_authlimit_wait(l, SA("127.0.0.200"), "admin"), 0);
    ck_assert_uint_eq(ferry_authlimit_wait(l, SA("127.0.1.7"), "admin"), 0);

    /* the user alone: one failure each from many /24s makes a 2nd guess wait */
    for (int i = 1; i <= 5; i++) {
        snprintf(a, sizeof(a), "10.%d.0.1", i);
        ferry_authlimit_fail(l, SA(a), "carol");
    }
    ck_assert_uint_gt(ferry_authlimit_wait(l, SA("10.3.0.1"), "carol"), 0);
    ck_assert_uint_eq(ferry_authlimit_wait(l, SA("10.3.0.1"), "dave"), 0);
    ck_assert_uint_eq(ferry_authlimit_wait(l, SA("10.99.0.1"), "carol"), 0);
    ferry_authlimit_free(l);
}
END_TEST

/* A burst of one-off failures from 20,000 addresses (more than the 4096 slots) neither
 * evicts a blocked guesser nor costs a table scan per call. */
START_TEST(test_many_addresses)
{
    struct ferry_authlimit *l;
    struct sockaddr_in sa = {.sin_family = AF_INET};
    struct timespec t0, t1;
    double us;

    ck_assert_int_eq(ferry_authlimit_new(3, &l), 0);
    for (int i = 0; i < 5; i++)
        ferry_authlimit_fail(l, SA("10.0.0.1"), NULL);
    ck_assert_uint_gt(ferry_authlimit_wait(l, SA("10.0.0.1"), NULL), 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (uint32_t i = 0; i < 20000; i++) {
        sa.sin_addr.s_addr = htonl(0x0b000000u + (i << 8)); /* one per /24 */
        ck_assert_uint_eq(ferry_authlimit_wait(l, (struct sockaddr *)&sa, NULL), 0);
        ferry_authlimit_fail(l, (struct sockaddr *)&sa, NULL);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    us = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / 1e3;
    ck_assert_uint_gt(ferry_authlimit_wait(l, SA("10.0.0.1"), NULL), 0);
    /* a scan of the three tables per call took ~90 us; the windows take ~2 us (50 us
     * leaves room for a slow, loaded or sanitized build) */
    ck_assert_double_lt(us / 20000.0, 50.0);
    ferry_authlimit_free(l);
}
END_TEST

START_TEST(test_ipv6_prefix)
{
    struct ferry_authlimit *l;
    char a[64];

    ck_assert_int_eq(ferry_authlimit_new(2, &l), 0);
    for (int i = 1; i <= 10; i++) {
        snprintf(a, sizeof(a), "2001:db8:1:2::%x", i);
        ferry_authlimit_fail(l, SA(a), NULL);
    }
    /* same /64: a failed address waits; a clean one does not; another /64 is unaffected */
    ck_assert_uint_gt(ferry_authlimit_wait(l, SA("2001:db8:1:2::3"), "u"), 0);
    ck_assert_uint_eq(ferry_authlimit_wait(l, SA("2001:db8:1:2::99"), "u"), 0);
    ferry_authlimit_fail(l, SA("2001:db8:1:3::1"), NULL);
    ck_assert_uint_eq(ferry_authlimit_wait(l, SA("2001:db8:1:3::1"), "u"), 0);
    /* IPv4-mapped IPv6 is the IPv4 address */
    ferry_authlimit_fail(l, SA("::ffff:10.1.1.1"), NULL);
    ferry_authlimit_fail(l, SA("10.1.1.1"), NULL);
    ck_assert_uint_gt(ferry_authlimit_wait(l, SA("10.1.1.1"), "u"), 0);
    ferry_authlimit_free(l);
}
END_TEST

START_TEST(test_no_limit)
{
    struct ferry_authlimit *l;

    ck_assert_int_eq(ferry_authlimit_new(0, &l), 0);
    for (int i = 0; i < 50; i++)
        ferry_authlimit_fail(l, SA("10.0.0.1"), "admin");
    ck_assert_uint_eq(ferry_authlimit_wait(l, SA("10.0.0.1"), "admin"), 0);
    ferry_authlimit_free(l);
}
END_TEST

/* ---- the pool, with a slow fake verifier ---- */

static atomic_uint verify_calls;
static atomic_int verify_gate; /* 0: block until set */
static atomic_int verify_nice; /* the nice value of the thread that ran the last check */

static int
fake_verify(struct ferry_users *users, const char *name, const char *password,
            enum ferry_role *ret_role)
{
    (void)users;
    atomic_fetch_add(&verify_calls, 1);
    atomic_store(&verify_nice, getpriority(PRIO_PROCESS, (id_t)gettid()));
    while (!atomic_load(&verify_gate))
        usleep(1000);
    if (strcmp(name, "admin") == 0 && strcmp(password, "pw") == 0) {
        *ret_role = FERRY_ROLE_ADMIN;
        return 0;
    }
    return -EACCES;
}

struct done_box {
    atomic_int done;
};

static void
on_done(struct ferry_auth_req *req)
{
    struct done_box *b = req->ud;

    atomic_store(&b->done, 1);
}

static void
fill(struct ferry_auth_req *req, const char *user, const char *pass, const char *peer,
     struct done_box *box)
{
    struct sockaddr_storage ss = addr(peer);

    memset(req, 0, sizeof(*req));
    snprintf(req->user, sizeof(req->user), "%s", user);
    snprintf(req->pass, sizeof(req->pass), "%s", pass);
    memcpy(&req->peer, &ss, sizeof(ss));
    req->peer_len = sizeof(struct sockaddr_in);
    req->what = "test";
    req->done = on_done;
    req->ud = box;
}

static void
wait_done(struct done_box *b)
{
    for (int i = 0; i < 5000 && !atomic_load(&b->done); i++)
        usleep(1000);
    ck_assert_int_eq(atomic_load(&b->done), 1);
}

START_TEST(test_tarpit_budget)
{
    static const unsigned want[] = {100, 200, 400, 800, 1600, 2000, 2000, 2000};
    struct ferry_tarpit *t;
    char a[32];

    ck_assert_int_eq(ferry_tarpit_new(4, &t), 0);
    /* a burst of 4 from one /24 is answered at once, from any of its addresses */
    for (int i = 0; i < 4; i++) {
        snprintf(a, sizeof(a), "10.0.0.%d", i + 1);
        ck_assert_uint_eq(ferry_tarpit_refusal(t, SA(a), 1000), 0);
    }
    /* past it: 100 ms doubling to the 2 s cap */
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        ck_assert_uint_eq(ferry_tarpit_refusal(t, SA("10.0.0.77"), 1000), want[i]);
    /* another prefix is not held; neither is a socket that is no IP address */
    ck_assert_uint_eq(ferry_tarpit_refusal(t, SA("10.0.1.1"), 1000), 0);
    ck_assert_uint_eq(ferry_tarpit_refusal(t, NULL, 1000), 0);
    {
        struct sockaddr un = {.sa_family = AF_UNIX};

        ck_assert_uint_eq(ferry_tarpit_refusal(t, &un, 1000), 0);
    }
    ck_assert_ptr_null(ferry_tarpit_free(t));
}
END_TEST

START_TEST(test_tarpit_decay)
{
    struct ferry_tarpit *t;

    ck_assert_int_eq(ferry_tarpit_new(4, &t), 0);
    /* 30 refusals at once: the bucket stops at 4 + 16 */
    for (int i = 0; i < 30; i++)
        ferry_tarpit_refusal(t, SA("192.0.2.9"), 0);
    /* 1 s later 4 have drained: 17 > 4, still the cap */
    ck_assert_uint_eq(ferry_tarpit_refusal(t, SA("192.0.2.9"), 1000), 2000);
    /* 3 s after that 12 more have drained: 5 + this one, two past the budget */
    ck_assert_uint_eq(ferry_tarpit_refusal(t, SA("192.0.2.9"), 4000), 200);
    /* stopped misbehaving: the bucket is empty again, immediate answers */
    ck_assert_uint_eq(ferry_tarpit_refusal(t, SA("192.0.2.9"), 6250), 0);
    /* a steady rate at the budget (4 a second) is never held */
    for (int i = 0; i < 100; i++)
        ck_assert_uint_eq(ferry_tarpit_refusal(t, SA("192.0.2.10"), 10000 + i * 250), 0);
    /* an IPv6 /64 is one prefix: ::1 and ::2 share a bucket, another /64 does not */
    for (int i = 0; i < 4; i++)
        ck_assert_uint_eq(ferry_tarpit_refusal(t, SA(i % 2 ? "2001:db8::1" : "2001:db8::2"),
                                               50000), 0);
    ck_assert_uint_eq(ferry_tarpit_refusal(t, SA("2001:db8::3"), 50000), 100);
    ck_assert_uint_eq(ferry_tarpit_refusal(t, SA("2001:db8:0:1::1"), 50000), 0);
    /* rate 0: never held */
    ck_assert_ptr_null(ferry_tarpit_free(t));
    ck_assert_int_eq(ferry_tarpit_new(0, &t), 0);
    for (int i = 0; i < 50; i++)
        ck_assert_uint_eq(ferry_tarpit_refusal(t, SA("192.0.2.9"), 0), 0);
    ck_assert_ptr_null(ferry_tarpit_free(t));
}
END_TEST

START_TEST(test_pool)
{
    struct ferry_authlimit *l;
    struct ferry_authpool *p;
    struct ferry_auth_req reqs[4], r;
    struct done_box boxes[4] = {0}, box = {0};

    atomic_store(&verify_calls, 0);
    atomic_store(&verify_gate, 0);
    ck_assert_int_eq(ferry_authlimit_new(3, &l), 0);
    ck_assert_int_eq(ferry_authpool_new(1, 2, fake_verify, NULL, l, &p), 0);
    /* one on the thread (blocked in verify), two queued, the fourth finds the queue full */
    fill(&reqs[0], "admin", "pw", "10.0.0.1", &boxes[0]);
    ck_assert_int_eq(ferry_authpool_check(p, &reqs[0]), FERRY_AUTH_PENDING);
    for (int i = 0; i < 2000 && atomic_load(&verify_calls) == 0; i++)
        usleep(1000);
    for (int i = 1; i < 3; i++) {
        fill(&reqs[i], "admin", "bad", "10.0.0.2", &boxes[i]);
        ck_assert_int_eq(ferry_authpool_check(p, &reqs[i]), FERRY_AUTH_PENDING);
    }
    fill(&reqs[3], "admin", "bad", "10.0.0.3", &boxes[3]);
    ck_assert_int_eq(ferry_authpool_check(p, &reqs[3]), FERRY_AUTH_BUSY);
    ck_assert_uint_gt(reqs[3].retry_after, 0);
    atomic_store(&verify_gate, 1);
    for (int i = 0; i < 3; i++)
        wait_done(&boxes[i]);
    /* PBKDF2 runs niced (10, or the process's own nice when that is higher) */
    ck_assert_int_ge(atomic_load(&verify_nice), 10);
    ck_assert_int_ge(atomic_load(&verify_nice), getpriority(PRIO_PROCESS, 0));
    ck_assert_int_eq(reqs[0].result, FERRY_AUTH_OK);
    ck_assert_int_eq(reqs[0].role, FERRY_ROLE_ADMIN);
    ck_assert_int_eq(reqs[1].result, FERRY_AUTH_BAD);
    ck_assert_int_eq(reqs[2].result, FERRY_AUTH_BAD);
    /* the password was wiped once checked */
    ck_assert_str_eq(reqs[0].pass, "");
    /* a verified credential answers at once, without PBKDF2 */
    unsigned calls = atomic_load(&verify_calls);
    fill(&r, "admin", "pw", "10.0.0.9", &box);
    ck_assert_int_eq(ferry_authpool_check(p, &r), FERRY_AUTH_OK);
    ck_assert_uint_eq(atomic_load(&verify_calls), calls);
    /* ...also from an address that is waiting: the owner is not locked out */
    ferry_authlimit_fail(l, SA("10.0.0.2"), NULL);
    fill(&r, "admin", "pw", "10.0.0.2", &box);
    ck_assert_int_eq(ferry_authpool_check(p, &r), FERRY_AUTH_OK);
    /* while a guess from there is refused without PBKDF2 */
    fill(&r, "admin", "guess", "10.0.0.2", &box);
    ck_assert_int_eq(ferry_authpool_check(p, &r), FERRY_AUTH_LIMITED);
    ck_assert_uint_gt(r.retry_after, 0);
    ck_assert_uint_eq(atomic_load(&verify_calls), calls);
    /* the cache forgets after 30 s */
    ferry_authpool_age(p, 31);
    fill(&r, "admin", "pw", "10.0.0.9", &box);
    ck_assert_int_eq(ferry_authpool_check_sync(p, &r), FERRY_AUTH_OK);
    ck_assert_uint_eq(atomic_load(&verify_calls), calls + 1);
    ferry_authpool_free(p);
    ferry_authlimit_free(l);
}
END_TEST

START_TEST(test_pool_stop)
{
    struct ferry_authlimit *l;
    struct ferry_authpool *p;
    struct ferry_auth_req reqs[3];
    struct done_box boxes[3] = {0};

    atomic_store(&verify_calls, 0);
    atomic_store(&verify_gate, 0);
    ck_assert_int_eq(ferry_authlimit_new(3, &l), 0);
    ck_assert_int_eq(ferry_authpool_new(1, 4, fake_verify, NULL, l, &p), 0);
    for (int i = 0; i < 3; i++) {
        fill(&reqs[i], "admin", "x", "10.0.0.1", &boxes[i]);
        ck_assert_int_eq(ferry_authpool_check(p, &reqs[i]), FERRY_AUTH_PENDING);
    }
    for (int i = 0; i < 2000 && atomic_load(&verify_calls) == 0; i++)
        usleep(1000);
    atomic_store(&verify_gate, 1);
    ferry_authpool_free(p); /* every queued check still completes, once */
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(atomic_load(&boxes[i].done), 1);
    ck_assert_int_eq(reqs[2].result, FERRY_AUTH_BUSY);
    ferry_authlimit_free(l);
}
END_TEST

static Suite *
authlimit_suite(void)
{
    Suite *s = suite_create("authlimit");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_one_address);
    tcase_add_test(tc, test_prefix_and_user);
    tcase_add_test(tc, test_ipv6_prefix);
    tcase_add_test(tc, test_many_addresses);
    tcase_add_test(tc, test_no_limit);
    tcase_add_test(tc, test_tarpit_budget);
    tcase_add_test(tc, test_tarpit_decay);
    tcase_add_test(tc, test_pool);
    tcase_add_test(tc, test_pool_stop);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(authlimit_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
