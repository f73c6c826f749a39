/*
 * wsman_res_urlgroup.c - the BitsCompactServerUrlGroup class (docs/DESIGN.md §4): selector
 * UrlGroup (the prefix scheme://host:port/name). An instance shows the group's limits,
 * authentication schemes and counters, and its URLs with their sources, rules and counters.
 * CreateUrlGroup is static; every other method needs the UrlGroup selector (CreateUrl
 * creates a missing group, as BITS does).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsman.h"

#define ARG(call, i) (&(call)->args[i])
#define ARG_S(call, i) ((call)->args[i].present ? (call)->args[i].s : NULL)

static int
group_check_key(size_t i, const char *value)
{
    (void)i;
    return value[0] && strlen(value) < 512 ? 0 : -EINVAL;
}

static int
group_write(struct wsman_ctx *ctx, const char *const *keys, struct wsman_response *resp,
            xmlNodePtr parent, struct ferry_status *st)
{
    struct ferry_group_info *g = NULL;
    xmlNodePtr n;
    int r = ctx->ops->group_get(ctx->server, keys[0], &g);

    if (r == -ENOENT)
        return ferry_status_set(st, r, FERRY_STATUS_NOT_FOUND, FERRY_BG_E_NOT_FOUND, "UrlGroup",
                                "The URL group '%.200s' does not exist.", keys[0]);
    if (r < 0)
        return ferry_status_set(st, r, FERRY_STATUS_INTERNAL, FERRY_E_FAIL, NULL,
                                "Reading the URL group failed.");
    n = xmlNewChild(parent, resp->ns_p, (const xmlChar *)"BitsCompactServerUrlGroup", NULL);
    if (n) {
        wsman_prop(resp, n, "UrlGroup", "%s", g->prefix);
        wsman_prop(resp, n, "ConnectionLimit", "%u", (unsigned)g->connection_limit);
        wsman_prop(resp, n, "BandwidthLimit", "%u", (unsigned)g->bandwidth_limit);
        wsman_prop(resp, n, "AuthNegotiate", "%s", g->auth_negotiate ? "true" : "false");
        wsman_prop(resp, n, "AuthNtlm", "%s", g->auth_ntlm ? "true" : "false");
        wsman_prop(resp, n, "Requests", "%llu", (unsigned long long)g->requests);
        wsman_prop(resp, n, "BytesSent", "%llu", (unsigned long long)g->bytes_sent);
        wsman_prop(resp, n, "ActiveConnections", "%u", (unsigned)g->active);
        for (size_t i = 0; i < g->nurls; i++) {
            const struct ferry_url_info *u = &g->urls[i];
            xmlNodePtr un = xmlNewChild(n, resp->ns_p, (const xmlChar *)"Urls", NULL);

            if (!un)
                break;
            wsman_prop(resp, un, "Url", "%s", u->url ? u->url : "");
            wsman_prop(resp, un, "UrlSuffix", "%s", u->suffix ? u->suffix : "");
            wsman_prop(resp, un, "SourceFilePath", "%s", u->source ? u->source : "");
            wsman_prop(resp, un, "SDDLAuth", "%s", u->rule ? u->rule : "");
            wsman_prop(resp, un, "ManifestReady", "%s", u->manifest_ready ? "true" : "false");
            wsman_prop(resp, un, "Requests", "%llu", (unsigned long long)u->requests);
            wsman_prop(resp, un, "BytesSent", "%llu", (unsigned long long)u->bytes_sent);
            wsman_prop(resp, un, "ActiveConnections", "%u", (unsigned)u->active);
        }
    }
    ctx->ops->group_info_free(g);
    if (!n)
        return ferry_status_oom(st, -ENOMEM);
    return 0;
}

static int
group_list(struct wsman_ctx *ctx, const char *const *filter, char ***ret_keys, size_t *ret_n)
{
    struct ferry_group_info **v = NULL;
    size_t n = 0;
    char **keys;
    int r;

    (void)filter;
    r = ctx->ops->group_list(ctx->server, &v, &n);
    if (r < 0)
        return r;
    keys = calloc(n ? n : 1, sizeof(*keys));
    if (!keys) {
        ctx->ops->group_info_list_free(v, n);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        keys[i] = strdup(v[i]->prefix);
        if (!keys[i]) {
            for (size_t k = 0; k < i; k++)
                free(keys[k]);
            free(keys);
            ctx->ops->group_info_list_free(v, n);
            return -ENOMEM;
        }
    }
    ctx->ops->group_info_list_free(v, n);
    *ret_keys = keys;
    *ret_n = n;
    return 0;
}

static int
m_create_group(struct wsman_call *c)
{
    return c->ctx->ops->group_create(c->ctx->server, ARG_S(c, 0), &c->st);
}

static int
m_delete_group(struct wsman_call *c)
{
    const char *given = ARG_S(c, 0);

    if (given && strcmp(given, c->keys[0]) != 0)
        return wsman_fault_set(c->fault, WSMAN_FAULT_INVALID_PARAMETER, "InvalidValue",
                               "UrlGroup differs from the UrlGroup selector.");
    return c->ctx->ops->group_delete(c->ctx->server, c->keys[0], &c->st);
}

static int
m_create_url(struct wsman_call *c)
{
    const struct wsman_arg *h = ARG(c, 3);
    char hex[2][65];
    const char *certs[2];
    size_t ncert = 0;

    if (h->present) {
        if (h->nbytes == 0 || h->nbytes % 32 != 0 || h->nbytes / 32 > 2)
            return wsman_fault_set(c->fault, WSMAN_FAULT_INVALID_PARAMETER, "InvalidValue",
                                   "CertificateHashAccessCheck must hold SHA-256 "
                                   "fingerprints (32 bytes each).");
        for (size_t k = 0; k < h->nbytes / 32; k++) {
            ferry_hex_encode(h->bytes + k * 32, 32, hex[k]);
            certs[k] = hex[k];
            ncert++;
        }
    }
    return c->ctx->ops->url_create(c->ctx->server, c->keys[0], ARG_S(c, 0), ARG_S(c, 1),
                                   ARG_S(c, 2), ncert ? certs : NULL, ncert, &c->st);
}

static int
m_delete_url(struct wsman_call *c)
{
    return c->ctx->ops->url_delete(c->ctx->server, c->keys[0], ARG_S(c, 0), &c->st);
}

static int
m_check_url(struct wsman_call *c)
{
    bool exists = false;
    int r = c->ctx->ops->url_check(c->ctx->server, c->keys[0], ARG_S(c, 0), &exists, &c->st);

    if (r < 0)
        return r;
    return wsman_call_out(c, "UrlExists", "%s", exists ? "true" : "false");
}

static int
m_set_auth(struct wsman_call *c)
{
    if ((ARG(c, 2)->present && ARG(c, 2)->u != 0) || ARG_S(c, 3) || ARG_S(c, 4))
        return wsman_fault_set(c->fault, WSMAN_FAULT_INVALID_PARAMETER, "InvalidValue",
                               "Flag must be 0 and DomainName and Realm must be empty "
                               "(reserved).");
    return c->ctx->ops->group_set_auth(c->ctx->server, c->keys[0], (unsigned)ARG(c, 0)->u,
                                       ARG(c, 1)->u != 0, &c->st);
}

static int
m_get_auth(struct wsman_call *c)
{
    bool enable = false;
    int r = c->ctx->ops->group_get_auth(c->ctx->server, c->keys[0], (unsigned)ARG(c, 0)->u,
                                        &enable, &c->st);

    if (r < 0)
        return r;
    r = wsman_call_out(c, "Enable", "%s", enable ? "true" : "false");
    if (r == 0)
        r = wsman_call_out(c, "Flag", "0");
    return r;
}

static int
m_set_property(struct wsman_call *c)
{
    return c->ctx->ops->group_set_property(c->ctx->server, c->keys[0], ARG_S(c, 0),
                                           (uint32_t)ARG(c, 1)->u, &c->st);
}

static int
m_get_property(struct wsman_call *c)
{
    uint32_t v = 0;
    int r = c->ctx->ops->group_get_property(c->ctx->server, c->keys[0], ARG_S(c, 0), &v,
                                            &c->st);

    if (r < 0)
        return r;
    return wsman_call_out(c, "Value", "%u", (unsigned)v);
}

static int
m_set_ssl_cert(struct wsman_call *c)
{
    if (ARG(c, 2)->nbytes != 20)
        return wsman_fault_set(c->fault, WSMAN_FAULT_INVALID_PARAMETER, "InvalidValue",
                               "hashBlob must be the 20-byte SHA-1 thumbprint.");
    if (ARG(c, 0)->u == 0)
        return wsman_fault_set(c->fault, WSMAN_FAULT_INVALID_PARAMETER, "InvalidValue",
                               "Port must be 1-65535.");
    return c->ctx->ops->set_ssl_cert(c->ctx->server, (uint16_t)ARG(c, 0)->u, ARG_S(c, 1),
                                     ARG(c, 2)->bytes, ARG(c, 2)->nbytes, &c->st);
}

static int
m_port_check(struct wsman_call *c)
{
    if (ARG(c, 0)->u == 0 || ARG(c, 0)->u > 65535)
        return wsman_fault_set(c->fault, WSMAN_FAULT_INVALID_PARAMETER, "InvalidValue",
                               "Port must be 1-65535.");
    return 0;
}

/* GetSslCertificate(Port) -> StoreName, hashBlob (the 20 thumbprint bytes as a uint8
 * array, one element each, as SetSslCertificate takes it). */
