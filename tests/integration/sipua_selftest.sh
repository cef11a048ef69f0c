#!/usr/bin/env bash
# sipua_selftest: the test user agent tests/tools/sipua.py (the stand-in for
# a handset in the texting and presence tests) checks itself: its --selftest
# (RFC 7616 s.3.9.1 digest values for MD5 and SHA-256, STUN, CPIM, IMDN,
# PIDF netq parsing, and an in-process fake server over TCP and UDP that
# challenges, sends MESSAGE/NOTIFY and checks the answers) prints one
# "ok"/"not ok" line per check, prefixed here with "sipua: ". Then, when
# the server is built, the same tool against a live dataline-server on
# ports 27340-27343: OPTIONS, REGISTER (digest), CRLF keep-alive on
# TCP/TLS, unregister, over UDP, TCP and TLS.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/tools/server_env.sh"
trap srv_cleanup EXIT
UA=(python3 "$ROOT/tests/tools/sipua.py")

out=$("${UA[@]}" --selftest 2>&1); rc=$?
grep -E '^(ok|not ok) ' <<< "$out" | sed 's/^\(ok\|not ok\) /\1 sipua: /'
grep -Ev '^(ok|not ok) ' <<< "$out" | sed 's/^/# /'
last=$(tail -n 1 <<< "$out")
if [ $rc -eq 0 ] && [[ "$last" =~ ^[1-9][0-9]*\ passed,\ 0\ failed$ ]]; then
  ok "sipua --selftest: $last"
else
  fail "sipua --selftest - rc=$rc, last line: $last"
fi

if [ ! -x "$OUT/dataline-server" ]; then
  echo "# $OUT/dataline-server not built: live part skipped"
  finish
fi
command -v jq >/dev/null || { fail "sipua live - jq missing"; finish; }
srv_start sipua 27340 || { fail "sipua live - server did not start"; finish; }
NUM=+8613800139001
provision "$NUM" || { fail "sipua live - provisioning $NUM"; finish; }
printf '%s' "$CRED_JSON" > "$SRV_DIR/creds.json"

# ev FILE TYPE FILTER: the jq FILTER holds for the first event of TYPE
ev() { jq -se --arg t "$2" "[.[] | select(.event == \$t)][0] | $3" "$1" >/dev/null; }
for tp in udp tcp tls; do
  port=$SRV_SIP args=()
  [ $tp = tls ] && port=$SRV_TLS args=(--cafile "$SRV_VAR/tls/server.crt")
  log=$SRV_DIR/ua-$tp.jsonl
  timeout 60 "${UA[@]}" -t $tp --server 127.0.0.1:$port --creds "$SRV_DIR/creds.json" \
    -T 3 "${args[@]}" -c options -c 'register 120' -c ping -c unregister > "$log" 2>&1
  rc=$?
  check "sipua live $tp: OPTIONS 200" ev "$log" options '.status == 200'
  check "sipua live $tp: REGISTER 401 then 200 with SHA-256, our Contact" ev "$log" register \
    '.status == 200 and .challenges == [401] and .alg == "SHA-256" and .expires == 120'
  if [ $tp = udp ]; then
    # the server does not answer STUN yet: the tool says so and goes on
    check "sipua live udp: STUN keep-alive answered or reported missing" \
      jq -se 'any(.[]; .event == "keepalive" or .event == "keepalive_missed")' "$log" >/dev/null
  else
    check "sipua live $tp: CRLF keep-alive pong" ev "$log" keepalive '.kind == "crlf"'
  fi
  check "sipua live $tp: unregister 200, no contact left" ev "$log" unregister \
    '.status == 200 and .contacts == []'
  check "sipua live $tp: exit 0" test $rc -eq 0
  [ $rc -eq 0 ] || sed 's/^/#   /' "$log"
done
finish
