/*
 * tests/engine/core/test_common.c - engine/core/common.c: status records, FILETIME, GUIDs.
 */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "ferry/common.h"

START_TEST(test_status_set)
{
    struct ferry_status st;

    ferry_status_clear(&st);
    ck_assert_int_eq(st.kind, FERRY_STATUS_OK);
    int r = ferry_status_set(&st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER, FERRY_E_INVALIDARG,
                             "LocalFile", "path '%s' is not absolute", "rel/x");
    ck_assert_int_eq(r, -EINVAL);
    ck_assert_int_eq(st.kind, FERRY_STATUS_INVALID_PARAMETER);
    ck_assert_uint_eq(st.code, 0x80070057u);
    ck_assert_str_eq(st.param, "LocalFile");
    ck_assert_str_eq(st.text, "path 'rel/x' is not absolute");
    /* NULL-safe */
    ck_assert_int_eq(ferry_status_set(NULL, -ENOENT, FERRY_STATUS_NOT_FOUND, 0, NULL, "x"),
                     -ENOENT);
}
END_TEST

START_TEST(test_http_error_code)
{
    ck_assert_uint_eq(FERRY_BG_E_HTTP_ERROR(404), 0x80190194u);
    ck_assert_uint_eq(FERRY_BG_E_HTTP_ERROR(501), 0x801901F5u);
}
END_TEST

START_TEST(test_filetime)
{
    /* 1970-01-01 is 116444736000000000 in FILETIME units. */
    ck_assert_uint_eq(ferry_filetime_from_unix_ns(0), 116444736000000000ULL);
    ck_assert_uint_eq(ferry_filetime_from_unix_ns(1000000000LL), 116444736010000000ULL);
    uint64_t now = ferry_filetime_now();
    ck_assert(now > 133000000000000000ULL); /* after 2022 */
}
END_TEST

START_TEST(test_guid)
{
    char a[FERRY_GUID_STRLEN], b[FERRY_GUID_STRLEN];

    ferry_guid_new(a);
    ferry_guid_new(b);
    ck_assert_uint_eq(strlen(a), 38);
    ck_assert_int_eq(ferry_guid_check(a), 0);
    ck_assert_str_ne(a, b);
    ck_assert_int_eq(a[15], '4'); /* version nibble */
    ck_assert_int_eq(ferry_guid_check("{5e3b1f2a-0000-4000-8000-00000000abcd}"), 0);
    ck_assert_int_eq(ferry_guid_check("5e3b1f2a-0000-4000-8000-00000000abcd"), -EINVAL);
    ck_assert_int_eq(ferry_guid_check("{5e3b1f2a-0000-4000-8000-00000000abcg}"), -EINVAL);
    ck_assert_int_eq(ferry_guid_check("{5e3b1f2a-0000-4000-8000-00000000abcd}x"), -EINVAL);
    ck_assert_int_eq(ferry_guid_check(NULL), -EINVAL);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("common");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_status_set);
    tcase_add_test(tc, test_http_error_code);
    tcase_add_test(tc, test_filetime);
    tcase_add_test(tc, test_guid);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
