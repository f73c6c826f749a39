/*
 * control/cli/ctl_envelope.c - WS-Management envelopes of ferryctl (DMTF DSP0226, the envelopes wsl and WinRM send):
 * requests built with libxml2's tree API, responses parsed by namespace URI. The only place
 * in ferryctl that knows what the XML looks like.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "ctl_envelope.h"
#include "ferry/common.h"
#include "wsman_names.h"

#define X(s) ((const xmlChar *)(s))
/* Nested objects deeper than this are not read (a response is never that deep). */
#define ENVELOPE_MAX_DEPTH 8

/* ---- building ---------------------------------------------------------------------- */

struct envelope_ns {
    xmlNs *s, *a, *w, *n;
};

static void
envelope_message_id(char *buf, size_t len)
{
    char guid[FERRY_GUID_STRLEN];

    ferry_guid_new(guid);
    /* "{ABC...}" -> "uuid:abc..." */
    guid[strlen(guid) - 1] = '\0';
    for (char *p = guid; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    snprintf(buf, len, "uuid:%s", guid + 1);
}

static xmlNode *
envelope_text_child(xmlNode *parent, xmlNs *ns, const char *name, const char *text)
{
    /* xmlNewTextChild escapes the text (xmlNewChild would interpret entity references). */
    return xmlNewTextChild(parent, ns, X(name), X(text));
}

static int
envelope_must_understand(xmlNode *node, xmlNs *s)
{
    return xmlNewNsProp(node, s, X("mustUnderstand"), X("true")) ? 0 : -ENOMEM;
}

/* A request envelope with the addressing and wsman headers of t; *ret_body is the Body. */
static int
envelope_new(const struct ctl_target *t, const char *action, const char *message_id,
             xmlDoc **ret_doc, xmlNode **ret_body, struct envelope_ns *ret_ns)
{
    xmlDoc *doc = NULL;
    xmlNode *env, *header, *node, *reply_to, *body;
    struct envelope_ns ns;
    char idbuf[64], numbuf[64];
    int r = -ENOMEM;

    if (!t || !t->to || !t->resource_uri || !action)
        return -EINVAL;
    if (!message_id) {
        envelope_message_id(idbuf, sizeof(idbuf));
        message_id = idbuf;
    }
    doc = xmlNewDoc(X("1.0"));
    if (!doc)
        goto error;
    env = xmlNewDocNode(doc, NULL, X("Envelope"), NULL);
    if (!env)
        goto error;
    xmlDocSetRootElement(doc, env);
    ns.s = xmlNewNs(env, X(WSMAN_NS_SOAP), X("s"));
    ns.a = xmlNewNs(env, X(WSMAN_NS_ADDRESSING), X("a"));
    ns.w = xmlNewNs(env, X(WSMAN_NS_WSMAN), X("w"));
    ns.n = xmlNewNs(env, X(WSMAN_NS_ENUMERATION), X("n"));
    if (!ns.s || !ns.a || !ns.w || !ns.n)
        goto error;
    xmlSetNs(env, ns.s);

    header = xmlNewChild(env, ns.s, X("Header"), NULL);
    if (!header)
        goto error;
    node = envelope_text_child(header, ns.a, "To", t->to);
    if (!node)
        goto error;
    node = envelope_text_child(header, ns.w, "ResourceURI", t->resource_uri);
    if (!node || envelope_must_understand(node, ns.s) < 0)
        goto error;
    reply_to = xmlNewChild(header, ns.a, X("ReplyTo"), NULL);
    if (!reply_to)
        goto error;
    node = envelope_text_child(reply_to, ns.a, "Address", WSMAN_ADDRESS_ANONYMOUS);
    if (!node || envelope_must_understand(node, ns.s) < 0)
        goto error;
    node = envelope_text_child(header, ns.a, "Action", action);
    if (!node || envelope_must_understand(node, ns.s) < 0)
        goto error;
    node = envelope_text_child(header, ns.a, "MessageID", message_id);
    if (!node)
        goto error;
    if (t->max_envelope > 0) {
        snprintf(numbuf, sizeof(numbuf), "%zu", t->max_envelope);
        node = envelope_text_child(header, ns.w, "MaxEnvelopeSize", numbuf);
        if (!node || envelope_must_understand(node, ns.s) < 0)
            goto error;
    }
    if (t->timeout_s > 0) {
        snprintf(numbuf, sizeof(numbuf), "PT%u.000S", t->timeout_s);
        if (!envelope_text_child(header, ns.w, "OperationTimeout", numbuf))
            goto error;
    }
    if (t->nselectors > 0) {
        xmlNode *set = xmlNewChild(header, ns.w, X("SelectorSet"), NULL);

        if (!set)
            goto error;
        for (size_t i = 0; i < t->nselectors; i++) {
            if (!t->selectors[i].name || !t->selectors[i].value) {
                r = -EINVAL;
                goto error;
            }
            node = envelope_text_child(set, ns.w, "Selector", t->selectors[i].value);
            if (!node || !xmlNewProp(node, X("Name"), X(t->selectors[i].name)))
                goto error;
        }
    }
    body = xmlNewChild(env, ns.s, X("Body"), NULL);
    if (!body)
        goto error;
    *ret_doc = doc;
    *ret_body = body;
    if (ret_ns)
        *ret_ns = ns;
    return 0;

error:
    xmlFreeDoc(doc);
    return r;
}

/* Serialize and free doc. */
static int
envelope_finish(xmlDoc *doc, char **ret_xml, size_t *ret_len)
{
    xmlChar *mem = NULL;
    int size = 0;
    char *out;

    xmlDocDumpMemoryEnc(doc, &mem, &size, "UTF-8");
    xmlFreeDoc(doc);
    if (!mem || size <= 0) {
        xmlFree(mem);
        return -ENOMEM;
    }
    out = malloc((size_t)size + 1);
    if (!out) {
        xmlFree(mem);
        return -ENOMEM;
    }
    memcpy(out, mem, (size_t)size);
    out[size] = '\0';
    xmlFree(mem);
    *ret_xml = out;
    *ret_len = (size_t)size;
    return 0;
}

int
ctl_envelope_identify(char **ret_xml, size_t *ret_len)
{
    xmlDoc *doc;
    xmlNode *env, *body;
    xmlNs *s, *id;

    doc = xmlNewDoc(X("1.0"));
    if (!doc)
        return -ENOMEM;
    env = xmlNewDocNode(doc, NULL, X("Envelope"), NULL);
    if (!env)
        goto error;
    xmlDocSetRootElement(doc, env);
    s = xmlNewNs(env, X(WSMAN_NS_SOAP), X("s"));
    id = xmlNewNs(env, X(WSMAN_NS_IDENTITY), X("wsmid"));
    if (!s || !id)
        goto error;
    xmlSetNs(env, s);
    if (!xmlNewChild(env, s, X("Header"), NULL))
        goto error;
    body = xmlNewChild(env, s, X("Body"), NULL);
    if (!body || !xmlNewChild(body, id, X("Identify"), NULL))
        goto error;
    return envelope_finish(doc, ret_xml, ret_len);

error:
    xmlFreeDoc(doc);
    return -ENOMEM;
}

int
ctl_envelope_get(const struct ctl_target *t, const char *message_id, char **ret_xml,
                 size_t *ret_len)
{
    xmlDoc *doc;
    xmlNode *body;
    int r;

    r = envelope_new(t, WSMAN_ACTION_GET, message_id, &doc, &body, NULL);
    if (r < 0)
        return r;
    return envelope_finish(doc, ret_xml, ret_len);
}

int
ctl_envelope_put(const struct ctl_target *t, const char *message_id, const xmlNode *instance,
                 char **ret_xml, size_t *ret_len)
{
    xmlDoc *doc;
    xmlNode *body, *copy;
    int r;

    if (!instance || instance->type != XML_ELEMENT_NODE)
        return -EINVAL;
    r = envelope_new(t, WSMAN_ACTION_PUT, message_id, &doc, &body, NULL);
    if (r < 0)
        return r;
    /* The copy carries the namespace declarations it used from the response's scope. */
    copy = xmlDocCopyNode((xmlNode *)instance, doc, 1);
    if (!copy) {
        xmlFreeDoc(doc);
        return -ENOMEM;
    }
    xmlAddChild(body, copy);
    xmlReconciliateNs(doc, copy);
    return envelope_finish(doc, ret_xml, ret_len);
}

int
ctl_envelope_enumerate(const struct ctl_target *t, const char *message_id,
                       unsigned max_elements, char **ret_xml, size_t *ret_len)
{
    struct envelope_ns ns;
    xmlDoc *doc;
    xmlNode *body, *en;
    char num[32];
    int r;

    r = envelope_new(t, WSMAN_ACTION_ENUMERATE, message_id, &doc, &body, &ns);
    if (r < 0)
        return r;
    en = xmlNewChild(body, ns.n, X("Enumerate"), NULL);
    if (!en || !xmlNewChild(en, ns.w, X("OptimizeEnumeration"), NULL))
        goto error;
    if (max_elements > 0) {
        snprintf(num, sizeof(num), "%u", max_elements);
        if (!envelope_text_child(en, ns.w, "MaxElements", num))
            goto error;
    }
    return envelope_finish(doc, ret_xml, ret_len);

error:
    xmlFreeDoc(doc);
    return -ENOMEM;
}

int
ctl_envelope_pull(const struct ctl_target *t, const char *message_id, const char *context,
                  unsigned max_elements, char **ret_xml, size_t *ret_len)
{
    struct envelope_ns ns;
    xmlDoc *doc;
    xmlNode *body, *pull;
    char num[32];
    int r;

    if (!context)
        return -EINVAL;
    r = envelope_new(t, WSMAN_ACTION_PULL, message_id, &doc, &body, &ns);
    if (r < 0)
        return r;
    pull = xmlNewChild(body, ns.n, X("Pull"), NULL);
    if (!pull || !envelope_text_child(pull, ns.n, "EnumerationContext", context))
        goto error;
    if (max_elements > 0) {
        snprintf(num, sizeof(num), "%u", max_elements);
        if (!envelope_text_child(pull, ns.n, "MaxElements", num))
            goto error;
    }
    return envelope_finish(doc, ret_xml, ret_len);

error:
    xmlFreeDoc(doc);
    return -ENOMEM;
}

int
ctl_envelope_release(const struct ctl_target *t, const char *message_id, const char *context,
                     char **ret_xml, size_t *ret_len)
{
    struct envelope_ns ns;
    xmlDoc *doc;
    xmlNode *body, *rel;
    int r;

    if (!context)
        return -EINVAL;
    r = envelope_new(t, WSMAN_ACTION_RELEASE, message_id, &doc, &body, &ns);
    if (r < 0)
        return r;
    rel = xmlNewChild(body, ns.n, X("Release"), NULL);
    if (!rel || !envelope_text_child(rel, ns.n, "EnumerationContext", context)) {
        xmlFreeDoc(doc);
        return -ENOMEM;
    }
    return envelope_finish(doc, ret_xml, ret_len);
}

int
ctl_envelope_invoke(const struct ctl_target *t, const char *message_id, const char *method,
                    const struct ctl_pair *params, size_t nparams, char **ret_xml,
                    size_t *ret_len)
{
    xmlDoc *doc;
    xmlNode *body, *input;
    xmlNs *p, *xsi = NULL;
    char *action = NULL, *input_name = NULL;
    int r;

    if (!t || !t->resource_uri || !method || !*method)
        return -EINVAL;
    if (asprintf(&action, "%s/%s", t->resource_uri, method) < 0)
        return -ENOMEM;
    r = envelope_new(t, action, message_id, &doc, &body, NULL);
    free(action);
    if (r < 0)
        return r;
    r = -ENOMEM;
    if (asprintf(&input_name, "%s_INPUT", method) < 0) {
        input_name = NULL;
        goto error;
    }
    input = xmlNewChild(body, NULL, X(input_name), NULL);
    if (!input)
        goto error;
    p = xmlNewNs(input, X(t->resource_uri), X("p"));
    if (!p)
        goto error;
    xmlSetNs(input, p);
    for (size_t i = 0; i < nparams; i++) {
        xmlNode *node;

        if (!params[i].name || !*params[i].name) {
            r = -EINVAL;
            goto error;
        }
        if (params[i].value) {
            node = envelope_text_child(input, p, params[i].name, params[i].value);
            if (!node)
                goto error;
            continue;
        }
        if (!xsi) {
            xsi = xmlNewNs(input, X(WSMAN_NS_XSI), X("xsi"));
            if (!xsi)
                goto error;
        }
        node = xmlNewChild(input, p, X(params[i].name), NULL);
        if (!node || !xmlNewNsProp(node, xsi, X("nil"), X("true")))
            goto error;
    }
    free(input_name);
    return envelope_finish(doc, ret_xml, ret_len);

error:
    free(input_name);
    xmlFreeDoc(doc);
    return r;
}

/* ---- parsing ----------------------------------------------------------------------- */

static bool
node_is(const xmlNode *n, const char *ns, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
           strcmp((const char *)n->ns->href, ns) == 0 &&
           strcmp((const char *)n->name, name) == 0;
}

static xmlNode *
node_first_element(xmlNode *n)
{
    for (; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE)
            return n;
    return NULL;
}

static xmlNode *
node_child(xmlNode *parent, const char *ns, const char *name)
{
    if (!parent)
        return NULL;
    for (xmlNode *c = parent->children; c; c = c->next)
        if (node_is(c, ns, name))
            return c;
    return NULL;
}

static bool
node_has_element_children(const xmlNode *n)
{
    for (xmlNode *c = n->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE)
            return true;
    return false;
}

/* Whitespace-trimmed text content as a malloc'ed string; NULL on OOM. */
static char *
node_text(xmlNode *n)
{
    xmlChar *c = xmlNodeGetContent(n);
    const char *s, *e;
    char *out;

    if (!c)
        return strdup("");
    s = (const char *)c;
    while (*s && isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        e--;
    out = strndup(s, (size_t)(e - s));
    xmlFree(c);
    return out;
}

static bool
node_is_nil(xmlNode *n)
{
    xmlChar *v = xmlGetNsProp(n, X("nil"), X(WSMAN_NS_XSI));
    bool nil = v && (strcmp((const char *)v, "true") == 0 || strcmp((const char *)v, "1") == 0);

    xmlFree(v);
    return nil;
}

struct ctl_instance *
ctl_instance_free(struct ctl_instance *inst)
{
    if (!inst)
        return NULL;
    for (size_t i = 0; i < inst->nprops; i++) {
        free(inst->props[i].name);
        free(inst->props[i].value);
        ctl_instance_free(inst->props[i].nested);
    }
    free(inst->props);
    free(inst->class_name);
    free(inst);
    return NULL;
}

/* An element read as a property list: each element child is a property. */
static int
instance_from_node(xmlNode *node, unsigned depth, struct ctl_instance **ret)
{
    struct ctl_instance *inst;
    size_t n = 0;
    int r = -ENOMEM;

    if (depth > ENVELOPE_MAX_DEPTH)
        return -EBADMSG;
    inst = calloc(1, sizeof(*inst));
    if (!inst)
        return -ENOMEM;
    inst->class_name = strdup((const char *)node->name);
    if (!inst->class_name)
        goto error;
    for (xmlNode *c = node->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE)
            n++;
    if (n > 0) {
        inst->props = calloc(n, sizeof(*inst->props));
        if (!inst->props)
            goto error;
    }
    for (xmlNode *c = node->children; c; c = c->next) {
        struct ctl_prop *p;

        if (c->type != XML_ELEMENT_NODE)
            continue;
        p = &inst->props[inst->nprops++];
        p->name = strdup((const char *)c->name);
        if (!p->name)
            goto error;
        if (node_has_element_children(c)) {
            r = instance_from_node(c, depth + 1, &p->nested);
            if (r < 0)
                goto error;
            r = -ENOMEM;
        } else if (!node_is_nil(c)) {
            p->value = node_text(c);
            if (!p->value)
                goto error;
        }
    }
    *ret = inst;
    return 0;

error:
    ctl_instance_free(inst);
    return r;
}

static int
response_add_instance(struct ctl_response *resp, xmlNode *node)
{
    struct ctl_instance **v, *inst;
    int r;

    r = instance_from_node(node, 0, &inst);
    if (r < 0)
        return r;
    v = realloc(resp->instances, (resp->ninstances + 1) * sizeof(*v));
    if (!v) {
        ctl_instance_free(inst);
        return -ENOMEM;
    }
    resp->instances = v;
    resp->instances[resp->ninstances++] = inst;
    return 0;
}

/* The conventional prefix for a namespace URI, so that faults read the same whatever
 * prefixes the server chose. */
static const char *
canonical_prefix(const char *href)
{
    static const struct {
        const char *href, *prefix;
    } map[] = {
        {WSMAN_NS_SOAP, "s"},        {WSMAN_NS_ADDRESSING, "a"}, {WSMAN_NS_WSMAN, "w"},
        {WSMAN_NS_ENUMERATION, "n"}, {WSMAN_NS_TRANSFER, "wxf"}, {WSMAN_NS_CIMBINDING, "wsmb"},
        {WSMAN_NS_MSWSMAN, "p"},
    };

    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(href, map[i].href) == 0)
            return map[i].prefix;
    return NULL;
}

/* A QName value ("w:InvalidSelectors") rewritten with the canonical prefix of the
 * namespace it is bound to at node. */
static char *
fault_qname(xmlNode *node)
{
    char *text = node_text(node), *colon, *out;
    xmlNs *ns;
    const char *prefix;

    if (!text)
        return NULL;
    colon = strchr(text, ':');
    if (colon)
        *colon = '\0';
    ns = xmlSearchNs(node->doc, node, colon ? X(text) : NULL);
    prefix = ns && ns->href ? canonical_prefix((const char *)ns->href) : NULL;
    if (colon)
        *colon = ':';
    if (!prefix)
        return text;
    if (asprintf(&out, "%s:%s", prefix, colon ? colon + 1 : text) < 0)
        out = NULL;
    free(text);
    return out;
}

static xmlNode *
node_find_descendant(xmlNode *n, const char *ns, const char *name, unsigned depth)
{
    if (depth > ENVELOPE_MAX_DEPTH)
        return NULL;
    for (xmlNode *c = n ? n->children : NULL; c; c = c->next) {
        xmlNode *hit;

        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (node_is(c, ns, name))
            return c;
        hit = node_find_descendant(c, ns, name, depth + 1);
        if (hit)
            return hit;
    }
    return NULL;
}

static int
response_parse_fault(struct ctl_response *resp, xmlNode *fault)
{
    xmlNode *code = node_child(fault, WSMAN_NS_SOAP, "Code");
    xmlNode *value = node_child(code, WSMAN_NS_SOAP, "Value");
    xmlNode *sub = node_child(node_child(code, WSMAN_NS_SOAP, "Subcode"), WSMAN_NS_SOAP,
                              "Value");
    xmlNode *reason = node_child(node_child(fault, WSMAN_NS_SOAP, "Reason"), WSMAN_NS_SOAP,
                                 "Text");
    xmlNode *detail = node_child(fault, WSMAN_NS_SOAP, "Detail");
    xmlNode *d;

    resp->kind = CTL_RESPONSE_FAULT;
    if (value) {
        resp->fault.code = fault_qname(value);
        if (!resp->fault.code)
            return -ENOMEM;
    }
    if (sub) {
        resp->fault.subcode = fault_qname(sub);
        if (!resp->fault.subcode)
            return -ENOMEM;
    }
    if (reason) {
        resp->fault.reason = node_text(reason);
        if (!resp->fault.reason)
            return -ENOMEM;
    }
    d = node_find_descendant(detail, WSMAN_NS_WSMAN, "FaultDetail", 0);
    if (d) {
        char *t = node_text(d);
        const char *base = WSMAN_FAULT_DETAIL_BASE;

        if (!t)
            return -ENOMEM;
        if (strncmp(t, base, strlen(base)) == 0)
            memmove(t, t + strlen(base), strlen(t + strlen(base)) + 1);
        resp->fault.detail = t;
        return 0;
    }
    d = node_find_descendant(detail, WSMAN_NS_MSFAULT, "Message", 0);
    if (d) {
        resp->fault.detail = node_text(d);
        if (!resp->fault.detail)
            return -ENOMEM;
    }
    return 0;
}

static int
response_parse_items(struct ctl_response *resp, xmlNode *body_elem)
{
    resp->kind = CTL_RESPONSE_ITEMS;
    for (xmlNode *c = body_elem->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || !c->ns)
            continue;
        if (node_is(c, WSMAN_NS_ENUMERATION, "EnumerationContext")) {
            char *t = node_text(c);

            if (!t)
                return -ENOMEM;
            free(resp->context);
            resp->context = NULL;
            if (*t)
                resp->context = t;
            else
                free(t);
        } else if (node_is(c, WSMAN_NS_ENUMERATION, "EndOfSequence") ||
                   node_is(c, WSMAN_NS_WSMAN, "EndOfSequence")) {
            resp->end_of_sequence = true;
        } else if (node_is(c, WSMAN_NS_ENUMERATION, "Items") ||
                   node_is(c, WSMAN_NS_WSMAN, "Items")) {
            for (xmlNode *it = c->children; it; it = it->next) {
                xmlNode *obj = it;
                int r;

                if (it->type != XML_ELEMENT_NODE)
                    continue;
                if (node_is(it, WSMAN_NS_WSMAN, "Item")) {
                    /* EnumerateObjectAndEPR: the object beside its EPR */
                    obj = NULL;
                    for (xmlNode *x = it->children; x; x = x->next)
                        if (x->type == XML_ELEMENT_NODE &&
                            !node_is(x, WSMAN_NS_ADDRESSING, "EndpointReference")) {
                            obj = x;
                            break;
                        }
                    if (!obj)
                        continue;
                }
                r = response_add_instance(resp, obj);
                if (r < 0)
                    return r;
            }
        }
    }
    return 0;
}

