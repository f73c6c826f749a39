"""relpy - Python helpers for ferry's reliability suite (stdlib only, /usr/bin/python3).

Starting a data-plane server (ferryd, or tests/tools/rel_serverd while ferryd does not run
the server role), raw HTTP exchanges over sockets, a small HTTP response reader, and a
result table that every script prints the same way.
"""

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77


def log(msg):
    sys.stderr.write("[%s] %s\n" % (os.path.basename(sys.argv[0]), msg))
    sys.stderr.flush()


class Fail(Exception):
    pass


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def sha256(data):
    return hashlib.sha256(data).hexdigest()


class TmpDir:
    """A temp dir removed at exit unless FERRY_TEST_KEEP=1 (or kept on failure with
    FERRY_TEST_KEEP_FAILED=1)."""

    def __init__(self, tag):
        base = os.environ.get("TMPDIR", "/tmp")
        self.path = tempfile.mkdtemp(prefix="ferry-test-%s-" % tag, dir=base)

    def done(self, failed):
        keep = os.environ.get("FERRY_TEST_KEEP") == "1" or (
            failed and os.environ.get("FERRY_TEST_KEEP_FAILED") == "1")
        if keep:
            log("kept %s" % self.path)
        else:
            shutil.rmtree(self.path, ignore_errors=True)


def build_dir():
    b = os.environ.get("FERRY_BUILD")
    if b:
        return b
    src = os.environ.get("FERRY_SRC") or os.path.abspath(
        os.path.join(os.path.dirname(__file__), "..", ".."))
    return os.path.join(src, "build")


def ferryd_path():
    return os.environ.get("FERRYD") or os.path.join(build_dir(), "control", "ferryd")


