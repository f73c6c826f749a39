/*
 * tests/engine/core/test_users.c - engine/core/users.c: add, verify, replace, reload after
 * an external change, malformed files, file mode, and hashes checked against Python's
 * hashlib.pbkdf2_hmac (an independent PBKDF2 implementation).
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ferry-test.h"
#include "ferry/users.h"
#include "users-internal.h"

/* Computed with hashlib.pbkdf2_hmac('sha256', b's3cret', bytes(range(1, 17)), 1000). */
#define CAROL "carol:user:pbkdf2-sha256$1000$AQIDBAUGBwgJCgsMDQ4PEA==$" \
              "+YXx+XUTj1aKhv3lUP5obS+I9GvK9sXF/8hBJH4Ffa8="
/* hashlib.pbkdf2_hmac('sha256', 'päss w:rd'.encode(), b'0123456789', 7, dklen=20) */
#define DAVE "dave@example.org:admin:pbkdf2-sha256$7$MDEyMzQ1Njc4OQ==$5S5b3FxZitjJRBdMriDzLfeivW0="

static char *tmp;
static char *path;

static void
setup(void)
{
    tmp = ft_tmpdir_new("users");
    ck_assert_ptr_nonnull(tmp);
    ck_assert_int_ge(asprintf(&path, "%s/users", tmp), 0);
    users_set_new_iterations(1000);
}

static void
teardown(void)
{
    users_set_new_iterations(0);
    free(path);
    path = NULL;
    tmp = ft_tmpdir_free(tmp);
}

/* noinline: inlined, gcc 12 -O3 takes the result for a pointer to the local `data`
 * (-Wdangling-pointer false positive). */
__attribute__((noinline)) static char *
slurp(const char *p)
{
    char *data = NULL;
    size_t len;

    ck_assert_int_eq(ft_read_file(p, &data, &len), 0);
    return data;
}

static size_t
count(const char *hay, const char *needle)
{
    size_t n = 0;

    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

START_TEST(test_add_verify)
{
    struct ferry_users *u = NULL;
    enum ferry_role role = FERRY_ROLE_NONE;
    struct stat st;

    /* a missing file is an empty set */
    ck_assert_int_eq(ferry_users_open(path, &u), 0);
    ck_assert_int_eq(ferry_users_verify(u, "alice", "pw", &role), -EACCES);

    ck_assert_int_eq(ferry_users_add(path, "alice", FERRY_ROLE_ADMIN, "correct horse"), 0);
    ck_assert_int_eq(ferry_users_add(path, "bob", FERRY_ROLE_USER, "hunter2"), 0);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0600);

    /* the open set notices the new file */
    ck_assert_int_eq(ferry_users_verify(u, "alice", "correct horse", &role), 0);
    ck_assert_int_eq(role, FERRY_ROLE_ADMIN);
    ck_assert_int_eq(ferry_users_verify(u, "bob", "hunter2", &role), 0);
    ck_assert_int_eq(role, FERRY_ROLE_USER);
    role = FERRY_ROLE_NONE;
    ck_assert_int_eq(ferry_users_verify(u, "alice", "correct horsE", &role), -EACCES);
    ck_assert_int_eq(ferry_users_verify(u, "alice", "", &role), -EACCES);
    ck_assert_int_eq(ferry_users_verify(u, "alice", NULL, &role), -EACCES);
    ck_assert_int_eq(ferry_users_verify(u, "bob", "correct horse", &role), -EACCES);
    ck_assert_int_eq(ferry_users_verify(u, "mallory", "hunter2", &role), -EACCES);
    ck_assert_int_eq(ferry_users_verify(u, "bad name", "hunter2", &role), -EACCES);
    ck_assert_int_eq(ferry_users_verify(u, NULL, "hunter2", &role), -EACCES);
    ck_assert_int_eq(role, FERRY_ROLE_NONE); /* untouched on failure */

    ck_assert_int_eq(ferry_users_role(u, "bob", &role), 0);
    ck_assert_int_eq(role, FERRY_ROLE_USER);
    ck_assert_int_eq(ferry_users_role(u, "mallory", &role), -ENOENT);

    /* the stored line has the documented shape */
    char *data = slurp(path);
    ck_assert_int_eq(strncmp(data, "alice:admin:pbkdf2-sha256$1000$", 31), 0);
    const char *salt = data + 31, *d = strchr(salt, '$');
    ck_assert_ptr_nonnull(d);
    ck_assert_int_eq(d - salt, 24);          /* base64 of 16 bytes */
    ck_assert_int_eq(strchr(d, '\n') - d - 1, 44); /* base64 of 32 bytes */
    ck_assert_ptr_nonnull(strstr(data, "\nbob:user:pbkdf2-sha256$1000$"));
    free(data);
    ferry_users_free(u);
    ck_assert_ptr_null(ferry_users_free(NULL));
}
END_TEST

