#!/usr/bin/env bash
# server_e2e: dataline-server end to end over loopback, the way a handset
# uses it. Provisioning API (POST /v1/registrations, the code from the SMS
# spool, POST /v1/registrations/verify), then REGISTER with the issued
# credentials over UDP, TCP and TLS (RFC 3261 s.10, digest s.22 + RFC 8760
# MD5/SHA-256, RFC 5626 CRLF keep-alive), then every refusal with its
# status, each visible in /metrics (and 423 Interval Too Brief, HTTPS):
#   wrong password        401 with a fresh challenge (RFC 3261 22.3: the
#                         server re-challenges rather than 403, so a
#                         phone can retry with corrected credentials)
#   unknown username      the same 401 (no hint which part was wrong)
#   replayed nonce        401 with a fresh challenge (same nonce + nc)
#   foreign number        403 (To number not the device's own)
#   wrong code            403 invalid_code (with tries_left)
#   too many tries        429 too_many_tries, even for the right code
#   expired code          410 code_expired (a second server, --code-ttl 2)
# The SIP client is tests/tools/sipcli (its own parser and digest code, so
# it shares no bug with the server). Ports 25000-25019.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/tools/server_env.sh"
trap srv_cleanup EXIT

if ! srv_start e2e 25000 --digest-algorithms SHA-256,MD5; then
  fail "server_e2e: server starts"; finish
fi
ok "server_e2e: server starts (healthz 200)"

# ---------------------------------------------------------------- provisioning
N1=+8613800138001
if provision "$N1"; then
  ok "server_e2e: number provisioned (202, code from the SMS spool, 200)"
else
  fail "server_e2e: number provisioned"; finish
fi
sms_line_ok() {
  grep -Pq "^\\d{4}-\\d\\d-\\d\\dT[^\\t]+\\t\\Q$1\\E\\tYour dataline code is \\d{6}\$" "$2"
}
check "server_e2e: SMS spool line: time, number, \"Your dataline code is NNNNNN\"" \
  sms_line_ok "$N1" "$SRV_VAR/sms.spool"
check "server_e2e: credentials carry username, 24+ char password, domain, AOR, 3 SIP URIs" \
  jq -e --arg n "$N1" '(.username | length > 0) and (.password | length >= 24)
    and .domain == "dataline.local" and .aor == ("sip:" + $n + "@dataline.local")
    and (.sip_uris | length == 3) and .number == $n' <<< "$CRED_JSON" >/dev/null
U1=$CRED_USER P1=$CRED_PASS
CA=$SRV_VAR/tls/server.crt
check "server_e2e: self-signed TLS certificate generated in VAR/tls" test -s "$CA"

# ---------------------------------------------------------------- REGISTER
reg_before=$(metric dataline_sip_requests_total 'method="REGISTER"' 'status="200"')
for tp in udp tcp tls; do
  port=$SRV_SIP; extra=()
  [ $tp = tls ] && { port=$SRV_TLS; extra=(--ca "$CA"); }
  out=$(sipcli -t $tp -s "127.0.0.1:$port" "${extra[@]}" -n "$N1" -u "$U1" -p "$P1" register options 2>&1)
  echo "$out" | sed 's/^/# /'
  check "server_e2e: REGISTER over ${tp^^}: 401 challenge then 200 with the Contact" \
    grep -Eq "^register status=200 challenge=401 .*contacts=[1-9]" <<< "$out"
  check "server_e2e: challenge over ${tp^^} offers SHA-256 and MD5" \
    grep -Eq "^register .*algs=[^ ]*SHA-256" <<< "$out"
  grep -Eq "^register .*algs=[^ ]*MD5" <<< "$out" || fail "server_e2e: MD5 challenge over ${tp^^}"
  check "server_e2e: OPTIONS over ${tp^^} 200" grep -q "^options status=200" <<< "$out"
done
[ -s "$CA" ] && check "server_e2e: TLS verified against VAR/tls/server.crt" \
  grep -q "verified=yes" <<< "$out"
check "server_e2e: registrations gauge counts the 3 bindings" \
  test "$(metric dataline_registrations)" -eq 3
out=$(sipcli -t udp -s "127.0.0.1:$SRV_SIP" -n "$N1" -u "$U1" -p "$P1" query 2>&1)
check "server_e2e: REGISTER without Contact lists the 3 bindings (udp, tcp, tls)" \
  bash -c 'grep -q "^query status=200 .*contacts=3" <<< "$1" &&
           grep -q "transport=udp" <<< "$1" && grep -q "transport=tcp" <<< "$1" &&
           grep -q "transport=tls" <<< "$1"' _ "$out"
reg_after=$(metric dataline_sip_requests_total 'method="REGISTER"' 'status="200"')
check "server_e2e: /metrics counts REGISTER 200 ($reg_before -> $reg_after)" \
  test "$reg_after" -ge $((reg_before + 4))

