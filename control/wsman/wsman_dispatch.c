/*
 * wsman_dispatch.c - the WS-Management dispatcher: one SOAP request in, one response or
 * fault out. Identify, Get, Put and Invoke live here; Enumerate/Pull/Release in
 * wsman_enum.c; the classes in wsman_res_*.c.
 *
 * Order of checks: XML limits -> envelope and headers (wsman_envelope.c) -> authorization
 * (unauthenticated callers reach Identify only; non-administrators get w:AccessDenied on
 * everything but Identify) -> ResourceURI (a:DestinationUnreachable) -> Action
 * (a:ActionNotSupported) -> selectors (w:InvalidSelectors) -> body -> engine.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>

#include "ferry/log.h"
#include "wsman.h"
#include "wsman_config.h"
#include "wsman_parse.h"

static const struct wsman_class *const classes[] = {
    &wsman_class_job,
    &wsman_class_file,
    &wsman_class_urlgroup,
};

int
wsman_ctx_new(const struct ferry_config *cfg, const struct wsman_config *wcfg,
              const struct wsman_engine_ops *ops,
              struct ferry_jobs *jobs, struct ferry_server *server, struct ferry_users *users,
              struct wsman_ctx **ret_ctx)
{
    struct wsman_ctx *ctx = calloc(1, sizeof(*ctx));

    if (!ctx)
        return -ENOMEM;
    xmlInitParser();
    ctx->cfg = cfg;
    ctx->wcfg = wcfg;
    ctx->ops = ops;
    ctx->jobs = jobs;
    ctx->server = server;
    ctx->users = users;
    ctx->enums = wsman_enum_store_new(wcfg->max_enums, wcfg->enum_ttl);
    ctx->auth = wsman_auth_new(cfg, ops, users);
    if (!ctx->enums || !ctx->auth) {
        wsman_ctx_free(ctx);
        return -ENOMEM;
    }
    *ret_ctx = ctx;
    return 0;
}

struct wsman_ctx *
wsman_ctx_free(struct wsman_ctx *ctx)
{
    if (!ctx)
        return NULL;
    ctx->enums = wsman_enum_store_free(ctx->enums);
    ctx->auth = wsman_auth_free(ctx->auth);
    free(ctx);
    return NULL;
}

static const struct wsman_class *
class_find(const char *uri)
{
    for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
        if (strcasecmp(classes[i]->uri, uri) == 0)
            return classes[i];
    return NULL;
}

static bool
selector_is_namespace(const struct wsman_selector *sel)
{
    return strcasecmp(sel->name, "__cimnamespace") == 0;
}

/* Map the request's selectors onto the class keys. need: every key must be present
 * (instance operations); none: no key may be present (static methods). */
static int
selectors_resolve(const struct wsman_class *cls, const struct wsman_request *req, bool need,
                  bool none, const char **keys, struct wsman_fault *f)
{
    size_t nkeys = wsman_class_nkeys(cls);

    for (size_t k = 0; k < WSMAN_MAX_KEYS; k++)
        keys[k] = NULL;
    for (size_t i = 0; i < req->nselectors; i++) {
        const struct wsman_selector *sel = &req->selectors[i];
        size_t k;

        if (selector_is_namespace(sel)) {
            if (!sel->value || strcasecmp(sel->value, "root/microsoft/bits") != 0)
                return wsman_fault_set(f, WSMAN_FAULT_INVALID_SELECTORS, "InvalidValue",
                                       "The CIM namespace must be root/microsoft/bits.");
            continue;
        }
        for (k = 0; k < nkeys; k++)
            if (strcasecmp(cls->keys[k], sel->name) == 0)
                break;
        if (k == nkeys || none)
            return wsman_fault_set(f, WSMAN_FAULT_INVALID_SELECTORS, "UnexpectedSelectors",
                                   "The selector '%.64s' is not expected here.", sel->name);
        if (!sel->value)
            return wsman_fault_set(f, WSMAN_FAULT_INVALID_SELECTORS, "TypeMismatch",
                                   "The selector '%.64s' must hold a text value.", sel->name);
        if (cls->check_key && cls->check_key(k, sel->value) < 0)
            return wsman_fault_set(f, WSMAN_FAULT_INVALID_SELECTORS, "InvalidValue",
                                   "The value of selector '%.64s' is not valid.", sel->name);
        keys[k] = sel->value;
    }
    if (need) {
        for (size_t k = 0; k < nkeys; k++)
            if (!keys[k])
                return wsman_fault_set(f, WSMAN_FAULT_INVALID_SELECTORS,
                                       "InsufficientSelectors", "The selector '%s' is missing.",
                                       cls->keys[k]);
    }
    return 0;
}

