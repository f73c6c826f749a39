#!/usr/bin/python3
"""Bad input and authentication against ferryd's WS-Man endpoint.

XML attacks (XXE with a local file and with an external DTD whose fetch is watched for,
billion laughs, deep nesting), encodings (UTF-16 with BOM, odd byte counts, BOM/charset
mismatch, invalid UTF-8), envelope and selector limits, enumeration-context exhaustion
and expiry, CR/LF injection through DisplayName, Description and URLs (never raw in a
response header or a log line), Windows paths, traversal and symlink escapes in LocalFile
and SourceFilePath (nothing written outside the roots); each refused with its WS-Man fault
and the daemon still answering. Authentication: no credentials and wrong passwords 401,
then 429 past auth-fail-limit; a non-admin gets w:AccessDenied on every operation but
Identify; job credentials never come back in Get, Enumerate, GetError, logs or fault
texts; the state dir is 0700 and the users and database files 0600.
Exit 0 all good, 1 a case failed, 77 when ferryd does not run the WS-Man endpoint.
"""

import base64
import os
import re
import socket
import stat
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import relpy  # noqa: E402
import wsmanc  # noqa: E402
from relpy import log  # noqa: E402
from wsmanc import Fault, JOB, GROUP, A_ENUM, A_PULL, A_RELEASE, A_GET  # noqa: E402

SECRET_PW = "Sup3r-S3cret-JobPw"
LOG_LINE = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \S+\[\d+\] [A-Z]+ ")


def main():
    if not wsmanc.ferryd_runs_wsman():
        log("SKIP: feature 'WS-Man endpoint in ferryd' not in this build "
            "(ferryd --help lists no --wsman-listen)")
        return relpy.SKIP
    tmp = relpy.TmpDir("wsman-badinput")
    daemons = []
    failed = True
    try:
        rc = run(tmp.path, daemons)
        failed = rc != 0
        return rc
    except (relpy.Fail, RuntimeError, Fault) as e:
        log("FAIL: %s" % e)
        for d in daemons:
            log("---- %s log tail\n%s" % (d.dir, d.tail()))
        return 1
    finally:
        for d in daemons:
            d.kill9()
        tmp.done(failed)


