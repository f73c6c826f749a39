#!/usr/bin/python3
"""bench/wsman_ops.py - control-plane operations per second against a running ferryd:
Get latency (p50/p99), CreateJob throughput, and an Enumerate (optimized, then Pull) of N
jobs. Keep-alive HTTP connections, Basic auth, envelopes like wsl's. The client's own CPU
per operation is reported next to each figure: when it approaches the time per operation,
the figure measures the client, not ferryd (use --conns N, and the default raw client).

  bench/wsman_ops.py --endpoint http://127.0.0.1:5985/wsman --user admin \
      --password-file F --download-root DIR [--jobs 10000] [--gets 2000] [--json] \
      [--client raw|httplib] [--conns N]

With --spawn, starts its own ferryd ($FERRYD) in a temp state dir and
stops it afterwards. Prints one line per figure, or a JSON object with --json (for the
bench helper's table).
"""
import argparse
import base64
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

BITS = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/microsoft/bits/"
JOB = BITS + "BitsClientJob"
S = "http://www.w3.org/2003/05/soap-envelope"
A = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
W = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
N = "http://schemas.xmlsoap.org/ws/2004/09/enumeration"


class Client:
    """http.client: the reference client (slow: ~1 ms of Python CPU per request)."""

    def __init__(self, endpoint, user, password):
        u = urllib.parse.urlsplit(endpoint)
        self.path = u.path or "/wsman"
        self.conn = (http.client.HTTPSConnection if u.scheme == "https"
                     else http.client.HTTPConnection)(u.hostname, u.port, timeout=60)
        tok = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
        self.headers = {"Authorization": "Basic " + tok,
                        "Content-Type": "application/soap+xml;charset=UTF-8"}

    def post(self, body):
        self.conn.request("POST", self.path, body.encode(), self.headers)
        r = self.conn.getresponse()
        data = r.read()
        if r.status != 200:
            raise RuntimeError("HTTP %d: %s" % (r.status, data[:400]))
        return data.decode()


class RawClient:
    """A minimal keep-alive HTTP/1.1 client on a plain socket: one sendall per request and
    a Content-Length (or chunked) response parser, so that the bench measures ferryd and
    not http.client. http only."""

    def __init__(self, endpoint, user, password):
        u = urllib.parse.urlsplit(endpoint)
        if u.scheme != "http":
            raise SystemExit("--client raw supports http:// only")
        self.addr = (u.hostname, u.port or 80)
        tok = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
        self.head = ("POST %s HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: Basic %s\r\n"
                     "Content-Type: application/soap+xml;charset=UTF-8\r\n"
                     "Content-Length: " % (u.path or "/wsman", u.hostname, self.addr[1],
                                           tok)).encode()
        self.sock = None
        self.buf = b""

    def _connect(self):
        self.sock = socket.create_connection(self.addr, timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def _fill(self):
        d = self.sock.recv(262144)
        if not d:
            raise RuntimeError("connection closed by ferryd")
        self.buf += d

    def post(self, body):
        if self.sock is None:
            self._connect()
        b = body.encode()
        self.sock.sendall(self.head + str(len(b)).encode() + b"\r\n\r\n" + b)
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            self._fill()
        head = self.buf[:end].decode("latin-1")
        self.buf = self.buf[end + 4:]
        status = int(head.split(" ", 2)[1])
        hl = head.lower()
        m = re.search(r"\ncontent-length:\s*(\d+)", hl)
        if m:
            n = int(m.group(1))
            while len(self.buf) < n:
                self._fill()
            data, self.buf = self.buf[:n], self.buf[n:]
        elif "transfer-encoding: chunked" in hl:
            data = b""
            while True:
                while b"\r\n" not in self.buf:
                    self._fill()
                line, self.buf = self.buf.split(b"\r\n", 1)
                n = int(line.split(b";")[0], 16)
                while len(self.buf) < n + 2:
                    self._fill()
                data, self.buf = data + self.buf[:n], self.buf[n + 2:]
                if n == 0:
                    break
        else:
            raise RuntimeError("response without a length: " + head[:200])
        if "connection: close" in hl:
            self.sock.close()
            self.sock = None
        if status != 200:
            raise RuntimeError("HTTP %d: %s" % (status, data[:400]))
        return data.decode()


def env(action, selectors="", body=""):
    return ('<s:Envelope xmlns:s="%s" xmlns:a="%s" xmlns:w="%s" xmlns:n="%s"><s:Header>'
            '<a:Action s:mustUnderstand="true">%s</a:Action>'
            '<w:ResourceURI s:mustUnderstand="true">%s</w:ResourceURI>'
            '<a:MessageID>uuid:%s</a:MessageID><a:To>x</a:To>%s</s:Header>'
            '<s:Body>%s</s:Body></s:Envelope>'
            % (S, A, W, N, action, JOB, uuid.uuid4(), selectors, body))


def sel(job):
    return '<w:SelectorSet><w:Selector Name="JobId">%s</w:Selector></w:SelectorSet>' % job


def create_job(c, root, i):
    body = ('<p:CreateJob_INPUT xmlns:p="%s"><p:DisplayName>bench-%d</p:DisplayName>'
            '<p:RemoteUrl>http://127.0.0.1:9/bench-%d</p:RemoteUrl>'
            '<p:LocalFile>%s/bench-%d</p:LocalFile><p:Suspend>true</p:Suspend>'
            '</p:CreateJob_INPUT>' % (JOB, i, i, root, i))
    out = c.post(env(JOB + "/CreateJob", "", body))
    m = re.search(r"JobId>(\{[^<]+\})<", out)
    if not m:
        raise RuntimeError("CreateJob: " + out[:400])
    return m.group(1)


def enumerate_all(c, per):
    body = ("<n:Enumerate><w:OptimizeEnumeration/><w:MaxElements>%d</w:MaxElements>"
            "</n:Enumerate>" % per)
    out = c.post(env(N + "/Enumerate", "", body))
    count = out.count("<p:BitsClientJob>")
    ctx = re.search(r"EnumerationContext>([^<]+)<", out)
    while ctx and "EndOfSequence" not in out:
        out = c.post(env(N + "/Pull", "",
                         "<n:Pull><n:EnumerationContext>%s</n:EnumerationContext>"
                         "<n:MaxElements>%d</n:MaxElements></n:Pull>" % (ctx.group(1), per)))
        count += out.count("<p:BitsClientJob>")
        ctx = re.search(r"EnumerationContext>([^<]+)<", out)
    return count


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p / 100.0))]


