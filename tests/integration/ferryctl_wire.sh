#!/usr/bin/env bash
# ferryctl against an independent WS-Man peer (tests/control/cli/wsman_peer.py, Python
# stdlib, its own prefixes, validates every request by namespace URI): what each command
# sends (the peer logs the operations and their parameters), how it reads responses, the
# Enumerate + Pull loop, Set-WSManInstance style Put, job wait --complete, faults and their
# exit codes (1 fault, 2 usage, 3 connection/auth), --json output parsed by python3, and
# distribute with one failing host.
. "$(dirname "$0")/../lib/ferry-test.sh"
ft_need /usr/bin/python3

PEER="$FERRY_SRC/tests/control/cli/wsman_peer.py"
start_peer() { # NAME [args]
    local name=$1; shift
    /usr/bin/python3 "$PEER" "$FT_TMP/$name.port" --user admin --password 's3cr&t pw' "$@" \
        >"$FT_TMP/$name.log" 2>&1 &
    FT_PIDS+=("$!")
    for _ in $(seq 1 200); do [ -s "$FT_TMP/$name.port" ] && break; sleep 0.02; done
    [ -s "$FT_TMP/$name.port" ] || ft_fail "peer $name did not start"
    printf -v "URL_$name" 'http://127.0.0.1:%s/wsman' "$(cat "$FT_TMP/$name.port")"
}
start_peer main
printf 's3cr&t pw\n' >"$FT_TMP/pw"
C=("$FERRYCTL" --endpoint "$URL_main" --user admin --password-file "$FT_TMP/pw")
ops() { grep -c "^OP $1" "$FT_TMP/main.log" || true; }

# identify
out=$("${C[@]}" identify) || ft_fail "identify exit $?"
grep -q '^ProductVendor *peer$' <<<"$out" || ft_fail "identify output: $out"

# job create --priority: created suspended, Priority put, then resumed; JobId printed
id=$("${C[@]}" job create 'disk <1>' http://h:8080/g/a.img /srv/in/a.img --priority low \
    --description 'x & y') || ft_fail "job create exit $?"
[[ $id =~ ^\{[0-9A-F-]{36}\}$ ]] || ft_fail "job create printed '$id'"
grep -qF "OP CreateJob Description=x & y DisplayName=disk <1> LocalFile=/srv/in/a.img RemoteUrl=http://h:8080/g/a.img Suspend=true" "$FT_TMP/main.log" \
    || ft_fail "CreateJob parameters: $(grep CreateJob "$FT_TMP/main.log")"
grep -qF "OP Put $id Priority=3" "$FT_TMP/main.log" || ft_fail "priority not Put"
grep -qF "OP SetJobState $id JobState=2" "$FT_TMP/main.log" || ft_fail "job not resumed"

# job set: Get + modify + Put of the whole instance; only the named properties change
"${C[@]}" job set "$id" --description 'new <desc>' --min-retry-delay 60 --connections 8 \
    --bandwidth-limit 1048576 >/dev/null || ft_fail "job set exit $?"
grep -qF "OP Put $id Description=new <desc> MinimumRetryDelay=60 ConnectionsPerFile=8 BandwidthLimit=1048576" \
    "$FT_TMP/main.log" || ft_fail "job set Put: $(grep "OP Put" "$FT_TMP/main.log")"

# job show --json
"${C[@]}" --json job show "$id" >"$FT_TMP/show.json" || ft_fail "job show exit $?"
/usr/bin/python3 - "$FT_TMP/show.json" "$id" <<'PY' || ft_fail "job show --json"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["JobId"] == sys.argv[2], j
assert j["Description"] == "new <desc>" and j["Priority"] == "3", j
assert j["Files"]["RemoteUrl"] == "http://h:8080/g/a.img", j
PY

