#!/usr/bin/python3
"""faultproxy - an HTTP/1.1-aware TCP proxy that injects server-side faults.

It sits between an HTTP client (ferry's client role, curl, ...) and a server (nginx, a
server-role ferryd), listens on 127.0.0.1 (port 0 by default), forwards every request to
the target and relays the responses, except when a fault is armed. Faults are chosen and
changed while it runs, through a control socket (line protocol) or a control file.

Usage:
  faultproxy.py serve --target HOST:PORT [--listen ADDR:PORT] [--port-file F]
                      [--control-file F] [--log F] [--fault 'NAME k=v ...']
  faultproxy.py ctl --port-file F COMMAND...      (or --control HOST:PORT)

The port file gets two lines, "proxy PORT" and "control PORT", once both listen; the same
lines go to stdout.

Control commands (one per line, one JSON reply line each):
  set NAME [k=v ...]   arm a fault (replaces the current one)
  get                  the armed fault
  stats                global and per-connection counters
  log                  the request log (list of records)
  clear                reset counters and log
  quit                 stop the proxy
The control file, when given, holds one "NAME [k=v ...]" line; it is re-read whenever it
changes (polled every 50 ms).

Faults (every fault takes times=K: applies to K responses/requests, then reverts to
`none`; skip=K: lets the first K eligible ones through; match=SUBSTR: only requests whose
target contains SUBSTR; method=GET: only that method):
  none
  reset after=N             RST (SO_LINGER 0) after N body bytes of a response
  stall after=N             stop forwarding after N body bytes, keep the connection open
  truncate after=N          close cleanly (FIN) after N body bytes
  bad-content-range [shift=D | value=S]   rewrite Content-Range of 206 responses
                            (default: the range moved by D=1 byte, total kept)
  change-etag [value=S]     rewrite the ETag of every response that has one
  5xx [status=503]          answer requests itself with that status (use times=K)
  trickle rate=B            forward response bodies at B bytes/s

Request log records: conn, seq, method, target, range, if_range, status, body_bytes (body
bytes the client received), fault (what was applied, or "").
"""

import argparse
import asyncio
import fcntl
import json
import os
import socket
import struct
import sys
import termios
import time

MAX_HEAD = 64 * 1024
READ_SIZE = 64 * 1024

FAULTS = ("none", "reset", "stall", "truncate", "bad-content-range", "change-etag", "5xx",
          "trickle")
INT_PARAMS = ("after", "times", "skip", "shift", "status", "rate")


class FaultSpec:
    """An armed fault with its parameters and its remaining budget."""

    def __init__(self, name="none", params=None):
        self.name = name
        self.params = dict(params or {})
        self.times = self.params.get("times")   # None = unlimited
        self.skip = self.params.get("skip", 0)
        self.applied = 0

    @staticmethod
    def parse(words):
        if not words:
            raise ValueError("empty fault")
        name = words[0]
        if name not in FAULTS:
            raise ValueError("unknown fault '%s' (one of %s)" % (name, ", ".join(FAULTS)))
        params = {}
        for w in words[1:]:
            if "=" not in w:
                raise ValueError("parameter '%s' is not k=v" % w)
            k, v = w.split("=", 1)
            if k == "count":
                k = "times"
            if k in INT_PARAMS:
                try:
                    params[k] = int(v, 0)
                except ValueError:
                    raise ValueError("parameter '%s' needs an integer" % k) from None
                if params[k] < 0 and k != "shift":
                    raise ValueError("parameter '%s' must be >= 0" % k)
            elif k in ("match", "method", "value"):
                params[k] = v
            else:
                raise ValueError("unknown parameter '%s'" % k)
        if name in ("reset", "stall", "truncate") and "after" not in params:
            params["after"] = 0
        if name == "trickle" and params.get("rate", 0) <= 0:
            raise ValueError("trickle needs rate=B (bytes/s, > 0)")
        return FaultSpec(name, params)

    def describe(self):
        d = {"name": self.name, "applied": self.applied}
        d.update(self.params)
        if self.times is not None:
            d["remaining"] = self.times
        return d

    def eligible(self, method, target):
        """Whether this request is one the fault is aimed at (not counting budgets)."""
        if self.name == "none":
            return False
        m = self.params.get("match")
        if m is not None and m not in target:
            return False
        meth = self.params.get("method")
        if meth is not None and meth.upper() != method.upper():
            return False
        return True


