/*
 * tests/engine/server/test_upload.c - engine/server/upload.c's parsers: BITS-Packet-Type,
 * fragment Content-Range (with the zero-length probe), BITS-Supported-Protocols, session
 * ids (never a path) and upload target names (never hidden session files); and
 * upload_sweep.c: sessions idle for the timeout are removed, fresher ones stay.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "upload.h"
#include "upload_sweep.h"

START_TEST(test_packet)
{
    ck_assert_int_eq(upload_packet_parse("Ping"), UPLOAD_PACKET_PING);
    ck_assert_int_eq(upload_packet_parse("create-session"), UPLOAD_PACKET_CREATE);
    ck_assert_int_eq(upload_packet_parse("Fragment"), UPLOAD_PACKET_FRAGMENT);
    ck_assert_int_eq(upload_packet_parse("Close-Session"), UPLOAD_PACKET_CLOSE);
    ck_assert_int_eq(upload_packet_parse("Cancel-Session"), UPLOAD_PACKET_CANCEL);
    ck_assert_int_eq(upload_packet_parse("Ack"), UPLOAD_PACKET_INVALID);
    ck_assert_int_eq(upload_packet_parse(NULL), UPLOAD_PACKET_INVALID);
}
END_TEST

START_TEST(test_range)
{
    struct upload_range r;

    ck_assert_int_eq(upload_range_parse("bytes 128-212/1000", &r), 0);
    ck_assert(r.start == 128 && r.end == 212 && r.total == 1000 && !r.empty);
    ck_assert_int_eq(upload_range_parse("bytes 0-0/1", &r), 0);
    ck_assert_int_eq(upload_range_parse("bytes */1000", &r), 0);
    ck_assert(r.empty && r.total == 1000);
    ck_assert_int_eq(upload_range_parse("bytes 0-1000/1000", &r), -EINVAL);
    ck_assert_int_eq(upload_range_parse("bytes 5-4/1000", &r), -EINVAL);
    ck_assert_int_eq(upload_range_parse("bytes 0-4/", &r), -EINVAL);
    ck_assert_int_eq(upload_range_parse("bytes 0-4/10x", &r), -EINVAL);
    ck_assert_int_eq(upload_range_parse("items 0-4/10", &r), -EINVAL);
    ck_assert_int_eq(upload_range_parse("bytes 0-1/99999999999999999999", &r), -EINVAL);
    ck_assert_int_eq(upload_range_parse(NULL, &r), -EINVAL);
}
END_TEST

START_TEST(test_protocols)
{
    ck_assert(upload_protocols_ok(UPLOAD_PROTOCOL_GUID));
    ck_assert(upload_protocols_ok("{00000000-0000-0000-0000-000000000000} "
                                  "{7DF0354D-249B-430F-820D-3D2A9BEF4931}"));
    ck_assert(!upload_protocols_ok("{7df0354d-249b-430f-820d-3d2a9bef4932}"));
    ck_assert(!upload_protocols_ok(""));
    ck_assert(!upload_protocols_ok(NULL));
}
END_TEST

START_TEST(test_session_and_names)
{
    char hex[33];

    ck_assert_int_eq(upload_session_hex("{0123ABCD-4567-89ab-cdef-0123456789ab}", hex), 0);
    ck_assert_str_eq(hex, "0123abcd456789abcdef0123456789ab");
    ck_assert_int_eq(upload_session_hex("{0123abcd-4567-89ab-cdef-0123456789a/}", hex), -EINVAL);
    ck_assert_int_eq(upload_session_hex("0123abcd-4567-89ab-cdef-0123456789abcd", hex), -EINVAL);
    ck_assert_int_eq(upload_session_hex("{../../etc/passwd}", hex), -EINVAL);
    ck_assert_int_eq(upload_session_hex(NULL, hex), -EINVAL);
    ck_assert(upload_name_ok("result.tar"));
    ck_assert(!upload_name_ok(""));
    ck_assert(!upload_name_ok(".."));
    ck_assert(!upload_name_ok("a/b"));
    ck_assert(!upload_name_ok(UPLOAD_HIDDEN_PREFIX "x.part"));
}
END_TEST

/* A hidden file of session hex in dirfd with mtime `at`. */
static void
sweep_file(int dirfd, const char *hex, const char *ext, time_t at)
{
    char path[128];
    struct timespec ts[2] = {{.tv_sec = at}, {.tv_sec = at}};
    int fd;

    snprintf(path, sizeof(path), UPLOAD_HIDDEN_PREFIX "%s%s", hex, ext);
    fd = openat(dirfd, path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "ferry-upload 1\nx.bin\n11\n", 23), 23);
    close(fd);
    ck_assert_int_eq(utimensat(dirfd, path, ts, 0), 0);
}

