/*
 * tests/control/cli/test_ctl_progress.c - control/cli/ctl_progress.c: byte/rate/duration
 * formatting, the smoothed rate, ETA and percent arithmetic, the progress line.
 */
#include <check.h>
#include <math.h>
#include <string.h>

#include "ctl_progress.h"

static const char *
bytes(uint64_t v)
{
    static char buf[32];

    ctl_format_bytes(v, buf, sizeof(buf));
    return buf;
}

static const char *
dur(double s)
{
    static char buf[32];

    ctl_format_duration(s, buf, sizeof(buf));
    return buf;
}

START_TEST(test_format)
{
    char buf[32];

    ck_assert_str_eq(bytes(0), "0 B");
    ck_assert_str_eq(bytes(1023), "1023 B");
    ck_assert_str_eq(bytes(1024), "1.0 KiB");
    ck_assert_str_eq(bytes(1536), "1.5 KiB");
    ck_assert_str_eq(bytes(4ULL << 30), "4.0 GiB");
    ck_assert_str_eq(bytes((1ULL << 20) - 1), "1.0 MiB"); /* not "1024.0 KiB" */
    ck_assert_str_eq(bytes(UINT64_MAX), "16.0 EiB");
    ctl_format_rate(112.3 * 1048576.0, buf, sizeof(buf));
    ck_assert_str_eq(buf, "112.3 MiB/s");
    ctl_format_rate(-1, buf, sizeof(buf));
    ck_assert_str_eq(buf, "-- B/s");
    ctl_format_rate(NAN, buf, sizeof(buf));
    ck_assert_str_eq(buf, "-- B/s");
    ck_assert_str_eq(dur(0), "0:00");
    ck_assert_str_eq(dur(7.4), "0:07");
    ck_assert_str_eq(dur(754), "12:34");
    ck_assert_str_eq(dur(3723), "1:02:03");
    ck_assert_str_eq(dur(-1), "--:--");
    ck_assert_str_eq(dur(INFINITY), "--:--");
}
END_TEST

START_TEST(test_states)
{
    ck_assert_str_eq(ctl_state_name(0), "QUEUED");
    ck_assert_str_eq(ctl_state_name(5), "TRANSIENT_ERROR");
    ck_assert_str_eq(ctl_state_name(8), "CANCELLED");
    ck_assert_str_eq(ctl_state_name(9), "UNKNOWN");
    ck_assert_int_eq(ctl_state_parse("acknowledged"), 7);
    ck_assert_int_eq(ctl_state_parse("nope"), -1);
}
END_TEST

START_TEST(test_eta_percent)
{
    ck_assert(fabs(ctl_eta(0, 1000, 100) - 10.0) < 1e-9);
    ck_assert(fabs(ctl_eta(500, 1000, 100) - 5.0) < 1e-9);
    ck_assert(ctl_eta(1000, 1000, 0) == 0);
    ck_assert(ctl_eta(10, 1000, 0) < 0);
    ck_assert(ctl_eta(10, CTL_SIZE_UNKNOWN, 100) < 0);
    ck_assert(fabs(ctl_percent(1, 4) - 25.0) < 1e-9);
    ck_assert(ctl_percent(5, 4) == 100.0);
    ck_assert(ctl_percent(0, 0) == 100.0);
    ck_assert(ctl_percent(0, CTL_SIZE_UNKNOWN) < 0);
}
END_TEST

START_TEST(test_rate)
{
    struct ctl_rate r;

    ctl_rate_init(&r, 2.0);
    ctl_rate_update(&r, 0.0, 0);
    ck_assert(!r.has_rate);
    ctl_rate_update(&r, 1.0, 100 << 20);
    ck_assert(r.has_rate);
    ck_assert(fabs(r.rate - 104857600.0) < 1.0);
    /* a steady 100 MiB/s stays 100 MiB/s */
    for (int i = 2; i < 20; i++)
        ctl_rate_update(&r, i, (uint64_t)i * (100 << 20));
    ck_assert(fabs(r.rate - 104857600.0) < 1.0);
    /* a stall decays towards 0 but not at once */
    ctl_rate_update(&r, 20.0, 19ULL * (100 << 20));
    ck_assert(r.rate > 0.3 * 104857600.0 && r.rate < 0.7 * 104857600.0);
    /* no time elapsed: ignored */
    double before = r.rate;
    ctl_rate_update(&r, 20.0, 30ULL * (100 << 20));
    ck_assert(r.rate == before);
    /* a restart (bytes went down) resets the base instead of a negative rate */
    ctl_rate_update(&r, 21.0, 0);
    ck_assert(r.rate >= 0);
    ctl_rate_update(&r, 22.0, 50 << 20);
    ck_assert(r.rate > 0);
}
END_TEST

START_TEST(test_line)
{
    char line[256];

    ctl_progress_line(line, sizeof(line), 120, "TRANSFERRING", 1ULL << 30, 4ULL << 30,
                      100.0 * 1048576);
    ck_assert_ptr_nonnull(strstr(line, " 25.0%"));
    ck_assert_ptr_nonnull(strstr(line, "1.0 GiB/4.0 GiB"));
    ck_assert_ptr_nonnull(strstr(line, "100.0 MiB/s"));
    ck_assert_ptr_nonnull(strstr(line, "ETA 0:31")); /* 3 GiB at 100 MiB/s = 30.72 s */
    ck_assert_ptr_nonnull(strstr(line, "TRANSFERRING"));
    ck_assert(line[0] == '[');
    ck_assert_uint_le(strlen(line), 120);
    /* a quarter of the bar is filled */
    {
        size_t bar = strchr(line, ']') - line - 1, hashes = 0;

        for (size_t i = 1; i <= bar; i++)
            hashes += line[i] == '#';
        ck_assert_uint_eq(hashes, bar / 4);
    }
    /* the bar keeps its width while the figures beside it change length */
    {
        char a[256], b[256];

        ctl_progress_line(a, sizeof(a), 120, "QUEUED", 0, 10, -1);
        ctl_progress_line(b, sizeof(b), 120, "TRANSIENT_ERROR", 999ULL << 30, 1000ULL << 30,
                          900.0 * 1048576);
        ck_assert_int_eq(strchr(a, ']') - a, strchr(b, ']') - b);
    }
    /* narrow terminal: no bar; unknown size */
    ctl_progress_line(line, sizeof(line), 30, "CONNECTING", 0, CTL_SIZE_UNKNOWN, -1);
    ck_assert(line[0] != '[');
    ck_assert_ptr_nonnull(strstr(line, "0 B/?"));
    ck_assert_ptr_nonnull(strstr(line, "ETA --:--"));
    /* 99.96% is not shown as 100.0% */
    ctl_progress_line(line, sizeof(line), 100, "TRANSFERRING", 9996, 10000, 1);
    ck_assert_ptr_nonnull(strstr(line, " 99.9%"));
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("ctl_progress");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_format);
    tcase_add_test(tc, test_states);
    tcase_add_test(tc, test_eta_percent);
    tcase_add_test(tc, test_rate);
    tcase_add_test(tc, test_line);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
