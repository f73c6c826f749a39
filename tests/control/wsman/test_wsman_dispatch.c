/*
 * tests/control/wsman/test_wsman_dispatch.c - the dispatcher end to end on the fake engine:
 * Identify, Get, Put, Invoke, response headers, prefix independence, every fault with its
 * HTTP status, MaxEnvelopeSize, OperationTimeout, Locale/FaultTo/mustUnderstand rules,
 * case-insensitive invoke, UTF-16 requests.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsman_test.h"

#define MID "<a:MessageID>uuid:5e3b0000-1111-2222-3333-444455556666</a:MessageID>"
#define SEL(v) "<w:SelectorSet><w:Selector Name=\"JobId\">" v "</w:Selector></w:SelectorSet>"

static struct wt T;

static void
setup(void)
{
    wt_init(&T);
}

static void
teardown(void)
{
    wt_done(&T);
}

static void
expect_fault(int status, int want_status, const char *sub, const char *detail)
{
    char *s = wt_subcode(&T), *d = wt_detail(&T);

    ck_assert_msg(status == want_status, "status %d, want %d: %s", status, want_status,
                  T.reply.body);
    ck_assert_str_eq(s, sub);
    if (detail)
        ck_assert_str_eq(d, detail);
    free(s);
    free(d);
}

static void
expect_str(const char *xpath, const char *want)
{
    char *v = wt_x(&T, xpath);

    ck_assert_msg(strcmp(v, want) == 0, "%s = '%s', want '%s'\n%s", xpath, v, want,
                  T.reply.body);
    free(v);
}

static char *
get_env(const char *id, const char *headers)
{
    char sel[256];

    snprintf(sel, sizeof(sel),
             "<w:SelectorSet><w:Selector Name=\"JobId\">%s</w:Selector></w:SelectorSet>%s", id,
             headers ? headers : "");
    return wt_env(WSMAN_ACTION_GET, NS_JOB, MID, sel, "");
}

/* wsl's Identify, byte for byte as wsl sends it */
static const char wsl_identify[] =
    "<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" "
    "xmlns:wsmid=\"http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd\">"
    "<s:Header/><s:Body><wsmid:Identify/></s:Body></s:Envelope>";

START_TEST(test_identify)
{
    ck_assert_int_eq(wt_send(&T, &T.admin, wsl_identify), 200);
    expect_str("//wsmid:IdentifyResponse/wsmid:ProtocolVersion", WSMAN_NS_WSMAN);
    expect_str("//wsmid:IdentifyResponse/wsmid:ProductVendor", "ferry");
    expect_str("//wsmid:IdentifyResponse/wsmid:ProductVersion", FERRY_VERSION);
    ck_assert_int_eq(wt_count(&T, "//wsmid:SecurityProfiles/wsmid:SecurityProfileName"), 3);
    ck_assert_int_eq(wt_count(&T, "/s:Envelope/s:Header/*"), 0);

    /* unauthenticated: no SecurityProfiles */
    ck_assert_int_eq(wt_send(&T, &T.anon, wsl_identify), 200);
    ck_assert_int_eq(wt_count(&T, "//wsmid:SecurityProfiles"), 0);
    expect_str("//wsmid:ProductVendor", "ferry");

    /* R11-2: a header with mustUnderstand="false" on Identify is ignored */
    ck_assert_int_eq(
        wt_send(&T, &T.admin,
                "<s:Envelope xmlns:s=\"" WSMAN_NS_SOAP "\"><s:Header><x:Foo xmlns:x=\"urn:x\" "
                "s:mustUnderstand=\"false\">1</x:Foo></s:Header><s:Body><i:Identify "
                "xmlns:i=\"" WSMAN_NS_IDENTITY "\"/></s:Body></s:Envelope>"),
        200);
    /* a non-admin may Identify */
    ck_assert_int_eq(wt_send(&T, &T.bob, wsl_identify), 200);
}
END_TEST

START_TEST(test_unauthenticated_only_identify)
{
    ck_assert_int_eq(wt_send_env(&T, &T.anon, get_env("{5E3B0000-0000-4000-8000-000000000001}",
                                                       NULL)),
                     401);
    ck_assert(T.reply.need_auth);
    ck_assert_ptr_null(T.reply.body);
}
END_TEST

START_TEST(test_get_and_headers)
{
    const char *id = wt_create_job(&T, "one");
    char *v;

    /* bare UUID MessageID (wsl) echoed verbatim */
    char sel[256];
    snprintf(sel, sizeof(sel), SEL("%s"), id);
    ck_assert_int_eq(
        wt_send_env(&T, &T.admin,
                    wt_env(WSMAN_ACTION_GET, NS_JOB,
                           "<a:MessageID>11111111-2222-3333-4444-555555555555</a:MessageID>",
                           sel, "")),
        200);
    expect_str("/s:Envelope/s:Header/a:RelatesTo", "11111111-2222-3333-4444-555555555555");
    expect_str("/s:Envelope/s:Header/a:Action", WSMAN_ACTION_GET_RESPONSE);
    expect_str("/s:Envelope/s:Header/a:To", WSMAN_ADDRESS_ANONYMOUS);
    v = wt_x(&T, "/s:Envelope/s:Header/a:MessageID");
    ck_assert_int_eq(strncmp(v, "uuid:", 5), 0);
    ck_assert_uint_eq(strlen(v), 41);
    free(v);
    expect_str("/s:Envelope/s:Body/p:BitsClientJob/p:JobId", id);
    expect_str("//p:BitsClientJob/p:DisplayName", "one");
    expect_str("//p:BitsClientJob/p:State", "3");
    expect_str("//p:BitsClientJob/p:Priority", "2");
    expect_str("//p:BitsClientJob/p:Owner", "admin");
    expect_str("//p:BitsClientJob/p:BytesTotal", "18446744073709551615");
    expect_str("//p:BitsClientJob/p:Files/p:LocalFile", "/srv/in/one");
    ck_assert_int_eq(wt_count(&T, "//p:BitsClientJob/p:ConnectionsPerFile"), 1);
    ck_assert_int_eq(wt_count(&T, "//p:BitsClientJob/p:HasCredentials"), 1);
    /* the Dell/wsl layout: class prefix declared on the Envelope, a bare <p:BitsClientJob> */
    ck_assert_ptr_nonnull(strstr(T.reply.body, "<p:BitsClientJob>"));
    ck_assert_ptr_nonnull(strstr(T.reply.body, "xmlns:p=\"" NS_JOB "\""));

    /* uuid: form */
    ck_assert_int_eq(wt_send_env(&T, &T.admin, get_env(id, NULL)), 200);
    expect_str("/s:Envelope/s:Header/a:RelatesTo",
               "uuid:5e3b0000-1111-2222-3333-444455556666");
}
END_TEST

