#!/usr/bin/python3
"""bench/lib/benchlib.py - helpers of bench/run: timing a command, parsing tool output, a
minimal WS-Management client for the ferry-fetching column, environment capture, and the
report (results.md, results.json, plot.png).

Subcommands (all print to stdout, errors to stderr, exit non-zero on failure):
  free-port
  timeit OUTJSON -- CMD...           wall/user/sys/maxrss of CMD (its exit code is kept)
  parse-dd FILE                      GB/s from dd's last line
  parse-iperf FILE                   GB/s received from iperf3 -J
  parse-xxhsum FILE                  "XXH3_64 XXH128" GB/s from xxhsum -b
  parse-ssl FILE                     GB/s of the 1 MiB column of openssl speed
  parse-times FILE                   user + sys seconds of the children line of bash `times`
  parse-wrk FILE                     "gbps rps p50_ms p99_ms errors status_errors bytes secs"
  users-line NAME PASSWORD           a users-file line (PBKDF2-HMAC-SHA256, 100000 rounds)
  wsman-identify ENDPOINT USER PW
  wsman-create ENDPOINT USER PW URL LOCAL
                                     CreateJob; prints the JobId
  wsman-wait ENDPOINT USER PW JOB TIMEOUT
                                     wait for TRANSFERRED, complete; prints the wall time
  wsman-upload ENDPOINT USER PW URL LOCAL TIMEOUT
                                     CreateJob Type 1 (LOCAL uploaded to URL), wait for
                                     TRANSFERRED, complete; prints the wall time in seconds
  wsman-upload-group ENDPOINT USER PW GROUPURL
                                     CreateUrlGroup + SetProperty UploadEnabled 1
  run-kill OUTJSON THRESHOLD FILE [REQUIRE] -- CMD...
                                     run CMD, SIGKILL it once FILE holds THRESHOLD allocated
                                     bytes (and REQUIRE exists, e.g. aria2c's control file);
                                     exit 0 when killed, 3 when CMD ended first
  ferry-kill OUTJSON ENDPOINT USER PW URL LOCAL PID THRESHOLD TIMEOUT
                                     CreateJob, SIGKILL PID (ferryd) once the job's
                                     BytesTransferred reaches THRESHOLD; OUTJSON has the JobId
  metric ENDPOINT USER PW NAME       a counter from ferryd's GET /metrics
  fetched-offset PART SOURCE LIMIT   1 MiB into the first 4 MiB chunk of PART equal to SOURCE's
                                     below LIMIT (a region already fetched); fails if none
  flip FILE OFFSET LEN               invert LEN bytes of FILE at OFFSET in place
  env OUTJSON KEY=VALUE...           machine facts plus the run's parameters
  report OUTDIR                      results.md, results.json, plot.png from OUTDIR/raw.jsonl
"""
import base64
import hashlib
import json
import os
import re
import resource
import signal
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape


def die(msg):
    print("benchlib: " + msg, file=sys.stderr)
    sys.exit(1)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    print(port)


def timeit(args):
    out = args[0]
    if len(args) < 3 or args[1] != "--":
        die("usage: timeit OUTJSON -- CMD...")
    cmd = args[2:]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    rc = subprocess.call(cmd)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    res = {
        "wall": wall,
        "user": after.ru_utime - before.ru_utime,
        "sys": after.ru_stime - before.ru_stime,
        "maxrss_kb": after.ru_maxrss,
        "rc": rc,
    }
    with open(out, "w") as fh:
        json.dump(res, fh)
    sys.exit(rc)


def parse_dd(path):
    # "2147483648 bytes (2.1 GB, 2.0 GiB) copied, 0.171 s, 12.6 GB/s"
    for line in reversed(open(path).read().splitlines()):
        m = re.match(r"^(\d+) bytes .* copied, ([0-9.e+-]+) s,", line)
        if m:
            print("%.4f" % (int(m.group(1)) / float(m.group(2)) / 1e9))
            return
    die("no dd result in " + path)


def parse_iperf(path):
    d = json.load(open(path))
    bps = d["end"]["sum_received"]["bits_per_second"]
    print("%.4f" % (bps / 8 / 1e9))


def parse_xxhsum(path):
    text = open(path).read().replace("\r", "\n")
    got = {}
    for name in ("XXH3_64b", "XXH128"):
        vals = re.findall(r"#" + name + r"\s*:.*\(\s*([0-9.]+) MB/s\)", text)
        if not vals:
            die("no %s result in %s" % (name, path))
        got[name] = float(vals[-1]) * 1e6 / 1e9
    print("%.3f %.3f" % (got["XXH3_64b"], got["XXH128"]))


def parse_ssl(path):
    # last line: "sha256  1812345.67k" (1000s of bytes per second)
    for line in reversed(open(path).read().splitlines()):
        f = line.split()
        if len(f) >= 2 and f[-1].endswith("k") and not line.startswith("type"):
            print("%.4f" % (float(f[-1][:-1]) * 1000 / 1e9))
            return
    die("no openssl speed result in " + path)


