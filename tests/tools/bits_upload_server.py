#!/usr/bin/env python3
"""A BITS upload server written from Microsoft's documentation of the BITS 1.5 upload
protocol (learn.microsoft.com/windows/win32/bits/bits-upload-protocol and the pages of its
packets), independent of ferry's code, to test ferry's upload client against.

  bits_upload_server.py DIR PORTFILE [--reply] [--forget-after N] [--fragment-max BYTES]
                       [--port N]

Listens on 127.0.0.1 (--port, else an ephemeral port; written to PORTFILE), answers BITS_POST:
  Ping -> Ack. Create-Session -> Ack with BITS-Protocol and a new {GUID} BITS-Session-Id
  (the client must offer {7df0354d-...}). Fragment -> bytes written only when contiguous
  (overlap: only the new part), Ack with BITS-Received-Content-Range = next offset; 416 when
  a fragment starts beyond it; with --reply, the Ack of the final fragment carries
  BITS-Reply-URL (/reply/<id>), whose GET answers "sha256 <hex of the upload>\\n", which is
  what an upload-reply client must fetch before Close-Session. Close-Session -> the file
  renamed onto DIR/<last path segment> (only whole uploads; an incomplete one is deleted).
  Cancel-Session -> deleted. An unknown session -> BITS-Error-Code 0x8020001F.
  --forget-after N: after N fragments, every session is forgotten once (a server restart
  that lost its state). --fragment-max: larger fragments get 413.
Sessions live in DIR/.sessions/<id>.{part,name}, so a killed server resumes them.
A log of packets goes to stderr ("PACKET type session range status").
"""
import hashlib
import http.server
import os
import re
import sys
import uuid

