#!/usr/bin/python3
"""BITS job policies (issue #17): MaxDownloadTime and JobInactivityTimeout, set through
WS-Man (Put), persisted in jobs.db, enforced by the jobs thread.

  maxdl       an 8 MiB file paced at 512 KiB/s (the job's BandwidthLimit) with
              MaxDownloadTime 2: ERROR with BG_E_MAXDOWNLOAD_TIMEOUT (0x80200054, context 2)
              after about 2 s, part of the bytes kept; survives a restart (MaxDownloadTime
              and DownloadTime persisted, still ERROR); Resume gives it the time again
              (transferring, then ERROR again with more bytes); MaxDownloadTime 0 and no
              pacing: TRANSFERRED, Complete, the file byte-identical.
  inactivity  a daemon with job-inactivity-timeout = 3: a suspended job is CANCELLED after
              ~3 s (its temp file gone); one with JobInactivityTimeout 0 (Put) and one with
              30 stay; a job transferring for longer than 3 s is not cancelled; the Put
              value survives a restart.

Exit 0 all good, 1 a case failed, 77 when ferryd lacks the WS-Man endpoint or nginx.
"""

import hashlib
import os
import sys
import time
from xml.sax.saxutils import escape

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import relpy  # noqa: E402
import wsmanc  # noqa: E402
from relpy import log  # noqa: E402
from wsmanc import JOB  # noqa: E402

MiB = 1 << 20
BG_E_MAXDOWNLOAD_TIMEOUT = 0x80200054
CFG = ["progress-interval = 100", "fetch-chunk-size = 1M", "connections-per-file = 2",
       "min-retry-delay = 1"]
WRITABLE = ["DisplayName", "Description", "Priority", "MinimumRetryDelay", "NoProgressTimeout",
            "ConnectionsPerFile", "BandwidthLimit", "MaxDownloadTime", "JobInactivityTimeout"]


def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for b in iter(lambda: fh.read(MiB), b""):
            h.update(b)
    return h.hexdigest()


def put(ws, jid, **kv):
    cur = ws.job(jid)
    cur.update({k: str(v) for k, v in kv.items()})
    body = '<p:BitsClientJob xmlns:p="%s">%s</p:BitsClientJob>' % (
        JOB, "".join("<p:%s>%s</p:%s>" % (k, escape(cur[k]), k) for k in ["JobId"] + WRITABLE
                     if k in cur))
    ws.call(wsmanc.A_PUT, JOB, {"JobId": jid}, body)


def wait_state(ws, jid, states, timeout=30):
    end = time.time() + timeout
    inf = None
    while time.time() < end:
        inf = ws.job(jid)
        if int(inf["State"]) in states:
            return inf
        time.sleep(0.05)
    return inf


def main():
    return wsmanc.harness("client-policies", run)


def run(tmp, procs):
    t = relpy.Table("client policies")
    src = os.path.join(tmp, "src")
    os.makedirs(src)
    for name, size in (("big.bin", 8 * MiB), ("mid.bin", 2 * MiB)):
        with open(os.path.join(src, name), "wb") as fh:
            fh.write(os.urandom(size))
    ng = relpy.Nginx(tmp, "src", src).start()
    procs.append(ng)
    case_maxdl(t, tmp, procs, ng, src)
    case_inactivity(t, tmp, procs, ng)
    log(t.summary())
    return 1 if t.failed() else 0


