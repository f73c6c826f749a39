# tests/tools/rel-lib.sh - helpers shared by the reliability suite (bash).
# Source after tests/lib/ferry-test.sh:
#   . "$FERRY_SRC/tests/lib/ferry-test.sh"; . "$FERRY_SRC/tests/tools/rel-lib.sh"
# Every process started here is registered in FT_PIDS, so ft_cleanup ends it.

REL_TOOLS=${REL_TOOLS:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
REL_PY=/usr/bin/python3

# rel_nginx_start NAME ROOT: nginx (daemon off, one worker) serving ROOT on an ephemeral
# port of 127.0.0.1. Sets REL_NGINX_PORT_<NAME>, REL_NGINX_PORT (last started).
rel_nginx_start() {
    local name=$1 root=$2 dir=$FT_TMP/nginx-$1 port i
    command -v nginx >/dev/null 2>&1 || ft_skip "nginx not installed"
    mkdir -p "$dir"
    for i in 1 2 3 4 5; do
        port=$(ft_free_port)
        cat >"$dir/nginx.conf" <<EOF
daemon off;
master_process off;
user root;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    default_type application/octet-stream;
    sendfile on;
    server {
        listen 127.0.0.1:$port;
        root $root;
        location /status503 { return 503; }
    }
}
EOF
        nginx -c "$dir/nginx.conf" -e "$dir/error.log" 2>>"$dir/error.log" &
        local pid=$!
        FT_PIDS+=("$pid")
        local j
        for j in $(seq 1 200); do
            if curl -s -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null; then
                printf -v "REL_NGINX_PORT_$name" '%s' "$port"
                REL_NGINX_PORT=$port
                printf -v "REL_NGINX_PID_$name" '%s' "$pid"
                return 0
            fi
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.02
        done
        kill -9 "$pid" 2>/dev/null || true
    done
    cat "$dir/error.log" >&2
    ft_fail "nginx $name did not start"
}

# rel_proxy_start NAME TARGET_PORT [extra serve args]: faultproxy in front of
# 127.0.0.1:TARGET_PORT. Sets REL_PROXY_PORT_<NAME>, REL_PROXY_PORT; its log is
# $FT_TMP/proxy-NAME.log (JSON lines), its port file $FT_TMP/proxy-NAME.ports.
rel_proxy_start() {
    local name=$1 target=$2; shift 2
    local pf=$FT_TMP/proxy-$name.ports
    rm -f "$pf"
    "$REL_PY" "$REL_TOOLS/faultproxy.py" serve --target "127.0.0.1:$target" \
        --port-file "$pf" --log "$FT_TMP/proxy-$name.log" "$@" \
        >/dev/null 2>>"$FT_TMP/proxy-$name.err" &
    local pid=$!
    FT_PIDS+=("$pid")
    local i
    for i in $(seq 1 500); do
        [ -s "$pf" ] && break
        kill -0 "$pid" 2>/dev/null || { cat "$FT_TMP/proxy-$name.err" >&2; ft_fail "faultproxy $name exited"; }
        sleep 0.01
    done
    [ -s "$pf" ] || ft_fail "faultproxy $name not ready"
    local port
    port=$(awk '$1=="proxy" {print $2}' "$pf")
    printf -v "REL_PROXY_PORT_$name" '%s' "$port"
    printf -v "REL_PROXY_PID_$name" '%s' "$pid"
    REL_PROXY_PORT=$port
}

# rel_proxy_ctl NAME COMMAND...: one control command; prints the JSON reply; fails the
# test when the proxy refuses it.
rel_proxy_ctl() {
    local name=$1; shift
    "$REL_PY" "$REL_TOOLS/faultproxy.py" ctl --port-file "$FT_TMP/proxy-$name.ports" "$@" \
        || ft_fail "faultproxy ctl $name $* refused"
}

# rel_json EXPR: evaluate a python expression over the JSON document on stdin (as `d`).
rel_json() {
    "$REL_PY" -c 'import json,sys; d=json.load(sys.stdin); r=eval(sys.argv[1]); print(r if not isinstance(r,(dict,list)) else json.dumps(r))' "$1"
}

# rel_wait_for TIMEOUT_S CMD...: poll CMD every 50 ms until it succeeds.
rel_wait_for() {
    local t=$1; shift
    local end=$((SECONDS + t))
    while [ $SECONDS -le $end ]; do
        "$@" && return 0
        sleep 0.05
    done
    return 1
}

# rel_alive PID: the process still runs (and is not a zombie).
rel_alive() {
    kill -0 "$1" 2>/dev/null || return 1
    local st
    st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || echo X)
    [ "$st" != Z ] && [ "$st" != X ]
}
