#!/usr/bin/python3
"""Crash points: kill -9 of a client ferryd at points spread over a job's life, restart,
check, go on.

An episode starts a client ferryd (its own state dir), creates jobs fetching 12 MiB files
(one of them a 3-file job filled by AddFile) from nginx or from a server-role ferryd
(chunk manifests), and kills the client with
SIGKILL at these points, restarting it after each on the same state dir:

  create    CreateJob in flight, killed 0-20 ms after the request left
  transfer  when a job has fetched a random fraction of its bytes
  commit    the instant jobs.db-wal changes (a progress commit reaching SQLite)
  cancel    SetJobState(cancel) in flight, killed 0-30 ms after
  verify    when a job holds all its bytes (verification and the switch to TRANSFERRED)
  recovery  0-50 ms after a restart, while jobs are being recovered (a second crash)
  sigterm   a clean stop mid-transfer (exit 0 within 10 s, progress kept)
  damage    killed at 30-60 %, then the temp file is damaged while the daemon is down
            (4 KiB flipped inside the fetched bytes, or the file cut short)
  complete  SetJobState(complete) in flight, killed 0-30 ms after (rename + commit)

After every kill, before and after the restart: each LocalFile is absent or byte-identical
to its source (never partial); after the restart every job the daemon acknowledged is
there (none lost) in a legal state (0-8, BytesTransferred <= BytesTotal, a cancel or
complete that was answered stays done, no LocalFile before TRANSFERRED). At the end of an
episode every job is driven to its end: ACKNOWLEDGED with a hash-identical file, or
CANCELLED; no temp file is left in the download root; the daemon exits 0 on SIGTERM.

Usage: crashpoints.py [--episodes N] [--seed S] [--report FILE.json]
Exit 0 when every point held, 1 otherwise, 77 when ferryd lacks the WS-Man endpoint or
nginx is missing.
"""

import argparse
import hashlib
import json
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import relpy  # noqa: E402
import wsmanc  # noqa: E402
from relpy import log  # noqa: E402
from wsmanc import Fault  # noqa: E402

FILE_SIZE = 12 << 20
FINAL = (7, 8)


