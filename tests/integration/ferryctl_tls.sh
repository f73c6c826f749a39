#!/usr/bin/env bash
# ferryctl against ferryd's https WS-Man listener: --cacert verifies the server, Basic over
# TLS works, a client certificate mapped to the admin in STATE/certmap logs in with
# --client-cert FILE:KEY and no password, and an unverifiable server or an unmapped
# certificate ends with exit 3.
. "$(dirname "$0")/../lib/ferry-test.sh"
ft_need openssl
cd "$FT_TMP"

openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
    -subj /CN=ferryctl-test-ca >/dev/null 2>&1 || ft_fail "CA"
mkcert() { # name cn [extfile]
    openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$2" \
        >/dev/null 2>&1 || ft_fail "csr $1"
    openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
        -out "$1.pem" ${3:+-extfile "$3"} >/dev/null 2>&1 || ft_fail "cert $1"
}
printf 'subjectAltName=IP:127.0.0.1\n' >san.ext
printf 'extendedKeyUsage=clientAuth\n' >client.ext
mkcert server 127.0.0.1 san.ext
mkcert admincert ctl-admin client.ext
mkcert strangercert stranger client.ext
mkdir -p "$FT_TMP/d" "$FT_TMP/in"
fp=$(openssl x509 -in admincert.pem -outform DER | sha256sum | awk '{print $1}')
printf '%s admin\n' "$fp" >"$FT_TMP/d/certmap"

ft_ferryd_start d --download-root "$FT_TMP/in" --wsman-tls-listen 127.0.0.1:0 \
    --tls-cert server.pem --tls-key server.key --tls-client-ca ca.pem
TURL=$(awk '$1=="wsman-tls" {print $2; exit}' "$FT_TMP/d/ferryd.ready")
[ -n "$TURL" ] || ft_fail "no wsman-tls line in the ready file"
printf 'admin-pw\n' >pw

# Basic over TLS, server verified with --cacert
"$FERRYCTL" --endpoint "$TURL" --cacert ca.pem --user admin --password-file pw job list \
    >/dev/null || ft_fail "job list over https with Basic"
# a client certificate mapped to admin: no user, no password
id=$("$FERRYCTL" --endpoint "$TURL" --cacert ca.pem --client-cert admincert.pem:admincert.key \
    job create tls http://127.0.0.1:1/x "$FT_TMP/in/x" --suspended) || ft_fail "create with a client certificate"
"$FERRYCTL" --endpoint "$TURL" --cacert ca.pem --client-cert admincert.pem:admincert.key \
    --json job show "$id" | grep -q '"Owner":"admin"' || ft_fail "the job's owner is not the mapped user"
# the server cannot be verified without the CA: exit 3
rc=0; "$FERRYCTL" --endpoint "$TURL" --user admin --password-file pw job list 2>err || rc=$?
ft_assert_eq 3 "$rc" "unverified server"
# an unmapped certificate is no login: 401 -> exit 3
rc=0; "$FERRYCTL" --endpoint "$TURL" --cacert ca.pem \
    --client-cert strangercert.pem:strangercert.key job list 2>err || rc=$?
ft_assert_eq 3 "$rc" "unmapped client certificate"
grep -q "authentication failed" err || ft_fail "unmapped certificate: $(cat err)"
ft_ferryd_stop d
ft_pass