for alg in MD5 SHA-256; do
  out=$(sipcli -t udp -s "127.0.0.1:$SRV_SIP" -a $alg -n "$N1" -u "$U1" -p "$P1" register unregister 2>&1)
  check "server_e2e: digest $alg accepted, then Expires: 0 removes the binding" \
    bash -c 'grep -q "^register status=200 .*used=$2" <<< "$1" &&
             grep -q "^unregister status=200 .*contacts=3" <<< "$1"' _ "$out" "$alg"
done
out=$(sipcli -t tcp -s "127.0.0.1:$SRV_SIP" -n "$N1" -u "$U1" -p "$P1" crlf unregister-all 2>&1)
check "server_e2e: CRLF keep-alive answered (RFC 5626)" grep -q "^crlf status=pong" <<< "$out"
check "server_e2e: Contact: * with Expires: 0 removes every binding" \
  grep -q "^unregister-all status=200 .*contacts=0" <<< "$out"
check "server_e2e: registrations gauge back to 0" test "$(metric dataline_registrations)" -eq 0

out=$(sipcli -t udp -s "127.0.0.1:$SRV_SIP" -n "$N1" -u "$U1" -p "$P1" -e 30 register 2>&1)
check "server_e2e: Expires: 30 (below --min-expires 60): 423 Interval Too Brief" \
  grep -q "^register status=423" <<< "$out"
check "server_e2e: HTTPS API answers /healthz (TLS from VAR/tls)" \
  test "$(curl -sk -o /dev/null -w '%{http_code}' "https://127.0.0.1:$SRV_HTTPS/healthz")" = 200

# ---------------------------------------------------------------- SIP refusals
m0=$(metric dataline_sip_auth_failures_total 'reason="bad_password"')
out=$(sipcli -t udp -s "127.0.0.1:$SRV_SIP" -n "$N1" -u "$U1" -p "$P1" badpass 2>&1)
echo "$out" | sed 's/^/# /'
check "server_e2e: wrong password refused with 401 and a fresh challenge" \
  grep -Eq "^badpass status=401 .*fresh_challenge=yes" <<< "$out"
m1=$(metric dataline_sip_auth_failures_total 'reason="bad_password"')
check "server_e2e: /metrics auth failures bad_password $m0 -> $m1" test "$m1" -gt "$m0"

m0=$(metric dataline_sip_auth_failures_total 'reason="replayed_nonce"')
for tp in udp tcp; do
  out=$(sipcli -t $tp -s "127.0.0.1:$SRV_SIP" -n "$N1" -u "$U1" -p "$P1" register replay unregister 2>&1)
  echo "$out" | sed 's/^/# /'
  check "server_e2e: replayed nonce+nc over ${tp^^} refused with 401 and a fresh challenge" \
    grep -q "^replay status=401 fresh_challenge=yes" <<< "$out"
done
m1=$(metric dataline_sip_auth_failures_total 'reason="replayed_nonce"')
check "server_e2e: /metrics auth failures replayed_nonce $m0 -> $m1" test "$m1" -ge $((m0 + 2))

m0=$(metric dataline_sip_requests_total 'method="REGISTER"' 'status="403"')
out=$(sipcli -t udp -s "127.0.0.1:$SRV_SIP" -n +8613800138999 -u "$U1" -p "$P1" register 2>&1)
check "server_e2e: REGISTER for a number that is not the device's: 403" \
  grep -q "^register status=403" <<< "$out"
m1=$(metric dataline_sip_requests_total 'method="REGISTER"' 'status="403"')
check "server_e2e: /metrics REGISTER 403 $m0 -> $m1" test "$m1" -gt "$m0"

m0=$(metric dataline_sip_auth_failures_total 'reason="unknown_user"')
out=$(sipcli -t udp -s "127.0.0.1:$SRV_SIP" -n "$N1" -u nosuchuser -p whatever register 2>&1)
echo "$out" | sed "s/^/# /"
check "server_e2e: unknown username refused with 401 and a fresh challenge" \
  grep -Eq "^register status=401 .*fresh_challenge=yes" <<< "$out"
m1=$(metric dataline_sip_auth_failures_total 'reason="unknown_user"')
check "server_e2e: /metrics auth failures unknown_user $m0 -> $m1" test "$m1" -gt "$m0"

