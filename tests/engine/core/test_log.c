/*
 * tests/engine/core/test_log.c - engine/core/log.c: levels, line format, one write per line;
 * events print the same plain line; when $JOURNAL_STREAM counts as "stderr is the journal".
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

static void
log_event(void)
{
    ferry_log_set_thread_name("jobs");
    ferry_log_event(FERRY_LOG_WARN, FERRY_MSGID_JOB_ERROR, "{G}", "http://h/a",
                    "job %s: '%s' failed", "{G}", "http://h/a");
}

START_TEST(test_event_plain_line)
{
    char *out = capture(log_event);

    /* the fields only exist in the journal: the plain line is the message alone */
    ck_assert_ptr_nonnull(strstr(out, " WARN jobs: job {G}: 'http://h/a' failed\n"));
    ck_assert_ptr_null(strstr(out, FERRY_MSGID_JOB_ERROR));
    ck_assert_ptr_null(strstr(out, "FERRY_"));
}
END_TEST

static const char *self_exe;

/* Exit status of this binary re-run as "--journal": 1 when it took stderr for the journal.
 * value NULL: $JOURNAL_STREAM unset; "MATCH": the DEV:INO of its stderr (a temp file);
 * "OTHER": its DEV with another inode. A fresh process each time: the answer is decided
 * once per process. */
static int
journal_detected(const char *value)
{
    char path[] = "/tmp/ferry-test-log-XXXXXX";
    int fd = mkstemp(path);
    int status = -1;
    struct stat st;
    pid_t pid;

    ck_assert_int_ge(fd, 0);
    unlink(path);
    ck_assert_int_eq(fstat(fd, &st), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char buf[64];

        dup2(fd, STDERR_FILENO);
        if (!value) {
            unsetenv("JOURNAL_STREAM");
        } else if (strcmp(value, "MATCH") == 0 || strcmp(value, "OTHER") == 0) {
            snprintf(buf, sizeof(buf), "%llu:%llu", (unsigned long long)st.st_dev,
                     (unsigned long long)st.st_ino + (value[0] == 'O'));
            setenv("JOURNAL_STREAM", buf, 1);
        } else {
            setenv("JOURNAL_STREAM", value, 1);
        }
        execl(self_exe, self_exe, "--journal", (char *)NULL);
        _exit(99);
    }
    close(fd);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}

START_TEST(test_journal_detection)
{
    ck_assert_int_eq(journal_detected("MATCH"), 1);
    ck_assert_int_eq(journal_detected(NULL), 0);
    ck_assert_int_eq(journal_detected("OTHER"), 0);
    ck_assert_int_eq(journal_detected(""), 0);
    ck_assert_int_eq(journal_detected("12"), 0);
    ck_assert_int_eq(journal_detected("12:"), 0);
    ck_assert_int_eq(journal_detected(":12"), 0);
    ck_assert_int_eq(journal_detected("1:2x"), 0);
    ck_assert_int_eq(journal_detected("a:b"), 0);
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
main(int argc, char **argv)
{
    Suite *s;
    TCase *tc;
    SRunner *sr;
    int failed;

    if (argc == 2 && strcmp(argv[1], "--journal") == 0)
        return ferry_log_to_journal() ? 1 : 0;
    self_exe = "/proc/self/exe";
    s = suite_create("log");
    tc = tcase_create("core");
    tcase_add_test(tc, test_levels_and_format);
    tcase_add_test(tc, test_event_plain_line);
    tcase_add_test(tc, test_journal_detection);
    tcase_add_test(tc, test_parse_level);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
