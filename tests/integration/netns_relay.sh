#!/usr/bin/env bash
# `ferryctl distribute --relay` in network namespaces created by this test: a controller,
# one origin and four clients on a bridge (10.232.0.0/24), every host's link limited with
# tbf. Each client publishes its job file as a relay URL while it fetches it
# (docs/internals/relay.md); the controller arranges a pipelined chain.
#  1. relay: every copy exact (sha256), the origin sends at most 1.25x the file (counted on
#     the origin's own veth), the hosts after the first get bytes from peers (--json).
#     The same with --fanout 2 (a tree).
#  2. kill -9 of a relay mid-way (uploads held to 4 MB/s by --relay-limit, so it is still
#     running): its child finishes from the origin, the killed host resumes after a
#     restart, every copy exact.
#  3. a relay whose verified bytes are corrupted on disk: its child detects the bad chunk
#     against the origin's manifest, drops that peer and fetches the chunk elsewhere; the
#     downstream copies are exact.
# Namespaces and processes are removed on every exit path.
. "$(dirname "$0")/../lib/ferry-test.sh"
. "$(dirname "$0")/../lib/netns.sh"
ft_need ip tc unshare sha256sum /usr/bin/python3
tag=fr$$
if ! ip netns add "$tag-probe" 2>/dev/null; then
    ft_skip "ip netns add is not permitted here"
fi
ip netns del "$tag-probe"

SIZE_MB=${FERRY_NETNS_SIZE_MB:-24}
NS_BR=$tag-br
declare -A ADDR=([ctl]=10.232.0.1 [srv]=10.232.0.2 [c1]=10.232.0.11 [c2]=10.232.0.12
                 [c3]=10.232.0.13 [c4]=10.232.0.14)
HOSTS=(ctl srv c1 c2 c3 c4)
declare -A PID=()

ft_netns_up
# every link 200 Mbit/s each way: what a host sends and what the bridge sends it
for h in "${HOSTS[@]}"; do ft_netns_tbf "$h" 200mbit both; done

printf 'netns-pw\n' >"$FT_TMP/pw"
mkdir -p "$FT_TMP/in" "$FT_TMP/pub"
# Each client's download root is mounted at $FT_TMP/in in a mount namespace of its own; it
# is its publish root too, so it can publish the file its job is writing there.
start_agent() { # HOST extra...
    local h=$1; shift
    local dir=$FT_TMP/$h
    mkdir -p "$dir/in"
    [ -f "$dir/users" ] || "$FERRYCTL" user add --state-dir "$dir" admin --role admin \
        <"$FT_TMP/pw" >/dev/null || ft_fail "user add for $h"
    rm -f "$dir/ferryd.ready"
    ip netns exec "$tag-$h" unshare -m --propagation private sh -c \
        'mount --bind "$1" "$2" && shift 2 && exec "$@"' sh "$dir/in" "$FT_TMP/in" \
        "$FERRYD" --state-dir "$dir" --wsman-listen "${ADDR[$h]}:5985" --allow-basic-over-http \
        "$@" >>"$dir/ferryd.log" 2>&1 &
    PID[$h]=$!
    FT_PIDS+=("$!")
}
wait_ready() { # HOST
    for _ in $(seq 1 500); do
        [ -s "$FT_TMP/$1/ferryd.ready" ] && return 0
        sleep 0.02
    done
    ft_fail "ferryd on $1 not ready: $(tail -n 5 "$FT_TMP/$1/ferryd.log")"
}
CLIENT_ARGS=(--download-root "$FT_TMP/in" --publish-root "$FT_TMP/in")
start_agent srv --publish-root "$FT_TMP/pub" --manifest-chunk-size 1MiB
for c in c1 c2 c3 c4; do start_agent "$c" "${CLIENT_ARGS[@]}"; done
for h in srv c1 c2 c3 c4; do wait_ready "$h"; done

