/*
 * wsman_envelope.c - SOAP 1.2 envelopes of WS-Management: reading the request headers by
 * namespace URI (any prefixes, default namespaces), and building responses with libxml2's
 * tree API (DMTF DSP0226, W3C SOAP 1.2).
 *
 * Header rules: wsa:To is read but never compared with our own URL (pywinrm hard-codes
 * one); MessageID is opaque and echoed verbatim in RelatesTo; Locale and DataLocale are
 * ignored unless s:mustUnderstand="true" (-> w:UnsupportedFeature/Locale); options are
 * ignored, one marked MustComply="true" -> w:UnsupportedFeature/OptionSet; a non-anonymous
 * FaultTo -> w:UnsupportedFeature/AddressingMode; any header we do not know carrying
 * s:mustUnderstand="true" -> s:MustUnderstand. Only the SOAP-namespace attribute counts:
 * pywinrm's unqualified mustUnderstand="true" is an ordinary attribute.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wsman.h"
#include "wsman_parse.h"

int64_t
wsman_request_elapsed_ms(const struct wsman_request *req)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)(now.tv_sec - req->start.tv_sec) * 1000 +
           (now.tv_nsec - req->start.tv_nsec) / 1000000;
}

/* One number of a duration: digits, optionally a fraction (seconds only). Returns the
 * value scaled by 1000 (milli-units) and advances *p; -EINVAL. */
static int
duration_number(const char **p, bool allow_fraction, int64_t *ret_milli)
{
    const char *s = *p;
    int64_t whole = 0, frac = 0, scale = 100;
    bool digits = false;

    while (*s >= '0' && *s <= '9') {
        if (whole > (INT64_MAX / 10000) - 10)
            return -EINVAL;
        whole = whole * 10 + (*s - '0');
        s++;
        digits = true;
    }
    if (*s == '.') {
        if (!allow_fraction)
            return -EINVAL;
        s++;
        bool fdigits = false;
        while (*s >= '0' && *s <= '9') {
            frac += (*s - '0') * scale;
            scale /= 10;
            s++;
            fdigits = true;
        }
        if (!fdigits)
            return -EINVAL;
        digits = true;
    }
    if (!digits)
        return -EINVAL;
    *p = s;
    *ret_milli = whole * 1000 + frac;
    return 0;
}

int
wsman_duration_parse(const char *s, int64_t *ret_ms)
{
    static const struct {
        char unit;
        int64_t ms;
    } date_units[] = {{'Y', 365LL * 86400000}, {'M', 30LL * 86400000}, {'D', 86400000}},
      time_units[] = {{'H', 3600000}, {'M', 60000}, {'S', 1000}};
    int64_t total = 0, v;
    size_t di = 0, ti = 0;
    bool any = false;

    if (!s || *s != 'P')
        return -EINVAL;
    s++;
    while (*s && *s != 'T') {
        if (duration_number(&s, false, &v) < 0)
            return -EINVAL;
        while (di < 3 && date_units[di].unit != *s)
            di++;
        if (di == 3)
            return -EINVAL;
        if (v / 1000 > INT64_MAX / date_units[di].ms)
            return -EINVAL;
        total += v / 1000 * date_units[di].ms;
        di++;
        s++;
        any = true;
    }
    if (*s == 'T') {
        bool tany = false;

        s++;
        while (*s) {
            if (duration_number(&s, true, &v) < 0)
                return -EINVAL;
            while (ti < 3 && time_units[ti].unit != *s)
                ti++;
            if (ti == 3)
                return -EINVAL;
            if (time_units[ti].unit != 'S' && v % 1000 != 0)
                return -EINVAL;
            if (v > INT64_MAX / time_units[ti].ms)
                return -EINVAL;
            total += v * time_units[ti].ms / 1000;
            if (total < 0)
                return -EINVAL;
            ti++;
            s++;
            tany = true;
        }
        if (!tany)
            return -EINVAL;
        any = true;
    }
    if (!any || *s)
        return -EINVAL;
    *ret_ms = total;
    return 0;
}