static int
m_get_ssl_cert(struct wsman_call *c)
{
    uint8_t hash[20];
    char *store = NULL;
    int r = m_port_check(c);

    if (r < 0)
        return r;
    r = c->ctx->ops->get_ssl_cert(c->ctx->server, (uint16_t)ARG(c, 0)->u, &store, hash,
                                  &c->st);
    if (r < 0)
        return r;
    r = wsman_call_out(c, "StoreName", "%s", store);
    for (size_t i = 0; r == 0 && i < sizeof(hash); i++)
        r = wsman_call_out(c, "hashBlob", "%u", (unsigned)hash[i]);
    free(store);
    return r;
}

static int
m_remove_ssl_cert(struct wsman_call *c)
{
    int r = m_port_check(c);

    if (r < 0)
        return r;
    return c->ctx->ops->remove_ssl_cert(c->ctx->server, (uint16_t)ARG(c, 0)->u, &c->st);
}

static const struct wsman_method group_methods[] = {
    {"CreateUrlGroup", true, {{"UrlGroup", WSMAN_P_STRING, true}, {NULL, 0, false}},
     m_create_group},
    {"DeleteUrlGroup", false, {{"UrlGroup", WSMAN_P_STRING, false}, {NULL, 0, false}},
     m_delete_group},
    {"CreateUrl", false,
     {{"UrlSuffix", WSMAN_P_STRING, true},
      {"SourceFilePath", WSMAN_P_STRING, true},
      {"SDDLAuth", WSMAN_P_STRING, false},
      {"CertificateHashAccessCheck", WSMAN_P_BYTES, false},
      {NULL, 0, false}},
     m_create_url},
    {"DeleteUrl", false, {{"UrlSuffix", WSMAN_P_STRING, true}, {NULL, 0, false}}, m_delete_url},
    {"CheckUrl", false, {{"UrlSuffix", WSMAN_P_STRING, true}, {NULL, 0, false}}, m_check_url},
    {"SetUrlGroupAuthentication", false,
     {{"Scheme", WSMAN_P_UINT16, true},
      {"Enable", WSMAN_P_BOOL, true},
      {"Flag", WSMAN_P_UINT32, false},
      {"DomainName", WSMAN_P_STRING, false},
      {"Realm", WSMAN_P_STRING, false},
      {NULL, 0, false}},
     m_set_auth},
    {"GetUrlGroupAuthentication", false, {{"Scheme", WSMAN_P_UINT16, true}, {NULL, 0, false}},
     m_get_auth},
    {"SetProperty", false,
     {{"Property", WSMAN_P_STRING, true}, {"Value", WSMAN_P_UINT32, true}, {NULL, 0, false}},
     m_set_property},
    {"GetProperty", false, {{"Property", WSMAN_P_STRING, true}, {NULL, 0, false}},
     m_get_property},
    {"SetSslCertificate", false,
     {{"Port", WSMAN_P_UINT16, true},
      {"StoreName", WSMAN_P_STRING, true},
      {"hashBlob", WSMAN_P_BYTES, true},
      {NULL, 0, false}},
     m_set_ssl_cert},
    {"GetSslCertificate", false, {{"Port", WSMAN_P_UINT16, true}, {NULL, 0, false}},
     m_get_ssl_cert},
    {"RemoveSslCertificate", false, {{"Port", WSMAN_P_UINT16, true}, {NULL, 0, false}},
     m_remove_ssl_cert},
    {NULL, false, {{NULL, 0, false}}, NULL},
};

const struct wsman_class wsman_class_urlgroup = {
    .uri = WSMAN_URI_BITS_URL_GROUP,
    .name = "BitsCompactServerUrlGroup",
    .keys = {"UrlGroup", NULL},
    .check_key = group_check_key,
    .write = group_write,
    .put = NULL,
    .list = group_list,
    .methods = group_methods,
};