START_TEST(test_prefix_independence)
{
    const char *id = wt_create_job(&T, "pfx");
    char *bodies[4];
    char *names[4];

    /* s/a/w/n */
    bodies[0] = get_env(id, NULL);
    /* pywinrm: env/a/w/n/x/b/p with an unqualified mustUnderstand */
    ck_assert_int_gt(asprintf(&bodies[1],
        "<env:Envelope xmlns:env=\"%s\" xmlns:a=\"%s\" xmlns:w=\"%s\" xmlns:n=\"%s\" "
        "xmlns:x=\"%s\" xmlns:b=\"%s\" xmlns:p=\"%s\"><env:Header>"
        "<a:To>http://windows-host:5985/wsman</a:To><a:ReplyTo><a:Address "
        "mustUnderstand=\"true\">%s</a:Address></a:ReplyTo>"
        "<w:MaxEnvelopeSize mustUnderstand=\"true\">153600</w:MaxEnvelopeSize>"
        "<a:MessageID>uuid:1</a:MessageID><w:Locale mustUnderstand=\"false\" xml:lang=\"en-US\"/>"
        "<p:DataLocale mustUnderstand=\"false\" xml:lang=\"en-US\"/>"
        "<w:OperationTimeout>PT20S</w:OperationTimeout>"
        "<w:ResourceURI mustUnderstand=\"true\">%s</w:ResourceURI>"
        "<a:Action mustUnderstand=\"true\">%s</a:Action>"
        "<w:SelectorSet><w:Selector Name=\"JobId\">%s</w:Selector></w:SelectorSet>"
        "</env:Header><env:Body/></env:Envelope>",
        WSMAN_NS_SOAP, WSMAN_NS_ADDRESSING, WSMAN_NS_WSMAN, WSMAN_NS_ENUMERATION,
        WSMAN_NS_TRANSFER, WSMAN_NS_CIMBINDING, WSMAN_NS_MSWSMAN, WSMAN_ADDRESS_ANONYMOUS,
        NS_JOB, WSMAN_ACTION_GET, id), 0);
    /* AMT style: a = SOAP, b = addressing, c = wsman, g = enumeration */
    ck_assert_int_gt(asprintf(&bodies[2],
        "<a:Envelope xmlns:a=\"%s\" xmlns:b=\"%s\" xmlns:c=\"%s\" xmlns:g=\"%s\"><a:Header>"
        "<b:Action a:mustUnderstand=\"true\">%s</b:Action><b:MessageID>23</b:MessageID>"
        "<c:ResourceURI a:mustUnderstand=\"true\">%s</c:ResourceURI>"
        "<c:SelectorSet><c:Selector Name=\"JobId\">%s</c:Selector></c:SelectorSet>"
        "</a:Header><a:Body></a:Body></a:Envelope>",
        WSMAN_NS_SOAP, WSMAN_NS_ADDRESSING, WSMAN_NS_WSMAN, WSMAN_NS_ENUMERATION,
        WSMAN_ACTION_GET, NS_JOB, id), 0);
    /* default namespaces everywhere */
    ck_assert_int_gt(asprintf(&bodies[3],
        "<Envelope xmlns=\"%s\"><Header><Action xmlns=\"%s\">%s</Action>"
        "<MessageID xmlns=\"%s\">0</MessageID><ResourceURI xmlns=\"%s\">%s</ResourceURI>"
        "<SelectorSet xmlns=\"%s\"><Selector Name=\"JobId\">%s</Selector></SelectorSet>"
        "</Header><Body/></Envelope>",
        WSMAN_NS_SOAP, WSMAN_NS_ADDRESSING, WSMAN_ACTION_GET, WSMAN_NS_ADDRESSING,
        WSMAN_NS_WSMAN, NS_JOB, WSMAN_NS_WSMAN, id), 0);
    for (int i = 0; i < 4; i++) {
        ck_assert_msg(wt_send(&T, &T.admin, bodies[i]) == 200, "style %d: %s", i,
                      T.reply.body);
        names[i] = wt_x(&T, "/s:Envelope/s:Body/p:BitsClientJob/p:JobId");
        ck_assert_str_eq(names[i], id);
        free(names[i]);
        free(bodies[i]);
    }
    expect_str("/s:Envelope/s:Header/a:RelatesTo", "0");
}
END_TEST

START_TEST(test_header_faults)
{
    const char *id = wt_create_job(&T, "h");
    char sel[256];

    snprintf(sel, sizeof(sel), SEL("%s"), id);
    /* missing Action / MessageID / ResourceURI */
    expect_fault(wt_send_env(&T, &T.admin, wt_env(NULL, NS_JOB, MID, sel, "")), 400,
                 "MessageInformationHeaderRequired", NULL);
    expect_str("/s:Envelope/s:Header/a:Action", WSMAN_ACTION_FAULT_ADDRESSING);
    expect_fault(wt_send_env(&T, &T.admin, wt_env(WSMAN_ACTION_GET, NS_JOB, NULL, sel, "")),
                 400, "MessageInformationHeaderRequired", NULL);
    expect_fault(wt_send_env(&T, &T.admin, wt_env(WSMAN_ACTION_GET, NULL, MID, sel, "")), 400,
                 "MessageInformationHeaderRequired", NULL);
    /* a To that is not ours is fine */
    ck_assert_int_eq(wt_send_env(&T, &T.admin, get_env(id, NULL)), 200);
    /* unknown resource */
    expect_fault(wt_send_env(&T, &T.admin,
                             wt_env(WSMAN_ACTION_GET, "http://example.org/Nope", MID, sel, "")),
                 400, "DestinationUnreachable", "InvalidResourceURI");
    expect_str("/s:Envelope/s:Header/a:RelatesTo",
               "uuid:5e3b0000-1111-2222-3333-444455556666");
    /* unknown action and unknown method */
    expect_fault(wt_send_env(&T, &T.admin,
                             wt_env(WSMAN_NS_TRANSFER "/Create", NS_JOB, MID, sel, "")),
                 400, "ActionNotSupported", NULL);
    expect_fault(wt_send_env(&T, &T.admin, wt_env(NS_JOB "/Frobnicate", NS_JOB, MID, sel, "")),
                 400, "ActionNotSupported", NULL);
    /* unknown header with s:mustUnderstand="true" */
    ck_assert_int_eq(wt_send_env(&T, &T.admin,
                                 get_env(id, "<z:Zap xmlns:z=\"urn:zap\" "
                                             "s:mustUnderstand=\"true\">1</z:Zap>")),
                     500);
    ck_assert_int_eq(wt_count(&T, "//s:Fault/s:Code/s:Subcode"), 0);
    expect_str("/s:Envelope/s:Body/s:Fault/s:Code/s:Value", "s:MustUnderstand");
    expect_str("/s:Envelope/s:Header/s:NotUnderstood/@qname", "nu:Zap");
    ck_assert_ptr_nonnull(strstr(T.reply.body, "xmlns:nu=\"urn:zap\""));
    /* ... but the unqualified attribute is not the SOAP one */
    ck_assert_int_eq(wt_send_env(&T, &T.admin,
                                 get_env(id, "<z:Zap xmlns:z=\"urn:zap\" "
                                             "mustUnderstand=\"true\">1</z:Zap>")),
                     200);
    /* Locale: ignored unless mU */
    ck_assert_int_eq(wt_send_env(&T, &T.admin,
                                 get_env(id, "<w:Locale xml:lang=\"en-US\" "
                                             "s:mustUnderstand=\"false\"/>")),
                     200);
    expect_fault(wt_send_env(&T, &T.admin,
                             get_env(id, "<w:Locale xml:lang=\"de-DE\" "
                                         "s:mustUnderstand=\"true\"/>")),
                 400, "UnsupportedFeature", "Locale");
    expect_str("/s:Envelope/s:Header/a:Action", WSMAN_ACTION_FAULT_WSMAN);
    /* FaultTo */
    ck_assert_int_eq(wt_send_env(&T, &T.admin,
                                 get_env(id, "<a:FaultTo><a:Address>" WSMAN_ADDRESS_ANONYMOUS
                                             "</a:Address></a:FaultTo>")),
                     200);
    expect_fault(wt_send_env(&T, &T.admin,
                             get_env(id, "<a:FaultTo><a:Address>http://elsewhere/x"
                                         "</a:Address></a:FaultTo>")),
                 400, "UnsupportedFeature", "AddressingMode");
    /* OptionSet: understood (options ignored) unless one must be complied with */
    ck_assert_int_eq(wt_send_env(&T, &T.admin,
                                 get_env(id, "<w:OptionSet s:mustUnderstand=\"true\"><w:Option "
                                             "Name=\"x\">1</w:Option></w:OptionSet>")),
                     200);
    expect_fault(wt_send_env(&T, &T.admin,
                             get_env(id, "<w:OptionSet><w:Option Name=\"x\" "
                                         "MustComply=\"true\">1</w:Option></w:OptionSet>")),
                 400, "UnsupportedFeature", "OptionSet");
    ck_assert_int_eq(wt_send_env(&T, &T.admin,
                                 get_env(id, "<w:OptionSet><w:Option Name=\"WINRS_CODEPAGE\">437"
                                             "</w:Option></w:OptionSet>")),
                     200);
}
END_TEST