void
wsman_request_done(struct wsman_request *req)
{
    if (req->doc)
        xmlFreeDoc(req->doc);
    free(req->action);
    free(req->to);
    free(req->resource_uri);
    free(req->message_id);
    for (size_t i = 0; i < req->nselectors; i++) {
        free(req->selectors[i].name);
        free(req->selectors[i].value);
    }
    memset(req, 0, sizeof(*req));
}

static bool
header_mu(const xmlNode *n)
{
    return wsman_xml_attr_true(n, WSMAN_NS_SOAP, "mustUnderstand");
}

static int
header_selectors(struct wsman_request *req, xmlNodePtr set, struct wsman_fault *f)
{
    for (xmlNodePtr n = wsman_xml_child(set, NULL, NULL); n; n = wsman_xml_next_element(n)) {
        struct wsman_selector *sel;
        xmlChar *name;

        if (!wsman_xml_is(n, WSMAN_NS_WSMAN, "Selector"))
            return wsman_fault_set(f, WSMAN_FAULT_INVALID_SELECTORS, "InvalidValue",
                                   "Unexpected element '%s' in the SelectorSet.",
                                   (const char *)n->name);
        if (req->nselectors >= WSMAN_MAX_SELECTORS)
            return wsman_fault_set(f, WSMAN_FAULT_ENCODING_LIMIT, "SelectorLimit",
                                   "Too many selectors (at most %d).", WSMAN_MAX_SELECTORS);
        name = xmlGetNoNsProp(n, (const xmlChar *)"Name");
        if (!name)
            return wsman_fault_set(f, WSMAN_FAULT_INVALID_SELECTORS, "InvalidValue",
                                   "A Selector has no Name attribute.");
        for (size_t i = 0; i < req->nselectors; i++) {
            if (strcasecmp(req->selectors[i].name, (const char *)name) == 0) {
                wsman_fault_set(f, WSMAN_FAULT_INVALID_SELECTORS, "DuplicateSelectors",
                                "The selector '%.64s' is given twice.", (const char *)name);
                xmlFree(name);
                return -EINVAL;
            }
        }
        sel = &req->selectors[req->nselectors];
        sel->name = strdup((const char *)name);
        xmlFree(name);
        sel->value = wsman_xml_has_element_child(n) ? NULL : wsman_xml_text(n);
        req->nselectors++;
        if (!sel->name)
            return wsman_fault_oom(f);
    }
    return 0;
}

