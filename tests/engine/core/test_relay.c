/*
 * tests/engine/core/test_relay.c - engine/core/relay.c and relay_have.c: the X-Ferry-Have
 * format and its parser (exact strings, refusals), and what a relay says it covers as
 * chunks are marked, completed and withdrawn.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/relay.h"

START_TEST(test_have_format)
{
    uint8_t have[10] = {1, 1, 1, 0, 1, 0, 0, 1, 1, 0};
    char buf[RELAY_HAVE_MAX];

    relay_have_format(have, 10, 65536, buf, sizeof(buf));
    ck_assert_str_eq(buf, "chunks=10; chunk-size=65536; have=0-2,4,7-8");
    memset(have, 0, sizeof(have));
    relay_have_format(have, 10, 65536, buf, sizeof(buf));
    ck_assert_str_eq(buf, "chunks=10; chunk-size=65536; have=");
    memset(have, 1, sizeof(have));
    relay_have_format(have, 10, 65536, buf, sizeof(buf));
    ck_assert_str_eq(buf, "chunks=10; chunk-size=65536; have=*");
}
END_TEST

START_TEST(test_have_parse)
{
    uint8_t have[10] = {0};
    static const uint8_t want[10] = {1, 1, 1, 0, 1, 0, 0, 1, 1, 0};

    ck_assert_int_eq(relay_have_parse("chunks=10; chunk-size=65536; have=0-2,4,7-8", 10, 65536,
                                      have), 6);
    ck_assert_mem_eq(have, want, 10);
    /* nothing new the second time */
    ck_assert_int_eq(relay_have_parse("chunks=10;chunk-size=65536;have=0-2", 10, 65536, have),
                     0);
    ck_assert_int_eq(relay_have_parse("chunks=10; chunk-size=65536; have=*", 10, 65536, have),
                     10);
    ck_assert_int_eq(relay_have_parse("chunks=10; chunk-size=65536; have=", 10, 65536, have), 0);
    /* another layout, beyond the file, backwards, junk */
    ck_assert_int_lt(relay_have_parse("chunks=11; chunk-size=65536; have=", 10, 65536, have), 0);
    ck_assert_int_lt(relay_have_parse("chunks=10; chunk-size=4096; have=", 10, 65536, have), 0);
    ck_assert_int_lt(relay_have_parse("chunks=10; chunk-size=65536; have=9-10", 10, 65536,
                                      have), 0);
    ck_assert_int_lt(relay_have_parse("chunks=10; chunk-size=65536; have=5-4", 10, 65536, have),
                     0);
    ck_assert_int_lt(relay_have_parse("chunks=10; chunk-size=65536; have=1x", 10, 65536, have),
                     0);
    ck_assert_int_lt(relay_have_parse("chunks=99999999999999999999999; chunk-size=1; have=", 10,
                                      1, have), 0);
    ck_assert_int_lt(relay_have_parse(NULL, 10, 65536, have), 0);
}
END_TEST

START_TEST(test_relay_covers)
{
    struct relay *r = relay_new("/x/y");
    struct relay_info info = {.size = 10 * 65536 - 5, .chunk_size = 65536, .nchunks = 10,
                              .etag = "\"e\"", .last_modified = NULL, .meta4 = "<m/>",
                              .meta4_len = 4};
    int fds[2];

    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(pipe(fds), 0);
    info.fd = fds[0];
    pthread_mutex_lock(&r->lock);
    ck_assert(!relay_covers_locked(r, 0, 1)); /* pending */
    pthread_mutex_unlock(&r->lock);
    ck_assert_int_eq(relay_setup(r, &info), 0);
    close(fds[0]);
    close(fds[1]);
    ck_assert_int_ge(r->fd, 0);
    ck_assert_str_eq(r->meta4, "<m/>");
    relay_mark(r, 0);
    relay_mark(r, 1);
    relay_mark(r, 1);
    relay_mark(r, 99);
    pthread_mutex_lock(&r->lock);
    ck_assert_uint_eq(r->nhave, 2);
    ck_assert(relay_covers_locked(r, 0, 2 * 65536));
    ck_assert(!relay_covers_locked(r, 0, 2 * 65536 + 1));
    ck_assert(!relay_covers_locked(r, 65536 * 5, 10));
    pthread_mutex_unlock(&r->lock);
    relay_complete(r);
    pthread_mutex_lock(&r->lock);
    ck_assert(relay_covers_locked(r, 0, info.size));
    pthread_mutex_unlock(&r->lock);
    relay_ref(r);
    relay_withdraw(r);
    pthread_mutex_lock(&r->lock);
    ck_assert(r->gone);
    ck_assert(!relay_covers_locked(r, 0, 1));
    pthread_mutex_unlock(&r->lock);
    ck_assert_ptr_null(relay_unref(r));
    ck_assert_ptr_null(relay_unref(r));
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("relay");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_have_format);
    tcase_add_test(tc, test_have_parse);
    tcase_add_test(tc, test_relay_covers);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
