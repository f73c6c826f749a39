#!/usr/bin/env bash
# Upload jobs (CreateJob Type 1/2) of a client ferryd to a server ferryd's upload group
# (issue #15): the file arrives exact (sha256) and appears only at Close-Session; a kill -9
# of the client ferryd and, separately, of the server ferryd in the middle of an upload
# resumes from the server's acknowledged range (never from zero) and ends exact; LocalFile
# changing during an upload ends in ERROR BG_E_LOCAL_FILE_CHANGED with a LOCAL_FILE context;
# an upload-reply job writes its (empty: ferryd names no reply URL) reply at Complete;
# BandwidthLimit paces an upload; Cancel mid-upload (and of a job in ERROR) sends
# Cancel-Session: the server holds neither the file nor a part file and refuses the id.
. "$(dirname "$0")/../lib/ferry-test.sh"
ft_need sha256sum curl uuidgen /usr/bin/python3

mkdir -p "$FT_TMP/up" "$FT_TMP/in"
SRV=(--upload-root "$FT_TMP/up")
CLI=(--download-root "$FT_TMP/in" --min-retry-delay 1 --wsman-listen "127.0.0.1:$(ft_free_port)")
ft_ferryd_start srv "${SRV[@]}"
ft_ferryd_start cli "${CLI[@]}"
printf 'admin-pw\n' >"$FT_TMP/pw"
C=("$FERRYCTL" --endpoint "$FT_WSMAN_cli" --user admin --password-file "$FT_TMP/pw")
port=$(ft_free_port)
group=http://127.0.0.1:$port/inbox
G=http://schemas.microsoft.com/wbem/wsman/1/wmi/root/microsoft/bits/BitsCompactServerUrlGroup

wsinvoke() {
    local sel="<w:SelectorSet><w:Selector Name=\"UrlGroup\">$group</w:Selector></w:SelectorSet>"
    [ "$1" = CreateUrlGroup ] && sel=""
    local env="<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" xmlns:a=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" xmlns:w=\"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd\"><s:Header><a:Action>$G/$1</a:Action><a:MessageID>uuid:$(uuidgen)</a:MessageID><w:ResourceURI>$G</w:ResourceURI>$sel</s:Header><s:Body><p:$1_INPUT xmlns:p=\"$G\">$2</p:$1_INPUT></s:Body></s:Envelope>"
    curl -s -u admin:admin-pw -H "Content-Type: application/soap+xml;charset=utf-8" \
        --data-binary "$env" "$FT_WSMAN_srv"
}
out=$(wsinvoke CreateUrlGroup "<p:UrlGroup>$group</p:UrlGroup>")
grep -q '<p:ReturnValue>0</p:ReturnValue>' <<<"$out" || ft_fail "CreateUrlGroup: $out"
out=$(wsinvoke SetProperty "<p:Property>UploadEnabled</p:Property><p:Value>1</p:Value>")
grep -q '<p:ReturnValue>0</p:ReturnValue>' <<<"$out" || ft_fail "UploadEnabled: $out"

# jshow ID FIELD: one property of `job show --json`
jshow() {
    "${C[@]}" --json job show "$1" | /usr/bin/python3 -c \
        'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"
}
# wait_bytes ID N: until BytesTransferred >= N (10 s)
wait_bytes() {
    local b=0
    for _ in $(seq 1 200); do
        b=$(jshow "$1" BytesTransferred 2>/dev/null || echo 0)
        [ "$b" -ge "$2" ] && return 0
        sleep 0.05
    done
    ft_fail "job $1: BytesTransferred $b < $2 after 10 s"
}
# session_of ID: the upload session the client logged for job ID
session_of() {
    sed -n "s/.*job $1: upload session \({[^}]*}\) created.*/\1/p" "$FT_TMP/cli/ferryd.log" | tail -n 1
}
# no_target NAME: nothing visible under NAME in the upload directory yet
no_target() {
    [ ! -e "$FT_TMP/up/inbox/$1" ] || ft_fail "$1 visible before Close-Session"
}
# slow_job NAME SRC: a suspended upload at 4 MiB/s, resumed; prints its id
slow_job() {
    local id
    id=$("${C[@]}" job create --upload --suspended "$1" "$group/$1" "$2") || ft_fail "create $1"
    "${C[@]}" job set "$id" --bandwidth-limit $((4 << 20)) --min-retry-delay 1 >/dev/null \
        || ft_fail "job set $1"
    "${C[@]}" job resume "$id" || ft_fail "resume $1"
    printf '%s\n' "$id"
}
# done_exact ID NAME SRC: the job reaches TRANSFERRED, completes, the file is exact
done_exact() {
    "${C[@]}" job wait "$1" --complete --interval 0.1 >"$FT_TMP/wait.out" 2>&1 \
        || ft_fail "job wait $2: $(cat "$FT_TMP/wait.out")"
    grep -q "ACKNOWLEDGED" "$FT_TMP/wait.out" || ft_fail "$2 final: $(cat "$FT_TMP/wait.out")"
    ft_assert_eq "$(ft_sha256 "$3")" "$(ft_sha256 "$FT_TMP/up/inbox/$2")" "sha256 of $2"
    [ -z "$(ls -A "$FT_TMP/up/inbox" | grep '^\.ferry-upload-')" ] \
        || ft_fail "session files left after $2: $(ls -A "$FT_TMP/up/inbox")"
}

