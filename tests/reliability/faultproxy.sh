#!/usr/bin/env bash
# The fault proxy (tests/tools/faultproxy.py) does what the other reliability tests rely
# on: each fault is observed from a real client (curl) against a real server (nginx):
# reset -> curl 56 with the bytes before it; truncate -> curl 18 with exactly N bytes;
# stall -> no byte after N, connection held open; Content-Range and ETag rewritten; 5xx
# answered by the proxy K times then real answers again; trickle takes the expected time;
# counters and the request log (method, Range) are right; the control file switches faults.
FT_NAME=faultproxy
. "${FERRY_SRC:-$(dirname "$0")/../..}/tests/lib/ferry-test.sh"
. "${FERRY_SRC:-$(dirname "$0")/../..}/tests/tools/rel-lib.sh"
ft_need curl nginx

root=$FT_TMP/www
mkdir -p "$root"
size=1048576
ft_random_file "$root/blob" $size
want=$(ft_sha256 "$root/blob")

rel_nginx_start up "$root"
rel_proxy_start p "$REL_NGINX_PORT" --control-file "$FT_TMP/p.fault"
url=http://127.0.0.1:$REL_PROXY_PORT/blob

fetch() { # out-file extra-curl-args... ; prints curl's exit code
    local out=$1; shift
    local rc=0
    curl -s -S -o "$out" "$@" "$url" 2>>"$FT_TMP/curl.err" || rc=$?
    echo $rc
}
fsize() { stat -c %s "$1" 2>/dev/null || echo 0; }

# none: a straight copy, ranges honoured
rc=$(fetch "$FT_TMP/o1")
ft_assert_eq 0 "$rc" "curl exit without fault"
ft_assert_eq "$want" "$(ft_sha256 "$FT_TMP/o1")" "bytes through the proxy"
rc=$(fetch "$FT_TMP/o1r" -r 1000-1999)
ft_assert_eq 0 "$rc" "ranged curl exit"
ft_assert_eq "$(tail -c +1001 "$root/blob" | head -c 1000 | sha256sum | awk '{print $1}')" \
    "$(ft_sha256 "$FT_TMP/o1r")" "range bytes through the proxy"

# reset after N body bytes: RST, curl 56 (recv failure)
rel_proxy_ctl p set reset after=100000 times=1 >/dev/null
rc=$(fetch "$FT_TMP/o2")
ft_assert_eq 56 "$rc" "curl exit on reset"
got=$(fsize "$FT_TMP/o2")
[ "$got" -le 100000 ] || ft_fail "reset: curl got $got bytes, more than the 100000 forwarded"
grep -q 'Connection reset by peer' "$FT_TMP/curl.err" || ft_fail "reset: no 'Connection reset by peer' from curl"
# times=1 spent: the next request is clean again
rc=$(fetch "$FT_TMP/o2b")
ft_assert_eq 0 "$rc" "curl exit after the reset budget is spent"
ft_assert_eq "$want" "$(ft_sha256 "$FT_TMP/o2b")" "bytes after the reset ended"

# truncate after N body bytes: clean close, curl 18 (partial file), exactly N bytes
rel_proxy_ctl p set truncate after=123457 >/dev/null
rc=$(fetch "$FT_TMP/o3")
ft_assert_eq 18 "$rc" "curl exit on truncate"
ft_assert_eq 123457 "$(fsize "$FT_TMP/o3")" "bytes before the truncation"
cmp -s -n 123457 "$FT_TMP/o3" "$root/blob" || ft_fail "truncate: the bytes before the cut differ"

# stall after N: nothing more arrives, the connection stays open until the client gives up
rel_proxy_ctl p set stall after=50000 times=1 >/dev/null
t0=$(date +%s%N)
rc=$(fetch "$FT_TMP/o4" --max-time 2)
t1=$(date +%s%N)
ft_assert_eq 28 "$rc" "curl exit on stall (timeout)"
ft_assert_eq 50000 "$(fsize "$FT_TMP/o4")" "bytes before the stall"
ms=$(( (t1 - t0) / 1000000 ))
[ $ms -ge 1900 ] || ft_fail "stall: curl ended after $ms ms, before its 2 s timeout"

# bad-content-range: a 206 carries a moved Content-Range, body untouched
rel_proxy_ctl p set bad-content-range shift=7 times=1 >/dev/null
cr=$(curl -s -r 1000-1999 -D - -o "$FT_TMP/o5" "$url" | tr -d '\r' | awk -F': ' 'tolower($1)=="content-range" {print $2}')
ft_assert_eq "bytes 1007-2006/$size" "$cr" "rewritten Content-Range"
cr=$(curl -s -r 1000-1999 -D - -o /dev/null "$url" | tr -d '\r' | awk -F': ' 'tolower($1)=="content-range" {print $2}')
ft_assert_eq "bytes 1000-1999/$size" "$cr" "Content-Range once the fault is spent"
rel_proxy_ctl p set bad-content-range value=bytes_0-0/1 times=1 >/dev/null
cr=$(curl -s -r 0-9 -D - -o /dev/null "$url" | tr -d '\r' | awk -F': ' 'tolower($1)=="content-range" {print $2}')
ft_assert_eq "bytes_0-0/1" "$cr" "literal Content-Range"

