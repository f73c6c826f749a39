/*
 * tests/control/wsman/test_wsman_http.c - the listener's request handling without sockets:
 * paths and methods, Content-Type matching, 401 with WWW-Authenticate and an empty body,
 * w:AccessDenied for non-administrators, anonymous Identify, Basic over plain http from
 * non-loopback peers, failed-login rate limiting, client certificates through the certmap,
 * and /metrics.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "ferry-test.h"
#include "wsman_test.h"

static struct wt T;

struct hdrs {
    const char *name[8];
    const char *value[8];
};

static const char *
hdr_get(void *ud, const char *name)
{
    struct hdrs *h = ud;

    for (int i = 0; i < 8 && h->name[i]; i++)
        if (strcasecmp(h->name[i], name) == 0)
            return h->value[i];
    return NULL;
}

static char basic_buf[256];

static const char *
basic(const char *user, const char *pass)
{
    char raw[128];
    int n = snprintf(raw, sizeof(raw), "%s:%s", user, pass);

    memcpy(basic_buf, "Basic ", 6);
    EVP_EncodeBlock((unsigned char *)basic_buf + 6, (const unsigned char *)raw, n);
    return basic_buf;
}

static const char identify[] =
    "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" "
    "xmlns:wsmid=\"http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd\">"
    "<s:Header/><s:Body><wsmid:Identify/></s:Body></s:Envelope>";

struct req {
    const char *method, *path, *ctype, *auth, *ident, *peer, *cert;
    bool loopback, tls;
    const char *body;
};

static struct wsman_http_out OUT;

static int
serve(struct req r)
{
    struct hdrs h = {{0}, {0}};
    int i = 0;
    struct wsman_http_in in = {0};

    if (r.ctype) {
        h.name[i] = "Content-Type";
        h.value[i++] = r.ctype;
    }
    if (r.auth) {
        h.name[i] = "Authorization";
        h.value[i++] = r.auth;
    }
    if (r.ident) {
        h.name[i] = "WSMANIDENTIFY";
        h.value[i++] = r.ident;
    }
    in.method = r.method ? r.method : "POST";
    in.path = r.path ? r.path : "/wsman";
    in.header = hdr_get;
    in.header_userdata = &h;
    in.body = r.body ? r.body : identify;
    in.body_len = strlen(in.body);
    in.peer = r.peer ? r.peer : "127.0.0.1";
    in.peer_loopback = r.peer ? r.loopback : true;
    in.is_tls = r.tls;
    in.cert_sha256 = r.cert;
    wsman_http_out_done(&OUT);
    wsman_http_handle(T.ctx, &in, &OUT);
    return OUT.status;
}

#define CT "application/soap+xml;charset=UTF-8"

static void
setup(void)
{
    wt_init(&T);
}

static void
teardown(void)
{
    wsman_http_out_done(&OUT);
    wt_done(&T);
}

START_TEST(test_paths_methods_types)
{
    const char *admin = basic("admin", "admin-pw");

    ck_assert_int_eq(serve((struct req){.ctype = CT, .auth = admin}), 200);
    ck_assert_str_eq(OUT.content_type, WSMAN_CONTENT_TYPE);
    ck_assert_ptr_nonnull(strstr(OUT.body, "IdentifyResponse"));
    ck_assert_int_eq(serve((struct req){.path = "/other", .ctype = CT, .auth = admin}), 404);
    ck_assert_int_eq(serve((struct req){.path = "/wsman/x", .ctype = CT, .auth = admin}), 404);
    ck_assert_int_eq(serve((struct req){.method = "GET", .ctype = CT, .auth = admin}), 405);
    ck_assert_str_eq(OUT.allow, "POST");
    ck_assert_int_eq(serve((struct req){.method = "PUT", .ctype = CT, .auth = admin}), 405);
    ck_assert_int_eq(serve((struct req){.ctype = "text/xml", .auth = admin}), 415);
    ck_assert_int_eq(serve((struct req){.auth = admin}), 415);
    ck_assert_int_eq(serve((struct req){.ctype = "application/soap+xml;charset=ISO-8859-1",
                                        .auth = admin}),
                     415);
    const char *ok[] = {"application/soap+xml;charset=UTF-8",
                        "application/soap+xml;charset=utf-8",
                        "application/soap+xml; charset=utf-8",
                        "Application/SOAP+XML ; Charset=\"UTF-8\"",
                        "application/soap+xml",
                        "application/soap+xml;charset=utf-8;action=\"urn:x\""};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        ck_assert_msg(serve((struct req){.ctype = ok[i], .auth = admin}) == 200, "%s", ok[i]);
    /* a UTF-16 label is a valid Content-Type, but a UTF-8 body under it is refused */
    ck_assert(wsman_http_content_type_ok("application/soap+xml;charset=UTF-16"));
    ck_assert_int_eq(serve((struct req){.ctype = "application/soap+xml;charset=UTF-16",
                                        .auth = admin}),
                     400);
    ck_assert_ptr_nonnull(strstr(OUT.body, "EncodingLimit"));
    ck_assert_ptr_nonnull(strstr(OUT.body, "CharacterSet"));
    ck_assert(!wsman_http_content_type_ok("application/soap+xmlx"));
    ck_assert(!wsman_http_content_type_ok("application/soap+xml;charset"));
    ck_assert(!wsman_http_content_type_ok(NULL));
}
END_TEST