static bool
sweep_exists(int dirfd, const char *hex, const char *ext)
{
    char path[128];
    struct stat st;

    snprintf(path, sizeof(path), UPLOAD_HIDDEN_PREFIX "%s%s", hex, ext);
    return fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

START_TEST(test_sweep)
{
    char tmpl[] = "/tmp/ferry-test-sweep-XXXXXX";
    const char *old = "0123456789abcdef0123456789abcdef";  /* idle 100 s */
    const char *live = "fedcba9876543210fedcba9876543210"; /* old meta, fresh part */
    const char *orphan = "00000000000000000000000000000001"; /* a part without meta */
    time_t now = time(NULL);
    struct stat st;
    int rootfd, dirfd;

    /* an upload root holding one group directory */
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    rootfd = open(tmpl, O_RDONLY | O_DIRECTORY);
    ck_assert_int_ge(rootfd, 0);
    ck_assert_int_eq(mkdirat(rootfd, "grp", 0700), 0);
    dirfd = openat(rootfd, "grp", O_RDONLY | O_DIRECTORY);
    ck_assert_int_ge(dirfd, 0);
    sweep_file(dirfd, old, ".meta", now - 100);
    sweep_file(dirfd, old, ".part", now - 100);
    sweep_file(dirfd, old, ".reply", now - 100);
    sweep_file(dirfd, live, ".meta", now - 100);
    sweep_file(dirfd, live, ".part", now - 1);
    sweep_file(dirfd, orphan, ".part", now - 100);
    /* not a session's file: never touched, whatever its age */
    ck_assert_int_eq(mkdirat(dirfd, "keep", 0700), 0);
    sweep_file(dirfd, "zz", ".part", now - 100);

    /* within the timeout: nothing goes */
    ck_assert_int_eq(upload_sweep_dir(dirfd, 1000, now), 0);
    ck_assert(sweep_exists(dirfd, old, ".part"));
    /* 2 s: the idle session and the orphan go with every file; the live one stays */
    ck_assert_int_eq(upload_sweep_dir(dirfd, 2, now), 2);
    ck_assert(!sweep_exists(dirfd, old, ".meta"));
    ck_assert(!sweep_exists(dirfd, old, ".part"));
    ck_assert(!sweep_exists(dirfd, old, ".reply"));
    ck_assert(!sweep_exists(dirfd, orphan, ".part"));
    ck_assert(sweep_exists(dirfd, live, ".meta"));
    ck_assert(sweep_exists(dirfd, live, ".part"));
    ck_assert(sweep_exists(dirfd, "zz", ".part"));
    /* time goes on without a packet: the live one expires too */
    ck_assert_int_eq(upload_sweep_dir(dirfd, 2, now + 2), 1);
    ck_assert(!sweep_exists(dirfd, live, ".part"));
    ck_assert(sweep_exists(dirfd, "zz", ".part"));
    ck_assert_int_eq(fstatat(dirfd, "keep", &st, 0), 0);
    /* the root's walk reaches the group directories */
    sweep_file(dirfd, old, ".part", now - 100);
    sweep_file(dirfd, live, ".meta", now);
    ck_assert_int_eq(upload_sweep_root(rootfd, 2, now), 1);
    ck_assert(!sweep_exists(dirfd, old, ".part"));
    ck_assert(sweep_exists(dirfd, live, ".meta"));
    unlinkat(dirfd, UPLOAD_HIDDEN_PREFIX "fedcba9876543210fedcba9876543210.meta", 0);
    ck_assert_int_eq(upload_sweep_period(1209600), 60);
    ck_assert_int_eq(upload_sweep_period(2), 2);
    ck_assert_int_eq(upload_sweep_period(100), 25);
    unlinkat(dirfd, UPLOAD_HIDDEN_PREFIX "zz.part", 0);
    unlinkat(dirfd, "keep", AT_REMOVEDIR);
    close(dirfd);
    unlinkat(rootfd, "grp", AT_REMOVEDIR);
    close(rootfd);
    ck_assert_int_eq(rmdir(tmpl), 0);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("upload");
    TCase *tc = tcase_create("upload");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_packet);
    tcase_add_test(tc, test_range);
    tcase_add_test(tc, test_protocols);
    tcase_add_test(tc, test_session_and_names);
    tcase_add_test(tc, test_sweep);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
