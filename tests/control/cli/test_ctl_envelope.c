/*
 * tests/control/cli/test_ctl_envelope.c - control/cli/ctl_envelope.c: requests built by
 * ferryctl are parsed back with libxml2 and checked by namespace URI and value; responses
 * in several prefix styles (wsl, openwsman, Intel AMT) parse to the same name/value lists;
 * faults read as "subcode: reason (detail)".
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "ctl_envelope.h"
#include "wsman_names.h"

#define JOB_URI WSMAN_URI_BITS_CLIENT_JOB
#define X(s) ((const xmlChar *)(s))

/* ---- helpers to look into a built request ---- */

static xmlDoc *
parse_xml(const char *xml, size_t len)
{
    xmlDoc *doc = xmlReadMemory(xml, (int)len, NULL, NULL, XML_PARSE_NONET);

    ck_assert_ptr_nonnull(doc);
    return doc;
}

static xmlNode *
child(xmlNode *parent, const char *ns, const char *name)
{
    ck_assert_ptr_nonnull(parent);
    for (xmlNode *c = parent->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && c->ns &&
            strcmp((const char *)c->ns->href, ns) == 0 &&
            strcmp((const char *)c->name, name) == 0)
            return c;
    return NULL;
}

static char *
text(xmlNode *n)
{
    static char buf[4096];
    xmlChar *c;

    ck_assert_ptr_nonnull(n);
    c = xmlNodeGetContent(n);
    snprintf(buf, sizeof(buf), "%s", c ? (const char *)c : "");
    xmlFree(c);
    return buf;
}

static bool
must_understand(xmlNode *n)
{
    xmlChar *v = xmlGetNsProp(n, X("mustUnderstand"), X(WSMAN_NS_SOAP));
    bool yes = v && strcmp((const char *)v, "true") == 0;

    xmlFree(v);
    return yes;
}

static xmlNode *
header_of(xmlDoc *doc)
{
    xmlNode *env = xmlDocGetRootElement(doc);

    ck_assert_str_eq((const char *)env->name, "Envelope");
    ck_assert_str_eq((const char *)env->ns->href, WSMAN_NS_SOAP);
    return child(env, WSMAN_NS_SOAP, "Header");
}

static xmlNode *
body_of(xmlDoc *doc)
{
    return child(xmlDocGetRootElement(doc), WSMAN_NS_SOAP, "Body");
}

static const struct ctl_pair job_sel[] = {{"JobId", "{5E3B1F2A-0000-4000-8000-00000000ABCD}"}};

static struct ctl_target
job_target(void)
{
    struct ctl_target t = {
        .to = "http://127.0.0.1:5985/wsman",
        .resource_uri = JOB_URI,
        .selectors = job_sel,
        .nselectors = 1,
        .timeout_s = 30,
        .max_envelope = 512000,
    };
    return t;
}

/* ---- requests ---- */

