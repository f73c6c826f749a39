/*
 * tests/control/wsman/test_wsman_server.c - the WS-Man listener on the real HTTP server core
 * (one "wsman" worker, port 0) with the fake engine, driven by libcurl: status codes and
 * the headers the adapter adds (WWW-Authenticate, Allow, Retry-After, Content-Type),
 * bodies by Content-Length and chunked, keep-alive across requests, the bound port.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "ferry/config.h"
#include "wsman_config.h"
#include "wsman_server.h"
#include "wsman_test.h"

static struct ferry_config *cfg;
static struct fake_engine *fe;
static struct wsman_server *ws;
static char url[128], base[128];

struct buf {
    char *p;
    size_t n;
};

static size_t
collect(char *data, size_t size, size_t nmemb, void *ud)
{
    struct buf *b = ud;
    size_t len = size * nmemb;
    char *np = realloc(b->p, b->n + len + 1);

    if (!np)
        return 0;
    memcpy(np + b->n, data, len);
    b->n += len;
    np[b->n] = '\0';
    b->p = np;
    return len;
}

struct resp {
    long status;
    struct buf body, head;
};

static void
resp_done(struct resp *r)
{
    free(r->body.p);
    free(r->head.p);
    memset(r, 0, sizeof(*r));
}

static void
request(CURL *c, const char *method, const char *target, const char *userpwd,
        const char *ctype, const char *body, bool chunked, struct resp *out)
{
    struct curl_slist *h = NULL;
    char hdr[256];

    memset(out, 0, sizeof(*out));
    curl_easy_setopt(c, CURLOPT_URL, target);
    if (!body)
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &out->head);
    curl_easy_setopt(c, CURLOPT_USERPWD, userpwd);
    curl_easy_setopt(c, CURLOPT_HTTPAUTH, userpwd ? CURLAUTH_BASIC : CURLAUTH_NONE);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    curl_easy_setopt(c, CURLOPT_NOBODY, 0L);
    if (ctype) {
        snprintf(hdr, sizeof(hdr), "Content-Type: %s", ctype);
        h = curl_slist_append(h, hdr);
    }
    if (chunked)
        h = curl_slist_append(h, "Transfer-Encoding: chunked");
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(h);
}

static bool
has_header(const struct resp *r, const char *line)
{
    return r->head.p && strcasestr(r->head.p, line) != NULL;
}

static void
setup(void)
{
    char err[256];
    int port;

    cfg = ferry_config_new_with((const struct ferry_config_section *const[]){&wsman_config_section}, 1);
    ck_assert_ptr_nonnull(cfg);
    ck_assert_int_eq(ferry_config_set(cfg, "wsman-listen", "127.0.0.1:0", err, sizeof(err)),
                     0);
    ck_assert_int_eq(ferry_config_set(cfg, "auth-fail-limit", "2", err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_config_set(cfg, "metrics", "true", err, sizeof(err)), 0);
    fe = fake_engine_new();
    ck_assert_int_eq(wsman_server_new(cfg, &fake_engine_ops, fake_engine_jobs(fe),
                                      fake_engine_server(fe), fake_engine_users(fe), &ws),
                     0);
    port = wsman_server_port(ws, false);
    ck_assert_int_gt(port, 0);
    ck_assert_int_eq(wsman_server_port(ws, true), -ENOENT);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/wsman", port);
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
}

static void
teardown(void)
{
    ws = wsman_server_free(ws);
    fake_engine_free(fe);
    cfg = ferry_config_free(cfg);
}

static const char identify[] =
    "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" "
    "xmlns:wsmid=\"http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd\">"
    "<s:Header/><s:Body><wsmid:Identify/></s:Body></s:Envelope>";

#define CT "application/soap+xml;charset=UTF-8"

START_TEST(test_over_http)
{
    CURL *c = curl_easy_init();
    struct resp r;

    request(c, "POST", url, "admin:admin-pw", CT, identify, false, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert(has_header(&r, "Content-Type: application/soap+xml;charset=UTF-8"));
    ck_assert_ptr_nonnull(strstr(r.body.p, "<wsmid:ProductVendor>ferry</wsmid:ProductVendor>"));
    resp_done(&r);

    /* chunked request body, same connection */
    request(c, "POST", url, "admin:admin-pw", CT, identify, true, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body.p, "IdentifyResponse"));
    long conns = -1;
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &conns);
    ck_assert_int_eq(conns, 0);   /* keep-alive: no new connection */
    resp_done(&r);

    /* a Get through the whole stack: fault body, status 400 */
    char *get = wt_env(WSMAN_ACTION_GET, NS_JOB, "<a:MessageID>uuid:77</a:MessageID>", "", "");
    request(c, "POST", url, "admin:admin-pw", CT, get, false, &r);
    ck_assert_int_eq(r.status, 400);
    ck_assert_ptr_nonnull(strstr(r.body.p, "w:InvalidSelectors"));
    ck_assert_ptr_nonnull(strstr(r.body.p, "<a:RelatesTo>uuid:77</a:RelatesTo>"));
    resp_done(&r);
    free(get);

    request(c, "POST", url, NULL, CT, identify, false, &r);
    ck_assert_int_eq(r.status, 401);
    ck_assert(has_header(&r, "WWW-Authenticate: Basic realm=\"WSMAN\""));
    ck_assert_uint_eq(r.body.n, 0);
    resp_done(&r);

    request(c, "GET", url, "admin:admin-pw", NULL, NULL, false, &r);
    ck_assert_int_eq(r.status, 405);
    ck_assert(has_header(&r, "Allow: POST"));
    resp_done(&r);

    request(c, "POST", url, "admin:admin-pw", "text/xml", identify, false, &r);
    ck_assert_int_eq(r.status, 415);
    resp_done(&r);

    char other[160];
    snprintf(other, sizeof(other), "%s/elsewhere", base);
    request(c, "POST", other, "admin:admin-pw", CT, identify, false, &r);
    ck_assert_int_eq(r.status, 404);
    resp_done(&r);

    char metrics[160];
    snprintf(metrics, sizeof(metrics), "%s/metrics", base);
    request(c, "GET", metrics, "admin:admin-pw", NULL, NULL, false, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert(has_header(&r, "Content-Type: text/plain"));
    ck_assert_ptr_nonnull(strstr(r.body.p, "ferry_jobs{state=\"QUEUED\"}"));
    resp_done(&r);

    /* rate limiting: two failures, then 429 with Retry-After for a further guess, while
     * the owner's password verified a moment ago (cached) still works */
    request(c, "POST", url, "admin:bad", CT, identify, false, &r);
    ck_assert_int_eq(r.status, 401);
    resp_done(&r);
    request(c, "POST", url, "admin:bad", CT, identify, false, &r);
    ck_assert_int_eq(r.status, 401);
    resp_done(&r);
    request(c, "POST", url, "admin:guess", CT, identify, false, &r);
    ck_assert_int_eq(r.status, 429);
    ck_assert(has_header(&r, "Retry-After: "));
    resp_done(&r);
    request(c, "POST", url, "admin:admin-pw", CT, identify, false, &r);
    ck_assert_int_eq(r.status, 200);
    resp_done(&r);
    curl_easy_cleanup(c);
}
END_TEST

static Suite *
server_suite(void)
{
    Suite *s = suite_create("wsman_server");
    TCase *tc = tcase_create("server");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_over_http);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr;
    int failed;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    sr = srunner_create(server_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    curl_global_cleanup();
    return failed ? 1 : 0;
}
