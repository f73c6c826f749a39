#!/usr/bin/env python3
"""A BITS server application for upload-reply tests (the "notification URL" of
BITSServerNotificationType 2, by value): it receives each whole upload as a POST body and
answers with the reply the client must get: "sha256 <hex of the body> <BITS-Original-Request-URL>\\n".

  bits_notify_app.py PORTFILE LOG [--fail-first N]

Listens on 127.0.0.1 (ephemeral port, written to PORTFILE); each POST is logged to LOG as
"POST <bytes> <status>". --fail-first N: the first N POSTs get 500 (an application error).
"""
import hashlib
import http.server
import os
import sys

STATE = {"n": 0}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n) if n else b""
        STATE["n"] += 1
        if STATE["n"] <= self.server.fail_first:
            status, out = 500, b"not now\n"
        else:
            status = 200
            out = ("sha256 %s %s\n" % (hashlib.sha256(body).hexdigest(),
                                       self.headers.get("BITS-Original-Request-URL"))).encode()
        with open(self.server.log, "a") as f:
            f.write("POST %d %d\n" % (len(body), status))
        self.send_response(status)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


def main(argv):
    portfile, log = argv[0], argv[1]
    fail = int(argv[argv.index("--fail-first") + 1]) if "--fail-first" in argv else 0
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.log, srv.fail_first = log, fail
    with open(portfile + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(portfile + ".tmp", portfile)
    srv.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