def parse_times(path):
    # bash `times`: "0m0.010s 0m0.020s" for the shell, then the same for its children
    lines = [l for l in open(path).read().splitlines() if l.strip()]
    if len(lines) < 2:
        die("no children line in " + path)
    total = 0.0
    for f in lines[1].split():
        m = re.fullmatch(r"(\d+)m([\d.]+)s", f)
        if not m:
            die("unexpected `times` output in " + path)
        total += int(m.group(1)) * 60 + float(m.group(2))
    print("%.4f" % total)


def parse_wrk(path):
    for line in open(path).read().splitlines():
        if line.startswith("WRKJSON "):
            d = json.loads(line[8:])
            secs = d["duration_us"] / 1e6
            errors = d["err_connect"] + d["err_read"] + d["err_write"] + d["err_timeout"]
            print("%.4f %.1f %.3f %.3f %d %d %d %.3f" % (
                d["bytes"] / secs / 1e9, d["requests"] / secs, d["p50_us"] / 1e3,
                d["p99_us"] / 1e3, errors, d["err_status"], d["bytes"], secs))
            return
    die("no WRKJSON line in " + path)


def users_line(name, password):
    salt = os.urandom(16)
    it = 100000
    h = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, it)
    print("%s:admin:pbkdf2-sha256$%d$%s$%s" % (
        name, it, base64.b64encode(salt).decode(), base64.b64encode(h).decode()))


# ---- minimal WS-Management client (docs/DESIGN.md §4) ----

NS_S = "http://www.w3.org/2003/05/soap-envelope"
NS_A = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
NS_W = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
NS_ID = "http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd"
ANON = NS_A + "/role/anonymous"
JOB = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/microsoft/bits/BitsClientJob"
ACTION_GET = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get"


def soap(endpoint, user, pw, action, resource_uri, body, selectors=None):
    sel = ""
    if selectors:
        sel = "<w:SelectorSet>" + "".join(
            '<w:Selector Name="%s">%s</w:Selector>' % (k, escape(v))
            for k, v in selectors.items()) + "</w:SelectorSet>"
    header = ""
    if action:
        header = (
            '<a:To>%s</a:To>'
            '<w:ResourceURI s:mustUnderstand="true">%s</w:ResourceURI>'
            '<a:ReplyTo><a:Address s:mustUnderstand="true">%s</a:Address></a:ReplyTo>'
            '<a:Action s:mustUnderstand="true">%s</a:Action>'
            '<w:MaxEnvelopeSize s:mustUnderstand="true">512000</w:MaxEnvelopeSize>'
            '<a:MessageID>uuid:%s</a:MessageID>'
            '<w:OperationTimeout>PT60S</w:OperationTimeout>%s'
        ) % (escape(endpoint), resource_uri, ANON, action, uuid.uuid4(), sel)
    doc = ('<?xml version="1.0" encoding="UTF-8"?>'
           '<s:Envelope xmlns:s="%s" xmlns:a="%s" xmlns:w="%s"><s:Header>%s</s:Header>'
           '<s:Body>%s</s:Body></s:Envelope>') % (NS_S, NS_A, NS_W, header, body)
    req = urllib.request.Request(endpoint, data=doc.encode(), method="POST")
    req.add_header("Content-Type", "application/soap+xml;charset=UTF-8")
    tok = base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()
    req.add_header("Authorization", "Basic " + tok)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return ET.fromstring(r.read())
    except urllib.error.HTTPError as e:
        raise RuntimeError("HTTP %d from %s: %s" % (e.code, endpoint, e.read()[:300]))


def find_text(root, local):
    for el in root.iter():
        if el.tag.rsplit("}", 1)[-1] == local:
            return (el.text or "").strip()
    return None


def wsman_identify(endpoint, user, pw):
    root = soap(endpoint, user, pw, None, None, '<wsmid:Identify xmlns:wsmid="%s"/>' % NS_ID)
    vendor = find_text(root, "ProductVendor")
    if vendor is None:
        die("Identify answered without ProductVendor")
    print(vendor)


def wsman_create(endpoint, user, pw, url, local, typ=0):
    body = ('<p:CreateJob_INPUT xmlns:p="%s"><p:DisplayName>bench</p:DisplayName>'
            '<p:RemoteUrl>%s</p:RemoteUrl><p:LocalFile>%s</p:LocalFile>%s'
            '</p:CreateJob_INPUT>') % (JOB, escape(url), escape(local),
                                      "<p:Type>%d</p:Type>" % typ if typ else "")
    root = soap(endpoint, user, pw, JOB + "/CreateJob", JOB, body)
    rv, job = find_text(root, "ReturnValue"), find_text(root, "JobId")
    if rv != "0" or not job:
        die("CreateJob failed: ReturnValue %s JobId %s" % (rv, job))
    return job


def wsman_job(endpoint, user, pw, job):
    return soap(endpoint, user, pw, ACTION_GET, JOB, "", {"JobId": job})


