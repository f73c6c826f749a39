#!/usr/bin/python3
"""The refusal tarpit (issue 18, the holders of bench/auth_load.py) against one real ferryd.

From one address, 120 connections send WS-Man POST headers without credentials and
Content-Length: 1048576, then up to 64 KiB of body, all at once. Past the per-prefix budget
(auth-tarpit-rate, 16 a second by default) their 401s are held: most of them must arrive
at least 50 ms after the request went out (a lower bound only: no upper bound on time is
asserted). Meanwhile an authenticated Identify from the same address answers 200 and
/metrics shows parked connections; ferryd's RSS grows by less than 32 MiB; in the end every
connection got its 401, none is parked, the held count covers them, one rate-limited log
line (not one per refusal) says so and the daemon still answers. The data port's 401s (a
URL whose rule wants an authenticated user) are held the same way, while the right
password still gets 200.
Exit 0 all good, 1 a case failed, 77 when ferryd does not run the WS-Man endpoint.
"""

import base64
import os
import re
import selectors
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import relpy  # noqa: E402
import wsmanc  # noqa: E402
from wsmanc import GROUP  # noqa: E402

N_HOLDERS = 120
N_DATA = 40
HELD_MS = 50
USER_PW = "Reader-Pw-31f7"


def main():
    return wsmanc.harness("auth-tarpit", run)


def answers(socks, sent_at, timeout):
    """Read every socket until its status line (or close): {index: (status, seconds after
    its request went out)}; a socket closed without a status line maps to (None, t)."""
    sel = selectors.DefaultSelector()
    bufs = {}
    for i, s in enumerate(socks):
        sel.register(s, selectors.EVENT_READ, i)
        bufs[i] = b""
    got = {}
    end = time.monotonic() + timeout
    while len(got) < len(socks) and time.monotonic() < end:
        for key, _ in sel.select(timeout=0.2):
            i = key.data
            try:
                data = key.fileobj.recv(4096)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            now = time.monotonic()
            bufs[i] += data
            if b"\r\n" in bufs[i] or not data:
                line = bufs[i].split(b"\r\n", 1)[0]
                m = re.match(rb"HTTP/1\.1 (\d{3})", line)
                got[i] = (int(m.group(1)) if m else None, now - sent_at[i])
                sel.unregister(key.fileobj)
    sel.close()
    return got


def metric(text, name, listener):
    m = re.search(r'^%s\{listener="%s"\} (\d+)$' % (re.escape(name), listener), text, re.M)
    return int(m.group(1)) if m else None


def get_metrics(host, port):
    auth = base64.b64encode(b"admin:admin-pw").decode()
    with socket.create_connection((host, port), timeout=30) as s:
        s.sendall(("GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\n"
                   "Connection: close\r\n\r\n" % auth).encode())
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    return data.decode("utf-8", "replace")


def holders(host, port, n):
    socks, sent_at = [], []
    body = b"<" * 65536
    for _ in range(n):
        s = socket.create_connection((host, port), timeout=10)
        s.setblocking(False)
        try:
            s.send(b"POST /wsman HTTP/1.1\r\nHost: x\r\nContent-Type: application/soap+xml;"
                   b"charset=UTF-8\r\nContent-Length: 1048576\r\n\r\n")
        except OSError:
            pass
        sent_at.append(time.monotonic())
        try:
            s.send(body)
        except OSError:
            pass
        socks.append(s)
    return socks, sent_at