PROTO = "{7df0354d-249b-430f-820d-3d2a9bef4931}"
E_SESSION_NOT_FOUND = "0x8020001f"
STATE = {"fragments": 0, "forgot": False}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, headers=None, body=b""):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def ack(self, status=200, **headers):
        h = {"BITS-Packet-Type": "Ack"}
        h.update({k.replace("_", "-"): v for k, v in headers.items()})
        self.answer(status, h)

    def error(self, status, code, context="0x5"):
        self.answer(status, {"BITS-Packet-Type": "Ack", "BITS-Error-Code": code,
                             "BITS-Error-Context": context})

    def session(self, sid):
        if not sid or not re.fullmatch(r"\{[0-9a-f-]{36}\}", sid):
            return None
        base = os.path.join(self.server.dir, ".sessions", sid.strip("{}"))
        return base if os.path.exists(base + ".name") else None

    def handle_expect_100(self):
        n = int(self.headers.get("Content-Length", "0"))
        if self.server.fragment_max and n > self.server.fragment_max:
            print("PACKET expect %s - 413" % self.headers.get("BITS-Session-Id"),
                  file=sys.stderr, flush=True)
            self.answer(413, {"Connection": "close"})
            self.close_connection = True
            return False
        return super().handle_expect_100()

    def do_GET(self):
        m = re.fullmatch(r"/reply/([0-9a-f-]{36})", self.path)
        base = m and os.path.join(self.server.dir, ".sessions", m.group(1))
        if not base or not os.path.exists(base + ".part"):
            self.answer(404)
            return
        with open(base + ".part", "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        self.answer(200, {"Content-Type": "text/plain"}, ("sha256 %s\n" % digest).encode())

    def do_BITS_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        typ = (self.headers.get("BITS-Packet-Type") or "").lower()
        sid = self.headers.get("BITS-Session-Id")
        fmax = self.server.fragment_max
        if fmax and n > fmax:
            print("PACKET %s %s - 413" % (typ, sid), file=sys.stderr, flush=True)
            self.answer(413, {"Connection": "close"})
            self.close_connection = True
            return
        body = self.rfile.read(n) if n else b""
        status = self.dispatch(typ, sid, body)
        print("PACKET %s %s %s %s" % (typ, sid, self.headers.get("Content-Range"), status),
              file=sys.stderr, flush=True)

    def dispatch(self, typ, sid, body):
        sessions = os.path.join(self.server.dir, ".sessions")
        if typ == "ping":
            self.ack()
            return 200
        if typ == "create-session":
            offered = (self.headers.get("BITS-Supported-Protocols") or "").lower().split()
            if PROTO not in offered:
                self.error(400, "0x80070057")
                return 400
            new = str(uuid.uuid4())
            name = self.path.rstrip("/").rsplit("/", 1)[-1]
            with open(os.path.join(sessions, new + ".part"), "wb"):
                pass
            with open(os.path.join(sessions, new + ".name"), "w") as f:
                f.write(name)
            self.ack(BITS_Protocol=PROTO, BITS_Session_Id="{%s}" % new)
            return 200
        base = self.session(sid)
        if typ == "fragment" and self.server.forget_after is not None and \
                not STATE["forgot"] and STATE["fragments"] >= self.server.forget_after:
            STATE["forgot"] = True
            for f in os.listdir(sessions):
                os.unlink(os.path.join(sessions, f))
            base = None
        if base is None:
            self.error(400, E_SESSION_NOT_FOUND)
            return 400
        if typ == "fragment":
            STATE["fragments"] += 1
            have = os.path.getsize(base + ".part")
            rng = self.headers.get("Content-Range") or ""
            m = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", rng)
            m0 = re.fullmatch(r"bytes \*/(\d+)", rng)
            if m0 and not body:
                total = int(m0.group(1))
                if total == 0:
                    open(base + ".total", "w").write("0")
                self.frag_ack(base, sid, have, total)
                return 200
            if not m or int(m.group(2)) - int(m.group(1)) + 1 != len(body):
                self.error(400, "0x8020002b")
                return 400
            start, total = int(m.group(1)), int(m.group(3))
            if start > have:
                self.ack(416, BITS_Received_Content_Range=str(have), BITS_Session_Id=sid)
                return 416
            new = body[have - start:]
            with open(base + ".part", "ab") as f:
                f.write(new)
            self.frag_ack(base, sid, have + len(new), total)
            return 200
        if typ == "close-session":
            name = open(base + ".name").read()
            total = os.path.exists(base + ".total") and int(open(base + ".total").read())
            for ext in (".name", ".total"):
                if os.path.exists(base + ext):
                    os.unlink(base + ext)
            if total is False or os.path.getsize(base + ".part") != total:
                os.unlink(base + ".part")
                self.error(400, "0x8020002b")
                return 400
            os.rename(base + ".part", os.path.join(self.server.dir, name))
            self.ack(BITS_Session_Id=sid)
            return 200
        if typ == "cancel-session":
            for ext in (".name", ".total", ".part"):
                if os.path.exists(base + ext):
                    os.unlink(base + ext)
            self.ack(BITS_Session_Id=sid)
            return 200
        self.error(400, "0x80070057")
        return 400

    def frag_ack(self, base, sid, have, total):
        h = {"BITS_Received_Content_Range": str(have), "BITS_Session_Id": sid}
        if have == total:
            open(base + ".total", "w").write(str(total))
            if self.server.reply:
                h["BITS_Reply_URL"] = "/reply/" + sid.strip("{}")
        self.ack(**h)


def main(argv):
    args = [a for a in argv]
    opts = {"reply": False, "forget-after": None, "fragment-max": 0, "port": 0}
    pos = []
    i = 0
    while i < len(args):
        if args[i] == "--reply":
            opts["reply"] = True
        elif args[i] in ("--forget-after", "--fragment-max", "--port"):
            opts[args[i][2:]] = int(args[i + 1])
            i += 1
        else:
            pos.append(args[i])
        i += 1
    d, portfile = pos
    os.makedirs(os.path.join(d, ".sessions"), exist_ok=True)
    http.server.ThreadingHTTPServer.allow_reuse_address = True
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", opts["port"]), Handler)
    srv.dir = d
    srv.reply = opts["reply"]
    srv.forget_after = opts["forget-after"]
    srv.fragment_max = opts["fragment-max"]
    with open(portfile + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(portfile + ".tmp", portfile)
    srv.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