def wsman_wait(endpoint, user, pw, job, timeout, t0):
    state = None
    while time.monotonic() - t0 < timeout:
        state = find_text(wsman_job(endpoint, user, pw, job), "State")
        if state == "6":
            break
        if state in ("4", "8"):
            die("job %s ended in state %s" % (job, state))
        time.sleep(0.01)
    if state != "6":
        die("job %s not transferred after %s s (state %s)" % (job, timeout, state))
    body = ('<p:SetJobState_INPUT xmlns:p="%s"><p:JobState>1</p:JobState>'
            '</p:SetJobState_INPUT>') % JOB
    root = soap(endpoint, user, pw, JOB + "/SetJobState", JOB, body, {"JobId": job})
    if find_text(root, "ReturnValue") != "0":
        die("SetJobState(complete) failed for %s" % job)
    print("%.4f" % (time.monotonic() - t0))


def wsman_upload(endpoint, user, pw, url, local, timeout):
    t0 = time.monotonic()
    job = wsman_create(endpoint, user, pw, url, local, 1)
    wsman_wait(endpoint, user, pw, job, timeout, t0)


GROUP = ("http://schemas.microsoft.com/wbem/wsman/1/wmi/root/microsoft/bits/"
         "BitsCompactServerUrlGroup")


def wsman_upload_group(endpoint, user, pw, group):
    body = ('<p:CreateUrlGroup_INPUT xmlns:p="%s"><p:UrlGroup>%s</p:UrlGroup>'
            '</p:CreateUrlGroup_INPUT>') % (GROUP, escape(group))
    root = soap(endpoint, user, pw, GROUP + "/CreateUrlGroup", GROUP, body)
    if find_text(root, "ReturnValue") != "0":
        die("CreateUrlGroup %s failed" % group)
    body = ('<p:SetProperty_INPUT xmlns:p="%s"><p:Property>UploadEnabled</p:Property>'
            '<p:Value>1</p:Value></p:SetProperty_INPUT>') % GROUP
    root = soap(endpoint, user, pw, GROUP + "/SetProperty", GROUP, body, {"UrlGroup": group})
    if find_text(root, "ReturnValue") != "0":
        die("SetProperty UploadEnabled on %s failed" % group)


def allocated(path):
    try:
        return os.stat(path).st_blocks * 512
    except OSError:
        return 0


def run_kill(args):
    out, threshold = args[0], int(args[1])
    path = args[2]
    require = None
    if len(args) > 4 and args[3] != "--":
        require = args[3]
        args = args[:3] + args[4:]
    if len(args) < 5 or args[3] != "--":
        die("usage: run-kill OUTJSON THRESHOLD FILE [REQUIRE] -- CMD...")
    t0 = time.monotonic()
    p = subprocess.Popen(args[4:])
    killed = False
    seen = 0
    while p.poll() is None:
        seen = allocated(path)
        if seen >= threshold and (require is None or os.path.exists(require)):
            p.send_signal(signal.SIGKILL)
            killed = True
            break
        time.sleep(0.0005)
    rc = p.wait()
    with open(out, "w") as fh:
        json.dump({"killed": killed, "at_bytes": seen, "wall": time.monotonic() - t0,
                   "rc": rc}, fh)
    sys.exit(0 if killed else 3)


def ferry_kill(out, endpoint, user, pw, url, local, pid, threshold, timeout):
    t0 = time.monotonic()
    job = wsman_create(endpoint, user, pw, url, local)
    seen, state = 0, None
    while time.monotonic() - t0 < timeout:
        root = wsman_job(endpoint, user, pw, job)
        seen = int(find_text(root, "BytesTransferred") or 0)
        state = find_text(root, "State")
        if seen >= threshold or state in ("4", "6", "8"):
            break
        time.sleep(0.002)
    killed = False
    if seen >= threshold and state not in ("6", "7"):
        os.kill(pid, signal.SIGKILL)
        killed = True
    with open(out, "w") as fh:
        json.dump({"job": job, "killed": killed, "at_bytes": seen, "state": state,
                   "wall": time.monotonic() - t0}, fh)
    if not killed:
        die("job %s not killed (BytesTransferred %d, state %s)" % (job, seen, state))
    print(job)


def metric(endpoint, user, pw, name):
    url = endpoint.rsplit("/", 1)[0] + "/metrics" if endpoint.endswith("/wsman") else \
        endpoint.rstrip("/") + "/metrics"
    req = urllib.request.Request(url)
    tok = base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()
    req.add_header("Authorization", "Basic " + tok)
    with urllib.request.urlopen(req, timeout=10) as r:
        for line in r.read().decode().splitlines():
            f = line.split()
            if len(f) == 2 and f[0] == name:
                print(f[1])
                return
    die("no %s in %s" % (name, url))


def fetched_offset(part, source, limit):
    chunk = 4 << 20
    with open(part, "rb") as a, open(source, "rb") as b:
        for off in range(0, limit - chunk + 1, chunk):
            a.seek(off)
            b.seek(off)
            if a.read(chunk) == b.read(chunk):
                print(off + (1 << 20))
                return
    die("no chunk of %s below %d matches %s" % (part, limit, source))


def flip(path, offset, length):
    with open(path, "r+b") as fh:
        fh.seek(offset)
        b = fh.read(length)
        if len(b) != length:
            die("short read at %d in %s" % (offset, path))
        fh.seek(offset)
        fh.write(bytes(x ^ 0xFF for x in b))


