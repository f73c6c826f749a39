#!/usr/bin/python3
"""What a client ferryd trusts after a restart, and the BITS completion rules (issue #17).

Cases (each asserts on state, error code and bytes):

  foreign   a job TRANSFERRED, ferryd stopped; its temp file renamed onto LocalFile (what a
            Complete killed between its rename and its state commit leaves) and then
            replaced by a different file of the same size. After the restart the job is in
            ERROR with BG_E_LOCAL_FILE_CHANGED (0x8020001D, context LOCAL_FILE) and the
            foreign file's bytes are unchanged.
  genuine   the same with the job's own file left in place: the interrupted Complete is
            finished (ACKNOWLEDGED, LocalFile byte-identical to the source).
  partial   SetJobState(1) on a job that is not TRANSFERRED (BITS): a 2-file job whose
            second URL is a 404 (ERROR) completes with ReturnValue BG_S_PARTIAL_COMPLETE
            (0x00200017): ACKNOWLEDGED, the complete file in place byte for byte, the other
            absent, no temp file left; a suspended job that fetched nothing completes the
            same way with no file; a TRANSFERRED job answers 0.

Exit 0 all good, 1 a case failed, 77 when ferryd lacks the WS-Man endpoint or nginx is
missing.
"""

import hashlib
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import relpy  # noqa: E402
import wsmanc  # noqa: E402
from relpy import log  # noqa: E402
from wsmanc import Fault  # noqa: E402

MiB = 1 << 20
CLIENT_CFG = ["progress-interval = 100", "fetch-chunk-size = 1M", "connections-per-file = 2",
              "min-retry-delay = 1"]
BG_E_LOCAL_FILE_CHANGED = 0x8020001D
ERRCTX_LOCAL_FILE = 4
BG_S_PARTIAL_COMPLETE = 0x00200017


def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for b in iter(lambda: fh.read(MiB), b""):
            h.update(b)
    return h.hexdigest()


def wait_state(ws, jid, states, timeout=30):
    end = time.time() + timeout
    inf = None
    while time.time() < end:
        inf = ws.job(jid)
        if int(inf["State"]) in states:
            return inf
        time.sleep(0.02)
    return inf


def error_of(ws, jid):
    try:
        e = ws.get_error(jid)
    except Fault as f:
        return None, None, str(f)
    return int(e.get("ErrorContext", "-1")), int(e.get("ErrorCode", "0")), \
        e.get("ErrorDescription", "")


def temp_of(dst, jid):
    """The job's hidden temp file beside dst (localpath_temp_name)."""
    return os.path.join(os.path.dirname(dst),
                        ".%s.ferry-%s.part" % (os.path.basename(dst), jid[1:9]))