def case_maxdl(t, tmp, procs, ng, src):
    inroot = os.path.join(tmp, "in1")
    os.makedirs(inroot)
    d = wsmanc.Ferryd(tmp, "maxdl", ["--download-root", inroot], config_lines=CFG)
    procs.append(d)
    d.start()
    ws = d.client()
    dst = os.path.join(inroot, "big.bin")
    jid = ws.create_job("maxdl", ng.url("big.bin"), dst, suspend=True)
    inf = ws.job(jid)
    t.add("maxdl: default MaxDownloadTime", "7776000 (90 days)", inf.get("MaxDownloadTime"),
          inf.get("MaxDownloadTime") == "7776000")
    put(ws, jid, MaxDownloadTime=2, BandwidthLimit=512 * 1024)
    t0 = time.time()
    ws.set_state(jid, 2)
    inf = wait_state(ws, jid, (4,), timeout=20)
    dt = time.time() - t0
    e = ws.get_error(jid)
    got = int(inf["BytesTransferred"])
    t.add("maxdl: ERROR when used up", "4 after ~2 s, 0x%08X ctx 2" % BG_E_MAXDOWNLOAD_TIMEOUT,
          "%s after %.1f s, 0x%08X ctx %s" % (inf["State"], dt, int(e.get("ErrorCode", "0")),
                                             e.get("ErrorContext")),
          int(inf["State"]) == 4 and 1.8 <= dt <= 8 and
          int(e.get("ErrorCode", "0")) == BG_E_MAXDOWNLOAD_TIMEOUT and
          e.get("ErrorContext") == "2")
    t.add("maxdl: part of the bytes kept", "0 < bytes < 8 MiB", got, 0 < got < 8 * MiB)
    d.stop()
    d.start()
    ws = d.client()
    inf = ws.job(jid)
    t.add("maxdl: persisted across a restart", "4, MaxDownloadTime 2, DownloadTime >= 2",
          "%s, %s, %s" % (inf["State"], inf.get("MaxDownloadTime"), inf.get("DownloadTime")),
          inf["State"] == "4" and inf.get("MaxDownloadTime") == "2" and
          int(inf.get("DownloadTime", "0")) >= 2)
    ws.set_state(jid, 2)
    time.sleep(0.6)
    inf = ws.job(jid)
    t.add("maxdl: Resume gives the time again", "1/2, DownloadTime < 2",
          "%s, %s" % (inf["State"], inf.get("DownloadTime")),
          inf["State"] in ("0", "1", "2") and int(inf.get("DownloadTime", "9")) < 2)
    inf = wait_state(ws, jid, (4,), timeout=20)
    got2 = int(inf["BytesTransferred"])
    t.add("maxdl: ERROR again, more bytes", "4, bytes > %d" % got, "%s, %d" % (inf["State"], got2),
          inf["State"] == "4" and got2 > got)
    put(ws, jid, MaxDownloadTime=0, BandwidthLimit=0)
    ws.set_state(jid, 2)
    inf = wait_state(ws, jid, (4, 6), timeout=30)
    ws.set_state(jid, 1)
    ok = inf["State"] == "6" and os.path.exists(dst) and \
        sha(dst) == sha(os.path.join(src, "big.bin"))
    t.add("maxdl: 0 = no limit, completes", "6, file identical", inf["State"], ok)
    d.stop()


def case_inactivity(t, tmp, procs, ng):
    inroot = os.path.join(tmp, "in2")
    os.makedirs(inroot)
    d = wsmanc.Ferryd(tmp, "inact", ["--download-root", inroot],
                      config_lines=CFG + ["job-inactivity-timeout = 3"])
    procs.append(d)
    d.start()
    ws = d.client()
    a = ws.create_job("idle", ng.url("mid.bin"), os.path.join(inroot, "a.bin"), suspend=True)
    b = ws.create_job("never", ng.url("mid.bin"), os.path.join(inroot, "b.bin"), suspend=True)
    c = ws.create_job("long", ng.url("mid.bin"), os.path.join(inroot, "c.bin"), suspend=True)
    busy = ws.create_job("busy", ng.url("mid.bin"), os.path.join(inroot, "busy.bin"),
                         suspend=True)
    t.add("inactivity: a new job's value is the config's", "3",
          ws.job(a).get("JobInactivityTimeout"), ws.job(a).get("JobInactivityTimeout") == "3")
    put(ws, b, JobInactivityTimeout=0)
    put(ws, c, JobInactivityTimeout=30)
    put(ws, busy, BandwidthLimit=300 * 1024)  # 2 MiB: about 7 s of transferring
    ws.set_state(busy, 2)
    time.sleep(5)
    st = {j: ws.job(j)["State"] for j in (a, b, c, busy)}
    temps = [n for n in os.listdir(inroot) if n.endswith(".part") and a[1:9] in n]
    t.add("inactivity: idle job cancelled", "8, no temp", "%s, %s" % (st[a], temps),
          st[a] == "8" and not temps)
    t.add("inactivity: 0 never, 30 not yet", "3 3", "%s %s" % (st[b], st[c]),
          st[b] == "3" and st[c] == "3")
    t.add("inactivity: a transferring job stays", "2 (or 1)", st[busy], st[busy] in ("1", "2"))
    d.stop()
    d.start()
    ws = d.client()
    inf = ws.job(b)
    t.add("inactivity: Put value persisted", "3, 0", "%s, %s" % (
        inf["State"], inf.get("JobInactivityTimeout")),
        inf["State"] == "3" and inf.get("JobInactivityTimeout") == "0")
    d.stop()


if __name__ == "__main__":
    sys.exit(main())
