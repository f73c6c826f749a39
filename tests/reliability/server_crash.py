#!/usr/bin/python3
"""Crash points of the server role, and a client job riding through a server crash.

A server ferryd publishes files through WS-Man (CreateUrl / DeleteUrl on one URL group)
and is killed with SIGKILL 0-6 ms (some 0-30 ms) after such a call left, then restarted on the same
state dir. After each restart: every URL whose CreateUrl was answered (and not deleted
since) is served with the right bytes, every answered DeleteUrl stays deleted, CheckUrl
agrees with what GET sees, and server.db passes PRAGMA integrity_check. Then a client
ferryd fetches a 24 MiB file from the server while the server is killed mid-transfer and
brought back 1 s later: the job ends ACKNOWLEDGED with the right SHA-256.

Usage: server_crash.py [--points N] [--seed S]   (default 12 points)
Exit 0 all good, 1 a point failed, 77 when ferryd lacks the WS-Man endpoint.
"""

import argparse
import hashlib
import os
import random
import sqlite3
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import relpy  # noqa: E402
import wsmanc  # noqa: E402
from relpy import log  # noqa: E402
from wsmanc import Fault, GROUP  # noqa: E402

MiB = 1 << 20


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=12)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    if not wsmanc.ferryd_runs_wsman():
        log("SKIP: feature 'ferryd with WS-Man and both roles' not in this build "
            "(ferryd --help lists no --wsman-listen)")
        return relpy.SKIP
    seed = args.seed if args.seed is not None else int(time.time())
    log("seed %d" % seed)
    rnd = random.Random(seed)
    tmp = relpy.TmpDir("server-crash")
    daemons = []
    failed = True
    try:
        rc = run(tmp.path, daemons, rnd, args.points)
        failed = rc != 0
        return rc
    except (relpy.Fail, RuntimeError, Fault) as e:
        log("FAIL: %s" % e)
        for d in daemons:
            log("---- %s\n%s" % (d.dir, d.tail()))
        return 1
    finally:
        for d in daemons:
            d.kill9()
        tmp.done(failed)


