#!/usr/bin/env bash
# tests/integration/journal_fields.sh - ferryd's log under a fake systemd journal. In a
# private mount namespace a tmpfs covers /run/systemd and a python3 datagram server bound
# at /run/systemd/journal/socket decodes the native journal protocol (KEY=value lines and
# the binary KEY\n<le64 length><value>\n form, memfd-passed entries too). With
# $JOURNAL_STREAM naming ferryd's stderr, every line becomes a journal entry: the main
# events carry their MESSAGE_ID (include/ferry/log_msgid.h), FERRY_JOB= the job's GUID,
# FERRY_URL= the published URL, PRIORITY= the syslog level; nothing is written to stderr.
# Without $JOURNAL_STREAM, or with one naming another file, stderr gets the plain lines
# and the journal socket nothing.
if [ -z "${FERRY_JOURNAL_NS:-}" ]; then
    [ "$(id -u)" -eq 0 ] || { echo "journal_fields: SKIP: needs root (unshare -m)" >&2; exit 77; }
    unshare -m true 2>/dev/null || { echo "journal_fields: SKIP: unshare -m refused" >&2; exit 77; }
    FERRY_JOURNAL_NS=1 exec unshare -m --propagation private "$BASH" "$0" "$@"
fi
. "$(dirname "$0")/../lib/ferry-test.sh"
ft_need /usr/bin/python3 stat
cd "$FT_TMP"

[ -d /run/systemd ] || mkdir -p /run/systemd
mount -t tmpfs -o mode=755 tmpfs /run/systemd || ft_skip "tmpfs over /run/systemd refused"
mkdir -p /run/systemd/journal

# journal.py SOCKET OUT: one JSON object per entry in OUT until SIGTERM
cat > journal.py <<'PY'
import array, json, os, signal, socket, struct, sys

def parse(data):
    fields, i = {}, 0
    while i < len(data):
        nl = data.find(b"\n", i)
        if nl < 0:
            raise ValueError("entry without a final newline")
        line = data[i:nl]
        eq = line.find(b"=")
        if eq >= 0:   # KEY=value
            key, value, i = line[:eq], line[eq + 1:], nl + 1
        else:         # KEY\n, 64-bit little-endian length, value, \n
            key = line
            (n,) = struct.unpack("<Q", data[nl + 1:nl + 9])
            value = data[nl + 9:nl + 9 + n]
            if data[nl + 9 + n:nl + 10 + n] != b"\n":
                raise ValueError("binary field %r not ended by a newline" % key)
            i = nl + 10 + n
        fields.setdefault(key.decode(), []).append(value.decode("utf-8", "replace"))
    return fields

s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)  # as journald: threads that dropped root (the notifier) log too
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
with open(sys.argv[2], "a") as out:
    while True:
        fds = array.array("i")
        data, anc, _, _ = s.recvmsg(1 << 20, socket.CMSG_SPACE(4 * fds.itemsize))
        for level, kind, cdata in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(cdata[:len(cdata) - len(cdata) % fds.itemsize])
        for fd in fds:   # a large entry arrives as a sealed memfd
            os.lseek(fd, 0, 0)
            data = b""
            while True:
                b = os.read(fd, 1 << 16)
                if not b:
                    break
                data += b
            os.close(fd)
        try:
            entry = parse(data)
        except ValueError as e:
            entry = {"PARSE_ERROR": [str(e)]}
        out.write(json.dumps(entry) + "\n")
        out.flush()
PY
/usr/bin/python3 journal.py /run/systemd/journal/socket "$FT_TMP/journal.jsonl" &
jpid=$!
FT_PIDS+=("$jpid")
for i in $(seq 1 100); do [ -S /run/systemd/journal/socket ] && break; sleep 0.05; done
[ -S /run/systemd/journal/socket ] || ft_fail "the fake journal did not bind"
entries() { [ -f "$FT_TMP/journal.jsonl" ] && wc -l <"$FT_TMP/journal.jsonl" || echo 0; }

# --- under the journal: $JOURNAL_STREAM is the device:inode of ferryd's stderr
mkdir -p "$FT_TMP/j" "$FT_TMP/pub" "$FT_TMP/in"
: >"$FT_TMP/j/ferryd.log"
JOURNAL_STREAM=$(stat -c '%d:%i' "$FT_TMP/j/ferryd.log")
export JOURNAL_STREAM
ft_ferryd_start j --publish-root "$FT_TMP/pub" --download-root "$FT_TMP/in" --auth-fail-limit 2
unset JOURNAL_STREAM
printf 'admin-pw\n' >pw
A=("$FERRYCTL" --endpoint "$FT_WSMAN_j" --user admin --password-file "$FT_TMP/pw")
head -c 300000 /dev/urandom >"$FT_TMP/pub/data.bin"
group=http://127.0.0.1:$(ft_free_port)/jr
"${A[@]}" group create "$group" || ft_fail "group create"
url=$("${A[@]}" url publish "$group" data.bin "$FT_TMP/pub/data.bin") || ft_fail "url publish"
done_id=$("${A[@]}" job create fetched "$url" "$FT_TMP/in/data.bin") || ft_fail "job create"
"${A[@]}" job wait "$done_id" --complete --interval 0.1 >/dev/null || ft_fail "job wait --complete"
cmp -s "$FT_TMP/pub/data.bin" "$FT_TMP/in/data.bin" || ft_fail "fetched file differs"
cancel_id=$("${A[@]}" job create dropped "$url" "$FT_TMP/in/d2.bin" --suspended) \
    || ft_fail "job create (cancel)"
"${A[@]}" job cancel "$cancel_id" || ft_fail "job cancel"
bad_id=$("${A[@]}" job create missing "$group/nope.bin" "$FT_TMP/in/nope.bin") \
    || ft_fail "job create (404)"
