#!/usr/bin/python3
"""A Negotiate/NTLM Enable=true flag stored by an older ferryd in server.db (issue #17).

ferry enforces neither scheme and refuses Enable=true on SetUrlGroupAuthentication; a
server.db written before that can still hold the flags. Prepared here by stopping a server
ferryd and setting both flags in its groups row with sqlite3. On the restart the flags are
turned off: a warning names the group, Get and GetUrlGroupAuthentication answer false, the
row is cleared in server.db (so the next start is quiet), and the group's URL is still
served by its access rule (anonymous here: 200 with the file's bytes). Another group
without the flags is untouched and produces no warning.

Exit 0 all good, 1 a case failed, 77 when ferryd lacks the WS-Man endpoint.
"""

import os
import sqlite3
import sys
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import relpy  # noqa: E402
import wsmanc  # noqa: E402
from relpy import log  # noqa: E402
from wsmanc import GROUP  # noqa: E402


def main():
    return wsmanc.harness("server-authflag", run)


def flags(db, prefix):
    h = sqlite3.connect(db)
    try:
        row = h.execute("SELECT auth_negotiate, auth_ntlm FROM groups WHERE prefix = ?",
                        (prefix,)).fetchone()
    finally:
        h.close()
    return tuple(row) if row else None


def run(tmp, daemons):
    t = relpy.Table("server auth flags")
    pub = os.path.join(tmp, "pub")
    os.makedirs(pub)
    body = os.urandom(50000)
    with open(os.path.join(pub, "f.bin"), "wb") as fh:
        fh.write(body)
    s = wsmanc.Ferryd(tmp, "srv", ["--publish-root", pub])
    daemons.append(s)
    s.start()
    ws = s.client()
    port = relpy.free_port()
    ga = "http://127.0.0.1:%d/old" % port
    gb = "http://127.0.0.1:%d/plain" % port
    for g in (ga, gb):
        ws.invoke(GROUP, "CreateUrl", [("UrlSuffix", "f.bin"),
                                       ("SourceFilePath", os.path.join(pub, "f.bin")),
                                       ("SDDLAuth", "D:(A;;GA;;;WD)")], {"UrlGroup": g})
    s.stop()
    db = os.path.join(s.state, "server.db")
    h = sqlite3.connect(db)
    n = h.execute("UPDATE groups SET auth_negotiate = 1, auth_ntlm = 1 WHERE prefix LIKE ?",
                  ("%/old",)).rowcount
    h.commit()
    h.close()
    if n != 1:
        raise relpy.Fail("the group row to prepare was not found (%d rows)" % n)
    prefix_a = [p for (p,) in sqlite3.connect(db).execute("SELECT prefix FROM groups")
                if p.endswith("/old")][0]
    prefix_b = [p for (p,) in sqlite3.connect(db).execute("SELECT prefix FROM groups")
                if p.endswith("/plain")][0]
    t.add("prepared: flags stored", "(1, 1)", flags(db, prefix_a), flags(db, prefix_a) == (1, 1))
    loglen = len(s.log_text())
    s.start()
    ws = s.client()
    new_log = s.log_text()[loglen:].decode("utf-8", "replace")
    warned = [ln for ln in new_log.splitlines() if "not supported and is turned off" in ln]
    t.add("restart: one warning naming the group", "1 line with /old",
          "%d: %s" % (len(warned), warned[:1]),
          len(warned) == 1 and "/old" in warned[0] and "Negotiate and NTLM" in warned[0])
    inst = ws.get(GROUP, {"UrlGroup": ga})
    t.add("Get: AuthNegotiate/AuthNtlm", "false false",
          "%s %s" % (inst.get("AuthNegotiate"), inst.get("AuthNtlm")),
          inst.get("AuthNegotiate") == "false" and inst.get("AuthNtlm") == "false")
    for scheme, name in ((0, "Negotiate"), (1, "NTLM")):
        out = ws.invoke(GROUP, "GetUrlGroupAuthentication", [("Scheme", scheme)],
                        {"UrlGroup": ga})
        t.add("GetUrlGroupAuthentication %s" % name, "ReturnValue 0, Enable false",
              "%s %s" % (out.get("ReturnValue"), out.get("Enable")),
              out.get("ReturnValue") == "0" and out.get("Enable") == "false")
    t.add("server.db row cleared", "(0, 0)", flags(db, prefix_a), flags(db, prefix_a) == (0, 0))
    t.add("other group untouched", "(0, 0)", flags(db, prefix_b), flags(db, prefix_b) == (0, 0))
    with urllib.request.urlopen("http://127.0.0.1:%d/old/f.bin" % port, timeout=10) as r:
        got = r.read()
        st = r.status
    t.add("group still served by its rule", "200, the bytes", st, st == 200 and got == body)
    s.stop()
    loglen = len(s.log_text())
    s.start()
    new_log = s.log_text()[loglen:].decode("utf-8", "replace")
    t.add("next restart: quiet", "no warning",
          new_log.count("not supported and is turned off"),
          "not supported and is turned off" not in new_log)
    log(t.summary())
    return 1 if t.failed() else 0


if __name__ == "__main__":
    sys.exit(main())
