#!/usr/bin/env bash
# tests/integration/wsman_netns.sh - Basic over plain http from a non-loopback peer: a curl
# in another network namespace (over a veth pair) is refused with 401 by default, accepted
# with --allow-basic-over-http; and failed logins from that address are rate limited (429
# with Retry-After) after --auth-fail-limit failures within a minute.
. "$(dirname "$0")/../lib/ferry-test.sh"
. "$(dirname "$0")/wsman_lib.sh"
ft_need ip curl
cd "$FT_TMP"

NS=ferry-wsman-$$
VH=fwh$$
VP=fwp$$
ip netns add "$NS" 2>/dev/null || ft_skip "cannot create network namespaces (needs root)"
ft_on_exit "ip netns del $NS 2>/dev/null; ip link del $VH 2>/dev/null"
# a /30 from the benchmark range, derived from the pid to avoid clashes
OCT=$(( ($$ % 60) * 4 ))
HOSTIP=198.18.$(( $$ % 200 )).$(( OCT + 1 ))
PEERIP=198.18.$(( $$ % 200 )).$(( OCT + 2 ))
ip link add "$VH" type veth peer name "$VP" || ft_skip "no veth support"
ip link set "$VP" netns "$NS"
ip addr add "$HOSTIP/30" dev "$VH"
ip link set "$VH" up
ip -n "$NS" addr add "$PEERIP/30" dev "$VP"
ip -n "$NS" link set "$VP" up
ip -n "$NS" link set lo up

CT='Content-Type: application/soap+xml;charset=UTF-8'
IDENT='<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsmid="http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd"><s:Header/><s:Body><wsmid:Identify/></s:Body></s:Envelope>'
remote() { # URL user:pass -> status, from inside the namespace
    ip netns exec "$NS" curl -s -o /dev/null -w '%{http_code}' --max-time 10 -u "$2" \
        -H "$CT" --data-binary "$IDENT" "$1"
}

PORT=$(ft_free_port)
mkdir -p "$FT_TMP/n"
wsman_user_add "$FT_TMP/n" admin admin admin-pw
"$FERRYD" --state-dir "$FT_TMP/n" --wsman-listen "$HOSTIP:$PORT" --auth-fail-limit 3 \
    2>>"$FT_TMP/n/ferryd.log" &
FT_PIDS+=("$!")
PID=$!
for i in $(seq 1 500); do [ -s "$FT_TMP/n/ferryd.ready" ] && break; sleep 0.02; done
[ -s "$FT_TMP/n/ferryd.ready" ] || ft_fail "ferryd not ready"
URL="http://$HOSTIP:$PORT/wsman"

ft_assert_eq 401 "$(remote "$URL" admin:admin-pw)" "Basic over http from $PEERIP"
# from the host side of the veth (not loopback either): refused as well
ft_assert_eq 401 "$(curl -s -o /dev/null -w '%{http_code}' -u admin:admin-pw -H "$CT" --data-binary "$IDENT" --interface "$HOSTIP" "$URL")" "Basic over http from $HOSTIP"
kill -TERM "$PID"; wait "$PID" || ft_fail "ferryd did not exit cleanly"
rm -f "$FT_TMP/n/ferryd.ready"

"$FERRYD" --state-dir "$FT_TMP/n" --wsman-listen "$HOSTIP:$PORT" --auth-fail-limit 3 \
    --allow-basic-over-http 2>>"$FT_TMP/n/ferryd.log" &
FT_PIDS+=("$!")
PID=$!
for i in $(seq 1 500); do [ -s "$FT_TMP/n/ferryd.ready" ] && break; sleep 0.02; done
[ -s "$FT_TMP/n/ferryd.ready" ] || ft_fail "ferryd not ready (2)"
ft_assert_eq 200 "$(remote "$URL" admin:admin-pw)" "Basic over http, allowed"
for i in 1 2 3; do
    ft_assert_eq 401 "$(remote "$URL" admin:wrong)" "wrong password $i"
done
ip netns exec "$NS" curl -s -D h429 -o /dev/null -u admin:wrong -H "$CT" --data-binary "$IDENT" "$URL"
grep -q '^HTTP/1.1 429' h429 || ft_fail "no 429 for a 4th guess after 3 failures: $(head -n1 h429)"
grep -qi '^Retry-After: [0-9]' h429 || ft_fail "429 without Retry-After"
# the guessing is locked out, not the owner: the right password was verified moments ago
ft_assert_eq 200 "$(remote "$URL" admin:admin-pw)" "the owner's password after the guesses"
kill -TERM "$PID"; wait "$PID" || ft_fail "ferryd did not exit cleanly (2)"
ft_pass
