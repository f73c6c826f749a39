/*
 * tests/engine/server/test_conditional.c - engine/server/conditional.c: Range parsing (single,
 * suffix, open-ended, unsatisfiable, multi, malformed), HTTP dates, ETag lists and the
 * combined GET/HEAD decision with If-None-Match, If-Modified-Since and If-Range.
 */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "conditional.h"

struct range_case {
    const char *v;
    uint64_t size;
    enum conditional_range_kind kind;
    uint64_t start, len;
};

static const struct range_case ranges[] = {
    {"bytes=0-99", 1000, CONDITIONAL_RANGE_SINGLE, 0, 100},
    {"bytes=100-", 1000, CONDITIONAL_RANGE_SINGLE, 100, 900},
    {"bytes=-100", 1000, CONDITIONAL_RANGE_SINGLE, 900, 100},
    {"bytes=-5000", 1000, CONDITIONAL_RANGE_SINGLE, 0, 1000},
    {"bytes=990-5000", 1000, CONDITIONAL_RANGE_SINGLE, 990, 10},
    {"bytes=999-999", 1000, CONDITIONAL_RANGE_SINGLE, 999, 1},
    {"Bytes = 5-9 ", 1000, CONDITIONAL_RANGE_SINGLE, 5, 5},
    {"bytes=1000-", 1000, CONDITIONAL_RANGE_UNSATISFIABLE, 0, 0},
    {"bytes=2000-3000", 1000, CONDITIONAL_RANGE_UNSATISFIABLE, 0, 0},
    {"bytes=-0", 1000, CONDITIONAL_RANGE_UNSATISFIABLE, 0, 0},
    {"bytes=0-", 0, CONDITIONAL_RANGE_UNSATISFIABLE, 0, 0},
    {"bytes=-1", 0, CONDITIONAL_RANGE_UNSATISFIABLE, 0, 0},
    {"bytes=0-1,5-6", 1000, CONDITIONAL_RANGE_MULTI, 0, 0},
    {"bytes=0-1, -5", 1000, CONDITIONAL_RANGE_MULTI, 0, 0},
    {"bytes=5-2", 1000, CONDITIONAL_RANGE_NONE, 0, 0},
    {"bytes=", 1000, CONDITIONAL_RANGE_NONE, 0, 0},
    {"bytes=a-b", 1000, CONDITIONAL_RANGE_NONE, 0, 0},
    {"bytes=1-2x", 1000, CONDITIONAL_RANGE_NONE, 0, 0},
    {"items=0-5", 1000, CONDITIONAL_RANGE_NONE, 0, 0},
    {"bytes=-", 1000, CONDITIONAL_RANGE_NONE, 0, 0},
    {"bytes=99999999999999999999-", 1000, CONDITIONAL_RANGE_NONE, 0, 0},
    {"bytes=0-18446744073709551615", 1000, CONDITIONAL_RANGE_SINGLE, 0, 1000},
};

START_TEST(test_range)
{
    const struct range_case *c = &ranges[_i];
    uint64_t start = 77, len = 77;
    enum conditional_range_kind k = conditional_range_parse(c->v, c->size, &start, &len);

    ck_assert_msg(k == c->kind, "'%s' size %llu: kind %d want %d", c->v,
                  (unsigned long long)c->size, k, c->kind);
    if (k == CONDITIONAL_RANGE_SINGLE) {
        ck_assert_uint_eq(start, c->start);
        ck_assert_uint_eq(len, c->len);
    }
}
END_TEST

