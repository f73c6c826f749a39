"""wsmanc - a small, independent WS-Man client and ferryd process handling for the
reliability suite (stdlib only: urllib, xml.etree). Envelopes come from the fixture files
in tests/tools/envelopes/ with @PLACEHOLDER@ fields filled in.

    d = Ferryd(tmp, "cli", ["--download-root", root]).start()
    ws = d.client()                       # admin / admin-pw
    job = ws.create_job("name", url, path)
    ws.job(job)["State"]
    d.kill9(); d.start()                  # same state dir
"""

import base64
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

HERE = os.path.dirname(os.path.abspath(__file__))
ENV_DIR = os.path.join(HERE, "envelopes")

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "n": "http://schemas.xmlsoap.org/ws/2004/09/enumeration",
    "x": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "wsmid": "http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd",
}
BITS = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/microsoft/bits/"
JOB = BITS + "BitsClientJob"
FILE = BITS + "BitsClientFile"
GROUP = BITS + "BitsCompactServerUrlGroup"
A_GET = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get"
A_PUT = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Put"
A_ENUM = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate"
A_PULL = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Pull"
A_RELEASE = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Release"

STATES = ["QUEUED", "CONNECTING", "TRANSFERRING", "SUSPENDED", "ERROR", "TRANSIENT_ERROR",
          "TRANSFERRED", "ACKNOWLEDGED", "CANCELLED"]


def rss_kib(pid):
    """VmRSS of a process in KiB (0 when /proc does not say)."""
    with open("/proc/%d/status" % pid) as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fixture(name):
    with open(os.path.join(ENV_DIR, name), encoding="utf-8") as fh:
        return fh.read()


def local(tag):
    return tag.rsplit("}", 1)[-1]


class Fault(Exception):
    def __init__(self, status, code, subcode, reason, detail, raw):
        super().__init__("%s %s: %s (%s) HTTP %s" % (code, subcode, reason, detail, status))
        self.status = status
        self.code = code
        self.subcode = subcode
        self.reason = reason
        self.detail = detail
        self.raw = raw


class Reply:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        self.root = None
        if body:
            try:
                self.root = ET.fromstring(body)
            except ET.ParseError:
                self.root = None

    def fault(self):
        """(code, subcode, reason, detail) when the body is a SOAP fault, else None."""
        if self.root is None:
            return None
        f = self.root.find("s:Body/s:Fault", NS)
        if f is None:
            return None
        code = f.findtext("s:Code/s:Value", "", NS)
        sub = f.findtext("s:Code/s:Subcode/s:Value", "", NS)
        reason = f.findtext("s:Reason/s:Text", "", NS)
        det = f.findtext("s:Detail/w:FaultDetail", "", NS)
        # s:MustUnderstand and s:VersionMismatch carry no subcode: report the code
        return code, sub or code, reason, det

    def body_el(self):
        if self.root is None:
            return None
        b = self.root.find("s:Body", NS)
        return b[0] if b is not None and len(b) else None


