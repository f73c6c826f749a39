#!/usr/bin/env bash
# The cache tier in network namespaces created by this test: an origin (ferryd publishing
# one file), a cache (nginx running contrib/nginx/ferry-cache.conf as shipped: proxy_cache
# + slice 4m, proxy_cache_lock, $slice_range in the key), four clients (ferryd each) and a
# controller, each with its own address on a bridge (10.232.0.0/24; the bridge lives in a
# namespace of its own) and every link limited with tbf both ways. `ferryctl distribute
# --via` makes every client fetch through the cache. Checked: nginx -t accepts the example;
# every copy is exact (sha256); the origin's interface sent about one copy (tx_bytes, at
# most 1.25x the file) while the cache's sent one per client; through the cache, ranges are
# 206 with the origin's strong ETag, If-Range holds for it and not for another, and the
# Metalink keeps 4 MiB pieces (= slice). Namespaces and processes (ferryd, nginx) are
# removed on every exit path; the run is bounded by the meson timeout and by --interval
# polling of a 24 MiB file.
. "$(dirname "$0")/../lib/ferry-test.sh"
. "$(dirname "$0")/../lib/netns.sh"
ft_need ip tc unshare sha256sum curl /usr/bin/python3 /usr/sbin/nginx
/usr/sbin/nginx -V 2>&1 | grep -q -- --with-http_slice_module \
    || ft_skip "nginx is built without the slice module"
tag=fc$$
if ! ip netns add "$tag-probe" 2>/dev/null; then
    ft_skip "ip netns add is not permitted here"
fi
ip netns del "$tag-probe"

SIZE_MB=${FERRY_NETNS_CACHE_SIZE_MB:-24}
RATE=${FERRY_NETNS_CACHE_RATE:-400mbit}
NCLIENTS=${FERRY_NETNS_CACHE_CLIENTS:-4}
NS_BR=$tag-br
declare -A ADDR=([ctl]=10.232.0.1 [org]=10.232.0.2 [cache]=10.232.0.3)
CLIENTS=()
for i in $(seq 1 "$NCLIENTS"); do CLIENTS+=("c$i"); ADDR[c$i]=10.232.0.$((10 + i)); done
HOSTS=(ctl org cache "${CLIENTS[@]}")

ft_netns_up
# every link at RATE in both directions
for h in "${HOSTS[@]}"; do ft_netns_tbf "$h" "$RATE" both 256kb; done

# the cache: the shipped example with its three marked values set for this network
mkdir -p "$FT_TMP/nginx/cache"
sed -e "s|/var/cache/nginx/ferry|$FT_TMP/nginx/cache|" \
    -e "s|server 10.0.0.1:8080;|server ${ADDR[org]}:8080;|" \
    -e "s|listen 8080;|listen ${ADDR[cache]}:8080;|" \
    "$FERRY_SRC/contrib/nginx/ferry-cache.conf" >"$FT_TMP/nginx/ferry-cache.conf"
grep -q "server ${ADDR[org]}:8080;" "$FT_TMP/nginx/ferry-cache.conf" \
    || ft_fail "the example's origin line changed; update this test"
d=$FT_TMP/nginx
cat >"$d/nginx.conf" <<NGX
daemon off;
master_process off;
user root;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 512; }
http {
    log_format slices '\$request \$status "\$http_range" \$upstream_cache_status \$bytes_sent';
    access_log $d/access.log slices;
    client_body_temp_path $d/body; proxy_temp_path $d/proxy; fastcgi_temp_path $d/fastcgi;
    uwsgi_temp_path $d/uwsgi; scgi_temp_path $d/scgi;
    include $d/ferry-cache.conf;
}
NGX
out=$(ip netns exec "$tag-cache" /usr/sbin/nginx -t -p "$d" -c "$d/nginx.conf" \
      -e "$d/error.log" 2>&1) || ft_fail "nginx -t refuses contrib/nginx/ferry-cache.conf: $out"
