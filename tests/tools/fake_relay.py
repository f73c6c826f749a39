#!/usr/bin/env python3
"""A stand-in for another ferry host's relay URL (docs/internals/relay.md), for the unit
tests of the fetcher's Peer sources: serves FILE with the origin's validators and an
X-Ferry-Have listing every chunk, answers the first N503 range requests with 503 (a
relay's "not yet"), and serves chunk BAD with bytes flipped. Counts what it answered in
LOG (one line per request: "503", "206 CHUNK" or "HEAD").

usage: fake_relay.py PORT FILE ETAG LAST_MODIFIED CHUNK_SIZE BAD N503 LOG
"""
import http.server
import os
import re
import sys
import threading

port, path, etag, lm = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
chunk, bad, n503, log = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]), sys.argv[8]
size = os.path.getsize(path)
nchunks = (size + chunk - 1) // chunk
have = "chunks=%d; chunk-size=%d; have=*" % (nchunks, chunk)
lock = threading.Lock()
left = [n503]


def note(line):
    with lock, open(log, "a") as f:
        f.write(line + "\n")


class Relay(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def common(self):
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", lm)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("X-Ferry-Have", have)

    def do_HEAD(self):
        note("HEAD")
        self.send_response(200)
        self.common()
        self.send_header("Content-Length", str(size))
        self.end_headers()

    def do_GET(self):
        m = re.match(r"bytes=(\d+)-(\d+)$", self.headers.get("Range", ""))
        if not m:
            self.send_response(416)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        a, b = int(m.group(1)), int(m.group(2))
        with lock:
            not_yet = left[0] > 0
            if not_yet:
                left[0] -= 1
        if not_yet:
            note("503")
            body = b"not yet\n"
            self.send_response(503)
            self.send_header("Retry-After", "1")
            self.send_header("X-Ferry-Have", have)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        with open(path, "rb") as f:
            f.seek(a)
            data = bytearray(f.read(b - a + 1))
        if a // chunk == bad:
            data[len(data) // 2] ^= 0xFF
        note("206 %d" % (a // chunk))
        self.send_response(206)
        self.common()
        self.send_header("Content-Range", "bytes %d-%d/%d" % (a, b, size))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


http.server.ThreadingHTTPServer.daemon_threads = True
http.server.ThreadingHTTPServer(("127.0.0.1", port), Relay).serve_forever()
