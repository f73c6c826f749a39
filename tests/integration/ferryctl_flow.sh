#!/usr/bin/env bash
# ferryctl against the real ferryd: two agents on loopback (a server and a client role),
# the controller flow identify -> group create / url publish -> job create --suspended ->
# job show / set -> job resume -> job wait --complete, the file checked by hash, job list
# --json parsed with python3, and the exit codes of faults, bad credentials and
# unreachable endpoints.
. "$(dirname "$0")/../lib/ferry-test.sh"
ft_need xxhsum /usr/bin/python3

mkdir -p "$FT_TMP/pub" "$FT_TMP/in"
ft_ferryd_start srv --publish-root "$FT_TMP/pub"
ft_ferryd_start cli --download-root "$FT_TMP/in"
printf 'admin-pw\n' >"$FT_TMP/pw"
S=("$FERRYCTL" --endpoint "$FT_WSMAN_srv" --user admin --password-file "$FT_TMP/pw")
C=("$FERRYCTL" --endpoint "$FT_WSMAN_cli" --user admin --password-file "$FT_TMP/pw")

# identify (protocol and vendor), text and json
"${S[@]}" identify | grep -q "^ProtocolVersion *http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd$" \
    || ft_fail "identify: $("${S[@]}" identify 2>&1)"
"${S[@]}" --json identify | /usr/bin/python3 -c \
    'import json,sys; d=json.load(sys.stdin); assert d["ProductVendor"]=="ferry", d' \
    || ft_fail "identify --json"

# publish a 24 MiB file with a hole in the middle
f=$FT_TMP/pub/data.bin
head -c $((8 << 20)) /dev/urandom >"$f"
truncate -s $((16 << 20)) "$f"
head -c $((8 << 20)) /dev/urandom >>"$f"
port=$(ft_free_port)
group=http://127.0.0.1:$port/flow
"${S[@]}" group create "$group" || ft_fail "group create"
url=$("${S[@]}" url publish "$group" data.bin "$f") || ft_fail "url publish"
ft_assert_eq "$group/data.bin" "$url" "published URL"
"${S[@]}" url check "$group" data.bin | grep -q "exists$" || ft_fail "url check"
"${S[@]}" --json group list | /usr/bin/python3 -c \
    'import json,sys; g=json.load(sys.stdin); assert any(x["UrlGroup"]==sys.argv[1] for x in g), g' \
    "$group" || ft_fail "group list --json"

# a suspended job, its priority changed (Get + Put), resumed, followed, completed
dest=$FT_TMP/in/data.bin
id=$("${C[@]}" job create flow "$url" "$dest" --suspended --description "flow test") \
    || ft_fail "job create"
[[ $id =~ ^\{[0-9A-Fa-f-]{36}\}$ ]] || ft_fail "JobId '$id'"
"${C[@]}" job show "$id" | grep -q "^State *3 (SUSPENDED)$" || ft_fail "not SUSPENDED"
"${C[@]}" job set "$id" --priority high --display-name "flow job" >/dev/null || ft_fail "job set"
show=$("${C[@]}" --json job show "$id")
/usr/bin/python3 -c 'import json,sys; j=json.loads(sys.argv[1]); assert j["Priority"]=="1" and j["DisplayName"]=="flow job" and j["Description"]=="flow test", j' \
    "$show" || ft_fail "job set not applied: $show"
"${C[@]}" --json job list >"$FT_TMP/list.json" || ft_fail "job list"
/usr/bin/python3 - "$FT_TMP/list.json" "$id" <<'PY' || ft_fail "job list --json: $(cat "$FT_TMP/list.json")"
import json, sys
jobs = json.load(open(sys.argv[1]))
assert [j["JobId"] for j in jobs] == [sys.argv[2]], jobs
assert jobs[0]["State"] == "3"
PY
[ ! -e "$dest" ] || ft_fail "$dest exists before the job completed"
"${C[@]}" job resume "$id" || ft_fail "job resume"
"${C[@]}" job wait "$id" --complete --interval 0.1 >"$FT_TMP/wait.out" || ft_fail "job wait: $(cat "$FT_TMP/wait.out")"
grep -q "^job $id ACKNOWLEDGED" "$FT_TMP/wait.out" || ft_fail "wait end: $(cat "$FT_TMP/wait.out")"
grep -q "bytes *24.0 MiB (25165824)" "$FT_TMP/wait.out" || ft_fail "wait stats: $(cat "$FT_TMP/wait.out")"
ft_assert_eq "$(ft_xxh128 "$f")" "$(ft_xxh128 "$dest")" "XXH3-128 of the fetched file"
# final jobs leave the list
ft_assert_eq "[]" "$("${C[@]}" --json job list)" "job list after ACKNOWLEDGED"

