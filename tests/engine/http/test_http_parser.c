/*
 * tests/engine/http/test_http_parser.c - engine/http/http_parser.c: every refusal with its
 * status, incremental heads, pipelining, Content-Length and chunked bodies split at every
 * byte boundary, path decoding.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_parser.h"

static const struct http_parser_limits lim_default = {
    .max_header_bytes = 1024,
    .max_headers = 8,
    .max_target_bytes = 256,
    .max_body_bytes = 4096,
};

/* Parse a whole request in one call; returns the execute() result, fills *st on refusal. */
static int
parse_one(struct http_parser *p, const char *req, size_t len, size_t *consumed)
{
    size_t c = 0;
    int r;

    http_parser_init(p, &lim_default);
    r = http_parser_execute(p, req, len, &c);
    if (consumed)
        *consumed = c;
    return r;
}

/* Expected status of a refused request. */
static int
status_of(const char *req)
{
    struct http_parser p;
    int r = parse_one(&p, req, strlen(req), NULL);
    int st = r == -EBADMSG ? p.status : (r == 0 ? 0 : -1);

    http_parser_done(&p);
    return st;
}

START_TEST(test_simple_get)
{
    const char *req = "GET /images/disk%20one.qcow2?x=1&y=%2F HTTP/1.1\r\n"
                      "Host: example.org:8080\r\n"
                      "User-Agent: curl/7.88.1\r\n"
                      "Accept:*/*  \r\n"
                      "X-Empty:\r\n"
                      "\r\n";
    struct http_parser p;
    size_t c;

    ck_assert_int_eq(parse_one(&p, req, strlen(req), &c), 0);
    ck_assert_uint_eq(c, strlen(req));
    ck_assert_int_eq(p.method, FERRY_HTTP_GET);
    ck_assert_str_eq(p.method_str, "GET");
    ck_assert_str_eq(p.path, "/images/disk one.qcow2");
    ck_assert_str_eq(p.query, "x=1&y=%2F");
    ck_assert_int_eq(p.version_minor, 1);
    ck_assert(p.keep_alive);
    ck_assert_uint_eq(p.nheaders, 4);
    ck_assert_str_eq(http_parser_header(&p, "host"), "example.org:8080");
    ck_assert_str_eq(http_parser_header(&p, "ACCEPT"), "*/*");
    ck_assert_str_eq(http_parser_header(&p, "x-empty"), "");
    ck_assert_ptr_null(http_parser_header(&p, "Range"));
    ck_assert_uint_eq(p.body_len, 0);
    http_parser_done(&p);
}
END_TEST

START_TEST(test_methods_versions)
{
    struct http_parser p;
    const char *r10 = "HEAD / HTTP/1.0\r\n\r\n";
    const char *r10ka = "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n";
    const char *rclose = "GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n";
    const char *rother = "PROPFIND / HTTP/1.1\r\nHost: a\r\n\r\n";

    ck_assert_int_eq(parse_one(&p, r10, strlen(r10), NULL), 0);
    ck_assert_int_eq(p.method, FERRY_HTTP_HEAD);
    ck_assert_int_eq(p.version_minor, 0);
    ck_assert(!p.keep_alive); /* 1.0 without Host is fine, closes by default */
    http_parser_done(&p);
    ck_assert_int_eq(parse_one(&p, r10ka, strlen(r10ka), NULL), 0);
    ck_assert(p.keep_alive);
    http_parser_done(&p);
    ck_assert_int_eq(parse_one(&p, rclose, strlen(rclose), NULL), 0);
    ck_assert(!p.keep_alive);
    http_parser_done(&p);
    ck_assert_int_eq(parse_one(&p, rother, strlen(rother), NULL), 0);
    ck_assert_int_eq(p.method, FERRY_HTTP_OTHER);
    ck_assert_str_eq(p.method_str, "PROPFIND");
    http_parser_done(&p);
}
END_TEST