static bool
name_ends_with(const xmlChar *name, const char *suffix)
{
    size_t n = strlen((const char *)name), s = strlen(suffix);

    return n > s && strcmp((const char *)name + n - s, suffix) == 0;
}

int
ctl_envelope_parse(const char *buf, size_t len, struct ctl_response **ret)
{
    struct ctl_response *resp;
    xmlNode *env, *header, *body, *b;
    int r = -EBADMSG;

    if (!buf || len == 0 || len > INT32_MAX)
        return -EBADMSG;
    resp = calloc(1, sizeof(*resp));
    if (!resp)
        return -ENOMEM;
    resp->doc = xmlReadMemory(buf, (int)len, NULL, NULL,
                              XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!resp->doc)
        goto error;
    env = xmlDocGetRootElement(resp->doc);
    if (!node_is(env, WSMAN_NS_SOAP, "Envelope"))
        goto error;
    header = node_child(env, WSMAN_NS_SOAP, "Header");
    body = node_child(env, WSMAN_NS_SOAP, "Body");
    if (!body)
        goto error;
    r = -ENOMEM;
    if (header) {
        xmlNode *a = node_child(header, WSMAN_NS_ADDRESSING, "Action");
        xmlNode *rel = node_child(header, WSMAN_NS_ADDRESSING, "RelatesTo");

        if (a) {
            resp->action = node_text(a);
            if (!resp->action)
                goto error;
        }
        if (rel) {
            resp->relates_to = node_text(rel);
            if (!resp->relates_to)
                goto error;
        }
    }
    b = node_first_element(body->children);
    if (!b) {
        resp->kind = CTL_RESPONSE_EMPTY;
    } else if (node_is(b, WSMAN_NS_SOAP, "Fault")) {
        r = response_parse_fault(resp, b);
        if (r < 0)
            goto error;
    } else if (node_is(b, WSMAN_NS_IDENTITY, "IdentifyResponse")) {
        resp->kind = CTL_RESPONSE_IDENTIFY;
        r = response_add_instance(resp, b);
        if (r < 0)
            goto error;
    } else if (node_is(b, WSMAN_NS_ENUMERATION, "EnumerateResponse") ||
               node_is(b, WSMAN_NS_ENUMERATION, "PullResponse")) {
        r = response_parse_items(resp, b);
        if (r < 0)
            goto error;
    } else if (node_is(b, WSMAN_NS_ENUMERATION, "ReleaseResponse")) {
        resp->kind = CTL_RESPONSE_EMPTY;
    } else if (name_ends_with(b->name, "_OUTPUT")) {
        const char *rv;
        uint64_t v;

        resp->kind = CTL_RESPONSE_OUTPUT;
        r = response_add_instance(resp, b);
        if (r < 0)
            goto error;
        rv = ctl_instance_get(resp->instances[0], "ReturnValue");
        if (rv) {
            if (ctl_instance_get_u64(resp->instances[0], "ReturnValue", &v) < 0 ||
                v > UINT32_MAX) {
                r = -EBADMSG;
                goto error;
            }
            resp->has_return_value = true;
            resp->return_value = (uint32_t)v;
        }
    } else {
        resp->kind = CTL_RESPONSE_INSTANCE;
        r = response_add_instance(resp, b);
        if (r < 0)
            goto error;
    }
    *ret = resp;
    return 0;

error:
    ctl_response_free(resp);
    return r;
}