class Proxy:
    def __init__(self, target, log_path=None):
        self.target = target
        self.fault = FaultSpec()
        self.log_path = log_path
        self.log = []
        self.conns = {}
        self.next_conn = 1
        self.totals = {"connections": 0, "requests": 0, "bytes_up": 0, "bytes_down": 0,
                       "faults_applied": 0, "generated_responses": 0}
        self.stop = asyncio.Event()
        # fake ETag -> the server's real one: requests made with a rewritten ETag
        # (If-Range, If-Match, If-None-Match) are translated back, so the proxy behaves
        # like a server whose file now has the new ETag
        self.etag_map = {}

    # ---- fault selection ----

    def set_fault(self, spec):
        self.fault = spec
        self.note({"event": "fault", "fault": spec.describe()})

    def take_fault(self, method, target, kinds):
        """Decide whether the armed fault (one of kinds) applies to this request; consumes
        one unit of skip/times budget when it does. Returns the FaultSpec or None."""
        f = self.fault
        if f.name not in kinds or not f.eligible(method, target):
            return None
        if f.skip > 0:
            f.skip -= 1
            return None
        if f.times is not None:
            if f.times <= 0:
                return None
            f.times -= 1
        f.applied += 1
        self.totals["faults_applied"] += 1
        if f.times == 0:
            # budget spent: the fault ends here (the current request still gets it)
            self.fault = FaultSpec()
            self.note({"event": "fault-ended", "fault": f.name})
        return f

    def note(self, rec):
        rec = dict(rec)
        rec["t"] = round(time.time(), 3)
        if rec.get("event") is None:
            self.log.append(rec)
        if self.log_path:
            with open(self.log_path, "a") as fh:
                fh.write(json.dumps(rec) + "\n")

    # ---- client connections ----

    async def handle_client(self, creader, cwriter):
        cid = self.next_conn
        self.next_conn += 1
        stats = {"id": cid, "requests": 0, "bytes_up": 0, "bytes_down": 0, "faults": [],
                 "open": True, "started": round(time.time(), 3)}
        self.conns[cid] = stats
        self.totals["connections"] += 1
        conn = Conn(self, cid, stats, creader, cwriter)
        try:
            await conn.run()
        except (Abort, ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                OSError, ValueError):
            pass
        finally:
            stats["open"] = False
            conn.close()

    # ---- control ----

    def control(self, line):
        words = line.split()
        if not words:
            return {"ok": False, "error": "empty command"}
        cmd = words[0]
        try:
            if cmd == "set":
                self.set_fault(FaultSpec.parse(words[1:]))
                return {"ok": True, "fault": self.fault.describe()}
            if cmd == "get":
                return {"ok": True, "fault": self.fault.describe()}
            if cmd == "stats":
                return {"ok": True, "totals": self.totals,
                        "connections": list(self.conns.values()),
                        "fault": self.fault.describe()}
            if cmd == "log":
                return {"ok": True, "log": self.log}
            if cmd == "clear":
                self.log = []
                self.conns = {k: v for k, v in self.conns.items() if v["open"]}
                for k in self.totals:
                    self.totals[k] = 0
                return {"ok": True}
            if cmd == "quit":
                self.stop.set()
                return {"ok": True}
        except ValueError as e:
            return {"ok": False, "error": str(e)}
        return {"ok": False, "error": "unknown command '%s'" % cmd}

    async def handle_control(self, reader, writer):
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                reply = self.control(line.decode("utf-8", "replace").strip())
                writer.write((json.dumps(reply) + "\n").encode())
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def watch_control_file(self, path):
        last = None
        while not self.stop.is_set():
            try:
                with open(path) as fh:
                    text = fh.read()
            except FileNotFoundError:
                text = None
            if text is not None and text != last:
                last = text
                line = text.strip().splitlines()[0] if text.strip() else "none"
                try:
                    self.set_fault(FaultSpec.parse(line.split()))
                except ValueError as e:
                    print("faultproxy: control file: %s" % e, file=sys.stderr, flush=True)
            await asyncio.sleep(0.05)