START_TEST(test_independent_vectors)
{
    struct ferry_users *u = NULL;
    enum ferry_role role;

    ck_assert_int_eq(ft_write_file(path, CAROL "\n" DAVE "\n", strlen(CAROL DAVE) + 2), 0);
    ck_assert_int_eq(ferry_users_open(path, &u), 0);
    ck_assert_int_eq(ferry_users_verify(u, "carol", "s3cret", &role), 0);
    ck_assert_int_eq(role, FERRY_ROLE_USER);
    ck_assert_int_eq(ferry_users_verify(u, "carol", "s3cre", &role), -EACCES);
    /* any iteration count and digest length are accepted when reading */
    ck_assert_int_eq(ferry_users_verify(u, "dave@example.org", "p\xc3\xa4ss w:rd", &role), 0);
    ck_assert_int_eq(role, FERRY_ROLE_ADMIN);
    ck_assert_int_eq(ferry_users_verify(u, "dave@example.org", "pass w:rd", &role), -EACCES);
    ferry_users_free(u);
}
END_TEST

START_TEST(test_default_iterations)
{
    struct ferry_users *u = NULL;
    enum ferry_role role;
    char want[64];

    users_set_new_iterations(0);
    ck_assert_int_eq(ferry_users_add(path, "root", FERRY_ROLE_ADMIN, "pw"), 0);
    char *data = slurp(path);
    snprintf(want, sizeof(want), "root:admin:pbkdf2-sha256$%d$", FERRY_PBKDF2_ITER);
    ck_assert_int_eq(strncmp(data, want, strlen(want)), 0);
    free(data);

    /* an unknown user costs the same PBKDF2 work as a known one (CPU time, so scheduling
     * noise does not matter) */
    ck_assert_int_eq(ferry_users_open(path, &u), 0);
    double known = 1e9, unknown = 1e9;
    for (int i = 0; i < 3; i++) {
        struct timespec a, b, c;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
        ck_assert_int_eq(ferry_users_verify(u, "root", "wrong", &role), -EACCES);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
        ck_assert_int_eq(ferry_users_verify(u, "nobody", "wrong", &role), -EACCES);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c);
        double k = (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
        double n = (double)(c.tv_sec - b.tv_sec) + (c.tv_nsec - b.tv_nsec) / 1e9;
        known = k < known ? k : known;
        unknown = n < unknown ? n : unknown;
    }
    ck_assert_msg(unknown > known / 3 && unknown < known * 3,
                  "known user %.4fs vs unknown user %.4fs", known, unknown);
    ck_assert_int_eq(ferry_users_verify(u, "root", "pw", &role), 0);
    ferry_users_free(u);
}
END_TEST

START_TEST(test_replace)
{
    struct ferry_users *u = NULL;
    enum ferry_role role;
    const char *head = "# ferry users\n" CAROL "\n\n# admins below\n";

    ck_assert_int_eq(ft_write_file(path, head, strlen(head)), 0);
    ck_assert_int_eq(chmod(path, 0644), 0);
    ck_assert_int_eq(ferry_users_add(path, "alice", FERRY_ROLE_USER, "one"), 0);
    ck_assert_int_eq(ferry_users_open(path, &u), 0);
    ck_assert_int_eq(ferry_users_verify(u, "alice", "one", &role), 0);
    ck_assert_int_eq(role, FERRY_ROLE_USER);

    ck_assert_int_eq(ferry_users_add(path, "alice", FERRY_ROLE_ADMIN, "two"), 0);
    ck_assert_int_eq(ferry_users_verify(u, "alice", "one", &role), -EACCES);
    ck_assert_int_eq(ferry_users_verify(u, "alice", "two", &role), 0);
    ck_assert_int_eq(role, FERRY_ROLE_ADMIN);
    ck_assert_int_eq(ferry_users_verify(u, "carol", "s3cret", &role), 0);

    char *data = slurp(path);
    ck_assert_uint_eq(count(data, "alice:"), 1);
    ck_assert_int_eq(strncmp(data, head, strlen(head)), 0); /* comments and carol kept */
    free(data);

    /* carol (first line) replaced in place */
    ck_assert_int_eq(ferry_users_add(path, "carol", FERRY_ROLE_USER, "new"), 0);
    data = slurp(path);
    ck_assert_int_eq(strncmp(data, "# ferry users\ncarol:user:pbkdf2-sha256$1000$", 44), 0);
    ck_assert_ptr_nonnull(strstr(data, "\n\n# admins below\nalice:admin:"));
    ck_assert_uint_eq(count(data, "carol:"), 1);
    free(data);
    ck_assert_int_eq(ferry_users_verify(u, "carol", "s3cret", &role), -EACCES);
    ck_assert_int_eq(ferry_users_verify(u, "carol", "new", &role), 0);

    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0600);
    ferry_users_free(u);
}
END_TEST

