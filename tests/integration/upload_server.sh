#!/usr/bin/env bash
# ferryd's server role accepting BITS uploads from an independent Python client
# (tests/tools/bits_upload_client.py, written from Microsoft's protocol pages): uploads are
# refused until UploadEnabled; a whole upload lands byte-exact; a gap gets 416 with the
# received range; MaxUploadSize gives 413; kill -9 of ferryd mid-session and a restart on
# the same state resume from the received range; nothing is visible under the target name
# before Close-Session; an unknown session gets BG_E_SESSION_NOT_FOUND; Cancel-Session
# removes the session; --upload-session-timeout removes a session that received nothing
# that long (also one left by the ferryd before a restart: by its files' age) and its id
# then answers BG_E_SESSION_NOT_FOUND, while a session kept alive by fragments stays.
. "$(dirname "$0")/../lib/ferry-test.sh"
ft_need xxhsum curl /usr/bin/python3 uuidgen
PY=(/usr/bin/python3 "$(dirname "$0")/../tools/bits_upload_client.py")

mkdir -p "$FT_TMP/up" "$FT_TMP/pub"
ft_ferryd_start srv --upload-root "$FT_TMP/up" --upload-fragment-max 1MiB --publish-root "$FT_TMP/pub"
port=$(ft_free_port)
group=http://127.0.0.1:$port/inbox
G=http://schemas.microsoft.com/wbem/wsman/1/wmi/root/microsoft/bits/BitsCompactServerUrlGroup

# wsinvoke METHOD BODY-XML: invoke on the group, print the response
wsinvoke() {
    local sel="<w:SelectorSet><w:Selector Name=\"UrlGroup\">$group</w:Selector></w:SelectorSet>"
    [ "$1" = CreateUrlGroup ] && sel=""
    local env="<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" xmlns:a=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" xmlns:w=\"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd\"><s:Header><a:Action>$G/$1</a:Action><a:MessageID>uuid:$(uuidgen)</a:MessageID><w:ResourceURI>$G</w:ResourceURI>$sel</s:Header><s:Body><p:$1_INPUT xmlns:p=\"$G\">$2</p:$1_INPUT></s:Body></s:Envelope>"
    curl -s -u admin:admin-pw -H "Content-Type: application/soap+xml;charset=utf-8" \
        --data-binary "$env" "$FT_WSMAN_srv"
}
setprop() { wsinvoke SetProperty "<p:Property>$1</p:Property><p:Value>$2</p:Value>"; }

out=$(wsinvoke CreateUrlGroup "<p:UrlGroup>$group</p:UrlGroup>")
grep -q '<p:ReturnValue>0</p:ReturnValue>' <<<"$out" || ft_fail "CreateUrlGroup: $out"

f=$FT_TMP/result.bin
head -c $((3 << 20 | 12345)) /dev/urandom >"$f"

# off by default: 403 with a BITS error code
out=$("${PY[@]}" raw "$group/result.bin" Create-Session)
grep -q '^403$' <<<"$out" || ft_fail "upload accepted while disabled: $out"
grep -q '^bits-error-code: 0x80070005$' <<<"$out" || ft_fail "403 without BITS-Error-Code: $out"

# issue #18's bound holds: a body is read only for an allowed BITS_POST; every other
# request announcing 2 MiB is answered on its head alone (no body byte sent here)
out=$("${PY[@]}" headonly BITS_POST "$group/result.bin" $((2 << 20))) || ft_fail "disabled: $out"
ft_assert_eq "$out" 403 "2 MiB BITS_POST to a group without uploads"
out=$("${PY[@]}" headonly POST "$group/result.bin" $((2 << 20))) || ft_fail "POST: $out"
ft_assert_eq "$out" 413 "2 MiB POST"

out=$(setprop UploadEnabled 1)
grep -q '<p:ReturnValue>0</p:ReturnValue>' <<<"$out" || ft_fail "SetProperty UploadEnabled: $out"
out=$(wsinvoke GetProperty "<p:Property>UploadEnabled</p:Property>")
grep -q '>1<' <<<"$out" || ft_fail "GetProperty UploadEnabled: $out"

