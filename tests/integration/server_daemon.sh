#!/usr/bin/env bash
# The server role inside the real ferryd: URLs declared in the config file and published with
# ferryctl, served to curl and aria2c (Metalink with SHA-256 pieces); a client that drops
# the connection mid-body does not hurt the daemon; kill -9 and restart restore what was
# published over WS-Man (config lines come back from the file); SIGTERM closes the ports.
. "$(dirname "$0")/../lib/ferry-test.sh"
ft_need curl aria2c xxhsum
if grep -q "not assembled yet in this build" "$FERRYD"; then
    ft_skip "ferryd is not assembled in this tree yet"
fi

pub=$FT_TMP/pub
mkdir -p "$pub"
ft_random_file "$pub/conf.bin" $((5 << 20))
ft_random_file "$pub/api.bin" $((3 << 20))
ft_random_file "$pub/big.bin" $((64 << 20))
port=$(ft_free_port)
cgroup=http://127.0.0.1:$port/conf
cat >"$FT_TMP/ferryd.conf" <<CONF
publish-root = $pub
manifest-sha256 = true
manifest-chunk-size = 1MiB
url-group = $cgroup
url = $cgroup/conf.bin $pub/conf.bin
url = $cgroup/big.bin $pub/big.bin
CONF
ft_ferryd_start srv --config "$FT_TMP/ferryd.conf"
printf 'admin-pw\n' >"$FT_TMP/pw"
S=("$FERRYCTL" --endpoint "$FT_WSMAN_srv" --user admin --password-file "$FT_TMP/pw")

# the config file's URL, byte-exact
curl -sf -o "$FT_TMP/conf.out" "$cgroup/conf.bin" || ft_fail "GET of the config URL"
cmp -s "$FT_TMP/conf.out" "$pub/conf.bin" || ft_fail "config URL bytes differ"

# a URL published over WS-Man, on its own port
aport=$(ft_free_port)
agroup=http://127.0.0.1:$aport/api
"${S[@]}" group create "$agroup" >/dev/null || ft_fail "group create"
"${S[@]}" url publish "$agroup" api.bin "$pub/api.bin" >/dev/null || ft_fail "url publish"
for _ in $(seq 1 300); do
    curl -sfI "$agroup/api.bin" | grep -qi '^Link: ' && break
    sleep 0.02
done
curl -sfI "$agroup/api.bin" | tr -d '\r' | grep -q '^Link: </api/api.bin.meta4>; rel=describedby' \
    || ft_fail "no Link header once the manifest is ready"
curl -sf -o "$FT_TMP/api.meta4" "$agroup/api.bin.meta4" || ft_fail "GET of the .meta4"
mkdir -p "$FT_TMP/dl"
aria2c -q --allow-overwrite=true -d "$FT_TMP/dl" --metalink-file="$FT_TMP/api.meta4" \
    >"$FT_TMP/aria.log" 2>&1 || ft_fail "aria2c with the Metalink: $(tail -5 "$FT_TMP/aria.log")"
[ "$(ft_xxh128 "$FT_TMP/dl/api.bin")" = "$(ft_xxh128 "$pub/api.bin")" ] \
    || ft_fail "aria2c result differs"

# clients dropping connections mid-body (sendfile to a closed socket) leave ferryd alive
for _ in 1 2 3; do
    curl -s -o /dev/null --limit-rate 2M --max-time 0.3 "$cgroup/big.bin" || true
done
aria2c -q -x8 -s8 --max-download-limit=4M --stop=1 -d "$FT_TMP/dl" -o cut.bin \
    "$cgroup/big.bin" >/dev/null 2>&1 || true
kill -0 "$FT_PID_srv" || ft_fail "ferryd died when clients dropped their connections"
curl -sf -o "$FT_TMP/big.out" "$cgroup/big.bin" || ft_fail "GET after dropped connections"
[ "$(ft_xxh128 "$FT_TMP/big.out")" = "$(ft_xxh128 "$pub/big.bin")" ] || ft_fail "big.bin differs"