START_TEST(test_reload_external)
{
    struct ferry_users *u = NULL;
    enum ferry_role role;
    char *other = NULL;
    const char *two = CAROL "\n" DAVE "\n";

    ck_assert_int_eq(ferry_users_add(path, "alice", FERRY_ROLE_ADMIN, "pw"), 0);
    ck_assert_int_eq(ferry_users_open(path, &u), 0);
    ck_assert_int_eq(ferry_users_verify(u, "alice", "pw", &role), 0);

    /* replaced by rename (new inode) */
    ck_assert_int_ge(asprintf(&other, "%s/users.new", tmp), 0);
    ck_assert_int_eq(ft_write_file(other, CAROL "\n", strlen(CAROL) + 1), 0);
    ck_assert_int_eq(rename(other, path), 0);
    ck_assert_int_eq(ferry_users_verify(u, "alice", "pw", &role), -EACCES);
    ck_assert_int_eq(ferry_users_verify(u, "carol", "s3cret", &role), 0);
    ck_assert_int_eq(ferry_users_role(u, "alice", &role), -ENOENT);

    /* rewritten in place (same inode, new size) */
    ck_assert_int_eq(ft_write_file(path, two, strlen(two)), 0);
    ck_assert_int_eq(ferry_users_verify(u, "dave@example.org", "p\xc3\xa4ss w:rd", &role), 0);
    ck_assert_int_eq(role, FERRY_ROLE_ADMIN);

    /* a broken edit locks everybody out (fail closed) until it is fixed */
    ck_assert_int_eq(ft_write_file(path, "carol\n", 6), 0);
    ck_assert_int_eq(ferry_users_verify(u, "carol", "s3cret", &role), -EACCES);
    ck_assert_int_eq(ferry_users_role(u, "carol", &role), -ENOENT);
    ck_assert_int_eq(ft_write_file(path, two, strlen(two)), 0);
    ck_assert_int_eq(ferry_users_verify(u, "carol", "s3cret", &role), 0);

    /* removed: empty set; created again: seen again */
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(ferry_users_verify(u, "carol", "s3cret", &role), -EACCES);
    ck_assert_int_eq(ferry_users_add(path, "carol", FERRY_ROLE_ADMIN, "again"), 0);
    ck_assert_int_eq(ferry_users_verify(u, "carol", "again", &role), 0);
    ck_assert_int_eq(role, FERRY_ROLE_ADMIN);
    free(other);
    ferry_users_free(u);
}
END_TEST

static void *
verify_thread(void *arg)
{
    struct ferry_users *u = arg;
    enum ferry_role role;
    long bad = 0;

    for (int i = 0; i < 30; i++) {
        if (ferry_users_verify(u, "alice", "pw", &role) != 0 || role != FERRY_ROLE_ADMIN)
            bad++;
        if (ferry_users_verify(u, "alice", "nope", &role) != -EACCES)
            bad++;
    }
    return (void *)bad;
}

START_TEST(test_threads)
{
    struct ferry_users *u = NULL;
    pthread_t th[4];

    ck_assert_int_eq(ferry_users_add(path, "alice", FERRY_ROLE_ADMIN, "pw"), 0);
    ck_assert_int_eq(ferry_users_open(path, &u), 0);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, verify_thread, u), 0);
    /* other users come and go while the readers run; alice's line never changes */
    for (int i = 0; i < 10; i++) {
        char name[16];
        snprintf(name, sizeof(name), "u%d", i);
        ck_assert_int_eq(ferry_users_add(path, name, FERRY_ROLE_USER, "x"), 0);
    }
    for (int i = 0; i < 4; i++) {
        void *bad;
        pthread_join(th[i], &bad);
        ck_assert_int_eq((long)bad, 0);
    }
    enum ferry_role role;
    ck_assert_int_eq(ferry_users_role(u, "u9", &role), 0);
    ferry_users_free(u);
}
END_TEST

