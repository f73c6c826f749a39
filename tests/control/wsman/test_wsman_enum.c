/*
 * tests/control/wsman/test_wsman_enum.c - Enumerate / Pull / Release: paging, optimized
 * enumeration, EPR modes, MaxEnvelopeSize giving fewer items, expiry, release, contexts
 * bound to their user, the context cap, BitsClientFile and URL group listings.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsman_test.h"

#define MID "<a:MessageID>uuid:e</a:MessageID>"

static struct wt T;

static void
setup(void)
{
    wt_init(&T);
}

static void
teardown(void)
{
    wt_done(&T);
}

static int
enumerate(const struct wsman_caller *c, const char *uri, const char *headers,
          const char *inner)
{
    char body[1024];

    snprintf(body, sizeof(body), "<n:Enumerate>%s</n:Enumerate>", inner ? inner : "");
    return wt_send_env(&T, c, wt_env(WSMAN_ACTION_ENUMERATE, uri, MID, headers, body));
}

static int
pull(const struct wsman_caller *c, const char *uri, const char *ctx, int max,
     const char *headers)
{
    char body[512];

    snprintf(body, sizeof(body),
             "<n:Pull><n:EnumerationContext>%s</n:EnumerationContext>"
             "<n:MaxElements>%d</n:MaxElements></n:Pull>", ctx, max);
    return wt_send_env(&T, c, wt_env(WSMAN_ACTION_PULL, uri, MID, headers, body));
}

static char *
context(void)
{
    return wt_x(&T, "//n:EnumerationContext");
}

static void
make_jobs(int n)
{
    char name[32];

    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "job%02d", i);
        wt_create_job(&T, name);
    }
}

static void
expect_sub(int status, int want, const char *sub)
{
    char *s = wt_subcode(&T);

    ck_assert_msg(status == want, "status %d: %s", status, T.reply.body);
    ck_assert_str_eq(s, sub);
    free(s);
}

START_TEST(test_plain_enumerate_pull)
{
    char *ctx;
    int seen = 0;

    make_jobs(25);
    ck_assert_int_eq(enumerate(&T.admin, NS_JOB, NULL, NULL), 200);
    ck_assert_int_eq(wt_count(&T, "//p:BitsClientJob"), 0);
    ctx = context();
    ck_assert_int_eq(strncmp(ctx, "uuid:", 5), 0);
    char *act = wt_x(&T, "/s:Envelope/s:Header/a:Action");
    ck_assert_str_eq(act, WSMAN_ACTION_ENUMERATE_RESPONSE);
    free(act);
    for (int round = 0; round < 3; round++) {
        ck_assert_int_eq(pull(&T.admin, NS_JOB, ctx, 10, NULL), 200);
        int n = wt_count(&T, "//n:PullResponse/n:Items/p:BitsClientJob");
        seen += n;
        if (round < 2) {
            ck_assert_int_eq(n, 10);
            ck_assert_int_eq(wt_count(&T, "//n:EndOfSequence"), 0);
            char *c2 = context();
            ck_assert_str_eq(c2, ctx);
            free(c2);
        } else {
            ck_assert_int_eq(n, 5);
            ck_assert_int_eq(wt_count(&T, "//n:PullResponse/n:EndOfSequence"), 1);
            ck_assert_int_eq(wt_count(&T, "//n:EnumerationContext"), 0);
        }
    }
    ck_assert_int_eq(seen, 25);
    /* finished: the context is gone */
    expect_sub(pull(&T.admin, NS_JOB, ctx, 10, NULL), 500, "InvalidEnumerationContext");
    char *a2 = wt_x(&T, "/s:Envelope/s:Header/a:Action");
    ck_assert_str_eq(a2, WSMAN_ACTION_FAULT_ENUMERATION);
    free(a2);
    free(ctx);
    ck_assert_uint_eq(wsman_enum_store_count(T.ctx->enums), 0);
}
END_TEST