/* Read one known header into req; returns 1 when the header was not one of ours. */
static int
header_one(struct wsman_request *req, xmlNodePtr n, struct wsman_fault *f)
{
    if (wsman_xml_is(n, WSMAN_NS_ADDRESSING, NULL)) {
        const char *l = (const char *)n->name;

        if (strcmp(l, "Action") == 0) {
            free(req->action);
            req->action = wsman_xml_text(n);
        } else if (strcmp(l, "To") == 0) {
            free(req->to);
            req->to = wsman_xml_text(n);
        } else if (strcmp(l, "MessageID") == 0) {
            free(req->message_id);
            req->message_id = wsman_xml_text(n);
            req->has_message_id = req->message_id != NULL;
        } else if (strcmp(l, "ReplyTo") == 0) {
            /* the reply goes back on this connection whatever the address */
        } else if (strcmp(l, "FaultTo") == 0) {
            char *addr = wsman_xml_text(wsman_xml_child(n, WSMAN_NS_ADDRESSING, "Address"));
            bool anon = addr && strcmp(addr, WSMAN_ADDRESS_ANONYMOUS) == 0;

            free(addr);
            if (!anon)
                return wsman_fault_set(f, WSMAN_FAULT_UNSUPPORTED_FEATURE, "AddressingMode",
                                       "Only the anonymous FaultTo address is supported.");
        } else {
            return 1;
        }
        return 0;
    }
    if (wsman_xml_is(n, WSMAN_NS_WSMAN, NULL)) {
        const char *l = (const char *)n->name;

        if (strcmp(l, "ResourceURI") == 0) {
            free(req->resource_uri);
            req->resource_uri = wsman_xml_text(n);
        } else if (strcmp(l, "SelectorSet") == 0) {
            return header_selectors(req, n, f);
        } else if (strcmp(l, "OptionSet") == 0) {
            /* Options only tune behaviour (WINRS_CODEPAGE, ShowExtensions, ...): none is
             * honoured, so one the client marks MustComply="true" cannot be obeyed. The
             * OptionSet header itself is understood, whatever its mustUnderstand. */
            for (xmlNodePtr o = wsman_xml_child(n, WSMAN_NS_WSMAN, "Option"); o;
                 o = wsman_xml_next_element(o))
                if (wsman_xml_attr_true(o, NULL, "MustComply"))
                    return wsman_fault_set(f, WSMAN_FAULT_UNSUPPORTED_FEATURE, "OptionSet",
                                           "Options marked MustComply are not supported.");
        } else if (strcmp(l, "MaxEnvelopeSize") == 0) {
            char *t = wsman_xml_text(n);
            uint64_t v;
            int r = wsman_parse_uint(t, UINT32_MAX, &v);

            free(t);
            if (r < 0)
                return wsman_fault_set(f, WSMAN_FAULT_INVALID_MESSAGE_INFORMATION_HEADER,
                                       "MaxEnvelopeSize", "MaxEnvelopeSize is not a number.");
            if (v < WSMAN_MIN_ENVELOPE)
                return wsman_fault_set(f, WSMAN_FAULT_ENCODING_LIMIT, "MinimumEnvelopeLimit",
                                       "MaxEnvelopeSize %llu is below the minimum of %d.",
                                       (unsigned long long)v, WSMAN_MIN_ENVELOPE);
            req->max_envelope = v;
        } else if (strcmp(l, "OperationTimeout") == 0) {
            char *t = wsman_xml_text(n);
            int r = wsman_duration_parse(t, &req->timeout_ms);

            free(t);
            if (r < 0)
                return wsman_fault_set(f, WSMAN_FAULT_INVALID_MESSAGE_INFORMATION_HEADER,
                                       "OperationTimeout",
                                       "OperationTimeout is not a valid xs:duration.");
        } else if (strcmp(l, "Locale") == 0) {
            if (header_mu(n))
                return wsman_fault_set(f, WSMAN_FAULT_UNSUPPORTED_FEATURE, "Locale",
                                       "Locale is not supported.");
        } else if (strcmp(l, "FragmentTransfer") == 0) {
            if (header_mu(n))
                return wsman_fault_set(f, WSMAN_FAULT_UNSUPPORTED_FEATURE,
                                       "FragmentLevelAccess",
                                       "Fragment-level access is not supported.");
        } else if (strcmp(l, "RequestTotalItemsCountEstimate") == 0) {
            req->total_estimate = true;
        } else {
            return 1;
        }
        return 0;
    }
    if (wsman_xml_is(n, WSMAN_NS_MSWSMAN, "DataLocale") ||
        wsman_xml_is(n, WSMAN_NS_MSWSMAN, "Locale")) {
        if (header_mu(n))
            return wsman_fault_set(f, WSMAN_FAULT_UNSUPPORTED_FEATURE, "Locale",
                                   "Locale is not supported.");
        return 0;
    }
    return 1;
}

