/*
 * tests/control/wsman/wsman_test.c - see wsman_test.h.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "wsman_test.h"

void
wt_init(struct wt *t)
{
    memset(t, 0, sizeof(*t));
    t->wcfg.max_envelope = 512000;
    t->wcfg.enum_ttl = 240;
    t->wcfg.max_enums = 1024;
    t->cfg.auth_fail_limit = 10;
    t->wcfg.anonymous_identify = true;
    t->wcfg.metrics = true;
    t->fe = fake_engine_new();
    ck_assert_ptr_nonnull(t->fe);
    t->admin = (struct wsman_caller){"admin", FERRY_ROLE_ADMIN, true};
    t->bob = (struct wsman_caller){"bob", FERRY_ROLE_USER, true};
    t->anon = (struct wsman_caller){NULL, FERRY_ROLE_NONE, false};
    wt_reset_ctx(t);
}

void
wt_reset_ctx(struct wt *t)
{
    t->ctx = wsman_ctx_free(t->ctx);
    ck_assert_int_eq(wsman_ctx_new(&t->cfg, &t->wcfg, &fake_engine_ops, fake_engine_jobs(t->fe),
                                   fake_engine_server(t->fe), fake_engine_users(t->fe),
                                   &t->ctx),
                     0);
}

void
wt_done(struct wt *t)
{
    wsman_reply_done(&t->reply);
    t->ctx = wsman_ctx_free(t->ctx);
    fake_engine_free(t->fe);
}

char *
wt_env(const char *action, const char *uri, const char *msgid, const char *headers,
       const char *body)
{
    char *s = NULL;
    int n = asprintf(&s,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
        "<s:Envelope xmlns:s=\"" WSMAN_NS_SOAP "\" xmlns:a=\"" WSMAN_NS_ADDRESSING "\" "
        "xmlns:w=\"" WSMAN_NS_WSMAN "\" xmlns:n=\"" WSMAN_NS_ENUMERATION "\">"
        "<s:Header>%s%s%s%s%s%s%s"
        "<a:ReplyTo><a:Address s:mustUnderstand=\"true\">" WSMAN_ADDRESS_ANONYMOUS
        "</a:Address></a:ReplyTo>"
        "<a:To>http://windows-host:5985/wsman</a:To>%s</s:Header>"
        "<s:Body>%s</s:Body></s:Envelope>",
        action ? "<a:Action s:mustUnderstand=\"true\">" : "", action ? action : "",
        action ? "</a:Action>" : "",
        uri ? "<w:ResourceURI s:mustUnderstand=\"true\">" : "", uri ? uri : "",
        uri ? "</w:ResourceURI>" : "",
        msgid ? msgid : "",
        headers ? headers : "", body ? body : "");
    ck_assert_int_gt(n, 0);
    return s;
}

int
wt_send(struct wt *t, const struct wsman_caller *caller, const char *body)
{
    wsman_reply_done(&t->reply);
    ck_assert_int_eq(wsman_dispatch(t->ctx, body, strlen(body), caller, &t->reply), 0);
    return t->reply.need_auth ? 401 : t->reply.http_status;
}

int
wt_send_env(struct wt *t, const struct wsman_caller *caller, char *env)
{
    int r = wt_send(t, caller, env);

    free(env);
    return r;
}

static xmlXPathObjectPtr
wt_eval(struct wt *t, const char *xpath, xmlDocPtr *ret_doc)
{
    static const char *const ns[][2] = {
        {"s", WSMAN_NS_SOAP}, {"a", WSMAN_NS_ADDRESSING}, {"w", WSMAN_NS_WSMAN},
        {"n", WSMAN_NS_ENUMERATION}, {"x", WSMAN_NS_TRANSFER}, {"p", NS_JOB},
        {"pf", NS_FILE}, {"pg", NS_GROUP}, {"wsmid", WSMAN_NS_IDENTITY},
        {"f", WSMAN_NS_MSFAULT},
    };
    xmlDocPtr doc;
    xmlXPathContextPtr xc;
    xmlXPathObjectPtr o;

    ck_assert_ptr_nonnull(t->reply.body);
    doc = xmlReadMemory(t->reply.body, (int)t->reply.len, NULL, NULL, XML_PARSE_NONET);
    ck_assert_msg(doc != NULL, "reply is not XML: %s", t->reply.body);
    xc = xmlXPathNewContext(doc);
    for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
        xmlXPathRegisterNs(xc, (const xmlChar *)ns[i][0], (const xmlChar *)ns[i][1]);
    o = xmlXPathEvalExpression((const xmlChar *)xpath, xc);
    ck_assert_msg(o != NULL, "bad xpath %s", xpath);
    xmlXPathFreeContext(xc);
    *ret_doc = doc;
    return o;
}

char *
wt_x(struct wt *t, const char *xpath)
{
    char expr[1024];
    xmlDocPtr doc;
    xmlXPathObjectPtr o;
    char *s;

    snprintf(expr, sizeof(expr), "string(%s)", xpath);
    o = wt_eval(t, expr, &doc);
    s = strdup(o->stringval ? (const char *)o->stringval : "");
    xmlXPathFreeObject(o);
    xmlFreeDoc(doc);
    return s;
}

int
wt_count(struct wt *t, const char *xpath)
{
    char expr[1024];
    xmlDocPtr doc;
    xmlXPathObjectPtr o;
    int n;

    snprintf(expr, sizeof(expr), "count(%s)", xpath);
    o = wt_eval(t, expr, &doc);
    n = (int)o->floatval;
    xmlXPathFreeObject(o);
    xmlFreeDoc(doc);
    return n;
}

static char *
after_colon(char *s)
{
    char *c = strrchr(s, ':');
    char *r;

    if (!c)
        return s;
    r = strdup(c + 1);
    free(s);
    return r;
}

char *
wt_subcode(struct wt *t)
{
    return after_colon(wt_x(t, "/s:Envelope/s:Body/s:Fault/s:Code/s:Subcode/s:Value"));
}

char *
wt_detail(struct wt *t)
{
    char *s = wt_x(t, "/s:Envelope/s:Body/s:Fault/s:Detail/w:FaultDetail");
    char *c = strrchr(s, '/');
    char *r;

    if (!c)
        return s;
    r = strdup(c + 1);
    free(s);
    return r;
}

int
wt_invoke(struct wt *t, const char *uri, const char *method, const char *selector_name,
          const char *selector_value, const char *params)
{
    char action[512], sel[512] = "", *body = NULL;

    snprintf(action, sizeof(action), "%s/%s", uri, method);
    if (selector_name)
        snprintf(sel, sizeof(sel),
                 "<w:SelectorSet><w:Selector Name=\"%s\">%s</w:Selector></w:SelectorSet>",
                 selector_name, selector_value);
    ck_assert_int_gt(asprintf(&body, "<p:%s_INPUT xmlns:p=\"%s\">%s</p:%s_INPUT>", method, uri,
                              params ? params : "", method),
                     0);
    int r = wt_send_env(t, &t->admin,
                        wt_env(action, uri, "<a:MessageID>uuid:1</a:MessageID>", sel, body));
    free(body);
    return r;
}

const char *
wt_create_job(struct wt *t, const char *name)
{
    static char id[64];
    char params[512];
    char *v;

    snprintf(params, sizeof(params),
             "<p:DisplayName>%s</p:DisplayName><p:RemoteUrl>http://h/x</p:RemoteUrl>"
             "<p:LocalFile>/srv/in/%s</p:LocalFile><p:Suspend>true</p:Suspend>",
             name, name);
    ck_assert_int_eq(wt_invoke(t, NS_JOB, "CreateJob", NULL, NULL, params), 200);
    v = wt_x(t, "//p:CreateJob_OUTPUT/p:JobId");
    ck_assert_int_eq(ferry_guid_check(v), 0);
    snprintf(id, sizeof(id), "%s", v);
    free(v);
    return id;
}