# a URL whose rule wants authenticated users: no body before the credentials pass
printf 'x\n' >"$FT_TMP/pub/secret.src"
out=$(wsinvoke CreateUrl "<p:UrlSuffix>secret.bin</p:UrlSuffix><p:SourceFilePath>$FT_TMP/pub/secret.src</p:SourceFilePath><p:SDDLAuth>D:(A;;GA;;;AU)</p:SDDLAuth>")
grep -q '<p:ReturnValue>0</p:ReturnValue>' <<<"$out" || ft_fail "CreateUrl: $out"
out=$("${PY[@]}" headonly BITS_POST "$group/secret.bin" $((2 << 20))) || ft_fail "anon: $out"
ft_assert_eq "$out" 401 "2 MiB BITS_POST without credentials"
out=$("${PY[@]}" headonly BITS_POST "$group/secret.bin" $((2 << 20)) admin:wrong) \
    || ft_fail "wrong password: $out"
ft_assert_eq "$out" 401 "2 MiB BITS_POST with a wrong password"
out=$("${PY[@]}" headonly BITS_POST "$group/other.bin" $((2 << 20))) || ft_fail "big: $out"
ft_assert_eq "$out" 413 "BITS_POST above --upload-fragment-max"
# allowed and within the fragment cap: the server waits for the body
out=$("${PY[@]}" headonly BITS_POST "$group/secret.bin" $((512 << 10)) admin:admin-pw)
ft_assert_eq "$out" timeout "an authenticated BITS_POST's body is read"

# a whole upload in 256 KiB fragments, byte-exact
"${PY[@]}" upload "$group/result.bin" "$f" --fragment 262144 >/dev/null || ft_fail "upload"
ft_assert_eq "$(xxhsum <"$f" | cut -d' ' -f1)" "$(xxhsum <"$FT_TMP/up/inbox/result.bin" | cut -d' ' -f1)" \
    "uploaded file hash"
[ -z "$(ls -A "$FT_TMP/up/inbox" | grep -v '^result.bin$')" ] || ft_fail "leftovers: $(ls -A "$FT_TMP/up/inbox")"

# a gap: 416 and the received range
head -c 1000 "$f" >"$FT_TMP/first"
sid=$("${PY[@]}" raw "$group/gap.bin" Create-Session | awk '/^bits-session-id:/ {print $2}')
[ -n "$sid" ] || ft_fail "no session id"
out=$("${PY[@]}" raw "$group/gap.bin" Fragment "$sid" "bytes 0-999/5000" "$FT_TMP/first")
grep -q '^200$' <<<"$out" && grep -q '^bits-received-content-range: 1000$' <<<"$out" \
    || ft_fail "first fragment: $out"
out=$("${PY[@]}" raw "$group/gap.bin" Fragment "$sid" "bytes 2000-2999/5000" "$FT_TMP/first")
grep -q '^416$' <<<"$out" && grep -q '^bits-received-content-range: 1000$' <<<"$out" \
    || ft_fail "gap not refused with 416: $out"
# closing an incomplete session leaves no file
out=$("${PY[@]}" raw "$group/gap.bin" Close-Session "$sid")
grep -q '^400$' <<<"$out" || ft_fail "incomplete close: $out"
[ ! -e "$FT_TMP/up/inbox/gap.bin" ] || ft_fail "partial file visible after incomplete close"
[ -z "$(ls -A "$FT_TMP/up/inbox" | grep '^\.ferry-upload-')" ] || ft_fail "session files left"

# an overlapping fragment (written while it arrives): only the new bytes are written
head -c 5000 "$f" >"$FT_TMP/five"
sid=$("${PY[@]}" raw "$group/overlap.bin" Create-Session | awk '/^bits-session-id:/ {print $2}')
dd if="$FT_TMP/five" of="$FT_TMP/p1" bs=1 count=3000 status=none
dd if="$FT_TMP/five" of="$FT_TMP/p2" bs=1 skip=1000 count=3000 status=none
dd if="$FT_TMP/five" of="$FT_TMP/p3" bs=1 skip=4000 status=none
out=$("${PY[@]}" raw "$group/overlap.bin" Fragment "$sid" "bytes 0-2999/5000" "$FT_TMP/p1")
grep -q '^bits-received-content-range: 3000$' <<<"$out" || ft_fail "overlap 1: $out"
out=$("${PY[@]}" raw "$group/overlap.bin" Fragment "$sid" "bytes 1000-3999/5000" "$FT_TMP/p2")
grep -q '^200$' <<<"$out" && grep -q '^bits-received-content-range: 4000$' <<<"$out" \
    || ft_fail "overlapping fragment: $out"