START_TEST(test_fault_body_shape)
{
    expect_fault(wt_send_env(&T, &T.admin,
                             wt_env(WSMAN_ACTION_GET, NS_JOB, MID, "", "")),
                 400, "InvalidSelectors", "InsufficientSelectors");
    expect_str("/s:Envelope/s:Body/s:Fault/s:Code/s:Value", "s:Sender");
    expect_str("/s:Envelope/s:Body/s:Fault/s:Reason/s:Text/@xml:lang", "en-US");
    expect_str("/s:Envelope/s:Header/a:Action", WSMAN_ACTION_FAULT_WSMAN);
    expect_str("/s:Envelope/s:Header/a:To", WSMAN_ADDRESS_ANONYMOUS);
    ck_assert_int_eq(wt_count(&T, "//s:Detail/f:WSManFault/f:Message"), 1);
    /* the subcode's prefix is declared in scope */
    char *v = wt_x(&T, "/s:Envelope/s:Body/s:Fault/s:Code/s:Subcode/s:Value");
    ck_assert_str_eq(v, "w:InvalidSelectors");
    free(v);
    ck_assert_ptr_nonnull(strstr(T.reply.body, "xmlns:w=\"" WSMAN_NS_WSMAN "\""));
}
END_TEST

START_TEST(test_selector_faults)
{
    const char *id = wt_create_job(&T, "sel");
    char sel[512];

    snprintf(sel, sizeof(sel),
             "<w:SelectorSet><w:Selector Name=\"JobId\">%s</w:Selector>"
             "<w:Selector Name=\"Other\">x</w:Selector></w:SelectorSet>", id);
    expect_fault(wt_send_env(&T, &T.admin, wt_env(WSMAN_ACTION_GET, NS_JOB, MID, sel, "")),
                 400, "InvalidSelectors", "UnexpectedSelectors");
    snprintf(sel, sizeof(sel),
             "<w:SelectorSet><w:Selector Name=\"JobId\">%s</w:Selector>"
             "<w:Selector Name=\"jobid\">%s</w:Selector></w:SelectorSet>", id, id);
    expect_fault(wt_send_env(&T, &T.admin, wt_env(WSMAN_ACTION_GET, NS_JOB, MID, sel, "")),
                 400, "InvalidSelectors", "DuplicateSelectors");
    snprintf(sel, sizeof(sel),
             "<w:SelectorSet><w:Selector Name=\"JobId\"><a:EndpointReference><a:Address>x"
             "</a:Address></a:EndpointReference></w:Selector></w:SelectorSet>");
    expect_fault(wt_send_env(&T, &T.admin, wt_env(WSMAN_ACTION_GET, NS_JOB, MID, sel, "")),
                 400, "InvalidSelectors", "TypeMismatch");
    expect_fault(wt_send_env(&T, &T.admin, get_env("not-a-guid", NULL)), 400,
                 "InvalidSelectors", "InvalidValue");
    /* a Get of a missing instance: InvalidSelectors/InvalidValue (documented choice) */
    expect_fault(wt_send_env(&T, &T.admin,
                             get_env("{00000000-0000-4000-8000-000000000000}", NULL)),
                 400, "InvalidSelectors", "InvalidValue");
    /* the selector name is case-insensitive; __cimnamespace is accepted */
    snprintf(sel, sizeof(sel),
             "<w:SelectorSet><w:Selector Name=\"jobID\">%s</w:Selector>"
             "<w:Selector Name=\"__cimnamespace\">root/microsoft/bits</w:Selector>"
             "</w:SelectorSet>", id);
    ck_assert_int_eq(wt_send_env(&T, &T.admin, wt_env(WSMAN_ACTION_GET, NS_JOB, MID, sel, "")),
                     200);
    /* static methods take no selectors */
    snprintf(sel, sizeof(sel), SEL("%s"), id);
    expect_fault(wt_send_env(&T, &T.admin,
                             wt_env(NS_JOB "/CreateJob", NS_JOB, MID, sel,
                                    "<p:CreateJob_INPUT xmlns:p=\"" NS_JOB "\"><p:DisplayName>x"
                                    "</p:DisplayName><p:RemoteUrl>http://h/x</p:RemoteUrl>"
                                    "<p:LocalFile>/a</p:LocalFile></p:CreateJob_INPUT>")),
                 400, "InvalidSelectors", "UnexpectedSelectors");
    /* instance methods need theirs */
    expect_fault(wt_invoke(&T, NS_JOB, "SetJobState", NULL, NULL, "<p:JobState>2</p:JobState>"),
                 400, "InvalidSelectors", "InsufficientSelectors");
}
END_TEST

