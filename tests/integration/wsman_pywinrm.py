#!/usr/bin/python3
"""tests/integration/wsman_pywinrm.py - python3-winrm (pywinrm) as an independent WS-Man
client of two real ferryd processes, with envelopes shaped the way PowerShell's WinRM client
sends them (s/a/w/p prefixes, MaxEnvelopeSize, Locale, DataLocale, SessionId, OperationID,
OperationTimeout), Basic over http with message_encryption='never':

  server role (ferryd "srv"): CreateUrlGroup, CreateUrl, CheckUrl, the file fetched with curl,
  client role (ferryd "cli"): CreateJob (suspended) -> Get + Put of Priority (Set-WSManInstance
  style: the Get body sent back with one value changed) -> SetJobState resume -> poll Get until
  State 6 (TRANSFERRED) -> SetJobState complete -> the file is at LocalFile, byte for byte;
  then DeleteUrl, CheckUrl false, DeleteUrlGroup; faults surface as WinRMError with the right
  subcode, wrong credentials as InvalidCredentialsError.
"""
import base64
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET

try:
    import winrm  # noqa: F401
    from winrm.exceptions import InvalidCredentialsError, WinRMError, WinRMTransportError
    from winrm.protocol import Protocol
except ImportError:
    print("SKIP: python3-winrm not installed", file=sys.stderr)
    sys.exit(77)

FERRYD = os.environ.get("FERRYD")
if not FERRYD or not shutil.which("curl"):
    print("SKIP: FERRYD or curl missing", file=sys.stderr)
    sys.exit(77)

BITS = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/microsoft/bits/"
JOB = BITS + "BitsClientJob"
GROUP = BITS + "BitsCompactServerUrlGroup"
NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "n": "http://schemas.xmlsoap.org/ws/2004/09/enumeration",
}
ACT_GET = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get"
ACT_PUT = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Put"

TMP = tempfile.mkdtemp(prefix="ferry-test-wsman_pywinrm-")
PROCS = []


def fail(msg):
    print("[wsman_pywinrm] FAIL: " + msg, file=sys.stderr)
    for name in ("srv", "cli"):
        log = os.path.join(TMP, name, "ferryd.log")
        if os.path.exists(log):
            print("---- %s (tail)" % log, file=sys.stderr)
            with open(log) as f:
                print("".join(f.readlines()[-30:]), file=sys.stderr)
    cleanup()
    sys.exit(1)


def cleanup():
    for p in PROCS:
        if p.poll() is None:
            p.kill()
            p.wait()
    if os.environ.get("FERRY_TEST_KEEP") != "1":
        shutil.rmtree(TMP, ignore_errors=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_ferryd(name, *extra):
    d = os.path.join(TMP, name)
    os.makedirs(d)
    user_add(d, "admin", "admin", "admin-pw")
    log = open(os.path.join(d, "ferryd.log"), "w")
    p = subprocess.Popen([FERRYD, "--state-dir", d, "--wsman-listen", "127.0.0.1:0"] +
                         list(extra), stderr=log)
    PROCS.append(p)
    ready = os.path.join(d, "ferryd.ready")
    for _ in range(1000):
        if os.path.exists(ready):
            with open(ready) as f:
                for line in f:
                    if line.startswith("wsman "):
                        return p, line.split()[1]
        if p.poll() is not None:
            fail("ferryd %s exited at start" % name)
        time.sleep(0.01)
    fail("ferryd %s not ready" % name)


def user_add(state_dir, name, role, password):
    """A users-file line (name:role:pbkdf2-sha256$ITER$SALT$HASH), written directly."""
    salt = os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 10000, 32)
    fd = os.open(os.path.join(state_dir, "users"), os.O_WRONLY | os.O_APPEND | os.O_CREAT,
                 0o600)
    os.write(fd, ("%s:%s:pbkdf2-sha256$%d$%s$%s\n" % (
        name, role, 10000, base64.b64encode(salt).decode(),
        base64.b64encode(digest).decode())).encode())
    os.close(fd)


def header(action, uri, selectors=None):
    """A request header the way PowerShell's WinRM client writes one."""
    sel = ""
    if selectors:
        sel = "<w:SelectorSet>" + "".join(
            '<w:Selector Name="%s">%s</w:Selector>' % kv for kv in selectors.items()
        ) + "</w:SelectorSet>"
    return (
        '<s:Envelope xmlns:s="%(s)s" xmlns:a="%(a)s" xmlns:w="%(w)s" '
        'xmlns:p="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd">'
        "<s:Header><a:To>http://windows-host:5985/wsman</a:To>"
        '<w:ResourceURI s:mustUnderstand="true">%(uri)s</w:ResourceURI>'
        '<a:ReplyTo><a:Address s:mustUnderstand="true">'
        "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo>"
        '<a:Action s:mustUnderstand="true">%(action)s</a:Action>'
        '<w:MaxEnvelopeSize s:mustUnderstand="true">512000</w:MaxEnvelopeSize>'
        "<a:MessageID>uuid:%(mid)s</a:MessageID>"
        '<w:Locale xml:lang="en-US" s:mustUnderstand="false"/>'
        '<p:DataLocale xml:lang="en-US" s:mustUnderstand="false"/>'
        '<p:SessionId s:mustUnderstand="false">uuid:%(sid)s</p:SessionId>'
        '<p:OperationID s:mustUnderstand="false">uuid:%(oid)s</p:OperationID>'
        '<p:SequenceId s:mustUnderstand="false">1</p:SequenceId>'
        "%(sel)s<w:OperationTimeout>PT60.000S</w:OperationTimeout></s:Header>"
        % dict(NS, uri=uri, action=action, mid=str(uuid.uuid4()).upper(),
               sid=str(uuid.uuid4()).upper(), oid=str(uuid.uuid4()).upper(), sel=sel)
    )


