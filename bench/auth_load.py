#!/usr/bin/python3
"""bench/auth_load.py - latency of the honest user while others attack authentication.

Starts its own ferryd (both roles, loopback), then measures, in phases:
  anonymous data-port GET p50/p99 (a 16 KiB anonymous URL, one keep-alive connection) and
  WS-Man Get of a job p50/p99 (the admin, keep-alive, Basic; the credential cache holds it),
  one of each every 5 ms for --seconds,
  - quiet: nothing else running;
  - flood: guessers with wrong passwords for "admin" (--guess-rate each, default 250/s,
    far above what the limiter lets through; 0 = as fast as ferryd answers), half on
    WS-Man and half on a data-port URL whose rule wants an authenticated user; each guesser
    rotates over its own loopback addresses (127.0.G.1-ADDRS), one connection per guess, so
    the failure limiter is engaged (most guesses get 429) and fresh addresses keep the
    verifier pool busy (401 after PBKDF2, 503 when its queue is full);
  - holders: HOLDERS connections that send WS-Man request headers without credentials and
    a 1 MiB Content-Length, then 64 KiB of body, and hold the socket (reopened when ferryd
    closes it);
and ferryd's RSS (VmRSS from /proc/PID/status, sampled every 50 ms) growth over the quiet
baseline and its CPU (utime + stime of all threads, % of one core) during each phase. The load runs in child processes, the measuring in this one. Goals (issues 17,
18): p99 within 2x of quiet, WS-Man Get p99 <= 5 ms under the flood, RSS growth <= 32 MiB.

  bench/auth_load.py [--ferryd build/control/ferryd] [--runs 3] [--seconds 10]
      [--guessers 4] [--addrs 64] [--guess-rate 250] [--holders 300] [--nice N] [--json]

Each run starts a fresh ferryd; with --runs > 1 the medians of the runs are printed last.
Users get 100000 PBKDF2 iterations (ferryctl user add's default). Python and stdlib only.
"""
import argparse
import base64
import hashlib
import json
import multiprocessing
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

BITS = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/microsoft/bits/"
JOB = BITS + "BitsClientJob"
S = "http://www.w3.org/2003/05/soap-envelope"
A = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
W = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
A_GET = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get"
ITER = 100000
PW = "admin-pw"


def envelope(action, selectors="", body=""):
    return ('<s:Envelope xmlns:s="%s" xmlns:a="%s" xmlns:w="%s"><s:Header>'
            '<a:Action s:mustUnderstand="true">%s</a:Action>'
            '<w:ResourceURI s:mustUnderstand="true">%s</w:ResourceURI>'
            '<a:MessageID>uuid:%s</a:MessageID><a:To>x</a:To>%s</s:Header>'
            '<s:Body>%s</s:Body></s:Envelope>'
            % (S, A, W, action, JOB, uuid.uuid4(), selectors, body)).encode()


def basic(user, pw):
    return "Basic " + base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()


def read_response(sock, buf):
    """(status, body, rest of buf) of one response with a Content-Length (or none: 0)."""
    while b"\r\n\r\n" not in buf:
        d = sock.recv(262144)
        if not d:
            raise ConnectionError("closed")
        buf += d
    end = buf.index(b"\r\n\r\n")
    head = buf[:end].decode("latin-1")
    buf = buf[end + 4:]
    status = int(head.split(" ", 2)[1])
    m = re.search(r"\ncontent-length:\s*(\d+)", head.lower())
    n = int(m.group(1)) if m else 0
    while len(buf) < n:
        d = sock.recv(262144)
        if not d:
            raise ConnectionError("closed in body")
        buf += d
    return status, buf[:n], buf[n:]


class KeepAlive:
    """One keep-alive connection; request(bytes) -> (status, body, ms)."""

    def __init__(self, port):
        self.port = port
        self.sock = None
        self.buf = b""

    def request(self, data):
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.buf = b""
        t = time.perf_counter()
        self.sock.sendall(data)
        status, body, self.buf = read_response(self.sock, self.buf)
        return status, body, (time.perf_counter() - t) * 1000.0

    def close(self):
        if self.sock:
            self.sock.close()
        self.sock = None


def wsman_post(port, auth, body):
    return ("POST /wsman HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: %s\r\n"
            "Content-Type: application/soap+xml;charset=UTF-8\r\nContent-Length: %d\r\n\r\n"
            % (port, auth, len(body))).encode() + body


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p / 100.0))]


# ---- load processes ---------------------------------------------------------------------