# ---- environment ----

def sh(cmd):
    try:
        out = subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=20)
        return (out.stdout + out.stderr).strip()
    except Exception as e:  # a missing tool is a fact, not a failure
        return "unavailable (%s)" % e


def env(out, kv):
    cpu = sh("lscpu | sed -n 's/^Model name: *//p'")
    e = {
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "kernel": sh("uname -r"),
        "cpu": cpu,
        "nproc": sh("nproc"),
        "memory": sh("free -g | awk '/^Mem:/ {print $2\" GiB\"}'"),
        "ktls": "available" if os.path.exists("/proc/net/tls_stat") else "unavailable",
        "sysctl": ", ".join(
            "%s=%s" % (k.rsplit(".", 1)[-1], sh("sysctl -n " + k).replace("\t", " "))
            for k in ("net.ipv4.tcp_congestion_control", "net.ipv4.tcp_wmem",
                      "net.ipv4.tcp_rmem", "fs.pipe-max-size")),
        "versions": {
            "nginx": sh("nginx -v 2>&1"),
            "curl": sh("curl --version | head -1 | cut -d' ' -f1-2"),
            "aria2c": sh("aria2c --version | head -1"),
            "wrk": sh("wrk -v 2>&1 | head -1 | cut -d' ' -f1-2"),
            "iperf3": sh("iperf3 --version | head -1"),
            "openssl": sh("openssl version"),
            "xxhsum": sh("xxhsum --version 2>&1 | head -1"),
            "ferry": sh("git -C %s describe --always --dirty 2>/dev/null"
                        % os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
        },
    }
    for item in kv:
        k, _, v = item.partition("=")
        e[k] = v
    with open(out, "w") as fh:
        json.dump(e, fh, indent=1)


# ---- report ----

SERVER_ORDER = ["nginx-sendfile", "nginx-copy", "ferryd"]
CLIENT_ORDER = ["raw", "curl", "aria2c-x4", "aria2c-x8", "ferry", "ferry-t2", "ferry-splice",
                "ferry-curl"]
CEILINGS = [
    ("dd-read", "GB/s", "page-cache read, dd bs=1M of the large file"),
    ("iperf3-128K", "GB/s", "loopback TCP, iperf3 -l 128K, 1 stream"),
    ("iperf3-1M", "GB/s", "loopback TCP, iperf3 -l 1M, 1 stream"),
    ("dd-write-ext4", "GB/s", "sink write to the ext4 output dir, dd bs=1M conv=fdatasync"),
    ("dd-write-tmpfs", "GB/s", "sink write to tmpfs, dd bs=1M conv=fdatasync"),
    ("xxh3", "GB/s", "XXH3_64, xxhsum -b (100 KB in cache)"),
    ("xxh128", "GB/s", "XXH128, xxhsum -b (100 KB in cache)"),
    ("sha256", "GB/s", "SHA-256, openssl speed -evp sha256, 1 MiB blocks"),
]


def load_cells(path):
    cells = {}
    if os.path.exists(path):
        for line in open(path):
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            key = (r["section"], r["case"], r["tool"], r["metric"])
            cells.setdefault(key, []).append(float(r["value"]))
    return cells


def fmt(v, digits=2):
    if v is None:
        return "—"
    if abs(v) >= 1000:
        return "%.0f" % v
    return ("%." + str(digits) + "f") % v


def agg(cells, key):
    vals = cells.get(key)
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals),
            "n": len(vals), "values": vals}


def cell_text(a, digits=2, spread=True):
    if not a:
        return "—"
    if spread and a["n"] > 1:
        return "%s (%s–%s)" % (fmt(a["median"], digits), fmt(a["min"], digits),
                               fmt(a["max"], digits))
    return fmt(a["median"], digits)


def ratio(a, b):
    if not a or not b or not b["median"]:
        return "—"
    return "%.2f" % (a["median"] / b["median"])


