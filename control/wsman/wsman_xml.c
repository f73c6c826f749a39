/*
 * wsman_xml.c - libxml2 parsing, hardened for envelopes from the network: no network
 * access, no DTD at all (a DOCTYPE stops the parser before its internal subset, so no
 * entity is ever declared, let alone expanded: XXE and billion laughs are refused), a size
 * cap, and depth and node-count limits enforced while parsing through SAX hooks around the
 * tree builder. Helpers resolve names by namespace URI only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/SAX2.h>
#include <libxml/xmlsave.h>

#include "wsman.h"

struct xml_guard {
    const struct wsman_xml_limits *lim;
    unsigned depth;
    unsigned nodes;
    enum wsman_xml_error error;
};

static struct xml_guard *
xml_guard_of(void *ctx)
{
    xmlParserCtxtPtr pctx = ctx;

    return pctx->_private;
}

static void
xml_guard_stop(void *ctx, enum wsman_xml_error e)
{
    struct xml_guard *g = xml_guard_of(ctx);

    if (g->error == WSMAN_XML_OK)
        g->error = e;
    xmlStopParser((xmlParserCtxtPtr)ctx);
}

static void
xml_on_internal_subset(void *ctx, const xmlChar *name, const xmlChar *eid, const xmlChar *sid)
{
    (void)name;
    (void)eid;
    (void)sid;
    xml_guard_stop(ctx, WSMAN_XML_DOCTYPE);
}

static void
xml_on_entity_decl(void *ctx, const xmlChar *name, int type, const xmlChar *pid,
                   const xmlChar *sid, xmlChar *content)
{
    (void)name;
    (void)type;
    (void)pid;
    (void)sid;
    (void)content;
    xml_guard_stop(ctx, WSMAN_XML_DOCTYPE);
}

static void
xml_on_reference(void *ctx, const xmlChar *name)
{
    (void)name;
    /* Only predefined and character references are legal without a DTD; anything that
     * reaches here is an entity reference. */
    xml_guard_stop(ctx, WSMAN_XML_DOCTYPE);
}

static void
xml_on_start(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri,
             int nb_namespaces, const xmlChar **namespaces, int nb_attributes,
             int nb_defaulted, const xmlChar **attributes)
{
    struct xml_guard *g = xml_guard_of(ctx);

    g->depth++;
    g->nodes += 1 + (unsigned)(nb_attributes > 0 ? nb_attributes : 0) +
                (unsigned)(nb_namespaces > 0 ? nb_namespaces : 0);
    if (g->depth > g->lim->max_depth) {
        xml_guard_stop(ctx, WSMAN_XML_TOO_DEEP);
        return;
    }
    if (g->nodes > g->lim->max_nodes) {
        xml_guard_stop(ctx, WSMAN_XML_TOO_MANY_NODES);
        return;
    }
    xmlSAX2StartElementNs(ctx, localname, prefix, uri, nb_namespaces, namespaces,
                          nb_attributes, nb_defaulted, attributes);
}

static void
xml_on_end(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri)
{
    struct xml_guard *g = xml_guard_of(ctx);

    if (g->depth > 0)
        g->depth--;
    xmlSAX2EndElementNs(ctx, localname, prefix, uri);
}

static void
xml_on_characters(void *ctx, const xmlChar *ch, int len)
{
    struct xml_guard *g = xml_guard_of(ctx);

    if (++g->nodes > g->lim->max_nodes) {
        xml_guard_stop(ctx, WSMAN_XML_TOO_MANY_NODES);
        return;
    }
    xmlSAX2Characters(ctx, ch, len);
}

/* Swallow libxml2's error printing: envelopes from the network are not worth a log line
 * per parse error, the fault tells the peer. */
static void
xml_silent(void *ctx, const char *msg, ...)
{
    (void)ctx;
    (void)msg;
}