def invoke(proto, uri, method, params, selectors=None):
    body = "".join("<p:%s>%s</p:%s>" % (k, v, k) for k, v in params)
    env = header(uri + "/" + method, uri, selectors) + (
        '<s:Body><p:%s_INPUT xmlns:p="%s">%s</p:%s_INPUT></s:Body></s:Envelope>'
        % (method, uri, body, method))
    root = ET.fromstring(proto.send_message(env))
    out = root.find(".//{%s}%s_OUTPUT" % (uri, method))
    if out is None:
        fail("%s: no _OUTPUT" % method)
    return {child.tag.split("}")[1]: child.text for child in out}


def get(proto, uri, selectors):
    return proto.send_message(header(ACT_GET, uri, selectors) + "<s:Body/></s:Envelope>")


def prop(xml_bytes, uri, cls, name):
    root = ET.fromstring(xml_bytes)
    el = root.find(".//{%s}%s/{%s}%s" % (uri, cls, uri, name))
    return None if el is None else el.text


def expect_fault(proto, env, subcode):
    try:
        proto.send_message(env)
    except WinRMError as e:
        if subcode not in str(e):
            fail("expected %s, got %s" % (subcode, e))
        return
    except WinRMTransportError as e:
        fail("expected a SOAP fault %s, got a transport error %s" % (subcode, e))
    fail("expected fault %s, got success" % subcode)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    pub = os.path.join(TMP, "pub")
    dl = os.path.join(TMP, "in")
    os.makedirs(pub)
    os.makedirs(dl)
    src = os.path.join(pub, "disk.img")
    with open(src, "wb") as f:
        f.write(os.urandom(3 * 1024 * 1024 + 12345))

    _, srv_url = start_ferryd("srv", "--publish-root", pub)
    _, cli_url = start_ferryd("cli", "--download-root", dl)
    srv = Protocol(srv_url, transport="basic", username="admin", password="admin-pw",
                   message_encryption="never", read_timeout_sec=30, operation_timeout_sec=20)
    cli = Protocol(cli_url, transport="basic", username="admin", password="admin-pw",
                   message_encryption="never", read_timeout_sec=30, operation_timeout_sec=20)

    # --- server role: publish the file ---
    port = free_port()
    prefix = "http://127.0.0.1:%d/pub" % port
    out = invoke(srv, GROUP, "CreateUrlGroup", [("UrlGroup", prefix)])
    if out.get("ReturnValue") != "0":
        fail("CreateUrlGroup: %r" % out)
    out = invoke(srv, GROUP, "CreateUrl",
                 [("UrlSuffix", "disk.img"), ("SourceFilePath", src),
                  ("SDDLAuth", "D:(A;;GA;;;WD)")], {"UrlGroup": prefix})
    if out.get("ReturnValue") != "0":
        fail("CreateUrl: %r" % out)
    out = invoke(srv, GROUP, "CheckUrl", [("UrlSuffix", "disk.img")], {"UrlGroup": prefix})
    if out.get("UrlExists") != "true" or out.get("ReturnValue") != "0":
        fail("CheckUrl after CreateUrl: %r" % out)
    fetched = os.path.join(TMP, "curl.img")
    code = subprocess.run(["curl", "-s", "-o", fetched, "-w", "%{http_code}",
                           prefix + "/disk.img"], capture_output=True, text=True).stdout
    if code != "200" or sha256(fetched) != sha256(src):
        fail("curl of the published URL: status %s" % code)
    grp = get(srv, GROUP, {"UrlGroup": prefix})
    if prop(grp, GROUP, "BitsCompactServerUrlGroup", "UrlGroup") != prefix:
        fail("Get of the URL group")

    # --- client role: a job fetching it ---
    local = os.path.join(dl, "disk.img")
    out = invoke(cli, JOB, "CreateJob",
                 [("DisplayName", "pywinrm"), ("RemoteUrl", prefix + "/disk.img"),
                  ("LocalFile", local), ("Suspend", "true")])
    job = out.get("JobId") or ""
    if out.get("ReturnValue") != "0" or not re.match(r"^\{[0-9A-Fa-f-]{36}\}$", job):
        fail("CreateJob: %r" % out)
    body = get(cli, JOB, {"JobId": job}).decode()
    if prop(body, JOB, "BitsClientJob", "State") != "3":
        fail("a suspended job is not in State 3")
    if prop(body, JOB, "BitsClientJob", "Priority") != "2":
        fail("default Priority is not 2")

    # Set-WSManInstance: the Get body's instance, Priority changed, sent back whole
    m = re.search(r"<p:BitsClientJob>.*</p:BitsClientJob>", body, re.S)
    if not m:
        fail("Get body has no <p:BitsClientJob> instance")
    inst = re.sub(r"<p:Priority>\d</p:Priority>", "<p:Priority>1</p:Priority>", m.group(0))
    inst = inst.replace("<p:BitsClientJob>", '<p:BitsClientJob xmlns:p="%s">' % JOB, 1)
    put = cli.send_message(header(ACT_PUT, JOB, {"JobId": job}) + "<s:Body>" + inst +
                           "</s:Body></s:Envelope>")
    if prop(put, JOB, "BitsClientJob", "Priority") != "1":
        fail("PutResponse does not show Priority 1")
    if prop(get(cli, JOB, {"JobId": job}), JOB, "BitsClientJob", "Priority") != "1":
        fail("Get after Put does not show Priority 1")

    out = invoke(cli, JOB, "SetJobState", [("JobState", "2")], {"JobId": job})
    if out.get("ReturnValue") != "0":
        fail("resume: %r" % out)
    state = None
    deadline = time.time() + 60
    while time.time() < deadline:
        state = prop(get(cli, JOB, {"JobId": job}), JOB, "BitsClientJob", "State")
        if state in ("6", "4"):
            break
        time.sleep(0.2)
    if state != "6":
        err = invoke(cli, JOB, "GetError", [("LanguageId", "1033")], {"JobId": job})
        fail("job did not reach TRANSFERRED (State %s): %r" % (state, err))
    if os.path.exists(local):
        fail("LocalFile appeared before complete")
    out = invoke(cli, JOB, "SetJobState", [("JobState", "1")], {"JobId": job})
    if out.get("ReturnValue") != "0":
        fail("complete: %r" % out)
    if not os.path.exists(local) or sha256(local) != sha256(src):
        fail("the completed file differs from the source")
    if prop(get(cli, JOB, {"JobId": job}), JOB, "BitsClientJob", "State") != "7":
        fail("a completed job is not ACKNOWLEDGED")
    # a completed job is read-only: a BITS code, not a fault
    out = invoke(cli, JOB, "SetJobState", [("JobState", "2")], {"JobId": job})
    if out.get("ReturnValue") == "0":
        fail("resume of an acknowledged job succeeded")

    # --- tear the server side down ---
    out = invoke(srv, GROUP, "DeleteUrl", [("UrlSuffix", "disk.img")], {"UrlGroup": prefix})
    if out.get("ReturnValue") != "0":
        fail("DeleteUrl: %r" % out)
    out = invoke(srv, GROUP, "CheckUrl", [("UrlSuffix", "disk.img")], {"UrlGroup": prefix})
    if out.get("UrlExists") != "false":
        fail("CheckUrl after DeleteUrl: %r" % out)
    code = subprocess.run(["curl", "-s", "-o", os.devnull, "-w", "%{http_code}",
                           prefix + "/disk.img"], capture_output=True, text=True).stdout
    if code == "200":
        fail("the deleted URL is still served")
    out = invoke(srv, GROUP, "DeleteUrlGroup", [], {"UrlGroup": prefix})
    if out.get("ReturnValue") != "0":
        fail("DeleteUrlGroup: %r" % out)

    # --- faults through pywinrm ---
    expect_fault(cli, header(ACT_GET, JOB, {"JobId": "{00000000-0000-4000-8000-000000000000}"})
                 + "<s:Body/></s:Envelope>", "InvalidSelectors")
    expect_fault(cli, header(ACT_GET, JOB) + "<s:Body/></s:Envelope>", "InvalidSelectors")
    expect_fault(cli, header(ACT_GET, BITS + "Nope", {"JobId": job}) + "<s:Body/></s:Envelope>",
                 "DestinationUnreachable")
    expect_fault(cli, header(JOB + "/Frobnicate", JOB, {"JobId": job}) +
                 "<s:Body/></s:Envelope>", "ActionNotSupported")
    bad = Protocol(cli_url, transport="basic", username="admin", password="nope",
                   message_encryption="never")
    try:
        bad.send_message(header(ACT_GET, JOB, {"JobId": job}) + "<s:Body/></s:Envelope>")
        fail("wrong password accepted")
    except InvalidCredentialsError:
        pass

    for p in PROCS:
        p.send_signal(signal.SIGTERM)
    for p in PROCS:
        if p.wait(timeout=15) != 0:
            fail("ferryd exited with %d on SIGTERM" % p.returncode)
    cleanup()
    print("[wsman_pywinrm] PASS", file=sys.stderr)


if __name__ == "__main__":
    try:
        main()
    except SystemExit:
        raise
    except Exception as e:  # any unexpected client error is a failure with context
        fail("%s: %s" % (type(e).__name__, e))
