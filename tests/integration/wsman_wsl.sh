#!/usr/bin/env bash
# tests/integration/wsman_wsl.sh - Debian's wsl (an independent WS-Man client: curl +
# xmllint) against a real ferryd: Identify, Enumerate, Get and an instance Invoke that
# changes the job's state; plus the transport rules checked with curl (401 with
# WWW-Authenticate vs w:AccessDenied, 404/405/415, chunked and UTF-16 request bodies,
# anonymous Identify, a hostile envelope).
. "$(dirname "$0")/../lib/ferry-test.sh"
. "$(dirname "$0")/wsman_lib.sh"
ft_need wsl curl xmllint uuidgen iconv

R=http://schemas.microsoft.com/wbem/wsman/1/wmi/root/microsoft/bits/BitsClientJob
mkdir -p "$FT_TMP/in"
wsman_ferryd_start a --download-root "$FT_TMP/in"
URL=$FT_WSMAN_a
HP=${URL#http://}
HP=${HP%/wsman}
wsman_user_add "$FT_TMP/a" bob user bob-pw

CT='Content-Type: application/soap+xml;charset=utf-8'
xval() { xmllint --xpath "string(//*[local-name()='$1'])" - 2>/dev/null; }
status() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

# A job to look at: CreateJob is a static method, which wsl cannot call; curl sends it.
CREATE="<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" xmlns:a=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" xmlns:w=\"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd\"><s:Header><a:Action>$R/CreateJob</a:Action><a:MessageID>uuid:$(uuidgen)</a:MessageID><w:ResourceURI>$R</w:ResourceURI><a:To>$URL</a:To></s:Header><s:Body><p:CreateJob_INPUT xmlns:p=\"$R\"><p:DisplayName>wsl-job</p:DisplayName><p:RemoteUrl>http://127.0.0.1:9/nothing</p:RemoteUrl><p:LocalFile>$FT_TMP/in/x.img</p:LocalFile><p:Suspend>true</p:Suspend></p:CreateJob_INPUT></s:Body></s:Envelope>"
out=$(curl -s -u admin:admin-pw -H "$CT" --data-binary "$CREATE" -w '\n%{http_code}' "$URL")
ft_assert_eq 200 "$(tail -n1 <<<"$out")" "CreateJob status"
JOB=$(head -n -1 <<<"$out" | xval JobId)
[[ $JOB =~ ^\{[0-9A-Fa-f-]{36}\}$ ]] || ft_fail "CreateJob gave no JobId: $out"
ft_assert_eq 0 "$(head -n -1 <<<"$out" | xval ReturnValue)" "CreateJob ReturnValue"

export WSNOSSL=true WSENDPOINT=$HP KEEPHISTORY=0 WSUSER=admin WSPASS=admin-pw
mkdir -p "$FT_TMP/wsl"
cd "$FT_TMP/wsl"

wsl id check > id.out 2>&1 || ft_fail "wsl id check failed: $(cat id.out)"
grep -q '<wsmid:ProductVendor>ferry</wsmid:ProductVendor>' id.out || ft_fail "no ProductVendor: $(cat id.out)"

wsl enum "$R" > enum.out 2>&1 || ft_fail "wsl enum failed: $(cat enum.out)"
grep -qF "<p:JobId>$JOB</p:JobId>" enum.out || ft_fail "wsl enum does not list $JOB"
grep -q 'EndOfSequence' enum.out || ft_fail "wsl enum: no EndOfSequence"

wsl get "$R" "JobId=$JOB" > get.out 2>&1 || ft_fail "wsl get failed: $(cat get.out)"
grep -q '<p:State>3</p:State>' get.out || ft_fail "created suspended, State is not 3: $(cat get.out)"
grep -q '<p:DisplayName>wsl-job</p:DisplayName>' get.out || ft_fail "wsl get: wrong DisplayName"

# wsl invoke enumerates EPRs, then invokes on the first one: our only job.
wsl invoke "$R" SetJobState JobState=2 > inv.out 2>&1 || ft_fail "wsl invoke resume failed: $(cat inv.out)"
grep -q '<p:ReturnValue>0</p:ReturnValue>' inv.out || ft_fail "resume ReturnValue: $(cat inv.out)"
wsl get "$R" "JobId=$JOB" > get2.out 2>&1 || ft_fail "wsl get (2) failed"
if grep -q '<p:State>3</p:State>' get2.out; then ft_fail "job still SUSPENDED after resume"; fi
wsl invoke "$R" SetJobState JobState=3 > inv2.out 2>&1 || ft_fail "wsl invoke suspend failed: $(cat inv2.out)"
grep -q '<p:ReturnValue>0</p:ReturnValue>' inv2.out || ft_fail "suspend ReturnValue: $(cat inv2.out)"
wsl get "$R" "JobId=$JOB" > get3.out 2>&1 || ft_fail "wsl get (3) failed"
grep -q '<p:State>3</p:State>' get3.out || ft_fail "job not SUSPENDED after wsl invoke JobState=3"

# wsl put: an optimized EnumerateObjectAndEPR, the instance rewritten line by line, a Put.
# wsl exits 1 on any response without "_OUTPUT" (a PutResponse has none), so check the
# effect instead of the exit status.
wsl put "$R" Priority=1 > put.out 2>&1 || true
grep -q 'PutResponse' put.out || ft_fail "wsl put got no PutResponse: $(tail -n 30 put.out)"
wsl get "$R" "JobId=$JOB" > get4.out 2>&1 || ft_fail "wsl get (4) failed"
grep -q '<p:Priority>1</p:Priority>' get4.out || ft_fail "wsl put did not set Priority 1"

# the server role's class: a group made with curl, listed and read by wsl
G=http://schemas.microsoft.com/wbem/wsman/1/wmi/root/microsoft/bits/BitsCompactServerUrlGroup
PREFIX=http://127.0.0.1:$(ft_free_port)/pub
CG="<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" xmlns:a=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" xmlns:w=\"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd\"><s:Header><a:Action>$G/CreateUrlGroup</a:Action><a:MessageID>uuid:$(uuidgen)</a:MessageID><w:ResourceURI>$G</w:ResourceURI></s:Header><s:Body><p:CreateUrlGroup_INPUT xmlns:p=\"$G\"><p:UrlGroup>$PREFIX</p:UrlGroup></p:CreateUrlGroup_INPUT></s:Body></s:Envelope>"
out=$(curl -s -u admin:admin-pw -H "Content-Type: application/soap+xml;charset=utf-8" --data-binary "$CG" "$URL")
grep -q '<p:ReturnValue>0</p:ReturnValue>' <<<"$out" || ft_fail "CreateUrlGroup: $out"
wsl enum "$G" > genum.out 2>&1 || ft_fail "wsl enum of URL groups failed: $(cat genum.out)"
grep -qF "<p:UrlGroup>$PREFIX</p:UrlGroup>" genum.out || ft_fail "wsl enum does not list $PREFIX"
wsl get "$G" "UrlGroup=$PREFIX" > gget.out 2>&1 || ft_fail "wsl get of the URL group failed: $(cat gget.out)"
grep -qF "<p:UrlGroup>$PREFIX</p:UrlGroup>" gget.out || ft_fail "wsl get: wrong group"

# wsl with a wrong password gets no instance
WSPASS=wrong wsl get "$R" "JobId=$JOB" > bad.out 2>&1 || true
if grep -q '<p:State>' bad.out; then ft_fail "wrong password accepted"; fi

cd "$FT_TMP"
IDENT='<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsmid="http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd"><s:Header/><s:Body><wsmid:Identify/></s:Body></s:Envelope>'
GET="<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" xmlns:a=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" xmlns:w=\"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd\"><s:Header><a:Action>http://schemas.xmlsoap.org/ws/2004/09/transfer/Get</a:Action><a:MessageID>uuid:1</a:MessageID><w:ResourceURI>$R</w:ResourceURI><w:SelectorSet><w:Selector Name=\"JobId\">$JOB</w:Selector></w:SelectorSet></s:Header><s:Body/></s:Envelope>"

# no credentials: 401, empty body, Basic realm="WSMAN"
curl -s -D h401 -o b401 -H "$CT" --data-binary "$GET" "$URL"
grep -q '^HTTP/1.1 401' h401 || ft_fail "no credentials: $(head -n1 h401)"
grep -qi '^WWW-Authenticate: Basic realm="WSMAN"' h401 || ft_fail "no WWW-Authenticate"
[ ! -s b401 ] || ft_fail "401 with a body"
ft_assert_eq 401 "$(status -u admin:nope -H "$CT" --data-binary "$GET" "$URL")" "wrong password"
# a valid non-administrator: w:AccessDenied
out=$(curl -s -u bob:bob-pw -H "$CT" --data-binary "$GET" -w '\n%{http_code}' "$URL")
ft_assert_eq 400 "$(tail -n1 <<<"$out")" "bob's Get status"
grep -q 'AccessDenied' <<<"$out" || ft_fail "bob's Get is not AccessDenied: $out"
ft_assert_eq 200 "$(status -u bob:bob-pw -H "$CT" --data-binary "$IDENT" "$URL")" "bob may Identify"
# anonymous Identify
out=$(curl -s -H "$CT" -H 'WSMANIDENTIFY: unauthenticated' --data-binary "$IDENT" -w '\n%{http_code}' "$URL")
ft_assert_eq 200 "$(tail -n1 <<<"$out")" "anonymous Identify"
if grep -q SecurityProfiles <<<"$out"; then ft_fail "anonymous Identify shows SecurityProfiles"; fi
# transport: paths, methods, types, chunked bodies, charset spellings
ft_assert_eq 404 "$(status -u admin:admin-pw -H "$CT" --data-binary "$IDENT" "${URL%/wsman}/other")" "other path"
ft_assert_eq 405 "$(status -u admin:admin-pw "$URL")" "GET /wsman"
ft_assert_eq 415 "$(status -u admin:admin-pw -H 'Content-Type: text/xml' --data-binary "$IDENT" "$URL")" "text/xml"
ft_assert_eq 200 "$(status -u admin:admin-pw -H 'Content-Type: application/soap+xml; charset=UTF-8' --data-binary "$IDENT" "$URL")" "space after ;"
ft_assert_eq 200 "$(status -u admin:admin-pw -H "$CT" -H 'Transfer-Encoding: chunked' --data-binary "$GET" "$URL")" "chunked Get"
# UTF-16LE with a BOM
printf '\xff\xfe' > u16.xml
printf '%s' "$GET" | iconv -f UTF-8 -t UTF-16LE >> u16.xml
out=$(curl -s -u admin:admin-pw -H 'Content-Type: application/soap+xml;charset=UTF-16' --data-binary @u16.xml -w '\n%{http_code}' "$URL")
ft_assert_eq 200 "$(tail -n1 <<<"$out")" "UTF-16 Get"
grep -qF "$JOB" <<<"$out" || ft_fail "UTF-16 Get: wrong instance"
# a hostile envelope does not take the daemon down
LAUGHS='<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>&b;</s:Body></s:Envelope>'
ft_assert_eq 400 "$(status -u admin:admin-pw -H "$CT" --data-binary "$LAUGHS" "$URL")" "billion laughs"
ft_assert_eq 200 "$(status -u admin:admin-pw -H "$CT" --data-binary "$IDENT" "$URL")" "alive after hostile XML"

ft_ferryd_stop a
ft_pass
