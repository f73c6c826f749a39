#!/usr/bin/python3
"""Enumerate with a WQL Filter against a real ferryd (issue #17): the forms PowerShell's
`Get-CimInstance -Filter` / `-Query` send (Dialect
http://schemas.microsoft.com/wbem/wsman/1/WQL), through the Python WS-Man client of
tests/tools and one raw envelope sent by curl.

Jobs: alpha (suspended, priority 2), beta (TRANSFERRED from nginx), gamma (suspended,
priority 1). Asserted: State = 6 lists beta only; AND, OR, NOT, parentheses, a literal on
the left, case-insensitive strings; MaxElements 1 with Pull pages through only the matches;
EnumerateEPR mode returns the matches' EPRs; a filter on BitsClientFile; a query naming
another class or not parsing is wsen:CannotProcessFilter; the XPath dialect (or none) is
w:UnsupportedFeature.

Exit 0 all good, 1 a case failed, 77 when ferryd lacks the WS-Man endpoint, nginx or curl.
"""

import os
import subprocess
import sys
import time
from xml.sax.saxutils import escape

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import relpy  # noqa: E402
import wsmanc  # noqa: E402
from relpy import log  # noqa: E402
from wsmanc import Fault, JOB, NS  # noqa: E402

WQL = "http://schemas.microsoft.com/wbem/wsman/1/WQL"
FILE = wsmanc.BITS + "BitsClientFile"


def enum_filtered(ws, resource, query, max_elements=20, dialect=WQL, mode=None):
    """(names of the returned instances' DisplayName or EPR JobId, number of round trips)"""
    dial = ' Dialect="%s"' % dialect if dialect else ""
    body = ("<n:Enumerate><w:OptimizeEnumeration/><w:MaxElements>%d</w:MaxElements>%s"
            "<w:Filter%s>%s</w:Filter></n:Enumerate>" % (
                max_elements, "<w:EnumerationMode>%s</w:EnumerationMode>" % mode if mode else "",
                dial, escape(query)))
    r = ws.call(wsmanc.A_ENUM, resource, None, body)
    out, trips = [], 1
    el = r.body_el()
    ctx = el.findtext("n:EnumerationContext", "", NS)

    def take(its):
        for i in its if its is not None else []:
            if mode:
                out.append("".join(x.text or "" for x in i.iter() if wsmanc.local(x.tag) ==
                                   "Selector"))
            else:
                p = wsmanc.props(i)
                out.append(p.get("DisplayName") or p.get("LocalFile"))
    take(el.find("w:Items", NS))
    end = el.find("w:EndOfSequence", NS) is not None
    while not end and ctx:
        body = ("<n:Pull><n:EnumerationContext>%s</n:EnumerationContext>"
                "<n:MaxElements>%d</n:MaxElements></n:Pull>" % (escape(ctx), max_elements))
        el = ws.call(wsmanc.A_PULL, resource, None, body).body_el()
        trips += 1
        take(el.find("n:Items", NS))
        end = el.find("n:EndOfSequence", NS) is not None
        ctx = el.findtext("n:EnumerationContext", "", NS)
    return sorted(out), trips


def fault_of(fn):
    try:
        fn()
    except Fault as f:
        return f.subcode
    return None


def main():
    return wsmanc.harness("wsman-filter", run, tools=('curl',))