START_TEST(test_dates)
{
    char buf[40];
    time_t t = 0;

    conditional_date_format(784111777, buf, sizeof(buf));
    ck_assert_str_eq(buf, "Sun, 06 Nov 1994 08:49:37 GMT");
    ck_assert_int_eq(conditional_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", &t), 0);
    ck_assert_int_eq(t, 784111777);
    ck_assert_int_eq(conditional_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", &t), 0);
    ck_assert_int_eq(t, 784111777);
    ck_assert_int_eq(conditional_date_parse("Sun Nov  6 08:49:37 1994", &t), 0);
    ck_assert_int_eq(t, 784111777);
    ck_assert_int_eq(conditional_date_parse("yesterday", &t), -EINVAL);
    ck_assert_int_eq(conditional_date_parse("Sun, 06 Nov 1994 08:49:37 GMT junk", &t), -EINVAL);
}
END_TEST

START_TEST(test_etag_list)
{
    ck_assert(conditional_etag_list_match("\"a\"", "\"a\""));
    ck_assert(conditional_etag_list_match("\"x\", W/\"a\"", "\"a\""));
    ck_assert(conditional_etag_list_match(" * ", "\"a\""));
    ck_assert(!conditional_etag_list_match("\"ab\"", "\"a\""));
    ck_assert(!conditional_etag_list_match("a", "\"a\""));
    ck_assert(!conditional_etag_list_match(NULL, "\"a\""));
}
END_TEST

#define ETAG "\"803-1-3e8-5\""
#define MTIME 784111777
#define DATE "Sun, 06 Nov 1994 08:49:37 GMT"
#define OLDER "Sun, 06 Nov 1994 08:49:36 GMT"

static struct conditional_result
eval(bool get, const char *range, const char *if_range, const char *inm, const char *ims)
{
    struct conditional_request rq = {get, range, if_range, inm, ims};
    struct conditional_file f = {ETAG, MTIME, 1000};
    struct conditional_result r;

    conditional_evaluate(&rq, &f, &r);
    return r;
}

START_TEST(test_evaluate)
{
    struct conditional_result r;

    r = eval(true, NULL, NULL, NULL, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.len, 1000);
    r = eval(true, "bytes=10-19", NULL, NULL, NULL);
    ck_assert_int_eq(r.status, 206);
    ck_assert_uint_eq(r.start, 10);
    ck_assert_uint_eq(r.len, 10);
    /* HEAD ignores Range */
    r = eval(false, "bytes=10-19", NULL, NULL, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.len, 1000);
    r = eval(true, "bytes=5000-", NULL, NULL, NULL);
    ck_assert_int_eq(r.status, 416);
    r = eval(true, "bytes=0-1,4-5", NULL, NULL, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.len, 1000);
    /* If-Range: current ETag or date -> 206; stale or weak -> 200 whole */
    ck_assert_int_eq(eval(true, "bytes=-10", ETAG, NULL, NULL).status, 206);
    ck_assert_int_eq(eval(true, "bytes=-10", "\"stale\"", NULL, NULL).status, 200);
    ck_assert_int_eq(eval(true, "bytes=-10", "W/" ETAG, NULL, NULL).status, 200);
    ck_assert_int_eq(eval(true, "bytes=-10", DATE, NULL, NULL).status, 206);
    ck_assert_int_eq(eval(true, "bytes=-10", OLDER, NULL, NULL).status, 200);
    ck_assert_int_eq(eval(true, "bytes=-10", "garbage", NULL, NULL).status, 200);
    /* If-None-Match */
    ck_assert_int_eq(eval(true, NULL, NULL, ETAG, NULL).status, 304);
    ck_assert_int_eq(eval(false, NULL, NULL, "\"x\", " ETAG, NULL).status, 304);
    ck_assert_int_eq(eval(true, NULL, NULL, "*", NULL).status, 304);
    ck_assert_int_eq(eval(true, NULL, NULL, "\"other\"", NULL).status, 200);
    /* If-Modified-Since; ignored when If-None-Match is present */
    ck_assert_int_eq(eval(true, NULL, NULL, NULL, DATE).status, 304);
    ck_assert_int_eq(eval(true, NULL, NULL, NULL, OLDER).status, 200);
    ck_assert_int_eq(eval(true, NULL, NULL, NULL, "bad date").status, 200);
    ck_assert_int_eq(eval(true, NULL, NULL, "\"other\"", DATE).status, 200);
    /* 304 wins over Range */
    ck_assert_int_eq(eval(true, "bytes=0-1", NULL, ETAG, NULL).status, 304);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("conditional");
    TCase *tc = tcase_create("conditional");
    SRunner *sr;
    int failed;

    tcase_add_loop_test(tc, test_range, 0, sizeof(ranges) / sizeof(ranges[0]));
    tcase_add_test(tc, test_dates);
    tcase_add_test(tc, test_etag_list);
    tcase_add_test(tc, test_evaluate);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
