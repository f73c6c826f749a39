/*
 * tests/engine/http/test_http_resp.c - engine/http/http_resp.c: the response heads the
 * range fetcher relies on (206 with Content-Range, validators, keep-alive), every refusal,
 * incomplete heads at every split, and the limits.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_resp.h"

static const struct http_resp_limits lim = {
    .max_head_bytes = 1024,
    .max_headers = 8,
    .max_value_bytes = 128,
};

static int
parse(const char *s, struct http_resp *r)
{
    return http_resp_parse(&lim, s, strlen(s), r);
}

START_TEST(test_206)
{
    const char *s = "HTTP/1.1 206 Partial Content\r\n"
                    "Server: nginx/1.22.1\r\n"
                    "Content-Length: 4194304\r\n"
                    "Content-Range: bytes 4194304-8388607/1073741824\r\n"
                    "ETag: \"65a1b2c3-40000000\"\r\n"
                    "Last-Modified: Thu, 03 Dec 2026 09:34:11 GMT\r\n"
                    "\r\nBODY";
    struct http_resp r;

    ck_assert_int_eq(parse(s, &r), (int)(strlen(s) - 4));
    ck_assert_int_eq(r.status, 206);
    ck_assert_uint_eq(r.minor, 1);
    ck_assert(r.has_content_length);
    ck_assert_uint_eq(r.content_length, 4194304);
    ck_assert(r.has_content_range);
    ck_assert(!r.range_unsatisfied);
    ck_assert_uint_eq(r.range_first, 4194304);
    ck_assert_uint_eq(r.range_last, 8388607);
    ck_assert_uint_eq(r.range_total, 1073741824);
    ck_assert(r.keep_alive);
    ck_assert(!r.chunked);
    ck_assert(http_resp_str_eq(r.etag, "\"65a1b2c3-40000000\""));
    ck_assert(!http_resp_str_eq(r.etag, "\"65a1b2c3-40000001\""));
    ck_assert(http_resp_str_eq(r.last_modified, "Thu, 03 Dec 2026 09:34:11 GMT"));
    ck_assert(http_resp_str_eq(r.location, NULL));
    ck_assert_uint_eq(r.nheaders, 5);
}
END_TEST

START_TEST(test_fields)
{
    struct http_resp r;

    ck_assert_int_gt(parse("HTTP/1.1 503 Busy\r\nRetry-After: 120\r\nConnection: close\r\n"
                           "Content-Length: 0\r\n\r\n", &r), 0);
    ck_assert_int_eq(r.status, 503);
    ck_assert(r.has_retry_after);
    ck_assert_uint_eq(r.retry_after, 120);
    ck_assert(!r.keep_alive);

    ck_assert_int_gt(parse("HTTP/1.1 503 Busy\r\nRetry-After: Fri, 31 Dec 1999 23:59:59 GMT\r\n"
                           "\r\n", &r), 0);
    ck_assert(r.has_retry_after);
    ck_assert_uint_eq(r.retry_after, 0);
    ck_assert(http_resp_str_eq(r.retry_after_raw, "Fri, 31 Dec 1999 23:59:59 GMT"));

    ck_assert_int_gt(parse("HTTP/1.1 302 Found\r\nLocation: http://b/x\r\n\r\n", &r), 0);
    ck_assert(http_resp_str_eq(r.location, "http://b/x"));

    ck_assert_int_gt(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", &r),
                     0);
    ck_assert(r.chunked);
    ck_assert(r.has_transfer_encoding);
    ck_assert(!r.has_content_length);

    ck_assert_int_gt(parse("HTTP/1.1 416 No\r\nContent-Range: bytes */100\r\n\r\n", &r), 0);
    ck_assert(r.range_unsatisfied);
    ck_assert_uint_eq(r.range_total, 100);

    /* HTTP/1.0: keep-alive only when asked for */
    ck_assert_int_gt(parse("HTTP/1.0 200 OK\r\n\r\n", &r), 0);
    ck_assert(!r.keep_alive);
    ck_assert_int_gt(parse("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n\r\n", &r), 0);
    ck_assert(r.keep_alive);
    ck_assert_int_gt(parse("HTTP/1.1 200 OK\r\nConnection: upgrade, close\r\n\r\n", &r), 0);
    ck_assert(!r.keep_alive);

    /* no reason phrase, weak ETag, same Content-Length twice, value whitespace trimmed */
    ck_assert_int_gt(parse("HTTP/1.1 200\r\nETag: W/\"x\"\r\nContent-Length: 5\r\n"
                           "Content-Length:5 \t\r\n\r\n", &r), 0);
    ck_assert(http_resp_str_eq(r.etag, "W/\"x\""));
    ck_assert_uint_eq(r.content_length, 5);
}
END_TEST