START_TEST(test_malformed)
{
    struct {
        const char *line;
        const char *msg;
    } bad[] = {
        {"alice", "expected name:role:pbkdf2-sha256$ITER$SALT$HASH"},
        {"alice:admin", "expected name:role:pbkdf2-sha256$ITER$SALT$HASH"},
        {"al ice:admin:pbkdf2-sha256$1000$AQIDBAUGBwgJCgsMDQ4PEA==$+YXx+XUTj1aKhv3lUP5obS+I9GvK9"
         "sXF/8hBJH4Ffa8=",
         "invalid user name (allowed: A-Z a-z 0-9 . _ @ -, 1 to 64)"},
        {":admin:pbkdf2-sha256$1000$AQIDBAUGBwgJCgsMDQ4PEA==$+YXx+XUTj1aKhv3lUP5obS+I9GvK9sXF/8h"
         "BJH4Ffa8=",
         "invalid user name (allowed: A-Z a-z 0-9 . _ @ -, 1 to 64)"},
        {"alice:root:pbkdf2-sha256$1000$AQIDBAUGBwgJCgsMDQ4PEA==$+YXx+XUTj1aKhv3lUP5obS+I9GvK9s"
         "XF/8hBJH4Ffa8=",
         "unknown role (expected admin or user)"},
        {"alice:admin:md5$1000$AQIDBAUGBwgJCgsMDQ4PEA==$+YXx+XUTj1aKhv3lUP5obS+I9GvK9sXF/8hBJH4F"
         "fa8=",
         "unknown password scheme (expected pbkdf2-sha256)"},
        {"alice:admin:pbkdf2-sha256$0$AQIDBAUGBwgJCgsMDQ4PEA==$+YXx+XUTj1aKhv3lUP5obS+I9GvK9sXF"
         "/8hBJH4Ffa8=",
         "invalid iteration count"},
        {"alice:admin:pbkdf2-sha256$99999999999$AQIDBAUGBwgJCgsMDQ4PEA==$+YXx+XUTj1aKhv3lUP5obS+"
         "I9GvK9sXF/8hBJH4Ffa8=",
         "invalid iteration count"},
        {"alice:admin:pbkdf2-sha256$-5$AQIDBAUGBwgJCgsMDQ4PEA==$+YXx+XUTj1aKhv3lUP5obS+I9GvK9sX"
         "F/8hBJH4Ffa8=",
         "invalid iteration count"},
        {"alice:admin:pbkdf2-sha256$1000$AQIDBAUGBwgJCgsMDQ4PEA=$+YXx+XUTj1aKhv3lUP5obS+I9GvK9sX"
         "F/8hBJH4Ffa8=",
         "invalid salt (base64 of 8 to 64 bytes)"},
        {"alice:admin:pbkdf2-sha256$1000$AQID$+YXx+XUTj1aKhv3lUP5obS+I9GvK9sXF/8hBJH4Ffa8=",
         "invalid salt (base64 of 8 to 64 bytes)"},
        {"alice:admin:pbkdf2-sha256$1000$AQIDBAUGBwgJCgsMDQ4PEA==$+YXx+XUTj1aKhv3lUP5obS+I9GvK9s"
         "XF/8hBJH4Ffa8*",
         "invalid hash (base64 of 16 to 64 bytes)"},
        {"alice:admin:pbkdf2-sha256$1000$AQIDBAUGBwgJCgsMDQ4PEA==$+YXx+XUT",
         "invalid hash (base64 of 16 to 64 bytes)"},
        {"alice:admin:pbkdf2-sha256$1000$AQIDBAUGBwgJCgsMDQ4PEA==$+YXx=+XUTj1aKhv3lUP5obS+I9GvK9"
         "sXF/8hBJH4Ffa8",
         "invalid hash (base64 of 16 to 64 bytes)"},
        {"alice:admin:pbkdf2-sha256$1000$AQIDBAUGBwgJCgsMDQ4PEA==$+YXx+XUTj1aKhv3lUP5obS+I9GvK9s"
         "XF/8hBJH4Ffa8=$x",
         "expected pbkdf2-sha256$ITER$SALT$HASH"},
        {"alice:admin:pbkdf2-sha256$1000$AQIDBAUGBwgJCgsMDQ4PEA==$+YXx+XUTj1aKhv3lUP5obS+I9GvK9s"
         "XF/8hBJH4Ffa8= ",
         "invalid hash (base64 of 16 to 64 bytes)"},
        {"carol:user:pbkdf2-sha256$1000$AQIDBAUGBwgJCgsMDQ4PEA==$+YXx+XUTj1aKhv3lUP5obS+I9GvK9sX"
         "F/8hBJH4Ffa8=",
         "user 'carol' appears twice"},
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[512], err[160];
        struct users_entry *v = NULL;
        size_t n = 0;
        unsigned line = 0;
        struct ferry_users *u = NULL;
        /* the bad line is line 4, after a comment, a valid entry and a blank line */
        int len = snprintf(text, sizeof(text), "# users\n" CAROL "\n\n%s\n", bad[i].line);
        ck_assert_int_eq(users_parse(text, (size_t)len, &v, &n, &line, err, sizeof(err)),
                         -EINVAL);
        ck_assert_uint_eq(line, 4);
        ck_assert_msg(strcmp(err, bad[i].msg) == 0, "'%s': got '%s'", bad[i].line, err);
        ck_assert_ptr_null(v);

        ck_assert_int_eq(ft_write_file(path, text, (size_t)len), 0);
        ck_assert_int_eq(ferry_users_open(path, &u), -EINVAL);
        ck_assert_ptr_null(u);
        /* add refuses to rewrite a file it cannot understand, and leaves it alone */
        ck_assert_int_eq(ferry_users_add(path, "zed", FERRY_ROLE_USER, "pw"), -EINVAL);
        char *data = slurp(path);
        ck_assert_str_eq(data, text);
        free(data);
    }
}
END_TEST