START_TEST(test_optimized)
{
    make_jobs(5);
    ck_assert_int_eq(enumerate(&T.admin, NS_JOB,
                               "<w:RequestTotalItemsCountEstimate/>",
                               "<w:OptimizeEnumeration/><w:MaxElements>100</w:MaxElements>"),
                     200);
    ck_assert_int_eq(wt_count(&T, "//n:EnumerateResponse/w:Items/p:BitsClientJob"), 5);
    ck_assert_int_eq(wt_count(&T, "//n:EnumerateResponse/w:EndOfSequence"), 1);
    char *c = context();
    ck_assert_str_eq(c, "");   /* empty context: wsl stops pulling */
    free(c);
    char *est = wt_x(&T, "/s:Envelope/s:Header/w:TotalItemsCountEstimate");
    ck_assert_str_eq(est, "5");
    free(est);
    ck_assert_uint_eq(wsman_enum_store_count(T.ctx->enums), 0);
    /* OptimizeEnumeration without MaxElements: one item, then Pull the rest */
    ck_assert_int_eq(enumerate(&T.admin, NS_JOB, NULL, "<w:OptimizeEnumeration/>"), 200);
    ck_assert_int_eq(wt_count(&T, "//w:Items/p:BitsClientJob"), 1);
    c = context();
    ck_assert_int_eq(pull(&T.admin, NS_JOB, c, 50, NULL), 200);
    ck_assert_int_eq(wt_count(&T, "//n:Items/p:BitsClientJob"), 4);
    ck_assert_int_eq(wt_count(&T, "//n:EndOfSequence"), 1);
    free(c);
    /* zero jobs, plain enumerate: a context, then an empty final Pull */
}
END_TEST

START_TEST(test_empty)
{
    ck_assert_int_eq(enumerate(&T.admin, NS_JOB, NULL, NULL), 200);
    char *c = context();
    ck_assert_int_eq(pull(&T.admin, NS_JOB, c, 5, NULL), 200);
    ck_assert_int_eq(wt_count(&T, "//n:Items/*"), 0);
    ck_assert_int_eq(wt_count(&T, "//n:EndOfSequence"), 1);
    free(c);
    ck_assert_int_eq(enumerate(&T.admin, NS_JOB, NULL, "<w:OptimizeEnumeration/>"), 200);
    ck_assert_int_eq(wt_count(&T, "//w:EndOfSequence"), 1);
}
END_TEST