def spawn():
    ferryd = os.environ.get("FERRYD")
    if not ferryd:
        sys.exit("--spawn needs $FERRYD")
    tmp = tempfile.mkdtemp(prefix="ferry-bench-wsman-")
    state, dl = os.path.join(tmp, "state"), os.path.join(tmp, "in")
    os.makedirs(state)
    os.makedirs(dl)
    salt = os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", b"admin-pw", salt, 10000, 32)
    fd = os.open(os.path.join(state, "users"), os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, ("admin:admin:pbkdf2-sha256$10000$%s$%s\n" % (
        base64.b64encode(salt).decode(), base64.b64encode(digest).decode())).encode())
    os.close(fd)
    p = subprocess.Popen([ferryd, "--state-dir", state, "--wsman-listen", "127.0.0.1:0",
                          "--download-root", dl, "--max-jobs", "100000", "--log-level",
                          "warn"])
    ready = os.path.join(state, "ferryd.ready")
    for _ in range(1000):
        if os.path.exists(ready):
            break
        time.sleep(0.01)
    with open(ready) as f:
        url = [l.split()[1] for l in f if l.startswith("wsman ")][0]
    return p, tmp, url, dl


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--endpoint")
    ap.add_argument("--user", default="admin")
    ap.add_argument("--password-file")
    ap.add_argument("--download-root")
    ap.add_argument("--jobs", type=int, default=10000)
    ap.add_argument("--gets", type=int, default=2000)
    ap.add_argument("--page", type=int, default=512)
    ap.add_argument("--client", choices=("raw", "httplib"), default="raw",
                    help="raw: minimal socket client (default); httplib: http.client")
    ap.add_argument("--conns", type=int, default=1,
                    help="keep-alive connections (one thread each) for CreateJob")
    ap.add_argument("--spawn", action="store_true")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    proc = tmp = None
    if a.spawn:
        proc, tmp, a.endpoint, a.download_root = spawn()
        password = "admin-pw"
    else:
        if not a.endpoint or not a.download_root:
            ap.error("--endpoint and --download-root are needed (or --spawn)")
        password = (open(a.password_file).read().strip() if a.password_file
                    else os.environ.get("FERRY_PASSWORD", ""))
    try:
        mk = RawClient if a.client == "raw" else Client
        c = mk(a.endpoint, a.user, password)
        conns = max(1, a.conns)
        ids = [None] * a.jobs
        errors = []

        def creator(k):
            try:
                cc = c if k == 0 else mk(a.endpoint, a.user, password)
                for i in range(k, a.jobs, conns):
                    ids[i] = create_job(cc, a.download_root, i)
            except Exception as e:  # reported after join
                errors.append(e)

        cpu0, t0 = time.process_time(), time.perf_counter()
        threads = [threading.Thread(target=creator, args=(k,)) for k in range(conns)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        create_s = time.perf_counter() - t0
        create_cpu = time.process_time() - cpu0
        if errors:
            raise errors[0]

        lat = []
        cpu0 = time.process_time()
        for i in range(a.gets):
            t = time.perf_counter()
            c.post(env("http://schemas.xmlsoap.org/ws/2004/09/transfer/Get",
                       sel(ids[i % len(ids)])))
            lat.append((time.perf_counter() - t) * 1000.0)
        get_cpu = time.process_time() - cpu0

        cpu0, t0 = time.process_time(), time.perf_counter()
        n = enumerate_all(c, a.page)
        enum_s = time.perf_counter() - t0
        enum_cpu = time.process_time() - cpu0
        if n < a.jobs:
            raise RuntimeError("Enumerate returned %d of %d jobs" % (n, a.jobs))
        res = {
            "client": a.client,
            "conns": conns,
            "jobs": a.jobs,
            "create_job_per_s": round(a.jobs / create_s, 1),
            "create_client_cpu_ms": round(create_cpu * 1000.0 / max(1, a.jobs), 3),
            "get_p50_ms": round(pct(lat, 50), 3),
            "get_p99_ms": round(pct(lat, 99), 3),
            "get_per_s": round(len(lat) / (sum(lat) / 1000.0), 1),
            "get_client_cpu_ms": round(get_cpu * 1000.0 / max(1, a.gets), 3),
            "enumerate_items": n,
            "enumerate_s": round(enum_s, 3),
            "enumerate_items_per_s": round(n / enum_s, 1),
            "enumerate_client_cpu_s": round(enum_cpu, 3),
        }
        if a.json:
            print(json.dumps(res))
        else:
            for k, v in res.items():
                print("%-24s %s" % (k, v))
    finally:
        if proc:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