# five more jobs: job list needs Enumerate + Pulls (the peer hands out 2 per message)
for i in 1 2 3 4 5; do "${C[@]}" job create "j$i" "http://h/g/$i" "/srv/in/$i" --suspended >/dev/null; done
before=$(ops Pull)
"${C[@]}" --json job list >"$FT_TMP/list.json" || ft_fail "job list exit $?"
[ "$(( $(ops Pull) - before ))" -eq 2 ] || ft_fail "expected 2 Pulls for 6 jobs"
/usr/bin/python3 - "$FT_TMP/list.json" "$id" <<'PY' || ft_fail "job list --json"
import json, sys
jobs = json.load(open(sys.argv[1]))
assert len(jobs) == 6, len(jobs)
assert jobs[0]["JobId"] == sys.argv[2]
assert sorted(j["DisplayName"] for j in jobs[1:]) == ["j1", "j2", "j3", "j4", "j5"]
assert all(j["State"] == "3" for j in jobs[1:])
PY
"${C[@]}" job list | grep -q "SUSPENDED *normal *0 B/40.0 MiB *j3" || ft_fail "job list table"

# job wait --complete: plain progress lines (not a terminal), completes at TRANSFERRED,
# ends ACKNOWLEDGED with the statistics
"${C[@]}" job wait "$id" --complete --interval 0.05 >"$FT_TMP/wait.out" || ft_fail "job wait exit $?"
grep -q "TRANSFERRING" "$FT_TMP/wait.out" || ft_fail "no progress line: $(cat "$FT_TMP/wait.out")"
grep -q "^job $id ACKNOWLEDGED" "$FT_TMP/wait.out" || ft_fail "final state: $(cat "$FT_TMP/wait.out")"
grep -q "bytes *40.0 MiB (41943040)" "$FT_TMP/wait.out" || ft_fail "bytes line"
grep -q "average *16.0 MiB/s" "$FT_TMP/wait.out" || ft_fail "average line"
grep -q "retries *1 (transient errors 1)" "$FT_TMP/wait.out" || ft_fail "retries line"
grep -qF "OP SetJobState $id JobState=1" "$FT_TMP/main.log" || ft_fail "not completed"
if grep -q $'\r' "$FT_TMP/wait.out"; then ft_fail "carriage returns without a terminal"; fi

# a ReturnValue != 0 is a failure with the code named: complete an ACKNOWLEDGED job
rc=0; "${C[@]}" job complete "$id" 2>"$FT_TMP/err" || rc=$?
ft_assert_eq 1 "$rc" "complete twice exit"
grep -q "SetJobState failed: ReturnValue 0x80200002 BG_E_INVALID_STATE" "$FT_TMP/err" || ft_fail "$(cat "$FT_TMP/err")"

# faults: one line, subcode + reason (detail), exit 1; --json carries the parts
rc=0; "${C[@]}" job show '{00000000-0000-4000-8000-000000000000}' 2>"$FT_TMP/err" || rc=$?
ft_assert_eq 1 "$rc" "fault exit"
ft_assert_eq "ferryctl: w:InvalidSelectors: No job with JobId {00000000-0000-4000-8000-000000000000}. (InvalidValue)" \
    "$(cat "$FT_TMP/err")" "fault line"
rc=0; "${C[@]}" --json job suspend nope >"$FT_TMP/f.json" 2>/dev/null || rc=$?
ft_assert_eq 1 "$rc" "fault exit (json)"
/usr/bin/python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["error"]; assert e["subcode"]=="w:InvalidSelectors" and e["code"]=="s:Sender" and e["detail"]=="InvalidValue", e' \
    "$FT_TMP/f.json" || ft_fail "fault json: $(cat "$FT_TMP/f.json")"

