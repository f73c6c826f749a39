#!/usr/bin/env bash
# Request rate of the send backends on a small file at growing concurrency (the splice
# pipe-page cliff (docs/PERFORMANCE.md, send backends) shows at >= 1,024 connections when every
# connection owns a pipe): wrk -t1 -cN -d5s, server CPU-s from /proc/PID/stat.
# Usage: bench_rps.sh BUILD_DIR [FILE_KIB=1024]
set -euo pipefail
build=${1:?build dir}
kib=${2:-1024}
serve=$build/bench/http_serve
ninja -C "$build" bench/http_serve >/dev/null
work=$(mktemp -d "${TMPDIR:-/tmp}/ferry-rps-XXXXXX")
trap 'rm -rf "$work"; [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; true' EXIT
head -c $((kib * 1024)) /dev/urandom >"$work/f"
tck=$(getconf CLK_TCK)
cpu() { awk -v t="$tck" '{print ($14 + $15) / t}' "/proc/$1/stat"; }
ulimit -n 8192 2>/dev/null || true
for backend in sendfile splice; do
    "$serve" "$work/f" "$backend" 1 >"$work/port" &
    pid=$!
    for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
    url=http://127.0.0.1:$(awk '{print $2}' "$work/port")/f
    for conns in 16 256 1024; do
        c0=$(cpu $pid)
        out=$(wrk -t1 -c$conns -d5s --latency "$url" 2>&1)
        c1=$(cpu $pid)
        rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
        p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
        errs=$(echo "$out" | awk '/Socket errors|Non-2xx/ {print}' | tr '\n' ' ')
        awk -v b="$backend" -v n=$conns -v rps="$rps" -v p99="$p99" -v c=$(echo "$c1 - $c0" | bc -l) \
            -v kib=$kib -v e="$errs" \
            'BEGIN { gb = rps * 5 * kib / 1048576; printf "%-8s %dKiB wrk -c%-4d %8.0f req/s p99 %-8s server %.3f CPU-s/GB %s\n", b, kib, n, rps, p99, (gb > 0 ? c / gb : 0), e }'
    done
    kill $pid; wait $pid 2>/dev/null || true; pid=
done
