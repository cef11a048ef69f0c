#!/usr/bin/env bash
# server_sip_flood: UDP floods and reflection against dataline-server
# (tests/tools/sipflood.py; the attacker sends from 127.0.0.2/127.0.0.3 as
# if spoofed). What a stranger sends leaves no state, the transaction and
# nonce-count tables stay within their budgets, and a normal client
# registers during and after each flood (docs/protocol.md, "Limits against
# floods and reflection").
#   3000 REGISTERs, each with a broken Authorization and a 60 KB Via:
#   (a) just that        (b) Require: foo
#   (c) tel: Request-URI (d) RFC 2543 branch (no z9hG4bK)
#     -> answered statelessly: VmRSS grows by < 32 MiB, no transaction kept
#   (e) real credentials, one nonce, nc=1..5000, 20 KB Via (server with
#       --sip-tx-max-kb 8192): RSS < 32 MiB over, the table within budget
#   a nonce used from another address: 401 stale=true, no bindings listed
#   every answer an unproven address can provoke: out/in <= 3.0
#   a used nonce upper-cased: refused; 3000 fresh nonces (--nonce-nc-max
#   1024): RSS flat, the client still registers.
# Ports 25650-25653.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/tools/server_env.sh"
trap srv_cleanup EXIT
FLOOD="python3 $ROOT/tests/tools/sipflood.py"
RSS_MAX_GROWTH=$((32768 + ASAN_SLACK_KB))  # KiB

if ! srv_start sipflood 25650 --digest-algorithms SHA-256,MD5; then
  fail "server_sip_flood: server starts"; finish
fi
N=+8613800138651
provision "$N" || fail "server_sip_flood: number provisioned"
U=$CRED_USER P=$CRED_PASS

# a normal client over UDP from 127.0.0.1; each run may leave up to two
# server transactions (its REGISTER and its unregister), none else may
CLIENT_TX=0
client_ok() {
  local out
  out=$(sipcli -t udp -s "127.0.0.1:$SRV_SIP" -n "$N" -u "$U" -p "$P" -T 4000 register unregister 2>&1)
  CLIENT_TX=$((CLIENT_TX + 2))
  check "server_sip_flood: $1: a normal client registers over UDP" \
    grep -q "^register status=200" <<< "$out"
}
client_ok "before the floods"
# one binding stays, for the 200 a spoofed query would reflect
sipcli -t udp -s "127.0.0.1:$SRV_SIP" -n "$N" -u "$U" -p "$P" -T 4000 register >/dev/null 2>&1
CLIENT_TX=$((CLIENT_TX + 1))
RSS0=$(rss_kb "$SRV_PID")

rss_bounded() {
  local rss
  rss=$(rss_kb "$SRV_PID")
  echo "# $1: VmRSS $RSS0 -> ${rss:-gone} KiB"
  check "server_sip_flood: $1: VmRSS grew by < $((RSS_MAX_GROWTH / 1024)) MiB ($RSS0 -> ${rss:-gone} KiB)" \
    test -n "$rss" -a $((${rss:-0} - RSS0)) -lt "$RSS_MAX_GROWTH"
}

# ------------------------------------------------- strangers: stateless
for kind in badauth require tel rfc2543; do
  $FLOOD flood "$SRV_SIP" "$kind" 3000 > "$SRV_DIR/flood.out" 2>&1 &
  fpid=$!
  sleep 0.5
  client_ok "DURING flood $kind"
  wait "$fpid"
  echo "# flood $kind: $(cat "$SRV_DIR/flood.out")"
  rss_bounded "flood $kind"
  check "server_sip_flood: flood $kind: no server transaction kept for a stranger" \
    test "$(metric dataline_sip_transactions)" -le "$CLIENT_TX"
done
client_ok "after the floods"

# ------------------------------------------------- reflection
out=$($FLOOD spoof "$SRV_SIP" "$N" "$U" "$P"); echo "# spoof: $out"
check "server_sip_flood: a nonce used from another address: 401 stale=true, no bindings" \
  grep -q "^status=401 stale=yes contacts=0" <<< "$out"

out=$($FLOOD amp "$SRV_SIP" "$N" "$U" "$P"); echo "$out" | sed 's/^/# amp: /'
check "server_sip_flood: every answer to an unproven address is <= 3.0x its request" \
  awk '{ split($NF, r, "="); if (r[2] + 0 > 3.0) bad = 1 } END { exit bad }' <<< "$out"
check "server_sip_flood: the unproven REGISTER still gets its 401, both challenges" \
  bash -c 'grep -q "^kind=register-401 status=401 chal=2" <<< "$1"' _ "$out"
check "server_sip_flood: a tiny REGISTER gets a 401 with the preferred challenge only (counted)" \
  bash -c 'grep -q "^kind=register-tiny status=401 chal=1" <<< "$1" && [ "$2" -gt 0 ]' _ "$out" \
  "$(metric dataline_sip_challenges_trimmed_total)"

out=$($FLOOD upper "$SRV_SIP" "$N" "$U" "$P"); echo "# upper: $out"
check "server_sip_flood: a used nonce upper-cased is refused" \
  grep -q "^first=200 upper=401" <<< "$out"

# ------------------------------------------------- credentials, small budgets
srv_kill
if ! srv_restart --sip-tx-max-kb 8192 --nonce-nc-max 1024; then
  fail "server_sip_flood: server restarts with small budgets"; finish
fi
CLIENT_TX=0
client_ok "small budgets"
RSS0=$(rss_kb "$SRV_PID")
out=$($FLOOD creds "$SRV_SIP" "$N" "$U" "$P" 5000); echo "# creds: $out"
rss_bounded "one nonce, nc=1..5000, 20 KB Via"
check "server_sip_flood: nc=1..5000: authenticated and answered" \
  bash -c '[ "$(sed -n "s/^ok=\([0-9]*\).*/\1/p" <<< "$1")" -gt 1000 ]' _ "$out"
ev=$(metric dataline_sip_transaction_evictions_total)
rf=$(metric dataline_sip_transactions_refused_total)
echo "# transactions=$(metric dataline_sip_transactions) evictions=$ev refused=$rf"
check "server_sip_flood: the table stayed in budget (evictions counted)" \
  test "$((ev + rf))" -gt 0
client_ok "after the nc flood"

out=$($FLOOD nonces "$SRV_SIP" "$N" "$U" "$P" 3000); echo "# nonces: $out"
rss_bounded "3000 fresh nonces"
client_ok "after the nonce flood"
finish