ip netns exec "$tag-cache" /usr/sbin/nginx -p "$d" -c "$d/nginx.conf" -e "$d/error.log" \
    >>"$d/stdout.log" 2>&1 &
FT_PIDS+=("$!")

# one admin on every agent, same password; each client's download root is mounted at the
# same path ($FT_TMP/in) in a mount namespace of its own, so one --dest serves them all
printf 'netns-pw\n' >"$FT_TMP/pw"
mkdir -p "$FT_TMP/in" "$FT_TMP/pub"
start_agent() { # HOST extra...
    local h=$1; shift
    local dir=$FT_TMP/$h
    mkdir -p "$dir/in"
    "$FERRYCTL" user add --state-dir "$dir" admin --role admin <"$FT_TMP/pw" >/dev/null \
        || ft_fail "user add for $h"
    ip netns exec "$tag-$h" unshare -m --propagation private sh -c \
        'mount --bind "$1" "$2" && shift 2 && exec "$@"' sh "$dir/in" "$FT_TMP/in" \
        "$FERRYD" --state-dir "$dir" --wsman-listen "${ADDR[$h]}:5985" --allow-basic-over-http \
        "$@" >>"$dir/ferryd.log" 2>&1 &
    FT_PIDS+=("$!")
}
start_agent org --publish-root "$FT_TMP/pub"
for c in "${CLIENTS[@]}"; do start_agent "$c" --download-root "$FT_TMP/in"; done
for h in org "${CLIENTS[@]}"; do
    ok=0
    for _ in $(seq 1 500); do
        if [ -s "$FT_TMP/$h/ferryd.ready" ]; then ok=1; break; fi
        sleep 0.02
    done
    [ $ok = 1 ] || ft_fail "ferryd on $h not ready: $(tail -n 5 "$FT_TMP/$h/ferryd.log")"
done
ok=0
for _ in $(seq 1 250); do
    if ip netns exec "$tag-ctl" curl -s -o /dev/null "http://${ADDR[cache]}:8080/"; then
        ok=1; break
    fi
    sleep 0.02
done
[ $ok = 1 ] || ft_fail "nginx not answering: $(tail -n 5 "$d/error.log" "$d/stdout.log")"

head -c $((SIZE_MB * 1048576)) /dev/urandom >"$FT_TMP/pub/vm.img"
want=$(sha256sum <"$FT_TMP/pub/vm.img" | cut -d' ' -f1)
ep() { echo "http://${ADDR[$1]}:5985/wsman"; }
tx() { ip netns exec "$tag-$1" cat /sys/class/net/eth0/statistics/tx_bytes; }
to=
for c in "${CLIENTS[@]}"; do to+=${to:+,}$(ep "$c"); done

org0=$(tx org); cache0=$(tx cache)
rc=0
ip netns exec "$tag-ctl" "$FERRYCTL" --json --user admin --password-file "$FT_TMP/pw" \
    distribute --server "$(ep org)" --source "$FT_TMP/pub/vm.img" --keep \
    --group "http://${ADDR[org]}:8080/net" --via "http://${ADDR[cache]}:8080" --to "$to" \
    --dest "$FT_TMP/in/" --interval 0.1 >"$FT_TMP/dist.json" 2>"$FT_TMP/dist.err" || rc=$?
org1=$(tx org); cache1=$(tx cache)
[ $rc -eq 0 ] || ft_fail "distribute exit $rc: $(cat "$FT_TMP/dist.err" "$FT_TMP/dist.json")"

for c in "${CLIENTS[@]}"; do
    f=$FT_TMP/$c/in/vm.img
    [ -f "$f" ] || ft_fail "$c has no file"
    ft_assert_eq "$want" "$(sha256sum <"$f" | cut -d' ' -f1)" "sha256 of the copy on $c"
done

