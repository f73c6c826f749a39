#!/usr/bin/env bash
# tests/integration/systemd_notify.sh - ferryd under a fake systemd: a datagram socket
# this test owns as $NOTIFY_SOCKET. With $WATCHDOG_USEC (what WatchdogSec= sets), READY=1,
# a STATUS= line (jobs running, fetch and serve rates) and WATCHDOG=1 pings at half the
# period arrive, then STOPPING=1 on SIGTERM. Without $WATCHDOG_USEC no ping is sent.
. "$(dirname "$0")/../lib/ferry-test.sh"
. "$(dirname "$0")/wsman_lib.sh"
ft_need /usr/bin/python3
cd "$FT_TMP"

# listener SOCK LOG: one line per datagram, "SECONDS.MS MESSAGE", until STOPPING=1
cat > notify.py <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(30)
with open(sys.argv[2], "a") as out:
    while True:
        try:
            msg = s.recv(4096).decode()
        except socket.timeout:
            break
        for part in msg.split("\n"):
            out.write("%.3f %s\n" % (time.monotonic(), part))
        out.flush()
        if "STOPPING=1" in msg:
            break
PY

run() { # NAME [env...]: ferryd with a notify socket; leaves $FT_TMP/NAME.log
    local name=$1; shift
    /usr/bin/python3 notify.py "$FT_TMP/$name.sock" "$FT_TMP/$name.log" &
    local npid=$!
    FT_PIDS+=("$npid")
    for i in $(seq 1 100); do [ -S "$FT_TMP/$name.sock" ] && break; sleep 0.05; done
    export NOTIFY_SOCKET="$FT_TMP/$name.sock"
    for kv in "$@"; do export "${kv?}"; done
    wsman_ferryd_start "$name"
    unset NOTIFY_SOCKET WATCHDOG_USEC
    sleep 1.6
    ft_ferryd_stop "$name"
    wait "$npid" 2>/dev/null || true
}

run wd WATCHDOG_USEC=600000
log=$FT_TMP/wd.log
grep -q ' READY=1$' "$log" || ft_fail "no READY=1: $(cat "$log")"
grep -q ' STOPPING=1$' "$log" || ft_fail "no STOPPING=1"
grep -Eq ' STATUS=0 job\(s\) running, fetching [0-9]+\.[0-9] (B|KiB|MiB|GiB|TiB)/s, serving [0-9]+\.[0-9] (B|KiB|MiB|GiB|TiB)/s$' "$log" \
    || ft_fail "no STATUS= line of the documented form: $(grep STATUS "$log")"
pings=$(grep -c ' WATCHDOG=1$' "$log" || true)
[ "$pings" -ge 4 ] || ft_fail "only $pings WATCHDOG=1 in 1.6 s at a 0.6 s watchdog"
# never more than the whole period (0.6 s) between two pings
grep ' WATCHDOG=1$' "$log" | awk '{ if (NR > 1 && $1 - t > 0.6) { print "gap " $1 - t; bad = 1 } t = $1 }
    END { exit bad }' || ft_fail "a watchdog gap longer than WatchdogSec"
# READY=1 comes before the first ping
awk '/ READY=1$/ { r = NR } / WATCHDOG=1$/ && !w { w = NR } END { exit !(r && w && r < w) }' "$log" \
    || ft_fail "WATCHDOG=1 before READY=1"

run nowd
grep -q ' READY=1$' "$FT_TMP/nowd.log" || ft_fail "no READY=1 without a watchdog"
grep -q ' WATCHDOG=1$' "$FT_TMP/nowd.log" && ft_fail "WATCHDOG=1 sent without WATCHDOG_USEC"
ft_pass