ep() { echo "http://${ADDR[$1]}:5985/wsman"; }
TO="$(ep c1),$(ep c2),$(ep c3),$(ep c4)"
origin_tx() { ip netns exec "$tag-srv" cat /sys/class/net/eth0/statistics/tx_bytes; }
distribute() { # NAME OUT extra... (runs in the controller namespace)
    local name=$1 out=$2; shift 2
    ip netns exec "$tag-ctl" timeout 90 "$FERRYCTL" --json --user admin \
        --password-file "$FT_TMP/pw" distribute --server "$(ep srv)" \
        --source "$FT_TMP/pub/$name" --group "http://${ADDR[srv]}:8080/net" --to "$TO" \
        --dest "$FT_TMP/in/" --interval 0.1 --relay "$@" >"$out" 2>"$out.err"
}
check_copies() { # NAME HOST...
    local name=$1 want; shift
    want=$(sha256sum <"$FT_TMP/pub/$name" | cut -d' ' -f1)
    for c in "$@"; do
        [ -f "$FT_TMP/$c/in/$name" ] || ft_fail "$c has no $name"
        ft_assert_eq "$want" "$(sha256sum <"$FT_TMP/$c/in/$name" | cut -d' ' -f1)" \
            "sha256 of $name on $c"
    done
}

# ---- 1. relay: one copy from the origin ----
head -c $((SIZE_MB * 1048576)) /dev/urandom >"$FT_TMP/pub/a.img"
tx0=$(origin_tx)
rc=0
distribute a.img "$FT_TMP/a.json" || rc=$?
tx1=$(origin_tx)
[ $rc -eq 0 ] || ft_fail "distribute --relay exit $rc: $(cat "$FT_TMP/a.json.err" "$FT_TMP/a.json")"
check_copies a.img c1 c2 c3 c4
/usr/bin/python3 - "$FT_TMP/a.json" "$SIZE_MB" "$((tx1 - tx0))" <<'PY' \
    || ft_fail "relay report: $(cat "$FT_TMP/a.json")"
import json, sys
d = json.load(open(sys.argv[1]))
size = int(sys.argv[2]) * 1048576
tx = int(sys.argv[3])
assert d["ok"] is True, d
hs = d["hosts"]
for h in hs:
    assert h["ok"] and h["Bytes"] == size, h
    assert h["FromOrigin"] + h["FromPeers"] == size, h
# the head of the chain has only the origin; the others get (nearly) everything from peers
assert hs[0]["FromPeers"] == 0, hs[0]
for h in hs[1:]:
    assert h["FromPeers"] >= size // 2, h
assert tx <= 1.25 * size, "origin sent %.2fx the file" % (tx / size)
print("relay: origin sent %.2fx the file; %.2f s; from peers: %s" %
      (tx / size, d["Seconds"], [h["FromPeers"] for h in hs]))
PY
# the relay URLs are gone afterwards
for c in c1 c2 c3 c4; do
    out=$(ip netns exec "$tag-ctl" "$FERRYCTL" --endpoint "$(ep $c)" --user admin \
        --password-file "$FT_TMP/pw" url check "http://+:8089/ferry-relay" a.img 2>&1 || true)
    [[ $out == *"does not exist"* ]] || ft_fail "relay URL left on $c: $out"
done

# ---- 1b. a tree of fan-out 2: c1 feeds c2 and c3, c2 feeds c4 ----
head -c $((SIZE_MB * 1048576)) /dev/urandom >"$FT_TMP/pub/t.img"
tx0=$(origin_tx)
rc=0
distribute t.img "$FT_TMP/t.json" --fanout 2 || rc=$?
tx1=$(origin_tx)
[ $rc -eq 0 ] || ft_fail "distribute --fanout 2 exit $rc: $(cat "$FT_TMP/t.json.err" "$FT_TMP/t.json")"
check_copies t.img c1 c2 c3 c4
/usr/bin/python3 - "$FT_TMP/t.json" "$SIZE_MB" "$((tx1 - tx0))" <<'PY' \
    || ft_fail "tree report: $(cat "$FT_TMP/t.json")"
import json, sys
d = json.load(open(sys.argv[1]))
size = int(sys.argv[2]) * 1048576
tx = int(sys.argv[3])
assert d["ok"] is True, d
for h in d["hosts"][1:]:
    assert h["FromPeers"] >= size // 2, h