def run(tmp, daemons):
    pub = os.path.join(tmp, "pub")
    os.makedirs(pub)
    with open(os.path.join(pub, "f.bin"), "wb") as fh:
        fh.write(os.urandom(4096))
    d = wsmanc.Ferryd(tmp, "d", ["--publish-root", pub],
                      users=(("admin", "admin-pw", "admin"), ("reader", USER_PW, "user")),
                      config_lines=["auth-fail-limit = 100000", "metrics = true"])
    daemons.append(d)
    d.start()
    ws = d.client()
    host, port = re.match(r"https?://([^:/]+):(\d+)", d.url).groups()
    port = int(port)
    t = relpy.Table("refusal tarpit")

    # ---- WS-Man: body-holding connections without credentials, all from 127.0.0.1
    rss0 = wsmanc.rss_kib(d.pid)
    socks, sent_at = holders(host, port, N_HOLDERS)
    result = {}
    reader = threading.Thread(target=lambda: result.update(answers(socks, sent_at, 60)))
    reader.start()
    time.sleep(0.3)
    r = ws.identify()
    t.add("authenticated Identify while holders are parked", "200", "HTTP %d" % r.status,
          r.status == 200)
    text = get_metrics(host, port)
    parked_mid = metric(text, "ferry_tarpit_parked", "wsman")
    t.add("/metrics while holders are parked", "ferry_tarpit_parked{listener=\"wsman\"} > 0",
          str(parked_mid), parked_mid is not None and parked_mid > 0)
    rss1 = wsmanc.rss_kib(d.pid)
    reader.join()
    for s in socks:
        s.close()
    statuses = [result.get(i, (None, 0))[0] for i in range(N_HOLDERS)]
    n401 = statuses.count(401)
    t.add("every holder answered", "%d x 401" % N_HOLDERS,
          "%d x 401, others %s" % (n401, sorted(set(statuses) - {401}, key=str)),
          n401 == N_HOLDERS)
    late = sum(1 for i in range(N_HOLDERS) if result.get(i, (None, 0))[1] >= HELD_MS / 1000)
    t.add("401s held past the budget", ">= %d of %d arrive >= %d ms after the request"
          % (N_HOLDERS // 2, N_HOLDERS, HELD_MS), "%d" % late, late >= N_HOLDERS // 2)
    t.add("RSS growth with %d parked holders" % N_HOLDERS, "< 32 MiB",
          "%d KiB" % (rss1 - rss0), rss1 - rss0 < 32 * 1024)
    time.sleep(0.2)
    text = get_metrics(host, port)
    held = metric(text, "ferry_tarpit_refusals_held_total", "wsman")
    parked = metric(text, "ferry_tarpit_parked", "wsman")
    t.add("/metrics after the holders", "held_total >= %d, parked 0" % (N_HOLDERS // 2),
          "held %s, parked %s" % (held, parked),
          held is not None and held >= N_HOLDERS // 2 and parked == 0)

    # ---- the data port: a URL for authenticated users, asked anonymously
    grp = "http://127.0.0.1:%d/tp" % relpy.free_port()
    out = ws.invoke(GROUP, "CreateUrl", [("UrlSuffix", "f.bin"),
                                         ("SourceFilePath", os.path.join(pub, "f.bin")),
                                         ("SDDLAuth", "D:(A;;GA;;;AU)")], {"UrlGroup": grp})
    if out.get("ReturnValue") not in ("0", None):
        raise relpy.Fail("CreateUrl ReturnValue %s" % out.get("ReturnValue"))
    dhost, dport = re.match(r"http://([^:/]+):(\d+)", grp).groups()
    dport = int(dport)
    dsocks, dsent = [], []
    for _ in range(N_DATA):
        s = socket.create_connection((dhost, dport), timeout=10)
        s.sendall(b"GET /tp/f.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        dsent.append(time.monotonic())
        s.setblocking(False)
        dsocks.append(s)
    dres = {}
    dreader = threading.Thread(target=lambda: dres.update(answers(dsocks, dsent, 60)))
    dreader.start()
    time.sleep(0.2)
    auth = base64.b64encode(("reader:%s" % USER_PW).encode()).decode()
    with socket.create_connection((dhost, dport), timeout=30) as s:
        s.sendall(("GET /tp/f.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\n"
                   "Connection: close\r\n\r\n" % auth).encode())
        line = s.recv(64).split(b"\r\n", 1)[0].decode("latin-1")
    t.add("data port: the right password while anonymous GETs are held", "200", line,
          line.startswith("HTTP/1.1 200"))
    dreader.join()
    for s in dsocks:
        s.close()
    dst = [dres.get(i, (None, 0))[0] for i in range(N_DATA)]
    dlate = sum(1 for i in range(N_DATA) if dres.get(i, (None, 0))[1] >= HELD_MS / 1000)
    t.add("data port: anonymous GETs of an AU URL", "%d x 401, >= %d held >= %d ms"
          % (N_DATA, N_DATA // 2, HELD_MS), "%d x 401, %d held" % (dst.count(401), dlate),
          dst.count(401) == N_DATA and dlate >= N_DATA // 2)
    text = get_metrics(host, port)
    dheld = metric(text, "ferry_tarpit_refusals_held_total", "data")
    t.add("/metrics: data port held_total", ">= %d" % (N_DATA // 2), str(dheld),
          dheld is not None and dheld >= N_DATA // 2)

    # ---- the log: rate-limited lines, not one per refusal; the daemon still answers
    nlines = d.log_text().count(b"401 answers held")
    t.add("log lines about held refusals", "1..6 for %d held" % (N_HOLDERS + N_DATA),
          str(nlines), 1 <= nlines <= 6)
    r = ws.identify()
    t.add("ferryd alive at the end", "Identify 200", "HTTP %d" % r.status,
          d.alive() and r.status == 200)
    rep = os.environ.get("REL_REPORT_DIR")
    if rep:
        os.makedirs(rep, exist_ok=True)
        t.write_markdown(os.path.join(rep, "auth_tarpit.md"))
    relpy.log(t.summary())
    return 1 if t.failed() else 0


if __name__ == "__main__":
    sys.exit(main())