int
wsman_envelope_parse(xmlDocPtr doc, struct wsman_request *req, struct wsman_fault *f)
{
    xmlNodePtr env = xmlDocGetRootElement(doc);
    xmlNodePtr first;

    req->doc = doc;
    req->timeout_ms = -1;
    if (!wsman_xml_is(env, WSMAN_NS_SOAP, "Envelope"))
        return wsman_fault_set(f, WSMAN_FAULT_SCHEMA_VALIDATION_ERROR, NULL,
                               "The root element is not a SOAP 1.2 Envelope.");
    for (xmlNodePtr n = wsman_xml_child(env, NULL, NULL); n; n = wsman_xml_next_element(n)) {
        if (wsman_xml_is(n, WSMAN_NS_SOAP, "Header") && !req->header && !req->body)
            req->header = n;
        else if (wsman_xml_is(n, WSMAN_NS_SOAP, "Body") && !req->body)
            req->body = n;
        else
            return wsman_fault_set(f, WSMAN_FAULT_SCHEMA_VALIDATION_ERROR, NULL,
                                   "Unexpected element '%.64s' in the Envelope.",
                                   (const char *)n->name);
    }
    if (!req->body)
        return wsman_fault_set(f, WSMAN_FAULT_SCHEMA_VALIDATION_ERROR, NULL,
                               "The Envelope has no Body.");
    first = wsman_xml_child(req->body, NULL, NULL);
    req->identify = wsman_xml_is(first, WSMAN_NS_IDENTITY, "Identify");

    /* First pass: read every known header, so RelatesTo can echo the MessageID even when a
     * later check faults. */
    struct wsman_fault pending = {0};
    for (xmlNodePtr n = wsman_xml_child(req->header, NULL, NULL); n;
         n = wsman_xml_next_element(n)) {
        struct wsman_fault hf;
        int r = header_one(req, n, &hf);

        if (r == 1 && header_mu(n) && pending.code == WSMAN_FAULT_NONE) {
            wsman_fault_set(&pending, WSMAN_FAULT_MUST_UNDERSTAND, NULL,
                            "The header '%.64s' is not understood.", (const char *)n->name);
            snprintf(pending.nu_ns, sizeof(pending.nu_ns), "%s",
                     n->ns && n->ns->href ? (const char *)n->ns->href : "");
            snprintf(pending.nu_local, sizeof(pending.nu_local), "%s", (const char *)n->name);
        } else if (r < 0 && pending.code == WSMAN_FAULT_NONE) {
            pending = hf;
        }
    }
    if (pending.code != WSMAN_FAULT_NONE) {
        *f = pending;
        return -EINVAL;
    }
    if (req->identify)
        return 0;
    if (!req->action || !req->action[0])
        return wsman_fault_set(f, WSMAN_FAULT_MESSAGE_INFORMATION_HEADER_REQUIRED, NULL,
                               "The wsa:Action header is missing.");
    if (!req->has_message_id)
        return wsman_fault_set(f, WSMAN_FAULT_MESSAGE_INFORMATION_HEADER_REQUIRED, NULL,
                               "The wsa:MessageID header is missing.");
    if (!req->resource_uri || !req->resource_uri[0])
        return wsman_fault_set(f, WSMAN_FAULT_MESSAGE_INFORMATION_HEADER_REQUIRED, NULL,
                               "The wsman:ResourceURI header is missing.");
    return 0;
}

/* ---- responses ---- */

static xmlNodePtr
resp_text(xmlNodePtr parent, xmlNsPtr ns, const char *name, const char *text)
{
    return xmlNewTextChild(parent, ns, (const xmlChar *)name, (const xmlChar *)text);
}

