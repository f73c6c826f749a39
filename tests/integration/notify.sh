#!/usr/bin/env bash
# Job notifications in the real ferryd (docs/internals/client.md, "Notifications"):
# SetNotifyCmdLine through `ferryctl --notify-cmd` runs the program with exactly the argv
# given and a clean environment, after TRANSFERRED and after an ERROR (404 source); a
# NotifyUrl receives the job's JSON (a python3 http.server); a command that hangs is killed
# after notify-timeout while jobs still complete and ferryd answers Identify; NotifyFlags
# DISABLE runs nothing; an unreachable URL is a logged warning; the settings survive a
# restart. As root, commands run as notify-user (nobody here), never as root.
. "$(dirname "$0")/../lib/ferry-test.sh"

chmod 0755 "$FT_TMP"   # the notify user reaches the hook script and its output directory
mkdir -p "$FT_TMP/pub" "$FT_TMP/in" "$FT_TMP/out"
chmod 0777 "$FT_TMP/out"
if [ "$(id -u)" = 0 ]; then
    id nobody >/dev/null 2>&1 || ft_skip "no user nobody to run notifications as"
    want_uid=$(id -u nobody)
else
    want_uid=$(id -u)
fi

# The hook: its argv ($0 is the program path: the kernel passes it to the interpreter),
# its environment (sorted) and its uid, written atomically.
cat >"$FT_TMP/hook.sh" <<'EOF'
#!/bin/sh
out=$1
{ for a in "$0" "$@"; do printf 'arg=%s\n' "$a"; done; /usr/bin/env | LC_ALL=C sort; id -u; } >"$out.tmp"
mv "$out.tmp" "$out"
EOF
chmod 0755 "$FT_TMP/hook.sh"

# The notify URL receiver: each POST body to post-N.json, answered 204.
cat >"$FT_TMP/recv.py" <<'EOF'
import http.server, os, sys
d = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    n = 0
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        H.n += 1
        p = os.path.join(d, "post-%d.json" % H.n)
        with open(p + ".tmp", "wb") as f:
            f.write(self.headers.get("Content-Type", "").encode() + b"\n" + body)
        os.rename(p + ".tmp", p)
        self.send_response(204)
        self.end_headers()
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
with open(os.path.join(d, "port.tmp"), "w") as f:
    f.write(str(s.server_address[1]))
os.rename(os.path.join(d, "port.tmp"), os.path.join(d, "port"))
s.serve_forever()
EOF
mkdir -p "$FT_TMP/posts"
/usr/bin/python3 "$FT_TMP/recv.py" "$FT_TMP/posts" &
FT_PIDS+=("$!")
for _ in $(seq 1 200); do [ -s "$FT_TMP/posts/port" ] && break; sleep 0.05; done
[ -s "$FT_TMP/posts/port" ] || ft_fail "receiver did not start"
recv="http://127.0.0.1:$(cat "$FT_TMP/posts/port")/hook"

ft_ferryd_start srv --publish-root "$FT_TMP/pub"
cli_args=(--download-root "$FT_TMP/in" --notify-user nobody --notify-timeout 2)
ft_ferryd_start cli "${cli_args[@]}"
printf 'admin-pw\n' >"$FT_TMP/pw"
S=("$FERRYCTL" --endpoint "$FT_WSMAN_srv" --user admin --password-file "$FT_TMP/pw")
C=("$FERRYCTL" --endpoint "$FT_WSMAN_cli" --user admin --password-file "$FT_TMP/pw")

ft_random_file "$FT_TMP/pub/a.bin" 100000
group="http://127.0.0.1:$(ft_free_port)/n"
url=$("${S[@]}" url publish "$group" a.bin "$FT_TMP/pub/a.bin") || ft_fail "publish"

# wait_file PATH [tries of 0.1 s]
wait_file() {
    for _ in $(seq 1 "${2:-100}"); do [ -s "$1" ] && return 0; sleep 0.1; done
    ft_fail "$1 did not appear"
}
show() { "${C[@]}" --json job show "$1" | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])"; }

# 1. TRANSFERRED: the command's argv and environment, exactly; the JSON at the URL.
id=$("${C[@]}" job create one "$url" "$FT_TMP/in/a.bin" \
    --notify-cmd "$FT_TMP/hook.sh $FT_TMP/out/one.txt 'two words' \"q\\\"uote\" semi;colon \$HOME *" \
    --notify-url "$recv") || ft_fail "create with notifications"