START_TEST(test_get_request)
{
    struct ctl_target t = job_target();
    struct ctl_pair odd[] = {{"JobId", "a<b>&\"c'"}};
    char *xml;
    size_t len;
    xmlDoc *doc;
    xmlNode *h, *n, *set, *sel;

    ck_assert_int_eq(ctl_envelope_get(&t, "uuid:11111111-2222-3333-4444-555555555555", &xml,
                                      &len), 0);
    ck_assert_uint_eq(strlen(xml), len);
    doc = parse_xml(xml, len);
    h = header_of(doc);
    ck_assert_str_eq(text(child(h, WSMAN_NS_ADDRESSING, "To")), "http://127.0.0.1:5985/wsman");
    n = child(h, WSMAN_NS_ADDRESSING, "Action");
    ck_assert_str_eq(text(n), WSMAN_ACTION_GET);
    ck_assert(must_understand(n));
    n = child(h, WSMAN_NS_WSMAN, "ResourceURI");
    ck_assert_str_eq(text(n), JOB_URI);
    ck_assert(must_understand(n));
    ck_assert_str_eq(text(child(h, WSMAN_NS_ADDRESSING, "MessageID")),
                     "uuid:11111111-2222-3333-4444-555555555555");
    ck_assert_str_eq(text(child(child(h, WSMAN_NS_ADDRESSING, "ReplyTo"), WSMAN_NS_ADDRESSING,
                                "Address")),
                     WSMAN_ADDRESS_ANONYMOUS);
    ck_assert_str_eq(text(child(h, WSMAN_NS_WSMAN, "MaxEnvelopeSize")), "512000");
    ck_assert_str_eq(text(child(h, WSMAN_NS_WSMAN, "OperationTimeout")), "PT30.000S");
    set = child(h, WSMAN_NS_WSMAN, "SelectorSet");
    sel = child(set, WSMAN_NS_WSMAN, "Selector");
    ck_assert_str_eq(text(sel), "{5E3B1F2A-0000-4000-8000-00000000ABCD}");
    {
        xmlChar *name = xmlGetProp(sel, X("Name"));

        ck_assert_str_eq((const char *)name, "JobId");
        xmlFree(name);
    }
    /* Get has an empty body */
    ck_assert_ptr_null(body_of(doc)->children);
    xmlFreeDoc(doc);
    free(xml);

    /* markup in a selector value survives escaping exactly once */
    t.selectors = odd;
    t.timeout_s = 0;
    t.max_envelope = 0;
    ck_assert_int_eq(ctl_envelope_get(&t, NULL, &xml, &len), 0);
    doc = parse_xml(xml, len);
    h = header_of(doc);
    ck_assert_str_eq(text(child(child(h, WSMAN_NS_WSMAN, "SelectorSet"), WSMAN_NS_WSMAN,
                                "Selector")),
                     "a<b>&\"c'");
    ck_assert_ptr_null(child(h, WSMAN_NS_WSMAN, "OperationTimeout"));
    ck_assert_ptr_null(child(h, WSMAN_NS_WSMAN, "MaxEnvelopeSize"));
    /* a fresh MessageID each time, uuid: form */
    ck_assert_int_eq(strncmp(text(child(h, WSMAN_NS_ADDRESSING, "MessageID")), "uuid:", 5), 0);
    ck_assert_uint_eq(strlen(text(child(h, WSMAN_NS_ADDRESSING, "MessageID"))), 41);
    xmlFreeDoc(doc);
    free(xml);
}
END_TEST

START_TEST(test_invoke_request)
{
    struct ctl_target t = job_target();
    struct ctl_pair params[] = {{"JobState", "2"}, {"Note", NULL}};
    char *xml;
    size_t len;
    xmlDoc *doc;
    xmlNode *in, *p;
    xmlChar *nil;

    ck_assert_int_eq(ctl_envelope_invoke(&t, NULL, "SetJobState", params, 2, &xml, &len), 0);
    doc = parse_xml(xml, len);
    ck_assert_str_eq(text(child(header_of(doc), WSMAN_NS_ADDRESSING, "Action")),
                     JOB_URI "/SetJobState");
    in = child(body_of(doc), JOB_URI, "SetJobState_INPUT");
    ck_assert_ptr_nonnull(in);
    p = child(in, JOB_URI, "JobState");
    ck_assert_str_eq(text(p), "2");
    p = child(in, JOB_URI, "Note");
    ck_assert_ptr_nonnull(p);
    nil = xmlGetNsProp(p, X("nil"), X(WSMAN_NS_XSI));
    ck_assert_str_eq((const char *)nil, "true");
    xmlFree(nil);
    xmlFreeDoc(doc);
    free(xml);

    /* a static method: no SelectorSet */
    t.selectors = NULL;
    t.nselectors = 0;
    ck_assert_int_eq(ctl_envelope_invoke(&t, NULL, "CreateJob", params, 1, &xml, &len), 0);
    doc = parse_xml(xml, len);
    ck_assert_ptr_null(child(header_of(doc), WSMAN_NS_WSMAN, "SelectorSet"));
    ck_assert_ptr_nonnull(child(body_of(doc), JOB_URI, "CreateJob_INPUT"));
    xmlFreeDoc(doc);
    free(xml);

    ck_assert_int_eq(ctl_envelope_invoke(&t, NULL, "", params, 1, &xml, &len), -EINVAL);
}
END_TEST