def report(outdir):
    cells = load_cells(os.path.join(outdir, "raw.jsonl"))
    envp = os.path.join(outdir, "env.json")
    e = json.load(open(envp)) if os.path.exists(envp) else {}
    notesp = os.path.join(outdir, "notes.txt")
    notes = [n for n in open(notesp).read().splitlines() if n] if os.path.exists(notesp) else []
    md = []
    w = md.append

    w("# ferry benchmark results")
    w("")
    w("Produced by `bench/run%s` on %s. Medians of %s alternated runs per cell, (min–max) "
      "beside them; GB/s = 10^9 bytes per second." % (
          " --quick" if e.get("quick") == "1" else "", e.get("date_utc", "?"),
          e.get("runs", "?")))
    w("")
    w("## Machine")
    w("")
    w("| fact | value |")
    w("|---|---|")
    for k in ("kernel", "cpu", "nproc", "memory", "ktls", "sysctl", "loadavg_start"):
        w("| %s | %s |" % (k, e.get(k, "?")))
    for k, v in sorted(e.get("versions", {}).items()):
        w("| %s | %s |" % (k, v))
    for k in ("files", "sink_ext4", "sink_tmpfs", "wrk_duration", "workers"):
        if k in e:
            w("| %s | %s |" % (k, e[k]))
    w("")

    w("## Ceilings")
    w("")
    w("| ceiling | median | min–max | runs |")
    w("|---|---|---|---|")
    for name, unit, desc in CEILINGS:
        a = agg(cells, ("ceiling", name, "-", "gbps"))
        if a:
            w("| %s | %s %s | %s–%s | %d |" % (desc, fmt(a["median"]), unit, fmt(a["min"]),
                                              fmt(a["max"]), a["n"]))
        else:
            w("| %s | — | — | 0 |" % desc)
    w("")

    servers = [s for s in SERVER_ORDER if any(k[0] == "server" and k[2] == s for k in cells)]
    order = ["4k", "64k", "1m", "1m-range"]

    def case_key(c):
        name, _, conn = c.partition("/c")
        return (order.index(name) if name in order else len(order), name, int(conn or 0))

    cases = sorted({k[1] for k in cells if k[0] == "server" and "/c" in k[1]}, key=case_key)
    if servers:
        for metric, title, digits in (
                ("gbps", "Server throughput, GB/s (wrk -t1)", 2),
                ("rps", "Server request rate, requests/s (wrk -t1)", 0),
                ("p99_ms", "Server latency p99, ms (wrk --latency)", 2),
                ("cpu_s_per_gb", "Server CPU-seconds per GB sent (utime+stime of the server "
                                 "processes)", 3)):
            w("## " + title)
            w("")
            head = "| case / connections | " + " | ".join(servers)
            sep = "|---|" + "---|" * len(servers)
            if "ferryd" in servers and "nginx-sendfile" in servers:
                head += " | ferryd / nginx-sendfile"
                sep += "---|"
            w(head + " |")
            w(sep)
            for c in cases:
                row = [cell_text(agg(cells, ("server", c, s, metric)), digits) for s in servers]
                line = "| %s | %s" % (c, " | ".join(row))
                if "ferryd" in servers and "nginx-sendfile" in servers:
                    line += " | " + ratio(agg(cells, ("server", c, "ferryd", metric)),
                                          agg(cells, ("server", c, "nginx-sendfile", metric)))
                w(line + " |")
            w("")
        w("## Large file, one connection (curl -o /dev/null)")
        w("")
        w("| server | GB/s | server CPU-s per GB | curl CPU-s per GB | server + curl CPU-s "
          "per GB | GB/s vs nginx-sendfile | server CPU vs nginx-sendfile | server + curl CPU "
          "vs nginx-sendfile |")
        w("|---|---|---|---|---|---|---|---|")
        key = ("server", "large-curl")
        base = agg(cells, key + ("nginx-sendfile", "gbps"))
        base_cpu = agg(cells, key + ("nginx-sendfile", "cpu_s_per_gb"))
        base_tot = agg(cells, key + ("nginx-sendfile", "total_cpu_s_per_gb"))
        for s in servers:
            a = agg(cells, key + (s, "gbps"))
            cpu = agg(cells, key + (s, "cpu_s_per_gb"))
            cli = agg(cells, key + (s, "client_cpu_s_per_gb"))
            tot = agg(cells, key + (s, "total_cpu_s_per_gb"))
            w("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                s, cell_text(a), cell_text(cpu, 3), cell_text(cli, 3), cell_text(tot, 3),
                ratio(a, base), ratio(cpu, base_cpu), ratio(tot, base_tot)))
        w("")
        w("Server CPU is read from /proc of the server's processes; curl's from the shell's "
          "children times. On loopback a server whose sends are clocked out by the client's "
          "ACKs has that transmit work charged to curl, so the sum is the like-for-like figure.")
        w("")
        w("Peak RSS of the server processes over the whole server section (VmHWM, MiB): " +
          ", ".join("%s %s" % (s, fmt((agg(cells, ("server", "all", s, "rss_peak_mb")) or
                                        {"median": None})["median"], 1)) for s in servers))
        w("")

    sinks = sorted({k[1] for k in cells if k[0] == "client"})
    if sinks:
        w("## Client: fetching the large file from nginx (sendfile on)")
        w("")
        w("| sink | tool | wall s | GB/s | client CPU-s | CPU-s/GB | max RSS MiB | GB/s vs curl | "
          "vs raw loop | vs aria2c -x4 | efficiency vs ceiling |")
        w("|---|---|---|---|---|---|---|---|---|---|---|")
        i1m = agg(cells, ("ceiling", "iperf3-1M", "-", "gbps"))
        for sink in sinks:
            wr = agg(cells, ("ceiling", "dd-write-" + sink, "-", "gbps"))
            ceil = None
            if i1m and wr:
                ceil = min(i1m["median"], wr["median"])
            elif i1m:
                ceil = i1m["median"]
            base = agg(cells, ("client", sink, "curl", "gbps"))
            rawg = agg(cells, ("client", sink, "raw", "gbps"))
            a4 = agg(cells, ("client", sink, "aria2c-x4", "gbps"))
            for t in CLIENT_ORDER:
                g = agg(cells, ("client", sink, t, "gbps"))
                if not g:
                    continue
                eff = "%.0f %%" % (100 * g["median"] / ceil) if ceil else "—"
                w("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                    sink, t, cell_text(agg(cells, ("client", sink, t, "wall_s"))),
                    cell_text(g), cell_text(agg(cells, ("client", sink, t, "cpu_s")), 2, False),
                    cell_text(agg(cells, ("client", sink, t, "cpu_s_per_gb")), 2, False),
                    cell_text(agg(cells, ("client", sink, t, "maxrss_mb")), 1, False),
                    ratio(g, base), ratio(g, rawg), ratio(g, a4), eff))
        w("")
        w("Ceiling per sink = min(iperf3 -l 1M, sink write rate). raw = bench/raw_fetch (one "
          "GET, recv into 1 MiB, pwrite; no hashing, no sync). ferry = a client ferryd with "
          "fetch-threads 1 (io_uring path, bodies by recv + pwrite), ferry-t2 with 2, "
          "ferry-splice with fetch-splice on (socket -> pipe -> file), ferry-curl with "
          "FERRY_FETCH_PATH=curl; all with chunk verification on, `sync` before every run. "
          "Every output file is checked with xxhsum -H2 against the source; a mismatch voids "
          "the run.")
        w("")
    ctl = sorted({k[1] for k in cells if k[0] == "control"})
    if ctl:
        w("## Control plane (bench/wsman_ops.py, one keep-alive connection, Basic auth)")
        w("")
        w("| figure | value |")
        w("|---|---|")
        for case in ctl:
            for metric, label in (("create_job_per_s", "CreateJob per second (suspended jobs)"),
                                  ("get_p50_ms", "Get latency p50, ms"),
                                  ("get_p99_ms", "Get latency p99, ms"),
                                  ("get_per_s", "Get per second"),
                                  ("enumerate_items_per_s", "Enumerate + Pull, jobs per second")):
                a = agg(cells, ("control", case, "ferryd", metric))
                if a:
                    w("| %s, %s | %s |" % (label, case, fmt(a["median"])))
        w("")
    report_resume(cells, w)
    report_upload(cells, w)
    report_https(cells, w)
    report_sparse(cells, w)
    fleetp = os.path.join(outdir, "fleet", "fleet.md")
    if os.path.exists(fleetp):
        # bench/fleet's own table (one file to many hosts), under a heading of this report
        w("## Fleet distribution (bench/fleet)")
        w("")
        for line in open(fleetp).read().splitlines()[1:]:
            w(line)
        w("")
    voids = sum(len(v) for k, v in cells.items() if k[3] == "void")
    w("## Notes")
    w("")
    if voids:
        w("- %d run(s) voided (wrong hash, HTTP errors or a failed command); see raw.jsonl."
          % voids)
    for n in notes:
        w("- " + n)
    if not voids and not notes:
        w("- none")
    w("")
    w("![plot](plot.png)")
    w("")
    with open(os.path.join(outdir, "results.md"), "w") as fh:
        fh.write("\n".join(md))

    js = {"env": e, "notes": notes, "cells": []}
    for k in sorted(cells):
        a = agg(cells, k)
        js["cells"].append({"section": k[0], "case": k[1], "tool": k[2], "metric": k[3],
                            "median": a["median"], "min": a["min"], "max": a["max"],
                            "n": a["n"], "values": a["values"]})
    with open(os.path.join(outdir, "results.json"), "w") as fh:
        json.dump(js, fh, indent=1)

    plot(outdir, cells, servers, cases, sinks)