/* ---- Identify ---- */

static int
op_identify(struct wsman_ctx *ctx, const struct wsman_request *req,
            const struct wsman_caller *caller, struct wsman_reply *out)
{
    struct wsman_response resp;
    xmlNsPtr id;
    xmlNodePtr ir;
    int r = wsman_response_new(req, NULL, NULL, &resp);

    if (r < 0)
        return r;
    id = xmlNewNs(xmlDocGetRootElement(resp.doc), (const xmlChar *)WSMAN_NS_IDENTITY,
                  (const xmlChar *)"wsmid");
    ir = xmlNewChild(resp.body, id, (const xmlChar *)"IdentifyResponse", NULL);
    if (!ir) {
        wsman_response_done(&resp);
        return -ENOMEM;
    }
    xmlNewTextChild(ir, id, (const xmlChar *)"ProtocolVersion",
                    (const xmlChar *)WSMAN_NS_WSMAN);
    xmlNewTextChild(ir, id, (const xmlChar *)"ProductVendor",
                    (const xmlChar *)WSMAN_PRODUCT_VENDOR);
    xmlNewTextChild(ir, id, (const xmlChar *)"ProductVersion", (const xmlChar *)FERRY_VERSION);
    if (caller->authenticated) {
        xmlNodePtr sp = xmlNewChild(ir, id, (const xmlChar *)"SecurityProfiles", NULL);

        xmlNewTextChild(sp, id, (const xmlChar *)"SecurityProfileName",
                        (const xmlChar *)"http://schemas.dmtf.org/wbem/wsman/1/wsman/"
                                         "secprofile/http/basic");
        xmlNewTextChild(sp, id, (const xmlChar *)"SecurityProfileName",
                        (const xmlChar *)"http://schemas.dmtf.org/wbem/wsman/1/wsman/"
                                         "secprofile/https/basic");
        xmlNewTextChild(sp, id, (const xmlChar *)"SecurityProfileName",
                        (const xmlChar *)"http://schemas.dmtf.org/wbem/wsman/1/wsman/"
                                         "secprofile/https/mutual");
    }
    r = wsman_response_finish(&resp, NULL, ctx->wcfg->max_envelope, out);
    wsman_response_done(&resp);
    return r;
}

/* ---- Get / Put ---- */

static int
finish_or_fault(struct wsman_ctx *ctx, struct wsman_response *resp,
                const struct wsman_request *req, struct wsman_fault *f,
                struct wsman_reply *out)
{
    int r = wsman_response_finish(resp, req, ctx->wcfg->max_envelope, out);

    if (r == -E2BIG)
        return wsman_fault_set(f, WSMAN_FAULT_ENCODING_LIMIT, "MaxEnvelopeSize",
                               "The response exceeds the MaxEnvelopeSize of the request.");
    if (r < 0)
        return wsman_fault_oom(f);
    return 0;
}

static int
op_get(struct wsman_ctx *ctx, const struct wsman_class *cls, const struct wsman_request *req,
       struct wsman_fault *f, struct wsman_reply *out)
{
    const char *keys[WSMAN_MAX_KEYS];
    struct wsman_response resp;
    struct ferry_status st;
    int r;

    r = selectors_resolve(cls, req, true, false, keys, f);
    if (r < 0)
        return r;
    if (!cls->write)
        return wsman_fault_set(f, WSMAN_FAULT_ACTION_NOT_SUPPORTED, NULL,
                               "Get is not supported on this resource.");
    r = wsman_response_new(req, WSMAN_ACTION_GET_RESPONSE, cls->uri, &resp);
    if (r < 0)
        return wsman_fault_oom(f);
    ferry_status_clear(&st);
    r = cls->write(ctx, keys, &resp, resp.body, &st);
    if (r < 0) {
        wsman_response_done(&resp);
        return wsman_fault_from_status(f, &st);
    }
    if (req->timeout_ms > 0 && wsman_request_elapsed_ms(req) > req->timeout_ms) {
        wsman_response_done(&resp);
        return wsman_fault_set(f, WSMAN_FAULT_TIMED_OUT, NULL,
                               "The operation did not complete within OperationTimeout.");
    }
    r = finish_or_fault(ctx, &resp, req, f, out);
    wsman_response_done(&resp);
    return r;
}