START_TEST(test_request_line_rejections)
{
    ck_assert_int_eq(status_of("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("G(T / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    ck_assert_int_eq(status_of(" GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("GET / HTTP/1.1 \r\nHost: a\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), 505);
    ck_assert_int_eq(status_of("GET / HTTP/0.9\r\nHost: a\r\n\r\n"), 505);
    ck_assert_int_eq(status_of("GET / HTTP/1.10\r\nHost: a\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("GET / http/1.1\r\nHost: a\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("GET /\r\n\r\n"), 400);
    ck_assert_int_eq(
        status_of("ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJ / HTTP/1.1\r\nHost: a\r\n\r\n"), 501);
}
END_TEST

START_TEST(test_path_decoding)
{
    struct http_parser p;
    const char *ok = "GET /a/%C3%A9t%c3%a9/b.c?q HTTP/1.1\r\nHost: a\r\n\r\n";

    ck_assert_int_eq(parse_one(&p, ok, strlen(ok), NULL), 0);
    ck_assert_str_eq(p.path, "/a/\xc3\xa9t\xc3\xa9/b.c");
    http_parser_done(&p);
    ck_assert_int_eq(status_of("GET /a%00b HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("GET /a%2Fb HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("GET /a%2fb HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("GET /a%0a HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("GET /a%zz HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("GET /a% HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("GET /a%4 HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("GET /../etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("GET /a/.. HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("GET /a/./b HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("GET /a/%2e%2E/b HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("GET /a/..b/...?x=.. HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
}
END_TEST

START_TEST(test_header_rejections)
{
    /* whitespace before ':' */
    ck_assert_int_eq(status_of("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), 400);
    /* obs-fold */
    ck_assert_int_eq(status_of("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tc\r\n\r\n"), 400);
    /* bare CR, bare LF, NUL */
    ck_assert_int_eq(status_of("GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("GET / HTTP/1.1\nHost: a\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("GET / HTTP/1.1\r\nHost: a\n\r\n"), 400);
    {
        static const char nul[] = "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n";
        struct http_parser p;
        ck_assert_int_eq(parse_one(&p, nul, sizeof(nul) - 1, NULL), -EBADMSG);
        ck_assert_int_eq(p.status, 400);
        http_parser_done(&p);
    }
    /* control byte in a value, name not a token, missing colon, empty name */
    ck_assert_int_eq(status_of("GET / HTTP/1.1\r\nHost: a\r\nX: a\x01\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("GET / HTTP/1.1\r\nHost: a\r\nX(y): a\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("GET / HTTP/1.1\r\nHost: a\r\nXy\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("GET / HTTP/1.1\r\nHost: a\r\n: a\r\n\r\n"), 400);
    /* Host: required once in 1.1 */
    ck_assert_int_eq(status_of("GET / HTTP/1.1\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), 400);
    /* Expect */
    ck_assert_int_eq(status_of("GET / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n"), 417);
}
END_TEST

START_TEST(test_content_length_rules)
{
    ck_assert_int_eq(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5x\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\n"),
                     400);
    ck_assert_int_eq(
        status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
        400);
    ck_assert_int_eq(
        status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n"),
        400);
    /* identical duplicates are one value */
    ck_assert_int_eq(
        status_of(
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"),
        0);
    /* CL + TE */
    ck_assert_int_eq(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n"),
                     400);
    /* TE other than chunked, TE twice, TE on 1.0 */
    ck_assert_int_eq(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"),
                     501);
    ck_assert_int_eq(
        status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), 501);
    ck_assert_int_eq(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n"),
                     400);
    ck_assert_int_eq(status_of("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
    /* body limit: 413 from the announced length */
    ck_assert_int_eq(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4097\r\n\r\n"), 413);
}
END_TEST

START_TEST(test_limits)
{
    char buf[4096];
    size_t n;

    /* 414: a target beyond max_target_bytes, whole line present */
    n = (size_t)snprintf(buf, sizeof(buf), "GET /%0300d HTTP/1.1\r\nHost: a\r\n\r\n", 0);
    ck_assert_int_eq(status_of(buf), 414);
    /* 414 also before the line ends */
    n = (size_t)snprintf(buf, sizeof(buf), "GET /%0400d", 0);
    {
        struct http_parser p;
        ck_assert_int_eq(parse_one(&p, buf, n, NULL), -EBADMSG);
        ck_assert_int_eq(p.status, 414);
        http_parser_done(&p);
    }
    /* 431: too many header fields (limit 8) */
    n = (size_t)snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a\r\n");
    for (int i = 0; i < 8; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X-%d: v\r\n", i);
    snprintf(buf + n, sizeof(buf) - n, "\r\n");
    ck_assert_int_eq(status_of(buf), 431);
    /* 431: head beyond max_header_bytes, detected before the blank line arrives */
    n = (size_t)snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a\r\nX-Big: %01100d", 0);
    {
        struct http_parser p;
        ck_assert_int_eq(parse_one(&p, buf, n, NULL), -EBADMSG);
        ck_assert_int_eq(p.status, 431);
        http_parser_done(&p);
    }
    /* exactly at the limit passes */
    {
        struct http_parser p;
        char big[1024 + 1];
        size_t h = (size_t)snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: a\r\nX: ");
        memset(big + h, 'v', 1024 - h - 4);
        memcpy(big + 1024 - 4, "\r\n\r\n", 4);
        ck_assert_int_eq(parse_one(&p, big, 1024, NULL), 0);
        http_parser_done(&p);
    }
}
END_TEST

START_TEST(test_incremental_head)
{
    const char *req = "GET /x HTTP/1.1\r\nHost: a\r\nRange: bytes=0-9\r\n\r\n";
    size_t len = strlen(req);

    /* Present growing prefixes as a connection buffer would. */
    struct http_parser p;
    size_t c = 0;

    http_parser_init(&p, &lim_default);
    for (size_t n = 1; n < len; n++) {
        ck_assert_int_eq(http_parser_execute(&p, req, n, &c), -EAGAIN);
        ck_assert_uint_eq(c, 0);
        ck_assert(!http_parser_head_complete(&p));
    }
    ck_assert_int_eq(http_parser_execute(&p, req, len, &c), 0);
    ck_assert_uint_eq(c, len);
    ck_assert_str_eq(http_parser_header(&p, "range"), "bytes=0-9");
    http_parser_done(&p);
}
END_TEST

START_TEST(test_pipelining)
{
    const char *reqs = "\r\nGET /a HTTP/1.1\r\nHost: h\r\n\r\n"
                       "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
                       "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "3\r\nabc\r\n0\r\n\r\n"
                       "HEAD /d HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
    const char *paths[] = {"/a", "/b", "/c", "/d"};
    const char *bodies[] = {"", "hello", "abc", ""};
    size_t len = strlen(reqs), off = 0;
    struct http_parser p;
    int i = 0;

    http_parser_init(&p, &lim_default);
    while (off < len) {
        size_t c;
        ck_assert_int_lt(i, 4);
        ck_assert_int_eq(http_parser_execute(&p, reqs + off, len - off, &c), 0);
        ck_assert_str_eq(p.path, paths[i]);
        ck_assert_uint_eq(p.body_len, strlen(bodies[i]));
        if (p.body_len)
            ck_assert_int_eq(memcmp(p.body, bodies[i], p.body_len), 0);
        off += c;
        i++;
        http_parser_reset(&p);
    }
    ck_assert_int_eq(i, 4);
    http_parser_done(&p);
}
END_TEST

/* Feed `req` split in two at `split`, as a connection would: keep unconsumed bytes. */
static int
feed_split(struct http_parser *p, const char *req, size_t len, size_t split)
{
    char buf[2048];
    size_t have = 0, c = 0;
    int r;

    memcpy(buf, req, split);
    have = split;
    r = http_parser_execute(p, buf, have, &c);
    if (r != -EAGAIN)
        return r == 0 && split == len ? 0 : (r == 0 ? 1 : r);
    memmove(buf, buf + c, have - c);
    have -= c;
    memcpy(buf + have, req + split, len - split);
    have += len - split;
    r = http_parser_execute(p, buf, have, &c);
    if (r == 0 && c != have)
        return 2;
    return r;
}

START_TEST(test_chunked_every_split)
{
    const char *req = "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "5;name=val\r\nhello\r\n"
                      "1A\r\n abcdefghijklmnopqrstuvwxy\r\n"
                      "0\r\nX-Trailer: t\r\n\r\n";
    const char *body = "hello abcdefghijklmnopqrstuvwxy";
    size_t len = strlen(req);

    for (size_t split = 1; split <= len; split++) {
        struct http_parser p;
        http_parser_init(&p, &lim_default);
        ck_assert_msg(feed_split(&p, req, len, split) == 0, "split at %zu", split);
        ck_assert(p.chunked);
        ck_assert_uint_eq(p.body_len, strlen(body));
        ck_assert_int_eq(memcmp(p.body, body, p.body_len), 0);
        http_parser_done(&p);
    }
}
END_TEST

START_TEST(test_content_length_every_split)
{
    const char *req = "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world";
    size_t len = strlen(req);

    for (size_t split = 1; split <= len; split++) {
        struct http_parser p;
        http_parser_init(&p, &lim_default);
        ck_assert_msg(feed_split(&p, req, len, split) == 0, "split at %zu", split);
        ck_assert_uint_eq(p.body_len, 11);
        ck_assert_str_eq(p.body, "hello world");
        http_parser_done(&p);
    }
}
END_TEST

START_TEST(test_chunked_rejections)
{
#define CH "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
    ck_assert_int_eq(status_of(CH "g\r\n"), 400);
    ck_assert_int_eq(status_of(CH "\r\n"), 400);
    ck_assert_int_eq(status_of(CH ";x\r\n"), 400);
    ck_assert_int_eq(status_of(CH "-1\r\n"), 400);
    ck_assert_int_eq(status_of(CH "3 \r\nabc\r\n"), 400);
    ck_assert_int_eq(status_of(CH "3\nabc\r\n"), 400);
    ck_assert_int_eq(status_of(CH "3\r\nabcd\r\n"), 400);
    ck_assert_int_eq(status_of(CH "3\r\nabc\n"), 400);
    ck_assert_int_eq(status_of(CH "00000000000000001\r\n"), 400);
    ck_assert_int_eq(status_of(CH "1001\r\n"), 413); /* 4097 > max_body_bytes */
    ck_assert_int_eq(status_of(CH "fffffffffffffff\r\n"), 413);
    ck_assert_int_eq(status_of(CH "800\r\n"), -1);   /* 2048: fine so far, wants data */
    ck_assert_int_eq(status_of(CH "3;a\x01\r\n"), 400);
    ck_assert_int_eq(status_of(CH "0\r\n X: y\r\n\r\n"), 400);
    ck_assert_int_eq(status_of(CH "0\r\nX: y\x01\r\n\r\n"), 400);
    ck_assert_int_eq(status_of(CH "0\r\n\r\r"), 400);
    {
        /* chunk extensions are bounded in total (max_header_bytes = 1024) */
        char buf[4096];
        size_t n = (size_t)snprintf(buf, sizeof(buf), CH "1;");
        memset(buf + n, 'e', 1100);
        buf[n + 1100] = '\0';
        ck_assert_int_eq(status_of(buf), 400);
        /* trailers too */
        n = (size_t)snprintf(buf, sizeof(buf), CH "0\r\nX: ");
        memset(buf + n, 't', 1100);
        buf[n + 1100] = '\0';
        ck_assert_int_eq(status_of(buf), 431);
        n = (size_t)snprintf(buf, sizeof(buf), CH "0\r\n");
        for (int i = 0; i < 9; i++)
            n += (size_t)snprintf(buf + n, sizeof(buf) - n, "T%d: v\r\n", i);
        ck_assert_int_eq(status_of(buf), 431);
    }
    {
        /* the de-chunked total counts, not each chunk */
        char buf[8192];
        size_t n = (size_t)snprintf(buf, sizeof(buf), CH);
        for (int i = 0; i < 3; i++) {
            n += (size_t)snprintf(buf + n, sizeof(buf) - n, "600\r\n");
            memset(buf + n, 'x', 0x600);
            n += 0x600;
            n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\r\n");
        }
        struct http_parser p;
        ck_assert_int_eq(parse_one(&p, buf, n, NULL), -EBADMSG);
        ck_assert_int_eq(p.status, 413);
        http_parser_done(&p);
    }
#undef CH
}
END_TEST

/* A held head whose hook raised the cap reads its body; the next request is back at the
 * listener's cap, and a body above the cap is refused before a byte of it is read. */
START_TEST(test_allow_body)
{
    struct http_parser_limits lim = lim_default;
    struct http_parser p;
    size_t c;
    const char *post = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello";
    const char *chunked = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "5\r\nhello\r\n0\r\n\r\n";
    const char *big = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9\r\n\r\n";

    lim.max_body_bytes = 0;
    lim.hold_body = true;
    http_parser_init(&p, &lim);
    ck_assert_int_eq(http_parser_execute(&p, post, strlen(post), &c), -EAGAIN);
    ck_assert_int_eq(p.state, HTTP_PARSE_HELD);
    http_parser_allow_body(&p, 8);
    http_parser_allow_body(&p, 2); /* never lowers */
    http_parser_release_body(&p);
    ck_assert_int_eq(http_parser_execute(&p, post + c, strlen(post) - c, &c), 0);
    ck_assert_str_eq(p.body, "hello");
    http_parser_reset(&p);
    /* the next request: no body allowed again */
    ck_assert_int_eq(http_parser_execute(&p, post, strlen(post), &c), -EAGAIN);
    http_parser_release_body(&p);
    ck_assert_int_eq(http_parser_execute(&p, post + c, strlen(post) - c, &c), -EBADMSG);
    ck_assert_int_eq(p.status, 413);
    http_parser_done(&p);
    /* chunked within the raised cap */
    http_parser_init(&p, &lim);
    ck_assert_int_eq(http_parser_execute(&p, chunked, strlen(chunked), &c), -EAGAIN);
    http_parser_allow_body(&p, 5);
    http_parser_release_body(&p);
    ck_assert_int_eq(http_parser_execute(&p, chunked + c, strlen(chunked) - c, &c), 0);
    ck_assert_str_eq(p.body, "hello");
    http_parser_done(&p);
    /* above the raised cap: 413 on the head, with no body byte given */
    http_parser_init(&p, &lim);
    ck_assert_int_eq(http_parser_execute(&p, big, strlen(big), &c), -EAGAIN);
    http_parser_allow_body(&p, 8);
    http_parser_release_body(&p);
    ck_assert_int_eq(http_parser_execute(&p, "", 0, &c), -EBADMSG);
    ck_assert_int_eq(p.status, 413);
    http_parser_done(&p);
}
END_TEST

/* A body received straight into the parser's buffer (the connection's large-body path):
 * the window is the rest of the Content-Length body, and it completes the request. */
START_TEST(test_body_window)
{
    struct http_parser p;
    size_t c, n = 0;
    char *dst = NULL;
    const char *post = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nab";

    http_parser_init(&p, &lim_default);
    ck_assert(!http_parser_body_window(&p, &dst, &n));
    ck_assert_int_eq(http_parser_execute(&p, post, strlen(post), &c), -EAGAIN);
    ck_assert(http_parser_body_window(&p, &dst, &n));
    ck_assert_uint_eq(n, 8);
    memcpy(dst, "cdefg", 5);
    http_parser_body_received(&p, 5);
    http_parser_body_received(&p, 9); /* more than due: ignored */
    ck_assert(http_parser_body_window(&p, &dst, &n));
    ck_assert_uint_eq(n, 3);
    memcpy(dst, "hij", 3);
    http_parser_body_received(&p, 3);
    ck_assert(!http_parser_body_window(&p, &dst, &n));
    ck_assert_int_eq(http_parser_execute(&p, "", 0, &c), 0);
    ck_assert_uint_eq(p.body_len, 10);
    ck_assert_str_eq(p.body, "abcdefghij");
    http_parser_done(&p);
}
END_TEST

START_TEST(test_no_body_allowed)
{
    struct http_parser_limits lim = lim_default;
    struct http_parser p;
    size_t c;
    const char *post = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx";
    const char *post0 = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n";
    const char *exp = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nExpect: 100-continue"
                      "\r\n\r\n";

    lim.max_body_bytes = 0;
    http_parser_init(&p, &lim);
    ck_assert_int_eq(http_parser_execute(&p, post, strlen(post), &c), -EBADMSG);
    ck_assert_int_eq(p.status, 413);
    http_parser_done(&p);
    http_parser_init(&p, &lim);
    ck_assert_int_eq(http_parser_execute(&p, post0, strlen(post0), &c), 0);
    http_parser_done(&p);
    /* Expect: 100-continue is reported once the head is in, while the body is pending */
    http_parser_init(&p, &lim_default);
    ck_assert_int_eq(http_parser_execute(&p, exp, strlen(exp), &c), -EAGAIN);
    ck_assert_uint_eq(c, strlen(exp));
    ck_assert(http_parser_head_complete(&p));
    ck_assert(p.expect_continue);
    ck_assert_int_eq(http_parser_execute(&p, "z", 1, &c), 0);
    ck_assert_str_eq(p.body, "z");
    http_parser_done(&p);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("http_parser");
    TCase *tc = tcase_create("parser");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_simple_get);
    tcase_add_test(tc, test_methods_versions);
    tcase_add_test(tc, test_request_line_rejections);
    tcase_add_test(tc, test_path_decoding);
    tcase_add_test(tc, test_header_rejections);
    tcase_add_test(tc, test_content_length_rules);
    tcase_add_test(tc, test_limits);
    tcase_add_test(tc, test_incremental_head);
    tcase_add_test(tc, test_pipelining);
    tcase_add_test(tc, test_chunked_every_split);
    tcase_add_test(tc, test_content_length_every_split);
    tcase_add_test(tc, test_chunked_rejections);
    tcase_add_test(tc, test_no_body_allowed);
    tcase_add_test(tc, test_allow_body);
    tcase_add_test(tc, test_body_window);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
