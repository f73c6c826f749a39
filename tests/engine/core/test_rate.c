/*
 * tests/engine/core/test_rate.c - engine/core/rate.c: the token bucket's arithmetic against
 * a clock the test drives, then real threads on the monotonic clock with bounds computed
 * from the measured elapsed time.
 */
#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "ferry/rate.h"
#include "rate-internal.h"

static uint64_t fake_now;

static uint64_t
fake_clock(void *userdata)
{
    return *(uint64_t *)userdata;
}

START_TEST(test_sizes)
{
    ck_assert_uint_eq(rate_burst(1000000), 100000);
    ck_assert_uint_eq(rate_burst(1000), 16384);
    ck_assert_uint_eq(rate_burst(1), 16384);
    ck_assert_uint_eq(rate_quantum(1000000), 16384);
    ck_assert_uint_eq(rate_quantum(1000), 100);
    ck_assert_uint_eq(rate_quantum(5), 1);
}
END_TEST

START_TEST(test_math)
{
    struct ferry_rate *r;
    uint64_t wait = 12345;

    fake_now = 5000000000ULL;
    r = rate_new_with_clock(1000000, fake_clock, &fake_now);
    ck_assert_ptr_nonnull(r);
    /* starts full: one burst (100 ms at 1 MB/s) */
    ck_assert_uint_eq(ferry_rate_take(r, 1 << 20, &wait), 100000);
    ck_assert_uint_eq(wait, 0);
    /* dry: wait for one quantum, 16384 bytes = 16.384 ms */
    ck_assert_uint_eq(ferry_rate_take(r, 1 << 20, &wait), 0);
    ck_assert_uint_eq(wait, 16384000);
    fake_now += 16383999;
    ck_assert_uint_eq(ferry_rate_take(r, 1 << 20, &wait), 0);
    ck_assert_uint_eq(wait, 1);
    fake_now += 1;
    ck_assert_uint_eq(ferry_rate_take(r, 1 << 20, &wait), 16384);
    ck_assert_uint_eq(wait, 0);
    /* a small want waits only for itself: 100 bytes = 100 us */
    ck_assert_uint_eq(ferry_rate_take(r, 100, &wait), 0);
    ck_assert_uint_eq(wait, 100000);
    fake_now += 100000;
    ck_assert_uint_eq(ferry_rate_take(r, 100, &wait), 100);
    /* fractions carry over: 3 x 333 ns earn 0.999 byte, the next ns completes it */
    fake_now += 333;
    ck_assert_uint_eq(ferry_rate_take(r, 1, &wait), 0);
    fake_now += 333;
    fake_now += 333;
    ck_assert_uint_eq(ferry_rate_take(r, 1, &wait), 0);
    ck_assert_uint_eq(wait, 1);
    fake_now += 1;
    ck_assert_uint_eq(ferry_rate_take(r, 1, &wait), 1);
    /* idle for an hour: capped at one burst */
    fake_now += 3600 * 1000000000ULL;
    ck_assert_uint_eq(ferry_rate_take(r, UINT64_MAX, &wait), 100000);
    /* the clock going backwards earns nothing */
    fake_now -= 1000000000ULL;
    ck_assert_uint_eq(ferry_rate_take(r, 1 << 20, &wait), 0);
    ck_assert_uint_gt(wait, 0);
    ck_assert_ptr_null(ferry_rate_unref(r));
}
END_TEST

/* Drive the bucket for 3 simulated seconds, sleeping exactly what it asks. */
START_TEST(test_simulated_rate)
{
    const uint64_t rates[] = {1000, 65536, 1000000, 123456789, 1ULL << 30};

    for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
        uint64_t rate = rates[i], start, total = 0, wait, steps = 0;
        struct ferry_rate *r;

        fake_now = 1;
        start = fake_now;
        r = rate_new_with_clock(rate, fake_clock, &fake_now);
        while (fake_now - start < 3 * 1000000000ULL && steps < 10000000) {
            uint64_t g = ferry_rate_take(r, 64 * 1024, &wait);
            total += g;
            if (g == 0) {
                ck_assert_uint_gt(wait, 0);
                fake_now += wait;
            } else {
                ck_assert_uint_le(g, 64 * 1024);
            }
            steps++;
        }
        /* exactly burst + rate x elapsed, give or take one grant */
        uint64_t elapsed = fake_now - start;
        double want = (double)rate_burst(rate) + (double)rate * elapsed / 1e9;
        ck_assert_msg((double)total <= want + 1 && (double)total >= want - 64 * 1024 - 1,
                      "rate %llu: granted %llu, expected %.0f", (unsigned long long)rate,
                      (unsigned long long)total, want);
        ferry_rate_unref(r);
    }
}
END_TEST