enum wsman_xml_error
wsman_xml_parse(const char *buf, size_t len, const struct wsman_xml_limits *lim,
                xmlDocPtr *ret_doc)
{
    struct xml_guard g = {.lim = lim};
    xmlParserCtxtPtr pctx;
    xmlDocPtr doc;
    int opts = XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOCDATA | XML_PARSE_NOERROR |
               XML_PARSE_NOWARNING;

    if (len > lim->max_bytes || len > (size_t)INT32_MAX)
        return WSMAN_XML_TOO_BIG;
    if (len == 0 || !buf)
        return WSMAN_XML_MALFORMED;
    pctx = xmlNewParserCtxt();
    if (!pctx)
        return WSMAN_XML_NOMEM;
    pctx->_private = &g;
    pctx->sax->internalSubset = xml_on_internal_subset;
    pctx->sax->externalSubset = xml_on_internal_subset;
    pctx->sax->entityDecl = xml_on_entity_decl;
    pctx->sax->reference = xml_on_reference;
    pctx->sax->startElementNs = xml_on_start;
    pctx->sax->endElementNs = xml_on_end;
    pctx->sax->characters = xml_on_characters;
    pctx->sax->error = xml_silent;
    pctx->sax->warning = xml_silent;
    pctx->vctxt.error = xml_silent;
    pctx->vctxt.warning = xml_silent;

    doc = xmlCtxtReadMemory(pctx, buf, (int)len, NULL, NULL, opts);
    if (g.error == WSMAN_XML_OK && (!doc || !pctx->wellFormed))
        g.error = WSMAN_XML_MALFORMED;
    if (g.error == WSMAN_XML_OK && (doc->intSubset || doc->extSubset))
        g.error = WSMAN_XML_DOCTYPE;
    if (g.error == WSMAN_XML_OK && !xmlDocGetRootElement(doc))
        g.error = WSMAN_XML_MALFORMED;
    pctx->_private = NULL;
    xmlFreeParserCtxt(pctx);
    if (g.error != WSMAN_XML_OK) {
        if (doc)
            xmlFreeDoc(doc);
        return g.error;
    }
    *ret_doc = doc;
    return WSMAN_XML_OK;
}

bool
wsman_xml_is(const xmlNode *node, const char *ns, const char *local)
{
    if (!node || node->type != XML_ELEMENT_NODE)
        return false;
    if (local && strcmp((const char *)node->name, local) != 0)
        return false;
    if (!ns)
        return true;
    return node->ns && node->ns->href && strcmp((const char *)node->ns->href, ns) == 0;
}

xmlNodePtr
wsman_xml_next_element(const xmlNode *node)
{
    for (xmlNodePtr n = node ? node->next : NULL; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE)
            return n;
    return NULL;
}

xmlNodePtr
wsman_xml_child(const xmlNode *node, const char *ns, const char *local)
{
    if (!node)
        return NULL;
    for (xmlNodePtr n = node->children; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE && wsman_xml_is(n, ns, local))
            return n;
    return NULL;
}

bool
wsman_xml_has_element_child(const xmlNode *node)
{
    return wsman_xml_child(node, NULL, NULL) != NULL;
}

static bool
xml_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

char *
wsman_xml_text(const xmlNode *node)
{
    xmlChar *c;
    char *out;
    size_t b = 0, e;

    if (!node)
        return NULL;
    c = xmlNodeGetContent(node);
    if (!c)
        return strdup("");
    e = strlen((const char *)c);
    while (b < e && xml_is_space((char)c[b]))
        b++;
    while (e > b && xml_is_space((char)c[e - 1]))
        e--;
    out = strndup((const char *)c + b, e - b);
    xmlFree(c);
    return out;
}

bool
wsman_xml_attr_true(const xmlNode *node, const char *ns, const char *name)
{
    xmlChar *v;
    bool t;

    if (!node || node->type != XML_ELEMENT_NODE)
        return false;
    v = ns ? xmlGetNsProp(node, (const xmlChar *)name, (const xmlChar *)ns)
           : xmlGetNoNsProp(node, (const xmlChar *)name);
    if (!v)
        return false;
    t = strcmp((const char *)v, "true") == 0 || strcmp((const char *)v, "1") == 0;
    xmlFree(v);
    return t;
}

int
wsman_xml_dump(xmlDocPtr doc, char **ret_buf, size_t *ret_len)
{
    xmlChar *mem = NULL;
    int size = 0;
    char *buf;

    xmlDocDumpMemoryEnc(doc, &mem, &size, "UTF-8");
    if (!mem || size <= 0) {
        xmlFree(mem);
        return -ENOMEM;
    }
    buf = malloc((size_t)size + 1);
    if (!buf) {
        xmlFree(mem);
        return -ENOMEM;
    }
    memcpy(buf, mem, (size_t)size);
    buf[size] = '\0';
    xmlFree(mem);
    *ret_buf = buf;
    *ret_len = (size_t)size;
    return 0;
}
