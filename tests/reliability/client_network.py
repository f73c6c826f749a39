#!/usr/bin/python3
"""Network awareness of the client role (issue #17), in a network namespace whose only
interface besides loopback is one end of a veth pair; nginx serves from the other end.

A job fetches an 8 MiB file paced at 1 MiB/s (its BandwidthLimit) with MinimumRetryDelay
600 s. The veth is set down mid-transfer: within 3 s the job is TRANSIENT_ERROR with
BG_E_NETWORK_DISCONNECTED (0x80200010), and stays so with no retry counted (Retries 0); a
job from a loopback URL meanwhile completes. The veth is set up again: the job transfers
again within 3 s (not after the 600 s retry delay), still Retries 0, and ends TRANSFERRED
with the source's bytes.

Exit 0 all good, 1 a case failed, 77 without root (network namespaces), ip, nginx or the
WS-Man endpoint.
"""

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import relpy  # noqa: E402
import wsmanc  # noqa: E402
from relpy import log  # noqa: E402
from wsmanc import Fault  # noqa: E402

MiB = 1 << 20
BG_E_NETWORK_DISCONNECTED = 0x80200010


def sha(path):
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def sh(*argv):
    return subprocess.run(list(argv), capture_output=True, timeout=30)


def nginx_conf(d, addr, port, root):
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
    access_log off;
    client_body_temp_path %(d)s/body;
    proxy_temp_path %(d)s/proxy;
    fastcgi_temp_path %(d)s/fcgi;
    uwsgi_temp_path %(d)s/uwsgi;
    scgi_temp_path %(d)s/scgi;
    default_type application/octet-stream;
    server { listen %(addr)s:%(port)d; root %(root)s; }
}
""" % {"d": d, "addr": addr, "port": port, "root": root})
    return conf


def outer():
    if os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("nginx") is None:
        log("SKIP: needs root, ip and nginx (network namespaces)")
        return relpy.SKIP
    if not wsmanc.ferryd_runs_wsman():
        log("SKIP: feature 'ferryd with WS-Man' not in this build")
        return relpy.SKIP
    tmp = relpy.TmpDir("client-network")
    pid = os.getpid()
    ns, vh, vp = "ferry-net-%d" % pid, "fnh%d" % pid, "fnp%d" % pid
    octet = (pid % 60) * 4
    host_ip = "198.18.%d.%d" % (200 + pid % 50, octet + 1)
    peer_ip = "198.18.%d.%d" % (200 + pid % 50, octet + 2)
    ng = None
    failed = True
    try:
        if sh("ip", "netns", "add", ns).returncode != 0:
            log("SKIP: cannot create network namespaces")
            return relpy.SKIP
        if sh("ip", "link", "add", vh, "type", "veth", "peer", "name", vp).returncode != 0:
            log("SKIP: no veth support")
            return relpy.SKIP
        for argv in (["ip", "link", "set", vp, "netns", ns],
                     ["ip", "addr", "add", host_ip + "/30", "dev", vh],
                     ["ip", "link", "set", vh, "up"],
                     ["ip", "-n", ns, "addr", "add", peer_ip + "/30", "dev", vp],
                     ["ip", "-n", ns, "link", "set", vp, "up"],
                     ["ip", "-n", ns, "link", "set", "lo", "up"]):
            r = sh(*argv)
            if r.returncode != 0:
                raise relpy.Fail("%s: %s" % (" ".join(argv), r.stderr.decode()))
        src = os.path.join(tmp.path, "src")
        os.makedirs(src)
        with open(os.path.join(src, "big.bin"), "wb") as fh:
            fh.write(os.urandom(8 * MiB))
        with open(os.path.join(src, "small.bin"), "wb") as fh:
            fh.write(os.urandom(MiB))
        port = relpy.free_port()
        nd = os.path.join(tmp.path, "nginx")
        os.makedirs(nd)
        ng = subprocess.Popen(["nginx", "-c", nginx_conf(nd, host_ip, port, src), "-e",
                               os.path.join(nd, "error.log")], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
        end = time.time() + 5
        while time.time() < end:
            try:
                socket.create_connection((host_ip, port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        rc = subprocess.run(["ip", "netns", "exec", ns, sys.executable, os.path.abspath(__file__),
                             "--inner", tmp.path, host_ip, str(port), vp],
                            timeout=170).returncode
        failed = rc != 0
        return rc
    except (relpy.Fail, OSError, subprocess.TimeoutExpired) as e:
        log("FAIL: %s" % e)
        return 1
    finally:
        if ng is not None:
            ng.kill()
            ng.wait()
        sh("ip", "netns", "del", ns)
        sh("ip", "link", "del", vh)
        tmp.done(failed)


def wait_for(fn, timeout):
    end = time.time() + timeout
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    return fn()


def _connects(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def inner(tmp, host_ip, port, vp):
    t = relpy.Table("client network awareness")
    procs = []
    inroot = os.path.join(tmp, "in")
    os.makedirs(inroot)
    d = wsmanc.Ferryd(tmp, "cli", ["--download-root", inroot],
                      config_lines=["progress-interval = 100", "fetch-chunk-size = 1M",
                                    "connections-per-file = 2", "connect-timeout = 2",
                                    "stall-timeout = 2"])
    try:
        d.start()
        ws = d.client()
        dst = os.path.join(inroot, "big.bin")
        jid = ws.create_job("net", "http://%s:%d/big.bin" % (host_ip, port), dst, suspend=True)
        ws.set_props(jid, MinimumRetryDelay=600)
        cur = ws.job(jid)
        body = ('<p:BitsClientJob xmlns:p="%s"><p:JobId>%s</p:JobId><p:DisplayName>net'
                '</p:DisplayName><p:BandwidthLimit>%d</p:BandwidthLimit></p:BitsClientJob>' % (
                    wsmanc.JOB, jid, MiB))
        ws.call(wsmanc.A_PUT, wsmanc.JOB, {"JobId": jid}, body)
        ws.set_state(jid, 2)
        wait_for(lambda: int(ws.job(jid)["BytesTransferred"]) >= 2 * MiB, 20)
        sh("ip", "link", "set", vp, "down")
        t0 = time.time()
        inf = wait_for(lambda: (lambda j: j if j["State"] == "5" else None)(ws.job(jid)), 3)
        dt = time.time() - t0
        e = ws.get_error(jid) if inf else {}
        t.add("down: TRANSIENT_ERROR", "5 within 3 s, 0x%08X" % BG_E_NETWORK_DISCONNECTED,
              "%s after %.1f s, 0x%08X" % ((inf or cur)["State"], dt,
                                           int(e.get("ErrorCode", "0"))),
              inf is not None and int(e.get("ErrorCode", "0")) == BG_E_NETWORK_DISCONNECTED)
        # a loopback source (nginx on this namespace's 127.0.0.1) needs no network
        nd = os.path.join(tmp, "nginx-lo")
        os.makedirs(nd)
        lport = relpy.free_port()
        lng = subprocess.Popen(["nginx", "-c", nginx_conf(nd, "127.0.0.1", lport,
                                                          os.path.join(tmp, "src")),
                                "-e", os.path.join(nd, "error.log")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(lng)
        wait_for(lambda: _connects(lport), 5)
        ldst = os.path.join(inroot, "small.bin")
        lj = ws.create_job("local", "http://127.0.0.1:%d/small.bin" % lport, ldst)
        lst = wait_for(lambda: ws.job(lj)["State"] == "6", 15)
        time.sleep(2)
        inf = ws.job(jid)
        t.add("down: waits, no retry counted", "5, Retries 0", "%s, %s" % (
            inf["State"], inf.get("Retries")), inf["State"] == "5" and inf.get("Retries") == "0")
        t.add("down: a loopback job completes", "6", ws.job(lj)["State"], bool(lst))
        sh("ip", "link", "set", vp, "up")
        t0 = time.time()
        inf = wait_for(lambda: (lambda j: j if j["State"] in ("1", "2", "6") else None)(
            ws.job(jid)), 5)
        dt = time.time() - t0
        t.add("up: transferring again at once", "1/2 within 5 s (retry delay 600 s)",
              "%s after %.1f s" % ((inf or ws.job(jid))["State"], dt), inf is not None)
        inf = wait_for(lambda: (lambda j: j if j["State"] in ("4", "6") else None)(ws.job(jid)),
                       40)
        inf = inf or ws.job(jid)
        ws.set_state(jid, 1)
        ok = inf["State"] == "6" and os.path.exists(dst) and \
            sha(dst) == sha(os.path.join(tmp, "src", "big.bin"))
        t.add("up: completes, no retry counted", "6, Retries 0, bytes identical",
              "%s, %s" % (inf["State"], inf.get("Retries")), ok and inf.get("Retries") == "0")
    except (Fault, RuntimeError, relpy.Fail, OSError) as e:
        log("FAIL: %s\n%s" % (e, d.tail()))
        return 1
    finally:
        d.stop()
        for p in procs:
            p.kill()
            p.wait()
    log(t.summary())
    if t.failed():
        log(d.tail())
    return 1 if t.failed() else 0


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--inner":
        sys.exit(inner(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]))
    sys.exit(outer())