wait_file "$FT_TMP/out/one.txt"
want=$(printf '%s\n' "arg=$FT_TMP/hook.sh" "arg=$FT_TMP/out/one.txt" "arg=two words" \
    'arg=q"uote' 'arg=semi;colon' 'arg=$HOME' 'arg=*' \
    "FERRY_JOB_ID=$id" FERRY_JOB_STATE=TRANSFERRED FERRY_NOTIFY_EVENT=TRANSFERRED \
    PATH=/usr/local/bin:/usr/bin:/bin PWD=/ "$want_uid")
ft_assert_eq "$want" "$(cat "$FT_TMP/out/one.txt")" "argv + environment + uid of the command"
wait_file "$FT_TMP/posts/post-1.json"
ft_assert_eq "application/json" "$(head -n 1 "$FT_TMP/posts/post-1.json")" "Content-Type"
tail -n +2 "$FT_TMP/posts/post-1.json" | /usr/bin/python3 -c '
import json, sys
j = json.load(sys.stdin)
assert j["JobId"] == sys.argv[1], j
assert j["State"] == "6" and j["StateName"] == "TRANSFERRED" and j["Event"] == "TRANSFERRED", j
assert j["BytesTransferred"] == "100000" and j["Files"][0]["Completed"] == "true", j
' "$id" || ft_fail "the POSTed JSON: $(cat "$FT_TMP/posts/post-1.json")"
ft_assert_eq 3 "$(show "$id" NotifyFlags)" "default NotifyFlags"
ft_assert_eq "$FT_TMP/hook.sh" "$(show "$id" NotifyProgram)" "NotifyProgram"
ft_assert_eq "$FT_TMP/hook.sh $FT_TMP/out/one.txt \"two words\" \"q\\\"uote\" \"semi;colon\" \"\$HOME\" \"*\"" \
    "$(show "$id" NotifyCmdLine)" "NotifyCmdLine (canonical quoting)"
"${C[@]}" job complete "$id" || ft_fail "complete"

# 2. ERROR from a 404 source: the command sees ERROR.
id404=$("${C[@]}" job create missing "$group/nope.bin" "$FT_TMP/in/nope.bin" \
    --notify-cmd "$FT_TMP/hook.sh $FT_TMP/out/err.txt") || ft_fail "create 404 job"
wait_file "$FT_TMP/out/err.txt"
want=$(printf '%s\n' "arg=$FT_TMP/hook.sh" "arg=$FT_TMP/out/err.txt" \
    "FERRY_JOB_ID=$id404" FERRY_JOB_STATE=ERROR FERRY_NOTIFY_EVENT=ERROR \
    PATH=/usr/local/bin:/usr/bin:/bin PWD=/ "$want_uid")
ft_assert_eq "$want" "$(cat "$FT_TMP/out/err.txt")" "the command after ERROR"
ft_assert_eq 4 "$(show "$id404" State)" "the 404 job is in ERROR"

# 3. A command that hangs is killed after notify-timeout (2 s); meanwhile jobs complete
# and ferryd answers.
idh=$("${C[@]}" job create hang "$url" "$FT_TMP/in/h.bin" --notify-cmd "/bin/sleep 3600") \
    || ft_fail "create hang job"
for _ in $(seq 1 100); do
    grep -q "job $idh: notification command '/bin/sleep' started" "$FT_TMP/cli/ferryd.log" && break
    sleep 0.1
done
pid=$(sed -n "s/.*job $idh: notification command '\/bin\/sleep' started for TRANSFERRED (pid \([0-9]*\)).*/\1/p" \
    "$FT_TMP/cli/ferryd.log")
[ -n "$pid" ] || ft_fail "the hanging command did not start"
kill -0 "$pid" 2>/dev/null || ft_fail "the hanging command is not running"
"${C[@]}" identify >/dev/null || ft_fail "Identify while a command hangs"
id2=$("${C[@]}" job create during "$url" "$FT_TMP/in/d.bin" \
    --notify-cmd "$FT_TMP/hook.sh $FT_TMP/out/during.txt") || ft_fail "create during the hang"
wait_file "$FT_TMP/out/during.txt"
ft_assert_eq 6 "$(show "$id2" State)" "a job transferred while a command hangs"
for _ in $(seq 1 50); do
    grep -q "job $idh: notification command '/bin/sleep' (pid $pid) was killed after 2 s" \
        "$FT_TMP/cli/ferryd.log" && break
    sleep 0.1
