#!/usr/bin/python3
"""The certificate methods through WS-Man (issue #17), against a real ferryd, with the
Python WS-Man client of tests/tools and Debian's wsl as an independent one.

Certificates are made with openssl and placed in the store tree (docs/internals/client.md):
STATE/certs/MY (CertStoreLocation 1, LOCAL_MACHINE) and STATE/certs/@CurrentUser/MY (0).

  BitsClientJob.SetClientCertificateById honours CertStoreLocation: a thumbprint found at
    location 0 is not found at 1 (0x80092004) and the other way round; the job records the
    file of the location asked for (jobs.db cert_path).
  BitsClientJob.SetClientCertificateByName(CertStoreLocation, StoreName, SubjectName): by a
    case-insensitive part of the subject, per location; not found 0x80092004; a location
    above 7 and an empty SubjectName are w:InvalidParameter.
  BitsCompactServerUrlGroup.GetSslCertificate(Port): StoreName and the 20 hashBlob bytes of
    the binding (also through wsl invoke); none bound: 0x80070490.
  BitsCompactServerUrlGroup.RemoveSslCertificate(Port): a port without https groups is
    unbound (Get then 0x80070490, also after a restart: server.db); a port serving an https
    group with no default certificate is refused (0x80200002) and keeps serving with its
    certificate (the TLS peer certificate is still the bound one).

Exit 0 all good, 1 a case failed, 77 when ferryd lacks the WS-Man endpoint or openssl/wsl.
"""

import os
import socket
import sqlite3
import ssl
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import relpy  # noqa: E402
import wsmanc  # noqa: E402
from relpy import log  # noqa: E402
from wsmanc import Fault, GROUP, JOB  # noqa: E402

CRYPT_E_NOT_FOUND = 0x80092004
E_NOT_FOUND = 0x80070490
BG_E_INVALID_STATE = 0x80200002


def make_cert(path, subject):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", subject, "-keyout", path + ".key", "-out", path + ".crt"],
                   check=True, capture_output=True, timeout=60)
    with open(path, "wb") as out:
        for part in (".crt", ".key"):
            with open(path + part, "rb") as fh:
                out.write(fh.read())
            os.unlink(path + part)
    fp = subprocess.run(["openssl", "x509", "-in", path, "-noout", "-fingerprint", "-sha1"],
                        check=True, capture_output=True, timeout=30).stdout.decode()
    return fp.strip().split("=", 1)[1].replace(":", "").lower()


def rv(out):
    return int(out.get("ReturnValue", "-1"))


def fault_of(fn):
    try:
        fn()
    except Fault as f:
        return "%s %s" % (f.subcode, f.reason)
    return None


def peer_cert_sha1(port):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        with ctx.wrap_socket(s) as t:
            der = t.getpeercert(binary_form=True)
    import hashlib
    return hashlib.sha1(der).hexdigest()


def main():
    return wsmanc.harness("wsman-certs", run, tools=('openssl', 'wsl'))