def run(tmp, procs):
    t = relpy.Table("wsman WQL filter")
    src = os.path.join(tmp, "src")
    inroot = os.path.join(tmp, "in")
    os.makedirs(src)
    os.makedirs(inroot)
    with open(os.path.join(src, "b.bin"), "wb") as fh:
        fh.write(os.urandom(100000))
    ng = relpy.Nginx(tmp, "src", src).start()
    procs.append(ng)
    d = wsmanc.Ferryd(tmp, "d", ["--download-root", inroot])
    procs.append(d)
    d.start()
    ws = d.client()
    a = ws.create_job("alpha", "http://127.0.0.1:9/a", os.path.join(inroot, "a"), suspend=True)
    b = ws.create_job("beta", ng.url("b.bin"), os.path.join(inroot, "b"))
    g = ws.create_job("gamma", "http://127.0.0.1:9/g", os.path.join(inroot, "g"), suspend=True)
    wsmanc_put_priority(ws, g, 1)
    end = time.time() + 20
    while time.time() < end and ws.job(b)["State"] != "6":
        time.sleep(0.05)
    if ws.job(b)["State"] != "6":
        raise relpy.Fail("beta did not reach TRANSFERRED")

    cases = [
        ("SELECT * FROM BitsClientJob WHERE State = 6", ["beta"]),
        ("SELECT * FROM BitsClientJob", ["alpha", "beta", "gamma"]),
        ("select * from bitsclientjob where state = 3 and priority = 1", ["gamma"]),
        ("SELECT * FROM BitsClientJob WHERE State = 6 OR DisplayName = 'ALPHA'",
         ["alpha", "beta"]),
        ("SELECT * FROM BitsClientJob WHERE NOT State = 3", ["beta"]),
        ("SELECT * FROM BitsClientJob WHERE (State = 3 OR State = 6) AND Priority >= 2",
         ["alpha", "beta"]),
        ("SELECT * FROM BitsClientJob WHERE 6 > State AND DisplayName <> \"alpha\"", ["gamma"]),
        # AND binds tighter than OR: beta, and gamma (state 3 with priority 1)
        ("SELECT * FROM BitsClientJob WHERE State = 6 OR State = 3 AND Priority = 1",
         ["beta", "gamma"]),
        ("SELECT * FROM BitsClientJob WHERE State = 4", []),
        ("SELECT * FROM BitsClientJob WHERE NoSuchProperty = 1", []),
    ]
    for q, want in cases:
        got, _ = enum_filtered(ws, JOB, q)
        t.add("filter: %s" % q[len("SELECT * FROM BitsClientJob"):].strip() or "none",
              want, got, got == want)
    got, trips = enum_filtered(ws, JOB, "SELECT * FROM BitsClientJob WHERE State = 3", 1)
    t.add("paged: MaxElements 1 + Pull", "alpha gamma in >= 2 trips", "%s in %d" % (got, trips),
          got == ["alpha", "gamma"] and trips >= 2)
    got, _ = enum_filtered(ws, JOB, "SELECT * FROM BitsClientJob WHERE State = 6",
                           mode="EnumerateEPR")
    t.add("EPR mode: only the matches", [b], got, got == [b])
    got, _ = enum_filtered(ws, FILE, "SELECT * FROM BitsClientFile WHERE Completed = TRUE")
    t.add("BitsClientFile: Completed = TRUE", [os.path.join(inroot, "b")], got,
          got == [os.path.join(inroot, "b")])
    f = fault_of(lambda: enum_filtered(ws, JOB, "SELECT * FROM BitsClientFile"))
    t.add("another class", "CannotProcessFilter", f, f and f.endswith("CannotProcessFilter"))
    f = fault_of(lambda: enum_filtered(ws, JOB, "SELECT * FROM BitsClientJob WHERE State ="))
    t.add("syntax error", "CannotProcessFilter", f, f and f.endswith("CannotProcessFilter"))
    f = fault_of(lambda: enum_filtered(ws, JOB, "/BitsClientJob[State=6]",
                                       dialect="http://www.w3.org/TR/1999/REC-xpath-19991116"))
    t.add("XPath dialect", "UnsupportedFeature", f, f and f.endswith("UnsupportedFeature"))
    f = fault_of(lambda: enum_filtered(ws, JOB, "SELECT * FROM BitsClientJob", dialect=None))
    t.add("no Dialect (XPath by default)", "UnsupportedFeature", f,
          f and f.endswith("UnsupportedFeature"))
    # curl with a hand-written envelope, as PowerShell sends it
    env = ('<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
           'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
           'xmlns:n="http://schemas.xmlsoap.org/ws/2004/09/enumeration" '
           'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><s:Header>'
           '<a:To>%s</a:To><w:ResourceURI s:mustUnderstand="true">%s</w:ResourceURI>'
           '<a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/'
           'anonymous</a:Address></a:ReplyTo><a:Action s:mustUnderstand="true">'
           'http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate</a:Action>'
           '<a:MessageID>uuid:0d8f9a44-4c1e-4a5a-9d5f-1b2c3d4e5f60</a:MessageID></s:Header>'
           '<s:Body><n:Enumerate><w:OptimizeEnumeration/><w:MaxElements>32000</w:MaxElements>'
           '<w:Filter Dialect="%s">SELECT * FROM BitsClientJob WHERE State = 6</w:Filter>'
           '</n:Enumerate></s:Body></s:Envelope>' % (d.url, JOB, WQL))
    r = subprocess.run(["curl", "-s", "-u", "admin:admin-pw", "-H",
                        "Content-Type: application/soap+xml;charset=UTF-8", "--data-binary",
                        env, d.url], capture_output=True, timeout=30)
    out = r.stdout.decode("utf-8", "replace")
    t.add("curl envelope", "beta only", "beta" if "<p:DisplayName>beta<" in out else out[-200:],
          "<p:DisplayName>beta<" in out and "alpha" not in out and "gamma" not in out)
    log(t.summary())
    return 1 if t.failed() else 0


def wsmanc_put_priority(ws, jid, prio):
    ws.set_props(jid, Priority=prio)


if __name__ == "__main__":
    sys.exit(main())