"${A[@]}" job wait "$bad_id" --interval 0.1 >/dev/null 2>&1 && ft_fail "the 404 job did not fail"
"${A[@]}" url delete "$group" data.bin || ft_fail "url delete"
# two wrong passwords with --auth-fail-limit 2: a lockout
printf 'wrong\n' >bad
for i in 1 2; do
    "$FERRYCTL" --endpoint "$FT_WSMAN_j" --user admin --password-file "$FT_TMP/bad" identify \
        >/dev/null 2>&1 && ft_fail "a wrong password was accepted"
done
ft_ferryd_stop j
sleep 0.2

[ -s "$FT_TMP/j/ferryd.log" ] && ft_fail "stderr written under the journal: $(head -3 "$FT_TMP/j/ferryd.log")"
/usr/bin/python3 - "$FT_TMP/journal.jsonl" "$FERRY_SRC/include/ferry/log_msgid.h" "$done_id" "$cancel_id" "$bad_id" \
    "$url" "$group/nope.bin" <<'PY' || ft_fail "journal fields (entries in $FT_TMP/journal.jsonl)"
import json, re, sys
path, header, done_id, cancel_id, bad_id, url, bad_url = sys.argv[1:8]
ids = dict(re.findall(r'#define FERRY_MSGID_(\w+)\s+"([0-9a-f]{32})"', open(header).read()))
assert len(ids) == 10 and len(set(ids.values())) == 10, ids
entries = [json.loads(l) for l in open(path)]
assert entries, "no journal entries"
def one(e, k):
    v = e.get(k, [])
    assert len(v) == 1, (k, e)
    return v[0]
for e in entries:
    assert "PARSE_ERROR" not in e, e
    assert one(e, "SYSLOG_IDENTIFIER") == "ferryd", e
    assert one(e, "PRIORITY") in "3467", e
    one(e, "MESSAGE"); one(e, "FERRY_THREAD")
def event(name, **want):
    hits = [e for e in entries if e.get("MESSAGE_ID") == [ids[name]]]
    for k, v in want.items():
        hits = [e for e in hits if e.get(k) == [v]]
    assert hits, "no %s entry with %s; entries with that id: %s" % (name, want,
        [e for e in entries if e.get("MESSAGE_ID") == [ids[name]]])
    return hits[0]
e = event("DAEMON_START", PRIORITY="6")
assert one(e, "MESSAGE").startswith("ferryd ") and "ready" in one(e, "MESSAGE"), e
assert one(e, "CODE_FILE").endswith("ferryd.c") and int(one(e, "CODE_LINE")) > 0, e
assert one(e, "CODE_FUNC") == "main", e
event("DAEMON_STOP", PRIORITY="6")
e = event("URL_PUBLISHED", FERRY_URL=url, PRIORITY="6")
assert url in one(e, "MESSAGE"), e
event("URL_REMOVED", FERRY_URL=url)
e = event("JOB_CREATED", FERRY_JOB=done_id, PRIORITY="6")
assert one(e, "CODE_FILE").endswith("jobs.c"), e
assert "FERRY_URL" not in e, e
event("JOB_TRANSFERRED", FERRY_JOB=done_id)
event("JOB_ACKNOWLEDGED", FERRY_JOB=done_id)
event("JOB_CREATED", FERRY_JOB=cancel_id)
event("JOB_CANCELLED", FERRY_JOB=cancel_id)
event("JOB_ERROR", FERRY_JOB=bad_id, FERRY_URL=bad_url, PRIORITY="4")
e = event("AUTH_LOCKOUT", PRIORITY="4")
assert "'admin'" in one(e, "MESSAGE"), e
# a line that is no event has no MESSAGE_ID but the same common fields
assert any("MESSAGE_ID" not in e and "listening on" in one(e, "MESSAGE") for e in entries)
# GUIDs as the API shows them
assert re.fullmatch(r"\{[0-9A-Fa-f-]{36}\}", done_id), done_id
PY

# --- not under the journal: plain stderr lines, nothing sent to the socket
line_re='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z ferryd\[[0-9]+\] (ERROR|WARN|INFO|DEBUG) [^ :]+: '
plain() { # NAME: a ferryd start, a job created, a stop; asserts the stderr lines
    local name=$1 before
    before=$(entries)
    ft_ferryd_start "$name" --download-root "$FT_TMP/in"
    id=$("$FERRYCTL" --endpoint "$(eval echo "\$FT_WSMAN_$name")" --user admin \
        --password-file "$FT_TMP/pw" job create p "$group/x.bin" "$FT_TMP/in/x.bin" --suspended) \
        || ft_fail "$name: job create"
    ft_ferryd_stop "$name"
    local log=$FT_TMP/$name/ferryd.log
    grep -Eq "${line_re}ferryd [^ ]+ ready \(state '$FT_TMP/$name'\)$" "$log" \
        || ft_fail "$name: no plain ready line: $(cat "$log")"
    grep -Fq "job $id created ('p', SUSPENDED)" "$log" \
        || ft_fail "$name: no plain 'job created' line: $(cat "$log")"
    grep -Eq "${line_re}signal 15: stopping$" "$log" || ft_fail "$name: no plain stop line"
    bad=$(grep -Evc "$line_re" "$log" || true)
    ft_assert_eq 0 "$bad" "$name: stderr lines not of the plain form"
    ft_assert_eq "$before" "$(entries)" "$name: journal entries sent"
}
unset JOURNAL_STREAM
plain p1
export JOURNAL_STREAM=1:1   # someone else's stream: not ours
plain p2
unset JOURNAL_STREAM
ft_pass