out=$("${PY[@]}" raw "$group/overlap.bin" Fragment "$sid" "bytes 4000-4999/5000" "$FT_TMP/p3")
grep -q '^bits-received-content-range: 5000$' <<<"$out" || ft_fail "overlap 3: $out"
out=$("${PY[@]}" raw "$group/overlap.bin" Close-Session "$sid")
grep -q '^200$' <<<"$out" || ft_fail "overlap close: $out"
cmp -s "$FT_TMP/five" "$FT_TMP/up/inbox/overlap.bin" || ft_fail "overlapping fragments: wrong bytes"

# unknown session
out=$("${PY[@]}" raw "$group/gap.bin" Fragment "{00000000-0000-0000-0000-000000000000}" \
      "bytes 0-999/5000" "$FT_TMP/first")
grep -q '^bits-error-code: 0x8020001f$' <<<"$out" || ft_fail "unknown session: $out"

# MaxUploadSize
setprop MaxUploadSize 4000 >/dev/null
sid=$("${PY[@]}" raw "$group/big.bin" Create-Session | awk '/^bits-session-id:/ {print $2}')
out=$("${PY[@]}" raw "$group/big.bin" Fragment "$sid" "bytes 0-999/5000" "$FT_TMP/first")
grep -q '^413$' <<<"$out" || ft_fail "MaxUploadSize not enforced: $out"
out=$("${PY[@]}" raw "$group/big.bin" Cancel-Session "$sid")
grep -q '^200$' <<<"$out" || ft_fail "Cancel-Session: $out"
[ -z "$(ls -A "$FT_TMP/up/inbox" | grep '^\.ferry-upload-')" ] || ft_fail "files left after cancel"
setprop MaxUploadSize 0 >/dev/null

# kill -9 mid-session, restart on the same state: the group, its upload switch and the
# session survive; the client resumes from the received range
sid=$("${PY[@]}" upload "$group/crash.bin" "$f" --fragment 262144 --stop-after 5) \
    || ft_fail "partial upload"
[ ! -e "$FT_TMP/up/inbox/crash.bin" ] || ft_fail "crash.bin visible before Close-Session"
ft_ferryd_kill9 srv
ft_ferryd_start srv --upload-root "$FT_TMP/up" --upload-fragment-max 1MiB --publish-root "$FT_TMP/pub"
out=$("${PY[@]}" resume "$group/crash.bin" "$f" "$sid" --fragment 262144) || ft_fail "resume: $out"
grep -q "^resume-from $((5 * 262144))$" <<<"$out" || ft_fail "resumed from the wrong offset: $out"
ft_assert_eq "$(xxhsum <"$f" | cut -d' ' -f1)" "$(xxhsum <"$FT_TMP/up/inbox/crash.bin" | cut -d' ' -f1)" \
    "resumed file hash"
[ -z "$(ls -A "$FT_TMP/up/inbox" | grep '^\.ferry-upload-')" ] || ft_fail "session files left after resume"

# GET is still only for published URLs; a hidden session name is never a target
out=$("${PY[@]}" raw "$group/.ferry-upload-x.part" Create-Session)
grep -q '^403$' <<<"$out" || ft_fail "hidden name accepted: $out"

# Cancel-Session of a session with bytes: its part file goes, its id is unknown from then on
sid=$("${PY[@]}" raw "$group/cancel.bin" Create-Session | awk '/^bits-session-id:/ {print $2}')
out=$("${PY[@]}" raw "$group/cancel.bin" Fragment "$sid" "bytes 0-999/5000" "$FT_TMP/first")
grep -q '^bits-received-content-range: 1000$' <<<"$out" || ft_fail "cancel fragment: $out"
ls -A "$FT_TMP/up/inbox" | grep -q '^\.ferry-upload-.*\.part$' || ft_fail "no part file"
out=$("${PY[@]}" raw "$group/cancel.bin" Cancel-Session "$sid")
grep -q '^200$' <<<"$out" || ft_fail "Cancel-Session: $out"
[ -z "$(ls -A "$FT_TMP/up/inbox" | grep '^\.ferry-upload-')" ] || ft_fail "files left after cancel"
out=$("${PY[@]}" raw "$group/cancel.bin" Fragment "$sid" "bytes 1000-1999/5000" "$FT_TMP/first")
grep -q '^bits-error-code: 0x8020001f$' <<<"$out" || ft_fail "a cancelled session took a fragment: $out"

