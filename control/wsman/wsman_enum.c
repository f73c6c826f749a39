/*
 * wsman_enum.c - WS-Enumeration: Enumerate, Pull, Release and the store of enumeration
 * contexts (DMTF DSP0226 WS-Management, WS-Enumeration; docs/DESIGN.md §4).
 *
 * Enumerate snapshots the instance keys of the class; items are serialized at Pull time
 * (instances that vanished meanwhile are skipped). Contexts are bound to the user that
 * opened them (another user: w:AccessDenied), expire --wsman-enum-ttl seconds after their
 * last use, and are capped at --wsman-max-enums (w:QuotaLimit beyond). The final response of
 * an enumeration carries EndOfSequence and no context (an empty one in an optimized
 * EnumerateResponse, as openwsman does) and frees it; a later Pull or Release on it is
 * wsen:InvalidEnumerationContext. Items are added while the response stays within the
 * request's MaxEnvelopeSize and the service cap: fewer items then, or w:EncodingLimit when
 * not even one fits.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libxml/tree.h>

#include "wsman.h"
#include "wsman_config.h"
#include "wsman_parse.h"
#include "wsman_wql.h"

#define ENUM_MAX_ELEMENTS 32000
#define ENUM_ENVELOPE_SLACK 256

enum enum_mode { MODE_OBJECT = 0, MODE_EPR, MODE_OBJECT_AND_EPR };

struct wsman_enum {
    char id[48];
    char user[72];
    const struct wsman_class *cls;
    enum enum_mode mode;
    char **keys;             /* n * nk strings */
    size_t nk, n, pos;
    struct wsman_wql *filter; /* a WQL Filter: instances that do not match are skipped */
    int64_t expires;         /* store clock, s */
    struct wsman_enum *next;
};

struct wsman_enum_store {
    pthread_mutex_t lock;
    struct wsman_enum *head;
    size_t count;
    unsigned max;
    unsigned ttl;
    int64_t skew;            /* tests: seconds added to the clock */
};

static void
enum_free(struct wsman_enum *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->n * e->nk; i++)
        free(e->keys[i]);
    free(e->keys);
    wsman_wql_free(e->filter);
    free(e);
}

/*
 * A wsman:Filter (or wsen:Filter) of an Enumerate: the WQL dialect only (what PowerShell's
 * -Filter and CIM queries send), selecting from this class. Other dialects (XPath is the
 * default when Dialect is absent) are w:UnsupportedFeature; a query that does not parse or
 * names another class is wsen:CannotProcessFilter.
 */
static int
enum_parse_filter(const struct wsman_class *cls, xmlNodePtr n, struct wsman_wql **ret,
                  struct wsman_fault *f)
{
    xmlChar *dialect = xmlGetProp(n, (const xmlChar *)"Dialect");
    char err[160], *text = NULL;
    struct wsman_wql *q = NULL;
    int r;

    if (!dialect || strcasecmp((const char *)dialect, WSMAN_WQL_DIALECT) != 0) {
        r = wsman_fault_set(f, WSMAN_FAULT_UNSUPPORTED_FEATURE,
                            "FilterDialectRequestedUnavailable",
                            "Only the WQL filter dialect (%s) is supported.",
                            WSMAN_WQL_DIALECT);
        goto out;
    }
    if (*ret) {
        r = wsman_fault_set(f, WSMAN_FAULT_CANNOT_PROCESS_FILTER, NULL,
                            "An Enumerate carries at most one Filter.");
        goto out;
    }
    text = wsman_xml_text(n);
    if (!text) {
        r = wsman_fault_oom(f);
        goto out;
    }
    r = wsman_wql_parse(text, &q, err, sizeof(err));
    if (r == -ENOMEM) {
        r = wsman_fault_oom(f);
        goto out;
    }
    if (r < 0) {
        r = wsman_fault_set(f, WSMAN_FAULT_CANNOT_PROCESS_FILTER, NULL,
                            "The WQL filter cannot be processed: %s.", err);
        goto out;
    }
    if (strcasecmp(wsman_wql_class(q), cls->name) != 0) {
        r = wsman_fault_set(f, WSMAN_FAULT_CANNOT_PROCESS_FILTER, NULL,
                            "The WQL filter selects from '%.64s', not from %s.",
                            wsman_wql_class(q), cls->name);
        q = wsman_wql_free(q);
        goto out;
    }
    *ret = q;
    r = 0;
out:
    xmlFree(dialect);
    free(text);
    return r;
}

