#!/usr/bin/python3
"""Bad input on an https listener of the server role.

A self-signed certificate (openssl CLI) on an https URL group; then plain HTTP on the TLS
port, random bytes, a ClientHello cut in half and left hanging, a silent connection (the
handshake must be timed out by the header timeout), TLS 1.2 and 1.3 clients, a
client-initiated renegotiation, a handshake followed by a slowloris head, 2,000 connections
that never start a handshake. After every case curl fetches the file over https byte for
byte; the daemon exits 0 on SIGTERM.
Exit 0 all good, 1 a case failed, 77 without the server role, curl or openssl.
"""

import hashlib
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import relpy  # noqa: E402
from relpy import log  # noqa: E402


def main():
    for tool in ("openssl", "curl"):
        if shutil.which(tool) is None:
            log("SKIP: %s not installed" % tool)
            return relpy.SKIP
    tmp = relpy.TmpDir("tls-badinput")
    srv = None
    failed = True
    try:
        rc, srv = run(tmp.path)
        failed = rc != 0
        return rc
    except relpy.Fail as e:
        log("FAIL: %s" % e)
        return 1
    finally:
        if srv is not None:
            srv.kill()
        tmp.done(failed)


def run(tmp):
    pub = os.path.join(tmp, "pub")
    os.makedirs(pub)
    blob = os.urandom(200 * 1024)
    with open(os.path.join(pub, "f.bin"), "wb") as fh:
        fh.write(blob)
    cert = os.path.join(tmp, "cert.pem")
    key = os.path.join(tmp, "key.pem")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", key, "-out", cert], capture_output=True)
    if r.returncode != 0:
        raise relpy.Fail("openssl req: %s" % r.stderr.decode())
    srv = relpy.DataServer(tmp, "s", pub, {}, options=[
        "tls-cert = %s" % cert, "tls-key = %s" % key, "http-header-timeout = 2",
        "workers = 2"])
    # the https URL line (DataServer writes http:// lines for `files`)
    srv.base = "https://127.0.0.1:%d/grp" % srv.port
    with open(srv.cfg, "a") as fh:
        fh.write("url = %s/f.bin %s\n" % (srv.base, os.path.join(pub, "f.bin")))
    srv.start()
    port = srv.port
    want = hashlib.sha256(blob).hexdigest()
    t = relpy.Table("tls bad input")

    def curl_ok(case):
        if not srv.alive():
            raise relpy.Fail("server died after '%s':\n%s" % (case, srv.tail()))
        r = subprocess.run(["curl", "-sS", "--cacert", cert, "-o", "-", srv.base + "/f.bin"],
                           capture_output=True, timeout=30)
        if r.returncode != 0 or hashlib.sha256(r.stdout).hexdigest() != want:
            raise relpy.Fail("after '%s' curl over https failed: %d %s" % (
                case, r.returncode, r.stderr.decode()[:200]))

    def raw(case, payload, expect_close_within, linger=0.0):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        t0 = time.time()
        if payload:
            s.sendall(payload)
        if linger:
            time.sleep(linger)
        got = b""
        closed = False
        s.settimeout(expect_close_within + 2)
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    closed = True
                    break
                got += d
        except socket.timeout:
            pass
        except ConnectionResetError:
            closed = True
        dt = time.time() - t0
        s.close()
        ok = closed and dt <= expect_close_within + 1
        t.add(case, "closed within %.0f s" % expect_close_within,
              "%s after %.1f s, %d bytes back" % ("closed" if closed else "OPEN", dt, len(got)), ok)
        curl_ok(case)

    curl_ok("start")
    t.add("curl over https", "200 byte-exact", "ok", True)
    raw("plain HTTP request on the TLS port", b"GET /grp/f.bin HTTP/1.1\r\nHost: x\r\n\r\n", 3)
    raw("4 KiB of random bytes", os.urandom(4096), 3)
    hello = (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(32) + b"\x00")
    raw("half a ClientHello, then silence", hello, 3)
    raw("silent connection (no handshake)", b"", 3)
    raw("TLS record claiming 16 MiB", b"\x16\x03\x03\xff\xff" + os.urandom(512), 3)

    for case, flags in (("TLS 1.2 client", ["--tlsv1.2", "--tls-max", "1.2"]),
                        ("TLS 1.3 client", ["--tlsv1.3"])):
        r = subprocess.run(["curl", "-sS", "--cacert", cert] + flags + ["-o", "-",
                            srv.base + "/f.bin"], capture_output=True, timeout=30)
        ok = r.returncode == 0 and hashlib.sha256(r.stdout).hexdigest() == want
        t.add(case, "200 byte-exact", "curl exit %d" % r.returncode, ok)

    # client-initiated renegotiation on TLS 1.2: refused or ignored, never a crash
    p = subprocess.Popen(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-tls1_2",
                          "-CAfile", cert, "-quiet"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(b"R\n", timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    t.add("TLS 1.2 renegotiation request", "no crash, daemon serves", "client exit %s" % p.returncode,
          srv.alive())
    curl_ok("renegotiation")

    # handshake done, then a slowloris head: closed by the header timeout
    ctx = ssl.create_default_context(cafile=cert)
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                        server_hostname="127.0.0.1")
    t0 = time.time()
    closed = False
    try:
        s.sendall(b"GET /grp/f.bin HTTP/1.1\r\nHost: x\r\n")
        for i in range(30):
            time.sleep(0.3)
            s.sendall(b"X-Slow-%d: v\r\n" % i)
    except (OSError, ssl.SSLError):
        closed = True
    dt = time.time() - t0
    s.close()
    t.add("TLS slowloris head (header timeout 2 s)", "closed within 5 s",
          "%s after %.1f s" % ("closed" if closed else "OPEN", dt), closed and dt < 5)
    curl_ok("tls slowloris")

    # 2,000 connections that never start a handshake: a normal client still gets through
    socks = []
    for _ in range(2000):
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex(("127.0.0.1", port))
        socks.append(c)
    time.sleep(0.5)
    try:
        curl_ok("2000 silent connections")
        served = True
    except relpy.Fail as e:
        served = False
        log(str(e))
    for c in socks:
        c.close()
    t.add("2,000 silent connections", "curl still served", "served" if served else "NOT served", served)
    curl_ok("after the silent crowd")

    rc = srv.stop()
    t.add("SIGTERM", "exit 0", str(rc), rc == 0)
    log(t.summary())
    return (1 if t.failed() else 0), srv


if __name__ == "__main__":
    sys.exit(main())