# change-etag: every response shows the new ETag; a HEAD too
real=$(curl -s -I "$url" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag" {print $2}')
[ -n "$real" ] || ft_fail "nginx sent no ETag"
rel_proxy_ctl p set change-etag 'value="changed-1"' >/dev/null
for m in -I -s; do
    et=$(curl -s $m -D - -o /dev/null "$url" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag" {print $2}')
    ft_assert_eq '"changed-1"' "$et" "ETag rewritten ($m)"
done
rel_proxy_ctl p set none >/dev/null
et=$(curl -s -I "$url" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag" {print $2}')
ft_assert_eq "$real" "$et" "ETag back to the server's"

# 5xx: the next K requests get 503 from the proxy itself, then the server answers
rel_proxy_ctl p set 5xx times=2 >/dev/null
codes=""
for i in 1 2 3; do
    codes+="$(curl -s -o /dev/null -w '%{http_code}' "$url") "
done
ft_assert_eq "503 503 200 " "$codes" "5xx burst of 2"
rel_proxy_ctl p set 5xx status=500 times=1 >/dev/null
ft_assert_eq 500 "$(curl -s -o /dev/null -w '%{http_code}' "$url")" "5xx status=500"

# trickle: 100 KB at 50 KB/s takes about 2 s
rel_proxy_ctl p set trickle rate=50000 times=1 >/dev/null
t0=$(date +%s%N)
rc=$(fetch "$FT_TMP/o6" -r 0-99999)
t1=$(date +%s%N)
ft_assert_eq 0 "$rc" "curl exit under trickle"
ms=$(( (t1 - t0) / 1000000 ))
[ $ms -ge 1700 ] && [ $ms -le 5000 ] || ft_fail "trickle: 100000 B at 50000 B/s took $ms ms"
cmp -s "$FT_TMP/o6" <(head -c 100000 "$root/blob") || ft_fail "trickle: bytes differ"

# skip + match: only the second request to /blob gets cut
rel_proxy_ctl p set truncate after=10 skip=1 times=1 match=/blob >/dev/null
ft_assert_eq 0 "$(fetch "$FT_TMP/o7a")" "skip=1: first request clean"
ft_assert_eq 18 "$(fetch "$FT_TMP/o7b")" "skip=1: second request cut"
ft_assert_eq 0 "$(fetch "$FT_TMP/o7c")" "times=1: third request clean"

# control file: writing it arms a fault
echo "truncate after=4096" >"$FT_TMP/p.fault"
rel_wait_for 3 sh -c "$REL_PY $REL_TOOLS/faultproxy.py ctl --port-file $FT_TMP/proxy-p.ports get | grep -q truncate" \
    || ft_fail "control file not picked up"
ft_assert_eq 18 "$(fetch "$FT_TMP/o8")" "fault from the control file"
ft_assert_eq 4096 "$(fsize "$FT_TMP/o8")" "control-file truncate length"
echo none >"$FT_TMP/p.fault"
rel_wait_for 3 sh -c "$REL_PY $REL_TOOLS/faultproxy.py ctl --port-file $FT_TMP/proxy-p.ports get | grep -q '\"none\"'" \
    || ft_fail "control file 'none' not picked up"

# keep-alive through the proxy: two requests on one connection, both logged on it
curl -s -o /dev/null -o /dev/null "$url" "$url" -r 0-9 || ft_fail "keep-alive pair failed"

# a bad control command is refused
"$REL_PY" "$REL_TOOLS/faultproxy.py" ctl --port-file "$FT_TMP/proxy-p.ports" set explode >/dev/null \
    && ft_fail "unknown fault accepted"

# counters and the request log
stats=$(rel_proxy_ctl p stats)
down=$(rel_json 'd["totals"]["bytes_down"]' <<<"$stats")
[ "$down" -gt $((3 * size)) ] || ft_fail "bytes_down counter $down too small"
applied=$(rel_json 'd["totals"]["faults_applied"]' <<<"$stats")
[ "$applied" -ge 10 ] || ft_fail "faults_applied counter $applied"
log=$(rel_proxy_ctl p log)
ranged=$(rel_json 'sum(1 for r in d["log"] if r["range"]=="bytes=1000-1999" and r["method"]=="GET")' <<<"$log")
[ "$ranged" -ge 3 ] || ft_fail "request log lacks the ranged GETs ($ranged)"
heads=$(rel_json 'sum(1 for r in d["log"] if r["method"]=="HEAD")' <<<"$log")
[ "$heads" -ge 2 ] || ft_fail "request log lacks HEADs ($heads)"
resets=$(rel_json '[r["body_bytes"] for r in d["log"] if r["fault"]=="reset"]' <<<"$log")
ft_assert_eq "[100000]" "$resets" "logged body bytes of the reset response"
pair=$(rel_json 'max(sum(1 for r in d["log"] if r["conn"]==c) for c in set(r["conn"] for r in d["log"]))' <<<"$log")
[ "$pair" -ge 2 ] || ft_fail "no connection carried two requests (keep-alive broken)"
gen=$(rel_json 'd["totals"]["generated_responses"]' <<<"$stats")
ft_assert_eq 3 "$gen" "responses generated by the proxy"
ft_pass