START_TEST(test_refusals)
{
    static const char *const bad[] = {
        "HTTP/2 200 OK\r\n\r\n",
        "HTTP/1.2 200 OK\r\n\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/1.1 099 OK\r\n\r\n",
        "HTTP/1.1 600 OK\r\n\r\n",
        "http/1.1 200 OK\r\n\r\n",
        "HTTP/1.1  200 OK\r\n\r\n",
        "HTTP/1.1 200 OK\n\r\n",
        "HTTP/1.1 200 OK\r\nA: b\n\r\n",
        "HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA: b\x01\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA : b\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA b\r\n\r\n",
        "HTTP/1.1 200 OK\r\n: b\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551616\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked;x=1\r\n\r\n",
        "HTTP/1.1 206 OK\r\nContent-Range: bytes 5-4/10\r\n\r\n",
        "HTTP/1.1 206 OK\r\nContent-Range: bytes 0-10/10\r\n\r\n",
        "HTTP/1.1 206 OK\r\nContent-Range: bytes 0-1/*\r\n\r\n",
        "HTTP/1.1 206 OK\r\nContent-Range: items 0-1/10\r\n\r\n",
        "HTTP/1.1 206 OK\r\nContent-Range: bytes 0-1\r\n\r\n",
        "HTTP/1.1 206 OK\r\nContent-Range: bytes -1/10\r\n\r\n",
        "HTTP/1.1 206 OK\r\nContent-Range: bytes 0-1/10\r\nContent-Range: bytes 0-1/10\r\n\r\n",
        "HTTP/1.1 200 OK\r\nETag: abc\r\n\r\n",
        "HTTP/1.1 200 OK\r\nETag: \"a\"b\"\r\n\r\n",
        "HTTP/1.1 200 OK\r\nETag: \"a b\"\r\n\r\n",
        "HTTP/1.1 200 OK\r\nETag: \"a\"\r\nETag: \"a\"\r\n\r\n",
        "HTTP/1.1 200 OK\r\nLast-Modified: x\r\nLast-Modified: x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nLocation:\r\n\r\n",
        "HTTP/1.1 503 OK\r\nRetry-After: 1a\r\n\r\n",
        "HTTP/1.1 503 OK\r\nRetry-After: soon\r\n\r\n",
        "HTTP/1.1 200 OK\r\nConnection: clo\"se\r\n\r\n",
        "\r\n\r\n",
    };
    struct http_resp r;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rr = parse(bad[i], &r);
        if (rr != -EBADMSG)
            ck_abort_msg("case %zu (%s): %d, not -EBADMSG", i, bad[i], rr);
    }
    /* a NUL anywhere in the head */
    {
        const char s[] = "HTTP/1.1 200 OK\r\nA: b\0c\r\n\r\n";
        ck_assert_int_eq(http_resp_parse(&lim, s, sizeof(s) - 1, &r), -EBADMSG);
    }
}
END_TEST

START_TEST(test_every_split)
{
    const char *s = "HTTP/1.1 206 Partial Content\r\nContent-Length: 10\r\n"
                    "Content-Range: bytes 0-9/100\r\nETag: \"e\"\r\n\r\n";
    size_t n = strlen(s);
    struct http_resp r;

    for (size_t i = 0; i < n; i++) {
        int rr = http_resp_parse(&lim, s, i, &r);
        if (rr != -EAGAIN)
            ck_abort_msg("prefix %zu: %d, not -EAGAIN", i, rr);
    }
    ck_assert_int_eq(http_resp_parse(&lim, s, n, &r), (int)n);
    ck_assert_uint_eq(r.range_last, 9);
}
END_TEST

START_TEST(test_limits)
{
    struct http_resp r;
    char big[2048], val[200];
    size_t o;

    /* head longer than max_head_bytes without a blank line */
    o = (size_t)snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\n");
    while (o < 1100)
        o += (size_t)snprintf(big + o, sizeof(big) - o, "X-Pad: 0123456789\r\n");
    ck_assert_int_eq(http_resp_parse(&lim, big, o, &r), -E2BIG);
    ck_assert_int_eq(http_resp_parse(&lim, big, 1023, &r), -EAGAIN);
    /* more than max_headers fields */
    ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nA: 1\r\nA: 2\r\nA: 3\r\nA: 4\r\nA: 5\r\n"
                           "A: 6\r\nA: 7\r\nA: 8\r\nA: 9\r\n\r\n", &r), -E2BIG);
    ck_assert_int_gt(parse("HTTP/1.1 200 OK\r\nA: 1\r\nA: 2\r\nA: 3\r\nA: 4\r\nA: 5\r\n"
                           "A: 6\r\nA: 7\r\nA: 8\r\n\r\n", &r), 0);
    /* a value longer than max_value_bytes */
    memset(val, 'v', sizeof(val));
    val[sizeof(val) - 1] = '\0';
    snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\nX: %s\r\n\r\n", val);
    ck_assert_int_eq(parse(big, &r), -E2BIG);
    val[128] = '\0';
    snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\nX: %s\r\n\r\n", val);
    ck_assert_int_gt(parse(big, &r), 0);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("http_resp");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_206);
    tcase_add_test(tc, test_fields);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_every_split);
    tcase_add_test(tc, test_limits);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