START_TEST(test_enumeration_requests)
{
    struct ctl_target t = job_target();
    char *xml;
    size_t len;
    xmlDoc *doc;
    xmlNode *e;

    t.selectors = NULL;
    t.nselectors = 0;
    ck_assert_int_eq(ctl_envelope_enumerate(&t, NULL, 7, &xml, &len), 0);
    doc = parse_xml(xml, len);
    ck_assert_str_eq(text(child(header_of(doc), WSMAN_NS_ADDRESSING, "Action")),
                     WSMAN_ACTION_ENUMERATE);
    e = child(body_of(doc), WSMAN_NS_ENUMERATION, "Enumerate");
    ck_assert_ptr_nonnull(child(e, WSMAN_NS_WSMAN, "OptimizeEnumeration"));
    ck_assert_str_eq(text(child(e, WSMAN_NS_WSMAN, "MaxElements")), "7");
    xmlFreeDoc(doc);
    free(xml);

    ck_assert_int_eq(ctl_envelope_pull(&t, NULL, "uuid:ctx-1", 5, &xml, &len), 0);
    doc = parse_xml(xml, len);
    ck_assert_str_eq(text(child(header_of(doc), WSMAN_NS_ADDRESSING, "Action")),
                     WSMAN_ACTION_PULL);
    e = child(body_of(doc), WSMAN_NS_ENUMERATION, "Pull");
    ck_assert_str_eq(text(child(e, WSMAN_NS_ENUMERATION, "EnumerationContext")), "uuid:ctx-1");
    ck_assert_str_eq(text(child(e, WSMAN_NS_ENUMERATION, "MaxElements")), "5");
    xmlFreeDoc(doc);
    free(xml);

    ck_assert_int_eq(ctl_envelope_release(&t, NULL, "uuid:ctx-1", &xml, &len), 0);
    doc = parse_xml(xml, len);
    ck_assert_str_eq(text(child(header_of(doc), WSMAN_NS_ADDRESSING, "Action")),
                     WSMAN_ACTION_RELEASE);
    e = child(body_of(doc), WSMAN_NS_ENUMERATION, "Release");
    ck_assert_str_eq(text(child(e, WSMAN_NS_ENUMERATION, "EnumerationContext")), "uuid:ctx-1");
    xmlFreeDoc(doc);
    free(xml);

    ck_assert_int_eq(ctl_envelope_pull(&t, NULL, NULL, 5, &xml, &len), -EINVAL);
}
END_TEST

START_TEST(test_identify_request)
{
    char *xml;
    size_t len;
    xmlDoc *doc;

    ck_assert_int_eq(ctl_envelope_identify(&xml, &len), 0);
    doc = parse_xml(xml, len);
    /* no addressing headers at all */
    ck_assert_ptr_null(header_of(doc)->children);
    ck_assert_ptr_nonnull(child(body_of(doc), WSMAN_NS_IDENTITY, "Identify"));
    xmlFreeDoc(doc);
    free(xml);
}
END_TEST

/* ---- responses ---- */

static const char get_response_amt[] =
    "<?xml version=\"1.0\"?>"
    "<a:Envelope xmlns:a=\"http://www.w3.org/2003/05/soap-envelope\""
    " xmlns:b=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\""
    " xmlns:g=\"" JOB_URI "\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">"
    "<a:Header><b:Action>http://schemas.xmlsoap.org/ws/2004/09/transfer/GetResponse</b:Action>"
    "<b:RelatesTo>uuid:1</b:RelatesTo></a:Header>"
    "<a:Body><g:BitsClientJob>"
    "<g:JobId>{5E3B1F2A-0000-4000-8000-00000000ABCD}</g:JobId>"
    "<g:DisplayName> image &amp; co </g:DisplayName>"
    "<g:Description xsi:nil=\"true\"/>"
    "<g:Priority>2</g:Priority><g:State>6</g:State>"
    "<g:BytesTotal>4294967296</g:BytesTotal><g:BytesTransferred>4294967296</g:BytesTransferred>"
    "<g:Files><g:RemoteUrl>http://h/x/a.img</g:RemoteUrl><g:Completed>true</g:Completed>"
    "</g:Files>"
    "<g:Files><g:RemoteUrl>http://h/x/b.img</g:RemoteUrl><g:Completed>false</g:Completed>"
    "</g:Files>"
    "</g:BitsClientJob></a:Body></a:Envelope>";