START_TEST(test_invoke_and_params)
{
    const char *id = wt_create_job(&T, "inv");
    char idc[64];

    snprintf(idc, sizeof(idc), "%s", id);
    ck_assert_int_eq(wt_invoke(&T, NS_JOB, "SetJobState", "JobId", idc,
                               "<p:JobState>2</p:JobState>"),
                     200);
    expect_str("/s:Envelope/s:Header/a:Action", NS_JOB "/SetJobStateResponse");
    expect_str("/s:Envelope/s:Body/p:SetJobState_OUTPUT/p:ReturnValue", "0");
    expect_str("/s:Envelope/s:Header/a:RelatesTo", "uuid:1");
    ck_assert_str_eq(fake_engine_last(T.fe, "state"), "2");
    /* complete from QUEUED: a BITS code as ReturnValue, not a fault */
    ck_assert_int_eq(wt_invoke(&T, NS_JOB, "SetJobState", "JobId", idc,
                               "<p:JobState>1</p:JobState>"),
                     200);
    expect_str("//p:SetJobState_OUTPUT/p:ReturnValue", "2149580802");
    /* case-insensitive method and parameter names (WinRM parity) */
    ck_assert_int_eq(wt_invoke(&T, NS_JOB, "setjobstate", "JobId", idc,
                               "<p:jobstate>3</p:jobstate>"),
                     200);
    expect_str("//p:SetJobState_OUTPUT/p:ReturnValue", "0");
    expect_str("/s:Envelope/s:Header/a:Action", NS_JOB "/setjobstateResponse");
    ck_assert_str_eq(fake_engine_last(T.fe, "state"), "3");
    /* parameter faults */
    expect_fault(wt_invoke(&T, NS_JOB, "SetJobState", "JobId", idc, ""), 400,
                 "InvalidParameter", "MissingValues");
    expect_fault(wt_invoke(&T, NS_JOB, "SetJobState", "JobId", idc,
                           "<p:JobState>two</p:JobState>"),
                 400, "InvalidParameter", "TypeMismatch");
    expect_fault(wt_invoke(&T, NS_JOB, "SetJobState", "JobId", idc,
                           "<p:JobState>7</p:JobState>"),
                 400, "InvalidParameter", "InvalidValue");
    expect_fault(wt_invoke(&T, NS_JOB, "SetJobState", "JobId", idc,
                           "<p:JobState>2</p:JobState><p:Force>1</p:Force>"),
                 400, "InvalidParameter", "InvalidName");
    expect_fault(wt_invoke(&T, NS_JOB, "SetJobState", "JobId", idc,
                           "<p:JobState>2</p:JobState><p:JobState>3</p:JobState>"),
                 400, "InvalidParameter", "InvalidValue");
    /* _INPUT in the wrong namespace */
    char sel[256];
    snprintf(sel, sizeof(sel), SEL("%s"), idc);
    expect_fault(wt_send_env(&T, &T.admin,
                             wt_env(NS_JOB "/SetJobState", NS_JOB, MID, sel,
                                    "<q:SetJobState_INPUT xmlns:q=\"urn:other\"><q:JobState>2"
                                    "</q:JobState></q:SetJobState_INPUT>")),
                 400, "InvalidParameter", "InvalidNamespace");
    /* engine INVALID_PARAMETER -> w:InvalidParameter */
    expect_fault(wt_invoke(&T, NS_JOB, "AddFile", "JobId", idc,
                           "<p:RemoteUrl>http://h/y</p:RemoteUrl><p:LocalFile>rel/y"
                           "</p:LocalFile>"),
                 400, "InvalidParameter", NULL);
    /* engine NOT_FOUND -> w:InvalidSelectors */
    expect_fault(wt_invoke(&T, NS_JOB, "AddFile", "JobId",
                           "{00000000-0000-4000-8000-000000000000}",
                           "<p:RemoteUrl>http://h/y</p:RemoteUrl><p:LocalFile>/y</p:LocalFile>"),
                 400, "InvalidSelectors", "InvalidValue");
    ck_assert_int_eq(wt_invoke(&T, NS_JOB, "AddFile", "JobId", idc,
                               "<p:RemoteUrl>http://h/y</p:RemoteUrl><p:LocalFile>/srv/in/y"
                               "</p:LocalFile>"),
                     200);
    expect_str("//p:AddFile_OUTPUT/p:ReturnValue", "0");
    /* xsi:nil parameters are absent */
    ck_assert_int_eq(wt_invoke(&T, NS_JOB, "SetProxySettings", "JobId", idc,
                               "<p:ProxyUsage>1</p:ProxyUsage><p:ProxyList xmlns:xsi=\""
                               WSMAN_NS_XSI "\" xsi:nil=\"true\"/>"),
                     200);
    ck_assert_str_eq(fake_engine_last(T.fe, "proxy"), "1||");
    /* SetOption (ferry's own) */
    ck_assert_int_eq(wt_invoke(&T, NS_JOB, "SetOption", "JobId", idc,
                               "<p:Name>Mirror</p:Name><p:Value>http://m/x</p:Value>"),
                     200);
    ck_assert_str_eq(fake_engine_last(T.fe, "option"), "Mirror=http://m/x");
    /* SetNotifyCmdLine (BITS's, IBackgroundCopyJob2): both strings reach the engine */
    ck_assert_int_eq(wt_invoke(&T, NS_JOB, "SetNotifyCmdLine", "JobId", idc,
                               "<p:Program>/usr/bin/logger</p:Program>"
                               "<p:Parameters>logger -t 'a b'</p:Parameters>"),
                     200);
    expect_str("//p:SetNotifyCmdLine_OUTPUT/p:ReturnValue", "0");
    ck_assert_str_eq(fake_engine_last(T.fe, "notify_cmd"), "/usr/bin/logger|logger -t 'a b'");
    ck_assert_int_eq(wt_invoke(&T, NS_JOB, "SetNotifyCmdLine", "JobId", idc, ""), 200);
    ck_assert_str_eq(fake_engine_last(T.fe, "notify_cmd"), "|");
    /* SetCredentials: recorded, never shown by Get */
    ck_assert_int_eq(wt_invoke(&T, NS_JOB, "SetCredentials", "JobId", idc,
                               "<p:Target>0</p:Target><p:Scheme>0</p:Scheme>"
                               "<p:UserName>u</p:UserName><p:Password>s3cret</p:Password>"),
                     200);
    ck_assert_str_eq(fake_engine_last(T.fe, "password"), "s3cret");
    ck_assert_int_eq(wt_send_env(&T, &T.admin, get_env(idc, NULL)), 200);
    ck_assert_ptr_null(strstr(T.reply.body, "s3cret"));
    expect_str("//p:HasCredentials", "true");
    ck_assert_int_eq(wt_invoke(&T, NS_JOB, "RemoveCredentials", "JobId", idc,
                               "<p:Target>0</p:Target><p:Scheme>0</p:Scheme>"),
                     200);
    ck_assert_int_eq(wt_invoke(&T, NS_JOB, "RemoveClientCertificate", "JobId", idc, ""), 200);
    expect_str("//p:RemoveClientCertificate_OUTPUT/p:ReturnValue", "0");
}
END_TEST

START_TEST(test_cert_hash_forms)
{
    const char *id = wt_create_job(&T, "cert");
    char idc[64], arr[2048] = "";

    snprintf(idc, sizeof(idc), "%s", id);
    ck_assert_int_eq(wt_invoke(&T, NS_JOB, "SetClientCertificateById", "JobId", idc,
                               "<p:CertStoreLocation>1</p:CertStoreLocation>"
                               "<p:StoreName>MY</p:StoreName>"
                               "<p:CertHash>00112233445566778899AABBCCDDEEFF00112233</p:CertHash>"),
                     200);
    ck_assert_str_eq(fake_engine_last(T.fe, "cert"),
                     "1|MY|00112233445566778899aabbccddeeff00112233");
    strncpy(arr, "<p:CertStoreLocation>0</p:CertStoreLocation><p:StoreName>MY</p:StoreName>",
            sizeof(arr) - 1);
    for (int i = 0; i < 20; i++) {
        size_t l = strlen(arr);
        snprintf(arr + l, sizeof(arr) - l, "<p:CertHash>%d</p:CertHash>", i * 10);
    }
    ck_assert_int_eq(wt_invoke(&T, NS_JOB, "SetClientCertificateById", "JobId", idc, arr), 200);
    ck_assert_str_eq(fake_engine_last(T.fe, "cert"),
                     "0|MY|000a141e28323c46505a646e78828c96a0aab4be");
    expect_fault(wt_invoke(&T, NS_JOB, "SetClientCertificateById", "JobId", idc,
                           "<p:CertStoreLocation>1</p:CertStoreLocation><p:StoreName>MY"
                           "</p:StoreName><p:CertHash>0011</p:CertHash>"),
                 400, "InvalidParameter", "InvalidValue");
    expect_fault(wt_invoke(&T, NS_JOB, "SetClientCertificateById", "JobId", idc,
                           "<p:CertStoreLocation>1</p:CertStoreLocation><p:StoreName>MY"
                           "</p:StoreName><p:CertHash>zz</p:CertHash>"),
                 400, "InvalidParameter", "TypeMismatch");
    ck_assert_int_eq(wt_invoke(&T, NS_JOB, "SetClientCertificateByName", "JobId", idc,
                               "<p:CertStoreLocation>0</p:CertStoreLocation>"
                               "<p:StoreName>MY</p:StoreName>"
                               "<p:SubjectName>CN=client.test</p:SubjectName>"),
                     200);
    ck_assert_str_eq(fake_engine_last(T.fe, "cert"), "0|MY|subject=CN=client.test");
    expect_fault(wt_invoke(&T, NS_JOB, "SetClientCertificateByName", "JobId", idc,
                           "<p:CertStoreLocation>0</p:CertStoreLocation>"
                           "<p:StoreName>MY</p:StoreName>"),
                 400, "InvalidParameter", "MissingValues");
}
END_TEST