# the open-file cache (one descriptor per URL, checked against the path on every request):
# a source replaced by rename is served at once with its new bytes and ETag; a removed one
# is a 404; one deleted while nobody asks for it is not kept open (the sweep closes it)
ft_random_file "$pub/swap.bin" 5000
"${S[@]}" url publish "$cgroup" swap.bin "$pub/swap.bin" >/dev/null || ft_fail "publish swap.bin"
curl -sf -D "$FT_TMP/swap.h1" -o "$FT_TMP/swap.out" "$cgroup/swap.bin" || ft_fail "GET swap.bin"
cmp -s "$FT_TMP/swap.out" "$pub/swap.bin" || ft_fail "swap.bin differs"
ft_random_file "$pub/swap.new" 70000
mv "$pub/swap.new" "$pub/swap.bin"
curl -sf -D "$FT_TMP/swap.h2" -o "$FT_TMP/swap.out" "$cgroup/swap.bin" || ft_fail "GET swap.bin 2"
cmp -s "$FT_TMP/swap.out" "$pub/swap.bin" || ft_fail "replaced swap.bin served stale bytes"
e1=$(grep -i '^etag:' "$FT_TMP/swap.h1"); e2=$(grep -i '^etag:' "$FT_TMP/swap.h2")
[ -n "$e1" ] && [ "$e1" != "$e2" ] || ft_fail "ETag unchanged after the source was replaced"
rm "$pub/swap.bin"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$cgroup/swap.bin")" = 404 ] \
    || ft_fail "a removed source is not a 404"
ft_random_file "$pub/swap.bin" 3000
curl -sf -o "$FT_TMP/swap.out" "$cgroup/swap.bin" || ft_fail "GET swap.bin 3"
cmp -s "$FT_TMP/swap.out" "$pub/swap.bin" || ft_fail "swap.bin differs after coming back"
rm "$pub/swap.bin"
ls -l "/proc/$FT_PID_srv/fd" 2>/dev/null | grep -q 'swap.bin (deleted)' \
    || ft_fail "no cached descriptor of swap.bin right after a request"
for _ in $(seq 1 150); do
    ls -l "/proc/$FT_PID_srv/fd" 2>/dev/null | grep -q 'swap.bin (deleted)' || break
    sleep 0.1
done
ls -l "/proc/$FT_PID_srv/fd" 2>/dev/null | grep -q 'swap.bin (deleted)' \
    && ft_fail "a deleted source is still held open after 15 s"

# kill -9, restart: the WS-Man publication is restored from STATE/server.db
ft_ferryd_kill9 srv
ft_ferryd_start srv --config "$FT_TMP/ferryd.conf"
S=("$FERRYCTL" --endpoint "$FT_WSMAN_srv" --user admin --password-file "$FT_TMP/pw")
"${S[@]}" url check "$agroup" api.bin | grep -q "exists$" || ft_fail "api.bin not restored"
curl -sf -o "$FT_TMP/api.out" "$agroup/api.bin" || ft_fail "GET after restart"
cmp -s "$FT_TMP/api.out" "$pub/api.bin" || ft_fail "api.bin differs after restart"
curl -sf -o /dev/null "$cgroup/conf.bin" || ft_fail "config URL after restart"

# deleting the group closes its port; SIGTERM closes the rest
"${S[@]}" group delete "$agroup" >/dev/null || ft_fail "group delete"
rc=0; curl -s -o /dev/null "$agroup/api.bin" || rc=$?
[ $rc -eq 7 ] || ft_fail "port of a deleted group still answers (curl exit $rc)"
ft_ferryd_stop srv
rc=0; curl -s -o /dev/null "$cgroup/conf.bin" || rc=$?
[ $rc -eq 7 ] || ft_fail "port still open after SIGTERM (curl exit $rc)"
ft_pass
