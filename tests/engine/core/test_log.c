/*
 * tests/engine/core/test_log.c - engine/core/log.c: levels, line format, one write per line.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ferry/log.h"

/* Run fn with stderr redirected to a pipe; return what was written. */
static char *
capture(void (*fn)(void))
{
    int p[2];
    int saved = dup(STDERR_FILENO);
    static char buf[8192];
    ssize_t n;

    ck_assert_int_eq(pipe(p), 0);
    dup2(p[1], STDERR_FILENO);
    close(p[1]);
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);
    n = read(p[0], buf, sizeof(buf) - 1);
    close(p[0]);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static void
log_some(void)
{
    ferry_log_set_ident("ferryd");
    ferry_log_set_thread_name("wsman");
    ferry_log_set_level(FERRY_LOG_INFO);
    ferry_log_info("open('%s') failed", "/x\ny");
    ferry_log_debug("hidden %d", 1);
    ferry_log_error("bad %d", 2);
}

START_TEST(test_levels_and_format)
{
    char *out = capture(log_some);

    ck_assert_ptr_nonnull(strstr(out, "ferryd["));
    ck_assert_ptr_nonnull(strstr(out, " INFO wsman: open('/x?y') failed\n"));
    ck_assert_ptr_null(strstr(out, "hidden"));
    ck_assert_ptr_nonnull(strstr(out, " ERROR wsman: bad 2\n"));
    /* exactly two lines */
    int lines = 0;
    for (char *c = out; *c; c++)
        lines += *c == '\n';
    ck_assert_int_eq(lines, 2);
}
END_TEST

START_TEST(test_parse_level)
{
    enum ferry_log_level l;

    ck_assert_int_eq(ferry_log_parse_level("debug", &l), 0);
    ck_assert_int_eq(l, FERRY_LOG_DEBUG);
    ck_assert_int_eq(ferry_log_parse_level("WARN", &l), 0);
    ck_assert_int_eq(l, FERRY_LOG_WARN);
    ck_assert_int_eq(ferry_log_parse_level("loud", &l), -EINVAL);
    ck_assert_int_eq(ferry_log_parse_level(NULL, &l), -EINVAL);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_levels_and_format);
    tcase_add_test(tc, test_parse_level);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