assert tx <= 1.25 * size, "origin sent %.2fx the file" % (tx / size)
print("tree: origin sent %.2fx the file; %.2f s" % (tx / size, d["Seconds"]))
PY

# ---- 2. kill -9 of a relay mid-way ----
head -c $((SIZE_MB * 1048576)) /dev/urandom >"$FT_TMP/pub/b.img"
distribute b.img "$FT_TMP/b.json" --relay-limit 4000000 &
dpid=$!
FT_PIDS+=("$dpid")
# c2 relays to c3 at 4 MB/s (24 MiB take 6 s): kill it a second after its job started
# (the temp file is preallocated, so its size says nothing)
for _ in $(seq 1 200); do
    part=$(ls -a "$FT_TMP/c2/in/" 2>/dev/null | grep '^\.b\.img\.ferry-' | head -n 1 || true)
    [ -n "$part" ] && break
    sleep 0.05
done
[ -n "$part" ] || ft_fail "c2 never started b.img"
sleep 1.5
kill -9 "${PID[c2]}"
wait "${PID[c2]}" 2>/dev/null || true
sleep 1
start_agent c2 "${CLIENT_ARGS[@]}"
wait_ready c2
rc=0
wait "$dpid" || rc=$?
[ $rc -eq 0 ] || ft_fail "distribute with a killed relay exit $rc: $(cat "$FT_TMP/b.json.err" "$FT_TMP/b.json")"
check_copies b.img c1 c2 c3 c4
# its relay URL came back with it (restored before the resumed job had the manifest)
if grep -q "not restored" "$FT_TMP/c2/ferryd.log"; then
    ft_fail "c2 lost a URL at its restart: $(grep "not restored" "$FT_TMP/c2/ferryd.log")"
fi
/usr/bin/python3 - "$FT_TMP/b.json" <<'PY' || ft_fail "kill report: $(cat "$FT_TMP/b.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ok"] is True, d
# c3's parent died: c3 got part of the file from the origin
assert d["hosts"][2]["FromOrigin"] > 0, d["hosts"][2]
print("killed relay: %.2f s, c3 from origin %d" % (d["Seconds"], d["hosts"][2]["FromOrigin"]))
PY
grep -q "peer 'http://${ADDR[c2]}:8089/ferry-relay/b.img' dropped" "$FT_TMP/c3/ferryd.log" \
    || ft_fail "c3 never dropped its dead peer: $(tail -n 20 "$FT_TMP/c3/ferryd.log")"

# ---- 3. a relay with corrupted bytes ----
head -c $((SIZE_MB * 1048576)) /dev/urandom >"$FT_TMP/pub/c.img"
distribute c.img "$FT_TMP/c.json" --relay-limit 3000000 &
dpid=$!
FT_PIDS+=("$dpid")
# c1 fetches from the origin at link speed and serves c2 at 3 MB/s: once c1 has the
# whole file (its job completed; the relay serves that same inode), flip bytes near the
# end, which c2 reaches only seconds later
for _ in $(seq 1 400); do
    [ -f "$FT_TMP/c1/in/c.img" ] && break
    sleep 0.05
done
victim=$FT_TMP/c1/in/c.img
[ -f "$victim" ] || ft_fail "c1 never completed c.img"
printf 'CORRUPTED-BY-THE-TEST' | dd of="$victim" bs=1 seek=$(((SIZE_MB - 2) * 1048576 + 100)) \
    conv=notrunc status=none
rc=0
wait "$dpid" || rc=$?
[ $rc -eq 0 ] || ft_fail "distribute with a bad relay exit $rc: $(cat "$FT_TMP/c.json.err" "$FT_TMP/c.json")"
check_copies c.img c2 c3 c4
grep -q "peer 'http://${ADDR[c1]}:8089/ferry-relay/c.img' dropped for this transfer: it served a chunk" \
    "$FT_TMP/c2/ferryd.log" || ft_fail "c2 never dropped the bad relay: $(tail -n 20 "$FT_TMP/c2/ferryd.log")"
ft_log "bad relay detected and bypassed"
ft_pass