START_TEST(test_get_error)
{
    const char *id = wt_create_job(&T, "err");
    char idc[64];

    snprintf(idc, sizeof(idc), "%s", id);
    ck_assert_int_eq(wt_invoke(&T, NS_JOB, "GetError", "JobId", idc, ""), 200);
    expect_str("//p:GetError_OUTPUT/p:ReturnValue", "2149580802");
    ck_assert_int_eq(wt_count(&T, "//p:GetError_OUTPUT/p:ErrorCode"), 0);
    fake_engine_set_state(T.fe, idc, FERRY_JOB_ERROR);
    ck_assert_int_eq(wt_invoke(&T, NS_JOB, "GetError", "JobId", idc,
                               "<p:LanguageId>1033</p:LanguageId>"),
                     200);
    expect_str("//p:GetError_OUTPUT/p:ReturnValue", "0");
    expect_str("//p:GetError_OUTPUT/p:ErrorContext", "5");
    expect_str("//p:GetError_OUTPUT/p:ErrorCode", "2149122452"); /* 0x80190194 */
    expect_str("//p:GetError_OUTPUT/p:File", "http://h/x");
    ck_assert_int_eq(wt_count(&T, "//p:GetError_OUTPUT/p:ErrorDescription"), 1);
}
END_TEST

START_TEST(test_put)
{
    const char *id = wt_create_job(&T, "put");
    char idc[64], sel[256], *body, *p, *env;

    snprintf(idc, sizeof(idc), "%s", id);
    ck_assert_int_eq(wt_send_env(&T, &T.admin, get_env(idc, NULL)), 200);
    /* Set-WSManInstance style: take the instance from the Get, change Priority and a
     * read-only State, send the whole instance back */
    p = strstr(T.reply.body, "<p:BitsClientJob>");
    ck_assert_ptr_nonnull(p);
    body = strndup(p, (size_t)(strstr(p, "</p:BitsClientJob>") - p) +
                          strlen("</p:BitsClientJob>"));
    char *pr = strstr(body, "<p:Priority>2<");
    ck_assert_ptr_nonnull(pr);
    pr[strlen("<p:Priority>")] = '1';
    char *stt = strstr(body, "<p:State>3<");
    ck_assert_ptr_nonnull(stt);
    stt[strlen("<p:State>")] = '6';
    snprintf(sel, sizeof(sel), SEL("%s") "%s", idc, "");
    /* the class namespace is declared on the envelope, as wsl does */
    env = wt_env(WSMAN_ACTION_PUT, NS_JOB, MID, sel, body);
    char *e2 = NULL;
    char *gt = strchr(strstr(env, "<s:Envelope"), '>');
    ck_assert_int_gt(asprintf(&e2, "%.*s xmlns:p=\"%s\"%s", (int)(gt - env), env, NS_JOB, gt),
                     0);
    free(env);
    ck_assert_msg(wt_send_env(&T, &T.admin, e2) == 200, "%s", T.reply.body);
    expect_str("/s:Envelope/s:Header/a:Action", WSMAN_ACTION_PUT_RESPONSE);
    expect_str("//p:BitsClientJob/p:Priority", "1");
    expect_str("//p:BitsClientJob/p:State", "3");
    ck_assert_int_eq(wt_send_env(&T, &T.admin, get_env(idc, NULL)), 200);
    expect_str("//p:BitsClientJob/p:Priority", "1");
    free(body);

    /* a subset of writable properties, ferry's extras */
    ck_assert_int_eq(
        wt_send_env(&T, &T.admin,
                    wt_env(WSMAN_ACTION_PUT, NS_JOB, MID, sel,
                           "<q:BitsClientJob xmlns:q=\"" NS_JOB "\"><q:DisplayName>renamed"
                           "</q:DisplayName><q:MinimumRetryDelay>30</q:MinimumRetryDelay>"
                           "<q:ConnectionsPerFile>8</q:ConnectionsPerFile><q:BandwidthLimit>"
                           "1048576</q:BandwidthLimit></q:BitsClientJob>")),
        200);
    expect_str("//p:BitsClientJob/p:DisplayName", "renamed");
    expect_str("//p:BitsClientJob/p:MinimumRetryDelay", "30");
    expect_str("//p:BitsClientJob/p:ConnectionsPerFile", "8");
    expect_str("//p:BitsClientJob/p:BandwidthLimit", "1048576");
    /* the notification properties: NotifyFlags (0..31) and ferry's NotifyUrl are writable,
     * NotifyProgram / NotifyCmdLine read-only (ignored in a Put) */
    ck_assert_int_eq(
        wt_send_env(&T, &T.admin,
                    wt_env(WSMAN_ACTION_PUT, NS_JOB, MID, sel,
                           "<q:BitsClientJob xmlns:q=\"" NS_JOB "\"><q:NotifyFlags>9"
                           "</q:NotifyFlags><q:NotifyUrl>http://h/hook</q:NotifyUrl>"
                           "<q:NotifyCmdLine>/bin/ignored</q:NotifyCmdLine>"
                           "</q:BitsClientJob>")),
        200);
    expect_str("//p:BitsClientJob/p:NotifyFlags", "9");
    ck_assert_str_eq(fake_engine_last(T.fe, "notify_url"), "http://h/hook");
    ck_assert_str_eq(fake_engine_last(T.fe, "notify_cmd"), "");
    expect_fault(wt_send_env(&T, &T.admin,
                             wt_env(WSMAN_ACTION_PUT, NS_JOB, MID, sel,
                                    "<q:BitsClientJob xmlns:q=\"" NS_JOB "\"><q:NotifyFlags>32"
                                    "</q:NotifyFlags></q:BitsClientJob>")),
                 400, "InvalidRepresentation", "InvalidValues");
    /* unknown property, bad value, bad namespace, engine refusal */
    expect_fault(wt_send_env(&T, &T.admin,
                             wt_env(WSMAN_ACTION_PUT, NS_JOB, MID, sel,
                                    "<q:BitsClientJob xmlns:q=\"" NS_JOB "\"><q:Color>red"
                                    "</q:Color></q:BitsClientJob>")),
                 400, "InvalidRepresentation", "InvalidValues");
    expect_str("/s:Envelope/s:Header/a:Action", WSMAN_ACTION_FAULT_TRANSFER);
    expect_fault(wt_send_env(&T, &T.admin,
                             wt_env(WSMAN_ACTION_PUT, NS_JOB, MID, sel,
                                    "<q:BitsClientJob xmlns:q=\"" NS_JOB "\"><q:Priority>9"
                                    "</q:Priority></q:BitsClientJob>")),
                 400, "InvalidRepresentation", "InvalidValues");
    expect_fault(wt_send_env(&T, &T.admin,
                             wt_env(WSMAN_ACTION_PUT, NS_JOB, MID, sel,
                                    "<q:BitsClientJob xmlns:q=\"urn:x\"><q:Priority>1"
                                    "</q:Priority></q:BitsClientJob>")),
                 400, "InvalidRepresentation", "InvalidNamespace");
    expect_fault(wt_send_env(&T, &T.admin,
                             wt_env(WSMAN_ACTION_PUT, NS_JOB, MID, sel,
                                    "<q:BitsClientJob xmlns:q=\"" NS_JOB "\"><q:MinimumRetryDelay>"
                                    "1</q:MinimumRetryDelay></q:BitsClientJob>")),
                 400, "InvalidRepresentation", "InvalidValues");
    /* Put on a read-only class */
    expect_fault(wt_send_env(&T, &T.admin,
                             wt_env(WSMAN_ACTION_PUT, NS_GROUP, MID,
                                    "<w:SelectorSet><w:Selector Name=\"UrlGroup\">http://+:1/g"
                                    "</w:Selector></w:SelectorSet>", "<x/>")),
                 400, "ActionNotSupported", NULL);
}
END_TEST