# 1. a whole upload, exact, one file only
f=$FT_TMP/in/src.bin
head -c $((24 << 20 | 4321)) /dev/urandom >"$f"
id=$("${C[@]}" job create --upload one "$group/one.bin" "$f") || ft_fail "create one"
done_exact "$id" one.bin "$f"
ft_assert_eq "$((24 << 20 | 4321))" "$(jshow "$id" BytesTotal)" "BytesTotal"
ft_assert_eq "1" "$(jshow "$id" Type)" "Type"
out=$("${C[@]}" job add-file "$id" "$group/two.bin" "$f" 2>&1) && ft_fail "a 2nd file: $out"
[ -e "$f" ] || ft_fail "Complete of an upload removed LocalFile"

# 2. kill -9 of the client ferryd mid-upload: resumes from the acknowledged range
id=$(slow_job crash-client.bin "$f")
wait_bytes "$id" $((8 << 20))
no_target crash-client.bin
ft_ferryd_kill9 cli
ft_ferryd_start cli "${CLI[@]}"
done_exact "$id" crash-client.bin "$f"
grep -Eq "job $id: resuming upload session \{[^}]+\} at [1-9][0-9]*" "$FT_TMP/cli/ferryd.log" \
    || ft_fail "the client did not resume its session: $(grep "$id" "$FT_TMP/cli/ferryd.log")"

# 3. kill -9 of the server ferryd mid-upload: the client retries and resumes
id=$(slow_job crash-server.bin "$f")
wait_bytes "$id" $((8 << 20))
no_target crash-server.bin
ft_ferryd_kill9 srv
sleep 0.5
ft_ferryd_start srv "${SRV[@]}"
done_exact "$id" crash-server.bin "$f"
grep -Eq "job $id: resuming upload session \{[^}]+\} at [1-9][0-9]*" "$FT_TMP/cli/ferryd.log" \
    || ft_fail "no resume after the server's restart: $(grep "$id" "$FT_TMP/cli/ferryd.log")"
[ "$(grep -c "job $id: upload session .* created" "$FT_TMP/cli/ferryd.log")" = 1 ] \
    || ft_fail "a new session after the server's restart (restarted from zero)"

# 4. LocalFile changes during the upload: ERROR, BG_E_LOCAL_FILE_CHANGED, LOCAL_FILE context
g=$FT_TMP/in/changing.bin
head -c $((32 << 20)) /dev/urandom >"$g"
id=$(slow_job changing.bin "$g")
wait_bytes "$id" $((2 << 20))
printf 'more' >>"$g"
for _ in $(seq 1 100); do
    [ "$(jshow "$id" State)" = 4 ] && break
    sleep 0.1
done
ft_assert_eq 4 "$(jshow "$id" State)" "JobState after LocalFile changed"
err=$("${C[@]}" --json job error "$id") || ft_fail "job error: $err"
grep -q '"ErrorCode":"2149580829"' <<<"$err" || ft_fail "error code: $err"
grep -q '"ErrorContext":"4"' <<<"$err" || ft_fail "error context: $err"
no_target changing.bin
sid=$(session_of "$id")
"${C[@]}" job cancel "$id" || ft_fail "cancel"
# a job at rest (ERROR) with a session: Cancel-Session too, with the job's settings
for _ in $(seq 1 100); do
    grep -q "job $id: upload session $sid cancelled on the server" "$FT_TMP/cli/ferryd.log" && break
    sleep 0.05
done
grep -q "job $id: upload session $sid cancelled on the server" "$FT_TMP/cli/ferryd.log" \
    || ft_fail "no Cancel-Session for a job in ERROR: $(grep "$id" "$FT_TMP/cli/ferryd.log")"