struct ctl_response *
ctl_response_free(struct ctl_response *resp)
{
    if (!resp)
        return NULL;
    xmlFreeDoc(resp->doc);
    free(resp->action);
    free(resp->relates_to);
    free(resp->fault.code);
    free(resp->fault.subcode);
    free(resp->fault.reason);
    free(resp->fault.detail);
    for (size_t i = 0; i < resp->ninstances; i++)
        ctl_instance_free(resp->instances[i]);
    free(resp->instances);
    free(resp->context);
    free(resp);
    return NULL;
}

void
ctl_fault_format(const struct ctl_fault *f, char *buf, size_t len)
{
    const char *what = f->subcode ? f->subcode : f->code ? f->code : "fault";

    if (f->reason && f->detail)
        snprintf(buf, len, "%s: %s (%s)", what, f->reason, f->detail);
    else if (f->reason)
        snprintf(buf, len, "%s: %s", what, f->reason);
    else if (f->detail)
        snprintf(buf, len, "%s (%s)", what, f->detail);
    else
        snprintf(buf, len, "%s", what);
}

xmlNode *
ctl_response_instance_node(const struct ctl_response *resp)
{
    xmlNode *env, *body;

    if (!resp || !resp->doc || resp->kind != CTL_RESPONSE_INSTANCE)
        return NULL;
    env = xmlDocGetRootElement(resp->doc);
    body = node_child(env, WSMAN_NS_SOAP, "Body");
    return body ? node_first_element(body->children) : NULL;
}

