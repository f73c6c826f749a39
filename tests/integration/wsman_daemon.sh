#!/usr/bin/env bash
# tests/integration/wsman_daemon.sh - ferryd's main(): exit codes of --help/--version/bad
# arguments, the ready file (actual ports, atomic), sd_notify READY=1/STOPPING=1 on a real
# datagram socket, SIGHUP keeps serving, SIGTERM exits 0 and removes the ready file; GET
# /metrics (admin only) with real engine counters.
. "$(dirname "$0")/../lib/ferry-test.sh"
. "$(dirname "$0")/wsman_lib.sh"
ft_need curl /usr/bin/python3
cd "$FT_TMP"

"$FERRYD" --help > help.out 2>&1 || ft_fail "--help did not exit 0"
grep -q -- '--wsman-listen' help.out || ft_fail "--help does not list --wsman-listen"
"$FERRYD" --version | grep -q '^ferryd ' || ft_fail "--version"
rc=0; "$FERRYD" --no-such-flag 2> bad.err || rc=$?
ft_assert_eq 2 "$rc" "exit status on a bad flag"
grep -q 'no-such-flag' bad.err || ft_fail "the bad flag is not named: $(cat bad.err)"
rc=0; "$FERRYD" --wsman-listen 127.0.0.1:0 2> bad2.err || rc=$?
ft_assert_eq 2 "$rc" "exit status without --state-dir"

# sd_notify: a datagram socket we read from
cat > "$FT_TMP/notify.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(30)
with open(sys.argv[2], "a") as out:
    while True:
        try:
            msg = s.recv(4096).decode()
        except socket.timeout:
            break
        out.write(msg + "\n")
        out.flush()
        if "STOPPING=1" in msg:
            break
PY
/usr/bin/python3 "$FT_TMP/notify.py" "$FT_TMP/notify.sock" "$FT_TMP/notify.log" &
NPID=$!
FT_PIDS+=("$NPID")
for i in $(seq 1 100); do [ -S "$FT_TMP/notify.sock" ] && break; sleep 0.05; done

mkdir -p "$FT_TMP/in"
NOTIFY_SOCKET="$FT_TMP/notify.sock" wsman_ferryd_start d --download-root "$FT_TMP/in" --metrics
URL=$FT_WSMAN_d
[[ $URL =~ ^http://127\.0\.0\.1:[0-9]+/wsman$ ]] || ft_fail "ready file URL '$URL'"
[[ $URL =~ :0/ ]] && ft_fail "the ready file shows port 0"
ls "$FT_TMP/d"/ferryd.ready.tmp* >/dev/null 2>&1 && ft_fail "a temporary ready file was left"
for i in $(seq 1 100); do grep -q 'READY=1' "$FT_TMP/notify.log" 2>/dev/null && break; sleep 0.05; done
grep -q 'READY=1' "$FT_TMP/notify.log" || ft_fail "no READY=1 on NOTIFY_SOCKET"

CT='Content-Type: application/soap+xml;charset=UTF-8'
IDENT='<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsmid="http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd"><s:Header/><s:Body><wsmid:Identify/></s:Body></s:Envelope>'
ft_assert_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' -u admin:admin-pw -H "$CT" --data-binary "$IDENT" "$URL")" "Identify"

# /metrics: administrators only, Prometheus text with engine counters
BASE=${URL%/wsman}
ft_assert_eq 401 "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/metrics")" "metrics without credentials"
curl -s -u admin:admin-pw -D mh -o metrics.txt "$BASE/metrics"
grep -q '^HTTP/1.1 200' mh || ft_fail "metrics: $(head -n1 mh)"
grep -qi '^Content-Type: text/plain' mh || ft_fail "metrics content type"
grep -q '^ferry_jobs{state="QUEUED"} [0-9]' metrics.txt || ft_fail "no jobs gauge: $(head metrics.txt)"
grep -q '^ferry_server_bytes_served_total [0-9]' metrics.txt || ft_fail "no served bytes"
grep -q '^# TYPE ferry_client_bytes_fetched_total counter' metrics.txt || ft_fail "no TYPE line"
wsman_user_add "$FT_TMP/d" bob user bob-pw
ft_assert_eq 403 "$(curl -s -o /dev/null -w '%{http_code}' -u bob:bob-pw "$BASE/metrics")" "metrics as a user"

# SIGHUP: still serving (and bob, added meanwhile, authenticates)
kill -HUP "$FT_PID_d"
sleep 0.2
kill -0 "$FT_PID_d" || ft_fail "ferryd died on SIGHUP"
ft_assert_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' -u bob:bob-pw -H "$CT" --data-binary "$IDENT" "$URL")" "Identify after SIGHUP"

ft_ferryd_stop d
[ -e "$FT_TMP/d/ferryd.ready" ] && ft_fail "the ready file outlived ferryd"
wait "$NPID" 2>/dev/null || true
grep -q 'STOPPING=1' "$FT_TMP/notify.log" || ft_fail "no STOPPING=1 on NOTIFY_SOCKET"
ft_pass