class Watch:
    """A TCP listener that records whether anything connected (external DTD fetches)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.hits = 0
        self.stop = False
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def loop(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
                self.hits += 1
                c.close()
            except OSError:
                pass

    def close(self):
        self.stop = True
        self.t.join()
        self.sock.close()


def run(tmp, daemons):
    inroot = os.path.join(tmp, "in")
    pub = os.path.join(tmp, "pub")
    outside = os.path.join(tmp, "outside")
    for d in (inroot, pub, outside):
        os.makedirs(d)
    with open(os.path.join(outside, "secret.txt"), "w") as fh:
        fh.write("FERRY-OUTSIDE-SECRET\n")
    with open(os.path.join(pub, "ok.bin"), "wb") as fh:
        fh.write(os.urandom(4096))
    os.symlink(outside, os.path.join(inroot, "escape"))
    os.symlink(os.path.join(outside, "secret.txt"), os.path.join(pub, "secret-link"))

    d = wsmanc.Ferryd(tmp, "a", ["--download-root", inroot, "--publish-root", pub],
                      users=(("admin", "admin-pw", "admin"), ("bob", "bob-pw", "user")),
                      config_lines=["wsman-max-enums = 8", "wsman-enum-ttl = 2",
                                    "auth-fail-limit = 1000", "http-header-timeout = 2",
                                    "http-idle-timeout = 3", "http-body-timeout = 4"])
    daemons.append(d)
    d.start()
    ws = d.client()
    t = relpy.Table("wsman bad input")

    def alive(case):
        if not d.alive():
            raise relpy.Fail("ferryd died after '%s'" % case)
        r = ws.identify()
        if r.status != 200 or b"IdentifyResponse" not in r.body:
            raise relpy.Fail("after '%s' Identify got HTTP %d" % (case, r.status))

    def expect_fault(case, fn, subcodes, statuses=None, forbid=()):
        try:
            r = fn()
        except Fault as e:
            got = "%s %s HTTP %d" % (e.subcode, e.detail.rsplit("/", 1)[-1], e.status)
            ok = e.subcode in subcodes and (statuses is None or e.status in statuses)
            raw = e.raw or b""
            leaked = [f for f in forbid if f.encode() in raw]
            if leaked:
                ok, got = False, got + " (leaked %s)" % leaked
            t.add(case, "/".join(sorted(subcodes)), got, ok)
            alive(case)
            return e
        t.add(case, "/".join(sorted(subcodes)), "no fault: %r" % (r,)[:80], False)
        alive(case)
        return None

    def raw_case(case, data, subcodes, statuses, content_type=None, forbid=(), known=False):
        kw = {}
        if content_type:
            kw["content_type"] = content_type
        r = ws.post(data, **kw)
        f = r.fault()
        got = "HTTP %d %s" % (r.status, "%s %s" % (f[1], f[3].rsplit("/", 1)[-1]) if f else "no fault")
        ok = r.status in statuses and (not subcodes or (f is not None and f[1] in subcodes))
        leaked = [x for x in forbid if x.encode() in r.body]
        if leaked:
            ok, got = False, got + " (leaked %s)" % leaked
        t.add(case, "/".join(sorted(subcodes)) + " " + "/".join(map(str, sorted(statuses))), got, ok,
              known=known)
        alive(case)
        return r

    create_body = ('<p:CreateJob_INPUT xmlns:p="%s"><p:DisplayName>%s</p:DisplayName>'
                   '<p:RemoteUrl>http://127.0.0.1:1/x</p:RemoteUrl>'
                   '<p:LocalFile>%s/x</p:LocalFile></p:CreateJob_INPUT>')

    def envelope_with(display, prolog=""):
        env = ws.envelope(JOB + "/CreateJob", JOB, None, create_body % (JOB, display, inroot))
        return env.replace('<?xml version="1.0" encoding="UTF-8"?>',
                           '<?xml version="1.0" encoding="UTF-8"?>' + prolog, 1)

    # ---- XML attacks
    raw_case("XXE file entity", envelope_with(
        "&xxe;", '<!DOCTYPE s:Envelope [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'),
        {"w:SchemaValidationError"}, {400}, forbid=("root:x:0:0",))
    w = Watch()
    raw_case("external DTD", envelope_with(
        "x", '<!DOCTYPE s:Envelope SYSTEM "http://127.0.0.1:%d/evil.dtd">' % w.port),
        {"w:SchemaValidationError"}, {400})
    raw_case("external parameter entity", envelope_with(
        "x", '<!DOCTYPE s:Envelope [<!ENTITY %% p SYSTEM "http://127.0.0.1:%d/p.dtd"> %%p;]>'
        % w.port), {"w:SchemaValidationError"}, {400})
    time.sleep(0.3)
    w.close()
    t.add("no network fetch for DTDs", "0 connections", "%d connections" % w.hits, w.hits == 0)
    lol = "".join('<!ENTITY l%d "%s">' % (i, ("&l%d;" % (i - 1)) * 10 if i else "lol")
                  for i in range(10))
    t0 = time.time()
    raw_case("billion laughs", envelope_with("&l9;", "<!DOCTYPE s:Envelope [%s]>" % lol),
             {"w:SchemaValidationError"}, {400})
    t.add("billion laughs time", "< 2 s", "%.2f s" % (time.time() - t0), time.time() - t0 < 2)
    deep = ws.envelope(A_GET, JOB, {"JobId": "{00000000-0000-4000-8000-000000000000}"},
                       "<a>" * 100000 + "</a>" * 100000)
    raw_case("100,000 nested elements", deep, {"w:EncodingLimit"}, {400, 413})
    wide = ws.envelope(A_GET, JOB, {"JobId": "{00000000-0000-4000-8000-000000000000}"},
                       "<a/>" * 100000)
    raw_case("100,000 sibling elements", wide, {"w:EncodingLimit"}, {400, 413})
    big = ws.envelope(A_GET, JOB, None, "<x>" + "A" * 600000 + "</x>")
    raw_case("600 KB envelope (cap 512000)", big, {"w:EncodingLimit"}, {400, 413})
    raw_case("not XML", "this is not xml <<<", {"w:SchemaValidationError"}, {400})
    raw_case("empty body", b"", {"w:SchemaValidationError"}, {400})
    raw_case("truncated envelope", ws.envelope(A_GET, JOB)[:200], {"w:SchemaValidationError"}, {400})
    raw_case("wrong content type", ws.envelope(A_GET, JOB), set(), {415}, content_type="text/plain")

    # ---- encodings
    ident = wsmanc.fixture("identify.xml").replace('<?xml version="1.0"?>', "").strip()
    u16 = b"\xff\xfe" + ident.encode("utf-16-le")
    r = ws.post(u16, content_type="application/soap+xml;charset=UTF-16")
    t.add("UTF-16LE with BOM (Identify)", "HTTP 200 IdentifyResponse", "HTTP %d" % r.status,
          r.status == 200 and r.root is not None and r.body_el() is not None
          and wsmanc.local(r.body_el().tag) == "IdentifyResponse")
    alive("utf-16")
    get16 = ws.envelope(A_GET, JOB, {"JobId": "{00000000-0000-4000-8000-000000000000}"})
    get16 = get16.replace('encoding="UTF-8"', 'encoding="UTF-16"')
    r = ws.post(b"\xfe\xff" + get16.encode("utf-16-be"),
                content_type="application/soap+xml;charset=UTF-16")
    f = r.fault()
    t.add("UTF-16BE Get of unknown job", "w:InvalidSelectors", "HTTP %d %s" % (r.status, f and f[1]),
          f is not None and f[1] == "w:InvalidSelectors")
    alive("utf-16be")
    raw_case("UTF-16 odd byte count", u16 + b"\x00", {"w:SchemaValidationError", "w:EncodingLimit"},
             {400, 413}, content_type="application/soap+xml;charset=UTF-16")
    # RFC 7303 §3.3: the BOM wins over the charset parameter, so this one is answered
    r = ws.post(u16, content_type="application/soap+xml;charset=UTF-8")
    t.add("UTF-16 BOM body, charset UTF-8", "200 (BOM wins) or a fault", "HTTP %d" % r.status,
          r.status == 200 or (r.fault() is not None and r.status == 400))
    alive("bom-vs-charset")
    raw_case("UTF-8 body, charset UTF-16", ident.encode(), {"w:SchemaValidationError", "w:EncodingLimit"},
             {400, 413}, content_type="application/soap+xml;charset=UTF-16")
    raw_case("UTF-16LE BOM, UTF-16BE bytes", b"\xff\xfe" + ident.encode("utf-16-be"),
             {"w:SchemaValidationError", "w:EncodingLimit"}, {400, 413},
             content_type="application/soap+xml;charset=UTF-16")
    raw_case("invalid UTF-8 in a value", envelope_with("bad\xff\xfe").encode("latin-1"),
             {"w:SchemaValidationError", "w:EncodingLimit"}, {400, 413})
    raw_case("unknown charset", ident.encode(), set(), {415},
             content_type="application/soap+xml;charset=EBCDIC")

    # ---- selectors and addressing
    many = {"JobId": "{00000000-0000-4000-8000-000000000000}"}
    many.update({"S%d" % i: "v" for i in range(10000)})
    expect_fault("10,000 selectors", lambda: ws.call(A_GET, JOB, many),
                 {"w:EncodingLimit", "w:InvalidSelectors"}, {400, 413})
    dup = ('<w:SelectorSet><w:Selector Name="JobId">{00000000-0000-4000-8000-000000000001}'
           '</w:Selector><w:Selector Name="JobId">{00000000-0000-4000-8000-000000000002}'
           '</w:Selector></w:SelectorSet>')
    expect_fault("duplicate JobId selectors",
                 lambda: ws.call_env(ws.envelope(A_GET, JOB, None, "", dup)),
                 {"w:InvalidSelectors"}, {400})
    expect_fault("5,000-char JobId", lambda: ws.call(A_GET, JOB, {"JobId": "x" * 5000}),
                 {"w:InvalidSelectors", "w:EncodingLimit"}, {400, 413})
    expect_fault("JobId not a GUID", lambda: ws.call(A_GET, JOB, {"JobId": "../../etc/passwd"}),
                 {"w:InvalidSelectors"}, {400})
    expect_fault("unknown resource URI", lambda: ws.call(A_GET, JOB + "X", {"JobId": "x"}),
                 {"a:DestinationUnreachable"}, {400, 404, 503})
    expect_fault("unknown action", lambda: ws.call(JOB + "/FormatDisk", JOB, None,
                                                   '<p:FormatDisk_INPUT xmlns:p="%s"/>' % JOB),
                 {"a:ActionNotSupported"}, {400, 500, 501})
    expect_fault("mustUnderstand unknown header", lambda: ws.call(
        A_GET, JOB, {"JobId": "{00000000-0000-4000-8000-000000000000}"}, "",
        '<z:Evil xmlns:z="urn:evil" s:mustUnderstand="true">1</z:Evil>'),
        {"s:MustUnderstand", "w:UnsupportedFeature"}, {400, 500})

    # ---- enumeration contexts: cap 8, expiry 2 s
    ctxs = []
    hit = None
    for i in range(12):
        try:
            r = ws.call(A_ENUM, JOB, None, "<n:Enumerate/>")
            ctxs.append(r.body_el().findtext("n:EnumerationContext", "", wsmanc.NS))
        except Fault as e:
            hit = (i, e)
            break
    t.add("enumeration contexts capped at 8", "w:QuotaLimit at #9",
          "fault %s at #%d" % (hit[1].subcode, hit[0] + 1) if hit else "no fault in 12",
          hit is not None and hit[0] == 8 and hit[1].subcode == "w:QuotaLimit")
    alive("enum cap")
    ws.call(A_RELEASE, JOB, None,
            "<n:Release><n:EnumerationContext>%s</n:EnumerationContext></n:Release>" % ctxs[0])
    try:
        ws.call(A_ENUM, JOB, None, "<n:Enumerate/>")
        okr = True
    except Fault:
        okr = False
    t.add("Release frees a context slot", "Enumerate works again", "ok" if okr else "fault", okr)
    expect_fault("Pull of a bogus context", lambda: ws.call(
        A_PULL, JOB, None, "<n:Pull><n:EnumerationContext>uuid:bogus</n:EnumerationContext></n:Pull>"),
        {"n:InvalidEnumerationContext", "wsen:InvalidEnumerationContext"}, {400, 500})
    time.sleep(3.5)
    expect_fault("Pull after expiry (ttl 2 s)", lambda: ws.call(
        A_PULL, JOB, None, "<n:Pull><n:EnumerationContext>%s</n:EnumerationContext></n:Pull>" % ctxs[1]),
        {"n:InvalidEnumerationContext", "wsen:InvalidEnumerationContext"}, {400, 500})
    try:
        for _ in range(8):
            ws.call(A_ENUM, JOB, None, "<n:Enumerate/>")
        oke = True
    except Fault:
        oke = False
    t.add("expired contexts free their slots", "8 new Enumerates", "ok" if oke else "fault", oke)

    # ---- CR/LF injection: never raw in a response header or a log line
    inj = "evil&#13;&#10;X-Injected: 1&#13;&#10;&#13;&#10;<html>"
    jid = None
    expect_fault("CreateJob without parameters", lambda: ws.invoke(JOB, "CreateJob", []),
                 {"w:InvalidParameter"}, {400})
    r = ws.post(ws.envelope(JOB + "/CreateJob", JOB, None,
                            '<p:CreateJob_INPUT xmlns:p="%s"><p:DisplayName>%s</p:DisplayName>'
                            '<p:RemoteUrl>http://127.0.0.1:1/x</p:RemoteUrl>'
                            '<p:LocalFile>%s/inj</p:LocalFile><p:Suspend>true</p:Suspend>'
                            '<p:Description>%s</p:Description></p:CreateJob_INPUT>'
                            % (JOB, inj, inroot, inj)))
    bad_hdr = [k for k in r.headers if k.lower().startswith("x-injected")]
    if r.fault() is None:
        jid = wsmanc.props(r.body_el()).get("JobId")
    t.add("CR/LF in DisplayName/Description", "no injected header", "HTTP %d, headers %s" % (
        r.status, bad_hdr or "clean"), not bad_hdr and r.status in (200, 400))
    if jid:
        g = ws.post(ws.envelope(A_GET, JOB, {"JobId": jid}))
        bad_hdr = [k for k in g.headers if k.lower().startswith("x-injected")]
        t.add("Get of the injected job", "no injected header, CR/LF escaped in XML",
              "headers %s" % (bad_hdr or "clean"),
              not bad_hdr and b"\r\nX-Injected" not in g.body)
    for case, url in [("CR/LF in RemoteUrl", "http://127.0.0.1:1/a&#13;&#10;X-Injected: 1"),
                      ("space in RemoteUrl", "http://127.0.0.1:1/a b"),
                      ("ftp RemoteUrl", "ftp://127.0.0.1/x"),
                      ("file RemoteUrl", "file:///etc/passwd")]:
        expect_fault(case, lambda url=url: ws.call(JOB + "/CreateJob", JOB, None,
                                                   create_body.replace("http://127.0.0.1:1/x", url)
                                                   % (JOB, "u", inroot)),
                     {"w:InvalidParameter"}, {400})
    expect_fault("CR/LF in a UrlGroup prefix", lambda: ws.invoke(
        GROUP, "CreateUrlGroup", [("UrlGroup", "http://127.0.0.1:1/g\r\nX-Injected: 1")]),
        {"w:InvalidParameter"}, {400})

    # ---- CustomHeader (issue 18): libcurl sends it verbatim, so a framing or hop-by-hop
    # header, a non-token name or a control byte would be a smuggling primitive
    hjob = ws.create_job("hdr", "http://127.0.0.1:1/x", inroot + "/hdr.bin", suspend=True)
    for case, hv in [("Content-Length", "Content-Length: 5"),
                     ("Transfer-Encoding", "Transfer-Encoding: chunked"),
                     ("Host", "host: evil.example"), ("Connection", "Connection: close"),
                     ("TE", "TE: trailers"), ("Upgrade", "Upgrade: h2c"),
                     ("Expect", "Expect: 100-continue"), ("Keep-Alive", "Keep-Alive: 5"),
                     ("Trailer", "Trailer: X"), ("Proxy-Authorization", "Proxy-Authorization: x"),
                     ("name with a space", "X Bad: 1"), ("name with '('", "X(: 1"),
                     ("empty name", ": v"), ("DEL in the value", "X-A: a\x7fb")]:
        e = expect_fault("CustomHeader %s" % case, lambda hv=hv: ws.invoke(
            JOB, "SetOption", [("Name", "CustomHeader"), ("Value", hv)], {"JobId": hjob}),
            {"w:InvalidParameter"}, {400})
    ok = ws.invoke(JOB, "SetOption", [("Name", "CustomHeader"), ("Value", "X-Trace-Id: a b\tc")],
                   {"JobId": hjob})
    t.add("CustomHeader X-Trace-Id", "accepted", "ReturnValue %s" % ok.get("ReturnValue"),
          ok.get("ReturnValue") in ("0", None))

    # ---- LocalFile: Windows paths, traversal, symlink escape
    before = set(os.listdir(outside))
    for case, lf in [("LocalFile C:\\ path", "C:\\Users\\Public\\x.bin"),
                     ("LocalFile UNC path", "\\\\server\\share\\x.bin"),
                     ("LocalFile relative", "in/x.bin"),
                     ("LocalFile outside the root", os.path.join(outside, "x.bin")),
                     ("LocalFile /../ escape", inroot + "/../outside/x.bin"),
                     ("LocalFile symlink escape", inroot + "/escape/x.bin"),
                     ("LocalFile the root itself", inroot),
                     ("LocalFile with NUL", inroot + "/a&#0;b"),
                     ("LocalFile /etc/passwd", "/etc/passwd")]:
        body = ('<p:CreateJob_INPUT xmlns:p="%s"><p:DisplayName>t</p:DisplayName>'
                '<p:RemoteUrl>http://127.0.0.1:1/x</p:RemoteUrl><p:LocalFile>%s</p:LocalFile>'
                '</p:CreateJob_INPUT>' % (JOB, lf.replace("&", "&amp;").replace("&amp;#0;", "&#0;")))
        if "&#0;" in lf:
            raw_case(case, ws.envelope(JOB + "/CreateJob", JOB, None, body),
                     {"w:SchemaValidationError", "w:InvalidParameter"}, {400})
            continue
        e = expect_fault(case, lambda body=body: ws.call(JOB + "/CreateJob", JOB, None, body),
                         {"w:InvalidParameter", "w:AccessDenied"}, {400, 401})
        if e is None:  # accepted: at least it must not write outside
            pass
    after = set(os.listdir(outside))
    t.add("nothing written outside the download root", "no new files", sorted(after - before) or "none",
          after == before)

    # ---- SourceFilePath
    grp = "http://127.0.0.1:%d/rel" % relpy.free_port()
    for case, src in [("SourceFilePath C:\\ path", "C:\\data\\x.bin"),
                      ("SourceFilePath relative", "pub/ok.bin"),
                      ("SourceFilePath outside the root", os.path.join(outside, "secret.txt")),
                      ("SourceFilePath /../ escape", pub + "/../outside/secret.txt"),
                      ("SourceFilePath symlink escape", pub + "/secret-link"),
                      ("SourceFilePath a directory", pub),
                      ("SourceFilePath /etc/shadow", "/etc/shadow")]:
        expect_fault(case, lambda src=src: ws.invoke(
            GROUP, "CreateUrl", [("UrlSuffix", "s.bin"), ("SourceFilePath", src),
                                 ("SDDLAuth", "D:(A;;GA;;;WD)")], {"UrlGroup": grp}),
            {"w:InvalidParameter"}, {400}, forbid=("FERRY-OUTSIDE-SECRET",))
    for case, suffix in [("UrlSuffix with /", "a/b"), ("UrlSuffix ..", ".."),
                         ("UrlSuffix with CR/LF", "a\r\nb")]:
        expect_fault(case, lambda suffix=suffix: ws.invoke(
            GROUP, "CreateUrl", [("UrlSuffix", suffix), ("SourceFilePath", pub + "/ok.bin"),
                                 ("SDDLAuth", "D:(A;;GA;;;WD)")], {"UrlGroup": grp}),
            {"w:InvalidParameter"}, {400})
    expect_fault("UrlGroup with two levels", lambda: ws.invoke(
        GROUP, "CreateUrlGroup", [("UrlGroup", "http://127.0.0.1:%d/a/b" % relpy.free_port())]),
        {"w:InvalidParameter"}, {400})
    expect_fault("unknown SDDL", lambda: ws.invoke(
        GROUP, "CreateUrl", [("UrlSuffix", "s.bin"), ("SourceFilePath", pub + "/ok.bin"),
                             ("SDDLAuth", "O:BAG:BAD:(A;;FA;;;S-1-5-21-1-2-3-500)")], {"UrlGroup": grp}),
        {"w:InvalidParameter"}, {400})

    # ---- slow request bodies: an authenticated body trickled at 2 bytes/s must not hold a
    # connection forever (header timeout 2 s, idle timeout 3 s, body timeout 4 s here)
    host, port = d.url.split("/")[2].split(":")
    admin_auth = b"Authorization: Basic " + base64.b64encode(b"admin:admin-pw") + b"\r\n"
    for mode in ("Content-Length", "chunked"):
        s = socket.create_connection((host, int(port)), timeout=5)
        s.settimeout(0.2)
        te = (b"Content-Length: 100000" if mode == "Content-Length"
              else b"Transfer-Encoding: chunked")
        s.sendall(b"POST /wsman HTTP/1.1\r\nHost: x\r\nContent-Type: application/soap+xml;"
                  b"charset=UTF-8\r\n" + admin_auth + te + b"\r\n\r\n")
        t0 = time.time()
        closed = False
        while time.time() - t0 < 8:
            try:
                s.sendall(b"<" if mode == "Content-Length" else b"1\r\n<\r\n")
                if s.recv(4096) == b"":
                    closed = True
                    break
            except socket.timeout:
                pass
            except OSError:
                closed = True
                break
            time.sleep(0.5)
        dt = time.time() - t0
        s.close()
        t.add("slow %s body at 2 bytes/s (http-body-timeout 4 s)" % mode, "closed within 6 s",
              "%s after %.1f s" % ("closed" if closed else "still open", dt),
              closed and 3 < dt < 6)
        alive("slow body")

    # ---- authentication before the body (issue 18): no 100 Continue and no body bytes read
    # for a caller without valid credentials; the 401 comes on the headers alone
    def head_only(extra):
        s = socket.create_connection((host, int(port)), timeout=5)
        s.sendall(b"POST /wsman HTTP/1.1\r\nHost: x\r\nContent-Type: application/soap+xml;"
                  b"charset=UTF-8\r\nExpect: 100-continue\r\nContent-Length: 1000000\r\n" +
                  extra + b"\r\n")
        s.settimeout(3)
        try:
            first = s.recv(4096).split(b"\r\n", 1)[0].decode("latin-1")
        except (socket.timeout, OSError) as e:
            first = "no answer (%s)" % e.__class__.__name__
        s.close()
        return first
    for case, extra in [("no Authorization", b""),
                        ("wrong password", b"Authorization: Basic " +
                         base64.b64encode(b"admin:wrong") + b"\r\n"),
                        ("anonymous Identify with a 1 MB body", b"WSMANIDENTIFY: unauthenticated\r\n")]:
        first = head_only(extra)
        t.add("Expect: 100-continue, %s" % case, "401 before any body byte",
              first, first.startswith("HTTP/1.1 401"))
    first = head_only(admin_auth)
    t.add("Expect: 100-continue, right password", "100 Continue", first,
          first.startswith("HTTP/1.1 100"))
    alive("100-continue")

    # 200 connections pushing 256 KiB of body each without credentials: the daemon must not
    # hold them (before the fix every body was buffered: ~50 MiB)
    rss_kib = wsmanc.rss_kib
    rss0 = rss_kib(d.pid)
    socks = []
    chunk = b"<" * 65536
    for _ in range(200):
        s = socket.create_connection((host, int(port)), timeout=5)
        s.setblocking(False)
        try:
            s.send(b"POST /wsman HTTP/1.1\r\nHost: x\r\nContent-Type: application/soap+xml;"
                   b"charset=UTF-8\r\nContent-Length: 1000000\r\n\r\n")
        except OSError:
            pass
        socks.append(s)
    for _ in range(4):
        for s in socks:
            try:
                s.send(chunk)
            except OSError:
                pass
    time.sleep(0.5)
    rss1 = rss_kib(d.pid)
    for s in socks:
        s.close()
    t.add("200 unauthenticated connections x 256 KiB body", "RSS growth < 16 MiB",
          "%d KiB" % (rss1 - rss0), rss1 - rss0 < 16 * 1024)
    alive("body-holding connections")

    # ---- authentication and authorization
    anon = wsmanc.Wsman(d.url, None, None)
    r = anon.identify(auth=False)
    t.add("Identify, WSMANIDENTIFY: unauthenticated", "200 without SecurityProfiles",
          "HTTP %d" % r.status, r.status == 200 and b"SecurityProfile" not in r.body)
    r = anon.identify(auth=False, anonymous_header=False)
    t.add("Identify without credentials or header", "401", "HTTP %d" % r.status, r.status == 401)
    for case, fn in [("Get without credentials", lambda: anon.post(anon.envelope(A_GET, JOB, {"JobId": "x"}), auth=False)),
                     ("Enumerate without credentials", lambda: anon.post(anon.envelope(A_ENUM, JOB, None, "<n:Enumerate/>"), auth=False))]:
        r = fn()
        t.add(case, "401 + WWW-Authenticate Basic", "HTTP %d %s" % (r.status, r.headers.get("WWW-Authenticate")),
              r.status == 401 and "basic" in (r.headers.get("WWW-Authenticate") or "").lower())
    wrong = wsmanc.Wsman(d.url, "admin", "not-the-password")
    r = wrong.post(wrong.envelope(A_ENUM, JOB, None, "<n:Enumerate/>"))
    t.add("wrong password", "401", "HTTP %d" % r.status, r.status == 401)
    r = wsmanc.Wsman(d.url, "nobody", "x").post(wrong.envelope(A_ENUM, JOB, None, "<n:Enumerate/>"))
    t.add("unknown user", "401", "HTTP %d" % r.status, r.status == 401)
    r = ws.post(ws.envelope(A_ENUM, JOB, None, "<n:Enumerate/>"),
                extra_headers={"Authorization": "Basic !!!notbase64"})
    t.add("malformed Basic token", "401", "HTTP %d" % r.status, r.status == 401)

    bob = d.client("bob", "bob-pw")
    r = bob.identify()
    t.add("non-admin Identify", "200", "HTTP %d" % r.status, r.status == 200)
    a_job = ws.create_job("auth-target", "http://127.0.0.1:1/x", inroot + "/auth.bin", suspend=True)
    for case, fn in [
        ("non-admin Get", lambda: bob.job(a_job)),
        ("non-admin Enumerate", lambda: bob.call(A_ENUM, JOB, None, "<n:Enumerate/>")),
        ("non-admin CreateJob", lambda: bob.create_job("b", "http://127.0.0.1:1/x", inroot + "/b.bin")),
        ("non-admin SetJobState", lambda: bob.set_state(a_job, 0)),
        ("non-admin Put", lambda: bob.call(wsmanc.A_PUT, JOB, {"JobId": a_job},
                                           '<p:BitsClientJob xmlns:p="%s"><p:DisplayName>x</p:DisplayName></p:BitsClientJob>' % JOB)),
        ("non-admin GetError", lambda: bob.get_error(a_job)),
        ("non-admin SetCredentials", lambda: bob.invoke(JOB, "SetCredentials", [("Target", 0), ("Scheme", 0), ("UserName", "u"), ("Password", "p")], {"JobId": a_job})),
        ("non-admin BitsClientFile Enumerate", lambda: bob.call(A_ENUM, wsmanc.FILE, None, "<n:Enumerate/>")),
        ("non-admin CreateUrlGroup", lambda: bob.invoke(GROUP, "CreateUrlGroup", [("UrlGroup", "http://127.0.0.1:%d/bob" % relpy.free_port())])),
        ("non-admin UrlGroup Enumerate", lambda: bob.call(A_ENUM, GROUP, None, "<n:Enumerate/>")),
        ("non-admin Pull", lambda: bob.call(A_PULL, JOB, None, "<n:Pull><n:EnumerationContext>uuid:x</n:EnumerationContext></n:Pull>")),
    ]:
        expect_fault(case, fn, {"w:AccessDenied"})
    st = ws.job(a_job)
    t.add("non-admin calls changed nothing", "State 3, DisplayName kept",
          "State %s, %s" % (st.get("State"), st.get("DisplayName")),
          st.get("State") == "3" and st.get("DisplayName") == "auth-target")

    # ---- credentials never come back
    ws.invoke(JOB, "SetCredentials", [("Target", 0), ("Scheme", 0), ("UserName", "jobuser"),
                                      ("Password", SECRET_PW)], {"JobId": a_job})
    ws.set_state(a_job, 2)  # resume: fails against port 1 -> an error with text
    deadline = time.time() + 15
    while time.time() < deadline and ws.job(a_job).get("State") not in ("4", "5"):
        time.sleep(0.1)
    texts = []
    g = ws.post(ws.envelope(A_GET, JOB, {"JobId": a_job}))
    texts.append(("Get", g.body))
    en = ws.post(ws.envelope(A_ENUM, JOB, None, "<n:Enumerate><w:OptimizeEnumeration/><w:MaxElements>100</w:MaxElements></n:Enumerate>"))
    texts.append(("Enumerate", en.body))
    fe = ws.post(ws.envelope(A_ENUM, wsmanc.FILE, None, "<n:Enumerate><w:OptimizeEnumeration/><w:MaxElements>100</w:MaxElements></n:Enumerate>"))
    texts.append(("BitsClientFile Enumerate", fe.body))
    ge = ws.post(ws.envelope(JOB + "/GetError", JOB, {"JobId": a_job},
                             '<p:GetError_INPUT xmlns:p="%s"><p:LanguageId>0</p:LanguageId></p:GetError_INPUT>' % JOB))
    texts.append(("GetError", ge.body))
    bf = ws.post(ws.envelope(JOB + "/SetCredentials", JOB, {"JobId": a_job},
                             '<p:SetCredentials_INPUT xmlns:p="%s"><p:Target>7</p:Target><p:Scheme>0</p:Scheme>'
                             '<p:UserName>jobuser</p:UserName><p:Password>%s</p:Password></p:SetCredentials_INPUT>'
                             % (JOB, SECRET_PW)))
    texts.append(("SetCredentials fault text", bf.body))
    rv = wsmanc.props(bf.body_el()).get("ReturnValue") if bf.fault() is None else None
    t.add("SetCredentials Target 7", "ReturnValue 0x80200027 (BG_E_INVALID_AUTH_TARGET)",
          "HTTP %d ReturnValue %s" % (bf.status, rv), rv == str(0x80200027))
    texts.append(("ferryd log", d.log_text()))
    for where, body in texts:
        leak = SECRET_PW.encode() in body or b"admin-pw" in body or b"bob-pw" in body
        t.add("no credentials in %s" % where, "absent", "LEAKED" if leak else "absent", not leak)
    has = ws.job(a_job).get("HasCredentials")
    t.add("Get reports HasCredentials only", "true", str(has), has == "true")
    ok_err = ge.fault() is None and wsmanc.props(ge.body_el()).get("ErrorCode") not in (None, "", "0")
    t.add("GetError of the failed job", "an error code", "HTTP %d" % ge.status, ok_err)

    # a user name that tries to forge the rest of its login line (issue 18)
    forged = "evil' from 10.9.9.9 succeeded\x1b[0m\nFAKE"
    d.client(user=forged, password="x").identify()
    lg = d.log_text()
    t.add("forged user name in the login log line", "escaped (\\x27, \\x1b, \\x0a)",
          "escaped" if b"evil\\x27 from 10.9.9.9 succeeded\\x1b[0m\\x0aFAKE" in lg else "raw",
          b"evil\\x27 from 10.9.9.9" in lg and b"\x1b" not in lg)

    # ---- every log line is one whole line (no raw CR/LF from peer input)
    bad_lines = [ln for ln in d.log_text().split(b"\n") if ln and not LOG_LINE.match(ln)]
    t.add("log lines well-formed", "every line starts with a timestamp",
          "%d bad: %r" % (len(bad_lines), bad_lines[:2]) if bad_lines else "all", not bad_lines)
    cr = [ln for ln in d.log_text().split(b"\n") if b"\r" in ln]
    t.add("no raw CR in the log", "none", "%d lines" % len(cr), not cr)

    # ---- file modes
    def mode(p):
        return stat.S_IMODE(os.stat(p).st_mode)
    t.add("state dir mode", "0700", oct(mode(d.state)), mode(d.state) == 0o700)
    dbs = [f for f in os.listdir(d.state) if f == "users" or f.endswith((".db", ".db-wal", ".db-shm"))]
    for f in sorted(dbs):
        m = mode(os.path.join(d.state, f))
        t.add("mode of %s" % f, "0600", oct(m), m & 0o077 == 0)
    t.add("users and jobs db present", "users, jobs.db", ",".join(sorted(dbs)),
          "users" in dbs and any(f.startswith("jobs") for f in dbs))

    # ---- rate limiting of failed logins (own daemon: the limit is per address)
    d2 = wsmanc.Ferryd(tmp, "b", ["--download-root", inroot], config_lines=["auth-fail-limit = 5"])
    daemons.append(d2)
    d2.start()
    wrong2 = wsmanc.Wsman(d2.url, "admin", "wrong")
    codes = [wrong2.post(wrong2.envelope(A_ENUM, JOB, None, "<n:Enumerate/>")).status for _ in range(7)]
    good = d2.client().post(wrong2.envelope(A_ENUM, JOB, None, "<n:Enumerate/>"))
    t.add("6th+ wrong password rate-limited", "401 x5 then 429",
          "%s" % codes, codes[:5] == [401] * 5 and all(c == 429 for c in codes[5:]))
    t.add("right password while limited", "429 + Retry-After",
          "HTTP %d Retry-After %s" % (good.status, good.headers.get("Retry-After")),
          good.status == 429 and good.headers.get("Retry-After") is not None)
    t.add("no credentials in daemon b's log", "absent", "", b"wrong" not in d2.log_text() and b"admin-pw" not in d2.log_text())

    for dd in (d, d2):
        rc = dd.stop()
        t.add("SIGTERM %s" % os.path.basename(dd.dir), "exit 0", str(rc), rc == 0)
    rep = os.environ.get("REL_REPORT_DIR")
    if rep:
        os.makedirs(rep, exist_ok=True)
        t.write_markdown(os.path.join(rep, "wsman_badinput.md"))
    log(t.summary())
    return 1 if t.failed() else 0


if __name__ == "__main__":
    sys.exit(main())
