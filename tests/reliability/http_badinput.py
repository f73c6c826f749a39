#!/usr/bin/python3
"""Bad input against ferry's data-plane HTTP server (the compact server role).

Each case sends raw bytes on a fresh connection and checks the refusal: the status the
strict parser promises (engine/http/http_parser.h), the connection closed after framing
errors (no request smuggled behind them), no byte of a file outside the publish root in
any answer. After every case a normal GET still returns the published file byte for byte.
Then: slowloris closed after the header timeout, keep-alive idle closed after the idle
timeout, 10,000 idle connections held while a normal request is still served and released
afterwards, and a clean exit on SIGTERM.

Writes a Markdown table of every case to $REL_REPORT_DIR/http_badinput.md when set.
Exit 0 all good, 1 a case failed, 77 no server role in this build.
"""

import os
import resource
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import relpy  # noqa: E402
from relpy import Fail, exchange, log  # noqa: E402

SECRET = b"FERRY-SECRET-OUTSIDE-THE-ROOT-7f3a"
IDLE_CONNS = int(os.environ.get("REL_IDLE_CONNS", "10000"))


def req(line, headers=(b"Host: 127.0.0.1",), body=b"", end=b"\r\n"):
    return line + end + b"".join(h + end for h in headers) + end + body


def main():
    tmp = relpy.TmpDir("http-badinput")
    failed = True
    servers = []
    try:
        rc = run(tmp.path, servers)
        failed = rc != 0
        return rc
    finally:
        for s in servers:
            s.kill()
        tmp.done(failed)