def ferryd_serves_data():
    """ferryd runs the server role when its --help lists --publish-root."""
    try:
        out = subprocess.run([ferryd_path(), "--help"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return b"--publish-root" in out.stdout + out.stderr


def serverd_path():
    return os.path.join(build_dir(), "tests", "reliability", "rel_serverd")


class DataServer:
    """A server-role process publishing files through config-file url lines.

    files: {suffix: source path}. Options are config lines ("http-header-timeout = 2").
    Uses ferryd when it runs the data plane, else rel_serverd; raises SystemExit(77)
    when neither exists in this build."""

    def __init__(self, tmp, name, publish_root, files, options=(), group="grp",
                 use=None):
        self.dir = os.path.join(tmp, name)
        self.state = os.path.join(self.dir, "state")
        os.makedirs(self.state, mode=0o700, exist_ok=True)
        self.port = free_port()
        self.group = group
        self.base = "http://127.0.0.1:%d/%s" % (self.port, group)
        self.log_path = os.path.join(self.dir, "server.log")
        self.cfg = os.path.join(self.dir, "ferryd.conf")
        with open(self.cfg, "w") as fh:
            fh.write("publish-root = %s\n" % publish_root)
            for o in options:
                fh.write(o + "\n")
            for suffix, src in files.items():
                fh.write("url = %s/%s %s\n" % (self.base, suffix, src))
        if use is None:
            if ferryd_serves_data():
                use = "ferryd"
            elif os.access(serverd_path(), os.X_OK):
                use = "rel_serverd"
            else:
                log("SKIP: feature 'server role' not in this build (ferryd --help lists no "
                    "--publish-root and rel_serverd is not built)")
                raise SystemExit(SKIP)
        self.kind = use
        self.proc = None

    def argv(self):
        if self.kind == "ferryd":
            return [ferryd_path(), "--state-dir", self.state, "--config", self.cfg,
                    "--wsman-listen", "127.0.0.1:0"]
        return [serverd_path(), "--state-dir", self.state, "--config", self.cfg]

    def start(self, preexec=None):
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv(), stdout=subprocess.DEVNULL,
                                     stderr=self.logf, preexec_fn=preexec)
        end = time.time() + 15
        while time.time() < end:
            if self.proc.poll() is not None:
                raise Fail("%s exited at start (%s); log:\n%s" % (
                    self.kind, self.proc.returncode, self.tail()))
            try:
                s = socket.create_connection(("127.0.0.1", self.port), timeout=1)
                s.close()
                return self
            except OSError:
                time.sleep(0.02)
        raise Fail("%s did not listen on %d; log:\n%s" % (self.kind, self.port, self.tail()))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def tail(self, n=40):
        try:
            with open(self.log_path, "rb") as fh:
                return b"\n".join(fh.read().splitlines()[-n:]).decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        """SIGTERM and wait; returns the exit status (None when not running)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return "hung"
        self.logf.close()
        return self.proc.returncode

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# ---- raw HTTP ----

class Response:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body

    def header(self, name):
        name = name.lower()
        for n, v in self.headers:
            if n.lower() == name:
                return v
        return None


def parse_responses(data, head_request=False):
    """Parse as many whole responses as data holds. Returns (list, leftover bytes)."""
    out = []
    while True:
        i = data.find(b"\r\n\r\n")
        if i < 0:
            return out, data
        head = data[:i].decode("latin-1")
        lines = head.split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/"):
            raise Fail("not an HTTP response: %r" % lines[0][:100])
        status = int(parts[1])
        headers = []
        for ln in lines[1:]:
            n, _, v = ln.partition(":")
            headers.append((n, v.strip()))
        r = Response(status, parts[2] if len(parts) > 2 else "", headers, b"")
        rest = data[i + 4:]
        cl = r.header("Content-Length")
        if head_request or status in (204, 304) or status < 200:
            n = 0
        elif cl is not None:
            n = int(cl)
        else:
            n = None
        if n is None:
            r.body = rest
            out.append(r)
            return out, b""
        if len(rest) < n:
            return out, data
        r.body = rest[:n]
        out.append(r)
        data = rest[n:]


def exchange(port, payload, timeout=5.0, want=None, head_request=False, pieces=None):
    """Send payload (bytes, or a list of (bytes, delay_s) when pieces is set), read until
    the server closes, `want` responses arrived, or timeout. Returns (responses, closed,
    raw bytes received)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.settimeout(timeout)
    data = b""
    closed = False
    try:
        if pieces:
            for chunk, delay in pieces:
                try:
                    s.sendall(chunk)
                except OSError:
                    break
                time.sleep(delay)
        else:
            try:
                s.sendall(payload)
            except OSError:
                pass
        end = time.time() + timeout
        while time.time() < end:
            try:
                d = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not d:
                closed = True
                break
            data += d
            if want is not None:
                rs, _ = parse_responses(data, head_request)
                if len(rs) >= want:
                    break
    finally:
        s.close()
    rs, _ = parse_responses(data, head_request)
    return rs, closed, data


def get(port, path, extra=b"", timeout=5.0):
    req = b"GET " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + extra + b"\r\n"
    rs, _closed, _raw = exchange(port, req, timeout=timeout, want=1)
    if not rs:
        raise Fail("no response to GET %r" % path)
    return rs[0]


class Table:
    """Results of a catalogue: one row per case; a failing row fails the script."""

    def __init__(self, title):
        self.title = title
        self.rows = []

    def add(self, case, expect, got, ok, known=False):
        """known=True: a finding already reported and not yet fixed; when it does not hold
        it is listed as OPEN and does not fail the run (it shows as ok once fixed)."""
        mark = "ok" if ok else ("OPEN" if known else "FAIL")
        self.rows.append((case, expect, got, mark))
        log("%-4s %-44s expect %-22s got %s" % (mark, case, expect, got))

    def failed(self):
        return [r for r in self.rows if r[3] == "FAIL"]

    def open_findings(self):
        return [r for r in self.rows if r[3] == "OPEN"]

    def write_markdown(self, path):
        with open(path, "w") as fh:
            fh.write("| case | expected | got | |\n|---|---|---|---|\n")
            for c, e, g, mark in self.rows:
                fh.write("| %s | %s | %s | %s |\n" % (c, e, str(g).replace("|", "/"), mark))

    def summary(self):
        f = len(self.failed())
        o = len(self.open_findings())
        return "%s: %d cases, %d passed, %d failed, %d open findings" % (
            self.title, len(self.rows), len(self.rows) - f - o, f, o)


class Nginx:
    """nginx (single process: master_process off) serving root on an ephemeral port of
    127.0.0.1. Raises SystemExit(77) when nginx is not installed."""

    def __init__(self, tmp, name, root):
        self.dir = os.path.join(tmp, "nginx-" + name)
        os.makedirs(self.dir, exist_ok=True)
        self.root = root
        self.proc = None
        self.port = None
        if shutil.which("nginx") is None:
            log("SKIP: nginx not installed")
            raise SystemExit(SKIP)

    def start(self):
        for _ in range(5):
            self.port = free_port()
            conf = os.path.join(self.dir, "nginx.conf")
            d = self.dir
            with open(conf, "w") as fh:
                fh.write("""daemon off;
master_process off;
user root;
worker_processes 1;
pid %(d)s/nginx.pid;
error_log %(d)s/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path %(d)s/body;
    proxy_temp_path %(d)s/proxy;
    fastcgi_temp_path %(d)s/fcgi;
    uwsgi_temp_path %(d)s/uwsgi;
    scgi_temp_path %(d)s/scgi;
    default_type application/octet-stream;
    sendfile on;
    server { listen 127.0.0.1:%(port)d; root %(root)s; }
}
""" % {"d": d, "port": self.port, "root": self.root})
            errf = open(os.path.join(d, "stderr.log"), "ab")
            self.proc = subprocess.Popen(["nginx", "-c", conf, "-e", os.path.join(d, "error.log")],
                                         stdout=subprocess.DEVNULL, stderr=errf)
            end = time.time() + 5
            while time.time() < end:
                if self.proc.poll() is not None:
                    break
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    return self
                except OSError:
                    time.sleep(0.02)
            self.kill()
        raise Fail("nginx did not start")

    def url(self, name):
        return "http://127.0.0.1:%d/%s" % (self.port, name)

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class FaultProxy:
    """tests/tools/faultproxy.py in front of 127.0.0.1:target_port."""

    def __init__(self, tmp, name, target_port):
        self.dir = tmp
        self.ports = os.path.join(tmp, "proxy-%s.ports" % name)
        self.log_path = os.path.join(tmp, "proxy-%s.log" % name)
        self.target = target_port
        self.proc = None
        self.port = None

    def start(self, fault=None):
        argv = [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                             "faultproxy.py"), "serve",
                "--target", "127.0.0.1:%d" % self.target, "--port-file", self.ports,
                "--log", self.log_path]
        if fault:
            argv += ["--fault", fault]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                     stderr=open(self.log_path + ".err", "ab"))
        end = time.time() + 10
        while time.time() < end:
            try:
                with open(self.ports) as fh:
                    d = dict(line.split() for line in fh if line.strip())
                self.port = int(d["proxy"])
                self.cport = int(d["control"])
                return self
            except (FileNotFoundError, KeyError, ValueError):
                if self.proc.poll() is not None:
                    raise Fail("faultproxy exited")
                time.sleep(0.02)
        raise Fail("faultproxy not ready")

    def ctl(self, *words):
        import json
        with socket.create_connection(("127.0.0.1", self.cport), timeout=10) as s:
            s.sendall((" ".join(words) + "\n").encode())
            buf = b""
            while not buf.endswith(b"\n"):
                d = s.recv(1 << 20)
                if not d:
                    break
                buf += d
        reply = json.loads(buf)
        if not reply.get("ok"):
            raise Fail("faultproxy refused %r: %s" % (words, reply.get("error")))
        return reply

    def url(self, name):
        return "http://127.0.0.1:%d/%s" % (self.port, name)

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