/* With a filter, EPR mode: does the instance of kv match? Written into a scratch element
 * that is freed again. 1 match, 0 no, -1 the write failed (st filled). */
static int
enum_epr_matches(struct wsman_ctx *ctx, struct wsman_enum *e, const char *const *kv,
                 struct wsman_response *resp, struct ferry_status *st)
{
    xmlNodePtr scratch = xmlNewDocNode(resp->doc, NULL, (const xmlChar *)"scratch", NULL);
    int r;

    if (!scratch) {
        ferry_status_oom(st, -ENOMEM);
        return -1;
    }
    r = e->cls->write(ctx, kv, resp, scratch, st) < 0 ? -1
        : wsman_wql_match(e->filter, scratch->children) ? 1 : 0;
    xmlFreeNode(scratch);
    return r;
}

static int64_t
store_now(struct wsman_enum_store *s)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec + s->skew;
}

struct wsman_enum_store *
wsman_enum_store_new(unsigned max, unsigned ttl_s)
{
    struct wsman_enum_store *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    pthread_mutex_init(&s->lock, NULL);
    s->max = max ? max : 1;
    s->ttl = ttl_s ? ttl_s : 1;
    return s;
}

struct wsman_enum_store *
wsman_enum_store_free(struct wsman_enum_store *s)
{
    if (!s)
        return NULL;
    while (s->head) {
        struct wsman_enum *e = s->head;
        s->head = e->next;
        enum_free(e);
    }
    pthread_mutex_destroy(&s->lock);
    free(s);
    return NULL;
}

/* Locked. */
static void
store_purge(struct wsman_enum_store *s)
{
    int64_t now = store_now(s);

    for (struct wsman_enum **pp = &s->head; *pp;) {
        if ((*pp)->expires <= now) {
            struct wsman_enum *e = *pp;
            *pp = e->next;
            enum_free(e);
            s->count--;
        } else {
            pp = &(*pp)->next;
        }
    }
}

size_t
wsman_enum_store_count(struct wsman_enum_store *s)
{
    size_t n;

    pthread_mutex_lock(&s->lock);
    store_purge(s);
    n = s->count;
    pthread_mutex_unlock(&s->lock);
    return n;
}

void
wsman_enum_store_age(struct wsman_enum_store *s, unsigned seconds)
{
    pthread_mutex_lock(&s->lock);
    s->skew += seconds;
    pthread_mutex_unlock(&s->lock);
}

