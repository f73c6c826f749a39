/*
 * tests/engine/client/test_cmdline.c - engine/client/cmdline.c: the notification command
 * line (SetNotifyCmdLine's Parameters, ferryctl --notify-cmd) splits into exactly the
 * argv meant, shell syntax stays literal, malformed lines are refused, and the canonical
 * form (NotifyCmdLine) splits back into the same argv.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/jobs.h"

/* Split s and compare with the NULL-terminated expected words. */
static void
split_is(const char *s, const char *const *want)
{
    char **argv = NULL;
    size_t argc = 0, n = 0;

    while (want[n])
        n++;
    ck_assert_msg(ferry_cmdline_split(s, &argv, &argc) == 0, "split '%s'", s);
    ck_assert_msg(argc == n, "'%s': %zu words, want %zu", s, argc, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_str_eq(argv[i], want[i]);
    if (n == 0)
        ck_assert_ptr_null(argv);
    ferry_cmdline_free(argv, argc);
}

#define W(...) ((const char *const[]){__VA_ARGS__, NULL})

START_TEST(test_split)
{
    split_is("/bin/prog", W("/bin/prog"));
    split_is("  /bin/prog   a\tb  ", W("/bin/prog", "a", "b"));
    split_is("/p 'two words' \"q\\\"uote\" back\\ slash", W("/p", "two words", "q\"uote",
                                                            "back slash"));
    split_is("/p 'a'\"b\"c", W("/p", "abc"));
    split_is("/p '' \"\"", W("/p", "", ""));
    split_is("/p \"a\\\\b\" \"c\\d\" 'e\\f'", W("/p", "a\\b", "c\\d", "e\\f"));
    /* no shell: operators, variables, globs, tildes and backticks stay literal */
    split_is("/p ; rm -rf / | $HOME `id` * ~ && >x", W("/p", ";", "rm", "-rf", "/", "|",
                                                      "$HOME", "`id`", "*", "~", "&&", ">x"));
    split_is("/p \"it's\" 'say \"hi\"'", W("/p", "it's", "say \"hi\""));
    split_is("", (const char *const[]){NULL});
    split_is("   ", (const char *const[]){NULL});
}
END_TEST

START_TEST(test_refused)
{
    static const char *const bad[] = {
        "/p 'open", "/p \"open", "/p \"esc\\\"", "/p trailing\\", "/p a\nb", "/p a\rb",
        "/p \x01", "/p \x7f", "/p '\n'",
    };
    char **argv = (char **)1;
    size_t argc = 7;
    char *big;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(ferry_cmdline_split(bad[i], &argv, &argc) == -EINVAL, "'%s'", bad[i]);
        ck_assert_ptr_eq(argv, (char **)1); /* untouched on failure */
        ck_assert_uint_eq(argc, 7);
    }
    ck_assert_int_eq(ferry_cmdline_split(NULL, &argv, &argc), -EINVAL);
    /* FERRY_NOTIFY_MAX_ARGS words pass, one more is refused */
    big = calloc(1, 2 * FERRY_NOTIFY_MAX_ARGS + 4);
    ck_assert_ptr_nonnull(big);
    for (size_t i = 0; i < FERRY_NOTIFY_MAX_ARGS; i++)
        memcpy(big + 2 * i, "a ", 2);
    ck_assert_int_eq(ferry_cmdline_split(big, &argv, &argc), 0);
    ck_assert_uint_eq(argc, FERRY_NOTIFY_MAX_ARGS);
    ferry_cmdline_free(argv, argc);
    big[2 * FERRY_NOTIFY_MAX_ARGS] = 'b';
    argv = (char **)1;
    ck_assert_int_eq(ferry_cmdline_split(big, &argv, &argc), -EINVAL);
    free(big);
    /* FERRY_NOTIFY_MAX_CMDLINE bytes pass, one more is refused */
    big = malloc(FERRY_NOTIFY_MAX_CMDLINE + 2);
    ck_assert_ptr_nonnull(big);
    memset(big, 'x', FERRY_NOTIFY_MAX_CMDLINE);
    big[FERRY_NOTIFY_MAX_CMDLINE] = '\0';
    ck_assert_int_eq(ferry_cmdline_split(big, &argv, &argc), 0);
    ck_assert_uint_eq(argc, 1);
    ck_assert_uint_eq(strlen(argv[0]), FERRY_NOTIFY_MAX_CMDLINE);
    ferry_cmdline_free(argv, argc);
    big[FERRY_NOTIFY_MAX_CMDLINE] = 'x';
    big[FERRY_NOTIFY_MAX_CMDLINE + 1] = '\0';
    ck_assert_int_eq(ferry_cmdline_split(big, &argv, &argc), -EINVAL);
    free(big);
}
END_TEST

START_TEST(test_join_round_trip)
{
    char *words[] = {"/usr/bin/logger", "-t", "ferry job", "", "a\"b\\c", "it's", "$X",
                     "tab\there", "plain_@%+=:,./-"};
    size_t n = sizeof(words) / sizeof(words[0]);
    char *line = ferry_cmdline_join(words, n);
    char **argv = NULL;
    size_t argc = 0;

    ck_assert_ptr_nonnull(line);
    ck_assert_str_eq(line, "/usr/bin/logger -t \"ferry job\" \"\" \"a\\\"b\\\\c\" \"it's\" "
                           "\"$X\" \"tab\there\" plain_@%+=:,./-");
    ck_assert_int_eq(ferry_cmdline_split(line, &argv, &argc), 0);
    ck_assert_uint_eq(argc, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_str_eq(argv[i], words[i]);
    ferry_cmdline_free(argv, argc);
    free(line);
    line = ferry_cmdline_join(NULL, 0);
    ck_assert_str_eq(line, "");
    free(line);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("cmdline");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_split);
    tcase_add_test(tc, test_refused);
    tcase_add_test(tc, test_join_round_trip);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