# a file the server does not publish: ERROR; job wait exits 1 and prints GetError
bad=$("${C[@]}" job create missing "$group/nope.bin" "$FT_TMP/in/nope.bin") || ft_fail "create (404)"
rc=0; "${C[@]}" job wait "$bad" --interval 0.1 >"$FT_TMP/bw.out" 2>"$FT_TMP/bw.err" || rc=$?
ft_assert_eq 1 "$rc" "job wait on a 404 job"
grep -q "failed: error 0x80190194 BG_E_HTTP_ERROR" "$FT_TMP/bw.err" || ft_fail "GetError: $(cat "$FT_TMP/bw.err")"
grep -q "^job $bad ERROR" "$FT_TMP/bw.out" || ft_fail "final state: $(cat "$FT_TMP/bw.out")"
"${C[@]}" --json job error "$bad" | /usr/bin/python3 -c \
    'import json,sys; e=json.load(sys.stdin); assert int(e["ErrorCode"])==0x80190194 and e["ErrorContext"]=="5", e' \
    || ft_fail "job error --json"
"${C[@]}" job cancel "$bad" || ft_fail "cancel"
"${C[@]}" job show "$bad" | grep -q "^State *8 (CANCELLED)$" || ft_fail "not CANCELLED"

# add-file on a suspended job: two files
two=$("${C[@]}" job create two "$url" "$FT_TMP/in/a.bin" --suspended) || ft_fail "create two"
"${C[@]}" job add-file "$two" "$url" "$FT_TMP/in/b.bin" || ft_fail "add-file"
"${C[@]}" --json job show "$two" | /usr/bin/python3 -c \
    'import json,sys; j=json.load(sys.stdin); assert j["FilesTotal"]=="2" and len(j["Files"])==2, j' \
    || ft_fail "two files"
"${C[@]}" job resume "$two"
"${C[@]}" job wait "$two" --complete --interval 0.1 >/dev/null || ft_fail "wait two"
ft_assert_eq "$(ft_xxh128 "$f")" "$(ft_xxh128 "$FT_TMP/in/b.bin")" "second file"

# faults: exit 1 with "subcode: reason"
rc=0; "${C[@]}" job show '{00000000-0000-4000-8000-000000000000}' 2>"$FT_TMP/err" || rc=$?
ft_assert_eq 1 "$rc" "unknown job exit"
grep -q "^ferryctl: w:InvalidSelectors" "$FT_TMP/err" || ft_fail "unknown job: $(cat "$FT_TMP/err")"
rc=0; "${C[@]}" job create bad "$url" relative/path 2>"$FT_TMP/err" || rc=$?
ft_assert_eq 1 "$rc" "relative LocalFile exit"
rc=0; "${C[@]}" job complete "$id" 2>"$FT_TMP/err" || rc=$?
ft_assert_eq 1 "$rc" "complete an ACKNOWLEDGED job"
# wrong password: exit 3, authentication failed; unreachable: exit 3
rc=0; FERRY_PASSWORD=wrong "$FERRYCTL" --endpoint "$FT_WSMAN_cli" --user admin job list \
    2>"$FT_TMP/err" || rc=$?
ft_assert_eq 3 "$rc" "wrong password exit"
grep -q "authentication failed" "$FT_TMP/err" || ft_fail "401 message: $(cat "$FT_TMP/err")"
rc=0; "${C[@]}" --endpoint "http://127.0.0.1:$(ft_free_port)/wsman" job list 2>/dev/null || rc=$?
ft_assert_eq 3 "$rc" "unreachable endpoint exit"
# a user who is not an administrator: authenticated, then w:AccessDenied (exit 1)
printf 'user-pw\n' | "$FERRYCTL" user add --state-dir "$FT_TMP/cli" alice --role user >/dev/null
rc=0; FERRY_PASSWORD=user-pw "$FERRYCTL" --endpoint "$FT_WSMAN_cli" --user alice job list \
    2>"$FT_TMP/err" || rc=$?
ft_assert_eq 1 "$rc" "non-admin exit"
grep -q "w:AccessDenied" "$FT_TMP/err" || ft_fail "non-admin: $(cat "$FT_TMP/err")"

# unpublish
"${S[@]}" url delete "$group" data.bin || ft_fail "url delete"
"${S[@]}" url check "$group" data.bin | grep -q "does not exist$" || ft_fail "url still there"
"${S[@]}" group delete "$group" || ft_fail "group delete"
ft_ferryd_stop cli
ft_ferryd_stop srv
ft_pass