START_TEST(test_epr_modes)
{
    make_jobs(2);
    ck_assert_int_eq(enumerate(&T.admin, NS_JOB, NULL,
                               "<w:OptimizeEnumeration/><w:MaxElements>10</w:MaxElements>"
                               "<w:EnumerationMode>EnumerateEPR</w:EnumerationMode>"),
                     200);
    ck_assert_int_eq(wt_count(&T, "//w:Items/a:EndpointReference"), 2);
    ck_assert_int_eq(wt_count(&T, "//w:Items/p:BitsClientJob"), 0);
    char *v = wt_x(&T, "//w:Items/a:EndpointReference[1]/a:ReferenceParameters/w:ResourceURI");
    ck_assert_str_eq(v, NS_JOB);
    free(v);
    v = wt_x(&T, "//w:Items/a:EndpointReference[1]//w:Selector[@Name='JobId']");
    ck_assert_int_eq(ferry_guid_check(v), 0);
    free(v);
    /* wsl copies these lines verbatim: they must use wsa:/wsman: */
    ck_assert_ptr_nonnull(strstr(T.reply.body, "<wsman:SelectorSet><wsman:Selector Name=\"JobId\">"));
    ck_assert_ptr_nonnull(strstr(T.reply.body, "<wsa:ReferenceParameters>"));

    ck_assert_int_eq(enumerate(&T.admin, NS_JOB, NULL,
                               "<w:OptimizeEnumeration/><w:MaxElements>10</w:MaxElements>"
                               "<w:EnumerationMode>EnumerateObjectAndEPR</w:EnumerationMode>"),
                     200);
    ck_assert_int_eq(wt_count(&T, "//w:Items/w:Item"), 2);
    ck_assert_int_eq(wt_count(&T, "//w:Items/w:Item/p:BitsClientJob"), 2);
    ck_assert_int_eq(wt_count(&T, "//w:Items/w:Item/a:EndpointReference"), 2);
    expect_sub(enumerate(&T.admin, NS_JOB, NULL,
                         "<w:EnumerationMode>EnumerateEverything</w:EnumerationMode>"),
               400, "UnsupportedFeature");
    expect_sub(enumerate(&T.admin, NS_JOB, NULL,
                         "<w:Filter Dialect=\"http://x\">q</w:Filter>"),
               400, "UnsupportedFeature");
    /* WQL: the instances that match, wsen:CannotProcessFilter for another class or a query
     * that does not parse */
    ck_assert_int_eq(enumerate(&T.admin, NS_JOB, NULL,
                               "<w:OptimizeEnumeration/><w:MaxElements>10</w:MaxElements>"
                               "<w:Filter Dialect=\"http://schemas.microsoft.com/wbem/wsman/1/"
                               "WQL\">SELECT * FROM BitsClientJob</w:Filter>"),
                     200);
    ck_assert_int_eq(wt_count(&T, "//w:Items/p:BitsClientJob"), 2);
    ck_assert_int_eq(enumerate(&T.admin, NS_JOB, NULL,
                               "<w:OptimizeEnumeration/><w:MaxElements>10</w:MaxElements>"
                               "<w:Filter Dialect=\"http://schemas.microsoft.com/wbem/wsman/1/"
                               "WQL\">SELECT * FROM BitsClientJob WHERE State = 99</w:Filter>"),
                     200);
    ck_assert_int_eq(wt_count(&T, "//w:Items/p:BitsClientJob"), 0);
    ck_assert_int_eq(wt_count(&T, "//w:EndOfSequence"), 1);
    expect_sub(enumerate(&T.admin, NS_JOB, NULL,
                         "<w:Filter Dialect=\"http://schemas.microsoft.com/wbem/wsman/1/WQL\">"
                         "SELECT * FROM BitsClientFile</w:Filter>"),
               400, "CannotProcessFilter");
    expect_sub(enumerate(&T.admin, NS_JOB, NULL,
                         "<w:Filter Dialect=\"http://schemas.microsoft.com/wbem/wsman/1/WQL\">"
                         "SELECT * FROM BitsClientJob WHERE (State = 1</w:Filter>"),
               400, "CannotProcessFilter");
    expect_sub(enumerate(&T.admin, NS_JOB, NULL, "<w:MaxElements>0</w:MaxElements>"), 400,
               "SchemaValidationError");
    expect_sub(wt_send_env(&T, &T.admin,
                           wt_env(WSMAN_ACTION_ENUMERATE, NS_JOB, MID, NULL, "<n:Pull/>")),
               400, "SchemaValidationError");
}
END_TEST

START_TEST(test_envelope_limits_items)
{
    char *c;
    int total;

    make_jobs(30);
    ck_assert_int_eq(enumerate(&T.admin, NS_JOB,
                               "<w:MaxEnvelopeSize s:mustUnderstand=\"true\">8192"
                               "</w:MaxEnvelopeSize>",
                               "<w:OptimizeEnumeration/><w:MaxElements>1000</w:MaxElements>"),
                     200);
    ck_assert_uint_le(T.reply.len, 8192);
    total = wt_count(&T, "//w:Items/p:BitsClientJob");
    ck_assert_int_gt(total, 0);
    ck_assert_int_lt(total, 30);
    c = context();
    ck_assert_int_ne((int)strlen(c), 0);
    for (int guard = 0; guard < 30; guard++) {
        ck_assert_int_eq(pull(&T.admin, NS_JOB, c, 1000,
                              "<w:MaxEnvelopeSize s:mustUnderstand=\"true\">8192"
                              "</w:MaxEnvelopeSize>"),
                         200);
        ck_assert_uint_le(T.reply.len, 8192);
        total += wt_count(&T, "//n:Items/p:BitsClientJob");
        if (wt_count(&T, "//n:EndOfSequence"))
            break;
    }
    ck_assert_int_eq(total, 30);
    free(c);
}
END_TEST

