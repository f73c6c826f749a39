#!/usr/bin/python3
"""Job credentials encrypted at rest (issue #17): SetCredentials' password never appears in
jobs.db (nor its WAL), yet the job authenticates, also after a restart.

nginx serves /sec/ behind HTTP Basic (user alice). Cases:
  sealed     SetCredentials(alice, PW) on a suspended job: the credentials row holds
             "gcm1:..." and the bytes of PW are nowhere in jobs.db or jobs.db-wal;
             STATE/credentials.key is a 32-byte file, mode 0600
  restart    ferryd restarted, then Resume: TRANSFERRED with the source's bytes (the key
             opened the password; nginx saw alice)
  legacy     a row an older ferryd wrote in plain text (set with sqlite3 while ferryd is
             stopped): sealed when the store opens, gone from the files, the job still
             authenticates
  otherkey   the key file replaced while ferryd is stopped: the password does not open, it
             is not sent (a warning says so), the job ends in ERROR with HTTP 401
             (0x80190191) instead of sending garbage

Exit 0 all good, 1 a case failed, 77 when ferryd lacks the WS-Man endpoint or nginx.
"""

import hashlib
import os
import socket
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import relpy  # noqa: E402
import wsmanc  # noqa: E402
from relpy import log  # noqa: E402
from wsmanc import JOB  # noqa: E402

PW = "s3cret-Pw-7f1e9c"
HTTP_401 = 0x80190000 + 401


def sha(path):
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def start_nginx(d, port, root):
    with open(os.path.join(d, "htpasswd"), "w") as fh:
        fh.write("alice:{PLAIN}%s\n" % PW)
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as fh:
        fh.write("""daemon off;
master_process off;
user root;
worker_processes 1;
pid %(d)s/nginx.pid;
error_log %(d)s/error.log warn;
events { worker_connections 256; }
http {
    access_log %(d)s/access.log;
    client_body_temp_path %(d)s/body;
    proxy_temp_path %(d)s/proxy;
    fastcgi_temp_path %(d)s/fcgi;
    uwsgi_temp_path %(d)s/uwsgi;
    scgi_temp_path %(d)s/scgi;
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:%(port)d;
        root %(root)s;
        location /sec/ { auth_basic "ferry"; auth_basic_user_file %(d)s/htpasswd; }
    }
}
""" % {"d": d, "port": port, "root": root})
    p = subprocess.Popen(["nginx", "-c", conf, "-e", os.path.join(d, "error.log")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    end = time.time() + 5
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return p
        except OSError:
            time.sleep(0.05)
    p.kill()
    raise relpy.Fail("nginx did not start")


def in_files(state, needle):
    hits = []
    for name in ("jobs.db", "jobs.db-wal"):
        p = os.path.join(state, name)
        if os.path.exists(p):
            with open(p, "rb") as fh:
                if needle.encode() in fh.read():
                    hits.append(name)
    return hits


def stored_password(state, jid):
    h = sqlite3.connect(os.path.join(state, "jobs.db"))
    try:
        row = h.execute("SELECT password FROM credentials WHERE job_id = ?", (jid,)).fetchone()
    finally:
        h.close()
    return row[0] if row else None


def wait_state(ws, jid, states, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        inf = ws.job(jid)
        if int(inf["State"]) in states:
            return inf
        time.sleep(0.05)
    return ws.job(jid)


def main():
    return wsmanc.harness("client-credentials", run, tools=('nginx',))


def run(tmp, procs):
    t = relpy.Table("client credentials at rest")
    root = os.path.join(tmp, "www")
    os.makedirs(os.path.join(root, "sec"))
    src = os.path.join(root, "sec", "f.bin")
    with open(src, "wb") as fh:
        fh.write(os.urandom(300000))
    nd = os.path.join(tmp, "nginx")
    os.makedirs(nd)
    port = relpy.free_port()
    ng = start_nginx(nd, port, root)
    procs.append(ng)
    url = "http://127.0.0.1:%d/sec/f.bin" % port
    inroot = os.path.join(tmp, "in")
    os.makedirs(inroot)
    d = wsmanc.Ferryd(tmp, "cli", ["--download-root", inroot],
                      config_lines=["progress-interval = 100", "min-retry-delay = 1"])
    procs.append(d)
    d.start()
    ws = d.client()

    def cred_job(name):
        jid = ws.create_job(name, url, os.path.join(inroot, name), suspend=True)
        out = ws.invoke(JOB, "SetCredentials", [("Target", 0), ("Scheme", 0),
                                                ("UserName", "alice"), ("Password", PW)],
                        {"JobId": jid})
        if out.get("ReturnValue") != "0":
            raise relpy.Fail("SetCredentials: %s" % out)
        return jid

    a = cred_job("a.bin")
    stored = stored_password(d.state, a) or ""
    key = os.path.join(d.state, "credentials.key")
    st = os.stat(key)
    t.add("sealed: row", "gcm1:..., not the password", stored[:12] + "...",
          stored.startswith("gcm1:") and PW not in stored)
    t.add("sealed: not in jobs.db / WAL", "nowhere", in_files(d.state, PW) or "nowhere",
          not in_files(d.state, PW))
    t.add("sealed: key file", "32 bytes, 0600", "%d bytes, %o" % (st.st_size, st.st_mode & 0o777),
          st.st_size == 32 and st.st_mode & 0o777 == 0o600)
    # restart, then the job authenticates with the opened password
    d.stop()
    d.start()
    ws = d.client()
    ws.set_state(a, 2)
    inf = wait_state(ws, a, (4, 6))
    t.add("restart: authenticates", "6, bytes identical", inf["State"],
          inf["State"] == "6" and sha(os.path.join(inroot, ".a.bin.ferry-%s.part" % a[1:9]))
          == sha(src))
    # legacy: a plain row as an older ferryd wrote it
    b = cred_job("b.bin")
    d.stop()
    h = sqlite3.connect(os.path.join(d.state, "jobs.db"))
    h.execute("UPDATE credentials SET password = ? WHERE job_id = ?", (PW, b))
    h.commit()
    h.close()
    d.start()
    ws = d.client()
    stored = stored_password(d.state, b) or ""
    t.add("legacy: sealed when the store opens", "gcm1:, nowhere in the files",
          "%s, %s" % (stored[:5], in_files(d.state, PW) or "nowhere"),
          stored.startswith("gcm1:") and not in_files(d.state, PW))
    ws.set_state(b, 2)
    inf = wait_state(ws, b, (4, 6))
    t.add("legacy: still authenticates", "6", inf["State"], inf["State"] == "6")
    # another key: the password does not open and is not sent
    c = cred_job("c.bin")
    d.stop()
    with open(key, "wb") as fh:
        fh.write(os.urandom(32))
    d.start()
    ws = d.client()
    ws.set_state(c, 2)
    inf = wait_state(ws, c, (4, 6), timeout=20)
    code = int(ws.get_error(c).get("ErrorCode", "0")) if inf["State"] == "4" else 0
    warned = b"does not open" in d.log_text()
    t.add("otherkey: not sent, 401", "4, 0x%08X, warning" % HTTP_401,
          "%s, 0x%08X, %s" % (inf["State"], code, warned),
          inf["State"] == "4" and code == HTTP_401 and warned)
    log(t.summary())
    return 1 if t.failed() else 0


if __name__ == "__main__":
    sys.exit(main())