# job wait on a job that fails: exit 1, GetError printed
start_peer failing --fail-jobs
F=("$FERRYCTL" --endpoint "$URL_failing" --user admin --password-file "$FT_TMP/pw")
fid=$("${F[@]}" job create f http://h/g/missing /srv/in/f) || ft_fail "create on failing peer"
rc=0; "${F[@]}" job wait "$fid" --interval 0.05 >"$FT_TMP/fw.out" 2>"$FT_TMP/fw.err" || rc=$?
ft_assert_eq 1 "$rc" "job wait on an ERROR job"
grep -q "failed: error 0x80190194 BG_E_HTTP_ERROR in context 5 .*HTTP status 404" "$FT_TMP/fw.err" \
    || ft_fail "GetError not shown: $(cat "$FT_TMP/fw.err")"
grep -q "^job $fid ERROR" "$FT_TMP/fw.out" || ft_fail "final ERROR line"
"${F[@]}" job error "$fid" | grep -q "^error 0x80190194" || ft_fail "job error output"

# authentication and connection failures: exit 3 with a clear line; usage: exit 2
rc=0; FERRY_PASSWORD=wrong "$FERRYCTL" --endpoint "$URL_main" --user admin job list 2>"$FT_TMP/err" || rc=$?
ft_assert_eq 3 "$rc" "bad password exit"
grep -q "authentication failed" "$FT_TMP/err" || ft_fail "401 message: $(cat "$FT_TMP/err")"
rc=0; "${C[@]}" --endpoint "http://127.0.0.1:$(ft_free_port)/wsman" identify 2>/dev/null || rc=$?
ft_assert_eq 3 "$rc" "connection refused exit"
rc=0; "${C[@]}" job create only-two-args x 2>/dev/null || rc=$?
ft_assert_eq 2 "$rc" "usage exit"
rc=0; "${C[@]}" job set "$id" 2>/dev/null || rc=$?
ft_assert_eq 2 "$rc" "job set without options"
rc=0; "$FERRYCTL" --user admin identify 2>/dev/null </dev/null || rc=$?
ft_assert_eq 2 "$rc" "--user without a password"

# too many failed logins: the peer answers 429; ferryctl says so (exit 3), even with the
# right password afterwards
start_peer limited --fail-limit 2
for _ in 1 2; do FERRY_PASSWORD=bad "$FERRYCTL" --endpoint "$URL_limited" --user admin job list 2>/dev/null || true; done
rc=0; "$FERRYCTL" --endpoint "$URL_limited" --user admin --password-file "$FT_TMP/pw" job list \
    2>"$FT_TMP/err" || rc=$?
ft_assert_eq 3 "$rc" "429 exit"
grep -q "too many failed logins .*retry in 42 s" "$FT_TMP/err" || ft_fail "429: $(cat "$FT_TMP/err")"

# --timeout bounds a request to a peer that does not answer: exit 3 in about that time
start_peer hang --hang
t0=$(date +%s%N)
rc=0; "$FERRYCTL" --endpoint "$URL_hang" --timeout 1 identify 2>"$FT_TMP/err" || rc=$?
t1=$(date +%s%N)
ft_assert_eq 3 "$rc" "timeout exit"
[ $(( (t1 - t0) / 1000000 )) -lt 5000 ] || ft_fail "--timeout 1 took $(( (t1 - t0) / 1000000 )) ms"
grep -qi "timed out" "$FT_TMP/err" || ft_fail "timeout message: $(cat "$FT_TMP/err")"
# an answer that is not SOAP (wrong path: 404, empty body): exit 1, the status named
rc=0; "$FERRYCTL" --endpoint "${URL_main%/wsman}/other" identify 2>"$FT_TMP/err" || rc=$?
ft_assert_eq 1 "$rc" "non-SOAP answer exit"
grep -q "HTTP status 404 without a SOAP body" "$FT_TMP/err" || ft_fail "404: $(cat "$FT_TMP/err")"

# url publish / check / delete, group list through Enumerate
"${C[@]}" url publish http://+:8080/images disk.img /srv/pub/disk.img >/dev/null || ft_fail "url publish"
grep -qF "OP CreateUrl UrlGroup=http://+:8080/images SDDLAuth=D:(A;;GA;;;WD) SourceFilePath=/srv/pub/disk.img UrlSuffix=disk.img" \
    "$FT_TMP/main.log" || ft_fail "CreateUrl parameters"
"${C[@]}" url check http://+:8080/images disk.img | grep -q "exists$" || ft_fail "url check"
"${C[@]}" --json url check http://+:8080/images other.img | grep -q '"UrlExists":false' || ft_fail "url check json"
"${C[@]}" group create http://+:9090/more >/dev/null || ft_fail "group create"
n=$("${C[@]}" --json group list | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
ft_assert_eq 2 "$n" "group count"
"${C[@]}" url delete http://+:8080/images disk.img || ft_fail "url delete"
"${C[@]}" url check http://+:8080/images disk.img | grep -q "does not exist$" || ft_fail "url gone"

# distribute: three clients, one failing; the others complete; exit 1; URL removed
start_peer srv
start_peer c1
start_peer c2 --fail-jobs
start_peer c3
rc=0
"${C[@]}" --json distribute --server "$URL_srv" --source /srv/pub/vm.img \
    --group http://+:8080/images --to "$URL_c1,$URL_c2" --to "$URL_c3" --dest /srv/in/ \
    --interval 0.05 >"$FT_TMP/dist.json" || rc=$?
ft_assert_eq 1 "$rc" "distribute with a failing host"
/usr/bin/python3 - "$FT_TMP/dist.json" "$URL_c1" "$URL_c2" "$URL_c3" <<'PY' || ft_fail "distribute json: $(cat "$FT_TMP/dist.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ok"] is False
assert d["Url"] == "http://127.0.0.1:8080/images/vm.img", d["Url"]
h = {x["endpoint"]: x for x in d["hosts"]}
assert h[sys.argv[2]]["ok"] and h[sys.argv[2]]["State"] == "ACKNOWLEDGED"
assert h[sys.argv[4]]["ok"] and h[sys.argv[4]]["Bytes"] == 41943040
assert not h[sys.argv[3]]["ok"] and "0x80190194" in h[sys.argv[3]]["error"]
PY
# the clients were started only once the server reported the manifest ready (2nd Get)
ft_assert_eq 2 "$(grep -c "^OP GetGroup" "$FT_TMP/srv.log")" "Gets of the group before the jobs"
grep -q "OP CreateJob DisplayName=ferry distribute vm.img LocalFile=/srv/in/vm.img RemoteUrl=http://127.0.0.1:8080/images/vm.img Suspend=false" \
    "$FT_TMP/c1.log" || ft_fail "client CreateJob"
grep -q "OP SetJobState .* JobState=1" "$FT_TMP/c3.log" || ft_fail "c3 not completed"
grep -q "OP DeleteUrl UrlGroup=http://+:8080/images UrlSuffix=vm.img" "$FT_TMP/srv.log" || ft_fail "URL not removed"

# distribute on a terminal: one block (a line per host and a total) redrawn in place
if command -v script >/dev/null; then
    rc=0
    script -qec "stty cols 140 rows 40; $(printf '%q ' "${C[@]}" distribute --server "$URL_srv" \
        --source /srv/pub/t.img --group http://+:8080/images --to "$URL_c1,$URL_c3" \
        --dest /srv/in/ --interval 0.05)" /dev/null >"$FT_TMP/dtty.out" </dev/null || rc=$?
    ft_assert_eq 0 "$rc" "distribute on a pty"
    grep -q $'\e\[3A' "$FT_TMP/dtty.out" || ft_fail "the block is not redrawn in place"
    grep -q "^total .*100.0%" "$FT_TMP/dtty.out" || ft_fail "no total line at 100%"
    grep -q "in [0-9.]* s: every host has the file" "$FT_TMP/dtty.out" || ft_fail "no summary"
fi

# keep-alive: one job wait polls many times over one connection
"${C[@]}" job create ka http://h/g/ka /srv/in/ka >"$FT_TMP/ka.id"
before=$(grep -c '^CONN' "$FT_TMP/main.log")
"${C[@]}" job wait "$(cat "$FT_TMP/ka.id")" --interval 0.02 >/dev/null || ft_fail "job wait (keep-alive)"
ports=$(grep '^CONN' "$FT_TMP/main.log" | tail -n +$((before + 1)) | sort -u | wc -l)
polls=$(grep -c '^CONN' "$FT_TMP/main.log")
[ $((polls - before)) -ge 4 ] || ft_fail "job wait polled only $((polls - before)) times"
ft_assert_eq 1 "$ports" "connections used by one job wait"

# on a terminal: the live bar redraws one line (\r, erase to end of line)
if command -v script >/dev/null; then
    "${C[@]}" job create tty http://h/g/tty /srv/in/tty >"$FT_TMP/tty.id"
    script -qec "stty cols 120 rows 40; $(printf '%q ' "${C[@]}" job wait "$(cat "$FT_TMP/tty.id")" --interval 0.05)" \
        /dev/null >"$FT_TMP/tty.out" </dev/null || ft_fail "job wait on a pty"
    grep -q $'\r\[#' "$FT_TMP/tty.out" || ft_fail "no live bar on a terminal"
    grep -q $'\e\[K' "$FT_TMP/tty.out" || ft_fail "no erase-line on a terminal"
    grep -q "TRANSFERRED" "$FT_TMP/tty.out" || ft_fail "bar without the state"
fi

# https: --cacert verifies the peer, a client certificate is presented with --client-cert
if command -v openssl >/dev/null; then
    pki=$FT_TMP/pki; mkdir -p "$pki"
    (cd "$pki"
     openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
        -subj /CN=ferry-test-ca 2>/dev/null
     openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj /CN=127.0.0.1 \
        2>/dev/null
     printf 'subjectAltName=IP:127.0.0.1\n' >san.ext
     openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem \
        -days 2 -extfile san.ext 2>/dev/null
     openssl req -newkey rsa:2048 -nodes -keyout cli.key -out cli.csr -subj /CN=admin \
        2>/dev/null
     openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out cli.pem \
        -days 2 2>/dev/null) || ft_fail "openssl could not make the test PKI"
    start_peer tls --tls "$pki/srv.pem" "$pki/srv.key" --client-ca "$pki/ca.pem"
    T=("$FERRYCTL" --endpoint "${URL_tls/http:/https:}" --user admin --password-file "$FT_TMP/pw")
    "${T[@]}" --cacert "$pki/ca.pem" --client-cert "$pki/cli.pem:$pki/cli.key" identify \
        | grep -q "^ProductVendor *peer$" || ft_fail "https identify with --cacert/--client-cert"
    rc=0; "${T[@]}" --client-cert "$pki/cli.pem:$pki/cli.key" identify 2>"$FT_TMP/err" || rc=$?
    ft_assert_eq 3 "$rc" "https without the CA"
    rc=0; "${T[@]}" --cacert "$pki/ca.pem" identify 2>"$FT_TMP/err" || rc=$?
    ft_assert_eq 3 "$rc" "https without a client certificate"
fi

# user add: the password from stdin into STATE/users (0600), a PBKDF2 line, roles checked
mkdir -p "$FT_TMP/state"
printf 'pw of bob\n' | "$FERRYCTL" user add --state-dir "$FT_TMP/state" bob --role user >/dev/null \
    || ft_fail "user add"
printf 'pw of eve\n' | "$FERRYCTL" --json user add --state-dir "$FT_TMP/state" eve --role admin \
    >"$FT_TMP/ua.json" || ft_fail "user add (json)"
grep -q '"role":"admin"' "$FT_TMP/ua.json" || ft_fail "user add json: $(cat "$FT_TMP/ua.json")"
ft_assert_eq 600 "$(stat -c %a "$FT_TMP/state/users")" "users file mode"
grep -qE '^bob:user:pbkdf2-sha256\$[0-9]+\$[^$]+\$[^$]+$' "$FT_TMP/state/users" || ft_fail "bob's line"
grep -q '^eve:admin:' "$FT_TMP/state/users" || ft_fail "eve's line"
if grep -q "pw of" "$FT_TMP/state/users"; then ft_fail "password stored in clear"; fi
rc=0; printf 'x\n' | "$FERRYCTL" user add --state-dir "$FT_TMP/state" bob --role root 2>/dev/null || rc=$?
ft_assert_eq 2 "$rc" "user add with a bad role"
rc=0; "$FERRYCTL" user add --state-dir "$FT_TMP/state" bob --role user </dev/null 2>/dev/null || rc=$?
ft_assert_eq 2 "$rc" "user add without a password"

ft_pass
