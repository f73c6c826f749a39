/*
 * tests/engine/server/test_upload.c - engine/server/upload.c's parsers: BITS-Packet-Type,
 * fragment Content-Range (with the zero-length probe), BITS-Supported-Protocols, session
 * ids (never a path) and upload target names (never hidden session files).
 */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "upload.h"

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
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