class Wsman:
    def __init__(self, url, user="admin", password="admin-pw", timeout=30):
        self.url = url
        self.user = user
        self.password = password
        self.timeout = timeout

    # ---- transport ----

    def post(self, data, content_type="application/soap+xml;charset=UTF-8", auth=True,
             extra_headers=None):
        if isinstance(data, str):
            data = data.encode("utf-8")
        req = urllib.request.Request(self.url, data=data, method="POST")
        req.add_header("Content-Type", content_type)
        if auth and self.user is not None:
            tok = base64.b64encode(("%s:%s" % (self.user, self.password)).encode()).decode()
            req.add_header("Authorization", "Basic " + tok)
        for k, v in (extra_headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                return Reply(r.status, dict(r.headers), r.read())
        except urllib.error.HTTPError as e:
            return Reply(e.code, dict(e.headers), e.read())

    def envelope(self, action, resource, selectors=None, body="", headers=""):
        sel = ""
        if selectors:
            sel = "<w:SelectorSet>" + "".join(
                '<w:Selector Name="%s">%s</w:Selector>' % (escape(k), escape(v))
                for k, v in selectors.items()) + "</w:SelectorSet>"
        env = fixture("request.xml")
        for k, v in (("@TO@", escape(self.url)), ("@RESOURCE@", escape(resource)),
                     ("@ACTION@", escape(action)), ("@MSGID@", str(uuid.uuid4())),
                     ("@SELECTORS@", sel), ("@HEADERS@", headers), ("@BODY@", body)):
            env = env.replace(k, v)
        return env

    def call(self, action, resource, selectors=None, body="", headers=""):
        return self.call_env(self.envelope(action, resource, selectors, body, headers))

    def call_env(self, env):
        """POST a whole envelope; the Reply, or Fault on a fault or a non-200 status."""
        r = self.post(env)
        f = r.fault()
        if f is not None or r.status != 200:
            if f is None:
                f = ("", "", "HTTP %d without a fault body" % r.status, "")
            raise Fault(r.status, *f, raw=r.body)
        return r

    # ---- operations ----

    def identify(self, auth=True, anonymous_header=True):
        """Identify; without auth, sends WSMANIDENTIFY: unauthenticated as WinRM clients do
        (unless anonymous_header is False)."""
        hdr = {"WSMANIDENTIFY": "unauthenticated"} if not auth and anonymous_header else None
        return self.post(fixture("identify.xml"), auth=auth, extra_headers=hdr)

    def get(self, resource, selectors):
        r = self.call(A_GET, resource, selectors)
        return props(r.body_el())

    def invoke(self, resource, method, params, selectors=None):
        body = '<p:%s_INPUT xmlns:p="%s">%s</p:%s_INPUT>' % (
            method, resource, "".join("<p:%s>%s</p:%s>" % (k, escape(str(v)), k)
                                      for k, v in params), method)
        r = self.call(resource + "/" + method, resource, selectors, body)
        return props(r.body_el())

    def enumerate_all(self, resource, max_elements=20):
        body = ("<n:Enumerate><w:OptimizeEnumeration/><w:MaxElements>%d</w:MaxElements>"
                "</n:Enumerate>" % max_elements)
        r = self.call(A_ENUM, resource, None, body)
        items = []
        el = r.body_el()
        ctx = el.findtext("n:EnumerationContext", "", NS)
        its = el.find("w:Items", NS)
        if its is not None:
            items += [props(i) for i in its]
        end = el.find("w:EndOfSequence", NS) is not None
        while not end and ctx:
            body = ("<n:Pull><n:EnumerationContext>%s</n:EnumerationContext>"
                    "<n:MaxElements>%d</n:MaxElements></n:Pull>" % (escape(ctx), max_elements))
            r = self.call(A_PULL, resource, None, body)
            el = r.body_el()
            its = el.find("n:Items", NS)
            if its is not None:
                items += [props(i) for i in its]
            end = el.find("n:EndOfSequence", NS) is not None
            ctx = el.findtext("n:EnumerationContext", "", NS)
        return items

    # ---- BITS helpers ----

    def create_job(self, name, url, local_file, suspend=False):
        out = self.invoke(JOB, "CreateJob", [("DisplayName", name), ("RemoteUrl", url),
                                              ("LocalFile", local_file),
                                              ("Suspend", "true" if suspend else "false")])
        if out.get("ReturnValue") not in ("0", None):
            raise RuntimeError("CreateJob ReturnValue %s" % out.get("ReturnValue"))
        return out["JobId"]

    def job(self, job_id):
        return self.get(JOB, {"JobId": job_id})

    def set_state(self, job_id, action):
        return self.invoke(JOB, "SetJobState", [("JobState", action)], {"JobId": job_id})

    def get_error(self, job_id):
        return self.invoke(JOB, "GetError", [("LanguageId", 0)], {"JobId": job_id})

    def set_props(self, job_id, **kv):
        """Put with only the given writable properties (the others as Get returned them)."""
        cur = self.job(job_id)
        cur.update({k: str(v) for k, v in kv.items()})
        keys = ["JobId", "DisplayName", "Description", "Priority", "MinimumRetryDelay",
                "NoProgressTimeout"]
        body = '<p:BitsClientJob xmlns:p="%s">%s</p:BitsClientJob>' % (
            JOB, "".join("<p:%s>%s</p:%s>" % (k, escape(cur.get(k, "")), k) for k in keys
                         if k in cur))
        self.call(A_PUT, JOB, {"JobId": job_id}, body)


def props(el):
    """An instance element -> {local name: text} (first occurrence; lists as 'name[]')."""
    out = {}
    if el is None:
        return out
    for c in el:
        n = local(c.tag)
        if len(c):
            out.setdefault(n + "[]", []).append(props(c))
        else:
            out.setdefault(n, c.text or "")
    return out


# ---- ferryd processes ----

def build_dir():
    b = os.environ.get("FERRY_BUILD")
    if b:
        return b
    return os.path.join(os.environ.get("FERRY_SRC", os.path.join(HERE, "..", "..")), "build")


def ferryd_path():
    return os.environ.get("FERRYD") or os.path.join(build_dir(), "control", "ferryd")


def ferryctl_path():
    return os.environ.get("FERRYCTL") or os.path.join(build_dir(), "control", "ferryctl")


def ferryd_runs_wsman():
    """ferryd assembles the WS-Man endpoint when its --help lists --wsman-listen."""
    try:
        out = subprocess.run([ferryd_path(), "--help"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return b"--wsman-listen" in out.stdout + out.stderr


def add_user(state, name, password, role):
    os.makedirs(state, mode=0o700, exist_ok=True)
    r = subprocess.run([ferryctl_path(), "user", "add", "--state-dir", state, name,
                        "--role", role], input=(password + "\n").encode(),
                       capture_output=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("ferryctl user add %s: %s" % (name, r.stderr.decode()))


class Ferryd:
    """One ferryd with its state dir STATE=tmp/name/state; log tmp/name/ferryd.log."""

    def __init__(self, tmp, name, args=(), users=(("admin", "admin-pw", "admin"),),
                 config_lines=()):
        self.dir = os.path.join(tmp, name)
        self.state = os.path.join(self.dir, "state")
        os.makedirs(self.dir, exist_ok=True)
        self.args = list(args)
        self.log_path = os.path.join(self.dir, "ferryd.log")
        self.proc = None
        self.url = None
        self.cfg = None
        self.wrap = []  # a command prefix, e.g. ["setpriv", "--bounding-set=-dac_override"]
        if config_lines:
            self.cfg = os.path.join(self.dir, "ferryd.conf")
            with open(self.cfg, "w") as fh:
                fh.write("\n".join(config_lines) + "\n")
        if not os.path.exists(os.path.join(self.state, "users")):
            for u, p, role in users:
                add_user(self.state, u, p, role)

    def start(self, timeout=15):
        ready = os.path.join(self.state, "ferryd.ready")
        try:
            os.unlink(ready)
        except FileNotFoundError:
            pass
        argv = [ferryd_path(), "--state-dir", self.state, "--wsman-listen", "127.0.0.1:0"]
        if self.cfg:
            argv += ["--config", self.cfg]
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.wrap + argv + self.args, stdout=subprocess.DEVNULL,
                                     stderr=self.logf)
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("ferryd %s exited at start (%s):\n%s" % (
                    self.dir, self.proc.returncode, self.tail()))
            try:
                with open(ready) as fh:
                    for line in fh:
                        w = line.split()
                        if len(w) >= 2 and w[0] == "wsman":
                            self.url = w[1]
                if self.url:
                    return self
            except FileNotFoundError:
                pass
            time.sleep(0.01)
        raise RuntimeError("ferryd %s not ready:\n%s" % (self.dir, self.tail()))

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def client(self, user="admin", password="admin-pw"):
        return Wsman(self.url, user, password)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self._closelog()

    kill = kill9

    def stop(self, timeout=20):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self._closelog()
                return "hung"
        self._closelog()
        return self.proc.returncode

    def _closelog(self):
        try:
            self.logf.close()
        except Exception:
            pass

    def tail(self, n=40):
        try:
            with open(self.log_path, "rb") as fh:
                return b"\n".join(fh.read().splitlines()[-n:]).decode("utf-8", "replace")
        except OSError:
            return ""

    def log_text(self):
        try:
            with open(self.log_path, "rb") as fh:
                return fh.read()
        except OSError:
            return b""


def harness(name, run, tools=(), what="ferryd with WS-Man"):
    """The main() of a test script driving real ferryd processes over WS-Man: SKIP (77)
    when ferryd lacks the endpoint or one of `tools` is not installed; else run(tmp, procs)
    in a fresh relpy.TmpDir (kept when the run fails), every process put in `procs` killed
    on every exit path, the log tail of each ferryd printed on a failure. Returns the exit
    code: run's, or 1 on an exception."""
    import shutil
    import relpy

    if not ferryd_runs_wsman():
        relpy.log("SKIP: feature '%s' not in this build (ferryd --help lists no "
                  "--wsman-listen)" % what)
        return relpy.SKIP
    for tool in tools:
        if shutil.which(tool) is None:
            relpy.log("SKIP: %s not installed" % tool)
            return relpy.SKIP
    tmp = relpy.TmpDir(name)
    procs = []
    failed = True
    try:
        rc = run(tmp.path, procs)
        failed = rc != 0
        return rc
    except (relpy.Fail, RuntimeError, Fault, OSError, KeyError,
            subprocess.CalledProcessError) as e:
        relpy.log("FAIL: %r" % e)
        for p in procs:
            if isinstance(p, Ferryd):
                relpy.log("---- %s\n%s" % (p.dir, p.tail()))
        return 1
    finally:
        for p in procs:
            p.kill()
        tmp.done(failed)