START_TEST(test_parse_instance)
{
    struct ctl_response *resp = NULL;
    struct ctl_instance *inst;
    uint64_t v;

    ck_assert_int_eq(ctl_envelope_parse(get_response_amt, strlen(get_response_amt), &resp), 0);
    ck_assert_int_eq(resp->kind, CTL_RESPONSE_INSTANCE);
    ck_assert_str_eq(resp->action, WSMAN_ACTION_GET_RESPONSE);
    ck_assert_str_eq(resp->relates_to, "uuid:1");
    ck_assert_uint_eq(resp->ninstances, 1);
    inst = resp->instances[0];
    ck_assert_str_eq(inst->class_name, "BitsClientJob");
    ck_assert_str_eq(ctl_instance_get(inst, "JobId"), "{5E3B1F2A-0000-4000-8000-00000000ABCD}");
    ck_assert_str_eq(ctl_instance_get(inst, "DisplayName"), "image & co");
    ck_assert_ptr_null(ctl_instance_get(inst, "Description")); /* xsi:nil */
    ck_assert_ptr_null(ctl_instance_get(inst, "NoSuchProperty"));
    ck_assert_str_eq(ctl_instance_get(inst, "state"), "6"); /* case-insensitive */
    ck_assert_int_eq(ctl_instance_get_u64(inst, "BytesTotal", &v), 0);
    ck_assert_uint_eq(v, 4294967296ULL);
    ck_assert_int_eq(ctl_instance_get_u64(inst, "DisplayName", &v), -EINVAL);
    ck_assert_int_eq(ctl_instance_get_u64(inst, "Missing", &v), -ENOENT);
    /* embedded objects */
    ck_assert_uint_eq(inst->nprops, 9);
    ck_assert_str_eq(inst->props[7].name, "Files");
    ck_assert_ptr_nonnull(inst->props[7].nested);
    ck_assert_str_eq(ctl_instance_get(inst->props[7].nested, "RemoteUrl"), "http://h/x/a.img");
    ck_assert_str_eq(ctl_instance_get(inst->props[8].nested, "Completed"), "false");
    ck_assert_ptr_nonnull(ctl_response_instance_node(resp));
    ctl_response_free(resp);
}
END_TEST

START_TEST(test_put_round_trip)
{
    struct ctl_response *resp = NULL, *back = NULL;
    struct ctl_target t = job_target();
    xmlNode *inst;
    char *xml;
    size_t len;
    xmlDoc *doc;
    xmlNode *put_inst;

    ck_assert_int_eq(ctl_envelope_parse(get_response_amt, strlen(get_response_amt), &resp), 0);
    inst = ctl_response_instance_node(resp);
    ck_assert_int_eq(ctl_envelope_set_property(inst, "Priority", "1"), 0);
    ck_assert_int_eq(ctl_envelope_set_property(inst, "Description", "a<b&c"), 0);
    ck_assert_int_eq(ctl_envelope_set_property(inst, "MinimumRetryDelay", "60"), 0);
    /* repeated or structured properties cannot be set as text */
    ck_assert_int_eq(ctl_envelope_set_property(inst, "Files", "x"), -EINVAL);
    ck_assert_int_eq(ctl_envelope_put(&t, NULL, inst, &xml, &len), 0);

    doc = parse_xml(xml, len);
    ck_assert_str_eq(text(child(header_of(doc), WSMAN_NS_ADDRESSING, "Action")),
                     WSMAN_ACTION_PUT);
    /* the body root is the instance element in the class namespace */
    put_inst = child(body_of(doc), JOB_URI, "BitsClientJob");
    ck_assert_ptr_nonnull(put_inst);
    ck_assert_str_eq(text(child(put_inst, JOB_URI, "Priority")), "1");
    ck_assert_str_eq(text(child(put_inst, JOB_URI, "Description")), "a<b&c");
    /* xsi:nil is gone from the property that now has a value */
    ck_assert_ptr_null(xmlGetNsProp(child(put_inst, JOB_URI, "Description"), X("nil"),
                                    X(WSMAN_NS_XSI)));
    ck_assert_str_eq(text(child(put_inst, JOB_URI, "MinimumRetryDelay")), "60");
    xmlFreeDoc(doc);

    /* and the same parser reads it back with the other properties untouched */
    ck_assert_int_eq(ctl_envelope_parse(xml, len, &back), 0);
    ck_assert_int_eq(back->kind, CTL_RESPONSE_INSTANCE);
    ck_assert_str_eq(ctl_instance_get(back->instances[0], "Priority"), "1");
    ck_assert_str_eq(ctl_instance_get(back->instances[0], "DisplayName"), "image & co");
    ck_assert_str_eq(ctl_instance_get(back->instances[0], "BytesTotal"), "4294967296");
    free(xml);
    ctl_response_free(back);
    ctl_response_free(resp);
}
END_TEST

