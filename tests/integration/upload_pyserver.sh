#!/usr/bin/env bash
# ferryd's upload jobs against an independent BITS upload server written from Microsoft's
# protocol pages (tests/tools/bits_upload_server.py), not from ferry's server code: an
# upload arrives exact; an upload-reply job fetches BITS-Reply-URL before Close-Session and
# its reply ("sha256 <hex>") lands at ReplyFileName on Complete; a server that forgets the
# session mid-upload (BG_E_SESSION_NOT_FOUND) gets a new session and the file is still
# exact; a server whose fragment cap is below ferry's gets smaller fragments (413 on the
# 100-continue head); a kill -9 of the server resumes from its received range; Cancel of an
# upload-reply job mid-upload sends Cancel-Session with its session id (the server deletes
# the session); Cancel while the server is stopped (no answer) or gone (refused) still
# makes the job CANCELLED at once, and the Cancel-Session gives up within its 5 s bound.
. "$(dirname "$0")/../lib/ferry-test.sh"
ft_need sha256sum /usr/bin/python3

mkdir -p "$FT_TMP/in"
ft_ferryd_start cli --download-root "$FT_TMP/in" --min-retry-delay 1
printf 'admin-pw\n' >"$FT_TMP/pw"
C=("$FERRYCTL" --endpoint "$FT_WSMAN_cli" --user admin --password-file "$FT_TMP/pw")
SERVER=/usr/bin/python3
TOOL=$(dirname "$0")/../tools/bits_upload_server.py

# pyserver DIR ARGS...: start the server, set PY_PID and PY_PORT
pyserver() {
    local dir=$1; shift
    mkdir -p "$dir"
    rm -f "$dir.port"
    "$SERVER" "$TOOL" "$dir" "$dir.port" "$@" 2>>"$dir.log" &
    PY_PID=$!
    FT_PIDS+=("$PY_PID")
    for _ in $(seq 1 200); do
        [ -s "$dir.port" ] && break
        sleep 0.02
    done
    [ -s "$dir.port" ] || ft_fail "python server did not start: $(cat "$dir.log")"
    PY_PORT=$(cat "$dir.port")
}
jshow() {
    "${C[@]}" --json job show "$1" | /usr/bin/python3 -c \
        'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"
}
wait_state() { # ID STATE: within 20 s
    for _ in $(seq 1 400); do
        [ "$(jshow "$1" State)" = "$2" ] && return 0
        sleep 0.05
    done
    ft_fail "job $1: state $(jshow "$1" State), not $2: $(grep "$1" "$FT_TMP/cli/ferryd.log")"
}

f=$FT_TMP/in/src.bin
head -c $((9 << 20 | 777)) /dev/urandom >"$f"
sum=$(ft_sha256 "$f")

# 1. Type 1, exact
pyserver "$FT_TMP/py1"
id=$("${C[@]}" job create --upload one "http://127.0.0.1:$PY_PORT/dir/one.bin" "$f") \
    || ft_fail "create"
wait_state "$id" 6
"${C[@]}" job complete "$id" || ft_fail "complete"
ft_assert_eq "$sum" "$(ft_sha256 "$FT_TMP/py1/one.bin")" "sha256 at the Python server"
grep -q "^PACKET ping " "$FT_TMP/py1.log" || ft_fail "no Ping"
grep -q "^PACKET close-session " "$FT_TMP/py1.log" || ft_fail "no Close-Session"
kill "$PY_PID"

# 2. Type 2: the reply named by BITS-Reply-URL, at ReplyFileName after Complete
pyserver "$FT_TMP/py2" --reply
id=$("${C[@]}" job create --upload-reply "$FT_TMP/in/answer.txt" two \
     "http://127.0.0.1:$PY_PORT/two.bin" "$f") || ft_fail "create reply job"
wait_state "$id" 6
[ ! -e "$FT_TMP/in/answer.txt" ] || ft_fail "reply visible before Complete"
"${C[@]}" job complete "$id" || ft_fail "complete reply job"
ft_assert_eq "sha256 $sum" "$(cat "$FT_TMP/in/answer.txt")" "reply content"
ft_assert_eq "$sum" "$(ft_sha256 "$FT_TMP/py2/two.bin")" "sha256 of the upload-reply upload"
kill "$PY_PID"

# 3. the server forgets the session after 1 fragment and caps fragments at 1 MiB
pyserver "$FT_TMP/py3" --forget-after 1 --fragment-max $((1 << 20))
id=$("${C[@]}" job create --upload three "http://127.0.0.1:$PY_PORT/three.bin" "$f") \
    || ft_fail "create 3"
wait_state "$id" 6
"${C[@]}" job complete "$id" || ft_fail "complete 3"
ft_assert_eq "$sum" "$(ft_sha256 "$FT_TMP/py3/three.bin")" "sha256 after a lost session"
grep -q "job $id: the server forgot upload session" "$FT_TMP/cli/ferryd.log" \
    || ft_fail "the lost session was not noticed"
grep -q "^PACKET expect .* 413$" "$FT_TMP/py3.log" || ft_fail "no 413 on a large fragment"
kill "$PY_PID"

# 4. kill -9 of the server mid-upload (4 MiB/s): the client resumes the same session
pyserver "$FT_TMP/py4"
id=$("${C[@]}" job create --upload --suspended four "http://127.0.0.1:$PY_PORT/four.bin" "$f") \
    || ft_fail "create 4"