START_TEST(test_add_validation)
{
    char name64[65], name65[66];

    memset(name64, 'a', 64);
    name64[64] = '\0';
    memset(name65, 'b', 65);
    name65[65] = '\0';
    ck_assert_int_eq(ferry_users_add(path, name64, FERRY_ROLE_USER, "pw"), 0);
    ck_assert_int_eq(ferry_users_add(path, name65, FERRY_ROLE_USER, "pw"), -EINVAL);
    ck_assert_int_eq(ferry_users_add(path, "a:b", FERRY_ROLE_USER, "pw"), -EINVAL);
    ck_assert_int_eq(ferry_users_add(path, "a b", FERRY_ROLE_USER, "pw"), -EINVAL);
    ck_assert_int_eq(ferry_users_add(path, "", FERRY_ROLE_USER, "pw"), -EINVAL);
    ck_assert_int_eq(ferry_users_add(path, NULL, FERRY_ROLE_USER, "pw"), -EINVAL);
    ck_assert_int_eq(ferry_users_add(path, "ok.user_1@x-y", FERRY_ROLE_NONE, "pw"), -EINVAL);
    ck_assert_int_eq(ferry_users_add(path, "ok.user_1@x-y", FERRY_ROLE_USER, ""), -EINVAL);
    ck_assert_int_eq(ferry_users_add(path, "ok.user_1@x-y", FERRY_ROLE_USER, NULL), -EINVAL);
    ck_assert_int_eq(ferry_users_add(path, "ok.user_1@x-y", FERRY_ROLE_USER, "pw"), 0);
    ck_assert_int_eq(ferry_users_add("/nonexistent-dir/users", "x", FERRY_ROLE_USER, "pw"),
                     -ENOENT);

    enum ferry_role role;
    ck_assert_int_eq(ferry_users_parse_role("admin", &role), 0);
    ck_assert_int_eq(role, FERRY_ROLE_ADMIN);
    ck_assert_int_eq(ferry_users_parse_role("user", &role), 0);
    ck_assert_int_eq(role, FERRY_ROLE_USER);
    ck_assert_int_eq(ferry_users_parse_role("Admin", &role), -EINVAL);
    ck_assert_int_eq(ferry_users_parse_role(NULL, &role), -EINVAL);
    ck_assert_str_eq(ferry_role_name(FERRY_ROLE_ADMIN), "admin");
    ck_assert_str_eq(ferry_role_name(FERRY_ROLE_USER), "user");
    ck_assert_str_eq(ferry_role_name(FERRY_ROLE_NONE), "none");

    char *data = slurp(path);
    ck_assert_uint_eq(count(data, "\n"), 2);
    free(data);
    /* no temp files left behind */
    DIR *d = opendir(tmp);
    struct dirent *de;
    size_t files = 0;
    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] != '.')
            files++;
    }
    closedir(d);
    ck_assert_uint_eq(files, 1);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("users");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_add_verify);
    tcase_add_test(tc, test_independent_vectors);
    tcase_add_test(tc, test_default_iterations);
    tcase_add_test(tc, test_replace);
    tcase_add_test(tc, test_reload_external);
    tcase_add_test(tc, test_threads);
    tcase_add_test(tc, test_malformed);
    tcase_add_test(tc, test_add_validation);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