class Run:
    def __init__(self, tmp, procs):
        self.tmp = tmp
        self.procs = procs
        self.t = relpy.Table("client trust")
        self.src = os.path.join(tmp, "src")
        os.makedirs(self.src)
        self.inroot = os.path.join(tmp, "in")
        os.makedirs(self.inroot)
        self.files = {}
        for name, size in (("a.bin", 3 * MiB + 12345), ("b.bin", 2 * MiB)):
            p = os.path.join(self.src, name)
            with open(p, "wb") as fh:
                fh.write(os.urandom(size))
            self.files[name] = p
        self.ng = relpy.Nginx(tmp, "src", self.src).start()
        procs.append(self.ng)
        self.d = wsmanc.Ferryd(tmp, "cli", ["--download-root", self.inroot],
                               config_lines=CLIENT_CFG)
        procs.append(self.d)
        self.d.start()
        self.ws = self.d.client()

    def check(self, case, expect, got, ok):
        self.t.add(case, expect, got, ok)

    def restart(self):
        self.d.stop()
        self.d.start()
        self.ws = self.d.client()

    def transferred_job(self, name, fname):
        dst = os.path.join(self.inroot, name)
        jid = self.ws.create_job(name, self.ng.url(fname), dst)
        inf = wait_state(self.ws, jid, (4, 6))
        if int(inf["State"]) != 6:
            raise relpy.Fail("job %s did not reach TRANSFERRED: %s" % (name, inf))
        return jid, dst

    # ---- item 1: the tree digest checked on recovery ----
    def case_placed(self):
        fa, ja = self.transferred_job("foreign.bin", "a.bin")
        gb, jb = None, None
        gb, jb = self.transferred_job("genuine.bin", "b.bin")
        self.d.stop()
        # what a Complete killed between rename and state commit leaves behind
        os.rename(temp_of(ja, fa), ja)
        os.rename(temp_of(jb, gb), jb)
        # then a different file of the same size is put at the first LocalFile
        size = os.path.getsize(ja)
        with open(ja + ".new", "wb") as fh:
            fh.write(os.urandom(size))
        os.rename(ja + ".new", ja)
        foreign_sha = sha(ja)
        self.d.start()
        self.ws = self.d.client()
        st = int(self.ws.job(fa)["State"])
        ctx, code, text = error_of(self.ws, fa)
        self.check("foreign: state", "4 (ERROR)", st, st == 4)
        self.check("foreign: error", "ctx 4, 0x%08X" % BG_E_LOCAL_FILE_CHANGED,
                   "ctx %s, %s" % (ctx, "0x%08X" % code if code is not None else text),
                   ctx == ERRCTX_LOCAL_FILE and code == BG_E_LOCAL_FILE_CHANGED)
        self.check("foreign: file untouched", foreign_sha[:16],
                   sha(ja)[:16] if os.path.exists(ja) else "missing",
                   os.path.exists(ja) and sha(ja) == foreign_sha)
        # Complete on it answers the same error and still leaves the file alone
        try:
            out = self.ws.set_state(fa, 1)
            rv = int(out.get("ReturnValue", "0"))
        except Fault as f:
            rv = str(f)
        self.check("foreign: Complete refused", "0x%08X, file untouched" % BG_E_LOCAL_FILE_CHANGED,
                   "0x%08X" % rv if isinstance(rv, int) else rv,
                   rv == BG_E_LOCAL_FILE_CHANGED and sha(ja) == foreign_sha and
                   int(self.ws.job(fa)["State"]) == 4)
        st = int(self.ws.job(gb)["State"])
        self.check("genuine: finished", "7, source bytes", "%d, %s" % (
            st, "same" if os.path.exists(jb) and sha(jb) == sha(self.files["b.bin"])
            else "differ"),
            st == 7 and sha(jb) == sha(self.files["b.bin"]))
        # a restart keeps the verdict
        self.restart()
        st = int(self.ws.job(fa)["State"])
        self.check("foreign: after a second restart", "4", st,
                   st == 4 and sha(ja) == foreign_sha)

    # ---- item 4: Complete before TRANSFERRED keeps the complete files ----
    def case_partial(self):
        dst1 = os.path.join(self.inroot, "p1.bin")
        dst2 = os.path.join(self.inroot, "p2.bin")
        jid = self.ws.create_job("partial", self.ng.url("a.bin"), dst1, suspend=True)
        self.ws.invoke(wsmanc.JOB, "AddFile", [("RemoteUrl", self.ng.url("missing.bin")),
                                               ("LocalFile", dst2)], {"JobId": jid})
        self.ws.set_state(jid, 2)
        inf = wait_state(self.ws, jid, (4,))
        files = int(inf.get("FilesTransferred", "-1"))
        self.check("partial: ERROR after file 1", "4, 1 file", "%s, %s" % (inf["State"], files),
                   int(inf["State"]) == 4 and files == 1)
        rv = int(self.ws.set_state(jid, 1).get("ReturnValue", "-1"))
        st = int(self.ws.job(jid)["State"])
        temps = [n for n in os.listdir(self.inroot) if n.endswith(".part") and jid[1:9] in n]
        self.check("partial: ReturnValue", "0x%08X" % BG_S_PARTIAL_COMPLETE, "0x%08X" % rv,
                   rv == BG_S_PARTIAL_COMPLETE)
        self.check("partial: kept and dropped", "7, p1 = source, no p2, no temp",
                   "%d, p1 %s, p2 %s, temps %s" % (
                       st, "same" if os.path.exists(dst1) and
                       sha(dst1) == sha(self.files["a.bin"]) else "differs/missing",
                       "exists" if os.path.exists(dst2) else "absent", temps),
                   st == 7 and os.path.exists(dst1) and sha(dst1) == sha(self.files["a.bin"])
                   and not os.path.exists(dst2) and not temps)
        dst3 = os.path.join(self.inroot, "p3.bin")
        jid = self.ws.create_job("partial-none", self.ng.url("a.bin"), dst3, suspend=True)
        rv = int(self.ws.set_state(jid, 1).get("ReturnValue", "-1"))
        st = int(self.ws.job(jid)["State"])
        self.check("partial: nothing fetched", "0x%08X, 7, no file" % BG_S_PARTIAL_COMPLETE,
                   "0x%08X, %d, %s" % (rv, st, os.path.exists(dst3)),
                   rv == BG_S_PARTIAL_COMPLETE and st == 7 and not os.path.exists(dst3))
        jid, dst4 = self.transferred_job("whole.bin", "b.bin")
        rv = int(self.ws.set_state(jid, 1).get("ReturnValue", "-1"))
        self.check("partial: TRANSFERRED answers 0", "0, 7", "%d, %s" % (
            rv, self.ws.job(jid)["State"]), rv == 0 and self.ws.job(jid)["State"] == "7"
            and sha(dst4) == sha(self.files["b.bin"]))

    def run(self):
        self.case_placed()
        self.case_partial()
        log(self.t.summary())
        return 1 if self.t.failed() else 0


def main():
    return wsmanc.harness("client-trust", lambda tmp, procs: Run(tmp, procs).run())


if __name__ == "__main__":
    sys.exit(main())