START_TEST(test_unlimited_and_set)
{
    struct ferry_rate *r;
    uint64_t wait = 7;

    fake_now = 0;
    r = rate_new_with_clock(0, fake_clock, &fake_now);
    ck_assert_uint_eq(ferry_rate_take(r, UINT64_MAX, &wait), UINT64_MAX);
    ck_assert_uint_eq(wait, 0);
    ck_assert_uint_eq(ferry_rate_take(r, 5, NULL), 5);
    ck_assert_uint_eq(ferry_rate_take(NULL, 9, &wait), 9);
    ck_assert_uint_eq(ferry_rate_take(r, 0, &wait), 0);
    ck_assert_uint_eq(wait, 0);

    /* unlimited -> 1 MB/s starts with a full bucket */
    ferry_rate_set(r, 1000000);
    ck_assert_uint_eq(ferry_rate_take(r, 1 << 20, &wait), 100000);
    ck_assert_uint_eq(ferry_rate_take(r, 1 << 20, &wait), 0);
    /* raising the rate lets the bucket refill faster; it was empty */
    ferry_rate_set(r, 10000000);
    fake_now += 1000000; /* 1 ms at 10 MB/s = 10000 bytes, below the 16 KiB quantum */
    ck_assert_uint_eq(ferry_rate_take(r, 1 << 20, &wait), 0);
    ck_assert_uint_eq(wait, 638400); /* (16384 - 10000) bytes at 10 MB/s */
    fake_now += 1000000000ULL;
    ck_assert_uint_eq(ferry_rate_take(r, 1 << 20, &wait), 1000000); /* new burst: 100 ms */
    /* lowering it clamps the credit to the new, smaller burst */
    fake_now += 1000000000ULL;
    ferry_rate_set(r, 1000000);
    ck_assert_uint_eq(ferry_rate_take(r, 1 << 20, &wait), 100000);
    /* back to unlimited */
    ferry_rate_set(r, 0);
    ck_assert_uint_eq(ferry_rate_take(r, 1 << 30, &wait), 1 << 30);
    ferry_rate_set(NULL, 5);

    /* huge rates and clock jumps do not overflow */
    ferry_rate_set(r, UINT64_MAX);
    fake_now += 1ULL << 62;
    ck_assert_uint_eq(ferry_rate_take(r, UINT64_MAX, &wait), UINT64_MAX / 10);
    ferry_rate_unref(r);
}
END_TEST

START_TEST(test_refcount)
{
    struct ferry_rate *r = ferry_rate_new(1000);

    ck_assert_ptr_eq(ferry_rate_ref(r), r);
    ck_assert_ptr_null(ferry_rate_unref(r));
    /* still alive: one reference left */
    ck_assert_uint_eq(ferry_rate_take(r, 100, NULL), 100);
    ck_assert_ptr_null(ferry_rate_unref(r));
    ck_assert_ptr_null(ferry_rate_unref(NULL));
    ck_assert_ptr_null(ferry_rate_ref(NULL));
}
END_TEST

struct taker {
    struct ferry_rate *rate;
    uint64_t deadline;
    uint64_t granted;
};

static uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void *
taker_run(void *arg)
{
    struct taker *t = arg;

    while (now_ns() < t->deadline) {
        uint64_t wait, g = ferry_rate_take(t->rate, 32 * 1024, &wait);
        t->granted += g;
        if (g == 0) {
            struct timespec ts = {.tv_sec = (time_t)(wait / 1000000000ULL),
                                  .tv_nsec = (long)(wait % 1000000000ULL)};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

/* Four threads share a 4 MB/s bucket on the real clock. The bucket never grants more than
 * burst + rate x elapsed (elapsed measured, not assumed); the lower bound is loose because
 * a loaded machine may oversleep. */
START_TEST(test_threads_real_clock)
{
    const uint64_t rate = 4000000;
    struct ferry_rate *r = ferry_rate_new(rate);
    struct taker t[4];
    pthread_t th[4];
    uint64_t start = now_ns(), total = 0, elapsed;

    for (int i = 0; i < 4; i++) {
        t[i] = (struct taker){.rate = r, .deadline = start + 400000000ULL};
        ck_assert_int_eq(pthread_create(&th[i], NULL, taker_run, &t[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        total += t[i].granted;
    }
    elapsed = now_ns() - start;
    double upper = (double)rate_burst(rate) + (double)rate * elapsed / 1e9;
    double lower = (double)rate * 0.4 * 0.5; /* half of the 400 ms share */
    ck_assert_msg((double)total <= upper + 1 && (double)total >= lower,
                  "granted %llu in %.3f s; bounds %.0f..%.0f", (unsigned long long)total,
                  elapsed / 1e9, lower, upper);
    ferry_rate_unref(r);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("rate");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_sizes);
    tcase_add_test(tc, test_math);
    tcase_add_test(tc, test_simulated_rate);
    tcase_add_test(tc, test_unlimited_and_set);
    tcase_add_test(tc, test_refcount);
    tcase_add_test(tc, test_threads_real_clock);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