def parse_head(raw):
    """Split an HTTP head into (start line, [(name, value)]). Raises ValueError."""
    text = raw.decode("latin-1")
    lines = text.split("\r\n")
    if len(lines) < 1 or not lines[0]:
        raise ValueError("empty start line")
    headers = []
    for ln in lines[1:]:
        if ln == "":
            continue
        if ":" not in ln:
            raise ValueError("header line without colon")
        n, v = ln.split(":", 1)
        headers.append((n, v.strip(" \t")))
    return lines[0], headers


def build_head(start, headers):
    out = start + "\r\n" + "".join("%s: %s\r\n" % (n, v) for n, v in headers) + "\r\n"
    return out.encode("latin-1")


def hget(headers, name):
    name = name.lower()
    for n, v in headers:
        if n.lower() == name:
            return v
    return None


def hset(headers, name, value):
    lname = name.lower()
    return [(n, value if n.lower() == lname else v) for n, v in headers]


class Abort(Exception):
    """The connection ends here (a fault closed it, or a peer did)."""


class Conn:
    def __init__(self, proxy, cid, stats, creader, cwriter):
        self.p = proxy
        self.cid = cid
        self.stats = stats
        self.cr = creader
        self.cw = cwriter
        self.ur = None
        self.uw = None
        self.seq = 0

    def close(self):
        for w in (self.cw, self.uw):
            if w is not None:
                try:
                    w.close()
                except Exception:
                    pass

    async def read_head(self, reader):
        """Read up to and including CRLFCRLF. Returns bytes, or b"" at a clean EOF."""
        try:
            raw = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as e:
            if e.partial:
                raise Abort("truncated head")
            return b""
        except asyncio.LimitOverrunError:
            raise Abort("head too large")
        return raw

    async def upstream(self):
        if self.uw is None:
            host, port = self.p.target
            self.ur, self.uw = await asyncio.open_connection(host, port, limit=MAX_HEAD)
        return self.ur, self.uw

    async def to_client(self, data):
        self.cw.write(data)
        self.stats["bytes_down"] += len(data)
        self.p.totals["bytes_down"] += len(data)
        await self.cw.drain()

    async def to_upstream(self, data):
        self.uw.write(data)
        self.stats["bytes_up"] += len(data)
        self.p.totals["bytes_up"] += len(data)
        await self.uw.drain()

    async def run(self):
        while True:
            raw = await self.read_head(self.cr)
            if not raw:
                return
            try:
                start, headers = parse_head(raw[:-4])
                method, target, _version = start.split(" ", 2)
            except ValueError:
                # not HTTP as we understand it: pass it on and tunnel the rest
                await self.tunnel(raw)
                return
            self.seq += 1
            self.stats["requests"] += 1
            self.p.totals["requests"] += 1
            rec = {"conn": self.cid, "seq": self.seq, "method": method, "target": target,
                   "range": hget(headers, "Range"), "if_range": hget(headers, "If-Range"),
                   "status": None, "body_bytes": 0, "fault": ""}
            try:
                keep = await self.exchange(method, target, headers, raw, rec)
            finally:
                self.p.note(rec)
            if not keep:
                return

    async def tunnel(self, first):
        ur, _ = await self.upstream()
        await self.to_upstream(first)

        async def pump(reader, send):
            while True:
                data = await reader.read(READ_SIZE)
                if not data:
                    return
                await send(data)
        await asyncio.gather(pump(self.cr, self.to_upstream), pump(ur, self.to_client),
                             return_exceptions=True)

    async def read_body(self, reader, headers, send, is_response, method=None, status=None,
                        shaper=None):
        """Relay one message body from reader through send. shaper(data) -> data to send,
        or raises Abort. Returns False when the body ran to EOF (connection must close)."""
        if is_response:
            if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
                return True
        te = (hget(headers, "Transfer-Encoding") or "").lower()
        cl = hget(headers, "Content-Length")

        async def out(data):
            if shaper is not None:
                data = await shaper(data)
            if data:
                await send(data)

        if "chunked" in te:
            while True:
                line = await reader.readuntil(b"\r\n")
                size = int(line.split(b";")[0].strip(), 16)
                await out(line)
                if size == 0:
                    while True:  # trailers up to the empty line
                        tl = await reader.readuntil(b"\r\n")
                        await out(tl)
                        if tl == b"\r\n":
                            return True
                data = await reader.readexactly(size + 2)
                await out(data)
        if cl is not None:
            left = int(cl)
            while left > 0:
                data = await reader.read(min(READ_SIZE, left))
                if not data:
                    raise Abort("peer closed inside a body")
                left -= len(data)
                await out(data)
            return True
        if not is_response:
            return True
        while True:  # body delimited by close
            data = await reader.read(READ_SIZE)
            if not data:
                return False
            await out(data)

    async def exchange(self, method, target, headers, raw, rec):
        p = self.p
        f5 = p.take_fault(method, target, ("5xx",))
        if f5 is not None:
            # swallow the request body, answer ourselves, close
            async def discard(_data):
                return None
            await self.read_body(self.cr, headers, discard, False)
            status = f5.params.get("status", 503)
            body = b"faultproxy: injected %d\n" % status
            head = build_head("HTTP/1.1 %d Injected" % status,
                              [("Content-Type", "text/plain"),
                               ("Content-Length", str(len(body))),
                               ("Connection", "close")])
            rec["status"] = status
            rec["fault"] = "5xx"
            self.stats["faults"].append("5xx")
            p.totals["generated_responses"] += 1
            await self.to_client(head + body)
            rec["body_bytes"] = len(body)
            return False

        if p.etag_map:
            fixed = [(n, p.etag_map.get(v, v) if n.lower() in ("if-range", "if-match",
                                                               "if-none-match") else v)
                     for n, v in headers]
            if fixed != headers:
                start = raw.split(b"\r\n", 1)[0].decode("latin-1")
                raw = build_head(start, fixed)
        ur, _ = await self.upstream()
        await self.to_upstream(raw)
        await self.read_body(self.cr, headers, self.to_upstream, False)

        rhead = await self.read_head(ur)
        if not rhead:
            raise Abort("upstream closed before a response")
        start, rheaders = parse_head(rhead[:-4])
        parts = start.split(" ", 2)
        status = int(parts[1])
        rec["status"] = status

        # faults on the head
        changed = False
        fh = p.take_fault(method, target, ("bad-content-range",)) if status == 206 else None
        if fh is not None and hget(rheaders, "Content-Range"):
            cr = hget(rheaders, "Content-Range")
            if "value" in fh.params:
                new = fh.params["value"]
            else:
                d = fh.params.get("shift", 1)
                unit, rest = cr.split(" ", 1)
                rng, total = rest.split("/", 1)
                a, b = (int(x) for x in rng.split("-", 1))
                new = "%s %d-%d/%s" % (unit, a + d, b + d, total)
            rheaders = hset(rheaders, "Content-Range", new)
            rec["fault"] = "bad-content-range"
            rec["content_range"] = new
            changed = True
        if hget(rheaders, "ETag") is not None:
            fe = p.take_fault(method, target, ("change-etag",))
            if fe is not None:
                new = fe.params.get("value", '"faultproxy-changed"')
                p.etag_map[new] = hget(rheaders, "ETag")
                rheaders = hset(rheaders, "ETag", new)
                rec["fault"] = "change-etag"
                rec["etag"] = new
                changed = True
        if changed:
            self.stats["faults"].append(rec["fault"])
            rhead = build_head(start, rheaders)

        # faults on the body
        fb = None
        has_body = not (method == "HEAD" or status in (204, 304) or 100 <= status < 200)
        if has_body:
            fb = p.take_fault(method, target, ("reset", "stall", "truncate", "trickle"))
        if fb is not None:
            rec["fault"] = fb.name
            self.stats["faults"].append(fb.name)

        await self.to_client(rhead)
        sent = 0
        trickle_rate = fb.params["rate"] if fb is not None and fb.name == "trickle" else 0
        limit = fb.params.get("after", 0) if fb is not None and fb.name != "trickle" else None

        async def shaper(data):
            nonlocal sent
            if limit is not None and sent + len(data) >= limit:
                part = data[:limit - sent]
                if part:
                    await self.to_client(part)
                    sent += len(part)
                    rec["body_bytes"] = sent
                await self.apply_cut(fb.name)
                raise Abort(fb.name)
            if trickle_rate:
                step = max(1, trickle_rate // 20)
                for i in range(0, len(data), step):
                    piece = data[i:i + step]
                    await self.to_client(piece)
                    sent += len(piece)
                    rec["body_bytes"] = sent
                    await asyncio.sleep(len(piece) / trickle_rate)
                return b""
            sent += len(data)
            rec["body_bytes"] = sent
            return data

        if limit is not None and limit == 0 and has_body:
            await self.apply_cut(fb.name)
            raise Abort(fb.name)
        keep = await self.read_body(ur, rheaders, self.to_client, True, method, status,
                                    shaper)
        if not keep:
            return False
        conn_hdr = (hget(rheaders, "Connection") or "").lower()
        if "close" in conn_hdr or parts[0] == "HTTP/1.0" and "keep-alive" not in conn_hdr:
            return False
        return True

    async def flush_client(self, timeout=2.0):
        end = time.monotonic() + timeout
        await self.cw.drain()
        while self.cw.transport.get_write_buffer_size() > 0 and time.monotonic() < end:
            await asyncio.sleep(0.005)
        sock = self.cw.get_extra_info("socket")
        if sock is None:
            return
        while time.monotonic() < end:
            try:
                left = struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ,
                                                      b"\0\0\0\0"))[0]
            except OSError:
                return
            if left == 0:
                return
            await asyncio.sleep(0.005)

    async def apply_cut(self, name):
        if name == "reset":
            # let the bytes already sent reach the peer, so "after N" is what it got
            await self.flush_client()
            sock = self.cw.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.cw.transport.abort()
        elif name == "truncate":
            await self.cw.drain()
            self.cw.close()
        elif name == "stall":
            # stop forwarding; keep the client's connection open until it gives up
            if self.uw is not None:
                self.uw.close()
                self.uw = None
            while not self.p.stop.is_set():
                data = await self.cr.read(READ_SIZE)
                if not data:
                    break
            self.cw.close()


