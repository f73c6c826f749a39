#!/usr/bin/env bash
# scripts/demo with a small image (FERRY_DEMO_SIZE / FERRY_DEMO_DATA_MB), on the binaries
# of this build: the whole controller flow between two real ferryd agents must end with an
# intact, still sparse file, the figures printed, and no agent left running.
. "$(dirname "$0")/../lib/ferry-test.sh"
ft_need xxhsum sha256sum curl truncate /usr/bin/python3

rc=0
TMPDIR=$FT_TMP FERRY_DEMO_NO_BUILD=1 FERRY_DEMO_SHA256=1 FERRY_DEMO_SIZE=256M FERRY_DEMO_DATA_MB=16 \
    "$FERRY_SRC/scripts/demo" >"$FT_TMP/demo.out" 2>&1 || rc=$?
if [ $rc -ne 0 ]; then
    cat "$FT_TMP/demo.out" >&2
    ft_fail "scripts/demo exited $rc"
fi
out=$FT_TMP/demo.out
grep -q "the file arrived intact" "$out" || ft_fail "no success line"
grep -q "SHA-256   source" "$out" || ft_fail "no SHA-256 comparison"
# both digests printed and equal (the demo compares them; check the transcript agrees)
src=$(awk '/XXH3-128  source/ {print $3}' "$out")
dst=$(awk '/^ *dest/ {print $2; exit}' "$out")
[ -n "$src" ] && [ "$src" = "$dst" ] || ft_fail "digests in the transcript: '$src' vs '$dst'"
grep -q "destination sparse   yes" "$out" || ft_fail "destination not sparse: $(grep sparse "$out")"
grep -q "ACKNOWLEDGED" "$out" || ft_fail "job never ACKNOWLEDGED"
grep -qE "effective throughput +[0-9.]+ MiB/s" "$out" || ft_fail "no throughput figure"
# nothing left running from the demo's work directory, which is gone
if pgrep -f "$FT_TMP/ferry-demo" >/dev/null; then ft_fail "a demo ferryd is still running"; fi
ls "$FT_TMP"/ferry-demo-* >/dev/null 2>&1 && ft_fail "the demo left its work directory"
ft_pass