START_TEST(test_401_and_access_denied)
{
    ck_assert_int_eq(serve((struct req){.ctype = CT}), 401);
    ck_assert(OUT.www_authenticate);
    ck_assert_ptr_null(OUT.body);
    ck_assert_int_eq(serve((struct req){.ctype = CT, .auth = basic("admin", "wrong")}), 401);
    ck_assert_ptr_null(OUT.body);
    ck_assert_int_eq(serve((struct req){.ctype = CT, .auth = basic("nobody", "x")}), 401);
    ck_assert_int_eq(serve((struct req){.ctype = CT, .auth = "Basic !!notbase64"}), 401);
    ck_assert_int_eq(serve((struct req){.ctype = CT, .auth = "Negotiate abc"}), 401);
    /* a valid non-administrator may Identify but nothing else */
    ck_assert_int_eq(serve((struct req){.ctype = CT, .auth = basic("bob", "bob-pw")}), 200);
    char *get = wt_env(WSMAN_ACTION_GET, NS_JOB, "<a:MessageID>1</a:MessageID>",
                       "<w:SelectorSet><w:Selector Name=\"JobId\">"
                       "{00000000-0000-4000-8000-000000000000}</w:Selector></w:SelectorSet>", "");
    ck_assert_int_eq(serve((struct req){.ctype = CT, .auth = basic("bob", "bob-pw"),
                                        .body = get}),
                     400);
    ck_assert_ptr_nonnull(strstr(OUT.body, "w:AccessDenied"));
    ck_assert_int_eq(serve((struct req){.ctype = CT, .auth = basic("admin", "admin-pw"),
                                        .body = get}),
                     400);
    ck_assert_ptr_nonnull(strstr(OUT.body, "w:InvalidSelectors"));
    /* anonymous Identify */
    ck_assert_int_eq(serve((struct req){.ctype = CT, .ident = "unauthenticated"}), 200);
    ck_assert_ptr_null(strstr(OUT.body, "SecurityProfiles"));
    ck_assert_int_eq(serve((struct req){.ctype = CT, .ident = "unauthenticated", .body = get}),
                     401);
    ck_assert_ptr_null(OUT.body);
    free(get);
    T.wcfg.anonymous_identify = false;
    wt_reset_ctx(&T);
    ck_assert_int_eq(serve((struct req){.ctype = CT, .ident = "unauthenticated"}), 401);
}
END_TEST

