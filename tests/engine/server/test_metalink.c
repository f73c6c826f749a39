/*
 * tests/engine/server/test_metalink.c - engine/server/metalink.c: the rendered document
 * parsed back with libxml2 (namespaces, size, every piece hash, zero markers, escaping).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "metalink.h"

static struct manifest *
fake_manifest(bool sha256)
{
    struct manifest *m = calloc(1, sizeof(*m));

    atomic_init(&m->refcnt, 1);
    m->id = (struct manifest_identity){.dev = 0x803, .ino = 77, .size = 10 * 1024 + 5,
                                       .mtime_ns = 1234567890123456789LL};
    m->chunk_size = 4096;
    m->nchunks = 3;
    m->has_sha256 = sha256;
    m->chunks = calloc(3, sizeof(*m->chunks));
    for (int i = 0; i < 3; i++) {
        for (int b = 0; b < 16; b++)
            m->chunks[i].xxh[b] = (uint8_t)(i * 16 + b);
        for (int b = 0; b < 32; b++)
            m->chunks[i].sha256[b] = (uint8_t)(0xa0 + i + b);
    }
    m->chunks[1].zero = true;
    for (int b = 0; b < 32; b++)
        m->file_sha256[b] = (uint8_t)b;
    return m;
}

static char *
xpath_str(xmlXPathContextPtr ctx, const char *expr)
{
    xmlXPathObjectPtr o = xmlXPathEvalExpression(BAD_CAST expr, ctx);
    char *s;

    ck_assert_ptr_nonnull(o);
    s = (char *)xmlXPathCastToString(o);
    xmlXPathFreeObject(o);
    return s;
}

static double
xpath_num(xmlXPathContextPtr ctx, const char *expr)
{
    xmlXPathObjectPtr o = xmlXPathEvalExpression(BAD_CAST expr, ctx);
    double d;

    ck_assert_ptr_nonnull(o);
    d = xmlXPathCastToNumber(o);
    xmlXPathFreeObject(o);
    return d;
}

static void
expect_str(xmlXPathContextPtr ctx, const char *expr, const char *want)
{
    char *s = xpath_str(ctx, expr);
    ck_assert_msg(strcmp(s, want) == 0, "%s = '%s', want '%s'", expr, s, want);
    xmlFree(s);
}

static xmlDocPtr
render_parse(const struct manifest *m, const char *name, const char *url,
             xmlXPathContextPtr *ret_ctx)
{
    char *xml = NULL;
    size_t len = 0;
    xmlDocPtr doc;
    xmlXPathContextPtr ctx;

    ck_assert_int_eq(metalink_render(m, name, url, &xml, &len), 0);
    ck_assert_uint_eq(strlen(xml), len);
    doc = xmlReadMemory(xml, (int)len, "m.meta4", NULL, XML_PARSE_NONET);
    ck_assert_ptr_nonnull(doc);
    free(xml);
    ctx = xmlXPathNewContext(doc);
    xmlXPathRegisterNs(ctx, BAD_CAST "m", BAD_CAST METALINK_NS);
    xmlXPathRegisterNs(ctx, BAD_CAST "f", BAD_CAST METALINK_FERRY_NS);
    *ret_ctx = ctx;
    return doc;
}

START_TEST(test_xxh3_only)
{
    struct manifest *m = fake_manifest(false);
    xmlXPathContextPtr ctx;
    xmlDocPtr doc = render_parse(m, "disk.img", "http://127.0.0.1:8080/images/disk.img", &ctx);

    ck_assert_double_eq(xpath_num(ctx, "count(/m:metalink/m:file)"), 1);
    expect_str(ctx, "/m:metalink/m:file/@name", "disk.img");
    expect_str(ctx, "/m:metalink/m:file/m:size", "10245");
    expect_str(ctx, "/m:metalink/m:file/f:etag", "\"803-4d-2805-112210f47de98115\"");
    ck_assert_double_eq(xpath_num(ctx, "count(//m:pieces)"), 1);
    ck_assert_double_eq(xpath_num(ctx, "count(//m:file/m:hash)"), 0);
    expect_str(ctx, "//m:pieces/@type", "xxh3-128");
    expect_str(ctx, "//m:pieces/@length", "4096");
    ck_assert_double_eq(xpath_num(ctx, "count(//m:pieces/m:hash)"), 3);
    expect_str(ctx, "//m:pieces/m:hash[1]", "000102030405060708090a0b0c0d0e0f");
    expect_str(ctx, "//m:pieces/m:hash[2]", "101112131415161718191a1b1c1d1e1f");
    expect_str(ctx, "//m:pieces/m:hash[3]", "202122232425262728292a2b2c2d2e2f");
    expect_str(ctx, "//m:pieces/m:hash[2]/@f:zero", "true");
    ck_assert_double_eq(xpath_num(ctx, "count(//m:pieces/m:hash[@f:zero])"), 1);
    expect_str(ctx, "//m:file/m:url", "http://127.0.0.1:8080/images/disk.img");
    expect_str(ctx, "//m:file/m:url/@priority", "1");
    xmlXPathFreeContext(ctx);
    xmlFreeDoc(doc);
    manifest_unref(m);
}
END_TEST

START_TEST(test_sha256_and_escaping)
{
    struct manifest *m = fake_manifest(true);
    xmlXPathContextPtr ctx;
    xmlDocPtr doc = render_parse(m, "a&b <\"c\">.img", "http://h:1/g/a%26b?x=1&y=2", &ctx);

    expect_str(ctx, "/m:metalink/m:file/@name", "a&b <\"c\">.img");
    expect_str(ctx, "//m:file/m:url", "http://h:1/g/a%26b?x=1&y=2");
    ck_assert_double_eq(xpath_num(ctx, "count(//m:pieces)"), 2);
    expect_str(ctx, "//m:file/m:hash[@type='sha-256']",
               "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    ck_assert_double_eq(xpath_num(ctx, "count(//m:pieces[@type='sha-256']/m:hash)"), 3);
    expect_str(ctx, "//m:pieces[@type='sha-256']/m:hash[1]",
               "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf");
    expect_str(ctx, "//m:pieces[@type='sha-256']/@length", "4096");
    /* zero markers only on the ferry pieces */
    ck_assert_double_eq(xpath_num(ctx, "count(//m:pieces[@type='sha-256']/m:hash[@f:zero])"),
                        0);
    ck_assert_double_eq(xpath_num(ctx, "count(//m:pieces[@type='xxh3-128']/m:hash[@f:zero])"),
                        1);
    xmlXPathFreeContext(ctx);
    xmlFreeDoc(doc);
    manifest_unref(m);
}
END_TEST

START_TEST(test_empty_file)
{
    struct manifest *m = fake_manifest(true);
    xmlXPathContextPtr ctx;
    xmlDocPtr doc;

    m->id.size = 0;
    m->nchunks = 0;
    doc = render_parse(m, "empty", "http://h:1/g/empty", &ctx);
    expect_str(ctx, "//m:file/m:size", "0");
    ck_assert_double_eq(xpath_num(ctx, "count(//m:pieces)"), 0);
    xmlXPathFreeContext(ctx);
    xmlFreeDoc(doc);
    manifest_unref(m);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("metalink");
    TCase *tc = tcase_create("metalink");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_xxh3_only);
    tcase_add_test(tc, test_sha256_and_escaping);
    tcase_add_test(tc, test_empty_file);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