START_TEST(test_access_denied)
{
    const char *id = wt_create_job(&T, "acl");

    expect_fault(wt_send_env(&T, &T.bob, get_env(id, NULL)), 400, "AccessDenied", NULL);
}
END_TEST

START_TEST(test_max_envelope_size)
{
    const char *id = wt_create_job(&T, "big");
    char idc[64], url[1100], params[1400];

    snprintf(idc, sizeof(idc), "%s", id);
    expect_fault(wt_send_env(&T, &T.admin,
                             get_env(idc, "<w:MaxEnvelopeSize s:mustUnderstand=\"true\">4096"
                                          "</w:MaxEnvelopeSize>")),
                 400, "EncodingLimit", "MinimumEnvelopeLimit");
    ck_assert_int_eq(wt_send_env(&T, &T.admin,
                                 get_env(idc, "<w:MaxEnvelopeSize s:mustUnderstand=\"true\">8192"
                                              "</w:MaxEnvelopeSize>")),
                     200);
    /* grow the instance past 8192 bytes */
    memset(url, 'u', sizeof(url));
    memcpy(url, "http://h/", 9);
    url[1000] = '\0';
    for (int i = 0; i < 7; i++) {
        snprintf(params, sizeof(params),
                 "<p:RemoteUrl>%s</p:RemoteUrl><p:LocalFile>/srv/in/f%d</p:LocalFile>", url, i);
        ck_assert_int_eq(wt_invoke(&T, NS_JOB, "AddFile", "JobId", idc, params), 200);
    }
    expect_fault(wt_send_env(&T, &T.admin,
                             get_env(idc, "<w:MaxEnvelopeSize s:mustUnderstand=\"true\">8192"
                                          "</w:MaxEnvelopeSize>")),
                 400, "EncodingLimit", "MaxEnvelopeSize");
    ck_assert_int_eq(wt_send_env(&T, &T.admin, get_env(idc, NULL)), 200);
    ck_assert_uint_gt(T.reply.len, 8192);
    expect_fault(wt_send_env(&T, &T.admin,
                             get_env(idc, "<w:MaxEnvelopeSize>lots</w:MaxEnvelopeSize>")),
                 400, "InvalidMessageInformationHeader", "MaxEnvelopeSize");
    /* the service's own cap on requests */
    T.wcfg.max_envelope = 2048;
    wt_reset_ctx(&T);
    char *env = get_env(idc, NULL);
    char *bigenv = NULL;
    ck_assert_int_gt(asprintf(&bigenv, "%s<!-- %0*d -->", env, 3000, 0), 0);
    free(env);
    expect_fault(wt_send_env(&T, &T.admin, bigenv), 400, "EncodingLimit",
                 "ServiceEnvelopeLimit");
}
END_TEST

START_TEST(test_operation_timeout)
{
    const char *id = wt_create_job(&T, "to");
    char idc[64];

    snprintf(idc, sizeof(idc), "%s", id);
    ck_assert_int_eq(wt_send_env(&T, &T.admin,
                                 get_env(idc, "<w:OperationTimeout>PT0.5S</w:OperationTimeout>")),
                     200);
    ck_assert_int_eq(wt_send_env(&T, &T.admin,
                                 get_env(idc, "<w:OperationTimeout>PT60.000S"
                                              "</w:OperationTimeout>")),
                     200);
    expect_fault(wt_send_env(&T, &T.admin,
                             get_env(idc, "<w:OperationTimeout>soon</w:OperationTimeout>")),
                 400, "InvalidMessageInformationHeader", "OperationTimeout");
    expect_fault(wt_send_env(&T, &T.admin,
                             get_env(idc, "<w:OperationTimeout>PT0S</w:OperationTimeout>")),
                 500, "TimedOut", NULL);
}
END_TEST