static int
op_put(struct wsman_ctx *ctx, const struct wsman_class *cls, const struct wsman_request *req,
       const struct wsman_caller *caller, struct wsman_fault *f, struct wsman_reply *out)
{
    const char *keys[WSMAN_MAX_KEYS];
    struct wsman_response resp;
    struct ferry_status st;
    xmlNodePtr inst;
    int r;

    r = selectors_resolve(cls, req, true, false, keys, f);
    if (r < 0)
        return r;
    if (!cls->put)
        return wsman_fault_set(f, WSMAN_FAULT_ACTION_NOT_SUPPORTED, NULL,
                               "Put is not supported on %s (read-only).", cls->name);
    inst = wsman_xml_child(req->body, NULL, NULL);
    if (!inst)
        return wsman_fault_set(f, WSMAN_FAULT_INVALID_REPRESENTATION, "MissingValues",
                               "The Put body holds no instance.");
    if (wsman_xml_next_element(inst))
        return wsman_fault_set(f, WSMAN_FAULT_INVALID_REPRESENTATION, "InvalidValues",
                               "The Put body holds more than one element.");
    if (!inst->ns || !inst->ns->href || strcasecmp((const char *)inst->ns->href, cls->uri) != 0)
        return wsman_fault_set(f, WSMAN_FAULT_INVALID_REPRESENTATION, "InvalidNamespace",
                               "The instance is not in the namespace of %s.", cls->name);
    if (strcasecmp((const char *)inst->name, cls->name) != 0)
        return wsman_fault_set(f, WSMAN_FAULT_INVALID_REPRESENTATION, "InvalidValues",
                               "The instance element must be %s.", cls->name);
    ferry_status_clear(&st);
    memset(f, 0, sizeof(*f));
    r = cls->put(ctx, keys, inst, caller, f, &st);
    if (r < 0)
        return f->code != WSMAN_FAULT_NONE ? -EINVAL : wsman_fault_from_status(f, &st);

    r = wsman_response_new(req, WSMAN_ACTION_PUT_RESPONSE, cls->uri, &resp);
    if (r < 0)
        return wsman_fault_oom(f);
    ferry_status_clear(&st);
    r = cls->write(ctx, keys, &resp, resp.body, &st);
    if (r < 0) {
        wsman_response_done(&resp);
        return wsman_fault_from_status(f, &st);
    }
    r = finish_or_fault(ctx, &resp, req, f, out);
    wsman_response_done(&resp);
    return r;
}

/* ---- Invoke ---- */

static bool
hex_digit(char c, uint8_t *v)
{
    if (c >= '0' && c <= '9')
        *v = (uint8_t)(c - '0');
    else if (c >= 'a' && c <= 'f')
        *v = (uint8_t)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
        *v = (uint8_t)(c - 'A' + 10);
    else
        return false;
    return true;
}

#define WSMAN_MAX_BYTES 64

/* Parse one element of a uint8[] parameter: a decimal byte (array element) or, for a single
 * element, a hex string (CertHash as PowerShell users write it). */