int
wsman_response_new(const struct wsman_request *req, const char *action,
                   const char *class_uri, struct wsman_response *ret)
{
    struct wsman_response r = {0};
    xmlNodePtr env, hdr;

    r.doc = xmlNewDoc((const xmlChar *)"1.0");
    if (!r.doc)
        return -ENOMEM;
    env = xmlNewNode(NULL, (const xmlChar *)"Envelope");
    if (!env) {
        xmlFreeDoc(r.doc);
        return -ENOMEM;
    }
    xmlDocSetRootElement(r.doc, env);
    r.ns_s = xmlNewNs(env, (const xmlChar *)WSMAN_NS_SOAP, (const xmlChar *)"s");
    xmlSetNs(env, r.ns_s);
    if (action) {
        r.ns_a = xmlNewNs(env, (const xmlChar *)WSMAN_NS_ADDRESSING, (const xmlChar *)"wsa");
        r.ns_w = xmlNewNs(env, (const xmlChar *)WSMAN_NS_WSMAN, (const xmlChar *)"wsman");
        r.ns_n = xmlNewNs(env, (const xmlChar *)WSMAN_NS_ENUMERATION,
                          (const xmlChar *)"wsen");
        r.ns_x = xmlNewNs(env, (const xmlChar *)WSMAN_NS_TRANSFER, (const xmlChar *)"wxf");
    }
    if (class_uri)
        r.ns_p = xmlNewNs(env, (const xmlChar *)class_uri, (const xmlChar *)"p");
    hdr = xmlNewChild(env, r.ns_s, (const xmlChar *)"Header", NULL);
    if (action) {
        char uuid[64], guid[FERRY_GUID_STRLEN];

        ferry_guid_new(guid);
        for (char *c = guid; *c; c++)
            if (*c >= 'A' && *c <= 'F')
                *c = (char)(*c - 'A' + 'a');
        snprintf(uuid, sizeof(uuid), "uuid:%.36s", guid + 1);
        resp_text(hdr, r.ns_a, "To", WSMAN_ADDRESS_ANONYMOUS);
        resp_text(hdr, r.ns_a, "Action", action);
        resp_text(hdr, r.ns_a, "MessageID", uuid);
        if (req && req->message_id)
            resp_text(hdr, r.ns_a, "RelatesTo", req->message_id);
    }
    r.body = xmlNewChild(env, r.ns_s, (const xmlChar *)"Body", NULL);
    if (!hdr || !r.body) {
        xmlFreeDoc(r.doc);
        return -ENOMEM;
    }
    *ret = r;
    return 0;
}

/*
 * Free a reply's body and zero it; safe on a zeroed or already freed reply. Replies are
 * filled here (wsman_response_finish) and by wsman_fault_reply.
 */
void
wsman_reply_done(struct wsman_reply *reply)
{
    free(reply->body);
    memset(reply, 0, sizeof(*reply));
}

void
wsman_response_done(struct wsman_response *resp)
{
    if (resp->doc)
        xmlFreeDoc(resp->doc);
    memset(resp, 0, sizeof(*resp));
}

int
wsman_response_finish(struct wsman_response *resp, const struct wsman_request *req,
                      size_t hard_cap, struct wsman_reply *out)
{
    char *buf;
    size_t len;
    int r = wsman_xml_dump(resp->doc, &buf, &len);

    if (r < 0)
        return r;
    if ((req && req->max_envelope && len > req->max_envelope) || (hard_cap && len > hard_cap)) {
        free(buf);
        return -E2BIG;
    }
    out->body = buf;
    out->len = len;
    out->http_status = 200;
    return 0;
}

xmlNodePtr
wsman_response_epr(struct wsman_response *resp, xmlNodePtr parent, const char *class_uri,
                   const char *const *keys, const char *const *values, size_t n)
{
    xmlNodePtr epr, refp, set;

    epr = xmlNewChild(parent, resp->ns_a, (const xmlChar *)"EndpointReference", NULL);
    if (!epr)
        return NULL;
    resp_text(epr, resp->ns_a, "Address", WSMAN_ADDRESS_ANONYMOUS);
    refp = xmlNewChild(epr, resp->ns_a, (const xmlChar *)"ReferenceParameters", NULL);
    if (!refp)
        return NULL;
    resp_text(refp, resp->ns_w, "ResourceURI", class_uri);
    set = xmlNewChild(refp, resp->ns_w, (const xmlChar *)"SelectorSet", NULL);
    if (!set)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        xmlNodePtr s = resp_text(set, resp->ns_w, "Selector", values[i]);

        if (!s)
            return NULL;
        xmlNewProp(s, (const xmlChar *)"Name", (const xmlChar *)keys[i]);
    }
    return epr;
}