START_TEST(test_expiry_release_user)
{
    char *c;
    struct wsman_caller other = {"root", FERRY_ROLE_ADMIN, true};

    make_jobs(3);
    ck_assert_int_eq(enumerate(&T.admin, NS_JOB, NULL, NULL), 200);
    c = context();
    /* another administrator may not use it */
    expect_sub(pull(&other, NS_JOB, c, 1, NULL), 400, "AccessDenied");
    /* nor may it be used on another resource */
    expect_sub(pull(&T.admin, NS_GROUP, c, 1, NULL), 500, "InvalidEnumerationContext");
    ck_assert_int_eq(pull(&T.admin, NS_JOB, c, 1, NULL), 200);
    ck_assert_int_eq(wt_count(&T, "//n:Items/p:BitsClientJob"), 1);
    /* expiry after the TTL of inactivity */
    wsman_enum_store_age(T.ctx->enums, 239);
    ck_assert_int_eq(pull(&T.admin, NS_JOB, c, 1, NULL), 200);
    wsman_enum_store_age(T.ctx->enums, 241);
    expect_sub(pull(&T.admin, NS_JOB, c, 1, NULL), 500, "InvalidEnumerationContext");
    free(c);

    /* release mid-enumeration */
    ck_assert_int_eq(enumerate(&T.admin, NS_JOB, NULL, NULL), 200);
    c = context();
    char body[256];
    snprintf(body, sizeof(body),
             "<n:Release><n:EnumerationContext>%s</n:EnumerationContext></n:Release>", c);
    ck_assert_int_eq(wt_send_env(&T, &T.admin,
                                 wt_env(WSMAN_ACTION_RELEASE, NS_JOB, MID, NULL, body)),
                     200);
    char *a = wt_x(&T, "/s:Envelope/s:Header/a:Action");
    ck_assert_str_eq(a, WSMAN_ACTION_RELEASE_RESPONSE);
    free(a);
    expect_sub(pull(&T.admin, NS_JOB, c, 1, NULL), 500, "InvalidEnumerationContext");
    expect_sub(wt_send_env(&T, &T.admin, wt_env(WSMAN_ACTION_RELEASE, NS_JOB, MID, NULL, body)),
               500, "InvalidEnumerationContext");
    expect_sub(pull(&T.admin, NS_JOB, "uuid:nope", 1, NULL), 500, "InvalidEnumerationContext");
    free(c);
}
END_TEST

START_TEST(test_quota)
{
    T.wcfg.max_enums = 2;
    wt_reset_ctx(&T);
    ck_assert_int_eq(enumerate(&T.admin, NS_JOB, NULL, NULL), 200);
    ck_assert_int_eq(enumerate(&T.admin, NS_JOB, NULL, NULL), 200);
    expect_sub(enumerate(&T.admin, NS_JOB, NULL, NULL), 400, "QuotaLimit");
    wsman_enum_store_age(T.ctx->enums, 1000);
    ck_assert_int_eq(enumerate(&T.admin, NS_JOB, NULL, NULL), 200);
}
END_TEST