static const char enum_response_optimized[] =
    "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\""
    " xmlns:wsen=\"http://schemas.xmlsoap.org/ws/2004/09/enumeration\""
    " xmlns:wsman=\"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd\""
    " xmlns:wsa=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\">"
    "<s:Header/><s:Body><wsen:EnumerateResponse>"
    "<wsen:EnumerationContext>uuid:0d5c</wsen:EnumerationContext>"
    "<wsman:Items>"
    "<p:BitsClientJob xmlns:p=\"" JOB_URI "\"><p:JobId>a</p:JobId></p:BitsClientJob>"
    "<wsman:Item><p:BitsClientJob xmlns:p=\"" JOB_URI "\"><p:JobId>b</p:JobId>"
    "</p:BitsClientJob><wsa:EndpointReference><wsa:Address>x</wsa:Address>"
    "</wsa:EndpointReference></wsman:Item>"
    "</wsman:Items></wsen:EnumerateResponse></s:Body></s:Envelope>";

static const char pull_response_last[] =
    "<env:Envelope xmlns:env=\"http://www.w3.org/2003/05/soap-envelope\""
    " xmlns:n=\"http://schemas.xmlsoap.org/ws/2004/09/enumeration\">"
    "<env:Body><n:PullResponse><n:Items>"
    "<c:BitsClientJob xmlns:c=\"" JOB_URI "\"><c:JobId>c</c:JobId></c:BitsClientJob>"
    "</n:Items><n:EndOfSequence/></n:PullResponse></env:Body></env:Envelope>";

static const char enum_response_all_fit[] =
    "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\""
    " xmlns:wsen=\"http://schemas.xmlsoap.org/ws/2004/09/enumeration\""
    " xmlns:w=\"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd\">"
    "<s:Body><wsen:EnumerateResponse><wsen:EnumerationContext/>"
    "<w:Items/><w:EndOfSequence/></wsen:EnumerateResponse></s:Body></s:Envelope>";

START_TEST(test_parse_items)
{
    struct ctl_response *resp = NULL;

    ck_assert_int_eq(
        ctl_envelope_parse(enum_response_optimized, strlen(enum_response_optimized), &resp), 0);
    ck_assert_int_eq(resp->kind, CTL_RESPONSE_ITEMS);
    ck_assert_str_eq(resp->context, "uuid:0d5c");
    ck_assert(!resp->end_of_sequence);
    ck_assert_uint_eq(resp->ninstances, 2);
    ck_assert_str_eq(ctl_instance_get(resp->instances[0], "JobId"), "a");
    ck_assert_str_eq(ctl_instance_get(resp->instances[1], "JobId"), "b");
    resp = ctl_response_free(resp);

    ck_assert_int_eq(ctl_envelope_parse(pull_response_last, strlen(pull_response_last), &resp),
                     0);
    ck_assert_int_eq(resp->kind, CTL_RESPONSE_ITEMS);
    ck_assert_ptr_null(resp->context);
    ck_assert(resp->end_of_sequence);
    ck_assert_uint_eq(resp->ninstances, 1);
    ck_assert_str_eq(ctl_instance_get(resp->instances[0], "JobId"), "c");
    resp = ctl_response_free(resp);

    ck_assert_int_eq(
        ctl_envelope_parse(enum_response_all_fit, strlen(enum_response_all_fit), &resp), 0);
    ck_assert_ptr_null(resp->context); /* empty context = none */
    ck_assert(resp->end_of_sequence);
    ck_assert_uint_eq(resp->ninstances, 0);
    ctl_response_free(resp);
}
END_TEST

