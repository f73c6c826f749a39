#!/usr/bin/env bash
# Measure the send backends of the HTTP core on one file (docs/internals/http.md):
# server CPU-seconds (utime+stime of the http_serve process from /proc/PID/stat) per GB
# and throughput, for curl (one connection, sequential) and wrk (-c16 and -c256).
# Usage: bench_send.sh BUILD_DIR [FILE_MIB=1024] [RUNS=3]
set -euo pipefail
build=${1:?build dir}
mib=${2:-1024}
runs=${3:-3}
serve=$build/bench/http_serve
ninja -C "$build" bench/http_serve >/dev/null
work=$(mktemp -d "${TMPDIR:-/tmp}/ferry-bench-XXXXXX")
trap 'rm -rf "$work"; [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; true' EXIT
file=$work/data.bin
head -c $((mib * 1024 * 1024)) /dev/urandom >"$file"
cat "$file" >/dev/null # page cache
tck=$(getconf CLK_TCK)

cpu() { awk -v t="$tck" '{print ($14 + $15) / t}' "/proc/$1/stat"; }

for backend in sendfile splice; do
    "$serve" "$file" "$backend" 1 >"$work/port" &
    pid=$!
    for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
    port=$(awk '{print $2}' "$work/port")
    url=http://127.0.0.1:$port/f
    curl -s -o /dev/null "$url" # warm
    c0=$(cpu $pid); t0=$(date +%s.%N)
    for _ in $(seq "$runs"); do curl -s -o /dev/null "$url"; done
    c1=$(cpu $pid); t1=$(date +%s.%N)
    awk -v b="$backend" -v c=$(echo "$c1 - $c0" | bc -l) -v t=$(echo "$t1 - $t0" | bc -l) \
        -v gb=$(echo "$runs * $mib / 1024" | bc -l) \
        'BEGIN { printf "%-8s curl x%d: %.2f GB/s, server %.3f CPU-s/GB\n", b, gb*1024/'"$mib"', gb/t, c/gb }'
    for conns in 16 256; do
        c0=$(cpu $pid)
        out=$(wrk -t1 -c$conns -d5s "$url" 2>&1)
        c1=$(cpu $pid)
        bytes=$(echo "$out" | awk '/Transfer\/sec/ {v=$2; u=substr(v, length(v)-1); n=substr(v, 1, length(v)-2); m = (u=="GB") ? 1 : (u=="MB") ? 1/1024 : 1/1048576; print n*m}')
        rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
        awk -v b="$backend" -v c=$(echo "$c1 - $c0" | bc -l) -v gbs="$bytes" -v rps="$rps" -v n=$conns \
            'BEGIN { printf "%-8s wrk -c%d: %.2f GB/s (%s req/s), server %.3f CPU-s/GB\n", b, n, gbs, rps, (gbs > 0 ? c/(gbs*5) : 0) }'
    done
    kill $pid; wait $pid 2>/dev/null || true; pid=
done
