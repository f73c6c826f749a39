#!/usr/bin/python3
"""A hostile HTTP server against the client role.

A small raw-socket server answers each path with one kind of misbehaviour: redirect
loops, redirects to file:// and ftp://, a 1 MiB header line, a broken status line, a
negative Content-Length, a body shorter than announced, Range ignored (200 with the whole
body), a gzip Content-Encoding, and Metalink descriptions (Link rel=describedby) carrying
an XXE, an external DTD or billion laughs. For each, a job fetches it: the daemon stays
up, the job ends in ERROR or TRANSIENT_ERROR with an error code (or completes with exactly
the bytes served, where that is legitimate), no byte of /etc/passwd reaches the download
root, no external entity is fetched, and nothing is written outside the root.
Exit 0 all good, 1 a case failed, 77 when ferryd lacks the WS-Man endpoint.
"""

import hashlib
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import relpy  # noqa: E402
import wsmanc  # noqa: E402
from relpy import log  # noqa: E402
from wsmanc import Fault  # noqa: E402

BLOB = os.urandom(1 << 20)


class Evil:
    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.watch_hits = 0
        self.log = []
        self.stop = False
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        c.settimeout(10)
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    d = c.recv(65536)
                    if not d:
                        return
                    buf += d
                head, buf = buf.split(b"\r\n\r\n", 1)
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                hdrs = {}
                for ln in lines[1:]:
                    k, _, v = ln.partition(":")
                    hdrs[k.strip().lower()] = v.strip()
                path = target.split("?")[0]
                self.log.append((method, path, hdrs.get("range")))
                if not self.answer(c, method, path, hdrs):
                    return
        except OSError:
            return
        finally:
            c.close()

    def ok_data(self, c, method, hdrs, extra=b""):
        rng = hdrs.get("range")
        body = BLOB
        status = b"200 OK"
        cr = b""
        if rng and rng.startswith("bytes="):
            a, _, b = rng[6:].partition("-")
            a = int(a)
            b = int(b) if b else len(BLOB) - 1
            body = BLOB[a:b + 1]
            status = b"206 Partial Content"
            cr = b"Content-Range: bytes %d-%d/%d\r\n" % (a, b, len(BLOB))
        c.sendall(b"HTTP/1.1 " + status + b"\r\nContent-Length: %d\r\nAccept-Ranges: bytes\r\n"
                  b"ETag: \"evil-1\"\r\nLast-Modified: Sat, 21 Nov 2026 00:00:00 GMT\r\n"
                  % len(body) + cr + extra + b"\r\n" + (b"" if method == "HEAD" else body))
        return True

    def answer(self, c, method, path, hdrs):
        me = "http://127.0.0.1:%d" % self.port
        if path == "/watch.dtd":
            self.watch_hits += 1
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            return False
        if path == "/data":
            return self.ok_data(c, method, hdrs)
        if path == "/redirect-loop":
            c.sendall(b"HTTP/1.1 302 Found\r\nLocation: /redirect-loop\r\nContent-Length: 0\r\n\r\n")
            return True
        if path == "/redirect-file":
            c.sendall(b"HTTP/1.1 302 Found\r\nLocation: file:///etc/passwd\r\nContent-Length: 0\r\n\r\n")
            return True
        if path == "/redirect-ftp":
            c.sendall(b"HTTP/1.1 302 Found\r\nLocation: ftp://127.0.0.1/x\r\nContent-Length: 0\r\n\r\n")
            return True
        if path == "/redirect-ok":
            c.sendall(b"HTTP/1.1 301 Moved\r\nLocation: " + me.encode() + b"/data\r\nContent-Length: 0\r\n\r\n")
            return True
        if path == "/huge-header":
            c.sendall(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * (1 << 20) + b"\r\nContent-Length: 10\r\n\r\n0123456789")
            return False
        if path == "/bad-status":
            c.sendall(b"HTTP/1.1 abc Whatever\r\nContent-Length: 10\r\n\r\n0123456789")
            return False
        if path == "/negative-cl":
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n0123456789")
            return False
        if path == "/short-body":
            if method == "HEAD":
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nAccept-Ranges: bytes\r\n\r\n" % len(BLOB))
                return True
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BLOB) + BLOB[:1000])
            return False
        if path == "/range-ignored":
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BLOB)
                      + (b"" if method == "HEAD" else BLOB))
            return True
        if path == "/gzip":
            return self.ok_data(c, method, hdrs, b"Content-Encoding: gzip\r\n")
        if path.startswith("/ml-"):
            if path.endswith(".meta4"):
                kind = path[4:-6]
                body = self.metalink(kind).encode()
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/metalink4+xml\r\n"
                          b"Content-Length: %d\r\n\r\n" % len(body) + (b"" if method == "HEAD" else body))
                return True
            link = b'Link: <%s.meta4>; rel=describedby; type="application/metalink4+xml"\r\n' % path.encode()
            return self.ok_data(c, method, hdrs, link)
        c.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        return True

    def metalink(self, kind):
        watch = "http://127.0.0.1:%d/watch.dtd" % self.port
        core = ('<metalink xmlns="urn:ietf:params:xml:ns:metalink"><file name="x">'
                '<size>%d</size><identity>&e;</identity></file></metalink>' % len(BLOB))
        if kind == "xxe":
            return ('<?xml version="1.0"?><!DOCTYPE metalink [<!ENTITY e SYSTEM '
                    '"file:///etc/passwd">]>' + core)
        if kind == "dtd":
            return ('<?xml version="1.0"?><!DOCTYPE metalink SYSTEM "%s">' % watch
                    + core.replace("&e;", "x"))
        if kind == "pe":
            return ('<?xml version="1.0"?><!DOCTYPE metalink [<!ENTITY %% p SYSTEM "%s"> %%p;'
                    '<!ENTITY e "x">]>' % watch + core)
        lol = "".join('<!ENTITY l%d "%s">' % (i, ("&l%d;" % (i - 1)) * 10 if i else "lol")
                      for i in range(10))
        return '<?xml version="1.0"?><!DOCTYPE metalink [%s<!ENTITY e "&l9;">]>' % lol + core


