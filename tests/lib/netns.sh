# tests/lib/netns.sh - the hosts of a multi-host test, each in a network namespace of its
# own, on one bridge. Sourced after ferry-test.sh; uses the caller's globals: tag (the
# namespace name prefix), NS_BR (the bridge's namespace), HOSTS (array of host names) and
# ADDR (associative array: host -> IPv4 address in one /24).

# Remove everything on every exit path (registered by ft_netns_up): TERM the processes the
# test started and give them 3 s, then kill -9 whatever still runs inside the namespaces,
# then delete the namespaces and the bridge.
ft_netns_cleanup() {
    local p h
    for p in "${FT_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${FT_PIDS[@]}"; do
        for _ in $(seq 1 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    done
    for h in "${HOSTS[@]}"; do
        for p in $(ip netns pids "$tag-$h" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
        ip netns del "$tag-$h" 2>/dev/null
    done
    ip netns del "$NS_BR" 2>/dev/null
}

# Create the bridge and one namespace "$tag-$h" per host with eth0 at ${ADDR[$h]}/24,
# its peer "p-$h" on the bridge.
ft_netns_up() {
    local h ns
    ft_on_exit ft_netns_cleanup
    ip netns add "$NS_BR"
    ip -n "$NS_BR" link add br0 type bridge
    ip -n "$NS_BR" link set br0 up
    for h in "${HOSTS[@]}"; do
        ns=$tag-$h
        ip netns add "$ns"
        ip -n "$ns" link set lo up
        ip link add eth0 netns "$ns" type veth peer name "p-$h" netns "$NS_BR"
        ip -n "$NS_BR" link set "p-$h" master br0 up
        ip -n "$ns" addr add "${ADDR[$h]}/24" dev eth0
        ip -n "$ns" link set eth0 up
    done
}

# Limit host h's link with tbf: DIR "in" (what the bridge sends it), "out" (what it sends)
# or "both". ft_netns_tbf HOST RATE DIR [BURST]
ft_netns_tbf() {
    local h=$1 rate=$2 dir=$3 burst=${4:-64kbit}
    if [ "$dir" = out ] || [ "$dir" = both ]; then
        ip netns exec "$tag-$h" tc qdisc add dev eth0 root tbf rate "$rate" burst "$burst" \
            latency 100ms
    fi
    if [ "$dir" = in ] || [ "$dir" = both ]; then
        ip netns exec "$NS_BR" tc qdisc add dev "p-$h" root tbf rate "$rate" burst "$burst" \
            latency 100ms
    fi
}