START_TEST(test_files_and_groups)
{
    char id[64], sel[256];

    snprintf(id, sizeof(id), "%s", wt_create_job(&T, "a"));
    ck_assert_int_eq(wt_invoke(&T, NS_JOB, "AddFile", "JobId", id,
                               "<p:RemoteUrl>http://h/2</p:RemoteUrl><p:LocalFile>/srv/in/2"
                               "</p:LocalFile>"),
                     200);
    wt_create_job(&T, "b");
    ck_assert_int_eq(enumerate(&T.admin, NS_FILE, NULL,
                               "<w:OptimizeEnumeration/><w:MaxElements>50</w:MaxElements>"),
                     200);
    ck_assert_int_eq(wt_count(&T, "//w:Items/pf:BitsClientFile"), 3);
    snprintf(sel, sizeof(sel),
             "<w:SelectorSet><w:Selector Name=\"JobId\">%s</w:Selector></w:SelectorSet>", id);
    ck_assert_int_eq(enumerate(&T.admin, NS_FILE, sel,
                               "<w:OptimizeEnumeration/><w:MaxElements>50</w:MaxElements>"),
                     200);
    ck_assert_int_eq(wt_count(&T, "//w:Items/pf:BitsClientFile"), 2);
    char *v = wt_x(&T, "//w:Items/pf:BitsClientFile[2]/pf:LocalFile");
    ck_assert_str_eq(v, "/srv/in/2");
    free(v);
    v = wt_x(&T, "//w:Items/pf:BitsClientFile[1]/pf:Completed");
    ck_assert_str_eq(v, "false");
    free(v);
    /* Get of one file by its two selectors */
    snprintf(sel, sizeof(sel),
             "<w:SelectorSet><w:Selector Name=\"JobId\">%s</w:Selector>"
             "<w:Selector Name=\"LocalFile\">/srv/in/2</w:Selector></w:SelectorSet>", id);
    ck_assert_int_eq(wt_send_env(&T, &T.admin, wt_env(WSMAN_ACTION_GET, NS_FILE, MID, sel, "")),
                     200);
    v = wt_x(&T, "/s:Envelope/s:Body/pf:BitsClientFile/pf:RemoteUrl");
    ck_assert_str_eq(v, "http://h/2");
    free(v);

    ck_assert_int_eq(wt_invoke(&T, NS_GROUP, "CreateUrlGroup", NULL, NULL,
                               "<p:UrlGroup>http://+:81/a</p:UrlGroup>"),
                     200);
    ck_assert_int_eq(wt_invoke(&T, NS_GROUP, "CreateUrl", "UrlGroup", "http://+:82/b",
                               "<p:UrlSuffix>f</p:UrlSuffix><p:SourceFilePath>/srv/f"
                               "</p:SourceFilePath>"),
                     200);
    ck_assert_int_eq(enumerate(&T.admin, NS_GROUP, NULL,
                               "<w:OptimizeEnumeration/><w:MaxElements>50</w:MaxElements>"),
                     200);
    ck_assert_int_eq(wt_count(&T, "//w:Items/pg:BitsCompactServerUrlGroup"), 2);
    ck_assert_int_eq(wt_count(&T, "//w:Items/pg:BitsCompactServerUrlGroup/pg:Urls"), 1);
    v = wt_x(&T, "//pg:BitsCompactServerUrlGroup[pg:UrlGroup='http://+:82/b']/pg:Urls/pg:Url");
    ck_assert_str_eq(v, "http://+:82/b/f");
    free(v);
    /* final-state jobs are not listed */
    ck_assert_int_eq(wt_invoke(&T, NS_JOB, "SetJobState", "JobId", id,
                               "<p:JobState>0</p:JobState>"),
                     200);
    ck_assert_int_eq(enumerate(&T.admin, NS_JOB, NULL,
                               "<w:OptimizeEnumeration/><w:MaxElements>50</w:MaxElements>"),
                     200);
    ck_assert_int_eq(wt_count(&T, "//w:Items/p:BitsClientJob"), 1);
}
END_TEST

static Suite *
enum_suite(void)
{
    Suite *s = suite_create("wsman_enum");
    TCase *tc = tcase_create("enum");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_plain_enumerate_pull);
    tcase_add_test(tc, test_optimized);
    tcase_add_test(tc, test_empty);
    tcase_add_test(tc, test_epr_modes);
    tcase_add_test(tc, test_envelope_limits_items);
    tcase_add_test(tc, test_expiry_release_user);
    tcase_add_test(tc, test_quota);
    tcase_add_test(tc, test_files_and_groups);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(enum_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