def report_upload(cells, w):
    sinks = sorted({k[1] for k in cells if k[0] == "upload"})
    if not sinks:
        return
    w("## Upload: the large file from the client host's ext4 to a receiver's ext4")
    w("")
    w("| sink | tool | wall s | GB/s | sender CPU-s | receiver CPU-s | GB/s vs curl -T | "
      "GB/s vs curl -T + sync |")
    w("|---|---|---|---|---|---|---|---|")
    for sink in sinks:
        base = agg(cells, ("upload", sink, "curl-T", "gbps"))
        base_sync = agg(cells, ("upload", sink, "curl-T-sync", "gbps"))
        for t in ("curl-T", "curl-T-sync", "ferry"):
            g = agg(cells, ("upload", sink, t, "gbps"))
            if not g:
                continue
            w("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                sink, t, cell_text(agg(cells, ("upload", sink, t, "wall_s"))), cell_text(g),
                cell_text(agg(cells, ("upload", sink, t, "cpu_s")), 2, False),
                cell_text(agg(cells, ("upload", sink, t, "server_cpu_s")), 2, False),
                ratio(g, base), ratio(g, base_sync)))
    w("")
    w("curl -T: `curl -T FILE` (HTTP PUT) to nginx with `dav_methods PUT` (temp file, then "
      "rename; nothing synced). curl -T + sync: the same, then `sync FILE` (fsync) of the "
      "received file inside the timed command, the durability ferry's Close-Session gives "
      "(fsync before the Ack). ferry: an upload job (CreateJob Type 1) of a client ferryd to a server "
      "ferryd's upload group (BITS_POST fragments of 8 MiB, one at a time, Close-Session "
      "renames), timed from CreateJob to the end of Complete. Every received file is "
      "checked with xxhsum -H2.")
    w("")