def guesser(kind, port, data_path, g, addrs, rate, stop, counts):
    """Wrong passwords for admin, one connection per guess, rotating source addresses, at
    most `rate` guesses a second (0: as fast as ferryd answers)."""
    srcs = ["127.0.%d.%d" % (10 + g, i + 1) for i in range(addrs)]
    n = 0
    local = {}
    nxt = time.perf_counter()
    while not stop.is_set():
        if rate:
            nxt += 1.0 / rate
            d = nxt - time.perf_counter()
            if d > 0:
                time.sleep(d)
        src = srcs[n % len(srcs)]
        n += 1
        auth = basic("admin", "guess-%d-%d" % (g, n))
        if kind == "wsman":
            req = wsman_post(port, auth, envelope(A_GET))
        else:
            req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: %s\r\n"
                   "Connection: close\r\n\r\n" % (data_path, port, auth)).encode()
        try:
            s = socket.socket()
            s.settimeout(10)
            s.bind((src, 0))
            s.connect(("127.0.0.1", port))
            s.sendall(req)
            status, _, _ = read_response(s, b"")
            s.close()
        except (OSError, ValueError, IndexError):
            status = 0
        local[status] = local.get(status, 0) + 1
    for k, v in local.items():
        counts.put((kind, k, v))


def holders(port, n, stop, opened):
    """n connections holding a WS-Man body without credentials; reopened when closed."""
    head = ("POST /wsman HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
            "Content-Type: application/soap+xml;charset=UTF-8\r\nContent-Length: 1048576\r\n"
            "\r\n" % port).encode()
    chunk = b"<" + b"x" * 65535
    socks = []
    total = 0

    def open_one():
        s = socket.socket()
        s.setblocking(True)
        s.settimeout(2)
        s.connect(("127.0.0.1", port))
        s.sendall(head)
        try:
            s.sendall(chunk)
        except OSError:
            pass
        s.setblocking(False)
        return s

    while not stop.is_set():
        while len(socks) < n and not stop.is_set():
            try:
                socks.append(open_one())
                total += 1
            except OSError:
                time.sleep(0.01)
        alive = []
        for s in socks:
            try:
                d = s.recv(4096)
                if d == b"":
                    s.close()
                    continue
                alive.append(s)  # an answer (401): ferryd closes after it
            except BlockingIOError:
                alive.append(s)
            except OSError:
                s.close()
        socks = alive
        stop.wait(0.05)
    for s in socks:
        s.close()
    opened.put(total)


# ---- ferryd -----------------------------------------------------------------------------

def users_line(name, pw, role):
    salt = os.urandom(16)
    h = hashlib.pbkdf2_hmac("sha256", pw.encode(), salt, ITER, 32)
    return "%s:%s:pbkdf2-sha256$%d$%s$%s\n" % (name, role, ITER, base64.b64encode(salt).decode(),
                                              base64.b64encode(h).decode())


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start_ferryd(ferryd, tmp):
    state, pub, dl = (os.path.join(tmp, d) for d in ("state", "pub", "in"))
    for d in (state, pub, dl):
        os.makedirs(d)
    os.chmod(state, 0o700)
    fd = os.open(os.path.join(state, "users"), os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, (users_line("admin", PW, "admin") + users_line("reader", "reader-pw", "user"))
             .encode())
    os.close(fd)
    for n in ("anon.bin", "auth.bin"):
        with open(os.path.join(pub, n), "wb") as fh:
            fh.write(os.urandom(16384))
    dport = free_port()
    argv = [ferryd, "--state-dir", state, "--wsman-listen", "127.0.0.1:0",
            "--publish-root", pub, "--download-root", dl, "--log-level", "error", "--metrics",
            "--url", "http://127.0.0.1:%d/b/anon.bin %s/anon.bin" % (dport, pub),
            "--url", "http://127.0.0.1:%d/b/auth.bin %s/auth.bin (A;;GA;;;AU)" % (dport, pub)]
    log = open(os.path.join(tmp, "ferryd.log"), "wb")
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log)
    ready = os.path.join(state, "ferryd.ready")
    for _ in range(3000):
        if os.path.exists(ready) or p.poll() is not None:
            break
        time.sleep(0.01)
    if not os.path.exists(ready):
        raise SystemExit("ferryd did not start; see %s" % log.name)
    with open(ready) as fh:
        url = [ln.split()[1] for ln in fh if ln.startswith("wsman ")][0]
    wport = int(url.split(":")[2].split("/")[0])
    return p, wport, dport, dl


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as fh:
        for ln in fh:
            if ln.startswith("VmRSS:"):
                return int(ln.split()[1])
    return 0


def cpu_s(pid):
    """utime + stime of the process (all its threads), in seconds."""
    with open("/proc/%d/stat" % pid) as fh:
        f = fh.read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


class RssSampler:
    def __init__(self, pid):
        self.pid = pid
        self.peak = 0
        self.stop = threading.Event()
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def loop(self):
        while not self.stop.is_set():
            try:
                self.peak = max(self.peak, rss_kib(self.pid))
            except OSError:
                return
            self.stop.wait(0.05)

    def done(self):
        self.stop.set()
        self.t.join()
        return self.peak