START_TEST(test_parse_output)
{
    static const char out[] =
        "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\"><s:Body>"
        "<p:CreateJob_OUTPUT xmlns:p=\"" JOB_URI "\">"
        "<p:JobId>{5E3B1F2A-0000-4000-8000-00000000ABCD}</p:JobId>"
        "<p:ReturnValue>0</p:ReturnValue></p:CreateJob_OUTPUT></s:Body></s:Envelope>";
    static const char failed[] =
        "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\"><s:Body>"
        "<p:SetJobState_OUTPUT xmlns:p=\"" JOB_URI "\">"
        "<p:ReturnValue>2149580802</p:ReturnValue></p:SetJobState_OUTPUT></s:Body>"
        "</s:Envelope>";
    static const char bad_rv[] =
        "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\"><s:Body>"
        "<p:X_OUTPUT xmlns:p=\"urn:x\"><p:ReturnValue>-1</p:ReturnValue></p:X_OUTPUT>"
        "</s:Body></s:Envelope>";
    struct ctl_response *resp = NULL;

    ck_assert_int_eq(ctl_envelope_parse(out, strlen(out), &resp), 0);
    ck_assert_int_eq(resp->kind, CTL_RESPONSE_OUTPUT);
    ck_assert(resp->has_return_value);
    ck_assert_uint_eq(resp->return_value, 0);
    ck_assert_str_eq(ctl_instance_get(resp->instances[0], "JobId"),
                     "{5E3B1F2A-0000-4000-8000-00000000ABCD}");
    resp = ctl_response_free(resp);

    ck_assert_int_eq(ctl_envelope_parse(failed, strlen(failed), &resp), 0);
    ck_assert_uint_eq(resp->return_value, 0x80200002u);
    resp = ctl_response_free(resp);

    ck_assert_int_eq(ctl_envelope_parse(bad_rv, strlen(bad_rv), &resp), -EBADMSG);
}
END_TEST

START_TEST(test_parse_fault)
{
    /* the subcode's prefix is "x" but bound to the wsman namespace: read as w: */
    static const char fault[] =
        "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\""
        " xmlns:a=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\""
        " xmlns:x=\"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd\">"
        "<s:Header><a:Action>http://schemas.dmtf.org/wbem/wsman/1/wsman/fault</a:Action>"
        "</s:Header><s:Body><s:Fault>"
        "<s:Code><s:Value>s:Sender</s:Value>"
        "<s:Subcode><s:Value>x:InvalidSelectors</s:Value></s:Subcode></s:Code>"
        "<s:Reason><s:Text xml:lang=\"en-US\">The Selectors for the resource are not valid."
        "</s:Text></s:Reason>"
        "<s:Detail><x:FaultDetail>http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/"
        "InsufficientSelectors</x:FaultDetail></s:Detail>"
        "</s:Fault></s:Body></s:Envelope>";
    /* WinRM style: detail in a WSManFault message, enumeration subcode */
    static const char fault_ms[] =
        "<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"http://www.w3.org/2003/05/soap-envelope\""
        " xmlns:wsen=\"http://schemas.xmlsoap.org/ws/2004/09/enumeration\"><SOAP-ENV:Body>"
        "<SOAP-ENV:Fault><SOAP-ENV:Code><SOAP-ENV:Value>SOAP-ENV:Receiver</SOAP-ENV:Value>"
        "<SOAP-ENV:Subcode><SOAP-ENV:Value>wsen:InvalidEnumerationContext</SOAP-ENV:Value>"
        "</SOAP-ENV:Subcode></SOAP-ENV:Code>"
        "<SOAP-ENV:Reason><SOAP-ENV:Text>The context is not valid.</SOAP-ENV:Text>"
        "</SOAP-ENV:Reason><SOAP-ENV:Detail>"
        "<f:WSManFault xmlns:f=\"http://schemas.microsoft.com/wbem/wsman/1/wsmanfault\""
        " Code=\"1\"><f:Message>context expired</f:Message></f:WSManFault>"
        "</SOAP-ENV:Detail></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>";
    struct ctl_response *resp = NULL;
    char line[512];

    ck_assert_int_eq(ctl_envelope_parse(fault, strlen(fault), &resp), 0);
    ck_assert_int_eq(resp->kind, CTL_RESPONSE_FAULT);
    ck_assert_str_eq(resp->fault.code, "s:Sender");
    ck_assert_str_eq(resp->fault.subcode, "w:InvalidSelectors");
    ck_assert_str_eq(resp->fault.reason, "The Selectors for the resource are not valid.");
    ck_assert_str_eq(resp->fault.detail, "InsufficientSelectors");
    ctl_fault_format(&resp->fault, line, sizeof(line));
    ck_assert_str_eq(line, "w:InvalidSelectors: The Selectors for the resource are not valid. "
                           "(InsufficientSelectors)");
    resp = ctl_response_free(resp);

    ck_assert_int_eq(ctl_envelope_parse(fault_ms, strlen(fault_ms), &resp), 0);
    ck_assert_int_eq(resp->kind, CTL_RESPONSE_FAULT);
    ck_assert_str_eq(resp->fault.code, "s:Receiver");
    ck_assert_str_eq(resp->fault.subcode, "n:InvalidEnumerationContext");
    ctl_fault_format(&resp->fault, line, sizeof(line));
    ck_assert_str_eq(line, "n:InvalidEnumerationContext: The context is not valid. "
                           "(context expired)");
    ctl_response_free(resp);
}
END_TEST

