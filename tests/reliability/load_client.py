#!/usr/bin/python3
"""Load on the client role and the WS-Man endpoint.

60 jobs of 256 KiB created back to back against nginx (max-active-jobs 4), one job with
40 files added by AddFile, while 8 threads hammer the endpoint with Get / Enumerate /
Identify (1,600 calls, every one answered 200); every job ends ACKNOWLEDGED with
byte-identical files, no temp file left, the daemon's fds back near the start, SIGTERM 0.
Then the job limit: with max-jobs = 70, creating past it gives a clear refusal and the
daemon stays up.
Exit 0 all good, 1 a check failed, 77 when ferryd lacks the WS-Man endpoint or nginx is
missing.
"""

import hashlib
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import relpy  # noqa: E402
import wsmanc  # noqa: E402
from relpy import log  # noqa: E402
from wsmanc import Fault, JOB, A_ENUM  # noqa: E402

NJOBS = 60
NFILES = 40


def main():
    return wsmanc.harness("load-client", run, what="ferryd with WS-Man and the client role")


def run(tmp, procs):
    t = relpy.Table("client load")
    src = os.path.join(tmp, "src")
    os.makedirs(src)
    shas = {}
    for i in range(NFILES):
        b = os.urandom(256 * 1024 + i * 17)
        with open(os.path.join(src, "f%02d.bin" % i), "wb") as fh:
            fh.write(b)
        shas["f%02d.bin" % i] = hashlib.sha256(b).hexdigest()
    ng = relpy.Nginx(tmp, "src", src).start()
    procs.append(ng)
    inroot = os.path.join(tmp, "in")
    os.makedirs(inroot)
    d = wsmanc.Ferryd(tmp, "cli", ["--download-root", inroot],
                      config_lines=["max-jobs = 70", "min-retry-delay = 1"])
    procs.append(d)
    d.start()
    ws = d.client()
    time.sleep(0.2)
    fds0 = len(os.listdir("/proc/%d/fd" % d.pid))

    # hammering threads
    stop = threading.Event()
    stats = {"calls": 0, "bad": []}
    lock = threading.Lock()

    def hammer(k):
        w = d.client()
        i = 0
        while not stop.is_set() and i < 200:
            i += 1
            try:
                if i % 3 == 0:
                    r = w.identify()
                    ok = r.status == 200
                elif i % 3 == 1:
                    w.enumerate_all(JOB, max_elements=25)
                    ok = True
                else:
                    r = w.post(w.envelope(A_ENUM, wsmanc.FILE, None, "<n:Enumerate><w:OptimizeEnumeration/>"
                                          "<w:MaxElements>50</w:MaxElements></n:Enumerate>"))
                    ok = r.status == 200
            except Exception as e:
                ok = False
                with lock:
                    stats["bad"].append(repr(e)[:120])
            with lock:
                stats["calls"] += 1
                if not ok and len(stats["bad"]) < 5:
                    stats["bad"].append("call %d of thread %d failed" % (i, k))
    threads = [threading.Thread(target=hammer, args=(k,)) for k in range(8)]
    for th in threads:
        th.start()

    t0 = time.time()
    jobs = {}
    for i in range(NJOBS):
        name = "f%02d.bin" % (i % NFILES)
        dst = os.path.join(inroot, "job%02d-%s" % (i, name))
        jobs[ws.create_job("load-%d" % i, ng.url(name), dst)] = (dst, name)
    multi_dst = os.path.join(inroot, "multi")
    os.makedirs(multi_dst)
    mj = ws.create_job("multi", ng.url("f00.bin"), os.path.join(multi_dst, "f00.bin"), suspend=True)
    for i in range(1, NFILES):
        out = ws.invoke(JOB, "AddFile", [("RemoteUrl", ng.url("f%02d.bin" % i)),
                                         ("LocalFile", os.path.join(multi_dst, "f%02d.bin" % i))],
                        {"JobId": mj})
        if out.get("ReturnValue") != "0":
            raise relpy.Fail("AddFile %d returned %s" % (i, out.get("ReturnValue")))
    ws.set_state(mj, 2)
    t_create = time.time() - t0

    pending = set(jobs) | {mj}
    end = time.time() + 120
    while pending and time.time() < end:
        for jid in list(pending):
            st = ws.job(jid)["State"]
            if st == "6":
                ws.set_state(jid, 1)
            if st in ("7", "4", "8") or ws.job(jid)["State"] == "7":
                pending.discard(jid)
        time.sleep(0.1)
    dt = time.time() - t0
    stop.set()
    for th in threads:
        th.join()

    bad = []
    for jid, (dst, name) in jobs.items():
        st = ws.job(jid)["State"]
        if st != "7" or not os.path.exists(dst) or \
                hashlib.sha256(open(dst, "rb").read()).hexdigest() != shas[name]:
            bad.append("%s state %s" % (os.path.basename(dst), st))
    t.add("%d single-file jobs" % NJOBS, "all ACKNOWLEDGED, files identical",
          "%d bad%s, created in %.1f s, all done in %.1f s" % (
              len(bad), (": " + ", ".join(bad[:3])) if bad else "", t_create, dt), not bad)
    minf = ws.job(mj)
    mbad = [n for n in shas if not os.path.exists(os.path.join(multi_dst, n)) or
            hashlib.sha256(open(os.path.join(multi_dst, n), "rb").read()).hexdigest() != shas[n]]
    t.add("one job with %d files" % NFILES, "ACKNOWLEDGED, FilesTransferred %d, files identical" % NFILES,
          "state %s, FilesTransferred %s, %d bad" % (minf["State"], minf.get("FilesTransferred"), len(mbad)),
          minf["State"] == "7" and minf.get("FilesTransferred") == str(NFILES) and not mbad)
    t.add("8 threads of WS-Man calls meanwhile", "every call answered",
          "%d calls, %d failed %s" % (stats["calls"], len(stats["bad"]), stats["bad"][:2]),
          not stats["bad"] and stats["calls"] >= 1000)
    leftovers = [f for f in os.listdir(inroot) if f.startswith(".")] + \
        [f for f in os.listdir(multi_dst) if f.startswith(".")]
    t.add("no temp files left", "none", leftovers or "none", not leftovers)
    t.add("no job listed at the end", "0", str(len(ws.enumerate_all(JOB))),
          len(ws.enumerate_all(JOB)) == 0)

    # the job limit: max-jobs = 70 live jobs
    made = []
    refusal = None
    for i in range(75):
        try:
            made.append(ws.create_job("limit-%d" % i, ng.url("f00.bin"),
                                      os.path.join(inroot, "lim%02d.bin" % i), suspend=True))
        except Fault as f:
            refusal = "fault %s %s" % (f.subcode, f.reason[:60])
            break
        except RuntimeError as e:
            refusal = str(e)
            break
    t.add("max-jobs = 70", "71st refused, ReturnValue 0x80200050 (BG_E_TOO_MANY_JOBS_PER_MACHINE)",
          "%d created, then %s" % (len(made), refusal),
          len(made) == 70 and refusal is not None and str(0x80200050) in refusal and d.alive())
    for jid in made:
        ws.set_state(jid, 0)
    time.sleep(0.5)
    fds1 = len(os.listdir("/proc/%d/fd" % d.pid))
    t.add("daemon fds", "<= %d + 8" % fds0, str(fds1), fds1 <= fds0 + 8)
    rc = d.stop()
    t.add("SIGTERM", "exit 0", str(rc), rc == 0)
    rep = os.environ.get("REL_REPORT_DIR")
    if rep:
        os.makedirs(rep, exist_ok=True)
        t.write_markdown(os.path.join(rep, "load_client.md"))
    log(t.summary())
    return 1 if t.failed() else 0


if __name__ == "__main__":
    sys.exit(main())