RESUME_TOOLS = ["curl", "aria2c-x4", "ferry"]


def count_ok(cells, key):
    vals = cells.get(key) or []
    return "%d/%d" % (sum(1 for v in vals if v == 1), len(vals)) if vals else "—"


def report_resume(cells, w):
    for sec, title, what in (
            ("resume", "Resume after kill -9 at ~50 % (large file from nginx)",
             "final hash right"),
            ("corrupt", "Corruption of the partial file before resuming",
             "detected and repaired (final hash right)")):
        tools = [t for t in RESUME_TOOLS if any(k[0] == sec and k[2] == t for k in cells)]
        if not tools:
            continue
        w("## " + title)
        w("")
        w("| tool | killed at, %% of file | MiB fetched after the restart | bytes on the wire, "
          "%% of file | time to finish after the restart, s | %s | restarted from zero |" % what)
        w("|---|---|---|---|---|---|---|")
        for t in tools:
            w("| %s | %s | %s | %s | %s | %s | %s |" % (
                t, cell_text(agg(cells, (sec, "large", t, "killed_at_pct")), 0),
                cell_text(agg(cells, (sec, "large", t, "after_mb")), 0),
                cell_text(agg(cells, (sec, "large", t, "wire_pct")), 0),
                cell_text(agg(cells, (sec, "large", t, "resume_s"))),
                count_ok(cells, (sec, "large", t, "hash_ok")),
                count_ok(cells, (sec, "large", t, "from_zero"))))
        w("")
    if any(k[0] in ("resume", "corrupt") for k in cells):
        w("Bytes are counted at the server (`$bytes_sent` of every request in nginx's access "
          "log, both phases); 100 % = the file once. curl resumes with `-C -`, aria2c "
          "(`-x4 -s4 -k1M --auto-save-interval=1`, first phase capped at a third of the file "
          "per second so that its control file is saved before the kill) re-runs the same "
          "command, ferry's client ferryd is restarted on its state directory and the job "
          "resumes by itself (its time includes the daemon's start). Corruption: after the kill, 4 KiB "
          "inverted 1 MiB into the first 4 MiB chunk of the partial file that already holds "
          "the source's bytes (ferry fetches chunks out of order; the offset is in raw.jsonl "
          "as flip_at_pct). "
          "\"Restarted from zero\" counts runs whose restart fetched >= 95 % of the file "
          "again: a right hash there is a re-download, not a detection.")
        w("")


def report_https(cells, w):
    tools = [t for t in ("nginx-tls", "ferryd-tls") if any(k[0] == "https" and k[2] == t
                                                            for k in cells)]
    if not tools:
        return
    w("## HTTPS: ferryd vs nginx `ssl` (same self-signed RSA-2048 certificate)")
    w("")
    head = "| case | " + " | ".join("%s GB/s" % t for t in tools) + " | " + \
        " | ".join("%s CPU-s/GB" % t for t in tools)
    sep = "|---|" + "---|" * (2 * len(tools))
    if len(tools) == 2:
        head += " | ferryd / nginx GB/s"
        sep += "---|"
    w(head + " |")
    w(sep)
    for case, label in (("large-curl", "large file, curl -o /dev/null"),
                        ("1m-range/c1", "1 MiB ranges, wrk -c1"),
                        ("1m-range/c64", "1 MiB ranges, wrk -c64")):
        g = [agg(cells, ("https", case, t, "gbps")) for t in tools]
        c = [agg(cells, ("https", case, t, "cpu_s_per_gb")) for t in tools]
        line = "| %s | %s | %s" % (label, " | ".join(cell_text(a) for a in g),
                                   " | ".join(cell_text(a, 3) for a in c))
        if len(tools) == 2:
            line += " | " + ratio(g[1], g[0])
        w(line + " |")
    w("")


def report_sparse(cells, w):
    tools = [t for t in RESUME_TOOLS if any(k[0] == "sparse" and k[2] == t for k in cells)]
    if not tools:
        return
    app = agg(cells, ("sparse", "image", "source", "apparent_mb"))
    alloc = agg(cells, ("sparse", "image", "source", "alloc_mb"))
    man = agg(cells, ("sparse", "image", "ferryd", "manifest_s"))
    w("## Sparse image served by ferryd")
    w("")
    w("Image: %s MiB apparent, %s MiB allocated (4 random extents); ferryd's manifest was "
      "ready %s s after start. Bytes on the wire from ferryd's "
      "`ferry_server_bytes_served_total` (GET /metrics)." % (
          fmt(app and app["median"], 0), fmt(alloc and alloc["median"], 0),
          fmt(man and man["median"])))
    w("")
    w("| tool | wall s | MiB on the wire | MiB allocated in the output (du) | output sparse |")
    w("|---|---|---|---|---|")
    for t in tools:
        a = agg(cells, ("sparse", "image", t, "alloc_mb"))
        sparse = "—"
        if a and app:
            sparse = "yes" if a["max"] < 0.5 * app["median"] else "no"
        w("| %s | %s | %s | %s | %s |" % (
            t, cell_text(agg(cells, ("sparse", "image", t, "wall_s"))),
            cell_text(agg(cells, ("sparse", "image", t, "wire_mb")), 1),
            cell_text(a, 1), sparse))
    w("")


