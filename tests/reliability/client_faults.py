#!/usr/bin/python3
"""Server-side and local faults under the client role, each ending in the right BITS
state and error, then recovering.

Server side, through tests/tools/faultproxy.py in front of nginx: reset mid-body, stall,
truncated body, wrong Content-Range, changed ETag (restart from zero), 5xx bursts, slow
trickle, connection refused, 404. Local: disk full (a 64 MiB tmpfs mounted here), download
root removed, permission denied (ferryd without CAP_DAC_OVERRIDE), state database locked
by another process, state database corrupted. Every fetched file is checked by SHA-256;
no LocalFile ever appears partial.
Exit 0 all good, 1 a case failed, 77 when ferryd lacks the WS-Man endpoint or nginx is
missing (single cases needing mount/setpriv are reported SKIP in the table).
"""

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import relpy  # noqa: E402
import wsmanc  # noqa: E402
from relpy import log  # noqa: E402
from wsmanc import Fault  # noqa: E402

MiB = 1 << 20
CLIENT_CFG = ["progress-interval = 100", "fetch-chunk-size = 1M", "connections-per-file = 2",
              "min-retry-delay = 1", "stall-timeout = 2", "connect-timeout = 2"]
E = {
    "BG_E_INVALID_SERVER_RESPONSE": 0x8020001B,
    "HTTP_503": 0x80190000 + 503,
    "HTTP_404": 0x80190000 + 404,
    "E_DISK_FULL": 0x80070070,
    "E_ACCESSDENIED": 0x80070005,
    "E_PATH_NOT_FOUND": 0x80070003,
    "E_FILE_NOT_FOUND": 0x80070002,
}


def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for b in iter(lambda: fh.read(MiB), b""):
            h.update(b)
    return h.hexdigest()


def main():
    if not wsmanc.ferryd_runs_wsman():
        log("SKIP: feature 'ferryd with WS-Man and the client role' not in this build "
            "(ferryd --help lists no --wsman-listen)")
        return relpy.SKIP
    tmp = relpy.TmpDir("client-faults")
    procs = []
    mounts = []
    failed = True
    try:
        rc = run(tmp.path, procs, mounts)
        failed = rc != 0
        return rc
    except (relpy.Fail, RuntimeError, Fault) as e:
        log("FAIL: %s" % e)
        for p in procs:
            if isinstance(p, wsmanc.Ferryd):
                log("---- %s\n%s" % (p.dir, p.tail()))
        return 1
    finally:
        for p in procs:
            p.kill()
        for m in mounts:
            subprocess.run(["umount", "-l", m], capture_output=True)
        tmp.done(failed)


class Ctx:
    def __init__(self, tmp, table):
        self.tmp = tmp
        self.t = table

    def wait_state(self, ws, jid, states, timeout=30, poll=0.02):
        end = time.time() + timeout
        inf = None
        while time.time() < end:
            inf = ws.job(jid)
            if int(inf["State"]) in states:
                return inf
            time.sleep(poll)
        return inf

    def error_of(self, ws, jid):
        try:
            e = ws.get_error(jid)
        except Fault as f:
            return None, None, str(f)
        try:
            return int(e.get("ErrorContext", "-1")), int(e.get("ErrorCode", "0")), \
                e.get("ErrorDescription", "")
        except ValueError:
            return None, None, repr(e)