def run(tmp, servers):
    pub = os.path.join(tmp, "pub")
    os.makedirs(pub)
    blob = os.urandom(256 * 1024)
    with open(os.path.join(pub, "f.bin"), "wb") as fh:
        fh.write(blob)
    with open(os.path.join(pub, "other.bin"), "wb") as fh:  # in the root, not published
        fh.write(SECRET + b" unpublished")
    with open(os.path.join(tmp, "secret.txt"), "wb") as fh:  # outside the root
        fh.write(SECRET)
    os.symlink(os.path.join(tmp, "secret.txt"), os.path.join(pub, "link-out"))
    os.symlink("../secret.txt", os.path.join(pub, "rel-link-out"))

    # room for the idle-connection flood on both sides (the server inherits the limit)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = IDLE_CONNS + 512
    if hard < need:
        log("SKIP: RLIMIT_NOFILE hard limit %d < %d" % (hard, need))
        return relpy.SKIP
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    files = {"f.bin": os.path.join(pub, "f.bin"),
             "link-out": os.path.join(pub, "link-out"),
             "rel-link-out": os.path.join(pub, "rel-link-out")}
    srv = relpy.DataServer(tmp, "a", pub, files,
                           options=["http-header-timeout = 30", "http-idle-timeout = 30",
                                    "workers = 2"])
    servers.append(srv)
    srv.start()
    log("server under test: %s on port %d" % (srv.kind, srv.port))
    port = srv.port
    want_sha = relpy.sha256(blob)
    t = relpy.Table("http bad input")

    def canary(case):
        if not srv.alive():
            raise Fail("server died after case '%s'; log:\n%s" % (case, srv.tail()))
        r = relpy.get(port, b"/grp/f.bin")
        if r.status != 200 or relpy.sha256(r.body) != want_sha:
            raise Fail("after '%s' a normal GET got %d with %d bytes" % (
                case, r.status, len(r.body)))

    def case(name, payload, expect, close=True, want=None, check=None):
        rs, closed, raw = exchange(port, payload, timeout=5, want=want)
        got = [r.status for r in rs]
        ok = bool(rs) and rs[0].status in expect
        why = ""
        if close and not closed:
            ok, why = False, " (connection left open)"
        if close and len(rs) > 1:
            ok, why = False, " (%d responses: a request was smuggled)" % len(rs)
        if SECRET in raw:
            ok, why = False, " (secret bytes leaked)"
        if check is not None and ok:
            msg = check(rs)
            if msg:
                ok, why = False, " (%s)" % msg
        t.add(name, "/".join(str(e) for e in sorted(expect)) + (" +close" if close else ""),
              (",".join(str(g) for g in got) or "no response") + why, ok)
        canary(name)

    G = b"GET /grp/f.bin HTTP/1.1"
    H = b"Host: 127.0.0.1"

    # -- sanity: the published file, HEAD, and an unpublished neighbour
    case("plain GET", req(G, (H, b"Connection: close")), {200}, close=True,
         check=lambda rs: None if relpy.sha256(rs[0].body) == want_sha else "wrong bytes")
    case("unpublished file in the root", req(b"GET /grp/other.bin HTTP/1.1", (H, b"Connection: close")),
         {404}, close=True)

    # -- malformed request lines
    for name, line, exp in [
        ("garbage line", b"GARBAGE", {400}),
        ("no version", b"GET /grp/f.bin", {400}),
        ("extra token", b"GET /grp/f.bin HTTP/1.1 x", {400}),
        ("double space", b"GET  /grp/f.bin HTTP/1.1", {400}),
        ("HTTP/2.0 version", b"GET /grp/f.bin HTTP/2.0", {505}),
        ("HTTP/1.2 version", b"GET /grp/f.bin HTTP/1.2", {505}),
        ("lowercase version", b"GET /grp/f.bin http/1.1", {400, 505}),
        ("method not a token", b"G(T /grp/f.bin HTTP/1.1", {400}),
        ("relative target", b"GET grp/f.bin HTTP/1.1", {400}),
        ("absolute-form target", b"GET http://127.0.0.1/grp/f.bin HTTP/1.1", {400}),
        ("asterisk target", b"GET * HTTP/1.1", {400}),
        ("fragment in target", b"GET /grp/f.bin#x HTTP/1.1", {400}),
        ("space byte in target", b"GET /grp/f bin HTTP/1.1", {400}),
        ("DEL byte in target", b"GET /grp/f.bin\x7f HTTP/1.1", {400}),
        ("high byte in target", b"GET /grp/f.bin\xc3\xa9 HTTP/1.1", {400}),
        ("NUL in request line", b"GET /grp/f.bin\x00 HTTP/1.1", {400}),
        ("CONNECT authority", b"CONNECT 127.0.0.1:80 HTTP/1.1", {400}),
    ]:
        case(name, req(line), exp)
    case("TLS ClientHello on plain port",
         b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + os.urandom(32) + b"\x00\x00\x02\x13\x01\x01\x00\r\n\r\n",
         {400})
    case("4 KiB of random bytes", os.urandom(4096).replace(b"\r\n\r\n", b"xxxx") + b"\r\n\r\n",
         {400, 414, 431})
    case("missing Host on HTTP/1.1", req(G, ()), {400})
    case("two Host headers", req(G, (H, b"Host: other")), {400})
    case("HTTP/1.0 without Host", req(b"GET /grp/f.bin HTTP/1.0", ()), {200}, close=True,
         check=lambda rs: None if relpy.sha256(rs[0].body) == want_sha else "wrong bytes")

    # -- header syntax
    for name, hdrs, exp in [
        ("NUL in header value", (H, b"X-A: a\x00b"), {400}),
        ("bare CR in header value", (H, b"X-A: a\rb"), {400}),
        ("control byte in value", (H, b"X-A: a\x01b"), {400}),
        ("obs-fold continuation", (H, b"X-A: a", b" folded"), {400}),
        ("obs-fold with tab", (H, b"X-A: a", b"\tfolded"), {400}),
        ("space before colon", (H, b"X-A : a"), {400}),
        ("space in header name", (H, b"X A: a"), {400}),
        ("header without colon", (H, b"NoColonHere"), {400}),
        ("empty header name", (H, b": value"), {400}),
        ("Expect: other", (H, b"Expect: 200-ok"), {417}),
    ]:
        case(name, req(G, hdrs), exp)
    case("bare LF line endings", req(G, (H,), end=b"\n"), {400})
    case("LF-only head end", G + b"\r\n" + H + b"\r\n\n", {400})

    # -- request smuggling and framing
    smuggled = b"GET /grp/other.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    case("CL + TE (CL.TE)", req(b"POST /grp/f.bin HTTP/1.1",
                                (H, b"Content-Length: 6", b"Transfer-Encoding: chunked"),
                                b"0\r\n\r\n" + smuggled), {400})
    case("TE + CL (TE.CL)", req(b"POST /grp/f.bin HTTP/1.1",
                                (H, b"Transfer-Encoding: chunked", b"Content-Length: 3"),
                                b"8\r\nSMUGGLED\r\n0\r\n\r\n" + smuggled), {400})
    case("duplicate differing CL", req(b"POST /grp/f.bin HTTP/1.1",
                                       (H, b"Content-Length: 0", b"Content-Length: 44"),
                                       smuggled), {400})
    case("CL list 0, 44", req(b"POST /grp/f.bin HTTP/1.1", (H, b"Content-Length: 0, 44"),
                              smuggled), {400})
    case("CL with plus sign", req(G, (H, b"Content-Length: +0")), {400})
    case("negative CL", req(G, (H, b"Content-Length: -1")), {400})
    case("CL overflowing 64 bits", req(G, (H, b"Content-Length: 99999999999999999999999")), {400, 413})
    case("TE chunked, chunked", req(b"POST /grp/f.bin HTTP/1.1",
                                    (H, b"Transfer-Encoding: chunked, chunked"),
                                    b"0\r\n\r\n"), {501})
    case("TE identity", req(b"POST /grp/f.bin HTTP/1.1", (H, b"Transfer-Encoding: identity")),
         {501})
    case("TE xchunked", req(b"POST /grp/f.bin HTTP/1.1", (H, b"Transfer-Encoding: xchunked"),
                            b"0\r\n\r\n"), {501})
    case("TE with vertical tab", req(b"POST /grp/f.bin HTTP/1.1",
                                     (H, b"Transfer-Encoding:\x0bchunked"), b"0\r\n\r\n"), {400, 501})
    case("TE on HTTP/1.0", req(b"POST /grp/f.bin HTTP/1.0", (b"Transfer-Encoding: chunked",),
                               b"0\r\n\r\n"), {400})
    case("bad chunk size", req(b"POST /grp/f.bin HTTP/1.1", (H, b"Transfer-Encoding: chunked"),
                               b"zz\r\nhello\r\n0\r\n\r\n"), {400, 413})
    case("giant chunk size", req(b"POST /grp/f.bin HTTP/1.1", (H, b"Transfer-Encoding: chunked"),
                                 b"ffffffffffffffffff\r\n"), {400, 413})

    # -- sizes
    case("20 KiB header", req(G, (H, b"X-Big: " + b"a" * 20000)), {431})
    case("200 header fields", req(G, (H,) + tuple(b"X-%d: v" % i for i in range(200))), {431})
    case("10 KiB target", req(b"GET /grp/" + b"a" * 10000 + b" HTTP/1.1"), {414, 431})
    case("100 KiB request line", req(b"GET /" + b"a" * 100000 + b" HTTP/1.1"), {414, 431})
    case("body on a GET", req(G, (H, b"Content-Length: 5"), b"hello"), {413})
    case("1 GB Content-Length", req(b"POST /grp/f.bin HTTP/1.1", (H, b"Content-Length: 1000000000")),
         {413})
    case("100-continue with 1 GB", req(b"POST /grp/f.bin HTTP/1.1",
                                       (H, b"Content-Length: 1000000000", b"Expect: 100-continue")),
         {413})
    case("chunked body on a GET", req(G, (H, b"Transfer-Encoding: chunked"),
                                      b"5\r\nhello\r\n0\r\n\r\n"), {413})

    # -- methods
    for m in (b"DELETE", b"PUT", b"POST", b"OPTIONS", b"PATCH", b"TRACE"):
        case("%s on a published URL" % m.decode(),
             req(m + b" /grp/f.bin HTTP/1.1", (H, b"Content-Length: 0", b"Connection: close")),
             {405, 501}, close=True,
             check=lambda rs: None if rs[0].status != 405 or "GET" in (rs[0].header("Allow") or "")
             else "405 without Allow: GET")

    # -- path traversal and escapes: never a byte from outside the root
    for name, path, exp in [
        ("/../ segment", b"/grp/../secret.txt", {400}),
        ("/../../ to /etc", b"/grp/../../../../etc/passwd", {400}),
        ("%2e%2e segment", b"/grp/%2e%2e/secret.txt", {400, 404}),
        ("%2E%2E uppercase", b"/grp/%2E%2E/%2E%2E/etc/passwd", {400, 404}),
        (".%2e mixed", b"/grp/.%2e/secret.txt", {400, 404}),
        ("%2F encoded slash", b"/grp/..%2Fsecret.txt", {400}),
        ("%2f lowercase slash", b"/grp/%2f..%2fsecret.txt", {400}),
        ("%00 after name", b"/grp/f.bin%00", {400}),
        ("%00 before extension", b"/grp/f.bin%00.txt", {400}),
        ("%252e double-encoded", b"/grp/%252e%252e/secret.txt", {404}),
        ("backslash dot-dot", b"/grp/..\\secret.txt", {400, 404}),
        ("overlong UTF-8 dots", b"/grp/%c0%ae%c0%ae/secret.txt", {400, 404}),
        ("/./ segment", b"/grp/./f.bin", {400}),
        ("trailing /..", b"/grp/f.bin/..", {400}),
        ("double slash", b"/grp//f.bin", {400, 404}),
        ("root double slash", b"//etc/passwd", {400, 404}),
        ("case-changed group", b"/GRP/f.bin", {404}),
        ("file as directory", b"/grp/f.bin/", {404}),
        ("meta4 of unpublished", b"/grp/other.bin.meta4", {404}),
        ("absolute symlink out", b"/grp/link-out", {403, 404, 500}),
        ("relative symlink out", b"/grp/rel-link-out", {403, 404, 500}),
        ("bad percent escape", b"/grp/f.bin%zz", {400}),
        ("truncated percent escape", b"/grp/f.bin%2", {400}),
        ("%0d%0a in path", b"/grp/f.bin%0d%0aX-Injected:%201", {400}),
    ]:
        case("path " + name, req(b"GET " + path + b" HTTP/1.1", (H, b"Connection: close")),
             exp, close=True,
             check=lambda rs: None if not any(n.lower().startswith("x-injected")
                                              for n, _ in rs[0].headers) else "header injected")
    case("path query with ../", req(b"GET /grp/f.bin?../../secret.txt HTTP/1.1",
                                    (H, b"Connection: close")), {200}, close=True,
         check=lambda rs: None if relpy.sha256(rs[0].body) == want_sha else "wrong bytes")

    # -- ranges
    def range_ok(rs):
        r = rs[0]
        if r.status == 200:
            return None if relpy.sha256(r.body) == want_sha else "200 with wrong bytes"
        if r.status == 206:
            cr = r.header("Content-Range") or ""
            try:
                a, b = cr.split(" ", 1)[1].split("/")[0].split("-")
                a, b = int(a), int(b)
            except (ValueError, IndexError):
                return "bad Content-Range %r" % cr
            return None if r.body == blob[a:b + 1] else "206 body does not match its range"
        if r.status == 416:
            return None if (r.header("Content-Range") or "").endswith("/%d" % len(blob)) \
                else "416 without Content-Range */size"
        return None
    for name, rng, exp in [
        ("range beyond the end", b"bytes=999999999-", {416}),
        ("range suffix zero", b"bytes=-0", {416}),
        ("range reversed", b"bytes=5-1", {200, 416}),
        ("range garbage", b"bytes=a-b", {200, 416}),
        ("range huge numbers", b"bytes=99999999999999999999999-1", {200, 416}),
        ("two ranges", b"bytes=0-0,5-9", {200, 206}),
        ("1200 ranges", b"bytes=" + b",".join(b"%d-%d" % (i, i) for i in range(1200)), {200, 206, 416}),
        ("unit not bytes", b"items=0-1", {200}),
    ]:
        case(name, req(G, (H, b"Range: " + rng, b"Connection: close")), exp, close=True,
             check=range_ok)

    # -- pipelining: 50 ranged GETs in one write, 50 right answers in order
    pipe = b"".join(req(G, (H, b"Range: bytes=%d-%d" % (i * 100, i * 100 + 9))) for i in range(50))
    rs, _closed, _raw = exchange(port, pipe, timeout=10, want=50)
    okp = len(rs) == 50 and all(r.status == 206 and r.body == blob[i * 100:i * 100 + 10]
                                for i, r in enumerate(rs))
    t.add("50 pipelined ranged GETs", "50x 206 in order", "%d responses" % len(rs), okp)
    canary("pipelining")

    # -- 10,000 idle connections: held, a normal request still served, all released
    base_fds = len(os.listdir("/proc/%d/fd" % srv.proc.pid))
    t0 = time.time()
    socks = []
    err = None
    try:
        for _ in range(IDLE_CONNS):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            socks.append(s)
    except OSError as e:
        err = e
    held = 0
    end = time.time() + 30
    while time.time() < end:
        held = len(os.listdir("/proc/%d/fd" % srv.proc.pid))
        if held >= IDLE_CONNS:
            break
        time.sleep(0.1)
    t_open = time.time() - t0
    try:
        canary("with %d idle connections" % IDLE_CONNS)
        served = True
    except Fail as e:
        served = False
        log(str(e))
    rss = 0
    with open("/proc/%d/status" % srv.proc.pid) as fh:
        for ln in fh:
            if ln.startswith("VmRSS:"):
                rss = int(ln.split()[1])
    for s in socks:
        s.close()
    end = time.time() + 20
    left = held
    while time.time() < end:
        left = len(os.listdir("/proc/%d/fd" % srv.proc.pid))
        if left <= base_fds + 8:
            break
        time.sleep(0.1)
    t.add("%d idle connections" % IDLE_CONNS,
          ">=%d fds held, GET served, released" % IDLE_CONNS,
          "%d fds in %.1fs, GET %s, %d fds after close (%d before), RSS %d KiB%s" % (
              held, t_open, "served" if served else "NOT served", left, base_fds, rss,
              ", connect error %s" % err if err else ""),
          err is None and held >= IDLE_CONNS and served and left <= base_fds + 8)
    canary("after the idle flood")

    # -- timeouts, on a second server with short ones
    srv_b = relpy.DataServer(tmp, "b", pub, {"f.bin": os.path.join(pub, "f.bin")},
                             options=["http-header-timeout = 2", "http-idle-timeout = 2"])
    servers.append(srv_b)
    srv_b.start()
    pieces = [(G + b"\r\n" + H + b"\r\n", 0.3)] + [(b"X-Slow-%d: v\r\n" % i, 0.3) for i in range(30)]
    t0 = time.time()
    rs, closed, _raw = exchange(srv_b.port, None, timeout=12, pieces=pieces)
    dt = time.time() - t0
    oks = closed and dt < 6 and all(r.status in (400, 408) for r in rs)
    t.add("slowloris (header timeout 2 s)", "closed within 6 s (408 or none)",
          "%s after %.1fs, %s" % ("closed" if closed else "open", dt,
                                  [r.status for r in rs] or "no response"), oks)
    s = socket.create_connection(("127.0.0.1", srv_b.port), timeout=10)
    s.sendall(req(G, (H,)))
    data = b""
    t0 = time.time()
    closed = False
    while time.time() - t0 < 8:
        d = s.recv(65536)
        if not d:
            closed = True
            break
        data += d
    dt = time.time() - t0
    s.close()
    rs, _ = relpy.parse_responses(data)
    oki = closed and 1.5 < dt < 6 and len(rs) == 1 and rs[0].status == 200
    t.add("keep-alive idle (idle timeout 2 s)", "200, then closed after ~2 s",
          "%s, %s after %.1fs" % ([r.status for r in rs], "closed" if closed else "open", dt), oki)
    if not srv_b.alive():
        raise Fail("server b died; log:\n%s" % srv_b.tail())

    # -- the Metalink <url> comes from the group's name, never from the Host header (a
    # shared cache would hand the forged document to everyone; issue 18)
    m4 = None
    for _ in range(100):
        m4 = relpy.get(port, b"/grp/f.bin.meta4", extra=b"")
        if m4.status == 200:
            break
        time.sleep(0.1)
    forged = exchange(port, req(b"GET /grp/f.bin.meta4 HTTP/1.1",
                                (b"Host: evil.example:1", b"Connection: close")))[0]
    fb = forged[0].body if forged else b""
    t.add("Metalink <url> with Host: evil.example", "the group's 127.0.0.1:%d" % port,
          "evil.example" if b"evil.example" in fb else
          ("group name" if b"127.0.0.1:%d/grp/f.bin" % port in fb else "HTTP %s" % (
              forged[0].status if forged else None)),
          m4.status == 200 and b"evil.example" not in fb and
          b"http://127.0.0.1:%d/grp/f.bin" % port in fb)

    # -- Basic auth on the data port (issue 18): one failure limiter shared with WS-Man,
    # keyed by address, /24 prefix and user; an address that has not failed is never
    # refused; PBKDF2 runs on the verifier threads
    srv_c = None
    if srv.kind == "ferryd":
        import wsmanc
        statec = os.path.join(tmp, "c", "state")
        wsmanc.add_user(statec, "carol", "carol-pw", "user")
        wsmanc.add_user(statec, "dave", "dave-pw", "user")
        srv_c = relpy.DataServer(tmp, "c", pub, {}, options=[
            "auth-fail-limit = 3",
            "url = http://127.0.0.1:%%d/grp/auth.bin %s D:(A;;GA;;;AU)" % os.path.join(pub, "f.bin")])
        with open(srv_c.cfg) as fh:
            text = fh.read()
        with open(srv_c.cfg, "w") as fh:
            fh.write(text.replace("%d", str(srv_c.port)))
        servers.append(srv_c)
        srv_c.start()

        def auth_get(src, user, pw):
            import base64
            tok = base64.b64encode(("%s:%s" % (user, pw)).encode())
            s = socket.create_connection(("127.0.0.1", srv_c.port), timeout=10,
                                         source_address=(src, 0))
            s.sendall(req(b"GET /grp/auth.bin HTTP/1.1",
                          (b"Host: 127.0.0.1", b"Authorization: Basic " + tok,
                           b"Connection: close")))
            data = b""
            while True:
                d = s.recv(65536)
                if not d:
                    break
                data += d
            s.close()
            rs, _ = relpy.parse_responses(data)
            return rs[0] if rs else None

        r = auth_get("127.0.0.1", "carol", "carol-pw")
        t.add("data port: right password", "200 + the file",
              "%s" % (r.status if r else None),
              r is not None and r.status == 200 and relpy.sha256(r.body) == want_sha)
        codes = [getattr(auth_get("127.0.0.2", "carol", "guess%d" % i), "status", None)
                 for i in range(5)]
        r = auth_get("127.0.0.2", "carol", "guess9")
        t.add("data port: guessing from one address", "401 x3 then 429 + Retry-After",
              "%s, then %s %s" % (codes, r.status if r else None,
                                  r.header("Retry-After") if r else None),
              codes[:3] == [401] * 3 and all(c == 429 for c in codes[3:]) and r is not None
              and r.status == 429 and r.header("Retry-After") is not None)
        # 40 guessing addresses in one /24: each gets a first guess, no second
        firsts = [getattr(auth_get("127.0.5.%d" % i, "dave", "guess"), "status", None)
                  for i in range(1, 41)]
        again = auth_get("127.0.5.7", "dave", "guess-again")
        t.add("data port: 40 addresses in a /24 guessing", "401 each, then 429 on a 2nd guess",
              "%s..., 2nd: %s" % (sorted(set(firsts)), again.status if again else None),
              set(firsts) == {401} and again is not None and again.status == 429)
        owner = auth_get("127.0.5.200", "dave", "dave-pw")
        t.add("data port: the owner from a clean address in that /24", "200 (not locked out)",
              "%s" % (owner.status if owner else None), owner is not None and owner.status == 200)
        rcx = srv_c.stop()
        t.add("SIGTERM ferryd c", "exit 0", str(rcx), rcx == 0)
        with open(srv_c.log_path, "rb") as fh:
            lg = fh.read()
        t.add("data port: failed logins logged", "a line per failure, user quoted",
              "%d lines" % lg.count(b"data port login of user 'dave'"),
              lg.count(b"data port login of user 'dave'") >= 40)

    # -- both stop cleanly
    for sv in (srv, srv_b):
        rcx = sv.stop()
        t.add("SIGTERM %s %s" % (sv.kind, os.path.basename(sv.dir)), "exit 0", str(rcx), rcx == 0)

    rep = os.environ.get("REL_REPORT_DIR")
    if rep:
        os.makedirs(rep, exist_ok=True)
        t.write_markdown(os.path.join(rep, "http_badinput.md"))
    log(t.summary())
    return 1 if t.failed() else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Fail as e:
        log("FAIL: %s" % e)
        sys.exit(1)