# ---------------------------------------------------------------- code refusals
N2=+8613800138002
api POST /v1/registrations "{\"number\":\"$N2\"}"
S2=$(jq -r .session <<< "$API_BODY")
code=$(spool_code "$N2")
wrong=$(printf '%06d' $(( (10#$code + 1) % 1000000 )))
m0=$(metric dataline_code_verifications_total 'result="invalid_code"')
api POST /v1/registrations/verify "{\"number\":\"$N2\",\"code\":\"$wrong\",\"session\":\"$S2\"}"
echo "# wrong code: $API_STATUS $API_BODY"
check "server_e2e: wrong code 403 invalid_code with tries_left" \
  bash -c '[ "$1" = 403 ] && jq -e ".error == \"invalid_code\" and (.tries_left | type == \"number\")" <<< "$2" >/dev/null' _ "$API_STATUS" "$API_BODY"
m1=$(metric dataline_code_verifications_total 'result="invalid_code"')
check "server_e2e: /metrics invalid_code $m0 -> $m1" test "$m1" -gt "$m0"

m0=$(metric dataline_code_verifications_total 'result="too_many_tries"')
n403=1 got429=0
for i in 2 3 4 5 6; do
  api POST /v1/registrations/verify "{\"number\":\"$N2\",\"code\":\"$wrong\",\"session\":\"$S2\"}"
  echo "# wrong code try $i: $API_STATUS $API_BODY"
  case $API_STATUS in 403) n403=$((n403 + 1)) ;; 429) got429=1; break ;; *) break ;; esac
done
check "server_e2e: after the 5 allowed tries: 429 too_many_tries ($n403 x 403 first)" \
  bash -c '[ "$1" = 1 ] && [ "$2" -ge 4 ] && [ "$2" -le 5 ] && jq -e ".error == \"too_many_tries\"" <<< "$3" >/dev/null' \
  _ "$got429" "$n403" "$API_BODY"
api POST /v1/registrations/verify "{\"number\":\"$N2\",\"code\":\"$code\",\"session\":\"$S2\"}"
echo "# right code after too many tries: $API_STATUS $API_BODY"
check "server_e2e: the right code is refused too once the tries are spent (429)" \
  test "$API_STATUS" = 429
m1=$(metric dataline_code_verifications_total 'result="too_many_tries"')
check "server_e2e: /metrics too_many_tries $m0 -> $m1" test "$m1" -gt "$m0"

m0=$(metric dataline_code_verifications_total 'result="no_pending"')
api POST /v1/registrations/verify '{"number":"+8613800138003","code":"123456","session":"00112233445566778899aabbccddeeff"}'
check "server_e2e: verify without a pending code: 404 no_pending_code" \
  bash -c '[ "$1" = 404 ] && jq -e ".error == \"no_pending_code\"" <<< "$2" >/dev/null' _ "$API_STATUS" "$API_BODY"
m1=$(metric dataline_code_verifications_total 'result="no_pending"')
check "server_e2e: /metrics no_pending $m0 -> $m1" test "$m1" -gt "$m0"

api POST /v1/registrations "{\"number\":\"$N1\"}"
api POST /v1/registrations "{\"number\":\"$N1\"}"
check "server_e2e: a second code within the resend interval: 429 rate_limited" \
  bash -c '[ "$1" = 429 ] && jq -e ".error == \"rate_limited\"" <<< "$2" >/dev/null' _ "$API_STATUS" "$API_BODY"
check "server_e2e: /metrics counts HTTP 202 and 429 on /v1/registrations" \
  bash -c '[ "$1" -ge 2 ] && [ "$2" -ge 1 ]' _ \
  "$(metric dataline_http_requests_total 'route="/v1/registrations"' 'status="202"')" \
  "$(metric dataline_http_requests_total 'route="/v1/registrations"' 'status="429"')"

# ---------------------------------------------------------------- expired code
if srv_start e2e-ttl 25010 --code-ttl 2; then
  N3=+8613800138004
  api POST /v1/registrations "{\"number\":\"$N3\"}"
  S3=$(jq -r .session <<< "$API_BODY")
  code=$(spool_code "$N3")
  sleep 3  # the code lives 2 s (--code-ttl 2): waiting out its expiry
  m0=$(metric dataline_code_verifications_total 'result="expired"')
  api POST /v1/registrations/verify "{\"number\":\"$N3\",\"code\":\"$code\",\"session\":\"$S3\"}"
  echo "# expired code: $API_STATUS $API_BODY"
  check "server_e2e: expired code 410 code_expired" \
    bash -c '[ "$1" = 410 ] && jq -e ".error == \"code_expired\"" <<< "$2" >/dev/null' _ "$API_STATUS" "$API_BODY"
  m1=$(metric dataline_code_verifications_total 'result="expired"')
  check "server_e2e: /metrics expired $m0 -> $m1" test "$m1" -gt "$m0"
  srv_kill TERM
  check "server_e2e: SIGTERM shuts down cleanly (exit 0)" test "$SRV_RC" -eq 0
else
  fail "server_e2e: second server (--code-ttl 2) starts"
fi
finish