START_TEST(test_fault_format_parts)
{
    struct ctl_fault f = {0};
    char line[128];

    ctl_fault_format(&f, line, sizeof(line));
    ck_assert_str_eq(line, "fault");
    f.code = "s:Receiver";
    ctl_fault_format(&f, line, sizeof(line));
    ck_assert_str_eq(line, "s:Receiver");
    f.detail = "MaxEnvelopeSize";
    f.subcode = "w:EncodingLimit";
    ctl_fault_format(&f, line, sizeof(line));
    ck_assert_str_eq(line, "w:EncodingLimit (MaxEnvelopeSize)");
}
END_TEST

START_TEST(test_parse_identify_and_bad_input)
{
    static const char id[] =
        "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\""
        " xmlns:wsmid=\"" WSMAN_NS_IDENTITY "\"><s:Header/><s:Body><wsmid:IdentifyResponse>"
        "<wsmid:ProtocolVersion>" WSMAN_NS_WSMAN "</wsmid:ProtocolVersion>"
        "<wsmid:ProductVendor>ferry</wsmid:ProductVendor>"
        "<wsmid:ProductVersion>0.1.0</wsmid:ProductVersion>"
        "</wsmid:IdentifyResponse></s:Body></s:Envelope>";
    static const char soap11[] =
        "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body/>"
        "</s:Envelope>";
    /* an external entity must not be fetched nor expanded */
    static const char xxe[] =
        "<?xml version=\"1.0\"?><!DOCTYPE e [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
        "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\"><s:Body>"
        "<p:I xmlns:p=\"urn:x\"><p:V>&x;</p:V></p:I></s:Body></s:Envelope>";
    struct ctl_response *resp = NULL;

    ck_assert_int_eq(ctl_envelope_parse(id, strlen(id), &resp), 0);
    ck_assert_int_eq(resp->kind, CTL_RESPONSE_IDENTIFY);
    ck_assert_str_eq(ctl_instance_get(resp->instances[0], "ProductVendor"), "ferry");
    ck_assert_str_eq(ctl_instance_get(resp->instances[0], "ProtocolVersion"), WSMAN_NS_WSMAN);
    resp = ctl_response_free(resp);

    ck_assert_int_eq(ctl_envelope_parse("", 0, &resp), -EBADMSG);
    ck_assert_int_eq(ctl_envelope_parse("<html>", 6, &resp), -EBADMSG);
    ck_assert_int_eq(ctl_envelope_parse(soap11, strlen(soap11), &resp), -EBADMSG);
    ck_assert_ptr_null(resp);

    if (ctl_envelope_parse(xxe, strlen(xxe), &resp) == 0) {
        const char *v = ctl_instance_get(resp->instances[0], "V");

        ck_assert(v == NULL || strstr(v, "root:") == NULL);
        ctl_response_free(resp);
    }
}
END_TEST

static Suite *
envelope_suite(void)
{
    Suite *s = suite_create("ctl_envelope");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_get_request);
    tcase_add_test(tc, test_invoke_request);
    tcase_add_test(tc, test_enumeration_requests);
    tcase_add_test(tc, test_identify_request);
    tcase_add_test(tc, test_parse_instance);
    tcase_add_test(tc, test_put_round_trip);
    tcase_add_test(tc, test_parse_items);
    tcase_add_test(tc, test_parse_output);
    tcase_add_test(tc, test_parse_fault);
    tcase_add_test(tc, test_fault_format_parts);
    tcase_add_test(tc, test_parse_identify_and_bad_input);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(envelope_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
