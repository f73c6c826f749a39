#!/usr/bin/python3
"""A URL group's ConnectionLimit counts sockets (issue #17), with real idle keep-alive
sockets (Python) and curl against a server ferryd set up through WS-Man.

Two groups on one port, A with ConnectionLimit 2, B with 1:
  idle      two sockets each fetch once from A and stay open, idle (keep-alive): a third
            socket's GET, and curl's, get 503 with Retry-After and the socket is closed;
            the two idle sockets still get 200 on their next request
  freed     one idle socket closed: a new socket is served again (200, the file's bytes)
  move      a socket bound to A asks for a URL of B: it leaves A (a new socket to A is
            served) and counts against B (a second socket to B gets 503)
  unlimited ConnectionLimit 0 again: six idle sockets plus curl all served

Exit 0 all good, 1 a case failed, 77 when ferryd lacks the WS-Man endpoint or curl.
"""

import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import relpy  # noqa: E402
import wsmanc  # noqa: E402
from relpy import log  # noqa: E402
from wsmanc import GROUP  # noqa: E402


class Conn:
    """One keep-alive socket: request() sends a GET and reads one whole response."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""

    def request(self, path):
        self.s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path).encode())
        while b"\r\n\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                return None, {}, b""
            self.buf += d
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        hdr = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            hdr[k.strip().lower()] = v.strip()
        n = int(hdr.get("content-length", "0"))
        while len(rest) < n:
            d = self.s.recv(65536)
            if not d:
                break
            rest += d
        self.buf = rest[n:]
        return status, hdr, rest[:n]

    def closed_by_peer(self, timeout=2.0):
        self.s.settimeout(timeout)
        try:
            return self.s.recv(1) == b""
        except socket.timeout:
            return False
        except OSError:
            return True

    def close(self):
        self.s.close()


def curl_status(url):
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-D", "-", "-w", "%{http_code}",
                        url], capture_output=True, timeout=20)
    out = r.stdout.decode("latin-1")
    retry = any(ln.lower().startswith("retry-after:") for ln in out.split("\r\n"))
    return int(out[-3:]) if out[-3:].isdigit() else None, retry


def main():
    return wsmanc.harness("server-connlimit", run, tools=('curl',))


def run(tmp, daemons):
    t = relpy.Table("server connection limit")
    pub = os.path.join(tmp, "pub")
    os.makedirs(pub)
    body = os.urandom(100000)
    with open(os.path.join(pub, "f.bin"), "wb") as fh:
        fh.write(body)
    s = wsmanc.Ferryd(tmp, "srv", ["--publish-root", pub])
    daemons.append(s)
    s.start()
    ws = s.client()
    port = relpy.free_port()
    ga = "http://127.0.0.1:%d/a" % port
    gb = "http://127.0.0.1:%d/b" % port
    for g in (ga, gb):
        ws.invoke(GROUP, "CreateUrl", [("UrlSuffix", "f.bin"),
                                       ("SourceFilePath", os.path.join(pub, "f.bin")),
                                       ("SDDLAuth", "D:(A;;GA;;;WD)")], {"UrlGroup": g})

    def limit(g, n):
        out = ws.invoke(GROUP, "SetProperty", [("Property", "ConnectionLimit"), ("Value", n)],
                        {"UrlGroup": g})
        if out.get("ReturnValue", "0") != "0":
            raise relpy.Fail("SetProperty ConnectionLimit: %s" % out)

    limit(ga, 2)
    limit(gb, 1)
    # idle: two keep-alive sockets hold A's two slots
    c1, c2 = Conn(port), Conn(port)
    r1 = c1.request("/a/f.bin")
    r2 = c2.request("/a/f.bin")
    t.add("idle: two sockets served", "200 200, bytes", "%s %s" % (r1[0], r2[0]),
          r1[0] == 200 and r2[0] == 200 and r1[2] == body and r2[2] == body)
    time.sleep(0.2)  # both idle now: no response in flight
    c3 = Conn(port)
    r3 = c3.request("/a/f.bin")
    t.add("idle: third socket refused", "503 + Retry-After, closed",
          "%s %s" % (r3[0], r3[1].get("retry-after")),
          r3[0] == 503 and r3[1].get("retry-after", "").isdigit() and c3.closed_by_peer())
    c3.close()
    st, retry = curl_status("http://127.0.0.1:%d/a/f.bin" % port)
    t.add("idle: curl refused", "503 + Retry-After", "%s %s" % (st, retry),
          st == 503 and retry)
    r1 = c1.request("/a/f.bin")
    t.add("idle: an idle socket still served", "200", r1[0], r1[0] == 200 and r1[2] == body)
    # freed: closing one idle socket makes room
    c2.close()
    ok = False
    got = None
    end = time.time() + 5
    while time.time() < end and not ok:
        st, _ = curl_status("http://127.0.0.1:%d/a/f.bin" % port)
        got = st
        ok = st == 200
        if not ok:
            time.sleep(0.1)
    t.add("freed: a closed socket's slot reused", "200", got, ok)
    c4 = Conn(port)
    r4 = c4.request("/a/f.bin")
    t.add("freed: new keep-alive socket", "200", r4[0], r4[0] == 200 and r4[2] == body)
    # A now holds c1 and c4 (full). move: c4 asks for B
    r4 = c4.request("/b/f.bin")
    t.add("move: socket moves to B", "200", r4[0], r4[0] == 200 and r4[2] == body)
    c5 = Conn(port)
    r5 = c5.request("/a/f.bin")
    t.add("move: its slot in A is free", "200", r5[0], r5[0] == 200)
    c6 = Conn(port)
    r6 = c6.request("/b/f.bin")
    t.add("move: B (limit 1) is full", "503", r6[0], r6[0] == 503 and c6.closed_by_peer())
    for c in (c1, c4, c5, c6):
        c.close()
    # unlimited again
    limit(ga, 0)
    many = [Conn(port) for _ in range(6)]
    sts = [c.request("/a/f.bin")[0] for c in many]
    st, _ = curl_status("http://127.0.0.1:%d/a/f.bin" % port)
    t.add("unlimited: 6 idle sockets + curl", "all 200", "%s %s" % (sts, st),
          all(x == 200 for x in sts) and st == 200)
    for c in many:
        c.close()
    if not s.alive():
        raise relpy.Fail("ferryd died")
    log(t.summary())
    return 1 if t.failed() else 0


if __name__ == "__main__":
    sys.exit(main())