def run(tmp, daemons):
    t = relpy.Table("wsman certificates")
    inroot = os.path.join(tmp, "in")
    pub = os.path.join(tmp, "pub")
    os.makedirs(inroot)
    os.makedirs(pub)
    with open(os.path.join(pub, "f.bin"), "wb") as fh:
        fh.write(os.urandom(10000))
    d = wsmanc.Ferryd(tmp, "d", ["--download-root", inroot, "--publish-root", pub])
    daemons.append(d)
    machine = os.path.join(d.state, "certs", "MY")
    user = os.path.join(d.state, "certs", "@CurrentUser", "MY")
    os.makedirs(machine)
    os.makedirs(user)
    srv_sha = make_cert(os.path.join(machine, "srv.pem"), "/CN=srv.test")
    other_sha = make_cert(os.path.join(machine, "other.pem"), "/CN=other.test/O=Ferry")
    cli_sha = make_cert(os.path.join(user, "client.pem"), "/CN=client.test/O=Ferry")
    d.start()
    ws = d.client()
    jid = ws.create_job("certs", "http://127.0.0.1:9/x", os.path.join(inroot, "x"),
                        suspend=True)
    db = os.path.join(d.state, "jobs.db")

    def cert_path():
        h = sqlite3.connect(db)
        try:
            return h.execute("SELECT cert_path FROM jobs WHERE id = ?", (jid,)).fetchone()[0]
        finally:
            h.close()

    def by_id(loc, sha):
        return rv(ws.invoke(JOB, "SetClientCertificateById", [
            ("CertStoreLocation", loc), ("StoreName", "MY"), ("CertHash", sha)],
            {"JobId": jid}))

    def by_name(loc, subject, store="MY"):
        return rv(ws.invoke(JOB, "SetClientCertificateByName", [
            ("CertStoreLocation", loc), ("StoreName", store), ("SubjectName", subject)],
            {"JobId": jid}))

    # ---- SetClientCertificateById and CertStoreLocation ----
    r = by_id(0, cli_sha)
    t.add("ById: CurrentUser cert at location 0", "0, @CurrentUser/MY/client.pem",
          "0x%08X %s" % (r, cert_path()), r == 0 and cert_path() == os.path.join(user, "client.pem"))
    r = by_id(1, cli_sha)
    t.add("ById: CurrentUser cert at location 1", "0x%08X" % CRYPT_E_NOT_FOUND, "0x%08X" % r,
          r == CRYPT_E_NOT_FOUND and cert_path() == os.path.join(user, "client.pem"))
    r = by_id(1, other_sha)
    t.add("ById: LocalMachine cert at location 1", "0, MY/other.pem",
          "0x%08X %s" % (r, cert_path()), r == 0 and cert_path() == os.path.join(machine, "other.pem"))
    r = by_id(0, other_sha)
    t.add("ById: LocalMachine cert at location 0", "0x%08X" % CRYPT_E_NOT_FOUND, "0x%08X" % r,
          r == CRYPT_E_NOT_FOUND)
    r = by_id(4, other_sha)
    t.add("ById: location 4 (empty tree)", "0x%08X" % CRYPT_E_NOT_FOUND, "0x%08X" % r,
          r == CRYPT_E_NOT_FOUND)
    # ---- SetClientCertificateByName ----
    r = by_name(0, "client.test")
    t.add("ByName: subject part at location 0", "0, client.pem", "0x%08X %s" % (r, cert_path()),
          r == 0 and cert_path() == os.path.join(user, "client.pem"))
    r = by_name(1, "o = FERRY")
    t.add("ByName: case-insensitive, location 1", "0, other.pem", "0x%08X %s" % (r, cert_path()),
          r == 0 and cert_path() == os.path.join(machine, "other.pem"))
    r = by_name(1, "client.test")
    t.add("ByName: not at location 1", "0x%08X" % CRYPT_E_NOT_FOUND, "0x%08X" % r,
          r == CRYPT_E_NOT_FOUND and cert_path() == os.path.join(machine, "other.pem"))
    f = fault_of(lambda: by_name(9, "client.test"))
    t.add("ByName: location 9", "InvalidParameter fault", f, f is not None and "InvalidParameter" in f)
    f = fault_of(lambda: by_name(0, "x", store="../MY"))
    t.add("ByName: store name with a path", "InvalidParameter fault", f,
          f is not None and "InvalidParameter" in f)
    # ---- Get/RemoveSslCertificate (instance methods: on a plain group) ----
    plain = "http://127.0.0.1:%d/plain" % relpy.free_port()
    ws.invoke(GROUP, "CreateUrlGroup", [("UrlGroup", plain)])
    port, port2 = relpy.free_port(), relpy.free_port()

    def g_invoke(method, params):
        return ws.invoke(GROUP, method, params, {"UrlGroup": plain})

    def get_cert(p):
        try:
            el = ws.call(GROUP + "/GetSslCertificate", GROUP, {"UrlGroup": plain},
                         '<p:GetSslCertificate_INPUT xmlns:p="%s"><p:Port>%d</p:Port>'
                         '</p:GetSslCertificate_INPUT>' % (GROUP, p)).body_el()
        except Fault as f:
            return None, str(f), None
        code = int(el.findtext("{%s}ReturnValue" % GROUP, "-1"))
        blob = [int(x.text) for x in el.findall("{%s}hashBlob" % GROUP)]
        return code, el.findtext("{%s}StoreName" % GROUP), bytes(blob).hex()

    r = rv(g_invoke("SetSslCertificate", [("Port", port), ("StoreName", "MY"),
                                          ("hashBlob", srv_sha)]))
    ws.invoke(GROUP, "CreateUrl", [("UrlSuffix", "f.bin"),
                                   ("SourceFilePath", os.path.join(pub, "f.bin")),
                                   ("SDDLAuth", "D:(A;;GA;;;WD)")],
              {"UrlGroup": "https://127.0.0.1:%d/sec" % port})
    code, store, blob = get_cert(port)
    t.add("GetSslCertificate: the binding", "0 MY %s" % srv_sha[:12],
          "%s %s %s" % (code, store, (blob or "")[:12]),
          r == 0 and code == 0 and store == "MY" and blob == srv_sha)
    t.add("https group served with it", srv_sha[:12], peer_cert_sha1(port)[:12],
          peer_cert_sha1(port) == srv_sha)
    code, store, blob = get_cert(port2)
    t.add("GetSslCertificate: nothing bound", "0x%08X" % E_NOT_FOUND,
          "0x%08X" % code if code is not None else store, code == E_NOT_FOUND)
    # wsl, an independent client: invoke on the first group it enumerates
    hp = d.url[len("http://"):-len("/wsman")]
    env = dict(os.environ, WSNOSSL="true", WSENDPOINT=hp, KEEPHISTORY="0", WSUSER="admin",
               WSPASS="admin-pw")
    wdir = os.path.join(d.dir, "wsl")
    os.makedirs(wdir, exist_ok=True)
    w = subprocess.run(["wsl", "invoke", GROUP, "GetSslCertificate", "Port=%d" % port],
                       cwd=wdir, env=env, capture_output=True, timeout=60)
    wout = w.stdout.decode("utf-8", "replace") + w.stderr.decode("utf-8", "replace")
    t.add("wsl invoke GetSslCertificate", "ReturnValue 0, StoreName MY, 20 bytes",
          "rc %d, %s" % (w.returncode, "ok" if "<p:StoreName>MY</p:StoreName>" in wout else
                         wout[-200:]),
          "<p:ReturnValue>0</p:ReturnValue>" in wout and "<p:StoreName>MY</p:StoreName>" in wout
          and wout.count("<p:hashBlob>") == 20)
    # RemoveSslCertificate
    r = rv(g_invoke("RemoveSslCertificate", [("Port", port)]))
    code, store, blob = get_cert(port)
    t.add("Remove: port serving https, no default", "0x%08X, still bound and served" %
          BG_E_INVALID_STATE, "0x%08X, %s" % (r, code),
          r == BG_E_INVALID_STATE and code == 0 and blob == srv_sha and
          peer_cert_sha1(port) == srv_sha)
    r = rv(g_invoke("SetSslCertificate", [("Port", port2), ("StoreName", "MY"),
                                          ("hashBlob", other_sha)]))
    code, store, blob = get_cert(port2)
    ok = r == 0 and code == 0 and blob == other_sha
    r = rv(g_invoke("RemoveSslCertificate", [("Port", port2)]))
    code, store, blob = get_cert(port2)
    t.add("Remove: a port without https groups", "bound, 0, then 0x%08X" % E_NOT_FOUND,
          "%s, 0x%08X, then %s" % (ok, r, code), ok and r == 0 and code == E_NOT_FOUND)
    r = rv(g_invoke("RemoveSslCertificate", [("Port", port2)]))
    t.add("Remove: nothing bound", "0x%08X" % E_NOT_FOUND, "0x%08X" % r, r == E_NOT_FOUND)
    f = fault_of(lambda: g_invoke("RemoveSslCertificate", [("Port", 0)]))
    t.add("Remove: port 0", "InvalidParameter fault", f, f is not None and "InvalidParameter" in f)
    d.stop()
    d.start()
    ws = d.client()
    code, store, blob = get_cert(port2)
    code1, store1, blob1 = get_cert(port)
    t.add("after a restart (server.db)", "port2 none, port bound",
          "%s / %s %s" % (code, code1, store1),
          code == E_NOT_FOUND and code1 == 0 and blob1 == srv_sha and
          peer_cert_sha1(port) == srv_sha)
    log(t.summary())
    return 1 if t.failed() else 0


if __name__ == "__main__":
    sys.exit(main())
