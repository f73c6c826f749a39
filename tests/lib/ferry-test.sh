# tests/lib/ferry-test.sh - helpers for integration tests written in bash.
# Source it: . "$(dirname "$0")/../lib/ferry-test.sh"
# Environment from meson: FERRYD, FERRYCTL (paths of the built binaries), FERRY_SRC.
# Every test ends with ft_pass; failures call ft_fail (exit 1); missing tools ft_skip (77).
set -euo pipefail

FT_NAME=${FT_NAME:-$(basename "$0")}
FT_TMP=$(mktemp -d "${TMPDIR:-/tmp}/ferry-test-${FT_NAME%.*}-XXXXXX")
FT_PIDS=()
FT_CLEANUPS=()

ft_log() { printf '[%s] %s\n' "$FT_NAME" "$*" >&2; }
ft_fail() { ft_log "FAIL: $*"; exit 1; }
ft_skip() { ft_log "SKIP: $*"; exit 77; }
ft_pass() { ft_log "PASS"; exit 0; }

ft_cleanup() {
    local rc=$?
    set +e
    for c in "${FT_CLEANUPS[@]}"; do eval "$c"; done
    for p in "${FT_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    if [ "${FERRY_TEST_KEEP:-0}" = 1 ] || { [ $rc -ne 0 ] && [ $rc -ne 77 ] && [ "${FERRY_TEST_KEEP_FAILED:-0}" = 1 ]; }; then
        ft_log "kept $FT_TMP"
    else
        if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
            for f in "$FT_TMP"/*/ferryd.log "$FT_TMP"/*.log; do
                [ -f "$f" ] && { echo "---- $f (tail)" >&2; tail -n 40 "$f" >&2; }
            done
        fi
        rm -rf "$FT_TMP"
    fi
    exit $rc
}
trap ft_cleanup EXIT

ft_on_exit() { FT_CLEANUPS+=("$1"); }
ft_need() { for t in "$@"; do command -v "$t" >/dev/null 2>&1 || ft_skip "$t not installed"; done; }

ft_assert_eq() { # expected actual what
    [ "$1" = "$2" ] || ft_fail "$3: expected '$1', got '$2'"
}

# A free TCP port on 127.0.0.1 (the kernel picks; small race accepted in tests).
ft_free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ft_ferryd_start NAME [extra ferryd args...]: state dir $FT_TMP/NAME, WS-Man on an
# ephemeral port. Sets FT_WSMAN_<NAME> (URL) and FT_PID_<NAME>. An admin user "admin"
# with password "admin-pw" is created unless FT_NO_ADMIN=1.
ft_ferryd_start() {
    local name=$1; shift
    local dir=$FT_TMP/$name
    mkdir -p "$dir"
    if [ "${FT_NO_ADMIN:-0}" != 1 ] && [ ! -f "$dir/users" ]; then
        printf 'admin-pw\n' | "$FERRYCTL" user add --state-dir "$dir" admin --role admin >/dev/null \
            || ft_fail "ferryctl user add failed"
    fi
    rm -f "$dir/ferryd.ready"
    "$FERRYD" --state-dir "$dir" --wsman-listen 127.0.0.1:0 "$@" 2>>"$dir/ferryd.log" &
    local pid=$!
    FT_PIDS+=("$pid")
    local i
    for i in $(seq 1 1000); do
        if [ -s "$dir/ferryd.ready" ] && grep -q '^wsman ' "$dir/ferryd.ready"; then break; fi
        kill -0 "$pid" 2>/dev/null || { tail -n 30 "$dir/ferryd.log" >&2; ft_fail "ferryd $name exited at start"; }
        sleep 0.01
    done
    [ -s "$dir/ferryd.ready" ] || ft_fail "ferryd $name not ready after 10 s"
    local url
    url=$(awk '$1=="wsman" {print $2; exit}' "$dir/ferryd.ready")
    printf -v "FT_WSMAN_$name" '%s' "$url"
    printf -v "FT_PID_$name" '%s' "$pid"
}

# ft_ferryd_stop NAME: SIGTERM, wait, assert a clean exit.
ft_ferryd_stop() {
    local name=$1 pidvar="FT_PID_$1"
    local pid=${!pidvar}
    kill -TERM "$pid" 2>/dev/null || return 0
    local rc=0
    wait "$pid" || rc=$?
    [ $rc -eq 0 ] || ft_fail "ferryd $name exited with $rc on SIGTERM"
}

ft_ferryd_kill9() {
    local pidvar="FT_PID_$1"
    kill -9 "${!pidvar}" 2>/dev/null || true
    wait "${!pidvar}" 2>/dev/null || true
}

# ft_random_file PATH SIZE_BYTES
ft_random_file() {
    head -c "$2" /dev/urandom > "$1"
}

ft_xxh128() { xxhsum -H2 "$1" | awk '{print $1}'; }
ft_sha256() { sha256sum "$1" | awk '{print $1}'; }