def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for b in iter(lambda: fh.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


class Episode:
    def __init__(self, tmp, n, rnd, src_urls, src_sha, src_kind, src_path=None):
        self.tmp = tmp
        self.n = n
        self.rnd = rnd
        self.src_urls = src_urls
        self.src_sha = src_sha
        self.src_kind = src_kind
        self.src_path = src_path or {}
        self.inroot = os.path.join(tmp, "ep%d-in" % n)
        os.makedirs(self.inroot)
        self.d = wsmanc.Ferryd(tmp, "ep%d" % n, ["--download-root", self.inroot],
                               config_lines=["bandwidth-limit = 12M", "progress-interval = 100",
                                             "fetch-chunk-size = 1M",
                                             "connections-per-file = 2"])
        self.jobs = {}      # id -> dict(name, dst, src, cancel_ok, complete_ok)
        self.points = []
        self.problems = []
        self.open = []

    # ---- helpers ----

    def ws(self):
        return self.d.client()

    def info(self, jid):
        try:
            return self.ws().job(jid)
        except Fault as e:
            if e.subcode == "w:InvalidSelectors":
                return None
            raise

    def add_job(self, name, src, extra=()):
        """A job fetching src to name; extra = [(name, src)] more files added by AddFile
        (the job is created suspended, filled, then resumed)."""
        dst = os.path.join(self.inroot, name)
        ws = self.ws()
        jid = ws.create_job("crash-%s" % name, self.src_urls[src], dst, suspend=bool(extra))
        more = []
        for n2, s2 in extra:
            d2 = os.path.join(self.inroot, n2)
            out = ws.invoke(wsmanc.JOB, "AddFile", [("RemoteUrl", self.src_urls[s2]),
                                                    ("LocalFile", d2)], {"JobId": jid})
            if out.get("ReturnValue") != "0":
                raise RuntimeError("AddFile %s returned %s" % (n2, out.get("ReturnValue")))
            more.append((d2, s2))
        if extra:
            ws.set_state(jid, 2)
        self.jobs[jid] = {"name": name, "dst": dst, "src": src, "cancel_ok": False,
                          "complete_ok": False, "want": "ack", "more": more}
        return jid

    @staticmethod
    def files_of(j):
        return [(j["dst"], j["src"])] + list(j.get("more", ()))

    def only_damage(self, j, dst, src):
        """True when dst has the source's size and differs from it only inside the range
        this test damaged in the job's temp file (see point_damage)."""
        dmg = j.get("damage")
        if not dmg or dmg[0] != dst or os.path.getsize(dst) != os.path.getsize(self.src_path[src]):
            return False
        lo, hi = dmg[1], dmg[2]
        with open(dst, "rb") as a, open(self.src_path[src], "rb") as b:
            x, y = a.read(), b.read()
        return x[:lo] == y[:lo] and x[hi:] == y[hi:]

    def check_files(self, where):
        """Every LocalFile is absent or identical to its source. A file that differs only
        where this test damaged its temp file means checksummed resume did not catch the
        damage (docs/DESIGN.md §3): a failure like any other wrong byte."""
        bad = []
        for jid, j in self.jobs.items():
            for dst, src in self.files_of(j):
                if os.path.exists(dst) and sha(dst) != self.src_sha[src]:
                    if self.only_damage(j, dst, src):
                        bad.append("%s: damaged temp bytes delivered: %s (source %s) differs "
                                   "from its source exactly in the %s" % (
                                       where, os.path.basename(dst), self.src_kind,
                                       j["damage"][3]))
                        continue
                    bad.append("%s: LocalFile %s is partial or wrong (%d bytes) %s" % (
                        where, os.path.basename(dst), os.path.getsize(dst), jid))
        return bad

    def check_jobs(self, where):
        bad = []
        for jid, j in self.jobs.items():
            inf = self.info(jid)
            if inf is None:
                if not (j["cancel_ok"] or j["complete_ok"]):
                    bad.append("%s: job %s (%s) lost" % (where, jid, j["name"]))
                continue
            st = int(inf.get("State", "-1"))
            j["last_state"] = st
            if not 0 <= st <= 8:
                bad.append("%s: job %s state %d illegal" % (where, j["name"], st))
            tot = int(inf.get("BytesTotal", "0"))
            got = int(inf.get("BytesTransferred", "0"))
            if tot != 2 ** 64 - 1 and got > tot:
                bad.append("%s: job %s BytesTransferred %d > BytesTotal %d" % (where, j["name"], got, tot))
            if j["cancel_ok"] and st != 8:
                bad.append("%s: job %s was cancelled (answered) but is in state %d" % (where, j["name"], st))
            if j["complete_ok"] and st != 7:
                bad.append("%s: job %s was completed (answered) but is in state %d" % (where, j["name"], st))
            for dst, _src in self.files_of(j):
                if os.path.exists(dst) and st not in (6, 7):
                    bad.append("%s: job %s has LocalFile %s while in state %d" % (
                        where, j["name"], os.path.basename(dst), st))
            if st == 4:
                err = ""
                try:
                    e = self.ws().get_error(jid)
                    err = "%s %s" % (e.get("ErrorCode"), e.get("ErrorDescription"))
                except Fault as f:
                    err = str(f)
                bad.append("%s: job %s in ERROR after a crash: %s" % (where, j["name"], err))
        return bad

    def kill_restart(self, phase, detail):
        """The crash point proper: SIGKILL, check files, restart, check everything."""
        t0 = time.time()
        self.d.kill9()
        probs = self.check_files("after kill")
        try:
            self.d.start()
        except RuntimeError as e:
            probs.append("restart failed: %s" % e)
            self.record(phase, detail, probs, t0)
            raise
        probs += self.check_files("after restart")
        probs += self.check_jobs("after restart")
        self.record(phase, detail, probs, t0)

    def record(self, phase, detail, probs, t0):
        states = {j["name"]: j.get("last_state") for j in self.jobs.values()}
        self.points.append({"episode": self.n, "source": self.src_kind, "phase": phase,
                            "detail": detail, "ok": not probs, "problems": probs,
                            "states": states, "restart_s": round(time.time() - t0, 3)})
        log("%s ep%d %-8s %-24s states %s%s" % ("ok  " if not probs else "FAIL", self.n, phase,
                                                 detail, states,
                                                 "" if not probs else " " + "; ".join(probs)))
        self.problems += probs

    def wait_for(self, jid, pred, timeout=30, poll=0.02):
        end = time.time() + timeout
        while time.time() < end:
            inf = self.info(jid)
            if inf is not None and pred(inf):
                return inf
            time.sleep(poll)
        return None

    def in_flight(self, fn, delay):
        """Run fn in a thread (a WS-Man call), SIGKILL the daemon `delay` s after it left.
        Returns the call's result box: {"ok": bool, "value": ..., "error": ...}."""
        box = {"ok": False}

        def run():
            try:
                box["value"] = fn()
                box["ok"] = True
            except Exception as e:  # the kill cuts the call: any error is expected
                box["error"] = repr(e)
        th = threading.Thread(target=run)
        th.start()
        time.sleep(delay)
        self.d.kill9()
        th.join(15)
        return box

    # ---- the points ----

    def point_create(self):
        delay = self.rnd.uniform(0, 0.02)
        name = "d.bin"
        dst = os.path.join(self.inroot, name)
        box = self.in_flight(lambda: self.ws().create_job("crash-d", self.src_urls["a"], dst),
                             delay)
        if box["ok"]:
            self.jobs[box["value"]] = {"name": name, "dst": dst, "src": "a", "cancel_ok": False,
                                       "complete_ok": False, "want": "ack"}
        self.d.kill9()
        self.restart_after_inflight("create", "%.1f ms, %s" % (
            delay * 1000, "answered" if box["ok"] else "cut"))
        if not box["ok"]:
            # not answered: the job may or may not exist; adopt it when it does
            for it in self.ws().enumerate_all(wsmanc.JOB):
                if it.get("DisplayName") == "crash-d" and it["JobId"] not in self.jobs:
                    self.jobs[it["JobId"]] = {"name": name, "dst": dst, "src": "a",
                                              "cancel_ok": False, "complete_ok": False,
                                              "want": "ack"}

    def restart_after_inflight(self, phase, detail):
        t0 = time.time()
        probs = self.check_files("after kill")
        self.d.start()
        probs += self.check_files("after restart")
        probs += self.check_jobs("after restart")
        self.record(phase, detail, probs, t0)

    def point_transfer(self, jid, lo, hi):
        f = self.rnd.uniform(lo, hi)
        inf = self.wait_for(jid, lambda i: int(i.get("BytesTransferred", 0)) >= f * FILE_SIZE
                            or int(i.get("State", 0)) >= 6, timeout=60, poll=0.01)
        got = int(inf.get("BytesTransferred", 0)) if inf else -1
        self.kill_restart("transfer", "at %.0f%% (%d B)" % (f * 100, got))

    def point_commit(self):
        wal = os.path.join(self.d.state, "jobs.db-wal")

        def sig():
            try:
                s = os.stat(wal)
                return (s.st_size, s.st_mtime_ns)
            except FileNotFoundError:
                return None
        # skip a random number of commits so the kills spread over the transfer
        skip = self.rnd.randint(0, 3)
        first = sig()
        end = time.time() + 20
        seen = 0
        while time.time() < end:
            cur = sig()
            if cur != first:
                if seen >= skip:
                    break
                seen += 1
                first = cur
            time.sleep(0.0005)
        self.kill_restart("commit", "after %d WAL changes" % (seen + 1))

    def point_cancel(self, jid):
        delay = self.rnd.uniform(0, 0.03)
        box = self.in_flight(lambda: self.ws().set_state(jid, 0), delay)
        if box["ok"]:
            self.jobs[jid]["cancel_ok"] = True
        self.restart_after_inflight("cancel", "%.1f ms, %s" % (
            delay * 1000, "answered" if box["ok"] else "cut"))
        self.jobs[jid]["want"] = "cancel"

    def point_damage(self, jid, how):
        """Kill at 30-60 %, damage the job's temp file while the daemon is down (flip 4 KiB
        inside the bytes already fetched, or cut the file short, as a power loss may), then
        restart: checksummed resume must notice, and the file still ends identical."""
        f = self.rnd.uniform(0.3, 0.6)
        inf = self.wait_for(jid, lambda i: int(i.get("BytesTransferred", 0)) >= f * FILE_SIZE
                            or int(i.get("State", 0)) >= 6, timeout=60, poll=0.01)
        got = int(inf.get("BytesTransferred", 0)) if inf else 0
        t0 = time.time()
        self.d.kill9()
        probs = self.check_files("after kill")
        name = self.jobs[jid]["name"]
        parts = [x for x in os.listdir(self.inroot) if x.startswith("." + name + ".ferry-")]
        detail = "no temp file (state %s)" % (inf or {}).get("State")
        if parts and got > 8192:
            p = os.path.join(self.inroot, parts[0])
            size = os.path.getsize(p)
            if how == "flip" and size > 8192:
                off = self.rnd.randrange(0, min(got, size) - 4096)
                with open(p, "r+b") as fh:
                    fh.seek(off)
                    old = fh.read(4096)
                    fh.seek(off)
                    fh.write(bytes(b ^ 0xFF for b in old))
                detail = "4 KiB flipped at %d of %d B" % (off, got)
                self.jobs[jid]["damage"] = (self.jobs[jid]["dst"], off, off + 4096,
                                            "4 KiB flipped at %d" % off)
            elif how == "truncate":
                cut = self.rnd.randrange(0, max(1, min(got, size)))
                os.truncate(p, cut)
                detail = "temp file cut to %d of %d B" % (cut, got)
                self.jobs[jid]["damage"] = (self.jobs[jid]["dst"], cut, size,
                                            "bytes %d-%d cut off" % (cut, size))
        self.jobs[jid]["damaged"] = True
        try:
            self.d.start()
        except RuntimeError as e:
            probs.append("restart failed: %s" % e)
            self.record("damage", detail, probs, t0)
            raise
        probs += self.check_files("after restart")
        probs += self.check_jobs("after restart")
        self.record("damage", detail, probs, t0)

    def point_sigterm(self, jid):
        """A clean stop mid-transfer: SIGTERM must exit 0 within 10 s and keep the progress
        (after the restart BytesTransferred is at most one chunk per connection lower)."""
        f = self.rnd.uniform(0.2, 0.7)
        inf = self.wait_for(jid, lambda i: int(i.get("BytesTransferred", 0)) >= f * FILE_SIZE
                            or int(i.get("State", 0)) >= 6, timeout=60, poll=0.01)
        t0 = time.time()
        before = int(self.info(jid).get("BytesTransferred", 0))
        rc = self.d.stop(timeout=10)
        probs = [] if rc == 0 else ["SIGTERM exit %s" % rc]
        probs += self.check_files("after SIGTERM")
        self.d.start()
        after = int((self.info(jid) or {}).get("BytesTransferred", 0))
        if after < before - 2 * (1 << 20):
            probs.append("progress lost over a clean stop: %d B before, %d B after" % (before, after))
        probs += self.check_files("after restart")
        probs += self.check_jobs("after restart")
        self.record("sigterm", "at %d B, %d B after restart, stop %.2f s" % (
            before, after, time.time() - t0), probs, t0)

    def point_restart(self):
        """A second crash while the daemon is recovering: 0-50 ms after it is ready."""
        delay = self.rnd.uniform(0, 0.05)
        time.sleep(delay)
        self.kill_restart("recovery", "%.1f ms after ready" % (delay * 1000))

    def point_verify(self, jid):
        inf = self.wait_for(jid, lambda i: int(i.get("BytesTransferred", 0)) >= FILE_SIZE
                            or int(i.get("State", 0)) >= 6, timeout=60, poll=0.002)
        st = inf.get("State") if inf else "?"
        self.kill_restart("verify", "all bytes in, state %s" % st)

    def point_complete(self, jid):
        inf = self.wait_for(jid, lambda i: int(i.get("State", 0)) == 6, timeout=60)
        if inf is None:
            st = self.info(jid)
            self.problems.append("job %s never reached TRANSFERRED (state %s)" % (
                self.jobs[jid]["name"], st and st.get("State")))
            return
        delay = self.rnd.uniform(0, 0.03)
        box = self.in_flight(lambda: self.ws().set_state(jid, 1), delay)
        if box["ok"]:
            self.jobs[jid]["complete_ok"] = True
        self.restart_after_inflight("complete", "%.1f ms, %s" % (
            delay * 1000, "answered" if box["ok"] else "cut"))

    # ---- the end ----

    def finish(self):
        ws = self.ws()
        for jid, j in self.jobs.items():
            if j["want"] == "cancel":
                inf = self.info(jid)
                if inf is not None and int(inf["State"]) != 8:
                    ws.set_state(jid, 0)
                continue
            inf = self.wait_for(jid, lambda i: int(i.get("State", 0)) in (6, 7), timeout=90)
            if inf is None:
                cur = self.info(jid)
                self.problems.append("end: job %s did not reach TRANSFERRED (state %s)" % (
                    j["name"], cur and cur.get("State")))
                continue
            if int(inf["State"]) == 6:
                out = ws.set_state(jid, 1)
                if out.get("ReturnValue") != "0":
                    err = ""
                    try:
                        e = ws.get_error(jid)
                        err = " (GetError %s %s)" % (e.get("ErrorCode"), e.get("ErrorDescription"))
                    except Fault as f:
                        err = " (%s)" % f
                    present = [(dd, ss) for dd, ss in self.files_of(j) if os.path.exists(dd)]
                    there = bool(present) and all(sha(dd) == self.src_sha[ss] or
                                                  self.only_damage(j, dd, ss) for dd, ss in present)
                    # a Complete killed between its renames and its state commit must be
                    # finished by the restart or by this Complete, never left TRANSFERRED
                    msg = "end: complete of %s returned %s%s; LocalFile %s; dir %s" % (
                        j["name"], out.get("ReturnValue"), err,
                        "present and identical" if there else
                        ("present, NOT identical" if present else "absent"),
                        sorted(os.listdir(self.inroot)))
                    self.problems.append(msg)
        self.problems += ["end: " + b for b in self.check_files("end")]
        for jid, j in self.jobs.items():
            inf = self.info(jid)
            want = 8 if j["want"] == "cancel" else 7
            if inf is not None and int(inf["State"]) != want:
                self.problems.append("end: job %s in state %s, want %d" % (j["name"], inf["State"], want))
            for dst, src in self.files_of(j):
                if want in (6, 7):
                    if not os.path.exists(dst):
                        self.problems.append("end: %s missing (job state %s; dir %s)" % (
                            os.path.basename(dst), inf and inf.get("State"),
                            sorted(os.listdir(self.inroot))))
                    elif sha(dst) != self.src_sha[src]:
                        self.problems.append("end: %s NOT IDENTICAL to its source (%d B)" % (
                            os.path.basename(dst), os.path.getsize(dst)))
                elif os.path.exists(dst):
                    self.problems.append("end: cancelled %s has a LocalFile" % os.path.basename(dst))
        left = list(ws.enumerate_all(wsmanc.JOB))
        if left:
            self.problems.append("end: %d jobs still listed" % len(left))
        want_files = sorted(os.path.basename(dst) for j in self.jobs.values()
                            if j["want"] == "ack"
                            for dst, _src in self.files_of(j))

        def listing():
            return sorted(os.listdir(self.inroot))
        # temp files of cancelled/completed jobs may take a moment to be removed
        end = time.time() + 5
        while time.time() < end and listing() != want_files:
            time.sleep(0.1)
        have = listing()
        if have != want_files:
            self.problems.append("end: download root holds %s, want %s" % (have, want_files))
        rc = self.d.stop()
        if rc != 0:
            self.problems.append("end: SIGTERM exit %s" % rc)

    def run(self):
        self.d.start()
        a = self.add_job("a.bin", "a")
        b = self.add_job("b.bin", "b", extra=[("b-e1.bin", "e"), ("b-e2.bin", "e")])
        c = self.add_job("c.bin", "c")
        self.point_create()
        self.point_transfer(a, 0.05, 0.35)
        self.point_damage(b, "flip" if self.n % 2 == 0 else "truncate")
        self.point_commit()
        self.point_cancel(c)
        self.point_sigterm(b)
        self.point_transfer(a, 0.4, 0.8)
        self.point_restart()
        self.point_commit()
        self.point_verify(a)
        self.point_complete(a)
        self.point_complete(b)
        self.finish()
        end_ok = not [p for p in self.problems if p.startswith("end")]
        log("%s ep%d end: %s" % ("ok  " if end_ok else "FAIL", self.n,
                                 "all jobs at their end" if end_ok else
                                 "; ".join(p for p in self.problems if p.startswith("end"))))
        return self.points


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, default=1)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--report")
    args = ap.parse_args()
    if not wsmanc.ferryd_runs_wsman():
        log("SKIP: feature 'ferryd with WS-Man and the client role' not in this build "
            "(ferryd --help lists no --wsman-listen)")
        return relpy.SKIP
    seed = args.seed if args.seed is not None else int(time.time())
    log("seed %d (rerun with --seed %d)" % (seed, seed))
    rnd = random.Random(seed)
    tmp = relpy.TmpDir("crashpoints")
    failed = True
    procs = []
    allpoints = []
    problems = []
    open_findings = []
    try:
        src = os.path.join(tmp.path, "src")
        os.makedirs(src)
        shas = {}
        for n, size in (("a", FILE_SIZE), ("b", FILE_SIZE), ("c", FILE_SIZE), ("e", 2 << 20)):
            p = os.path.join(src, n + ".bin")
            with open(p, "wb") as fh:
                fh.write(os.urandom(size))
            shas[n] = sha(p)
        ng = relpy.Nginx(tmp.path, "src", src).start()
        procs.append(ng)
        sources = [("nginx", {n: ng.url(n + ".bin") for n in shas})]
        port = relpy.free_port()
        grp = "http://127.0.0.1:%d/crash" % port
        srvd = wsmanc.Ferryd(tmp.path, "server", ["--publish-root", src],
                             config_lines=["url = %s/%s.bin %s/%s.bin" % (grp, n, src, n)
                                           for n in shas])
        srvd.start()
        procs.append(srvd)
        sources.append(("ferryd", {n: "%s/%s.bin" % (grp, n) for n in shas}))
        for e in range(args.episodes):
            kind, urls = sources[e % len(sources)]
            ep = Episode(tmp.path, e, rnd, urls, shas, kind,
                         {n: os.path.join(src, n + ".bin") for n in shas})
            try:
                allpoints += ep.run()
            except (RuntimeError, Fault, relpy.Fail) as ex:
                ep.problems.append("episode aborted: %s" % ex)
                log("FAIL ep%d aborted: %s\n%s" % (e, ex, ep.d.tail()))
                allpoints += ep.points
            finally:
                ep.d.kill9()
            problems += ["ep%d: %s" % (e, p) for p in ep.problems]
            open_findings += ["ep%d: %s" % (e, p) for p in ep.open]
        npts = len(allpoints)
        bad = sum(1 for p in allpoints if not p["ok"])
        by_phase = {}
        for p in allpoints:
            by_phase.setdefault(p["phase"], [0, 0])
            by_phase[p["phase"]][0] += 1
            by_phase[p["phase"]][1] += 0 if p["ok"] else 1
        summary = {"seed": seed, "episodes": args.episodes, "points": npts, "failed_points": bad,
                   "problems": problems, "open_findings": open_findings, "by_phase": by_phase}
        if args.report:
            with open(args.report, "w") as fh:
                json.dump({"summary": summary, "points": allpoints}, fh, indent=1)
        log("crash points: %d points in %d episodes, %d failed, %d problems, %d open findings; "
            "by phase %s" % (npts, args.episodes, bad, len(problems), len(open_findings),
                             json.dumps(by_phase)))
        failed = bool(problems)
        return 1 if problems else 0
    finally:
        for p in procs:
            p.kill()
        tmp.done(failed)


if __name__ == "__main__":
    sys.exit(main())
