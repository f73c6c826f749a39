#!/usr/bin/python3
"""The smaller findings of issue 18, each against one real ferryd (both roles) on loopback.

- Job credentials leave jobs.db and jobs.db-wal (the bytes, grepped in the files) and
  HasCredentials turns false when a job reaches ACKNOWLEDGED (Complete) or CANCELLED, and
  no Get / GetError shows them. The Complete job really used them: it fetched from a URL of
  the same daemon whose access rule wants an authenticated user.
- A URL suffix that collides with a generated name (X.meta4 is X's Metalink manifest) is
  refused with w:InvalidParameter in both orders; X's manifest stays reachable.
- Complete when LocalFile's directory was swapped for a symlink leaving the download root:
  a BITS code (not a bare E_FAIL), the job in ERROR with a GetError context, description
  and file, one log line; once the directory is back, Resume and Complete put the file in
  place.
Exit 0 all good, 1 a case failed, 77 when ferryd does not run the WS-Man endpoint.
"""

import base64
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import relpy  # noqa: E402
import wsmanc  # noqa: E402
from relpy import log  # noqa: E402
from wsmanc import Fault, JOB, GROUP  # noqa: E402

FETCH_PW = "Fetch-Pw-7c1e9a4b"
CANCEL_PW = "Cancel-Pw-52d0f3e8"
E_FAIL = 0x80004005
CTX_LOCAL_FILE = 4


def main():
    return wsmanc.harness("sec-leftovers", run)


def db_bytes(state):
    """The bytes of jobs.db and every file beside it (-wal, -shm, -journal)."""
    out = b""
    for f in sorted(os.listdir(state)):
        if f.startswith("jobs.db"):
            with open(os.path.join(state, f), "rb") as fh:
                out += fh.read()
    return out


def wait_state(ws, jid, states, timeout=30):
    end = time.time() + timeout
    st = None
    while time.time() < end:
        st = ws.job(jid).get("State")
        if st in states:
            return st
        time.sleep(0.05)
    raise relpy.Fail("job %s stayed in State %s (wanted %s)" % (jid, st, "/".join(states)))


def fault_of(fn):
    """(HTTP status, subcode, text) of the fault fn raises, or None when it succeeds."""
    try:
        fn()
    except Fault as f:
        return f.status, f.subcode, (f.reason or "") + " " + (f.detail or "")
    return None