def run(tmp, procs, mounts):
    t = relpy.Table("client faults")
    c = Ctx(tmp, t)
    src = os.path.join(tmp, "src")
    os.makedirs(src)
    files = {}
    for name, size in (("f8.bin", 8 * MiB), ("f1.bin", 1 * MiB), ("f32.bin", 32 * MiB)):
        p = os.path.join(src, name)
        with open(p, "wb") as fh:
            fh.write(os.urandom(size))
        files[name] = sha(p)
    ng = relpy.Nginx(tmp, "src", src).start()
    procs.append(ng)
    px = relpy.FaultProxy(tmp, "p", ng.port).start()
    procs.append(px)
    inroot = os.path.join(tmp, "in")
    os.makedirs(inroot)
    d = wsmanc.Ferryd(tmp, "cli", ["--download-root", inroot], config_lines=CLIENT_CFG)
    procs.append(d)
    d.start()
    ws = d.client()
    n = [0]

    def new_job(fname, via_proxy=True, suspend=False, root=inroot, client=None):
        n[0] += 1
        dst = os.path.join(root, "%02d-%s" % (n[0], fname))
        url = px.url(fname) if via_proxy else ng.url(fname)
        cl = client or ws
        jid = cl.create_job("fault-%d" % n[0], url, dst, suspend=True)
        # short retries so the test sees recovery in seconds (floor: min-retry-delay = 1)
        cl.set_props(jid, MinimumRetryDelay=1)
        if not suspend:
            cl.set_state(jid, 2)
        return jid, dst

    def finish_ok(case, jid, dst, fname, timeout=60, cl=None):
        cl = cl or ws
        inf = c.wait_state(cl, jid, (6, 4), timeout=timeout)
        st = int(inf["State"])
        if st == 6:
            cl.set_state(jid, 1)
            inf = cl.job(jid)
        ok = int(inf["State"]) == 7 and os.path.exists(dst) and sha(dst) == files[fname]
        return ok, inf

    def transient_then_recover(case, fault, fname="f8.bin", want_code=None, want_ctx=None,
                               states=(5,), timeout=30, code_known=False):
        """Arm a persistent fault, see the job reach one of `states` with the error, end the
        fault, see it recover with the right bytes."""
        px.ctl("set", *fault.split())
        jid, dst = new_job(fname)
        inf = c.wait_state(ws, jid, states, timeout=timeout)
        st = int(inf["State"])
        ctx, code, text = c.error_of(ws, jid)
        partial = os.path.exists(dst)
        px.ctl("set", "none")
        if st == 4:
            ws.set_state(jid, 2)  # a fatal error is resumed by hand
        ok_fin, fin = finish_ok(case, jid, dst, fname)
        got = "state %d ctx %s code %s (%s); then %s TEC %s refetched %s" % (
            st, ctx, "0x%08X" % code if code is not None else None, (text or "")[:60],
            fin["State"], fin.get("TransientErrorCount"), fin.get("BytesRefetched"))
        ok = st in states and code not in (None, 0) and not partial and ok_fin
        if want_ctx is not None and ctx not in want_ctx:
            ok = False
        exp = "%s, then ACKNOWLEDGED, hash ok" % "/".join(wsmanc.STATES[s] for s in states)
        if want_code is not None and code_known:
            # the safety half (state, no partial file, right bytes after) must hold; the
            # exact code is an OPEN finding until the client reports it
            t.add(case, exp, got, ok)
            t.add(case + ": error code", "0x%08X" % want_code,
                  "0x%08X" % code if code is not None else "none", code == want_code, known=True)
            return jid
        if want_code is not None and code != want_code:
            ok = False
        t.add(case, exp + (" 0x%08X" % want_code if want_code else ""), got, ok)
        return jid

    # ---- baseline through the proxy
    jid, dst = new_job("f8.bin")
    ok, inf = finish_ok("baseline", jid, dst, "f8.bin")
    t.add("baseline through the proxy", "ACKNOWLEDGED, hash ok", "state %s" % inf["State"], ok)

    # ---- server-side faults
    transient_then_recover("reset mid-body (RST)", "reset after=300000", want_ctx=(5, 6, 7))
    transient_then_recover("stall mid-body", "stall after=300000", want_ctx=(5, 6, 7), timeout=40)
    transient_then_recover("truncated body (clean close)", "truncate after=300000",
                           want_ctx=(5, 6, 7))
    transient_then_recover("5xx burst (persistent 503)", "5xx status=503",
                           want_code=E["HTTP_503"], want_ctx=(5, 7))
    transient_then_recover("wrong Content-Range", "bad-content-range shift=4096",
                           want_code=E["BG_E_INVALID_SERVER_RESPONSE"], states=(4, 5),
                           code_known=True)

    # one-shot faults: recovered without help, TransientErrorCount counts them
    for case, fault in [("one reset", "reset after=200000 times=1"),
                        ("one truncation", "truncate after=200000 times=1"),
                        ("three 503s", "5xx times=3")]:
        px.ctl("set", *fault.split())
        jid, dst = new_job("f8.bin")
        ok, inf = finish_ok(case, jid, dst, "f8.bin")
        tec = int(inf.get("TransientErrorCount", "0"))
        refetched = int(inf.get("BytesRefetched", "0"))
        t.add("%s, recovered" % case, "ACKNOWLEDGED, hash ok, TEC >= 1, refetch < size",
              "state %s TEC %d refetched %d" % (inf["State"], tec, refetched),
              ok and tec >= 1 and refetched < 8 * MiB)
        px.ctl("set", "none")

    # changed ETag mid-transfer: the file restarts from zero, right bytes at the end
    px.ctl("set", "trickle", "rate=1000000")
    jid, dst = new_job("f8.bin")
    inf = None
    end = time.time() + 30
    while time.time() < end:
        inf = ws.job(jid)
        if int(inf["BytesTransferred"]) >= 2 * MiB:
            break
        time.sleep(0.02)
    before = int(inf["BytesTransferred"])
    px.ctl("set", "change-etag", 'value="faultproxy-v2"')
    ok, fin = finish_ok("etag", jid, dst, "f8.bin", timeout=60)
    px.ctl("set", "none")
    refetched = int(fin.get("BytesRefetched", "0"))
    ectx, ecode, etext = c.error_of(ws, jid) if fin["State"] == "4" else (None, None, "")
    t.add("ETag changed at %d B" % before, "restart from zero (refetch >= bytes before), hash ok",
          "state %s refetched %d %s" % (fin["State"], refetched,
                                        "error 0x%08X %s" % (ecode, etext) if ecode else ""),
          ok and refetched >= before - MiB and refetched > 0)

    # trickle: slow but steady is not an error
    px.ctl("set", "trickle", "rate=300000")
    t0 = time.time()
    jid, dst = new_job("f1.bin")
    ok, fin = finish_ok("trickle", jid, dst, "f1.bin", timeout=60)
    dt = time.time() - t0
    px.ctl("set", "none")
    t.add("trickle 300 KB/s per connection", "ACKNOWLEDGED in >= 1.2 s, TEC 0",
          "%.1f s, TEC %s" % (dt, fin.get("TransientErrorCount")),
          ok and dt >= 1.2 and fin.get("TransientErrorCount") == "0")

    # connection refused: transient, recovers when the server is back
    gone = relpy.free_port()
    n[0] += 1
    dst = os.path.join(inroot, "%02d-refused.bin" % n[0])
    jid = ws.create_job("refused", "http://127.0.0.1:%d/f8.bin" % gone, dst, suspend=True)
    ws.set_props(jid, MinimumRetryDelay=1)
    ws.set_state(jid, 2)
    inf = c.wait_state(ws, jid, (5, 4), timeout=20)
    ctx, code, text = c.error_of(ws, jid)
    t.add("connection refused", "TRANSIENT_ERROR, transport context",
          "state %s ctx %s code 0x%08X" % (inf["State"], ctx, code or 0),
          inf["State"] == "5" and ctx in (6, 5) and code)
    ws.set_state(jid, 0)

    # 404: fatal
    jid, dst = new_job("missing.bin", via_proxy=False)
    inf = c.wait_state(ws, jid, (4, 5), timeout=20)
    ctx, code, text = c.error_of(ws, jid)
    t.add("404", "ERROR 0x80190194 context 5", "state %s ctx %s code 0x%08X" % (
        inf["State"], ctx, code or 0),
        inf["State"] == "4" and code == E["HTTP_404"] and ctx == 5)
    ws.set_state(jid, 0)

    # ---- local faults
    local_faults(c, d, ws, ng, files, new_job, finish_ok, mounts, procs, inroot)

    d.stop()
    rep = os.environ.get("REL_REPORT_DIR")
    if rep:
        os.makedirs(rep, exist_ok=True)
        t.write_markdown(os.path.join(rep, "client_faults.md"))
    log(t.summary())
    return 1 if t.failed() else 0