size=$((SIZE_MB * 1048576))
sent_org=$((org1 - org0)); sent_cache=$((cache1 - cache0))
ft_log "file $size B, $NCLIENTS clients: origin sent $sent_org B ($(( sent_org * 100 / size ))%)," \
    "cache sent $sent_cache B"
[ "$sent_org" -le $((size * 5 / 4)) ] \
    || ft_fail "the origin sent $sent_org B for a $size B file behind the cache (> 1.25x)"
[ "$sent_org" -ge $((size * 9 / 10)) ] || ft_fail "the origin sent only $sent_org B"
[ "$sent_cache" -ge $((size * NCLIENTS)) ] \
    || ft_fail "the cache sent $sent_cache B, less than $NCLIENTS copies"
/usr/bin/python3 - "$FT_TMP/dist.json" "$size" "$NCLIENTS" "http://${ADDR[cache]}:8080/net/vm.img" \
    <<'PY' || ft_fail "distribute report: $(cat "$FT_TMP/dist.json")"
import json, sys
d = json.load(open(sys.argv[1]))
size, n, url = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
assert d["ok"] is True and len(d["hosts"]) == n, d
for h in d["hosts"]:
    assert h["ok"] and h["State"] == "ACKNOWLEDGED" and h["Bytes"] == size, h
print("through the cache: " + " ".join("%.2fs" % h["DoneAt"] for h in d["hosts"]))
PY
# each client's jobs fetched the cache's URL, in 4 MiB slices (the cache's log)
grep -q '^GET /net/vm.img ' "$d/access.log" || ft_fail "no client request reached the cache"
grep -q '^GET /net/vm.img.meta4 ' "$d/access.log" \
    || ft_fail "the Metalink was not fetched through the cache"
hits=$(grep -c '^GET /net/vm.img .* 206 .* HIT ' "$d/access.log" || true)
[ "$hits" -ge $(( (NCLIENTS - 1) * SIZE_MB / 4 / 2 )) ] \
    || ft_fail "only $hits cache hits: $(head -n 20 "$d/access.log")"

# validators through the cache (after the count: these bytes come from the cache)
cc=(ip netns exec "$tag-ctl" curl -s)
o_etag=$("${cc[@]}" -I "http://${ADDR[org]}:8080/net/vm.img" | tr -d '\r' \
         | sed -n 's/^ETag: //p')
[[ $o_etag == \"*\" ]] || ft_fail "origin has no strong ETag: '$o_etag'"
h=$("${cc[@]}" -D - -o "$FT_TMP/r1" -r 5000000-5000099 -H "If-Range: $o_etag" \
    "http://${ADDR[cache]}:8080/net/vm.img" | tr -d '\r')
[[ $h == *"HTTP/1.1 206"* ]] || ft_fail "If-Range with the ETag through the cache: $h"
[[ $h == *"ETag: $o_etag"* ]] || ft_fail "the cache changed the ETag: $h"
[[ $h == *"Content-Range: bytes 5000000-5000099/$size"* ]] || ft_fail "range: $h"
[[ $h == *"X-Cache-Status: HIT"* ]] || ft_fail "range not from the cache: $h"
cmp -s "$FT_TMP/r1" <(tail -c +5000001 "$FT_TMP/pub/vm.img" | head -c 100) \
    || ft_fail "the cache's 206 has other bytes"
code=$("${cc[@]}" -o /dev/null -w '%{http_code} %{size_download}' -r 0-9 \
       -H 'If-Range: "stale"' "http://${ADDR[cache]}:8080/net/vm.img")
ft_assert_eq "200 $size" "$code" "If-Range with another ETag through the cache"
m=$("${cc[@]}" "http://${ADDR[cache]}:8080/net/vm.img.meta4")
[[ $m == *'length="4194304"'* ]] || ft_fail "Metalink pieces are not 4 MiB (= slice 4m): $m"
org2=$(tx org)
[ $((org2 - org1)) -lt $((size / 4)) ] \
    || ft_fail "the validator checks went to the origin ($((org2 - org1)) B)"
ft_pass