"${C[@]}" job set "$id" --bandwidth-limit $((4 << 20)) --min-retry-delay 1 >/dev/null
"${C[@]}" job resume "$id"
for _ in $(seq 1 200); do
    [ "$(jshow "$id" BytesTransferred)" -ge $((4 << 20)) ] && break
    sleep 0.05
done
kill -9 "$PY_PID"
wait "$PY_PID" 2>/dev/null || true
[ ! -e "$FT_TMP/py4/four.bin" ] || ft_fail "four.bin visible before Close-Session"
port=$PY_PORT
# the same port again: the job's RemoteUrl names it
pyserver "$FT_TMP/py4" --port "$port"
wait_state "$id" 6
"${C[@]}" job complete "$id" || ft_fail "complete 4"
ft_assert_eq "$sum" "$(ft_sha256 "$FT_TMP/py4/four.bin")" "sha256 after the server's kill -9"
grep -Eq "job $id: resuming upload session .* at [1-9]" "$FT_TMP/cli/ferryd.log" \
    || ft_fail "no resume: $(grep "$id" "$FT_TMP/cli/ferryd.log")"
[ "$(grep -c "job $id: upload session .* created" "$FT_TMP/cli/ferryd.log")" = 1 ] \
    || ft_fail "restarted from zero after the server's kill -9"

kill "$PY_PID"

session_of() { # ID: the upload session the client logged for job ID
    sed -n "s/.*job $1: upload session \({[^}]*}\) created.*/\1/p" "$FT_TMP/cli/ferryd.log" | tail -n 1
}
slow_job() { # TYPE-OPTION... NAME URL: a job at 2 MiB/s, resumed; prints its id
    local id
    id=$("${C[@]}" job create "$@" "$f") || ft_fail "create $*"
    "${C[@]}" job set "$id" --bandwidth-limit $((2 << 20)) --min-retry-delay 1 >/dev/null
    "${C[@]}" job resume "$id" || ft_fail "resume $*"
    printf '%s\n' "$id"
}
wait_bytes() { # ID N
    for _ in $(seq 1 200); do
        [ "$(jshow "$1" BytesTransferred)" -ge "$2" ] && return 0
        sleep 0.05
    done
    ft_fail "job $1: BytesTransferred $(jshow "$1" BytesTransferred) < $2"
}
wait_log() { # TEXT SECONDS: until the client's log holds TEXT
    for _ in $(seq 1 $(($2 * 20))); do
        grep -qF "$1" "$FT_TMP/cli/ferryd.log" && return 0
        sleep 0.05
    done
    ft_fail "not logged within $2 s: '$1': $(tail -n 5 "$FT_TMP/cli/ferryd.log")"
}

# 5. Cancel of an upload-reply job mid-upload: Cancel-Session with its session id arrives
pyserver "$FT_TMP/py5" --reply
id=$(slow_job --suspended --upload-reply "$FT_TMP/in/five.reply" five \
     "http://127.0.0.1:$PY_PORT/five.bin")
wait_bytes "$id" $((1 << 20))
sid=$(session_of "$id")
[ -n "$sid" ] || ft_fail "no session logged"
"${C[@]}" job cancel "$id" || ft_fail "cancel 5"
ft_assert_eq 8 "$(jshow "$id" State)" "state right after Cancel"
wait_log "job $id: upload session $sid cancelled on the server" 5
grep -q "^PACKET cancel-session $sid None 200$" "$FT_TMP/py5.log" \
    || ft_fail "no Cancel-Session for $sid: $(grep -v fragment "$FT_TMP/py5.log")"
[ -z "$(ls -A "$FT_TMP/py5/.sessions")" ] || ft_fail "session left: $(ls -A "$FT_TMP/py5/.sessions")"
[ ! -e "$FT_TMP/py5/five.bin" ] || ft_fail "five.bin placed after Cancel"
kill "$PY_PID"

# 6. the server stopped (SIGSTOP: connections accepted, never answered) at Cancel
pyserver "$FT_TMP/py6"
id=$(slow_job --upload --suspended six "http://127.0.0.1:$PY_PORT/six.bin")
wait_bytes "$id" $((1 << 20))
sid=$(session_of "$id")
kill -STOP "$PY_PID"
t0=$(date +%s%N)
"${C[@]}" job cancel "$id" || ft_fail "cancel 6"
ft_assert_eq 8 "$(jshow "$id" State)" "state right after Cancel (server stopped)"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$ms" -lt 2000 ] || ft_fail "Cancel took $ms ms with the server stopped"
wait_log "job $id: Cancel-Session of upload session $sid not delivered" 9
kill -CONT "$PY_PID"
kill "$PY_PID"

# 7. the server gone (connection refused) at Cancel
pyserver "$FT_TMP/py7"
id=$(slow_job --upload --suspended seven "http://127.0.0.1:$PY_PORT/seven.bin")
wait_bytes "$id" $((1 << 20))
sid=$(session_of "$id")
kill -9 "$PY_PID"
wait "$PY_PID" 2>/dev/null || true
"${C[@]}" job cancel "$id" || ft_fail "cancel 7"
ft_assert_eq 8 "$(jshow "$id" State)" "state right after Cancel (server gone)"
wait_log "job $id: Cancel-Session of upload session $sid not delivered" 3

ft_ferryd_stop cli
ft_pass
