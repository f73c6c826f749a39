#!/usr/bin/python3
"""A small WS-Management endpoint written independently of ferry (Python stdlib only) that
speaks the BITS classes the way docs/DESIGN.md §4 describes them. tests/integration/ferryctl_wire.sh
drives ferryctl against it to check what goes on the wire: every request is validated by
namespace URI (Action, To, MessageID, ResourceURI, SelectorSet, the _INPUT element) and a
malformed one is answered with a fault whose subcode is peer:BadRequest, so the test fails.

It uses its own prefixes (env/wsa/wsman/wsen/g) so ferryctl cannot get by on prefixes.

Usage: wsman_peer.py PORTFILE [--fail-jobs] [--user U --password P]
                        [--tls CERT KEY [--client-ca CA]] [--hang]
                        [--fail-limit N]
Writes the port it listens on (127.0.0.1, ephemeral) to PORTFILE and a log of operations
to stdout ("OP name key=value ..."); every request also logs "CONN <client port>" so
tests can see whether connections are reused. With --tls it serves https, and with
--client-ca it requires a client certificate signed by CA. --hang: never answer in time.
--fail-limit N: after N failed logins every request gets 429 with Retry-After: 42.
"""
import base64
import http.server
import sys
import threading
import uuid
import xml.etree.ElementTree as ET

S = "http://www.w3.org/2003/05/soap-envelope"
A = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
W = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
N = "http://schemas.xmlsoap.org/ws/2004/09/enumeration"
T = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
ID = "http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
BITS = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/microsoft/bits/"
JOB = BITS + "BitsClientJob"
GROUP = BITS + "BitsCompactServerUrlGroup"
PAGE = 2  # items per Enumerate/Pull, to force Pull rounds

lock = threading.Lock()
jobs = {}        # id -> dict
job_order = []
groups = {}      # prefix -> {suffix: source}
contexts = {}    # context -> (uri, remaining list)
fail_jobs = "--fail-jobs" in sys.argv
fail_limit = int(sys.argv[sys.argv.index("--fail-limit") + 1]) if "--fail-limit" in sys.argv \
    else None
auth_failures = [0]
user = password = None
if "--user" in sys.argv:
    user = sys.argv[sys.argv.index("--user") + 1]
    password = sys.argv[sys.argv.index("--password") + 1]


def log(*parts):
    print("OP", *parts, flush=True)