static int
arg_bytes_add(struct wsman_arg *a, const char *text)
{
    size_t len = strlen(text);
    uint64_t v;

    if (!a->bytes) {
        a->bytes = calloc(WSMAN_MAX_BYTES, 1);
        if (!a->bytes)
            return -ENOMEM;
    }
    if (wsman_parse_uint(text, 255, &v) == 0 && len <= 3) {
        if (a->nbytes >= WSMAN_MAX_BYTES)
            return -EINVAL;
        a->bytes[a->nbytes++] = (uint8_t)v;
        return 0;
    }
    if (a->nbytes != 0 || len % 2 != 0 || len / 2 > WSMAN_MAX_BYTES || len == 0)
        return -EINVAL;
    for (size_t i = 0; i < len; i += 2) {
        uint8_t hi, lo;

        if (!hex_digit(text[i], &hi) || !hex_digit(text[i + 1], &lo))
            return -EINVAL;
        a->bytes[a->nbytes++] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

static void
call_args_done(struct wsman_call *call)
{
    for (size_t i = 0; i < WSMAN_MAX_PARAMS; i++) {
        free(call->args[i].s);
        free(call->args[i].bytes);
    }
    memset(call->args, 0, sizeof(call->args));
}

static int
call_args_parse(const struct wsman_method *m, const struct wsman_class *cls, xmlNodePtr input,
                struct wsman_call *call, struct wsman_fault *f)
{
    bool hexform[WSMAN_MAX_PARAMS] = {false};

    for (xmlNodePtr n = wsman_xml_child(input, NULL, NULL); n; n = wsman_xml_next_element(n)) {
        const struct wsman_param_def *d = NULL;
        struct wsman_arg *a;
        char *text;
        size_t i;
        int r = 0;

        if (!n->ns || !n->ns->href || strcasecmp((const char *)n->ns->href, cls->uri) != 0)
            return wsman_fault_set(f, WSMAN_FAULT_INVALID_PARAMETER, "InvalidNamespace",
                                   "The parameter '%.64s' is not in the namespace of %s.",
                                   (const char *)n->name, cls->name);
        for (i = 0; m->params[i].name; i++) {
            if (strcasecmp(m->params[i].name, (const char *)n->name) == 0) {
                d = &m->params[i];
                break;
            }
        }
        if (!d)
            return wsman_fault_set(f, WSMAN_FAULT_INVALID_PARAMETER, "InvalidName",
                                   "%s has no parameter '%.64s'.", m->name,
                                   (const char *)n->name);
        if (wsman_xml_attr_true(n, WSMAN_NS_XSI, "nil"))
            continue;
        a = &call->args[i];
        if (a->present && (d->type != WSMAN_P_BYTES || hexform[i]))
            return wsman_fault_set(f, WSMAN_FAULT_INVALID_PARAMETER, "InvalidValue",
                                   "The parameter '%s' is given twice.", d->name);
        if (wsman_xml_has_element_child(n))
            return wsman_fault_set(f, WSMAN_FAULT_INVALID_PARAMETER, "TypeMismatch",
                                   "The parameter '%s' must hold a value, not elements.",
                                   d->name);
        text = wsman_xml_text(n);
        if (!text)
            return wsman_fault_oom(f);
        switch (d->type) {
        case WSMAN_P_STRING:
            a->s = text;
            text = NULL;
            break;
        case WSMAN_P_UINT16:
            r = wsman_parse_uint(text, UINT16_MAX, &a->u);
            break;
        case WSMAN_P_UINT32:
            r = wsman_parse_uint(text, UINT32_MAX, &a->u);
            break;
        case WSMAN_P_BOOL: {
            bool b = false;

            r = wsman_parse_bool(text, &b);
            a->u = b;
            break;
        }
        case WSMAN_P_BYTES: {
            size_t before = a->nbytes;

            r = arg_bytes_add(a, text);
            if (r == 0 && a->nbytes - before > 1)
                hexform[i] = true;
            break;
        }
        }
        free(text);
        if (r < 0)
            return wsman_fault_set(f, WSMAN_FAULT_INVALID_PARAMETER, "TypeMismatch",
                                   "The value of parameter '%s' is not valid.", d->name);
        a->present = true;
    }
    for (size_t i = 0; m->params[i].name; i++)
        if (m->params[i].required && !call->args[i].present)
            return wsman_fault_set(f, WSMAN_FAULT_INVALID_PARAMETER, "MissingValues",
                                   "%s needs the parameter '%s'.", m->name, m->params[i].name);
    return 0;
}

static int
op_invoke(struct wsman_ctx *ctx, const struct wsman_class *cls, const struct wsman_request *req,
          const struct wsman_caller *caller, const char *method, struct wsman_fault *f,
          struct wsman_reply *out)
{
    const struct wsman_method *m = NULL;
    struct wsman_call call = {0};
    struct wsman_response resp = {0};
    xmlNodePtr input;
    char name[160], action[1024];
    int r;

    for (size_t i = 0; cls->methods && cls->methods[i].name; i++) {
        if (strcasecmp(cls->methods[i].name, method) == 0) {
            m = &cls->methods[i];
            break;
        }
    }
    if (!m)
        return wsman_fault_set(f, WSMAN_FAULT_ACTION_NOT_SUPPORTED, NULL,
                               "%s has no method '%.64s'.", cls->name, method);
    r = selectors_resolve(cls, req, !m->is_static, m->is_static, call.keys, f);
    if (r < 0)
        return r;
    input = wsman_xml_child(req->body, NULL, NULL);
    if (input) {
        snprintf(name, sizeof(name), "%s_INPUT", m->name);
        if (strcasecmp((const char *)input->name, name) != 0 || wsman_xml_next_element(input))
            return wsman_fault_set(f, WSMAN_FAULT_INVALID_PARAMETER, "InvalidName",
                                   "The body of %s must be one <%s> element.", m->name, name);
        if (!input->ns || !input->ns->href ||
            strcasecmp((const char *)input->ns->href, cls->uri) != 0)
            return wsman_fault_set(f, WSMAN_FAULT_INVALID_PARAMETER, "InvalidNamespace",
                                   "<%s> must be in the namespace %s.", name, cls->uri);
    }
    r = call_args_parse(m, cls, input, &call, f);
    if (r < 0)
        goto cleanup;

    if ((size_t)snprintf(action, sizeof(action), "%sResponse", req->action) >= sizeof(action)) {
        r = wsman_fault_set(f, WSMAN_FAULT_ENCODING_LIMIT, "UriLimitExceeded",
                            "The Action URI is too long.");
        goto cleanup;
    }
    r = wsman_response_new(req, action, cls->uri, &resp);
    if (r < 0) {
        r = wsman_fault_oom(f);
        goto cleanup;
    }
    snprintf(name, sizeof(name), "%s_OUTPUT", m->name);
    call.out = xmlNewChild(resp.body, resp.ns_p, (const xmlChar *)name, NULL);
    if (!call.out) {
        r = wsman_fault_oom(f);
        goto cleanup;
    }
    call.ctx = ctx;
    call.caller = caller;
    call.resp = &resp;
    call.fault = f;
    memset(f, 0, sizeof(*f));
    ferry_status_clear(&call.st);
    r = m->fn(&call);
    if (r < 0) {
        if (f->code != WSMAN_FAULT_NONE)
            goto cleanup;
        if (call.st.kind != FERRY_STATUS_RESULT) {
            r = wsman_fault_from_status(f, &call.st);
            goto cleanup;
        }
        /* a BITS failure: no out-parameters, the code as ReturnValue */
        xmlNodePtr c = call.out->children;
        while (c) {
            xmlNodePtr next = c->next;
            xmlUnlinkNode(c);
            xmlFreeNode(c);
            c = next;
        }
        ferry_log_debug("%s.%s returned 0x%08X: %s", cls->name, m->name,
                        (unsigned)call.st.code, call.st.text);
    }
    /* success: 0, or a BITS success code the engine reported (st kind OK, high bit clear,
     * e.g. BG_S_PARTIAL_COMPLETE) */
    if (!wsman_prop(&resp, call.out, "ReturnValue", "%u",
                    r < 0 ? (unsigned)call.st.code
                    : call.st.kind == FERRY_STATUS_OK && !(call.st.code & 0x80000000u)
                        ? (unsigned)call.st.code
                        : 0u)) {
        r = wsman_fault_oom(f);
        goto cleanup;
    }
    r = finish_or_fault(ctx, &resp, req, f, out);
cleanup:
    wsman_response_done(&resp);
    call_args_done(&call);
    return r;
}

/* ---- the entry point ---- */

static int
dispatch_request(struct wsman_ctx *ctx, struct wsman_request *req,
                 const struct wsman_caller *caller, struct wsman_fault *f,
                 struct wsman_reply *out)
{
    const struct wsman_class *cls;
    size_t ulen;

    if (req->identify)
        return op_identify(ctx, req, caller, out) < 0
                   ? wsman_fault_oom(f)
                   : 0;
    if (!caller->authenticated) {
        out->need_auth = true;
        return 0;
    }
    if (caller->role != FERRY_ROLE_ADMIN)
        return wsman_fault_set(f, WSMAN_FAULT_ACCESS_DENIED, NULL,
                               "Only administrators manage jobs and URL groups.");
    if (req->timeout_ms == 0)
        return wsman_fault_set(f, WSMAN_FAULT_TIMED_OUT, NULL,
                               "The OperationTimeout of the request is zero.");
    cls = class_find(req->resource_uri);
    if (!cls)
        return wsman_fault_set(f, WSMAN_FAULT_DESTINATION_UNREACHABLE, "InvalidResourceURI",
                               "The resource URI '%.200s' is not served here.",
                               req->resource_uri);
    if (strcmp(req->action, WSMAN_ACTION_GET) == 0)
        return op_get(ctx, cls, req, f, out);
    if (strcmp(req->action, WSMAN_ACTION_PUT) == 0)
        return op_put(ctx, cls, req, caller, f, out);
    if (strcmp(req->action, WSMAN_ACTION_ENUMERATE) == 0)
        return wsman_enum_enumerate(ctx, cls, req, caller, f, out);
    if (strcmp(req->action, WSMAN_ACTION_PULL) == 0)
        return wsman_enum_pull(ctx, cls, req, caller, f, out);
    if (strcmp(req->action, WSMAN_ACTION_RELEASE) == 0)
        return wsman_enum_release(ctx, cls, req, caller, f, out);
    ulen = strlen(req->resource_uri);
    if (strncasecmp(req->action, req->resource_uri, ulen) == 0 && req->action[ulen] == '/' &&
        req->action[ulen + 1] && !strchr(req->action + ulen + 1, '/'))
        return op_invoke(ctx, cls, req, caller, req->action + ulen + 1, f, out);
    return wsman_fault_set(f, WSMAN_FAULT_ACTION_NOT_SUPPORTED, NULL,
                           "The action '%.200s' is not supported on %s.", req->action,
                           cls->name);
}

static int
xml_error_fault(enum wsman_xml_error e, struct wsman_fault *f)
{
    switch (e) {
    case WSMAN_XML_TOO_BIG:
        return wsman_fault_set(f, WSMAN_FAULT_ENCODING_LIMIT, "ServiceEnvelopeLimit",
                               "The request exceeds the service's envelope size limit.");
    case WSMAN_XML_DOCTYPE:
        return wsman_fault_set(f, WSMAN_FAULT_SCHEMA_VALIDATION_ERROR, NULL,
                               "Document type declarations and entities are not allowed.");
    case WSMAN_XML_TOO_DEEP:
    case WSMAN_XML_TOO_MANY_NODES:
        return wsman_fault_set(f, WSMAN_FAULT_ENCODING_LIMIT, "ServiceEnvelopeLimit",
                               "The request nests too deep or holds too many nodes.");
    case WSMAN_XML_NOMEM:
        return wsman_fault_oom(f);
    default:
        return wsman_fault_set(f, WSMAN_FAULT_SCHEMA_VALIDATION_ERROR, NULL,
                               "The request is not well-formed XML.");
    }
}

int
wsman_dispatch(struct wsman_ctx *ctx, const char *body, size_t len,
               const struct wsman_caller *caller, struct wsman_reply *out)
{
    struct wsman_xml_limits lim = {
        .max_bytes = ctx->wcfg->max_envelope,
        .max_depth = WSMAN_XML_MAX_DEPTH,
        .max_nodes = WSMAN_XML_MAX_NODES,
    };
    struct wsman_request req = {0};
    struct wsman_fault f = {0};
    enum wsman_xml_error xe;
    xmlDocPtr doc = NULL;
    int r;

    memset(out, 0, sizeof(*out));
    clock_gettime(CLOCK_MONOTONIC, &req.start);
    xe = wsman_xml_parse(body, len, &lim, &doc);
    if (xe != WSMAN_XML_OK) {
        r = xml_error_fault(xe, &f);
    } else {
        r = wsman_envelope_parse(doc, &req, &f);
        if (r == 0)
            r = dispatch_request(ctx, &req, caller, &f, out);
    }
    if (r < 0 && !out->need_auth) {
        if (f.code == WSMAN_FAULT_NONE)
            wsman_fault_set(&f, WSMAN_FAULT_INTERNAL_ERROR, NULL, "Internal error.");
        ferry_log_debug("WS-Man fault %s: %s", wsman_fault_name(f.code), f.text);
        wsman_reply_done(out);
        r = wsman_fault_reply(&f, req.message_id, out);
    } else {
        r = 0;
    }
    wsman_request_done(&req);
    return r;
}