def plot(outdir, cells, servers, cases, sinks):
    if not shutil.which("gnuplot"):
        print("benchlib: gnuplot missing, no plot", file=sys.stderr)
        return
    sd = os.path.join(outdir, "plot-server.dat")
    with open(sd, "w") as fh:
        fh.write("case " + " ".join(servers or ["none"]) + "\n")
        for c in cases:
            vals = []
            for s in servers:
                a = agg(cells, ("server", c, s, "gbps"))
                vals.append("%.4f" % a["median"] if a else "-")
            fh.write('"%s" %s\n' % (c, " ".join(vals)))
    cd = os.path.join(outdir, "plot-client.dat")
    tools = [t for t in CLIENT_ORDER if any(k[0] == "client" and k[2] == t for k in cells)]
    with open(cd, "w") as fh:
        fh.write("sink " + " ".join(tools or ["none"]) + "\n")
        for s in sinks:
            vals = []
            for t in tools:
                a = agg(cells, ("client", s, t, "gbps"))
                vals.append("%.4f" % a["median"] if a else "-")
            fh.write('"%s" %s\n' % (s, " ".join(vals)))
    gp = os.path.join(outdir, "plot.gp")
    # a panel per section that ran (BENCH_SECTIONS may leave either out: an empty panel
    # is a gnuplot error and no plot at all)
    panels = []
    if any(k[0] == "server" and k[3] == "gbps" for k in cells):
        panels.append(("Server: GB/s by case/connections (median)", max(len(servers), 1), sd))
    if tools:
        panels.append(("Client: GB/s fetching the large file from nginx (median)", len(tools), cd))
    if not panels:
        return
    with open(gp, "w") as fh:
        fh.write("""set terminal pngcairo size 1400,%d font ",10"
set output "%s"
set datafile missing "-"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set key top left
set grid ytics
set yrange [0:*]
set multiplot layout %d,1
set ylabel "GB/s"
set xtics rotate by -30
""" % (450 * len(panels), os.path.join(outdir, "plot.png"), len(panels)))
        for title, n, dat in panels:
            fh.write('set title "%s"\nplot for [i=2:%d] "%s" using i:xtic(1) title columnhead(i)\n'
                     % (title, n + 1, dat))
        fh.write("unset multiplot\n")
    r = subprocess.run(["gnuplot", gp], capture_output=True, text=True)
    if r.returncode != 0:
        print("benchlib: gnuplot failed: " + r.stderr.strip(), file=sys.stderr)


def main():
    if len(sys.argv) < 2:
        die("usage: benchlib.py SUBCOMMAND ... (see the file's docstring)")
    cmd, a = sys.argv[1], sys.argv[2:]
    try:
        if cmd == "free-port":
            free_port()
        elif cmd == "timeit":
            timeit(a)
        elif cmd == "parse-dd":
            parse_dd(a[0])
        elif cmd == "parse-iperf":
            parse_iperf(a[0])
        elif cmd == "parse-xxhsum":
            parse_xxhsum(a[0])
        elif cmd == "parse-ssl":
            parse_ssl(a[0])
        elif cmd == "parse-wrk":
            parse_wrk(a[0])
        elif cmd == "parse-times":
            parse_times(a[0])
        elif cmd == "users-line":
            users_line(a[0], a[1])
        elif cmd == "wsman-identify":
            wsman_identify(*a[:3])
        elif cmd == "wsman-upload":
            wsman_upload(a[0], a[1], a[2], a[3], a[4], float(a[5]))
        elif cmd == "wsman-upload-group":
            wsman_upload_group(*a[:4])
        elif cmd == "wsman-create":
            print(wsman_create(*a[:5]))
        elif cmd == "wsman-wait":
            wsman_wait(a[0], a[1], a[2], a[3], float(a[4]), time.monotonic())
        elif cmd == "run-kill":
            run_kill(a)
        elif cmd == "ferry-kill":
            ferry_kill(a[0], a[1], a[2], a[3], a[4], a[5], int(a[6]), int(a[7]), float(a[8]))
        elif cmd == "metric":
            metric(*a[:4])
        elif cmd == "fetched-offset":
            fetched_offset(a[0], a[1], int(a[2]))
        elif cmd == "flip":
            flip(a[0], int(a[1]), int(a[2]))
        elif cmd == "env":
            env(a[0], a[1:])
        elif cmd == "report":
            report(a[0])
        else:
            die("unknown subcommand " + cmd)
    except (OSError, RuntimeError, ValueError, KeyError, IndexError, ET.ParseError) as ex:
        die("%s: %s" % (cmd, ex))


if __name__ == "__main__":
    main()
