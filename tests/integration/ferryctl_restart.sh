#!/usr/bin/env bash
# `ferryctl job wait --complete` rides through a client agent that is killed (-9) and
# restarted in the middle of a transfer: it keeps polling through the connection failures,
# the job resumes from its persisted progress, and the file arrives intact.
. "$(dirname "$0")/../lib/ferry-test.sh"
ft_need xxhsum

mkdir -p "$FT_TMP/pub" "$FT_TMP/in"
ft_ferryd_start srv --publish-root "$FT_TMP/pub"
port=$(ft_free_port)
ft_ferryd_start cli --download-root "$FT_TMP/in" --wsman-listen "127.0.0.1:$port"
ft_assert_eq "http://127.0.0.1:$port/wsman" "$FT_WSMAN_cli" "client endpoint on the chosen port"
printf 'admin-pw\n' >"$FT_TMP/pw"
S=("$FERRYCTL" --endpoint "$FT_WSMAN_srv" --user admin --password-file "$FT_TMP/pw")
C=("$FERRYCTL" --endpoint "$FT_WSMAN_cli" --user admin --password-file "$FT_TMP/pw")

f=$FT_TMP/pub/data.bin
head -c $((32 << 20)) /dev/urandom >"$f"
url=$("${S[@]}" url publish "http://127.0.0.1:$(ft_free_port)/r" data.bin "$f") || ft_fail "publish"
id=$("${C[@]}" job create restart "$url" "$FT_TMP/in/data.bin" --suspended) || ft_fail "create"
# 4 MiB/s: about 8 s for the whole file, so the kill lands mid-transfer
"${C[@]}" job set "$id" --bandwidth-limit $((4 << 20)) >/dev/null || ft_fail "bandwidth limit"
"${C[@]}" job resume "$id" || ft_fail "resume"

"${C[@]}" job wait "$id" --complete --interval 0.2 >"$FT_TMP/wait.out" 2>"$FT_TMP/wait.err" &
wpid=$!
FT_PIDS+=("$wpid")
for _ in $(seq 1 100); do
    done_bytes=$("${C[@]}" --json job show "$id" | /usr/bin/python3 -c \
        'import json,sys; print(json.load(sys.stdin)["BytesTransferred"])')
    [ "$done_bytes" -ge $((8 << 20)) ] && break
    sleep 0.1
done
[ "$done_bytes" -lt $((32 << 20)) ] || ft_fail "the transfer ended before the kill"
ft_ferryd_kill9 cli
sleep 1.5
ft_ferryd_start cli --download-root "$FT_TMP/in" --wsman-listen "127.0.0.1:$port"
rc=0; wait "$wpid" || rc=$?
ft_assert_eq 0 "$rc" "job wait across the restart ($(cat "$FT_TMP/wait.err"))"
grep -q "retrying" "$FT_TMP/wait.err" || ft_fail "job wait did not notice the restart"
grep -q "^job $id ACKNOWLEDGED" "$FT_TMP/wait.out" || ft_fail "final: $(cat "$FT_TMP/wait.out")"
ft_assert_eq "$(ft_xxh128 "$f")" "$(ft_xxh128 "$FT_TMP/in/data.bin")" "XXH3-128 after the restart"
ft_ferryd_stop cli
ft_ferryd_stop srv
ft_pass
