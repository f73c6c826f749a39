/*
 * wsman_fault.c - the one place WS-Management faults are made (DMTF DSP0226, docs/DESIGN.md
 * §4): the SOAP Code, the Subcode QName (its prefix declared on the Envelope), the Reason with
 * xml:lang, the fault Action of the subcode's specification, w:FaultDetail, a WinRM-style
 * WSManFault message, and the HTTP status (Sender 400; Receiver and MustUnderstand 500, as
 * the SOAP 1.2 HTTP binding says). Engine statuses are translated here too:
 *   FERRY_STATUS_INVALID_PARAMETER -> w:InvalidParameter
 *   FERRY_STATUS_NOT_FOUND         -> w:InvalidSelectors, detail InvalidValue (also for a
 *                                     Get of a missing instance: one answer for "no such
 *                                     key" whatever the operation)
 *   FERRY_STATUS_INTERNAL (other)  -> w:InternalError
 *   FERRY_STATUS_RESULT            -> not a fault: ReturnValue = code (dispatcher).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#include "wsman.h"

enum fault_space { SPACE_SOAP, SPACE_WSA, SPACE_WSMAN, SPACE_WSEN, SPACE_WXF };

struct fault_def {
    const char *soap_code;   /* Sender, Receiver, MustUnderstand */
    enum fault_space space;  /* namespace of the subcode */
    const char *subcode;     /* local name, NULL for s:MustUnderstand */
    const char *reason;
};

static const struct fault_def fault_defs[WSMAN_FAULT_MAX_] = {
    [WSMAN_FAULT_DESTINATION_UNREACHABLE] = {"Sender", SPACE_WSA, "DestinationUnreachable",
        "No route can be determined to reach the destination role defined by the "
        "WS-Addressing To."},
    [WSMAN_FAULT_ACTION_NOT_SUPPORTED] = {"Sender", SPACE_WSA, "ActionNotSupported",
        "The action is not supported by the service."},
    [WSMAN_FAULT_MESSAGE_INFORMATION_HEADER_REQUIRED] = {"Sender", SPACE_WSA,
        "MessageInformationHeaderRequired", "A required header was missing."},
    [WSMAN_FAULT_INVALID_MESSAGE_INFORMATION_HEADER] = {"Sender", SPACE_WSA,
        "InvalidMessageInformationHeader",
        "A message information header is not valid and the message cannot be processed."},
    [WSMAN_FAULT_INVALID_SELECTORS] = {"Sender", SPACE_WSMAN, "InvalidSelectors",
        "The Selectors for the resource are not valid."},
    [WSMAN_FAULT_INVALID_PARAMETER] = {"Sender", SPACE_WSMAN, "InvalidParameter",
        "An operation parameter is not valid."},
    [WSMAN_FAULT_INVALID_REPRESENTATION] = {"Sender", SPACE_WXF, "InvalidRepresentation",
        "The XML content is not valid."},
    [WSMAN_FAULT_SCHEMA_VALIDATION_ERROR] = {"Sender", SPACE_WSMAN, "SchemaValidationError",
        "The supplied SOAP violates the corresponding XML schema definition."},
    [WSMAN_FAULT_ENCODING_LIMIT] = {"Sender", SPACE_WSMAN, "EncodingLimit",
        "An internal encoding limit was exceeded in a request or would be violated if the "
        "message were processed."},
    [WSMAN_FAULT_ACCESS_DENIED] = {"Sender", SPACE_WSMAN, "AccessDenied",
        "The sender was not authorized to access the resource."},
    [WSMAN_FAULT_TIMED_OUT] = {"Receiver", SPACE_WSMAN, "TimedOut",
        "The operation has timed out."},
    [WSMAN_FAULT_UNSUPPORTED_FEATURE] = {"Sender", SPACE_WSMAN, "UnsupportedFeature",
        "The specified feature is not supported."},
    [WSMAN_FAULT_INVALID_ENUMERATION_CONTEXT] = {"Receiver", SPACE_WSEN,
        "InvalidEnumerationContext", "The supplied enumeration context is invalid."},
    [WSMAN_FAULT_INTERNAL_ERROR] = {"Receiver", SPACE_WSMAN, "InternalError",
        "The service cannot comply with the request due to internal processing errors."},
    [WSMAN_FAULT_MUST_UNDERSTAND] = {"MustUnderstand", SPACE_SOAP, NULL,
        "A header marked mustUnderstand was not understood."},
    [WSMAN_FAULT_QUOTA_LIMIT] = {"Sender", SPACE_WSMAN, "QuotaLimit",
        "The service is busy servicing other requests."},
    [WSMAN_FAULT_CANNOT_PROCESS_FILTER] = {"Sender", SPACE_WSEN, "CannotProcessFilter",
        "The requested filter could not be processed."},
};