def run(tmp, daemons, rnd, npoints):
    t = relpy.Table("server crash")
    pub = os.path.join(tmp, "pub")
    os.makedirs(pub)
    data = {}
    for i in range(8):
        b = os.urandom(256 * 1024 + i)
        with open(os.path.join(pub, "p%d.bin" % i), "wb") as fh:
            fh.write(b)
        data["p%d.bin" % i] = b
    big = os.path.join(pub, "big.bin")
    with open(big, "wb") as fh:
        for _ in range(24):
            fh.write(os.urandom(MiB))
    big_sha = hashlib.sha256(open(big, "rb").read()).hexdigest()

    s = wsmanc.Ferryd(tmp, "srv", ["--publish-root", pub])
    daemons.append(s)
    s.start()
    port = relpy.free_port()
    grp = "http://127.0.0.1:%d/pub" % port
    ws = s.client()
    ws.invoke(GROUP, "CreateUrlGroup", [("UrlGroup", grp)])

    want = {}   # suffix -> True (published, answered) / False (deleted, answered)

    def create(suffix, src):
        return ws.invoke(GROUP, "CreateUrl", [("UrlSuffix", suffix),
                                              ("SourceFilePath", os.path.join(pub, src)),
                                              ("SDDLAuth", "D:(A;;GA;;;WD)")], {"UrlGroup": grp})

    def delete(suffix):
        return ws.invoke(GROUP, "DeleteUrl", [("UrlSuffix", suffix)], {"UrlGroup": grp})

    src_of = {}
    for i in range(3):
        sfx = "s%d" % i
        src_of[sfx] = "p%d.bin" % i
        create(sfx, src_of[sfx])
        want[sfx] = True

    def check(where):
        probs = []
        w = s.client()
        for sfx, pubd in want.items():
            try:
                r = relpy.get(port, ("/pub/%s" % sfx).encode(), timeout=10)
                st, body = r.status, r.body
            except (OSError, relpy.Fail) as e:
                st, body = None, b""
                if pubd:
                    probs.append("%s: GET %s failed: %r" % (where, sfx, e))
                    continue
            if pubd and (st != 200 or body != data[src_of[sfx]]):
                probs.append("%s: published %s answered %s" % (where, sfx, st))
            if not pubd and st == 200:
                probs.append("%s: deleted %s still served" % (where, sfx))
            try:
                out = w.invoke(GROUP, "CheckUrl", [("UrlSuffix", sfx)], {"UrlGroup": grp})
                exists = out.get("UrlExists", "").lower() == "true"
                if exists != (st == 200):
                    probs.append("%s: CheckUrl %s says %s, GET %s" % (where, sfx, exists, st))
            except Fault as f:
                probs.append("%s: CheckUrl %s: %s" % (where, sfx, f))
        try:
            con = sqlite3.connect("file:%s?mode=ro" % os.path.join(s.state, "server.db"),
                                  uri=True, timeout=5)
            ic = con.execute("PRAGMA integrity_check").fetchone()[0]
            con.close()
            if ic != "ok":
                probs.append("%s: server.db integrity_check: %s" % (where, ic))
        except sqlite3.Error as e:
            probs.append("%s: server.db: %s" % (where, e))
        return probs

    p0 = check("before")
    t.add("before any crash", "all published URLs served", "; ".join(p0) or "ok", not p0)

    nxt = 3
    for k in range(npoints):
        live = [x for x, v in want.items() if v]
        if live and rnd.random() < 0.4:
            sfx = rnd.choice(live)
            op, fn = "DeleteUrl %s" % sfx, (lambda sfx=sfx: delete(sfx))
            after = False
        else:
            sfx = "s%d" % nxt
            nxt += 1
            src_of[sfx] = "p%d.bin" % rnd.randrange(8)
            op, fn = "CreateUrl %s" % sfx, (lambda sfx=sfx: create(sfx, src_of[sfx]))
            after = True
        # CreateUrl/DeleteUrl answer in a few ms here: most kills land inside them
        delay = rnd.uniform(0, 0.006) if rnd.random() < 0.7 else rnd.uniform(0, 0.03)
        box = {}

        def call(fn=fn):
            try:
                out = fn()
                box["ok"] = out.get("ReturnValue") == "0"
            except Exception as e:  # the kill cuts it
                box["err"] = repr(e)
        th = threading.Thread(target=call)
        th.start()
        time.sleep(delay)
        s.kill9()
        th.join(15)
        s.start()
        if box.get("ok"):
            want[sfx] = after
        elif after:
            # not answered: adopt whatever the daemon says, the check keeps GET and
            # CheckUrl consistent
            try:
                out = s.client().invoke(GROUP, "CheckUrl", [("UrlSuffix", sfx)], {"UrlGroup": grp})
                want[sfx] = out.get("UrlExists", "").lower() == "true"
            except Fault:
                want[sfx] = False
        else:
            try:
                out = s.client().invoke(GROUP, "CheckUrl", [("UrlSuffix", sfx)], {"UrlGroup": grp})
                want[sfx] = out.get("UrlExists", "").lower() == "true"
            except Fault:
                pass
        ws = s.client()
        probs = check("after kill %d" % k)
        t.add("kill %.1f ms into %s" % (delay * 1000, op), "answered ops kept, GET = CheckUrl, db ok",
              "%s; %s" % ("answered" if box.get("ok") else "cut", "; ".join(probs) or "ok"), not probs)

    # a client job riding through a server crash
    inroot = os.path.join(tmp, "in")
    os.makedirs(inroot)
    ws.invoke(GROUP, "CreateUrl", [("UrlSuffix", "big.bin"), ("SourceFilePath", big),
                                   ("SDDLAuth", "D:(A;;GA;;;WD)")], {"UrlGroup": grp})
    c = wsmanc.Ferryd(tmp, "cli", ["--download-root", inroot],
                      config_lines=["bandwidth-limit = 8M", "min-retry-delay = 1",
                                    "connect-timeout = 2", "stall-timeout = 2",
                                    "fetch-chunk-size = 1M"])
    daemons.append(c)
    c.start()
    wc = c.client()
    dst = os.path.join(inroot, "big.bin")
    jid = wc.create_job("ride", grp + "/big.bin", dst, suspend=True)
    wc.set_props(jid, MinimumRetryDelay=1)
    wc.set_state(jid, 2)
    end = time.time() + 30
    while time.time() < end and int(wc.job(jid)["BytesTransferred"]) < 6 * MiB:
        time.sleep(0.05)
    at = int(wc.job(jid)["BytesTransferred"])
    s.kill9()
    seen = set()
    end = time.time() + 1.0
    while time.time() < end:
        seen.add(int(wc.job(jid)["State"]))
        time.sleep(0.05)
    s.start()
    inf = None
    end = time.time() + 60
    while time.time() < end:
        inf = wc.job(jid)
        seen.add(int(inf["State"]))
        if inf["State"] in ("6", "4"):
            break
        time.sleep(0.1)
    if inf["State"] == "6":
        wc.set_state(jid, 1)
    inf = wc.job(jid)
    ok = inf["State"] == "7" and os.path.exists(dst) and \
        hashlib.sha256(open(dst, "rb").read()).hexdigest() == big_sha
    t.add("server killed at %d B of a 24 MiB job, back 1 s later" % at,
          "job ACKNOWLEDGED, SHA-256 right",
          "states seen %s, final %s, TEC %s, refetched %s" % (
              sorted(seen), inf["State"], inf.get("TransientErrorCount"), inf.get("BytesRefetched")),
          ok)
    for d in (c, s):
        rc = d.stop()
        t.add("SIGTERM %s" % os.path.basename(d.dir), "exit 0", str(rc), rc == 0)
    log(t.summary())
    return 1 if t.failed() else 0


if __name__ == "__main__":
    sys.exit(main())
