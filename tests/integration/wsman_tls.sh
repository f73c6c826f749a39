#!/usr/bin/env bash
# tests/integration/wsman_tls.sh - the WS-Man https listener: Basic over TLS, client
# certificates mapped to users through STATE/certmap ("SHA256HEX user"), an unmapped
# certificate refused, and pywinrm's certificate transport (its literal
# "Authorization: .../secprofile/https/mutual" header with a mapped certificate).
. "$(dirname "$0")/../lib/ferry-test.sh"
. "$(dirname "$0")/wsman_lib.sh"
ft_need curl openssl /usr/bin/python3
cd "$FT_TMP"

# A CA, a server certificate for 127.0.0.1, two client certificates
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
    -subj /CN=ferry-test-ca >/dev/null 2>&1 || ft_fail "CA"
mkcert() { # name cn [extfile]
    openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$2" \
        >/dev/null 2>&1 || ft_fail "csr $1"
    openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
        -out "$1.pem" ${3:+-extfile "$3"} >/dev/null 2>&1 || ft_fail "cert $1"
}
printf 'subjectAltName=IP:127.0.0.1\n' > san.ext
mkcert server 127.0.0.1 san.ext
printf 'extendedKeyUsage=clientAuth\n' > client.ext
mkcert admincert ferry-admin client.ext
mkcert strangercert stranger client.ext

mkdir -p "$FT_TMP/t"
fp=$(openssl x509 -in admincert.pem -outform DER | sha256sum | awk '{print $1}')
printf '# certificate fingerprint (SHA-256 of DER) -> user\n%s admin\n' "$fp" > "$FT_TMP/t/certmap"

wsman_ferryd_start t --wsman-tls-listen 127.0.0.1:0 --tls-cert server.pem --tls-key server.key \
    --tls-client-ca ca.pem
TURL=$(awk '$1=="wsman-tls" {print $2; exit}' "$FT_TMP/t/ferryd.ready")
[[ $TURL =~ ^https://127\.0\.0\.1:[0-9]+/wsman$ ]] || ft_fail "no wsman-tls line: $(cat "$FT_TMP/t/ferryd.ready")"

CT='Content-Type: application/soap+xml;charset=UTF-8'
IDENT='<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsmid="http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd"><s:Header/><s:Body><wsmid:Identify/></s:Body></s:Envelope>'
st() { curl -s -o /dev/null -w '%{http_code}' --cacert ca.pem -H "$CT" --data-binary "$IDENT" "$@" "$TURL"; }

ft_assert_eq 200 "$(st -u admin:admin-pw)" "Basic over https"
ft_assert_eq 401 "$(st)" "https without credentials"
ft_assert_eq 200 "$(st --cert admincert.pem --key admincert.key)" "mapped client certificate"
ft_assert_eq 401 "$(st --cert strangercert.pem --key strangercert.key)" "unmapped client certificate"
out=$(curl -s --cacert ca.pem --cert admincert.pem --key admincert.key -H "$CT" --data-binary "$IDENT" "$TURL")
grep -q 'SecurityProfiles' <<<"$out" || ft_fail "a certificate login is not authenticated: $out"

# pywinrm's certificate transport
/usr/bin/python3 - "$TURL" <<'PY' || ft_fail "pywinrm certificate transport"
import sys
try:
    from winrm.protocol import Protocol
except ImportError:
    sys.exit(0)
p = Protocol(sys.argv[1], transport="certificate", cert_pem="admincert.pem",
             cert_key_pem="admincert.key", server_cert_validation="validate",
             ca_trust_path="ca.pem")
body = p.send_message('<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
                      'xmlns:wsmid="http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd">'
                      '<s:Header/><s:Body><wsmid:Identify/></s:Body></s:Envelope>')
assert b"ProductVendor>ferry<" in body, body
assert b"SecurityProfiles" in body, body
PY

ft_ferryd_stop t
ft_pass
