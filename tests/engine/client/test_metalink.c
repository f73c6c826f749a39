/*
 * tests/engine/client/test_metalink.c - engine/client/metalink.c: the server's Metalink 4
 * form parses (pieces, zero marks, etag, sha-256), and everything malformed or dangerous
 * (DTDs, entities, wrong counts, bad hex, no namespace, two files, over the cap) is refused.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/metalink.h"
#include "client/verify.h"

#define HEAD                                                                                  \
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"                                            \
    "<metalink xmlns=\"urn:ietf:params:xml:ns:metalink\" "                                    \
    "xmlns:ferry=\"urn:ferry:manifest:1\">\n"
#define H1 "0d4c6f5e2b8a9c1d7e6f5a4b3c2d1e0f"
#define H2 "5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b"

static int
parse(const char *doc, struct metalink **ml)
{
    *ml = NULL;
    return metalink_parse(doc, strlen(doc), ml);
}

START_TEST(test_server_form)
{
    char zero_hex[33];
    uint8_t zd[16];
    char *zeros = calloc(1, 4);
    char doc[4096];
    struct metalink *ml;

    verify_digest(zeros, 4, zd);
    ferry_hex_encode(zd, 16, zero_hex);
    snprintf(doc, sizeof(doc),
             HEAD "  <generator>ferry/0.1.0</generator>\n"
                  "  <file name=\"disk.img\">\n    <size>14</size>\n"
                  "    <ferry:etag>\"803-1a-e-17\"</ferry:etag>\n"
                  "    <hash type=\"sha-256\">%s</hash>\n"
                  "    <pieces type=\"sha-256\" length=\"4\"><hash>aa</hash></pieces>\n"
                  "    <pieces type=\"xxh3-128\" length=\"4\">\n"
                  "      <hash>" H1 "</hash>\n"
                  "      <hash ferry:zero=\"true\">%s</hash>\n"
                  "      <hash>%s</hash>\n"
                  "      <hash>" H2 "</hash>\n"
                  "    </pieces>\n"
                  "    <url priority=\"1\">http://10.0.0.5:8080/images/disk.img</url>\n"
                  "    <unknown-element/>\n"
                  "  </file>\n</metalink>\n",
             "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", zero_hex,
             zero_hex);
    ck_assert_int_eq(parse(doc, &ml), 0);
    ck_assert_uint_eq(ml->size, 14);
    ck_assert_uint_eq(ml->piece_length, 4);
    ck_assert_uint_eq(ml->npieces, 4);
    ck_assert_str_eq(ml->etag, "\"803-1a-e-17\"");
    ck_assert(ml->has_sha256);
    ck_assert_uint_eq(ml->sha256[0], 0x9f);
    ck_assert_uint_eq(ml->pieces[0][0], 0x0d);
    ck_assert_uint_eq(ml->pieces[3][15], 0x0b);
    ck_assert_uint_eq(ml->zero[0], 0);
    ck_assert_uint_eq(ml->zero[1], 1); /* marked */
    ck_assert_uint_eq(ml->zero[2], 1); /* recognised by its digest */
    ck_assert_uint_eq(ml->zero[3], 0);
    ck_assert_uint_eq(ml->nurls, 1);
    metalink_free(ml);
    free(zeros);
}
END_TEST

START_TEST(test_empty_file)
{
    struct metalink *ml;

    ck_assert_int_eq(parse(HEAD "<file name=\"e\"><size>0</size></file></metalink>", &ml), 0);
    ck_assert_uint_eq(ml->size, 0);
    ck_assert_uint_eq(ml->npieces, 0);
    metalink_free(ml);
}
END_TEST

START_TEST(test_refused)
{
    static const char *const bad[] = {
        /* DTD / entities (billion laughs, XXE) */
        "<?xml version=\"1.0\"?><!DOCTYPE m [<!ENTITY a \"aaaa\">]>"
        "<metalink xmlns=\"urn:ietf:params:xml:ns:metalink\"><file name=\"x\"><size>1</size>"
        "</file></metalink>",
        "<?xml version=\"1.0\"?><!DOCTYPE m SYSTEM \"http://evil/x.dtd\"><metalink/>",
        /* wrong namespace / root */
        "<metalink><file name=\"x\"><size>1</size></file></metalink>",
        HEAD "</metalink>",
        /* two files */
        HEAD "<file name=\"a\"><size>1</size></file><file name=\"b\"><size>1</size></file>"
             "</metalink>",
        /* size */
        HEAD "<file name=\"a\"><size>-1</size></file></metalink>",
        HEAD "<file name=\"a\"><size>12x</size></file></metalink>",
        HEAD "<file name=\"a\"></file></metalink>",
        /* piece counts and hex */
        HEAD "<file name=\"a\"><size>8</size><pieces type=\"xxh3-128\" length=\"4\">"
             "<hash>" H1 "</hash></pieces></file></metalink>",
        HEAD "<file name=\"a\"><size>4</size><pieces type=\"xxh3-128\" length=\"4\">"
             "<hash>" H1 "</hash><hash>" H2 "</hash></pieces></file></metalink>",
        HEAD "<file name=\"a\"><size>4</size><pieces type=\"xxh3-128\" length=\"4\">"
             "<hash>zz4c6f5e2b8a9c1d7e6f5a4b3c2d1e0f</hash></pieces></file></metalink>",
        HEAD "<file name=\"a\"><size>4</size><pieces type=\"xxh3-128\" length=\"4\">"
             "<hash>0d4c</hash></pieces></file></metalink>",
        HEAD "<file name=\"a\"><size>4</size><pieces type=\"xxh3-128\" length=\"0\">"
             "</pieces></file></metalink>",
        /* not XML */
        "garbage",
        HEAD "<file name=\"a\"><size>4</size>",
    };
    struct metalink *ml;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(parse(bad[i], &ml) == -EBADMSG, "document %zu accepted", i);
    ck_assert_int_eq(metalink_parse("", 0, &ml), -EBADMSG);
    ck_assert_int_eq(metalink_parse("x", (size_t)METALINK_MAX_BYTES + 1, &ml), -E2BIG);
}
END_TEST

/* verify.c helpers used by the manifest path. */
START_TEST(test_verify_helpers)
{
    uint8_t d[16], back[16];
    char hex[33];

    /* xxhsum -H2 of "abc" */
    verify_digest("abc", 3, d);
    ferry_hex_encode(d, 16, hex);
    ck_assert_str_eq(hex, "06b05ab6733a618578af5f94892f3950");
    ck_assert_int_eq(verify_hex_decode(hex, back, 16), 0);
    ck_assert_mem_eq(d, back, 16);
    ck_assert_int_eq(verify_hex_decode("abc", back, 16), -EINVAL);
    ck_assert_int_eq(verify_digest_spec_check("sha256:" H1 H2), 0);
    ck_assert_int_eq(verify_digest_spec_check("xxh128:" H1), 0);
    ck_assert_int_eq(verify_digest_spec_check("xxh128:" H1 "00"), -EINVAL);
    ck_assert_int_eq(verify_digest_spec_check("md5:" H1), -EINVAL);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("metalink");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_server_form);
    tcase_add_test(tc, test_empty_file);
    tcase_add_test(tc, test_refused);
    tcase_add_test(tc, test_verify_helpers);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
