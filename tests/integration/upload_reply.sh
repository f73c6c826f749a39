#!/usr/bin/env bash
# Upload-reply end to end (issue #15): a server ferryd with --upload-notify-url POSTs each
# whole upload to a notification application (tests/tools/bits_notify_app.py, BITS's
# BITSServerNotificationType 2 "by value") and names BITS-Reply-URL in the last fragment's
# Ack; the client ferryd's Type 2 job GETs it before Close-Session and, at Complete, its
# ReplyFileName holds exactly the application's response. An application error (500) is a
# transient error of the job (502, context remote application) and the retry gets the reply.
# The reply leaves the server with Close-Session.
. "$(dirname "$0")/../lib/ferry-test.sh"
ft_need sha256sum curl uuidgen /usr/bin/python3
APP=$(dirname "$0")/../tools/bits_notify_app.py

# app NAME ARGS...: start the notification application, set APP_PORT
app() {
    local n=$1; shift
    /usr/bin/python3 "$APP" "$FT_TMP/$n.port" "$FT_TMP/$n.log" "$@" 2>>"$FT_TMP/$n.err" &
    FT_PIDS+=($!)
    for _ in $(seq 1 200); do
        [ -s "$FT_TMP/$n.port" ] && break
        sleep 0.02
    done
    APP_PORT=$(cat "$FT_TMP/$n.port")
}
G=http://schemas.microsoft.com/wbem/wsman/1/wmi/root/microsoft/bits/BitsCompactServerUrlGroup
wsinvoke() { # GROUP METHOD BODY
    local sel="<w:SelectorSet><w:Selector Name=\"UrlGroup\">$1</w:Selector></w:SelectorSet>"
    [ "$2" = CreateUrlGroup ] && sel=""
    local env="<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" xmlns:a=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" xmlns:w=\"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd\"><s:Header><a:Action>$G/$2</a:Action><a:MessageID>uuid:$(uuidgen)</a:MessageID><w:ResourceURI>$G</w:ResourceURI>$sel</s:Header><s:Body><p:$2_INPUT xmlns:p=\"$G\">$3</p:$2_INPUT></s:Body></s:Envelope>"
    curl -s -u admin:admin-pw -H "Content-Type: application/soap+xml;charset=utf-8" \
        --data-binary "$env" "$FT_WSMAN_srv"
}
jshow() {
    "${C[@]}" --json job show "$1" | /usr/bin/python3 -c \
        'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"
}
wait_state() { # ID STATE within 30 s
    for _ in $(seq 1 600); do
        [ "$(jshow "$1" State)" = "$2" ] && return 0
        sleep 0.05
    done
    ft_fail "job $1 is in state $(jshow "$1" State), not $2: $(grep "$1" "$FT_TMP/cli/ferryd.log")"
}

app app1 --fail-first 1
mkdir -p "$FT_TMP/up" "$FT_TMP/in"
ft_ferryd_start srv --upload-root "$FT_TMP/up" \
    --upload-notify-url "http://127.0.0.1:$APP_PORT/notify"
ft_ferryd_start cli --download-root "$FT_TMP/in" --min-retry-delay 1
printf 'admin-pw\n' >"$FT_TMP/pw"
C=("$FERRYCTL" --endpoint "$FT_WSMAN_cli" --user admin --password-file "$FT_TMP/pw")
group=http://127.0.0.1:$(ft_free_port)/inbox
out=$(wsinvoke "$group" CreateUrlGroup "<p:UrlGroup>$group</p:UrlGroup>")
grep -q '<p:ReturnValue>0</p:ReturnValue>' <<<"$out" || ft_fail "CreateUrlGroup: $out"
out=$(wsinvoke "$group" SetProperty "<p:Property>UploadEnabled</p:Property><p:Value>1</p:Value>")
grep -q '<p:ReturnValue>0</p:ReturnValue>' <<<"$out" || ft_fail "UploadEnabled: $out"

f=$FT_TMP/in/result.bin
head -c $((5 << 20 | 99)) /dev/urandom >"$f"
sum=$(ft_sha256 "$f")

# the application fails the first notification: transient, then the reply
id=$("${C[@]}" job create --suspended --upload-reply "$FT_TMP/in/result.reply" r1 \
     "$group/result.bin" "$f") || ft_fail "create"
"${C[@]}" job set "$id" --min-retry-delay 1 >/dev/null || ft_fail "job set"
"${C[@]}" job resume "$id" || ft_fail "resume"
wait_state "$id" 6
[ ! -e "$FT_TMP/in/result.reply" ] || ft_fail "reply visible before Complete"
"${C[@]}" job complete "$id" || ft_fail "complete"
ft_assert_eq "sha256 $sum $group/result.bin" "$(cat "$FT_TMP/in/result.reply")" "reply"
ft_assert_eq "$sum" "$(ft_sha256 "$FT_TMP/up/inbox/result.bin")" "uploaded file"
grep -q "^POST $((5 << 20 | 99)) 500$" "$FT_TMP/app1.log" || ft_fail "no failed notification"
grep -q "^POST $((5 << 20 | 99)) 200$" "$FT_TMP/app1.log" || ft_fail "no notification"
ft_assert_eq 1 "$(jshow "$id" TransientErrorCount)" "transient errors (the application's 500)"
[ -z "$(ls -A "$FT_TMP/up/inbox" | grep '^\.ferry-upload-')" ] \
    || ft_fail "session or reply files left: $(ls -A "$FT_TMP/up/inbox")"

# an upload job (Type 1) to the same group ignores BITS-Reply-URL and notifies nobody
before=$(wc -l <"$FT_TMP/app1.log")
id=$("${C[@]}" job create --upload r2 "$group/plain.bin" "$f") || ft_fail "create r2"
wait_state "$id" 6
"${C[@]}" job complete "$id" || ft_fail "complete r2"
ft_assert_eq "$sum" "$(ft_sha256 "$FT_TMP/up/inbox/plain.bin")" "Type 1 upload"
ft_assert_eq "$before" "$(wc -l <"$FT_TMP/app1.log")" "notifications for a Type 1 job"

# the reply URL of an unknown session: 404, never a path
code=$(curl -s -o /dev/null -w '%{http_code}' \
       "$group/.ferry-upload-0123456789abcdef0123456789abcdef.reply")
ft_assert_eq 404 "$code" "reply of an unknown session"
ft_ferryd_stop cli
ft_ferryd_stop srv
ft_pass