START_TEST(test_duration_parse)
{
    int64_t ms;

    ck_assert_int_eq(wsman_duration_parse("PT0.5S", &ms), 0);
    ck_assert_int_eq(ms, 500);
    ck_assert_int_eq(wsman_duration_parse("PT60.000S", &ms), 0);
    ck_assert_int_eq(ms, 60000);
    ck_assert_int_eq(wsman_duration_parse("PT20S", &ms), 0);
    ck_assert_int_eq(ms, 20000);
    ck_assert_int_eq(wsman_duration_parse("PT1M30.25S", &ms), 0);
    ck_assert_int_eq(ms, 90250);
    ck_assert_int_eq(wsman_duration_parse("P1DT1H", &ms), 0);
    ck_assert_int_eq(ms, 90000000);
    ck_assert_int_eq(wsman_duration_parse("P1Y2M3D", &ms), 0);
    ck_assert_int_eq(ms, (365 + 60 + 3) * 86400000LL);
    const char *bad[] = {"", "P", "PT", "5S", "PT-1S", "-PT1S", "PT1.S", "P1H", "PT1.5M",
                         "PT1S1M", "PT1SX", "P1DT", "PTS", "PT99999999999999999999S"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(wsman_duration_parse(bad[i], &ms) < 0, "'%s' accepted", bad[i]);
}
END_TEST

START_TEST(test_hostile_xml)
{
    /* XXE */
    expect_fault(wt_send(&T, &T.admin,
                         "<?xml version=\"1.0\"?><!DOCTYPE s [<!ENTITY x SYSTEM "
                         "\"file:///etc/passwd\">]><s:Envelope xmlns:s=\"" WSMAN_NS_SOAP "\">"
                         "<s:Body>&x;</s:Body></s:Envelope>"),
                 400, "SchemaValidationError", NULL);
    ck_assert_ptr_null(strstr(T.reply.body, "root:"));
    /* billion laughs */
    expect_fault(wt_send(&T, &T.admin,
                         "<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"aaaaaaaaaa\">"
                         "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">"
                         "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">]>"
                         "<s:Envelope xmlns:s=\"" WSMAN_NS_SOAP "\"><s:Body>&c;</s:Body>"
                         "</s:Envelope>"),
                 400, "SchemaValidationError", NULL);
    /* a bare DOCTYPE */
    expect_fault(wt_send(&T, &T.admin, "<!DOCTYPE x><x/>"), 400, "SchemaValidationError",
                 NULL);
    /* deep nesting */
    size_t depth = 200000;
    char *deep = malloc(depth * 7 + 1);
    size_t o = 0;
    for (size_t i = 0; i < depth; i++) {
        memcpy(deep + o, "<a>", 3);
        o += 3;
    }
    deep[o] = '\0';
    T.wcfg.max_envelope = 4 * 1024 * 1024;
    wt_reset_ctx(&T);
    expect_fault(wt_send(&T, &T.admin, deep), 400, "EncodingLimit", "ServiceEnvelopeLimit");
    free(deep);
    /* many nodes */
    char *wide = malloc(40000 * 4 + 64);
    o = 0;
    o += (size_t)snprintf(wide, 64, "<r>");
    for (int i = 0; i < 40000; i++) {
        memcpy(wide + o, "<a/>", 4);
        o += 4;
    }
    memcpy(wide + o, "</r>", 5);
    expect_fault(wt_send(&T, &T.admin, wide), 400, "EncodingLimit", "ServiceEnvelopeLimit");
    free(wide);
    /* malformed and not an envelope */
    expect_fault(wt_send(&T, &T.admin, "<s:Envelope"), 400, "SchemaValidationError", NULL);
    expect_fault(wt_send(&T, &T.admin, "<Envelope xmlns=\"urn:soap11\"><Body/></Envelope>"), 400,
                 "SchemaValidationError", NULL);
    expect_fault(wt_send(&T, &T.admin,
                         "<s:Envelope xmlns:s=\"" WSMAN_NS_SOAP "\"><s:Header/></s:Envelope>"),
                 400, "SchemaValidationError", NULL);
    /* empty body */
    wsman_reply_done(&T.reply);
    ck_assert_int_eq(wsman_dispatch(T.ctx, "", 0, &T.admin, &T.reply), 0);
    ck_assert_int_eq(T.reply.http_status, 400);
}
END_TEST

START_TEST(test_utf16_request)
{
    const char *id = wt_create_job(&T, "utf16");
    char *env = get_env(id, NULL);
    size_t n = strlen(env);
    /* UTF-16LE with a BOM; replace the declared encoding */
    char *decl = strstr(env, "encoding=\"UTF-8\"");
    ck_assert_ptr_nonnull(decl);
    memmove(decl, decl + 16, strlen(decl + 16) + 1);
    n = strlen(env);
    char *u16 = malloc(2 * n + 2);
    u16[0] = (char)0xFF;
    u16[1] = (char)0xFE;
    for (size_t i = 0; i < n; i++) {
        u16[2 + 2 * i] = env[i];
        u16[3 + 2 * i] = 0;
    }
    wsman_reply_done(&T.reply);
    ck_assert_int_eq(wsman_dispatch(T.ctx, u16, 2 * n + 2, &T.admin, &T.reply), 0);
    ck_assert_msg(T.reply.http_status == 200, "%s", T.reply.body);
    expect_str("//p:BitsClientJob/p:JobId", id);
    free(u16);
    free(env);
}
END_TEST

START_TEST(test_urlgroup_flow)
{
    const char *g = "http://+:8080/images";
    char cert[2048] = "";

    ck_assert_int_eq(wt_invoke(&T, NS_GROUP, "CreateUrlGroup", NULL, NULL,
                               "<p:UrlGroup>http://+:8080/images</p:UrlGroup>"),
                     200);
    expect_str("//pg:CreateUrlGroup_OUTPUT/pg:ReturnValue", "0");
    for (int i = 0; i < 32; i++) {
        size_t l = strlen(cert);
        snprintf(cert + l, sizeof(cert) - l,
                 "<p:CertificateHashAccessCheck>%d</p:CertificateHashAccessCheck>", i);
    }
    char params[4096];
    snprintf(params, sizeof(params),
             "<p:UrlSuffix>disk.img</p:UrlSuffix><p:SourceFilePath>/srv/pub/disk.img"
             "</p:SourceFilePath><p:SDDLAuth>D:(A;;GA;;;WD)</p:SDDLAuth>%s", cert);
    ck_assert_int_eq(wt_invoke(&T, NS_GROUP, "CreateUrl", "UrlGroup", g, params), 200);
    expect_str("//pg:CreateUrl_OUTPUT/pg:ReturnValue", "0");
    ck_assert_str_eq(fake_engine_last(T.fe, "certs"),
                     "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    ck_assert_int_eq(wt_invoke(&T, NS_GROUP, "CheckUrl", "UrlGroup", g,
                               "<p:UrlSuffix>disk.img</p:UrlSuffix>"),
                     200);
    expect_str("//pg:CheckUrl_OUTPUT/pg:UrlExists", "true");
    /* a rule the engine refuses: w:InvalidParameter */
    expect_fault(wt_invoke(&T, NS_GROUP, "CreateUrl", "UrlGroup", g,
                           "<p:UrlSuffix>x</p:UrlSuffix><p:SourceFilePath>/srv/pub/x"
                           "</p:SourceFilePath><p:SDDLAuth>O:BAG:BA</p:SDDLAuth>"),
                 400, "InvalidParameter", NULL);
    ck_assert_int_eq(wt_invoke(&T, NS_GROUP, "SetProperty", "UrlGroup", g,
                               "<p:Property>BandwidthLimit</p:Property><p:Value>4096</p:Value>"),
                     200);
    ck_assert_int_eq(wt_invoke(&T, NS_GROUP, "GetProperty", "UrlGroup", g,
                               "<p:Property>BandwidthLimit</p:Property>"),
                     200);
    expect_str("//pg:GetProperty_OUTPUT/pg:Value", "4096");
    ck_assert_int_eq(wt_invoke(&T, NS_GROUP, "SetUrlGroupAuthentication", "UrlGroup", g,
                               "<p:Scheme>1</p:Scheme><p:Enable>true</p:Enable>"),
                     200);
    ck_assert_int_eq(wt_invoke(&T, NS_GROUP, "GetUrlGroupAuthentication", "UrlGroup", g,
                               "<p:Scheme>1</p:Scheme>"),
                     200);
    expect_str("//pg:GetUrlGroupAuthentication_OUTPUT/pg:Enable", "true");
    expect_fault(wt_invoke(&T, NS_GROUP, "SetUrlGroupAuthentication", "UrlGroup", g,
                           "<p:Scheme>1</p:Scheme><p:Enable>true</p:Enable><p:Flag>4</p:Flag>"),
                 400, "InvalidParameter", "InvalidValue");
    ck_assert_int_eq(wt_invoke(&T, NS_GROUP, "SetSslCertificate", "UrlGroup", g,
                               "<p:Port>8443</p:Port><p:StoreName>MY</p:StoreName><p:hashBlob>"
                               "00112233445566778899AABBCCDDEEFF00112233</p:hashBlob>"),
                     200);
    ck_assert_str_eq(fake_engine_last(T.fe, "ssl"), "8443|MY|20");
    /* GetSslCertificate: StoreName and the thumbprint as 20 hashBlob elements */
    ck_assert_int_eq(wt_invoke(&T, NS_GROUP, "GetSslCertificate", "UrlGroup", g,
                               "<p:Port>8443</p:Port>"),
                     200);
    expect_str("//pg:GetSslCertificate_OUTPUT/pg:ReturnValue", "0");
    expect_str("//pg:GetSslCertificate_OUTPUT/pg:StoreName", "MY");
    expect_str("//pg:GetSslCertificate_OUTPUT/pg:hashBlob[1]", "0");
    expect_str("//pg:GetSslCertificate_OUTPUT/pg:hashBlob[20]", "19");
    expect_str("count(//pg:GetSslCertificate_OUTPUT/pg:hashBlob)", "20");
    ck_assert_int_eq(wt_invoke(&T, NS_GROUP, "GetSslCertificate", "UrlGroup", g,
                               "<p:Port>8444</p:Port>"),
                     200);
    expect_str("//pg:GetSslCertificate_OUTPUT/pg:ReturnValue", "2147943568");
    expect_fault(wt_invoke(&T, NS_GROUP, "RemoveSslCertificate", "UrlGroup", g,
                           "<p:Port>0</p:Port>"),
                 400, "InvalidParameter", "InvalidValue");
    ck_assert_int_eq(wt_invoke(&T, NS_GROUP, "RemoveSslCertificate", "UrlGroup", g,
                               "<p:Port>8443</p:Port>"),
                     200);
    expect_str("//pg:RemoveSslCertificate_OUTPUT/pg:ReturnValue", "0");
    ck_assert_int_eq(wt_invoke(&T, NS_GROUP, "GetSslCertificate", "UrlGroup", g,
                               "<p:Port>8443</p:Port>"),
                     200);
    expect_str("//pg:GetSslCertificate_OUTPUT/pg:ReturnValue", "2147943568");
    /* Get of the group */
    ck_assert_int_eq(wt_send_env(&T, &T.admin,
                                 wt_env(WSMAN_ACTION_GET, NS_GROUP, MID,
                                        "<w:SelectorSet><w:Selector Name=\"UrlGroup\">"
                                        "http://+:8080/images</w:Selector></w:SelectorSet>",
                                        "")),
                     200);
    expect_str("//pg:BitsCompactServerUrlGroup/pg:UrlGroup", g);
    expect_str("//pg:BitsCompactServerUrlGroup/pg:BandwidthLimit", "4096");
    expect_str("//pg:BitsCompactServerUrlGroup/pg:Urls/pg:Url", "http://+:8080/images/disk.img");
    expect_str("//pg:BitsCompactServerUrlGroup/pg:Urls/pg:SDDLAuth", "D:(A;;GA;;;WD)");
    ck_assert_int_eq(wt_invoke(&T, NS_GROUP, "DeleteUrl", "UrlGroup", g,
                               "<p:UrlSuffix>disk.img</p:UrlSuffix>"),
                     200);
    ck_assert_int_eq(wt_invoke(&T, NS_GROUP, "CheckUrl", "UrlGroup", g,
                               "<p:UrlSuffix>disk.img</p:UrlSuffix>"),
                     200);
    expect_str("//pg:CheckUrl_OUTPUT/pg:UrlExists", "false");
    ck_assert_int_eq(wt_invoke(&T, NS_GROUP, "DeleteUrlGroup", "UrlGroup", g, ""), 200);
    expect_fault(wt_invoke(&T, NS_GROUP, "DeleteUrlGroup", "UrlGroup", g, ""), 400,
                 "InvalidSelectors", "InvalidValue");
    expect_fault(wt_send_env(&T, &T.admin,
                             wt_env(WSMAN_ACTION_GET, NS_GROUP, MID,
                                    "<w:SelectorSet><w:Selector Name=\"UrlGroup\">"
                                    "http://+:8080/images</w:Selector></w:SelectorSet>", "")),
                 400, "InvalidSelectors", "InvalidValue");
    /* an invalid prefix: the engine's INVALID_PARAMETER */
    expect_fault(wt_invoke(&T, NS_GROUP, "CreateUrlGroup", NULL, NULL,
                           "<p:UrlGroup>http://+:8080/a/b</p:UrlGroup>"),
                 400, "InvalidParameter", NULL);
}
END_TEST