[ -z "$(ls -A "$FT_TMP/up/inbox" | grep '^\.ferry-upload-')" ] \
    || ft_fail "session files left after Cancel: $(ls -A "$FT_TMP/up/inbox")"

# 5. upload-reply (Type 2): the reply file appears at Complete (empty: no BITS-Reply-URL)
id=$("${C[@]}" job create --upload-reply "$FT_TMP/in/reply.out" reply "$group/reply.bin" "$f") \
    || ft_fail "create reply"
ft_assert_eq "2" "$(jshow "$id" Type)" "Type of an upload-reply job"
"${C[@]}" job wait "$id" --interval 0.1 >/dev/null 2>&1 || true
for _ in $(seq 1 200); do
    [ "$(jshow "$id" State)" = 6 ] && break
    sleep 0.05
done
ft_assert_eq 6 "$(jshow "$id" State)" "upload-reply TRANSFERRED"
[ ! -e "$FT_TMP/in/reply.out" ] || ft_fail "reply visible before Complete"
"${C[@]}" job complete "$id" || ft_fail "complete reply"
[ -f "$FT_TMP/in/reply.out" ] && [ ! -s "$FT_TMP/in/reply.out" ] || ft_fail "reply file"
ft_assert_eq "$(ft_sha256 "$f")" "$(ft_sha256 "$FT_TMP/up/inbox/reply.bin")" "sha256 of reply.bin"

# 6. BandwidthLimit paces an upload like a download: 8 MiB at 2 MiB/s takes >= 2.5 s
h=$FT_TMP/in/paced.bin
head -c $((8 << 20)) /dev/urandom >"$h"
id=$("${C[@]}" job create --upload --suspended paced "$group/paced.bin" "$h") || ft_fail "create paced"
"${C[@]}" job set "$id" --bandwidth-limit $((2 << 20)) >/dev/null || ft_fail "job set paced"
t0=$(date +%s%N)
"${C[@]}" job resume "$id" || ft_fail "resume paced"
for _ in $(seq 1 400); do
    [ "$(jshow "$id" State)" = 6 ] && break
    sleep 0.05
done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
ft_assert_eq 6 "$(jshow "$id" State)" "paced upload TRANSFERRED"
[ "$ms" -ge 2500 ] || ft_fail "8 MiB at 2 MiB/s took only $ms ms"
"${C[@]}" job complete "$id" || ft_fail "complete paced"
ft_assert_eq "$(ft_sha256 "$h")" "$(ft_sha256 "$FT_TMP/up/inbox/paced.bin")" "sha256 of paced.bin"

# 7. Cancel mid-upload (4 MiB/s): Cancel-Session reaches the server, which removes the part
# file; the job is CANCELLED at once; the session id is refused from then on
id=$(slow_job cancelled.bin "$f")
wait_bytes "$id" $((2 << 20))
ls -A "$FT_TMP/up/inbox" | grep -q '^\.ferry-upload-.*\.part$' || ft_fail "no part file mid-upload"
sid=$(session_of "$id")
[ -n "$sid" ] || ft_fail "no session id logged"
"${C[@]}" job cancel "$id" || ft_fail "cancel mid-upload"
ft_assert_eq 8 "$(jshow "$id" State)" "state right after Cancel"
for _ in $(seq 1 100); do
    grep -q "job $id: upload session $sid cancelled on the server" "$FT_TMP/cli/ferryd.log" && break
    sleep 0.05
done
grep -q "job $id: upload session $sid cancelled on the server" "$FT_TMP/cli/ferryd.log" \
    || ft_fail "Cancel-Session not acked: $(grep "$id" "$FT_TMP/cli/ferryd.log")"
[ -z "$(ls -A "$FT_TMP/up/inbox" | grep '^\.ferry-upload-')" ] \
    || ft_fail "session files left after Cancel: $(ls -A "$FT_TMP/up/inbox")"
no_target cancelled.bin
head -c 1000 "$f" >"$FT_TMP/k1"
out=$(/usr/bin/python3 "$(dirname "$0")/../tools/bits_upload_client.py" raw "$group/cancelled.bin" \
      Fragment "$sid" "bytes 0-999/$((24 << 20 | 4321))" "$FT_TMP/k1")
grep -q '^bits-error-code: 0x8020001f$' <<<"$out" || ft_fail "the cancelled session took a fragment: $out"
sleep 1
[ -z "$(ls -A "$FT_TMP/up/inbox" | grep '^\.ferry-upload-')" ] \
    || ft_fail "a fragment after Cancel recreated session files: $(ls -A "$FT_TMP/up/inbox")"

ft_ferryd_stop cli
ft_ferryd_stop srv
ft_pass