def local_faults(c, d, ws, ng, files, new_job, finish_ok, mounts, procs, inroot):
    t = c.t
    tmp = c.tmp

    # disk full: a 64 MiB tmpfs download root with 40 MiB taken, a 32 MiB file
    small = os.path.join(tmp, "small")
    os.makedirs(small)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", small],
                       capture_output=True)
    if r.returncode != 0:
        t.add("disk full", "ERROR 0x80070070", "SKIP: cannot mount tmpfs (%s)" % r.stderr.decode().strip(), True)
    else:
        mounts.append(small)
        filler = os.path.join(small, "filler")
        with open(filler, "wb") as fh:
            fh.write(b"\1" * (40 * MiB))
        d2 = wsmanc.Ferryd(tmp, "cli-small", ["--download-root", small], config_lines=CLIENT_CFG)
        procs.append(d2)
        d2.start()
        w2 = d2.client()
        jid, dst = new_job("f32.bin", via_proxy=False, root=small, client=w2)
        inf = c.wait_state(w2, jid, (4, 5), timeout=30)
        ctx, code, text = c.error_of(w2, jid)
        t.add("disk full", "ERROR 0x80070070 context 4, no LocalFile",
              "state %s ctx %s code 0x%08X %s" % (inf["State"], ctx, code or 0, (text or "")[:50]),
              inf["State"] == "4" and code == E["E_DISK_FULL"] and ctx == 4 and not os.path.exists(dst))
        # found before the transfer (fallocate on disk, the free-space check on tmpfs):
        # nothing fetched, no page of the temp file taken
        parts = [n for n in os.listdir(small) if n.endswith(".part")]
        blocks = sum(os.stat(os.path.join(small, n)).st_blocks for n in parts)
        t.add("disk full found before the transfer", "0 bytes transferred, 0 blocks",
              "%s bytes, %d blocks in %s" % (inf["BytesTransferred"], blocks, parts),
              inf["BytesTransferred"] == "0" and blocks == 0)
        os.unlink(filler)
        w2.set_state(jid, 2)
        ok, fin = finish_ok("disk full", jid, dst, "f32.bin", cl=w2)
        t.add("disk full, space freed, resumed", "ACKNOWLEDGED, hash ok", "state %s" % fin["State"], ok)
        d2.stop()

    # download root removed under a suspended job
    gone = os.path.join(tmp, "gone")
    os.makedirs(gone)
    d3 = wsmanc.Ferryd(tmp, "cli-gone", ["--download-root", gone], config_lines=CLIENT_CFG)
    procs.append(d3)
    d3.start()
    w3 = d3.client()
    jid, dst = new_job("f8.bin", via_proxy=False, root=gone, client=w3, suspend=True)
    shutil.rmtree(gone)
    w3.set_state(jid, 2)
    inf = c.wait_state(w3, jid, (4, 5), timeout=20)
    ctx, code, text = c.error_of(w3, jid)
    t.add("download root removed", "ERROR, local-file context",
          "state %s ctx %s code 0x%08X %s" % (inf["State"], ctx, code or 0, (text or "")[:50]),
          inf["State"] == "4" and ctx == 4 and code in (E["E_PATH_NOT_FOUND"], E["E_FILE_NOT_FOUND"]))
    os.makedirs(gone)
    w3.set_state(jid, 2)
    ok, fin = finish_ok("root back", jid, dst, "f8.bin", cl=w3)
    t.add("download root back, resumed", "ACKNOWLEDGED, hash ok", "state %s" % fin["State"], ok)
    d3.stop()

    # permission denied: ferryd without CAP_DAC_OVERRIDE, download dir 0555
    ro = os.path.join(tmp, "ro")
    os.makedirs(ro)
    os.chmod(ro, 0o555)
    if shutil.which("setpriv") is None:
        t.add("permission denied", "ERROR 0x80070005", "SKIP: setpriv missing", True)
    else:
        d4 = wsmanc.Ferryd(tmp, "cli-ro", ["--download-root", ro], config_lines=CLIENT_CFG)
        d4.wrap = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
        procs.append(d4)
        d4.start()
        w4 = d4.client()
        try:
            jid, dst = new_job("f8.bin", via_proxy=False, root=ro, client=w4)
            inf = c.wait_state(w4, jid, (4, 5), timeout=20)
            ctx, code, text = c.error_of(w4, jid)
            t.add("permission denied", "ERROR 0x80070005 context 4",
                  "state %s ctx %s code 0x%08X %s" % (inf["State"], ctx, code or 0, (text or "")[:50]),
                  inf["State"] == "4" and code == E["E_ACCESSDENIED"] and ctx == 4)
            os.chmod(ro, 0o755)
            w4.set_state(jid, 2)
            ok, fin = finish_ok("perm back", jid, dst, "f8.bin", cl=w4)
            t.add("permission restored, resumed", "ACKNOWLEDGED, hash ok", "state %s" % fin["State"], ok)
        except Fault as f:
            t.add("permission denied", "refused at CreateJob or ERROR 0x80070005",
                  "CreateJob fault %s" % f.subcode, f.subcode in ("w:InvalidParameter", "w:AccessDenied"))
        d4.stop()

    # state database locked by another process
    state_db_faults(c, d, ws, ng, files, inroot)