START_TEST(test_basic_over_http)
{
    const char *admin = basic("admin", "admin-pw");

    ck_assert_int_eq(serve((struct req){.ctype = CT, .auth = admin, .peer = "10.0.0.5",
                                        .loopback = false}),
                     401);
    ck_assert(OUT.www_authenticate);
    ck_assert_int_eq(serve((struct req){.ctype = CT, .auth = admin, .peer = "10.0.0.5",
                                        .loopback = false, .tls = true}),
                     200);
    T.cfg.allow_basic_over_http = true;
    wt_reset_ctx(&T);
    ck_assert_int_eq(serve((struct req){.ctype = CT, .auth = admin, .peer = "10.0.0.5",
                                        .loopback = false}),
                     200);
}
END_TEST

START_TEST(test_rate_limit)
{
    T.cfg.auth_fail_limit = 3;
    wt_reset_ctx(&T);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(serve((struct req){.ctype = CT, .auth = basic("admin", "bad"),
                                            .peer = "10.1.1.1", .tls = true}),
                         401);
    /* now even the right password waits */
    ck_assert_int_eq(serve((struct req){.ctype = CT, .auth = basic("admin", "admin-pw"),
                                        .peer = "10.1.1.1", .tls = true}),
                     429);
    ck_assert_uint_gt(OUT.retry_after, 0);
    /* other peers are not affected */
    ck_assert_int_eq(serve((struct req){.ctype = CT, .auth = basic("admin", "admin-pw"),
                                        .peer = "10.1.1.2", .tls = true}),
                     200);
    wsman_auth_age(T.ctx->auth, 61);
    ck_assert_int_eq(serve((struct req){.ctype = CT, .auth = basic("admin", "admin-pw"),
                                        .peer = "10.1.1.1", .tls = true}),
                     200);
}
END_TEST

START_TEST(test_credential_cache)
{
    unsigned v0 = fake_engine_verify_calls();

    ck_assert_int_eq(serve((struct req){.ctype = CT, .auth = basic("admin", "admin-pw")}), 200);
    ck_assert_int_eq(serve((struct req){.ctype = CT, .auth = basic("admin", "admin-pw")}), 200);
    ck_assert_uint_eq(fake_engine_verify_calls(), v0 + 1);
    /* a wrong password is never answered from the cache */
    ck_assert_int_eq(serve((struct req){.ctype = CT, .auth = basic("admin", "admin-pwX")}), 401);
    ck_assert_int_eq(serve((struct req){.ctype = CT, .auth = basic("admin", "admin-pwX")}), 401);
    ck_assert_uint_eq(fake_engine_verify_calls(), v0 + 3);
    /* and the cache forgets after its TTL */
    wsman_auth_age(T.ctx->auth, 31);
    ck_assert_int_eq(serve((struct req){.ctype = CT, .auth = basic("admin", "admin-pw")}), 200);
    ck_assert_uint_eq(fake_engine_verify_calls(), v0 + 4);
}
END_TEST

START_TEST(test_client_certificates)
{
    char *dir = ft_tmpdir_new("wsman-certmap");
    char path[512];
    const char *h_admin = "AB00000000000000000000000000000000000000000000000000000000000001";
    const char *h_bob = "ab00000000000000000000000000000000000000000000000000000000000002";
    const char *h_none = "ab00000000000000000000000000000000000000000000000000000000000003";
    char user[72];

    snprintf(path, sizeof(path), "%s/certmap", dir);
    const char *map = "# fingerprint user\n"
                      "ab00000000000000000000000000000000000000000000000000000000000001 admin\n"
                      "AB00000000000000000000000000000000000000000000000000000000000002 bob\n"
                      "garbage line here\n";
    ck_assert_int_eq(ft_write_file(path, map, strlen(map)), 0);
    T.cfg.state_dir = dir;
    wt_reset_ctx(&T);
    ck_assert_int_eq(wsman_auth_certmap_lookup(T.ctx->auth, h_admin, user, sizeof(user)), 0);
    ck_assert_str_eq(user, "admin");
    ck_assert_int_eq(serve((struct req){.ctype = CT, .tls = true, .cert = h_admin,
                                        .peer = "10.2.2.2"}),
                     200);
    ck_assert_ptr_nonnull(strstr(OUT.body, "SecurityProfiles"));
    /* pywinrm's certificate transport header */
    ck_assert_int_eq(serve((struct req){.ctype = CT, .tls = true, .cert = h_admin,
                                        .peer = "10.2.2.2",
                                        .auth = "http://schemas.dmtf.org/wbem/wsman/1/wsman/"
                                                "secprofile/https/mutual"}),
                     200);
    ck_assert_int_eq(serve((struct req){.ctype = CT, .tls = true, .cert = h_none,
                                        .peer = "10.2.2.2"}),
                     401);
    /* a certificate over plain http does not count */
    ck_assert_int_eq(serve((struct req){.ctype = CT, .cert = h_admin}), 401);
    char *get = wt_env(WSMAN_ACTION_GET, NS_JOB, "<a:MessageID>1</a:MessageID>",
                       "<w:SelectorSet><w:Selector Name=\"JobId\">"
                       "{00000000-0000-4000-8000-000000000000}</w:Selector></w:SelectorSet>", "");
    ck_assert_int_eq(serve((struct req){.ctype = CT, .tls = true, .cert = h_bob,
                                        .peer = "10.2.2.2", .body = get}),
                     400);
    ck_assert_ptr_nonnull(strstr(OUT.body, "w:AccessDenied"));
    free(get);
    wsman_http_out_done(&OUT);
    T.ctx = wsman_ctx_free(T.ctx);
    T.cfg.state_dir = NULL;
    ft_tmpdir_free(dir);
}
END_TEST