static const struct {
    const char *uri, *prefix, *action;
} spaces[] = {
    [SPACE_SOAP] = {WSMAN_NS_SOAP, "s", WSMAN_ACTION_FAULT_ADDRESSING},
    [SPACE_WSA] = {WSMAN_NS_ADDRESSING, "a", WSMAN_ACTION_FAULT_ADDRESSING},
    [SPACE_WSMAN] = {WSMAN_NS_WSMAN, "w", WSMAN_ACTION_FAULT_WSMAN},
    [SPACE_WSEN] = {WSMAN_NS_ENUMERATION, "n", WSMAN_ACTION_FAULT_ENUMERATION},
    [SPACE_WXF] = {WSMAN_NS_TRANSFER, "x", WSMAN_ACTION_FAULT_TRANSFER},
};

int
wsman_fault_oom(struct wsman_fault *f)
{
    return wsman_fault_set(f, WSMAN_FAULT_INTERNAL_ERROR, NULL, "%s", "Out of memory.");
}

int
wsman_fault_set(struct wsman_fault *f, enum wsman_fault_code code, const char *detail,
                const char *fmt, ...)
{
    va_list ap;

    memset(f, 0, sizeof(*f));
    f->code = code;
    f->detail = detail;
    if (fmt) {
        va_start(ap, fmt);
        vsnprintf(f->text, sizeof(f->text), fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

int
wsman_fault_from_status(struct wsman_fault *f, const struct ferry_status *st)
{
    int r;

    switch (st->kind) {
    case FERRY_STATUS_INVALID_PARAMETER:
        r = wsman_fault_set(f, WSMAN_FAULT_INVALID_PARAMETER,
                            st->param[0] ? "InvalidValue" : NULL, "%s",
                            st->text[0] ? st->text : "An operation parameter is not valid.");
        break;
    case FERRY_STATUS_NOT_FOUND:
        r = wsman_fault_set(f, WSMAN_FAULT_INVALID_SELECTORS, "InvalidValue", "%s",
                            st->text[0] ? st->text : "The instance does not exist.");
        break;
    default:
        r = wsman_fault_set(f, WSMAN_FAULT_INTERNAL_ERROR, NULL, "%s",
                            st->text[0] ? st->text : "Internal error.");
        break;
    }
    f->ms_code = st->code;
    return r;
}

int
wsman_fault_http_status(enum wsman_fault_code code)
{
    if (code <= WSMAN_FAULT_NONE || code >= WSMAN_FAULT_MAX_)
        return 500;
    return strcmp(fault_defs[code].soap_code, "Sender") == 0 ? 400 : 500;
}

const char *
wsman_fault_name(enum wsman_fault_code code)
{
    if (code <= WSMAN_FAULT_NONE || code >= WSMAN_FAULT_MAX_)
        return "None";
    return fault_defs[code].subcode ? fault_defs[code].subcode : "MustUnderstand";
}

static xmlNsPtr
fault_ns(xmlNodePtr env, enum fault_space sp)
{
    return xmlNewNs(env, (const xmlChar *)spaces[sp].uri, (const xmlChar *)spaces[sp].prefix);
}

static xmlNodePtr
fault_add(xmlNodePtr parent, xmlNsPtr ns, const char *name, const char *text)
{
    return xmlNewTextChild(parent, ns, (const xmlChar *)name, (const xmlChar *)text);
}

int
wsman_fault_reply(const struct wsman_fault *f, const char *relates_to, struct wsman_reply *out)
{
    enum wsman_fault_code code = f->code;
    const struct fault_def *def;
    xmlDocPtr doc;
    xmlNodePtr env, hdr, body, fault, n, sub, detail;
    xmlNsPtr ns[5];
    char qname[192], uuid[64], guid[FERRY_GUID_STRLEN];
    int r = -ENOMEM;

    if (code <= WSMAN_FAULT_NONE || code >= WSMAN_FAULT_MAX_)
        code = WSMAN_FAULT_INTERNAL_ERROR;
    def = &fault_defs[code];
    doc = xmlNewDoc((const xmlChar *)"1.0");
    if (!doc)
        return -ENOMEM;
    env = xmlNewNode(NULL, (const xmlChar *)"Envelope");
    if (!env)
        goto cleanup;
    xmlDocSetRootElement(doc, env);
    for (int i = 0; i < 5; i++)
        ns[i] = fault_ns(env, (enum fault_space)i);
    xmlSetNs(env, ns[SPACE_SOAP]);

    hdr = xmlNewChild(env, ns[SPACE_SOAP], (const xmlChar *)"Header", NULL);
    fault_add(hdr, ns[SPACE_WSA], "To", WSMAN_ADDRESS_ANONYMOUS);
    fault_add(hdr, ns[SPACE_WSA], "Action", spaces[def->space == SPACE_SOAP ? SPACE_WSA
                                                                            : def->space]
                                                .action);
    ferry_guid_new(guid);
    for (char *c = guid; *c; c++)
        if (*c >= 'A' && *c <= 'F')
            *c = (char)(*c - 'A' + 'a');
    snprintf(uuid, sizeof(uuid), "uuid:%.36s", guid + 1);
    fault_add(hdr, ns[SPACE_WSA], "MessageID", uuid);
    if (relates_to)
        fault_add(hdr, ns[SPACE_WSA], "RelatesTo", relates_to);
    if (code == WSMAN_FAULT_MUST_UNDERSTAND && f->nu_local[0]) {
        n = xmlNewChild(hdr, ns[SPACE_SOAP], (const xmlChar *)"NotUnderstood", NULL);
        if (f->nu_ns[0])
            xmlNewNs(n, (const xmlChar *)f->nu_ns, (const xmlChar *)"nu");
        snprintf(qname, sizeof(qname), "%s%s", f->nu_ns[0] ? "nu:" : "", f->nu_local);
        xmlNewProp(n, (const xmlChar *)"qname", (const xmlChar *)qname);
    }

    body = xmlNewChild(env, ns[SPACE_SOAP], (const xmlChar *)"Body", NULL);
    fault = xmlNewChild(body, ns[SPACE_SOAP], (const xmlChar *)"Fault", NULL);
    n = xmlNewChild(fault, ns[SPACE_SOAP], (const xmlChar *)"Code", NULL);
    snprintf(qname, sizeof(qname), "s:%s", def->soap_code);
    fault_add(n, ns[SPACE_SOAP], "Value", qname);
    if (def->subcode) {
        sub = xmlNewChild(n, ns[SPACE_SOAP], (const xmlChar *)"Subcode", NULL);
        snprintf(qname, sizeof(qname), "%s:%s", spaces[def->space].prefix, def->subcode);
        fault_add(sub, ns[SPACE_SOAP], "Value", qname);
    }
    n = xmlNewChild(fault, ns[SPACE_SOAP], (const xmlChar *)"Reason", NULL);
    n = fault_add(n, ns[SPACE_SOAP], "Text", f->text[0] ? f->text : def->reason);
    if (!n)
        goto cleanup;
    xmlNodeSetLang(n, (const xmlChar *)"en-US");

    detail = xmlNewChild(fault, ns[SPACE_SOAP], (const xmlChar *)"Detail", NULL);
    if (f->detail) {
        char uri[256];

        snprintf(uri, sizeof(uri), "%s%s", WSMAN_FAULT_DETAIL_BASE, f->detail);
        fault_add(detail, ns[SPACE_WSMAN], "FaultDetail", uri);
    }
    {
        xmlNodePtr wf = xmlNewChild(detail, NULL, (const xmlChar *)"WSManFault", NULL);
        xmlNsPtr fns;
        char codebuf[16];

        if (!wf)
            goto cleanup;
        fns = xmlNewNs(wf, (const xmlChar *)WSMAN_NS_MSFAULT, (const xmlChar *)"f");
        xmlSetNs(wf, fns);
        snprintf(codebuf, sizeof(codebuf), "%u", (unsigned)f->ms_code);
        xmlNewProp(wf, (const xmlChar *)"Code", (const xmlChar *)codebuf);
        xmlNewProp(wf, (const xmlChar *)"Machine", (const xmlChar *)"ferry");
        fault_add(wf, fns, "Message", f->text[0] ? f->text : def->reason);
    }

    r = wsman_xml_dump(doc, &out->body, &out->len);
    if (r < 0)
        goto cleanup;
    out->http_status = wsman_fault_http_status(code);
cleanup:
    xmlFreeDoc(doc);
    return r;
}