def esc(s):
    return (str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


class Fault(Exception):
    def __init__(self, subcode, reason, detail=None, code="env:Sender", status=400):
        self.subcode, self.reason, self.detail, self.code, self.status = (
            subcode, reason, detail, code, status)


def bad(msg):
    raise Fault("peer:BadRequest", msg, status=500)


def envelope(action, relates, body):
    hdr = ""
    if action:
        hdr = ("<wsa:To>%s</wsa:To><wsa:Action>%s</wsa:Action>"
               "<wsa:MessageID>uuid:%s</wsa:MessageID><wsa:RelatesTo>%s</wsa:RelatesTo>" %
               (A + "/role/anonymous", esc(action), uuid.uuid4(), esc(relates or "")))
    return ('<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="%s" '
            'xmlns:wsa="%s" xmlns:wsman="%s" xmlns:wsen="%s" xmlns:wsmid="%s" '
            'xmlns:peer="urn:peer" xmlns:xsi="%s"><env:Header>%s</env:Header>'
            '<env:Body>%s</env:Body></env:Envelope>' % (S, A, W, N, ID, XSI, hdr, body))


def fault_body(f):
    detail = ""
    if f.detail:
        detail = ("<env:Detail><wsman:FaultDetail>http://schemas.dmtf.org/wbem/wsman/1/wsman/"
                  "faultDetail/%s</wsman:FaultDetail></env:Detail>" % f.detail)
    return ("<env:Fault><env:Code><env:Value>%s</env:Value><env:Subcode><env:Value>%s"
            "</env:Value></env:Subcode></env:Code><env:Reason><env:Text xml:lang=\"en-US\">%s"
            "</env:Text></env:Reason>%s</env:Fault>" % (f.code, f.subcode, esc(f.reason), detail))


def job_xml(j, tag="g:BitsClientJob"):
    props = ["JobId", "DisplayName", "Description", "Priority", "MinimumRetryDelay",
             "NoProgressTimeout", "State", "BytesTotal", "BytesTransferred",
             "JobCreationTime", "JobCompletionTime", "TransientErrorCount",
             "ThroughputAverage", "BytesRefetched", "Retries", "ConnectionsPerFile",
             "BandwidthLimit"]
    out = ['<%s xmlns:g="%s">' % (tag, JOB)]
    for p in props:
        v = j.get(p)
        if v is None:
            out.append('<g:%s xsi:nil="true"/>' % p)
        else:
            out.append("<g:%s>%s</g:%s>" % (p, esc(v), p))
    for f in j["Files"]:
        out.append("<g:Files><g:RemoteUrl>%s</g:RemoteUrl><g:LocalFile>%s</g:LocalFile>"
                   "</g:Files>" % (esc(f[0]), esc(f[1])))
    out.append("</%s>" % tag.split()[0])
    return "".join(out)


manifest_gets = {}  # (prefix, suffix) -> Gets seen; the manifest is "ready" from the 2nd


def group_xml(prefix):
    urls = "".join("<g:Urls><g:UrlSuffix>%s</g:UrlSuffix><g:SourceFilePath>%s"
                   "</g:SourceFilePath><g:ManifestReady>%s</g:ManifestReady></g:Urls>" %
                   (esc(s), esc(src), "true" if manifest_gets.get((prefix, s), 0) > 1
                    else "false") for s, src in sorted(groups[prefix].items()))
    return '<g:BitsCompactServerUrlGroup xmlns:g="%s"><g:UrlGroup>%s</g:UrlGroup>%s' \
           '</g:BitsCompactServerUrlGroup>' % (GROUP, esc(prefix), urls)


def text(el):
    return (el.text or "").strip() if el is not None else None


def advance(j):
    """Each Get moves a running job along: CONNECTING, TRANSFERRING x3, TRANSFERRED."""
    if j["State"] in ("0", "1", "2"):
        if fail_jobs:
            j["State"] = "4"
            return
        j["BytesTransferred"] = str(min(int(j["BytesTotal"]),
                                        int(j["BytesTransferred"]) + 1048576 * 10))
        j["State"] = "2"
        if j["BytesTransferred"] == j["BytesTotal"]:
            j["State"] = "6"
            j["JobCompletionTime"] = str(int(j["JobCreationTime"]) + 25000000)


def get_job(sel):
    jid = sel.get("JobId")
    if jid is None or len(sel) != 1:
        raise Fault("wsman:InvalidSelectors", "The Selectors for the resource are not valid.",
                    "InsufficientSelectors" if jid is None else "UnexpectedSelectors")
    if jid not in jobs:
        raise Fault("wsman:InvalidSelectors", "No job with JobId %s." % jid, "InvalidValue")
    return jobs[jid]


def handle(root):
    if root.tag != "{%s}Envelope" % S:
        bad("root is not a SOAP 1.2 Envelope")
    header = root.find("{%s}Header" % S)
    body = root.find("{%s}Body" % S)
    if header is None or body is None:
        bad("Header or Body missing")
    first = list(body)[0] if len(body) else None
    if first is not None and first.tag == "{%s}Identify" % ID:
        if len(header):
            bad("Identify carries headers")
        log("Identify")
        return None, None, ("<wsmid:IdentifyResponse><wsmid:ProtocolVersion>%s"
                            "</wsmid:ProtocolVersion><wsmid:ProductVendor>peer"
                            "</wsmid:ProductVendor><wsmid:ProductVersion>1.0"
                            "</wsmid:ProductVersion></wsmid:IdentifyResponse>" % W)
    action = text(header.find("{%s}Action" % A))
    mid = text(header.find("{%s}MessageID" % A))
    to = text(header.find("{%s}To" % A))
    uri = text(header.find("{%s}ResourceURI" % W))
    reply = text(header.find("{%s}ReplyTo/{%s}Address" % (A, A)))
    if not action or not mid or not to or not uri:
        bad("Action, MessageID, To or ResourceURI missing")
    if not mid.startswith("uuid:") or len(mid) != 41:
        bad("MessageID %r is not uuid:<uuid>" % mid)
    if reply != A + "/role/anonymous":
        bad("ReplyTo is not anonymous")
    for h in ("Action", "ResourceURI"):
        el = header.find("{%s}%s" % (A if h == "Action" else W, h))
        if el.get("{%s}mustUnderstand" % S) != "true":
            bad("%s without s:mustUnderstand" % h)
    sel = {}
    ss = header.find("{%s}SelectorSet" % W)
    if ss is not None:
        for s in ss:
            if s.tag != "{%s}Selector" % W or not s.get("Name"):
                bad("bad selector element")
            sel[s.get("Name")] = text(s)
    if uri not in (JOB, GROUP):
        raise Fault("wsa:DestinationUnreachable", "No such resource.", "InvalidResourceURI")

    if action == T + "/Get" and uri == GROUP:
        prefix = sel.get("UrlGroup")
        if prefix not in groups:
            raise Fault("wsman:InvalidSelectors", "No such group.", "InvalidValue")
        for s in groups[prefix]:
            manifest_gets[(prefix, s)] = manifest_gets.get((prefix, s), 0) + 1
        log("GetGroup", prefix)
        return action + "Response", mid, group_xml(prefix)
    if action == T + "/Get":
        j = get_job(sel)
        advance(j)
        log("Get", j["JobId"], "State=" + j["State"])
        return action + "Response", mid, job_xml(j)
    if action == T + "/Put":
        j = get_job(sel)
        inst = first
        if inst is None or inst.tag != "{%s}BitsClientJob" % JOB:
            bad("Put body is not a BitsClientJob in the class namespace")
        changed = []
        for el in inst:
            name = el.tag.split("}")[1]
            if el.tag.split("}")[0][1:] != JOB:
                bad("property %s not in the class namespace" % name)
            if name in ("DisplayName", "Description", "Priority", "MinimumRetryDelay",
                        "NoProgressTimeout", "ConnectionsPerFile", "BandwidthLimit"):
                nil = el.get("{%s}nil" % XSI) == "true"
                v = None if nil else (el.text or "")
                if v != j.get(name):
                    j[name] = v
                    changed.append("%s=%s" % (name, v))
        log("Put", j["JobId"], *changed)
        return action + "Response", mid, job_xml(j)
    if action == N + "/Enumerate":
        en = first
        if en is None or en.tag != "{%s}Enumerate" % N:
            bad("Enumerate body")
        if en.find("{%s}OptimizeEnumeration" % W) is None:
            bad("Enumerate is not optimized")
        maxel = int(text(en.find("{%s}MaxElements" % W)) or "1")
        if uri == JOB:
            items = [job_xml(jobs[i]) for i in job_order if jobs[i]["State"] not in ("7", "8")]
        else:
            items = [group_xml(p) for p in sorted(groups)]
        log("Enumerate", uri.rsplit("/", 1)[1], "items=%d" % len(items))
        n = min(maxel, PAGE)
        now, rest = items[:n], items[n:]
        if rest:
            ctx = "uuid:%s" % uuid.uuid4()
            contexts[ctx] = (uri, rest)
            tail = "<wsen:EnumerationContext>%s</wsen:EnumerationContext>" % ctx
        else:
            tail = "<wsen:EnumerationContext/>"
        return (action + "Response", mid, "<wsen:EnumerateResponse>%s<wsman:Items>%s"
                "</wsman:Items>%s</wsen:EnumerateResponse>" %
                (tail, "".join(now), "" if rest else "<wsman:EndOfSequence/>"))
    if action == N + "/Pull":
        ctx = text(first.find("{%s}EnumerationContext" % N))
        if ctx not in contexts:
            raise Fault("wsen:InvalidEnumerationContext", "Unknown context.",
                        code="env:Receiver", status=500)
        u, rest = contexts.pop(ctx)
        maxel = int(text(first.find("{%s}MaxElements" % N)) or "1")
        n = min(maxel, PAGE)
        now, rest = rest[:n], rest[n:]
        log("Pull", "items=%d" % len(now))
        if rest:
            nctx = "uuid:%s" % uuid.uuid4()
            contexts[nctx] = (u, rest)
            return (action + "Response", mid, "<wsen:PullResponse><wsen:EnumerationContext>%s"
                    "</wsen:EnumerationContext><wsen:Items>%s</wsen:Items></wsen:PullResponse>"
                    % (nctx, "".join(now)))
        return (action + "Response", mid, "<wsen:PullResponse><wsen:Items>%s</wsen:Items>"
                "<wsen:EndOfSequence/></wsen:PullResponse>" % "".join(now))
    if action == N + "/Release":
        ctx = text(first.find("{%s}EnumerationContext" % N))
        contexts.pop(ctx, None)
        log("Release")
        return action + "Response", mid, ""

    # methods
    if not action.startswith(uri + "/"):
        raise Fault("wsa:ActionNotSupported", "Unknown action %s." % action)
    method = action[len(uri) + 1:]
    if first is None or first.tag != "{%s}%s_INPUT" % (uri, method):
        bad("method body is not <p:%s_INPUT> in the resource namespace" % method)
    params = {}
    for el in first:
        if el.tag.split("}")[0][1:] != uri:
            bad("parameter %s not in the resource namespace" % el.tag)
        params[el.tag.split("}")[1]] = None if el.get("{%s}nil" % XSI) == "true" else (
            el.text or "")
    out = {"ReturnValue": "0"}
    ps = " ".join("%s=%s" % kv for kv in sorted(params.items()))
    if uri == JOB and method == "CreateJob":
        if sel:
            bad("CreateJob is static: no selectors")
        for p in ("DisplayName", "RemoteUrl", "LocalFile"):
            if not params.get(p):
                raise Fault("wsman:InvalidParameter", "%s is required." % p, "MissingValues")
        jid = "{%s}" % str(uuid.uuid4()).upper()
        susp = params.get("Suspend", "false") == "true"
        jobs[jid] = {"JobId": jid, "DisplayName": params["DisplayName"],
                     "Description": params.get("Description"), "Priority": "2",
                     "MinimumRetryDelay": "600", "NoProgressTimeout": "1209600",
                     "State": "3" if susp else "0", "BytesTotal": str(40 * 1048576),
                     "BytesTransferred": "0", "JobCreationTime": "133000000000000000",
                     "JobCompletionTime": "0", "TransientErrorCount": "1",
                     "ThroughputAverage": "16777216", "BytesRefetched": "4096",
                     "Retries": "1", "ConnectionsPerFile": "4", "BandwidthLimit": "0",
                     "Files": [(params["RemoteUrl"], params["LocalFile"])]}
        job_order.append(jid)
        out["JobId"] = jid
        log("CreateJob", ps)
    elif uri == JOB:
        j = get_job(sel)
        log(method, j["JobId"], ps)
        if method == "SetJobState":
            st = params.get("JobState")
            if st == "2":
                if j["State"] in ("3", "4", "5"):
                    j["State"] = "0"
            elif st == "3":
                j["State"] = "3"
            elif st == "1":
                if j["State"] != "6":
                    out["ReturnValue"] = str(0x80200002)
                else:
                    j["State"] = "7"
            elif st == "0":
                j["State"] = "8"
            else:
                raise Fault("wsman:InvalidParameter", "JobState must be 0..3.", "InvalidValue")
        elif method == "GetError":
            if j["State"] != "4":
                out["ReturnValue"] = str(0x80200001)
            else:
                out.update({"ErrorContext": "5", "ErrorCode": str(0x80190194),
                            "ContextDescription": "The error occurred while the remote file "
                                                  "was being processed.",
                            "ErrorDescription": "HTTP status 404: the requested URL does "
                                                "not exist on the server."})
        elif method == "AddFile":
            j["Files"].append((params.get("RemoteUrl"), params.get("LocalFile")))
        else:
            raise Fault("wsa:ActionNotSupported", "Unknown method %s." % method)
    else:
        if method == "CreateUrlGroup":
            if sel:
                bad("CreateUrlGroup is static: no selectors")
            groups.setdefault(params["UrlGroup"], {})
        else:
            prefix = sel.get("UrlGroup")
            if prefix is None:
                raise Fault("wsman:InvalidSelectors", "UrlGroup selector missing.",
                            "InsufficientSelectors")
            if method == "CreateUrl":
                g = groups.setdefault(prefix, {})
                if params["UrlSuffix"] in g:
                    out["ReturnValue"] = str(0x800700B7)
                else:
                    g[params["UrlSuffix"]] = params["SourceFilePath"]
                if params.get("SDDLAuth") is None:
                    bad("CreateUrl without SDDLAuth")
            elif method == "DeleteUrl":
                groups.get(prefix, {}).pop(params["UrlSuffix"], None)
            elif method == "CheckUrl":
                out["UrlExists"] = "true" if params["UrlSuffix"] in groups.get(prefix, {}) \
                    else "false"
            elif method == "DeleteUrlGroup":
                groups.pop(prefix, None)
            else:
                raise Fault("wsa:ActionNotSupported", "Unknown method %s." % method)
        log(method, "UrlGroup=%s" % sel.get("UrlGroup", params.get("UrlGroup")), ps)
    outxml = "".join("<p:%s>%s</p:%s>" % (k, esc(v), k) for k, v in out.items())
    return (action + "Response", mid, '<p:%s_OUTPUT xmlns:p="%s">%s</p:%s_OUTPUT>' %
            (method, uri, outxml, method))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, status, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/soap+xml;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        print("CONN", self.client_address[1], flush=True)
        if "--hang" in sys.argv:
            import time
            time.sleep(30)
        n = int(self.headers.get("Content-Length", "0"))
        data = self.rfile.read(n)
        if self.path != "/wsman":
            return self.reply(404, "")
        ct = self.headers.get("Content-Type", "").replace(" ", "").lower()
        if ct != "application/soap+xml;charset=utf-8":
            return self.reply(415, "")
        if fail_limit is not None and auth_failures[0] >= fail_limit:
            self.send_response(429)
            self.send_header("Retry-After", "42")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if user is not None:
            want = "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
            if self.headers.get("Authorization") != want:
                auth_failures[0] += 1
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="WSMAN"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        try:
            root = ET.fromstring(data)
        except ET.ParseError as e:
            return self.reply(500, envelope(None, None, fault_body(
                Fault("peer:BadRequest", "not XML: %s" % e))))
        relates = None
        try:
            with lock:
                action, relates, body = handle(root)
            self.reply(200, envelope(action, relates, body))
        except Fault as f:
            log("Fault", f.subcode, f.reason)
            self.reply(f.status, envelope(W + "/fault", relates, fault_body(f)))


def main():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if "--tls" in sys.argv:
        import ssl
        i = sys.argv.index("--tls")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[i + 1], sys.argv[i + 2])
        if "--client-ca" in sys.argv:
            ctx.load_verify_locations(sys.argv[sys.argv.index("--client-ca") + 1])
            ctx.verify_mode = ssl.CERT_REQUIRED
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    import os
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    srv.serve_forever()


if __name__ == "__main__":
    main()
