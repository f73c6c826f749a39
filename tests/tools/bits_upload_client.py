#!/usr/bin/env python3
"""A BITS upload client written from Microsoft's documentation of the BITS 1.5 upload
protocol (learn.microsoft.com/windows/win32/bits/bits-upload-protocol), independent of
ferry's code: BITS_POST with BITS-Packet-Type Ping / Create-Session / Fragment /
Close-Session / Cancel-Session, one outstanding request at a time.

Subcommands (exit 0 on success, 1 with a message on any protocol deviation):
  upload URL FILE [--fragment N] [--stop-after K]   whole upload; --stop-after leaves the
        session open after K fragments and prints its id (for crash tests)
  resume URL FILE SESSION [--fragment N]            ask the received range with a
        zero-length fragment, send the rest, close
  raw URL TYPE [SESSION] [RANGE] [BODYFILE]         one packet; prints status and BITS-*
  headonly METHOD URL LENGTH [USER:PASSWORD]        a Fragment head announcing LENGTH body
        bytes, none sent: prints the status the server answers on the head alone, or
        "timeout" when it is still waiting for the body after 5 s
"""
import base64
import socket
import http.client
import os
import sys
import urllib.parse

PROTO = "{7df0354d-249b-430f-820d-3d2a9bef4931}"


def post(url, headers, body=b""):
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    h = dict(headers)
    h["Content-Length"] = str(len(body))
    c.request("BITS_POST", u.path, body=body, headers=h)
    r = c.getresponse()
    r.read()
    out = (r.status, {k.lower(): v for k, v in r.getheaders()})
    c.close()
    return out


def die(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)


def create(url):
    st, h = post(url, {"BITS-Packet-Type": "Create-Session", "BITS-Supported-Protocols": PROTO})
    if st not in (200, 201) or h.get("bits-packet-type", "").lower() != "ack":
        die("Create-Session: %d %s" % (st, h))
    if h.get("bits-protocol", "").lower() != PROTO:
        die("Create-Session: BITS-Protocol %r" % h.get("bits-protocol"))
    sid = h.get("bits-session-id")
    if not sid or len(sid) > 100:
        die("Create-Session: BITS-Session-Id %r" % sid)
    return sid


def fragment(url, sid, data, start, total, name):
    hdr = {"BITS-Packet-Type": "Fragment", "BITS-Session-Id": sid}
    if name:
        hdr["Content-Name"] = name
    if data:
        hdr["Content-Range"] = "bytes %d-%d/%d" % (start, start + len(data) - 1, total)
    else:
        hdr["Content-Range"] = "bytes */%d" % total
    st, h = post(url, hdr, data)
    if st not in (200, 416):
        die("Fragment at %d: %d %s" % (start, st, h))
    rcr = h.get("bits-received-content-range")
    if rcr is None or not rcr.isdigit():
        die("Fragment at %d: BITS-Received-Content-Range %r" % (start, rcr))
    return st, int(rcr)


def send_from(url, sid, path, offset, frag, stop_after=None):
    total = os.path.getsize(path)
    sent = 0
    with open(path, "rb") as f:
        while offset < total:
            if stop_after is not None and sent >= stop_after:
                return offset
            f.seek(offset)
            data = f.read(min(frag, total - offset))
            st, nxt = fragment(url, sid, data, offset, total,
                               os.path.basename(path) if offset == 0 else None)
            if st == 200 and nxt != offset + len(data):
                die("Fragment ack %d, expected %d" % (nxt, offset + len(data)))
            offset = nxt
            sent += 1
    return offset


def close(url, sid):
    st, h = post(url, {"BITS-Packet-Type": "Close-Session", "BITS-Session-Id": sid})
    if st != 200:
        die("Close-Session: %d %s" % (st, h))


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    opts = {}
    i = 0
    while i < len(argv):
        if argv[i].startswith("--"):
            opts[argv[i][2:]] = int(argv[i + 1])
            args.remove(argv[i + 1]) if argv[i + 1] in args else None
            i += 2
        else:
            i += 1
    frag = opts.get("fragment", 65536)
    cmd = args[0]
    if cmd == "upload":
        url, path = args[1], args[2]
        st, h = post(url, {"BITS-Packet-Type": "Ping"})
        if st != 200 or h.get("bits-packet-type", "").lower() != "ack":
            die("Ping: %d %s" % (st, h))
        sid = create(url)
        stop = opts.get("stop-after")
        if os.path.getsize(path) == 0:
            fragment(url, sid, b"", 0, 0, os.path.basename(path))
        end = send_from(url, sid, path, 0, frag, stop)
        if stop is not None and end < os.path.getsize(path):
            print(sid)
            return 0
        close(url, sid)
        print(sid)
    elif cmd == "resume":
        url, path, sid = args[1], args[2], args[3]
        total = os.path.getsize(path)
        _, have = fragment(url, sid, b"", 0, total, None)
        print("resume-from %d" % have)
        send_from(url, sid, path, have, frag)
        close(url, sid)
    elif cmd == "raw":
        url, typ = args[1], args[2]
        hdr = {"BITS-Packet-Type": typ, "BITS-Supported-Protocols": PROTO}
        if len(args) > 3 and args[3] != "-":
            hdr["BITS-Session-Id"] = args[3]
        if len(args) > 4:
            hdr["Content-Range"] = args[4]
        body = open(args[5], "rb").read() if len(args) > 5 else b""
        st, h = post(url, hdr, body)
        print(st)
        for k in sorted(h):
            if k.startswith("bits-"):
                print("%s: %s" % (k, h[k]))
    elif cmd == "headonly":
        method, url, length = args[1], args[2], int(args[3])
        u = urllib.parse.urlsplit(url)
        head = ("%s %s HTTP/1.1\r\nHost: %s:%d\r\nBITS-Packet-Type: Fragment\r\n"
                "BITS-Session-Id: {00000000-0000-0000-0000-000000000000}\r\n"
                "Content-Range: bytes 0-%d/%d\r\nContent-Length: %d\r\n"
                % (method, u.path, u.hostname, u.port, length - 1, length, length))
        if len(args) > 4:
            head += "Authorization: Basic %s\r\n" % base64.b64encode(args[4].encode()).decode()
        s = socket.create_connection((u.hostname, u.port), timeout=5)
        s.sendall((head + "\r\n").encode())
        try:
            line = s.makefile("rb").readline()
        except socket.timeout:
            print("timeout")
            return 0
        s.close()
        if not line.startswith(b"HTTP/1.1 "):
            die("no status line: %r" % line)
        print(int(line.split()[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