def main():
    if not wsmanc.ferryd_runs_wsman():
        log("SKIP: feature 'ferryd with WS-Man and the client role' not in this build "
            "(ferryd --help lists no --wsman-listen)")
        return relpy.SKIP
    tmp = relpy.TmpDir("client-badserver")
    d = None
    failed = True
    try:
        evil = Evil()
        inroot = os.path.join(tmp.path, "in")
        os.makedirs(inroot)
        d = wsmanc.Ferryd(tmp.path, "cli", ["--download-root", inroot],
                          config_lines=["min-retry-delay = 1", "stall-timeout = 2",
                                        "connect-timeout = 2"])
        d.start()
        ws = d.client()
        t = relpy.Table("client vs hostile server")
        want = hashlib.sha256(BLOB).hexdigest()
        passwd = open("/etc/passwd", "rb").read()[:64]
        cases = [
            ("redirect loop", "/redirect-loop", "fail"),
            ("redirect to file:///etc/passwd", "/redirect-file", "fail"),
            ("redirect to ftp://", "/redirect-ftp", "fail"),
            ("redirect to a good URL", "/redirect-ok", "either"),
            ("1 MiB response header", "/huge-header", "fail"),
            ("broken status line", "/bad-status", "fail"),
            ("negative Content-Length", "/negative-cl", "fail"),
            ("body shorter than announced", "/short-body", "fail"),
            ("Range ignored (200 whole body)", "/range-ignored", "either"),
            ("Content-Encoding: gzip", "/gzip", "either"),
            ("Metalink with XXE", "/ml-xxe", "either"),
            ("Metalink with an external DTD", "/ml-dtd", "either"),
            ("Metalink with a parameter entity", "/ml-pe", "either"),
            ("Metalink with billion laughs", "/ml-lol", "either"),
        ]
        jobs = []
        for i, (case, path, expect) in enumerate(cases):
            dst = os.path.join(inroot, "c%02d.bin" % i)
            jid = ws.create_job("evil-%d" % i, "http://127.0.0.1:%d%s" % (evil.port, path), dst,
                                suspend=True)
            ws.set_props(jid, MinimumRetryDelay=1)
            ws.set_state(jid, 2)
            jobs.append((case, path, expect, jid, dst))
        end = time.time() + 40
        states = {}
        while time.time() < end:
            for case, path, expect, jid, dst in jobs:
                st = int(ws.job(jid)["State"])
                states[jid] = st
                if st == 6:
                    ws.set_state(jid, 1)
            if all(s in (4, 5, 7) for s in states.values()) and \
                    all(states.get(j[3]) in (4, 7) or time.time() > end - 30 for j in jobs):
                break
            time.sleep(0.2)
        for case, path, expect, jid, dst in jobs:
            inf = ws.job(jid)
            st = int(inf["State"])
            code = None
            if st in (4, 5):
                try:
                    e = ws.get_error(jid)
                    code = int(e.get("ErrorCode", "0"))
                except (Fault, ValueError):
                    code = None
            leaked = False
            for f in os.listdir(inroot):
                p = os.path.join(inroot, f)
                if os.path.isfile(p) and passwd and passwd in open(p, "rb").read(1 << 21):
                    leaked = True
            if expect == "fail":
                ok = st in (4, 5) and code not in (None, 0) and not os.path.exists(dst)
                exp = "ERROR/TRANSIENT_ERROR with a code, no LocalFile"
            else:
                good = st == 7 and os.path.exists(dst) and \
                    hashlib.sha256(open(dst, "rb").read()).hexdigest() == want
                ok = good or (st in (4, 5) and code not in (None, 0) and not os.path.exists(dst))
                exp = "ACKNOWLEDGED byte-exact, or an error with a code"
            ok = ok and not leaked
            t.add(case, exp, "state %s code %s%s" % (
                wsmanc.STATES[st], "0x%08X" % code if code else "-",
                " LEAKED /etc/passwd" if leaked else ""), ok)
            if st != 7:
                ws.set_state(jid, 0)
        ml = sorted(set(pth for _m, pth, _r in evil.log if pth.endswith(".meta4")))
        t.add("hostile Metalink documents fetched by the client", "4 of 4", "%d: %s" % (len(ml), ml),
              len(ml) == 4)
        t.add("no external entity fetched", "0 requests for watch.dtd", str(evil.watch_hits),
              evil.watch_hits == 0)
        outside = [f for f in os.listdir(tmp.path) if f not in ("in", "cli")]
        t.add("nothing written outside the root", "only in/ and cli/", outside or "none", not outside)
        t.add("daemon alive", "up", "up" if d.alive() else "DEAD", d.alive())
        rc = d.stop()
        t.add("SIGTERM", "exit 0", str(rc), rc == 0)
        evil.stop = True
        log(t.summary())
        failed = bool(t.failed())
        return 1 if failed else 0
    except (relpy.Fail, RuntimeError, Fault) as e:
        log("FAIL: %s" % e)
        if d is not None:
            log(d.tail())
        return 1
    finally:
        if d is not None:
            d.kill9()
        tmp.done(failed)


if __name__ == "__main__":
    sys.exit(main())