static int
store_put(struct wsman_enum_store *s, struct wsman_enum *e)
{
    pthread_mutex_lock(&s->lock);
    store_purge(s);
    if (s->count >= s->max) {
        pthread_mutex_unlock(&s->lock);
        return -EBUSY;
    }
    e->expires = store_now(s) + s->ttl;
    e->next = s->head;
    s->head = e;
    s->count++;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

/* Take a context out of the store (the caller owns it until it puts it back). -ENOENT when
 * unknown or expired, -EACCES (left in place) when another user owns it. */
static int
store_take(struct wsman_enum_store *s, const char *id, const char *user,
           struct wsman_enum **ret)
{
    pthread_mutex_lock(&s->lock);
    store_purge(s);
    for (struct wsman_enum **pp = &s->head; *pp; pp = &(*pp)->next) {
        struct wsman_enum *e = *pp;

        if (strcmp(e->id, id) != 0)
            continue;
        if (strcmp(e->user, user ? user : "") != 0) {
            pthread_mutex_unlock(&s->lock);
            return -EACCES;
        }
        *pp = e->next;
        s->count--;
        pthread_mutex_unlock(&s->lock);
        e->next = NULL;
        *ret = e;
        return 0;
    }
    pthread_mutex_unlock(&s->lock);
    return -ENOENT;
}

/* Serialized size of node, dumped into buf (emptied first, reused across items so that a
 * page does not allocate and free a buffer per item); SIZE_MAX on failure. */
static size_t
node_size(xmlBufferPtr buf, xmlDocPtr doc, xmlNodePtr node)
{
    if (!buf)
        return SIZE_MAX;
    xmlBufferEmpty(buf);
    if (xmlNodeDump(buf, doc, node, 0, 0) < 0)
        return SIZE_MAX;
    return (size_t)xmlBufferLength(buf);
}

static size_t
envelope_budget(struct wsman_ctx *ctx, const struct wsman_request *req,
                struct wsman_response *resp, xmlBufferPtr buf)
{
    size_t cap = ctx->wcfg->max_envelope;
    size_t base = node_size(buf, resp->doc, xmlDocGetRootElement(resp->doc));

    if (base == SIZE_MAX)
        return 0;
    base += ENUM_ENVELOPE_SLACK;
    if (req->max_envelope && (cap == 0 || req->max_envelope < cap))
        cap = req->max_envelope;
    if (cap == 0)
        return SIZE_MAX;
    return cap > base ? cap - base : 0;
}

/* Serialize items from e->pos into `items` (at most max). Stops early at the envelope
 * budget or close to the OperationTimeout. Faults w:EncodingLimit when not even one item
 * fits. */
static int
enum_write_items(struct wsman_ctx *ctx, struct wsman_enum *e, const struct wsman_request *req,
                 struct wsman_response *resp, xmlNodePtr items, size_t max,
                 struct wsman_fault *f)
{
    xmlBufferPtr buf = xmlBufferCreate();
    size_t budget = envelope_budget(ctx, req, resp, buf), used = 0, count = 0;
    int r = 0;

    while (e->pos < e->n && count < max) {
        const char *const *kv = (const char *const *)&e->keys[e->pos * e->nk];
        struct ferry_status st;
        xmlNodePtr item = NULL, holder = items;
        size_t sz;

        ferry_status_clear(&st);
        if (e->mode == MODE_OBJECT_AND_EPR) {
            item = xmlNewChild(items, resp->ns_w, (const xmlChar *)"Item", NULL);
            holder = item;
        }
        if (e->mode != MODE_EPR) {
            xmlNodePtr last = holder->last;

            if (e->cls->write(ctx, kv, resp, holder, &st) < 0) {
                if (item) {
                    xmlUnlinkNode(item);
                    xmlFreeNode(item);
                }
                if (st.kind != FERRY_STATUS_NOT_FOUND) {
                    r = wsman_fault_from_status(f, &st);
                    goto cleanup;
                }
                e->pos++;   /* vanished since Enumerate */
                continue;
            }
            if (!item)
                item = last ? last->next : holder->children;
            if (e->filter &&
                !wsman_wql_match(e->filter, e->mode == MODE_OBJECT_AND_EPR
                                                ? item->children : item)) {
                xmlUnlinkNode(item);
                xmlFreeNode(item);
                e->pos++;   /* filtered out */
                continue;
            }
        } else if (e->filter) {
            int m = enum_epr_matches(ctx, e, kv, resp, &st);

            if (m < 0 && st.kind != FERRY_STATUS_NOT_FOUND) {
                r = wsman_fault_from_status(f, &st);
                goto cleanup;
            }
            if (m <= 0) {
                e->pos++;   /* vanished or filtered out */
                continue;
            }
        }
        if (e->mode != MODE_OBJECT) {
            xmlNodePtr epr = wsman_response_epr(resp, holder, e->cls->uri, e->cls->keys, kv,
                                                e->nk);
            if (!epr) {
                r = wsman_fault_oom(f);
                goto cleanup;
            }
            if (!item)
                item = epr;
        }
        sz = node_size(buf, resp->doc, item);
        if (sz == SIZE_MAX || used + sz > budget) {
            xmlUnlinkNode(item);
            xmlFreeNode(item);
            if (count == 0)
                r = wsman_fault_set(f, WSMAN_FAULT_ENCODING_LIMIT, "MaxEnvelopeSize",
                                    "Not even one item fits in MaxEnvelopeSize.");
            break;
        }
        used += sz;
        count++;
        e->pos++;
        if (req->timeout_ms > 0 && wsman_request_elapsed_ms(req) >= req->timeout_ms * 3 / 4)
            break;
    }
cleanup:
    if (buf)
        xmlBufferFree(buf);
    return r;
}

static int
enum_finish(struct wsman_ctx *ctx, struct wsman_response *resp, const struct wsman_request *req,
            struct wsman_fault *f, struct wsman_reply *out)
{
    int r = wsman_response_finish(resp, req, ctx->wcfg->max_envelope, out);

    if (r == -E2BIG)
        return wsman_fault_set(f, WSMAN_FAULT_ENCODING_LIMIT, "MaxEnvelopeSize",
                               "The response exceeds the MaxEnvelopeSize of the request.");
    if (r < 0)
        return wsman_fault_oom(f);
    return 0;
}

static void
enum_new_id(char id[48])
{
    char guid[FERRY_GUID_STRLEN];

    ferry_guid_new(guid);
    for (char *c = guid; *c; c++)
        if (*c >= 'A' && *c <= 'F')
            *c = (char)(*c - 'A' + 'a');
    snprintf(id, 48, "uuid:%.36s", guid + 1);
}

static int
parse_max_elements(xmlNodePtr n, size_t *ret, struct wsman_fault *f)
{
    char *t;
    uint64_t v;
    int r;

    if (!n)
        return 0;
    t = wsman_xml_text(n);
    r = wsman_parse_uint(t, UINT32_MAX, &v);
    free(t);
    if (r < 0 || v == 0)
        return wsman_fault_set(f, WSMAN_FAULT_SCHEMA_VALIDATION_ERROR, NULL,
                               "MaxElements must be a positive integer.");
    *ret = v > ENUM_MAX_ELEMENTS ? ENUM_MAX_ELEMENTS : (size_t)v;
    return 0;
}

int
wsman_enum_enumerate(struct wsman_ctx *ctx, const struct wsman_class *cls,
                     const struct wsman_request *req, const struct wsman_caller *caller,
                     struct wsman_fault *f, struct wsman_reply *out)
{
    const char *filter[WSMAN_MAX_KEYS] = {NULL};
    struct wsman_response resp = {0};
    struct wsman_enum *e = NULL;
    xmlNodePtr en, n, er, ctxnode;
    bool optimize = false;
    size_t max = 1, nk = wsman_class_nkeys(cls);
    int r = 0;

    en = wsman_xml_child(req->body, NULL, NULL);
    if (!wsman_xml_is(en, WSMAN_NS_ENUMERATION, "Enumerate"))
        return wsman_fault_set(f, WSMAN_FAULT_SCHEMA_VALIDATION_ERROR, NULL,
                               "The body of an Enumerate must be wsen:Enumerate.");
    e = calloc(1, sizeof(*e));
    if (!e)
        return wsman_fault_oom(f);
    for (n = wsman_xml_child(en, NULL, NULL); n; n = wsman_xml_next_element(n)) {
        if (wsman_xml_is(n, WSMAN_NS_WSMAN, "OptimizeEnumeration")) {
            optimize = true;
        } else if (wsman_xml_is(n, WSMAN_NS_WSMAN, "MaxElements")) {
            r = parse_max_elements(n, &max, f);
            if (r < 0)
                goto cleanup;
        } else if (wsman_xml_is(n, WSMAN_NS_WSMAN, "EnumerationMode")) {
            char *t = wsman_xml_text(n);

            if (t && strcmp(t, WSMAN_ENUM_MODE_EPR) == 0)
                e->mode = MODE_EPR;
            else if (t && strcmp(t, WSMAN_ENUM_MODE_OBJECT_AND_EPR) == 0)
                e->mode = MODE_OBJECT_AND_EPR;
            else
                r = wsman_fault_set(f, WSMAN_FAULT_UNSUPPORTED_FEATURE, "EnumerationMode",
                                    "The enumeration mode is not supported.");
            free(t);
            if (f->code != WSMAN_FAULT_NONE)
                goto cleanup;
        } else if (wsman_xml_is(n, WSMAN_NS_WSMAN, "Filter") ||
                   wsman_xml_is(n, WSMAN_NS_ENUMERATION, "Filter")) {
            r = enum_parse_filter(cls, n, &e->filter, f);
            if (r < 0)
                goto cleanup;
        } else if (wsman_xml_is(n, WSMAN_NS_ENUMERATION, "EndTo")) {
            r = wsman_fault_set(f, WSMAN_FAULT_UNSUPPORTED_FEATURE, "AddressingMode",
                                "EndTo is not supported.");
            goto cleanup;
        }
        /* wsen:Expires and unknown extensions: ignored; contexts use the service TTL */
    }

    /* selectors on Enumerate narrow the listing (BitsClientFile by JobId) */
    for (size_t i = 0; i < req->nselectors; i++) {
        const struct wsman_selector *sel = &req->selectors[i];
        size_t k;

        if (strcasecmp(sel->name, "__cimnamespace") == 0)
            continue;
        for (k = 0; k < nk; k++)
            if (strcasecmp(cls->keys[k], sel->name) == 0)
                break;
        if (k == nk || !sel->value || (cls->check_key && cls->check_key(k, sel->value) < 0)) {
            r = wsman_fault_set(f, WSMAN_FAULT_INVALID_SELECTORS,
                                k == nk ? "UnexpectedSelectors" : "InvalidValue",
                                "The selector '%.64s' cannot narrow this enumeration.",
                                sel->name);
            goto cleanup;
        }
        filter[k] = sel->value;
    }

    r = cls->list(ctx, filter, &e->keys, &e->n);
    if (r < 0) {
        r = wsman_fault_set(f, WSMAN_FAULT_INTERNAL_ERROR, NULL,
                            "Listing %s instances failed.", cls->name);
        goto cleanup;
    }
    e->nk = nk;
    e->cls = cls;
    snprintf(e->user, sizeof(e->user), "%s", caller->user ? caller->user : "");
    enum_new_id(e->id);

    r = wsman_response_new(req, WSMAN_ACTION_ENUMERATE_RESPONSE, cls->uri, &resp);
    if (r < 0) {
        r = wsman_fault_oom(f);
        goto cleanup;
    }
    if (req->total_estimate) {
        char cnt[32];

        snprintf(cnt, sizeof(cnt), "%zu", e->n);
        xmlNewTextChild(xmlDocGetRootElement(resp.doc)->children, resp.ns_w,
                        (const xmlChar *)"TotalItemsCountEstimate", (const xmlChar *)cnt);
    }
    er = xmlNewChild(resp.body, resp.ns_n, (const xmlChar *)"EnumerateResponse", NULL);
    ctxnode = xmlNewChild(er, resp.ns_n, (const xmlChar *)"EnumerationContext", NULL);
    if (!er || !ctxnode) {
        r = wsman_fault_oom(f);
        goto cleanup;
    }
    if (optimize) {
        xmlNodePtr items = xmlNewChild(er, resp.ns_w, (const xmlChar *)"Items", NULL);

        r = enum_write_items(ctx, e, req, &resp, items, max, f);
        if (r < 0)
            goto cleanup;
        if (e->pos == e->n)
            xmlNewChild(er, resp.ns_w, (const xmlChar *)"EndOfSequence", NULL);
    }
    if (!optimize || e->pos < e->n) {
        xmlNodeSetContent(ctxnode, (const xmlChar *)e->id);
        r = enum_finish(ctx, &resp, req, f, out);
        if (r < 0)
            goto cleanup;
        r = store_put(ctx->enums, e);
        if (r < 0) {
            wsman_reply_done(out);
            r = wsman_fault_set(f, WSMAN_FAULT_QUOTA_LIMIT, NULL,
                                "Too many open enumerations (at most %u).",
                                ctx->wcfg->max_enums);
            goto cleanup;
        }
        e = NULL;   /* owned by the store */
    } else {
        r = enum_finish(ctx, &resp, req, f, out);
    }
cleanup:
    wsman_response_done(&resp);
    enum_free(e);
    return r < 0 ? -EINVAL : 0;
}

static char *
context_of(const struct wsman_request *req, const char *op, xmlNodePtr *ret_op,
           struct wsman_fault *f)
{
    xmlNodePtr body = wsman_xml_child(req->body, NULL, NULL);
    xmlNodePtr c;

    if (!wsman_xml_is(body, WSMAN_NS_ENUMERATION, op)) {
        wsman_fault_set(f, WSMAN_FAULT_SCHEMA_VALIDATION_ERROR, NULL,
                        "The body must be wsen:%s.", op);
        return NULL;
    }
    c = wsman_xml_child(body, WSMAN_NS_ENUMERATION, "EnumerationContext");
    if (!c) {
        wsman_fault_set(f, WSMAN_FAULT_INVALID_ENUMERATION_CONTEXT, NULL,
                        "The request carries no EnumerationContext.");
        return NULL;
    }
    *ret_op = body;
    return wsman_xml_text(c);
}

static int
take_or_fault(struct wsman_ctx *ctx, const struct wsman_class *cls, const char *id,
              const struct wsman_caller *caller, struct wsman_enum **ret,
              struct wsman_fault *f)
{
    int r = store_take(ctx->enums, id, caller->user, ret);

    if (r == -EACCES)
        return wsman_fault_set(f, WSMAN_FAULT_ACCESS_DENIED, NULL,
                               "The enumeration belongs to another user.");
    if (r < 0)
        return wsman_fault_set(f, WSMAN_FAULT_INVALID_ENUMERATION_CONTEXT, NULL,
                               "The enumeration context is unknown, expired or finished.");
    if ((*ret)->cls != cls) {
        /* wrong ResourceURI for this context: put it back untouched */
        if (store_put(ctx->enums, *ret) < 0)
            enum_free(*ret);
        *ret = NULL;
        return wsman_fault_set(f, WSMAN_FAULT_INVALID_ENUMERATION_CONTEXT, NULL,
                               "The enumeration context belongs to another resource.");
    }
    return 0;
}

int
wsman_enum_pull(struct wsman_ctx *ctx, const struct wsman_class *cls,
                const struct wsman_request *req, const struct wsman_caller *caller,
                struct wsman_fault *f, struct wsman_reply *out)
{
    struct wsman_response resp = {0};
    struct wsman_enum *e = NULL;
    xmlNodePtr pull = NULL, pr, items;
    size_t max = 1;
    char *id;
    int r;

    id = context_of(req, "Pull", &pull, f);
    if (!id)
        return -EINVAL;
    r = parse_max_elements(wsman_xml_child(pull, WSMAN_NS_ENUMERATION, "MaxElements"), &max, f);
    if (r < 0)
        goto cleanup;
    r = take_or_fault(ctx, cls, id, caller, &e, f);
    if (r < 0)
        goto cleanup;
    r = wsman_response_new(req, WSMAN_ACTION_PULL_RESPONSE, cls->uri, &resp);
    if (r < 0) {
        r = wsman_fault_oom(f);
        goto restore;
    }
    pr = xmlNewChild(resp.body, resp.ns_n, (const xmlChar *)"PullResponse", NULL);
    xmlNodePtr ctxnode = xmlNewChild(pr, resp.ns_n, (const xmlChar *)"EnumerationContext",
                                     (const xmlChar *)e->id);
    items = xmlNewChild(pr, resp.ns_n, (const xmlChar *)"Items", NULL);
    size_t pos0 = e->pos;
    r = enum_write_items(ctx, e, req, &resp, items, max, f);
    if (r < 0) {
        e->pos = pos0;
        goto restore;
    }
    if (e->pos == e->n) {
        xmlUnlinkNode(ctxnode);
        xmlFreeNode(ctxnode);
        xmlNewChild(pr, resp.ns_n, (const xmlChar *)"EndOfSequence", NULL);
    }
    r = enum_finish(ctx, &resp, req, f, out);
    if (r < 0) {
        e->pos = pos0;
        goto restore;
    }
    if (e->pos == e->n) {
        enum_free(e);   /* finished: the context is gone */
        e = NULL;
    }
restore:
    if (e && store_put(ctx->enums, e) < 0)
        enum_free(e);
cleanup:
    wsman_response_done(&resp);
    free(id);
    return r < 0 ? -EINVAL : 0;
}

int
wsman_enum_release(struct wsman_ctx *ctx, const struct wsman_class *cls,
                   const struct wsman_request *req, const struct wsman_caller *caller,
                   struct wsman_fault *f, struct wsman_reply *out)
{
    struct wsman_response resp = {0};
    struct wsman_enum *e = NULL;
    xmlNodePtr rel = NULL;
    char *id;
    int r;

    id = context_of(req, "Release", &rel, f);
    if (!id)
        return -EINVAL;
    r = take_or_fault(ctx, cls, id, caller, &e, f);
    free(id);
    if (r < 0)
        return r;
    enum_free(e);
    r = wsman_response_new(req, WSMAN_ACTION_RELEASE_RESPONSE, cls->uri, &resp);
    if (r < 0)
        return wsman_fault_oom(f);
    r = enum_finish(ctx, &resp, req, f, out);
    wsman_response_done(&resp);
    return r;
}