# ---- one run ----------------------------------------------------------------------------

def tarpit_held(wport):
    """401 answers ferryd's refusal tarpit held so far (both listeners), from /metrics; 0
    when the daemon has no such metric."""
    ka = KeepAlive(wport)
    st, body, _ = ka.request(("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                              "Authorization: %s\r\n\r\n" % (wport, basic("admin", PW))).encode())
    ka.close()
    if st != 200:
        return 0
    return sum(int(v) for v in re.findall(
        rb'^ferry_tarpit_refusals_held_total\{[^}]*\} (\d+)$', body, re.M))


def measure(dport, wport, job, seconds, pace_ms=5.0):
    """anonymous GET and WS-Man Get latencies (ms) for `seconds`: one of each every pace_ms
    (an honest client's steady use, not a load of its own)."""
    get_req = ("GET /b/anon.bin HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % dport).encode()
    sel = '<w:SelectorSet><w:Selector Name="JobId">%s</w:Selector></w:SelectorSet>' % job
    ws_auth = basic("admin", PW)
    data, ctl = KeepAlive(dport), KeepAlive(wport)
    lat_get, lat_ws, bad = [], [], 0
    t0 = time.perf_counter()
    nxt = t0
    while time.perf_counter() - t0 < seconds:
        st, body, ms = data.request(get_req)
        bad += st != 200 or len(body) != 16384
        lat_get.append(ms)
        st, _, ms = ctl.request(wsman_post(wport, ws_auth, envelope(A_GET, sel)))
        bad += st != 200
        lat_ws.append(ms)
        nxt += pace_ms / 1000.0
        d = nxt - time.perf_counter()
        if d > 0:
            time.sleep(d)
    data.close()
    ctl.close()
    return lat_get, lat_ws, bad


def one_run(a, k):
    tmp = tempfile.mkdtemp(prefix="ferry-bench-auth-")
    proc, wport, dport, dl = start_ferryd(a.ferryd, tmp)
    res = {"run": k}
    try:
        ctl = KeepAlive(wport)
        body = ('<p:CreateJob_INPUT xmlns:p="%s"><p:DisplayName>bench</p:DisplayName>'
                '<p:RemoteUrl>http://127.0.0.1:9/x</p:RemoteUrl><p:LocalFile>%s/x</p:LocalFile>'
                '<p:Suspend>true</p:Suspend></p:CreateJob_INPUT>' % (JOB, dl))
        st, out, _ = ctl.request(wsman_post(wport, basic("admin", PW),
                                            envelope(JOB + "/CreateJob", "", body)))
        m = re.search(rb"JobId>(\{[^<]+\})<", out)
        if st != 200 or not m:
            raise SystemExit("CreateJob failed: HTTP %d %r" % (st, out[:300]))
        job = m.group(1).decode()
        ctl.close()
        measure(dport, wport, job, 1.0)  # warm-up
        base = rss_kib(proc.pid)
        res["rss_base_mib"] = round(base / 1024.0, 1)

        def phase(name, start_load):
            stop = multiprocessing.Event()
            q = multiprocessing.Queue()
            held0 = tarpit_held(wport)
            procs = start_load(stop, q)
            time.sleep(1.0 if procs else 0)  # let the load reach its steady state
            sampler = RssSampler(proc.pid)
            c0 = cpu_s(proc.pid)
            t0 = time.perf_counter()
            lg, lw, bad = measure(dport, wport, job, a.seconds)
            secs = time.perf_counter() - t0
            cpu = cpu_s(proc.pid) - c0
            peak = sampler.done()
            stop.set()
            load = {}
            for p in procs:
                p.join(30)
            while not q.empty():
                item = q.get()
                if isinstance(item, tuple):
                    key = "%s_%s" % (item[0], item[1] or "err")
                    load[key] = load.get(key, 0) + item[2]
                else:
                    load["holder_connections"] = load.get("holder_connections", 0) + item
            held = tarpit_held(wport) - held0
            if held:
                load["tarpit_held_401"] = held
            res[name] = {
                "samples": len(lg),
                "get_p50_ms": round(pct(lg, 50), 3), "get_p99_ms": round(pct(lg, 99), 3),
                "wsman_p50_ms": round(pct(lw, 50), 3), "wsman_p99_ms": round(pct(lw, 99), 3),
                "bad_answers": bad,
                "ferryd_cpu_pct": round(100.0 * cpu / secs, 1),
                "rss_growth_mib": round(max(0, peak - base) / 1024.0, 1),
                "load_per_s": {k2: round(v / (secs + (1.0 if procs else 0)), 1)
                               for k2, v in sorted(load.items())},
            }

        def no_load(stop, q):
            return []

        def flood(stop, q):
            ps = []
            for g in range(a.guessers):
                kind = "wsman" if g % 2 == 0 else "data"
                port = wport if kind == "wsman" else dport
                p = multiprocessing.Process(target=guesser, args=(
                    kind, port, "/b/auth.bin", g, a.addrs, a.guess_rate, stop, q),
                    daemon=True)
                p.start()
                ps.append(p)
            return ps

        def hold(stop, q):
            p = multiprocessing.Process(target=holders, args=(wport, a.holders, stop, q),
                                        daemon=True)
            p.start()
            return [p]

        phase("quiet", no_load)
        phase("flood", flood)
        phase("holders", hold)
        res["rss_end_mib"] = round(rss_kib(proc.pid) / 1024.0, 1)
        if proc.poll() is not None:
            raise SystemExit("ferryd died (exit %s)" % proc.returncode)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        if a.keep:
            print("kept %s" % tmp, file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return res


def verdict(r):
    q = r["quiet"]
    out = {}
    for ph in ("flood", "holders"):
        x = r[ph]
        out[ph] = {
            "get_p99_within_2x": x["get_p99_ms"] <= 2 * q["get_p99_ms"],
            "wsman_p99_within_2x": x["wsman_p99_ms"] <= 2 * q["wsman_p99_ms"],
            "rss_growth_le_32mib": x["rss_growth_mib"] <= 32,
        }
    out["flood"]["wsman_p99_le_5ms"] = r["flood"]["wsman_p99_ms"] <= 5.0
    return out


def median_of(runs):
    m = {}
    for ph in ("quiet", "flood", "holders"):
        m[ph] = {}
        for key in ("get_p50_ms", "get_p99_ms", "wsman_p50_ms", "wsman_p99_ms",
                    "rss_growth_mib", "ferryd_cpu_pct", "bad_answers"):
            m[ph][key] = round(statistics.median(r[ph][key] for r in runs), 3)
    m["rss_base_mib"] = round(statistics.median(r["rss_base_mib"] for r in runs), 1)
    return m


def show(title, r):
    print("== %s" % title)
    if "rss_base_mib" in r:
        print("   ferryd RSS after warm-up: %.1f MiB" % r["rss_base_mib"])
    print("   %-8s %10s %10s %10s %10s %8s %6s %5s" % (
        "phase", "GET p50", "GET p99", "Get p50", "Get p99", "RSS +MiB", "CPU %", "bad"))
    for ph in ("quiet", "flood", "holders"):
        x = r[ph]
        print("   %-8s %8.3fms %8.3fms %8.3fms %8.3fms %8.1f %6.1f %5d" % (
            ph, x["get_p50_ms"], x["get_p99_ms"], x["wsman_p50_ms"], x["wsman_p99_ms"],
            x["rss_growth_mib"], x["ferryd_cpu_pct"], x["bad_answers"]))
        if x.get("load_per_s"):
            print("            load: %s" % ", ".join("%s %s/s" % kv for kv in x["load_per_s"].items()))
    for ph, goals in verdict(r).items():
        print("   goals %-8s %s" % (ph, ", ".join("%s %s" % (g, "met" if ok else "MISSED")
                                                 for g, ok in goals.items())))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ferryd", default=os.environ.get("FERRYD") or os.path.join(
        here, "..", "build", "control", "ferryd"))
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=10.0,
                    help="length of each phase (a GET and a WS-Man Get every 5 ms)")
    ap.add_argument("--guessers", type=int, default=4,
                    help="guessing processes (even: WS-Man, odd: data port)")
    ap.add_argument("--addrs", type=int, default=64, help="loopback addresses per guesser")
    ap.add_argument("--guess-rate", type=float, default=250,
                    help="guesses a second per guesser, 0 = as fast as ferryd answers")
    ap.add_argument("--holders", type=int, default=300)
    ap.add_argument("--nice", type=int, default=0,
                    help="add to the nice value of the bench and its ferryd (negative needs "
                         "root): on a shared host, -5 keeps other users' load out of the "
                         "figures while attack and victim still compete with each other")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (ferryd.log)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if not os.access(a.ferryd, os.X_OK):
        raise SystemExit("no ferryd at %s (--ferryd or $FERRYD)" % a.ferryd)
    if a.nice:
        os.nice(a.nice)  # inherited by ferryd and the load processes
    runs = [one_run(a, k) for k in range(a.runs)]
    if a.json:
        print(json.dumps({"runs": runs, "median": median_of(runs) if len(runs) > 1 else None}))
        return
    for r in runs:
        show("run %d" % r["run"], r)
    if len(runs) > 1:
        show("median of %d runs" % len(runs), median_of(runs))


if __name__ == "__main__":
    main()