START_TEST(test_metrics)
{
    wt_create_job(&T, "m1");
    ck_assert_int_eq(wt_invoke(&T, NS_GROUP, "CreateUrlGroup", NULL, NULL,
                               "<p:UrlGroup>http://+:81/img</p:UrlGroup>"),
                     200);
    ck_assert_int_eq(serve((struct req){.method = "GET", .path = "/metrics",
                                        .auth = basic("admin", "admin-pw")}),
                     200);
    ck_assert_ptr_nonnull(strstr(OUT.content_type, "text/plain"));
    ck_assert_ptr_nonnull(strstr(OUT.body, "ferry_jobs{state=\"SUSPENDED\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(OUT.body, "ferry_jobs{state=\"QUEUED\"} 0\n"));
    ck_assert_ptr_nonnull(strstr(OUT.body, "ferry_client_bytes_fetched_total 12345\n"));
    ck_assert_ptr_nonnull(strstr(OUT.body, "ferry_client_bytes_refetched_total 7\n"));
    ck_assert_ptr_nonnull(strstr(OUT.body, "ferry_client_chunk_verify_failures_total 1\n"));
    ck_assert_ptr_nonnull(strstr(OUT.body, "ferry_server_bytes_served_total 999\n"));
    ck_assert_ptr_nonnull(
        strstr(OUT.body, "ferry_group_bytes_served_total{group=\"http://+:81/img\"} 4096\n"));
    ck_assert_ptr_nonnull(
        strstr(OUT.body, "ferry_group_requests_total{group=\"http://+:81/img\"} 3\n"));
    ck_assert_int_eq(serve((struct req){.method = "GET", .path = "/metrics",
                                        .auth = basic("bob", "bob-pw")}),
                     403);
    ck_assert_int_eq(serve((struct req){.method = "GET", .path = "/metrics"}), 401);
    ck_assert_int_eq(serve((struct req){.method = "POST", .path = "/metrics",
                                        .auth = basic("admin", "admin-pw")}),
                     405);
    T.wcfg.metrics = false;
    wt_reset_ctx(&T);
    ck_assert_int_eq(serve((struct req){.method = "GET", .path = "/metrics",
                                        .auth = basic("admin", "admin-pw")}),
                     404);
}
END_TEST

static Suite *
http_suite(void)
{
    Suite *s = suite_create("wsman_http");
    TCase *tc = tcase_create("http");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_paths_methods_types);
    tcase_add_test(tc, test_401_and_access_denied);
    tcase_add_test(tc, test_basic_over_http);
    tcase_add_test(tc, test_rate_limit);
    tcase_add_test(tc, test_credential_cache);
    tcase_add_test(tc, test_client_certificates);
    tcase_add_test(tc, test_metrics);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(http_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