int
ctl_envelope_set_property(xmlNode *instance, const char *name, const char *value)
{
    xmlNode *hit = NULL;
    xmlAttr *nil;

    if (!instance || !name || !*name || !value)
        return -EINVAL;
    for (xmlNode *c = instance->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || strcmp((const char *)c->name, name) != 0)
            continue;
        if (hit)
            return -EINVAL;
        hit = c;
    }
    if (!hit) {
        hit = xmlNewChild(instance, instance->ns, X(name), NULL);
        if (!hit)
            return -ENOMEM;
    } else if (node_has_element_children(hit)) {
        return -EINVAL;
    }
    nil = xmlHasNsProp(hit, X("nil"), X(WSMAN_NS_XSI));
    if (nil)
        xmlRemoveProp(nil);
    /* Replace the children with one text node; xmlNodeAddContent does not interpret
     * entity references, so the value goes out escaped exactly once. */
    xmlNodeSetContent(hit, NULL);
    xmlNodeAddContent(hit, X(value));
    return 0;
}

const char *
ctl_instance_get(const struct ctl_instance *inst, const char *name)
{
    if (!inst)
        return NULL;
    for (size_t i = 0; i < inst->nprops; i++)
        if (strcmp(inst->props[i].name, name) == 0)
            return inst->props[i].value;
    /* WMI parity: names are case-insensitive */
    for (size_t i = 0; i < inst->nprops; i++)
        if (strcasecmp(inst->props[i].name, name) == 0)
            return inst->props[i].value;
    return NULL;
}

int
ctl_instance_get_u64(const struct ctl_instance *inst, const char *name, uint64_t *ret)
{
    const char *s = ctl_instance_get(inst, name);
    unsigned long long v;
    char *end;
    int base = 10;

    if (!s)
        return -ENOENT;
    if (!*s || *s == '-')
        return -EINVAL;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        base = 16;
    errno = 0;
    v = strtoull(s, &end, base);
    if (errno != 0 || *end != '\0')
        return -EINVAL;
    *ret = v;
    return 0;
}