done
grep -q "job $idh: notification command '/bin/sleep' (pid $pid) was killed after 2 s" \
    "$FT_TMP/cli/ferryd.log" || ft_fail "the hanging command was not killed"
! kill -0 "$pid" 2>/dev/null || ft_fail "pid $pid still runs"
"${C[@]}" identify >/dev/null || ft_fail "Identify after the kill"

# 4. DISABLE (4): nothing runs, nothing is POSTed.
nposts=$(ls "$FT_TMP/posts" | grep -c '^post-')
idd=$("${C[@]}" job create disabled "$url" "$FT_TMP/in/x.bin" --notify-flags 5 \
    --notify-cmd "$FT_TMP/hook.sh $FT_TMP/out/disabled.txt" --notify-url "$recv") \
    || ft_fail "create disabled"
for _ in $(seq 1 100); do [ "$(show "$idd" State)" = 6 ] && break; sleep 0.1; done
ft_assert_eq 6 "$(show "$idd" State)" "the disabled job transferred"
sleep 1
[ ! -e "$FT_TMP/out/disabled.txt" ] || ft_fail "a command ran despite BG_NOTIFY_DISABLE"
ft_assert_eq "$nposts" "$(ls "$FT_TMP/posts" | grep -c '^post-')" "no POST with DISABLE"

# 4b. A receiver that is not there: the job completes, the failure is a logged warning.
dead="http://127.0.0.1:$(ft_free_port)/gone"
idu=$("${C[@]}" job create deadurl "$url" "$FT_TMP/in/u.bin" --notify-url "$dead") \
    || ft_fail "create with a dead URL"
for _ in $(seq 1 100); do
    grep -q "job $idu: TRANSFERRED notification POST to '$dead' failed" "$FT_TMP/cli/ferryd.log" \
        && break
    sleep 0.1
done
grep -q "WARN notify: job $idu: TRANSFERRED notification POST to '$dead' failed" \
    "$FT_TMP/cli/ferryd.log" || ft_fail "no warning for the unreachable notify URL"
ft_assert_eq 6 "$(show "$idu" State)" "the job with a dead notify URL transferred"

# 5. Persistence: settings of a suspended job survive a restart, and fire afterwards.
idp=$("${C[@]}" job create persist "$url" "$FT_TMP/in/p.bin" --suspended) || ft_fail "create"
"${C[@]}" job set "$idp" --notify-cmd "$FT_TMP/hook.sh $FT_TMP/out/persist.txt 'a b'" \
    --notify-url "$recv" --notify-flags 1 >/dev/null || ft_fail "job set notify"
ft_ferryd_stop cli
ft_ferryd_start cli "${cli_args[@]}"
C=("$FERRYCTL" --endpoint "$FT_WSMAN_cli" --user admin --password-file "$FT_TMP/pw")
ft_assert_eq 1 "$(show "$idp" NotifyFlags)" "NotifyFlags after restart"
ft_assert_eq "$recv" "$(show "$idp" NotifyUrl)" "NotifyUrl after restart"
ft_assert_eq "$FT_TMP/hook.sh $FT_TMP/out/persist.txt \"a b\"" "$(show "$idp" NotifyCmdLine)" \
    "NotifyCmdLine after restart"
"${C[@]}" job resume "$idp" || ft_fail "resume"
wait_file "$FT_TMP/out/persist.txt"
ft_assert_eq "arg=a b" "$(sed -n 3p "$FT_TMP/out/persist.txt")" "argv after restart"
ft_assert_eq "FERRY_JOB_ID=$idp" "$(grep FERRY_JOB_ID "$FT_TMP/out/persist.txt")" "job id after restart"
# clearing: '' removes the command, and a bad command line is refused
"${C[@]}" job set "$idp" --notify-cmd '' --notify-url '' >/dev/null || ft_fail "clear"
ft_assert_eq "" "$(show "$idp" NotifyCmdLine)" "NotifyCmdLine cleared"
rc=0; "${C[@]}" job set "$idp" --notify-cmd "relative/prog" >/dev/null 2>&1 || rc=$?
ft_assert_eq 2 "$rc" "a relative program is a usage error"
rc=0; "${C[@]}" job set "$idp" --notify-flags 32 >/dev/null 2>&1 || rc=$?
ft_assert_eq 2 "$rc" "NotifyFlags 32 is a usage error"
ft_ferryd_stop cli
ft_ferryd_stop srv
ft_pass