def state_db_faults(c, d, ws, ng, files, inroot):
    t = c.t
    db = os.path.join(d.state, "jobs.db")
    made = []
    for i in range(3):
        made.append(ws.create_job("keep-%d" % i, ng.url("f1.bin"),
                                  os.path.join(inroot, "keep-%d.bin" % i), suspend=True))
    hold = threading.Event()
    held = threading.Event()

    def locker():
        con = sqlite3.connect(db, timeout=10, isolation_level=None)
        con.execute("BEGIN EXCLUSIVE")
        held.set()
        hold.wait(30)
        con.execute("ROLLBACK")
        con.close()
    th = threading.Thread(target=locker)
    th.start()
    held.wait(10)
    t0 = time.time()
    outcome = ""
    created = None
    try:
        created = ws.create_job("while-locked", ng.url("f1.bin"),
                                os.path.join(inroot, "locked.bin"), suspend=True)
        outcome = "created"
    except Fault as f:
        outcome = "fault %s: %s" % (f.subcode, f.reason[:60])
    except Exception as e:  # timeouts are a failure of their own
        outcome = "error %r" % e
    dt = time.time() - t0
    alive = d.alive()
    hold.set()
    th.join()
    t.add("CreateJob while jobs.db is locked", "a clear fault (or success after the lock), daemon up",
          "%s after %.1f s, daemon %s" % (outcome, dt, "up" if alive else "DEAD"),
          alive and (outcome.startswith("fault") or outcome == "created"))
    ok_after = True
    try:
        made.append(ws.create_job("after-lock", ng.url("f1.bin"),
                                  os.path.join(inroot, "after.bin"), suspend=True))
    except Fault as f:
        ok_after = False
        log("create after lock: %s" % f)
    t.add("CreateJob once the lock is gone", "works", "ok" if ok_after else "fault", ok_after)
    if created:
        made.append(created)
    # every job the daemon answered for survives a restart
    d.kill9()
    d.start()
    ws2 = d.client()
    lost = [j for j in made if _missing(ws2, j)]
    t.add("jobs answered around the lock survive kill -9", "%d jobs present" % len(made),
          "%d lost" % len(lost), not lost)

    # locked at start: ferryd waits for the lock or refuses clearly, and loses nothing
    d.stop()
    hold2 = threading.Event()
    held2 = threading.Event()

    def locker2():
        con = sqlite3.connect(db, timeout=10, isolation_level=None)
        con.execute("BEGIN EXCLUSIVE")
        held2.set()
        hold2.wait(3)
        con.execute("ROLLBACK")
        con.close()
    th = threading.Thread(target=locker2)
    th.start()
    held2.wait(10)
    t0 = time.time()
    try:
        d.start(timeout=30)
        started = "ready after %.1f s" % (time.time() - t0)
    except RuntimeError:
        started = None
    th.join()
    named = b"jobs.db" in d.log_text()[-3000:]
    if started is None:
        d.start()
    ws3 = d.client()
    lost = [j for j in made if _missing(ws3, j)]
    t.add("start while jobs.db is locked (3 s)", "waits, or exits naming jobs.db; no job lost",
          "%s; %d lost" % (started or ("exited, log names jobs.db: %s" % named), len(lost)),
          (started is not None or named) and not lost)

    # corrupted database: refuse to start (or keep the bad file aside), never a silent reset
    d.stop()
    with open(db, "r+b") as fh:
        fh.seek(0)
        fh.write(b"this is not a sqlite database" + os.urandom(4000))
    for side in ("-wal", "-shm"):
        try:
            os.unlink(db + side)
        except FileNotFoundError:
            pass
    corrupt_bytes = open(db, "rb").read()
    started = True
    try:
        d.start(timeout=10)
    except RuntimeError:
        started = False
    logtxt = d.log_text()[-4000:]
    named = b"jobs.db" in logtxt
    kept = False
    for f in os.listdir(d.state):
        p = os.path.join(d.state, f)
        if f.startswith("jobs.db") and os.path.isfile(p) and open(p, "rb").read() == corrupt_bytes:
            kept = True
    if started:
        jobs_now = d.client().enumerate_all(wsmanc.JOB)
        ok = named and kept
        got = "started with %d jobs; log names jobs.db: %s; corrupt file kept: %s" % (
            len(jobs_now), named, kept)
        d.stop()
    else:
        ok = named and kept
        got = "refused to start; log names jobs.db: %s; file untouched: %s" % (named, kept)
    t.add("corrupted jobs.db", "refuse to start naming jobs.db (or keep it aside, loudly)", got, ok)


def _missing(ws, jid):
    try:
        ws.job(jid)
        return False
    except Fault as f:
        return f.subcode == "w:InvalidSelectors"


if __name__ == "__main__":
    sys.exit(main())