# session timeout: `idle` is made by this ferryd (default timeout, 14 days) and gets
# nothing more; the next ferryd has --upload-session-timeout 2
dd if="$FT_TMP/five" of="$FT_TMP/k1" bs=1 skip=1000 count=1000 status=none
dd if="$FT_TMP/five" of="$FT_TMP/k2" bs=1 skip=2000 count=1000 status=none
dd if="$FT_TMP/five" of="$FT_TMP/k3" bs=1 skip=3000 count=1000 status=none
dd if="$FT_TMP/five" of="$FT_TMP/k4" bs=1 skip=4000 count=1000 status=none
idle=$("${PY[@]}" raw "$group/idle.bin" Create-Session | awk '/^bits-session-id:/ {print $2}')
out=$("${PY[@]}" raw "$group/idle.bin" Fragment "$idle" "bytes 0-999/5000" "$FT_TMP/first")
grep -q '^bits-received-content-range: 1000$' <<<"$out" || ft_fail "idle fragment: $out"
ihex=$(tr -d '{}-' <<<"$idle" | tr 'A-F' 'a-f')
[ -f "$FT_TMP/up/inbox/.ferry-upload-$ihex.part" ] || ft_fail "no part file of the idle session"
sleep 1
[ -f "$FT_TMP/up/inbox/.ferry-upload-$ihex.part" ] || ft_fail "the default timeout expired a session"
ft_ferryd_stop srv
ft_ferryd_start srv --upload-root "$FT_TMP/up" --upload-fragment-max 1MiB \
    --publish-root "$FT_TMP/pub" --upload-session-timeout 2
help=$("$FERRYD" --help 2>&1) || true
grep -q -- '--upload-session-timeout' <<<"$help" || ft_fail "--help lacks the option"
live=$("${PY[@]}" raw "$group/live.bin" Create-Session | awk '/^bits-session-id:/ {print $2}')
out=$("${PY[@]}" raw "$group/live.bin" Fragment "$live" "bytes 0-999/5000" "$FT_TMP/first")
grep -q '^bits-received-content-range: 1000$' <<<"$out" || ft_fail "live fragment 1: $out"
# the live session gets a packet every 0.8 s for 5.6 s (fragments, then zero-length ones)
for k in 1 2 3 4 5 6 7; do
    sleep 0.8
    if [ "$k" -le 3 ]; then
        out=$("${PY[@]}" raw "$group/live.bin" Fragment "$live" \
              "bytes ${k}000-${k}999/5000" "$FT_TMP/k$k")
        grep -q "^bits-received-content-range: $((k + 1))000$" <<<"$out" \
            || ft_fail "live fragment $((k + 1)): $out"
    else
        out=$("${PY[@]}" raw "$group/live.bin" Fragment "$live" "bytes */5000")
        grep -q '^bits-received-content-range: 4000$' <<<"$out" \
            || ft_fail "live keep-alive $k: $out"
    fi
done
# the idle one (its files 7 s old, made before the restart) is gone and unknown
[ ! -e "$FT_TMP/up/inbox/.ferry-upload-$ihex.part" ] || ft_fail "idle part file not expired"
[ ! -e "$FT_TMP/up/inbox/.ferry-upload-$ihex.meta" ] || ft_fail "idle meta file not expired"
out=$("${PY[@]}" raw "$group/idle.bin" Fragment "$idle" "bytes 1000-1999/5000" "$FT_TMP/k1")
grep -q '^bits-error-code: 0x8020001f$' <<<"$out" || ft_fail "an expired session took a fragment: $out"
grep -q "upload session $ihex: nothing received for" "$FT_TMP/srv/ferryd.log" \
    || ft_fail "no expiry logged"
# the live one finishes from its received range, exact
out=$("${PY[@]}" raw "$group/live.bin" Fragment "$live" "bytes 4000-4999/5000" "$FT_TMP/k4")
grep -q '^bits-received-content-range: 5000$' <<<"$out" || ft_fail "live last fragment: $out"
out=$("${PY[@]}" raw "$group/live.bin" Close-Session "$live")
grep -q '^200$' <<<"$out" || ft_fail "live close: $out"
cmp -s "$FT_TMP/five" "$FT_TMP/up/inbox/live.bin" || ft_fail "live.bin: wrong bytes"
ft_ferryd_stop srv
ft_pass
