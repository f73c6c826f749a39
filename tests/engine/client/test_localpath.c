/*
 * tests/engine/client/test_localpath.c - engine/client/localpath.c: LocalFile must be an
 * absolute POSIX path inside a download root, and cannot escape it by "..", symlinks
 * (followed by openat2 RESOLVE_BENEATH), Windows forms or control characters.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client-test.h"
#include "ferry-test.h"
#include "client/localpath.h"

static char *tmp;
static char root[512], outside[512];
static struct ferry_config *cfg;

static void
setup(void)
{
    char p[700];

    tmp = ft_tmpdir_new("localpath");
    snprintf(root, sizeof(root), "%s/root", tmp);
    snprintf(outside, sizeof(outside), "%s/outside", tmp);
    mkdir(root, 0755);
    mkdir(outside, 0755);
    snprintf(p, sizeof(p), "%s/sub", root);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/escape", root);
    ck_assert_int_eq(symlink(outside, p), 0);       /* root/escape -> ../outside */
    snprintf(p, sizeof(p), "%s/inner", root);
    ck_assert_int_eq(symlink("sub", p), 0);         /* root/inner -> sub (stays inside) */
    snprintf(p, sizeof(p), "%s/abs", root);
    ck_assert_int_eq(symlink("/etc", p), 0);
    snprintf(p, sizeof(p), "%s/proc", root);
    ck_assert_int_eq(symlink("/proc/self/cwd", p), 0);
    cfg = ct_config_new("/nonexistent", root);
}

static void
teardown(void)
{
    ct_config_free(cfg);
    tmp = ft_tmpdir_free(tmp);
}

/* a + b + c must be refused as LocalFile */
static void
refused3(const char *a, const char *b, const char *c)
{
    char path[1024];
    struct ferry_status st;

    snprintf(path, sizeof(path), "%s%s%s", a, b, c);
    ck_assert_msg(localpath_check(cfg, path, &st) == -EINVAL, "'%s' was accepted", path);
    ck_assert_int_eq(st.kind, FERRY_STATUS_INVALID_PARAMETER);
    ck_assert_str_eq(st.param, "LocalFile");
    ck_assert_uint_eq(st.code, FERRY_E_INVALIDARG);
}

START_TEST(test_accepts)
{
    char path[700];
    struct ferry_status st;

    snprintf(path, sizeof(path), "%s/file.bin", root);
    ck_assert_int_eq(localpath_check(cfg, path, &st), 0);
    snprintf(path, sizeof(path), "%s/sub/file.bin", root);
    ck_assert_int_eq(localpath_check(cfg, path, &st), 0);
    snprintf(path, sizeof(path), "%s/inner/file.bin", root); /* symlink inside the root */
    ck_assert_int_eq(localpath_check(cfg, path, &st), 0);
    snprintf(path, sizeof(path), "%s//sub//f", root);
    ck_assert_int_eq(localpath_check(cfg, path, &st), 0);
}
END_TEST

START_TEST(test_refuses)
{
    refused3("", root, "/../outside/x");
    refused3("", root, "/sub/../../outside/x");
    refused3("", root, "/./x");
    refused3("", root, "/escape/x");       /* symlink to a sibling dir */
    refused3("", root, "/abs/passwd");     /* absolute symlink */
    refused3("", root, "/proc/x");         /* magic link */
    refused3("", root, "/missing/x");      /* parent does not exist */
    refused3("", root, "/sub");            /* an existing directory */
    refused3("", root, "/sub/");
    refused3("", outside, "/x");           /* not inside a root */
    refused3("", "/etc/passwd", "");
    refused3("", "relative/x", "");
    refused3("", "", "");
    refused3("C:\\Windows\\", "x", "");
    refused3("", "C:/data/x", "");
    refused3("", "\\\\server\\share\\x", "");
    refused3("", root, "\\sub\\x");
    refused3("", root, "/a\nb");
    refused3("", root, "/a\tb");
    refused3("", root, "/a\x7f");
    {
        char path[1024], name[300];
        memset(name, 'n', 250);
        name[250] = '\0';
        snprintf(path, sizeof(path), "%s/%s", root, name);
        refused3("", path, "");            /* no room for the temp name */
    }
    {
        char prefix[700];
        /* a root that is a prefix string but not a parent: root2 vs root */
        snprintf(prefix, sizeof(prefix), "%s2/x", root);
        refused3("", prefix, "");
    }
}
END_TEST

/* The temp file name, removal, and the commit rename. */
START_TEST(test_temp_and_commit)
{
    char path[700], tmpf[1200], name[300];
    const char *job = "{0123ABCD-0000-4000-8000-000000000000}";
    int dirfd, fd;
    const char *base;
    struct stat sb;

    snprintf(path, sizeof(path), "%s/sub/img.raw", root);
    ck_assert_int_eq(localpath_temp_name("img.raw", job, name, sizeof(name)), 0);
    ck_assert_str_eq(name, ".img.raw.ferry-0123ABCD.part");
    ck_assert_int_eq(localpath_open_dir(cfg, path, &dirfd, &base), 0);
    ck_assert_str_eq(base, "img.raw");
    fd = openat(dirfd, name, O_RDWR | O_CREAT, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "hello", 5), 5);
    close(fd);
    close(dirfd);
    ck_assert_int_ne(stat(path, &sb), 0);
    ck_assert_int_eq(localpath_commit(cfg, job, path), 0);
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_size, 5);
    snprintf(tmpf, sizeof(tmpf), "%s/sub/%s", root, name);
    ck_assert_int_ne(stat(tmpf, &sb), 0);
    /* removal of a temp that is not there is fine */
    ck_assert_int_eq(localpath_remove_temp(cfg, job, path), 0);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("localpath");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_accepts);
    tcase_add_test(tc, test_refuses);
    tcase_add_test(tc, test_temp_and_commit);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
