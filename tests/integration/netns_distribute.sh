#!/usr/bin/env bash
# Multi-host distribution in network namespaces created by this test: a controller, one
# server and three clients, each with its own address on a bridge (10.231.0.0/24, the
# bridge lives in a namespace of its own), the third client's link limited to 20 Mbit/s
# with tbf. ferryd runs in each host namespace with WS-Man on its address and
# --allow-basic-over-http; `ferryctl distribute` runs in the controller namespace. Every
# file is checked by hash and the slow host must not hold the others back: the fast
# clients finish before it. Namespaces and processes are removed on every exit path.
. "$(dirname "$0")/../lib/ferry-test.sh"
. "$(dirname "$0")/../lib/netns.sh"
ft_need ip tc unshare xxhsum /usr/bin/python3
tag=fd$$
if ! ip netns add "$tag-probe" 2>/dev/null; then
    ft_skip "ip netns add is not permitted here"
fi
ip netns del "$tag-probe"

SIZE_MB=${FERRY_NETNS_SIZE_MB:-12}
NS_BR=$tag-br
declare -A ADDR=([ctl]=10.231.0.1 [srv]=10.231.0.2 [c1]=10.231.0.11 [c2]=10.231.0.12
                 [c3]=10.231.0.13)
HOSTS=(ctl srv c1 c2 c3)

ft_netns_up
# the slow host: what the bridge sends towards c3 leaves at 20 Mbit/s
ip netns exec "$NS_BR" tc qdisc add dev p-c3 root tbf rate 20mbit burst 32kbit latency 400ms

# one admin on every agent, same password
printf 'netns-pw\n' >"$FT_TMP/pw"
# Each client's download root is mounted at the same path ($FT_TMP/in) in a mount
# namespace of its own, so one --dest serves all three while the files stay apart.
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
start_agent srv --publish-root "$FT_TMP/pub"
for c in c1 c2 c3; do start_agent "$c" --download-root "$FT_TMP/in"; done
for h in srv c1 c2 c3; do
    ok=0
    for _ in $(seq 1 500); do
        if [ -s "$FT_TMP/$h/ferryd.ready" ]; then ok=1; break; fi
        sleep 0.02
    done
    [ $ok = 1 ] || ft_fail "ferryd on $h not ready: $(tail -n 5 "$FT_TMP/$h/ferryd.log")"
done

head -c $((SIZE_MB * 1048576)) /dev/urandom >"$FT_TMP/pub/vm.img"
want=$(ft_xxh128 "$FT_TMP/pub/vm.img")
ep() { echo "http://${ADDR[$1]}:5985/wsman"; }

rc=0
ip netns exec "$tag-ctl" "$FERRYCTL" --json --user admin --password-file "$FT_TMP/pw" \
    distribute --server "$(ep srv)" --source "$FT_TMP/pub/vm.img" \
    --group "http://${ADDR[srv]}:8080/net" --to "$(ep c1),$(ep c2),$(ep c3)" \
    --dest "$FT_TMP/in/" --interval 0.1 >"$FT_TMP/dist.json" 2>"$FT_TMP/dist.err" || rc=$?
[ $rc -eq 0 ] || ft_fail "distribute exit $rc: $(cat "$FT_TMP/dist.err" "$FT_TMP/dist.json")"

for c in c1 c2 c3; do
    f=$FT_TMP/$c/in/vm.img
    [ -f "$f" ] || ft_fail "$c has no file"
    ft_assert_eq "$want" "$(ft_xxh128 "$f")" "XXH3-128 of the copy on $c"
done

/usr/bin/python3 - "$FT_TMP/dist.json" "$(ep c1)" "$(ep c2)" "$(ep c3)" "$SIZE_MB" <<'PY' \
    || ft_fail "distribute report: $(cat "$FT_TMP/dist.json")"
import json, sys
d = json.load(open(sys.argv[1]))
h = {x["endpoint"]: x for x in d["hosts"]}
c1, c2, c3 = (h[u] for u in sys.argv[2:5])
size = int(sys.argv[5]) * 1048576
assert d["ok"] is True
for x in (c1, c2, c3):
    assert x["ok"] and x["State"] == "ACKNOWLEDGED" and x["Bytes"] == size, x
# 20 Mbit/s is 2.5 MB/s: the slow host needs seconds, the others finish first
assert c3["DoneAt"] > c1["DoneAt"] and c3["DoneAt"] > c2["DoneAt"], (c1, c2, c3)
assert c3["Seconds"] > 0.8 * size / 2.5e6, c3
print("done at: c1 %.2fs c2 %.2fs c3 (20 Mbit/s) %.2fs" % (c1["DoneAt"], c2["DoneAt"],
                                                          c3["DoneAt"]))
PY
# unpublished afterwards
out=$(ip netns exec "$tag-ctl" "$FERRYCTL" --endpoint "$(ep srv)" --user admin \
    --password-file "$FT_TMP/pw" url check "http://${ADDR[srv]}:8080/net" vm.img)
[[ $out == *"does not exist" ]] || ft_fail "URL still published: $out"
ft_pass