def parse_addr(s):
    host, _, port = s.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


async def serve(args):
    proxy = Proxy(parse_addr(args.target), args.log)
    if args.fault:
        proxy.set_fault(FaultSpec.parse(args.fault.split()))
    lhost, lport = parse_addr(args.listen)
    srv = await asyncio.start_server(proxy.handle_client, lhost, lport, limit=MAX_HEAD,
                                     backlog=1024)
    csrv = await asyncio.start_server(proxy.handle_control, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    cport = csrv.sockets[0].getsockname()[1]
    text = "proxy %d\ncontrol %d\n" % (port, cport)
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as fh:
            fh.write(text)
        os.rename(tmp, args.port_file)
    sys.stdout.write(text)
    sys.stdout.flush()
    tasks = []
    if args.control_file:
        tasks.append(asyncio.ensure_future(proxy.watch_control_file(args.control_file)))
    await proxy.stop.wait()
    srv.close()
    csrv.close()
    for t in tasks:
        t.cancel()


def ctl(args):
    if args.control:
        host, port = parse_addr(args.control)
    else:
        port = None
        for _ in range(500):
            try:
                with open(args.port_file) as fh:
                    for line in fh:
                        k, v = line.split()
                        if k == "control":
                            port = int(v)
                break
            except FileNotFoundError:
                time.sleep(0.01)
        if port is None:
            print("faultproxy ctl: no control port in %s" % args.port_file, file=sys.stderr)
            return 2
        host = "127.0.0.1"
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall((" ".join(args.command) + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            d = s.recv(65536)
            if not d:
                break
            buf += d
    sys.stdout.write(buf.decode())
    reply = json.loads(buf)
    return 0 if reply.get("ok") else 1


def main():
    ap = argparse.ArgumentParser(description="HTTP fault-injecting proxy for ferry's tests")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--target", required=True, help="HOST:PORT of the real server")
    s.add_argument("--listen", default="127.0.0.1:0")
    s.add_argument("--port-file")
    s.add_argument("--control-file")
    s.add_argument("--log", help="append JSON lines of requests and fault changes")
    s.add_argument("--fault", help="initial fault, e.g. 'reset after=1000'")
    c = sub.add_parser("ctl")
    c.add_argument("--port-file")
    c.add_argument("--control")
    c.add_argument("command", nargs="+")
    args = ap.parse_args()
    if args.cmd == "serve":
        try:
            asyncio.run(serve(args))
        except KeyboardInterrupt:
            pass
        return 0
    if not args.port_file and not args.control:
        ap.error("ctl needs --port-file or --control")
    return ctl(args)


if __name__ == "__main__":
    sys.exit(main())
