/*
 * tests/control/cli/test_ctl_json.c - control/cli/ctl_json.c: escaping (quotes, control
 * characters, invalid UTF-8), separators, nesting, instances with repeated properties.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_json.h"

static char *out_buf;
static size_t out_len;

static FILE *
out_open(void)
{
    FILE *f = open_memstream(&out_buf, &out_len);

    ck_assert_ptr_nonnull(f);
    return f;
}

static const char *
out_close(FILE *f)
{
    fclose(f);
    return out_buf;
}

static void
check_escaped(const char *in, const char *expect)
{
    FILE *f = out_open();

    ctl_json_write_escaped(f, in);
    ck_assert_str_eq(out_close(f), expect);
    free(out_buf);
}

START_TEST(test_escape)
{
    check_escaped("plain", "\"plain\"");
    check_escaped("a\"b\\c", "\"a\\\"b\\\\c\"");
    check_escaped("l1\nl2\r\t\b\f", "\"l1\\nl2\\r\\t\\b\\f\"");
    check_escaped("\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"");
    check_escaped("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "\"caf\xc3\xa9 \xe2\x82\xac "
                                                               "\xf0\x9f\x98\x80\"");
    /* invalid UTF-8: a lone continuation byte, a truncated sequence, an overlong form,
     * a surrogate */
    check_escaped("a\x80z", "\"a\\ufffdz\"");
    check_escaped("a\xc3", "\"a\\ufffd\"");
    check_escaped("\xc0\xaf", "\"\\ufffd\\ufffd\"");
    check_escaped("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");
    check_escaped("</script>", "\"</script>\"");
}
END_TEST

START_TEST(test_structure)
{
    struct ctl_json j;
    FILE *f = out_open();

    ctl_json_init(&j, f);
    ctl_json_begin_object(&j);
    ctl_json_key(&j, "a");
    ctl_json_u64(&j, 18446744073709551615ULL);
    ctl_json_key(&j, "b");
    ctl_json_begin_array(&j);
    ctl_json_bool(&j, true);
    ctl_json_null(&j);
    ctl_json_string(&j, NULL);
    ctl_json_double(&j, 1.5);
    ctl_json_begin_object(&j);
    ctl_json_end_object(&j);
    ctl_json_end_array(&j);
    ctl_json_key(&j, "c\"");
    ctl_json_string(&j, "x");
    ctl_json_end_object(&j);
    ctl_json_end(&j);
    ck_assert_str_eq(out_close(f), "{\"a\":18446744073709551615,\"b\":[true,null,null,1.500,{}],"
                                   "\"c\\\"\":\"x\"}\n");
    free(out_buf);
}
END_TEST

START_TEST(test_instance)
{
    struct ctl_instance file1 = {0}, file2 = {0}, job = {0};
    struct ctl_prop fp1[] = {{"RemoteUrl", "http://h/a", NULL}};
    struct ctl_prop fp2[] = {{"RemoteUrl", "http://h/b", NULL}};
    struct ctl_prop jp[] = {
        {"JobId", "{X}", NULL},
        {"Files", NULL, &file1},
        {"Description", NULL, NULL},
        {"Files", NULL, &file2},
        {"State", "2", NULL},
    };
    struct ctl_json j;
    FILE *f = out_open();

    file1.props = fp1;
    file1.nprops = 1;
    file2.props = fp2;
    file2.nprops = 1;
    job.props = jp;
    job.nprops = 5;
    ctl_json_init(&j, f);
    ctl_json_instance(&j, &job);
    ctl_json_end(&j);
    ck_assert_str_eq(out_close(f),
                     "{\"JobId\":\"{X}\",\"Files\":[{\"RemoteUrl\":\"http://h/a\"},"
                     "{\"RemoteUrl\":\"http://h/b\"}],\"Description\":null,\"State\":\"2\"}\n");
    free(out_buf);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("ctl_json");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_escape);
    tcase_add_test(tc, test_structure);
    tcase_add_test(tc, test_instance);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
