#!/usr/bin/env bash
# server_badinput: hostile input against dataline-server; each attack gets
# a clear error (or a drop where RFC 3261 allows it), memory stays bounded
# (VmRSS), and the server keeps serving everyone else meanwhile.
#   SIP (tests/tools/badinput.py, server with --max-msg-size 8192,
#   --msg-timeout 3, --tcp-idle-timeout 5):
#     UDP datagram over the limit          513 Message Too Large or dropped
#     TCP Content-Length: 100000000         513 and/or connection closed
#     TCP headers that never end            connection closed
#     TCP message cut in half               closed at the message deadline
#     slowloris: 100 connections, 1 byte/s  all closed at the deadline; a
#                                           normal REGISTER succeeds DURING it
#     binary junk over UDP and TCP          ignored, server fine
#   HTTP API: malformed JSON 400 invalid_json, bad number 400
#   invalid_number, unknown route 404 not_found, wrong method 405, a 1 MiB
#   body 413.
# Ports 25400-25409.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/tools/server_env.sh"
SLOW_PID=
cleanup() { [ -n "$SLOW_PID" ] && kill "$SLOW_PID" 2>/dev/null; srv_cleanup; }
trap cleanup EXIT
BAD="python3 $ROOT/tests/tools/badinput.py"

if ! srv_start badinput 25400 --max-msg-size 8192 --msg-timeout 3 --tcp-idle-timeout 5; then
  fail "server_badinput: server starts"; finish
fi
N=+8613800138301
provision "$N" || fail "server_badinput: number provisioned"
U=$CRED_USER P=$CRED_PASS
RSS0=$(rss_kb "$SRV_PID")
RSS_MAX_GROWTH=$((65536 + ASAN_SLACK_KB))  # KiB: generous

# still_serving WHAT: the server is alive, answers OPTIONS over UDP,
# REGISTER over TCP, /healthz, and its RSS stayed bounded.
still_serving() {
  local out rss
  out=$(sipcli -t udp -s "127.0.0.1:$SRV_SIP" -n "$N" -T 4000 options 2>&1)
  out+=$'\n'$(sipcli -t tcp -s "127.0.0.1:$SRV_SIP" -n "$N" -u "$U" -p "$P" -T 4000 register unregister 2>&1)
  check "server_badinput: after $1: still serving (OPTIONS/UDP, REGISTER/TCP, /healthz)" \
    bash -c 'grep -q "^options status=200" <<< "$1" && grep -q "^register status=200" <<< "$1" &&
             [ "$(curl -s -o /dev/null -w "%{http_code}" "http://127.0.0.1:$2/healthz")" = 200 ]' \
    _ "$out" "$SRV_HTTP"
  rss=$(rss_kb "$SRV_PID")
  check "server_badinput: after $1: memory bounded (VmRSS $RSS0 -> ${rss:-gone} KiB)" \
    test -n "$rss" -a $((${rss:-0} - RSS0)) -lt "$RSS_MAX_GROWTH"
}

# ---------------------------------------------------------------- SIP
o0=$(metric dataline_sip_oversize_messages_total)
out=$($BAD udp-oversize "$SRV_SIP" 20000); echo "# udp-oversize: $out"
check "server_badinput: UDP datagram over --max-msg-size: 513 or dropped" \
  grep -Eq "^status=(513|none)" <<< "$out"
still_serving "oversize UDP datagram"

out=$($BAD tcp-huge-cl "$SRV_SIP"); echo "# tcp-huge-cl: $out"
check "server_badinput: TCP Content-Length 100000000: 513 and/or connection closed" \
  grep -Eq "^status=513|closed=yes" <<< "$out"
check "server_badinput: TCP huge Content-Length: connection closed" grep -q "closed=yes" <<< "$out"
o1=$(metric dataline_sip_oversize_messages_total)
check "server_badinput: /metrics counts oversize messages ($o0 -> $o1)" test "$o1" -gt "$o0"
still_serving "huge Content-Length"

out=$($BAD tcp-long-headers "$SRV_SIP" 200000); echo "# tcp-long-headers: $out"
check "server_badinput: TCP headers that never end: connection closed" grep -q "closed=yes" <<< "$out"
still_serving "endless headers"

out=$($BAD tcp-truncated "$SRV_SIP" 30); echo "# tcp-truncated: $out"
check "server_badinput: TCP message cut in half: closed by the server's deadline" \
  grep -q "^closed=yes" <<< "$out"
still_serving "truncated message"

$BAD slowloris "$SRV_SIP" 100 10 > "$SRV_DIR/slowloris.out" 2>&1 &
SLOW_PID=$!
sleep 2  # the attack is under way: 100 connections dribbling bytes
out=$(sipcli -t tcp -s "127.0.0.1:$SRV_SIP" -n "$N" -u "$U" -p "$P" -T 4000 register unregister 2>&1)
out+=$'\n'$(sipcli -t tls -s "127.0.0.1:$SRV_TLS" -n "$N" -T 4000 options 2>&1)
check "server_badinput: DURING the slowloris attack a REGISTER over TCP and OPTIONS over TLS succeed" \
  bash -c 'grep -q "^register status=200" <<< "$1" && grep -q "^options status=200" <<< "$1"' _ "$out"
wait "$SLOW_PID"; SLOW_PID=
out=$(cat "$SRV_DIR/slowloris.out"); echo "# slowloris: $out"
check "server_badinput: slowloris: the server closed all 100 dribbling connections" \
  grep -q "^open=0 closed=100" <<< "$out"
still_serving "slowloris"

out=$($BAD garbage "$SRV_SIP"); echo "# garbage: $out"
check "server_badinput: binary junk over UDP and TCP: server alive" kill -0 "$SRV_PID"
still_serving "binary junk"

# ---------------------------------------------------------------- HTTP
api POST /v1/registrations '{"number": "+861380013'
check "server_badinput: malformed JSON: 400 invalid_json" \
  bash -c '[ "$1" = 400 ] && jq -e ".error == \"invalid_json\" and (.message | length > 0)" <<< "$2" >/dev/null' _ "$API_STATUS" "$API_BODY"
api POST /v1/registrations '[1,2,3]'
check "server_badinput: JSON that is not an object: 400" test "$API_STATUS" = 400
api POST /v1/registrations '{"number":"12345"}'
check "server_badinput: not an E.164 number: 400 invalid_number" \
  bash -c '[ "$1" = 400 ] && jq -e ".error == \"invalid_number\"" <<< "$2" >/dev/null' _ "$API_STATUS" "$API_BODY"
api GET /v1/nothing-here
check "server_badinput: unknown route: 404 not_found" \
  bash -c '[ "$1" = 404 ] && jq -e ".error == \"not_found\"" <<< "$2" >/dev/null' _ "$API_STATUS" "$API_BODY"
api GET /v1/registrations
check "server_badinput: wrong method: 405" test "$API_STATUS" = 405
big=$(mktemp); head -c 1048576 /dev/zero | tr '\0' 'a' | sed 's/^/{"number":"/; s/$/"}/' > "$big"
API_STATUS=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
  --data-binary "@$big" "http://127.0.0.1:$SRV_HTTP/v1/registrations")
rm -f "$big"
check "server_badinput: 1 MiB request body: 413" test "$API_STATUS" = 413
still_serving "bad HTTP requests"
finish