START_TEST(test_fault_mapping)
{
    struct ferry_status st;
    struct wsman_fault f;
    struct wsman_reply r = {0};

    ferry_status_set(&st, -EIO, FERRY_STATUS_INTERNAL, FERRY_E_FAIL, NULL, "disk on fire");
    ck_assert_int_eq(wsman_fault_from_status(&f, &st), -EINVAL);
    ck_assert_int_eq(f.code, WSMAN_FAULT_INTERNAL_ERROR);
    ck_assert_int_eq(wsman_fault_reply(&f, "uuid:9", &r), 0);
    ck_assert_int_eq(r.http_status, 500);
    ck_assert_ptr_nonnull(strstr(r.body, "w:InternalError"));
    ck_assert_ptr_nonnull(strstr(r.body, "s:Receiver"));
    ck_assert_ptr_nonnull(strstr(r.body, "disk on fire"));
    ck_assert_ptr_nonnull(strstr(r.body, "Code=\"2147500037\""));
    wsman_reply_done(&r);
    /* every code has a name, an action and the right status */
    for (int c = WSMAN_FAULT_NONE + 1; c < WSMAN_FAULT_MAX_; c++) {
        wsman_fault_set(&f, (enum wsman_fault_code)c, "Invalid", NULL);
        ck_assert_int_eq(wsman_fault_reply(&f, NULL, &r), 0);
        ck_assert_int_eq(r.http_status, wsman_fault_http_status((enum wsman_fault_code)c));
        ck_assert_ptr_nonnull(strstr(r.body, wsman_fault_name((enum wsman_fault_code)c)));
        wsman_reply_done(&r);
    }
    ck_assert_int_eq(wsman_fault_http_status(WSMAN_FAULT_INVALID_ENUMERATION_CONTEXT), 500);
    ck_assert_int_eq(wsman_fault_http_status(WSMAN_FAULT_TIMED_OUT), 500);
    ck_assert_int_eq(wsman_fault_http_status(WSMAN_FAULT_ACCESS_DENIED), 400);
    ck_assert_int_eq(wsman_fault_http_status(WSMAN_FAULT_INVALID_REPRESENTATION), 400);
}
END_TEST

static Suite *
dispatch_suite(void)
{
    Suite *s = suite_create("wsman_dispatch");
    TCase *tc = tcase_create("dispatch");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_identify);
    tcase_add_test(tc, test_unauthenticated_only_identify);
    tcase_add_test(tc, test_get_and_headers);
    tcase_add_test(tc, test_prefix_independence);
    tcase_add_test(tc, test_header_faults);
    tcase_add_test(tc, test_fault_body_shape);
    tcase_add_test(tc, test_selector_faults);
    tcase_add_test(tc, test_invoke_and_params);
    tcase_add_test(tc, test_cert_hash_forms);
    tcase_add_test(tc, test_get_error);
    tcase_add_test(tc, test_put);
    tcase_add_test(tc, test_access_denied);
    tcase_add_test(tc, test_max_envelope_size);
    tcase_add_test(tc, test_operation_timeout);
    tcase_add_test(tc, test_duration_parse);
    tcase_add_test(tc, test_hostile_xml);
    tcase_add_test(tc, test_utf16_request);
    tcase_add_test(tc, test_urlgroup_flow);
    tcase_add_test(tc, test_fault_mapping);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(dispatch_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