def run(tmp, daemons):
    droot = os.path.join(tmp, "down")
    pub = os.path.join(tmp, "pub")
    outside = os.path.join(tmp, "outside")
    for p in (droot, pub, outside, os.path.join(droot, "a"), os.path.join(droot, "c")):
        os.makedirs(p)
    payload = os.urandom(300 * 1024)
    for n in ("f.bin", "g.bin", "h.bin"):
        with open(os.path.join(pub, n), "wb") as fh:
            fh.write(payload)

    d = wsmanc.Ferryd(tmp, "d", ["--download-root", droot, "--publish-root", pub],
                      users=(("admin", "admin-pw", "admin"), ("fetcher", FETCH_PW, "user")),
                      config_lines=["auth-fail-limit = 1000"])
    daemons.append(d)
    d.start()
    ws = d.client()
    t = relpy.Table("issue 18 leftovers")
    grp = "http://127.0.0.1:%d/sec" % relpy.free_port()

    def create_url(suffix, src, sddl="D:(A;;GA;;;WD)"):
        return ws.invoke(GROUP, "CreateUrl", [("UrlSuffix", suffix), ("SourceFilePath", src),
                                               ("SDDLAuth", sddl)], {"UrlGroup": grp})

    # ---- the source: f.bin for authenticated users only (the job's credentials are used)
    out = create_url("f.bin", os.path.join(pub, "f.bin"), "D:(A;;GA;;;AU)")
    if out.get("ReturnValue") not in ("0", None):
        raise relpy.Fail("CreateUrl f.bin ReturnValue %s" % out.get("ReturnValue"))

    # ---- 1. credentials wiped at ACKNOWLEDGED
    a_file = os.path.join(droot, "a", "f.bin")
    ja = ws.create_job("cred-complete", grp + "/f.bin", a_file, suspend=True)
    ws.invoke(JOB, "SetCredentials", [("Target", 0), ("Scheme", 0), ("UserName", "fetcher"),
                                      ("Password", FETCH_PW)], {"JobId": ja})
    before = FETCH_PW.encode() in db_bytes(d.state)
    t.add("job credential in jobs.db while the job lives (sanity of the grep)",
          "present (or encrypted at rest)", "present" if before else "absent", True)
    ws.set_state(ja, 2)
    wait_state(ws, ja, ("6",))
    rv = ws.set_state(ja, 1).get("ReturnValue")
    placed = os.path.exists(a_file) and open(a_file, "rb").read() == payload
    t.add("Complete of a job that fetched with its credentials", "ReturnValue 0, file in place",
          "ReturnValue %s, %s" % (rv, "in place" if placed else "missing"), rv == "0" and placed)
    raw = db_bytes(d.state)
    t.add("password bytes in jobs.db/-wal after Complete", "absent",
          "PRESENT" if FETCH_PW.encode() in raw else "absent", FETCH_PW.encode() not in raw)
    g = ws.job(ja)
    t.add("HasCredentials after Complete", "false", str(g.get("HasCredentials")),
          g.get("HasCredentials") == "false")
    texts = [ws.post(ws.envelope(wsmanc.A_GET, JOB, {"JobId": ja})).body,
             ws.post(ws.envelope(JOB + "/GetError", JOB, {"JobId": ja},
                                 '<p:GetError_INPUT xmlns:p="%s"><p:LanguageId>0'
                                 '</p:LanguageId></p:GetError_INPUT>' % JOB)).body]
    leak = any(FETCH_PW.encode() in b or b"fetcher" in b for b in texts)
    t.add("Get/GetError after Complete", "no user name, no password",
          "LEAKED" if leak else "absent", not leak)

    # ---- 1. credentials wiped at CANCELLED
    jc = ws.create_job("cred-cancel", grp + "/f.bin", os.path.join(droot, "a", "x.bin"),
                       suspend=True)
    ws.invoke(JOB, "SetCredentials", [("Target", 1), ("Scheme", 0), ("UserName", "proxyuser"),
                                      ("Password", CANCEL_PW)], {"JobId": jc})
    rv = ws.set_state(jc, 0).get("ReturnValue")
    raw = db_bytes(d.state)
    g = ws.job(jc)
    t.add("password bytes in jobs.db/-wal after Cancel", "absent, HasCredentials false",
          "ReturnValue %s, %s, HasCredentials %s" % (
              rv, "PRESENT" if CANCEL_PW.encode() in raw else "absent", g.get("HasCredentials")),
          rv == "0" and CANCEL_PW.encode() not in raw and g.get("HasCredentials") == "false")

    # ---- 2. suffixes that collide with generated names (X.meta4 = X's Metalink)
    f = fault_of(lambda: create_url("f.bin.meta4", os.path.join(pub, "g.bin")))
    t.add("CreateUrl f.bin.meta4 while f.bin is published", "w:InvalidParameter 400",
          repr(f), f is not None and f[0] == 400 and f[1] == "w:InvalidParameter"
          and "meta4" in f[2])
    out = create_url("h.meta4", os.path.join(pub, "h.bin"))
    t.add("CreateUrl h.meta4 (no h published)", "ReturnValue 0", out.get("ReturnValue"),
          out.get("ReturnValue") == "0")
    f = fault_of(lambda: create_url("h", os.path.join(pub, "g.bin")))
    t.add("CreateUrl h while h.meta4 is published", "w:InvalidParameter 400",
          repr(f), f is not None and f[0] == 400 and f[1] == "w:InvalidParameter"
          and "meta4" in f[2])
    port = int(grp.split(":")[2].split("/")[0])
    end = time.time() + 10
    while True:
        r = relpy.get(port, b"/sec/f.bin.meta4", b"Authorization: Basic " +
                      base64.b64encode(b"fetcher:" + FETCH_PW.encode()) + b"\r\n")
        if r.status != 503 or time.time() > end:
            break
        time.sleep(0.1)  # the manifest is computed in the background
    t.add("GET f.bin.meta4 still X's manifest", "200 application/metalink4+xml",
          "%d %s" % (r.status, r.header("Content-Type")),
          r.status == 200 and "metalink4" in (r.header("Content-Type") or ""))

    # ---- 3. Complete when LocalFile's directory became a symlink out of the root
    c_dir = os.path.join(droot, "c")
    c_file = os.path.join(c_dir, "f.bin")
    jx = ws.create_job("complete-escape", grp + "/f.bin", c_file, suspend=True)
    ws.invoke(JOB, "SetCredentials", [("Target", 0), ("Scheme", 0), ("UserName", "fetcher"),
                                      ("Password", FETCH_PW)], {"JobId": jx})
    ws.set_state(jx, 2)
    wait_state(ws, jx, ("6",))
    os.rename(c_dir, c_dir + ".moved")
    os.symlink(outside, c_dir)
    log_before = d.log_text().count(b"Complete failed")
    rv = ws.set_state(jx, 1).get("ReturnValue")
    code = int(rv or "0")
    t.add("Complete through a swapped directory", "a BITS code, not 0 or bare 0x80004005",
          "ReturnValue 0x%08x" % code, code not in (0, E_FAIL) and code & 0x80000000)
    st = ws.job(jx).get("State")
    ge = ws.get_error(jx)
    desc = ge.get("ErrorDescription") or ""
    t.add("GetError after the failed Complete", "State 4, context LOCAL_FILE (4), same code, "
          "description naming LocalFile",
          "State %s, ctx %s, code %s, %r" % (st, ge.get("ErrorContext"), ge.get("ErrorCode"),
                                            desc[:90]),
          st == "4" and ge.get("ErrorContext") == str(CTX_LOCAL_FILE) and
          ge.get("ErrorCode") == rv and c_file in desc)
    n = d.log_text().count(b"Complete failed") - log_before
    t.add("log lines of the failed Complete", "1", str(n), n == 1)
    t.add("nothing written outside the root", "empty", ",".join(os.listdir(outside)) or "empty",
          not os.listdir(outside))
    os.unlink(c_dir)
    os.rename(c_dir + ".moved", c_dir)
    ws.set_state(jx, 2)
    wait_state(ws, jx, ("6",))
    rv = ws.set_state(jx, 1).get("ReturnValue")
    placed = os.path.exists(c_file) and open(c_file, "rb").read() == payload
    t.add("Resume + Complete once the directory is back", "ReturnValue 0, file in place",
          "ReturnValue %s, %s" % (rv, "in place" if placed else "missing"),
          rv == "0" and placed and ws.job(jx).get("State") == "7")
    raw = db_bytes(d.state)
    t.add("password bytes in jobs.db/-wal after the second Complete", "absent",
          "PRESENT" if FETCH_PW.encode() in raw else "absent", FETCH_PW.encode() not in raw)

    rc = d.stop()
    t.add("SIGTERM", "exit 0", str(rc), rc == 0)
    raw = db_bytes(d.state)
    t.add("no job password in the state files after shutdown", "absent",
          "PRESENT" if FETCH_PW.encode() in raw or CANCEL_PW.encode() in raw else "absent",
          FETCH_PW.encode() not in raw and CANCEL_PW.encode() not in raw)
    rep = os.environ.get("REL_REPORT_DIR")
    if rep:
        os.makedirs(rep, exist_ok=True)
        t.write_markdown(os.path.join(rep, "sec_leftovers.md"))
    log(t.summary())
    return 1 if t.failed() else 0


if __name__ == "__main__":
    sys.exit(main())
