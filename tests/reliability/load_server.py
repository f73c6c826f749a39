#!/usr/bin/python3
"""Load on the data-plane server role: it keeps serving right bytes and releases what it
took.

wrk with 256 keep-alive connections on a 1 MiB file and on 4 KiB ranges (no socket error,
no non-2xx), aria2c fetching a 64 MiB file over 16 connections (SHA-256 right), 64 Python
threads checking 1,280 random ranges byte for byte, all at once with a slowloris crowd of
500 half-open requests; afterwards the server's fd count is back to where it started and
SIGTERM exits 0. Figures (requests/s, RSS) are printed for docs/RELIABILITY.md.
Exit 0 all good, 1 a check failed, 77 no server role in this build or wrk/aria2c missing.
"""

import hashlib
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import relpy  # noqa: E402
from relpy import log  # noqa: E402

MiB = 1 << 20


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as fh:
        for ln in fh:
            if ln.startswith("VmRSS:"):
                return int(ln.split()[1])
    return 0


def nfds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def wrk(url, conns, secs, headers=()):
    argv = ["wrk", "-t2", "-c%d" % conns, "-d%ds" % secs, "--timeout", "10s"]
    for h in headers:
        argv += ["-H", h]
    out = subprocess.run(argv + [url], capture_output=True, text=True, timeout=secs + 60).stdout
    reqs = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errs = sum(int(x) for x in m.groups()) if m else 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    non2xx = int(m.group(1)) if m else 0
    return reqs, rps, errs, non2xx, out


def main():
    for tool in ("wrk", "aria2c"):
        if shutil.which(tool) is None:
            log("SKIP: %s not installed" % tool)
            return relpy.SKIP
    tmp = relpy.TmpDir("load-server")
    srv = None
    failed = True
    try:
        pub = os.path.join(tmp.path, "pub")
        os.makedirs(pub)
        small = os.urandom(MiB)
        with open(os.path.join(pub, "f.bin"), "wb") as fh:
            fh.write(small)
        big_path = os.path.join(pub, "big.bin")
        with open(big_path, "wb") as fh:
            for _ in range(64):
                fh.write(os.urandom(MiB))
        with open(big_path, "rb") as fh:
            big = fh.read()
        srv = relpy.DataServer(tmp.path, "s", pub, {"f.bin": os.path.join(pub, "f.bin"),
                                                   "big.bin": big_path},
                               options=["http-header-timeout = 30", "workers = 2"])
        srv.start()
        pid = srv.proc.pid
        t = relpy.Table("server load")
        time.sleep(0.3)
        fds0 = nfds(pid)
        rss0 = rss_kib(pid)

        # a crowd of half-open requests that stays during the load
        crowd = []
        for _ in range(500):
            s = socket.create_connection(("127.0.0.1", srv.port))
            s.sendall(b"GET /grp/f.bin HTTP/1.1\r\nHost: x\r\n")
            crowd.append(s)

        results = {}

        def run_wrk(key, url, conns, secs, headers=()):
            try:
                results[key] = wrk(url, conns, secs, headers)
            except Exception as e:  # reported as a failed row below
                results[key] = e

        def run_aria():
            out = os.path.join(tmp.path, "aria")
            os.makedirs(out, exist_ok=True)
            r = subprocess.run(["aria2c", "-q", "-x16", "-s16", "-k1M", "--allow-overwrite=true",
                                "-d", out, "-o", "big.bin", srv.base + "/big.bin"],
                               capture_output=True, text=True, timeout=120)
            got = hashlib.sha256(open(os.path.join(out, "big.bin"), "rb").read()).hexdigest() \
                if r.returncode == 0 else None
            results["aria"] = (r.returncode, got)

        def run_ranges(k, errs):
            rnd = random.Random(k)
            for _ in range(20):
                a = rnd.randrange(len(big) - 70000)
                b = a + rnd.randrange(1, 65536)
                try:
                    r = relpy.get(srv.port, b"/grp/big.bin", b"Range: bytes=%d-%d\r\n" % (a, b),
                                  timeout=30)
                    if r.status != 206 or r.body != big[a:b + 1]:
                        errs.append("range %d-%d: %d, %d bytes" % (a, b, r.status, len(r.body)))
                except Exception as e:
                    errs.append("range %d-%d: %r" % (a, b, e))

        range_errs = []
        threads = [threading.Thread(target=run_wrk, args=("full", srv.base + "/f.bin", 256, 5)),
                   threading.Thread(target=run_aria)]
        threads += [threading.Thread(target=run_ranges, args=(k, range_errs)) for k in range(64)]
        t0 = time.time()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        dt = time.time() - t0
        rss_peak = rss_kib(pid)
        run_wrk("range", srv.base + "/f.bin", 256, 4, ("Range: bytes=4096-8191",))

        for key, what in (("full", "1 MiB GETs, 256 conns, 5 s"), ("range", "4 KiB ranges, 256 conns, 4 s")):
            r = results.get(key)
            if isinstance(r, Exception) or r is None:
                t.add("wrk " + what, "no errors", repr(r), False)
                continue
            reqs, rps, errs, non2xx, _out = r
            t.add("wrk " + what, "0 socket errors, 0 non-2xx",
                  "%d requests, %.0f req/s, %d socket errors, %d non-2xx" % (reqs, rps, errs, non2xx),
                  errs == 0 and non2xx == 0 and reqs > 100)
        rc, got = results.get("aria", (None, None))
        want = hashlib.sha256(big).hexdigest()
        t.add("aria2c 64 MiB, 16 connections", "exit 0, SHA-256 right", "exit %s, %s" % (
            rc, "hash ok" if got == want else "hash WRONG"), rc == 0 and got == want)
        t.add("1,280 random ranges from 64 threads", "all 206 byte-exact",
              "%d bad%s" % (len(range_errs), (": " + range_errs[0]) if range_errs else ""),
              not range_errs)
        for s in crowd:
            s.close()
        end = time.time() + 20
        fds1 = nfds(pid)
        while time.time() < end and fds1 > fds0 + 8:
            time.sleep(0.1)
            fds1 = nfds(pid)
        t.add("fds after the load", "<= %d + 8" % fds0, "%d (RSS %d KiB before, %d KiB at peak)" % (
            fds1, rss0, rss_peak), fds1 <= fds0 + 8)
        alive = srv.alive()
        r = relpy.get(srv.port, b"/grp/f.bin")
        t.add("normal GET after the load", "200 byte-exact", "%d" % r.status,
              alive and r.status == 200 and r.body == small)
        rc = srv.stop()
        t.add("SIGTERM", "exit 0", str(rc), rc == 0)
        log("concurrent phase took %.1f s" % dt)
        rep = os.environ.get("REL_REPORT_DIR")
        if rep:
            os.makedirs(rep, exist_ok=True)
            t.write_markdown(os.path.join(rep, "load_server.md"))
        log(t.summary())
        failed = bool(t.failed())
        return 1 if failed else 0
    except relpy.Fail as e:
        log("FAIL: %s" % e)
        return 1
    finally:
        if srv is not None:
            srv.kill()
        tmp.done(failed)


if __name__ == "__main__":
    sys.exit(main())
