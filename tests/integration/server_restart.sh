#!/usr/bin/env bash
# server_restart: accounts, devices and bindings survive a kill -9 of
# dataline-server and a restart on the same var dir (SQLite, WAL). Kills
# right after the 200 (no grace period): what the server answered 200 to
# must be on disk. After the restart a REGISTER without Contact (RFC 3261
# 10.2.3) lists the same bindings, /metrics shows them, the credentials
# still authenticate. Ports 25300-25309.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/tools/server_env.sh"
trap srv_cleanup EXIT

if ! srv_start restart 25300; then
  fail "server_restart: server starts"; finish
fi
N=+8613800138101
provision "$N" || { fail "server_restart: number provisioned"; finish; }
U=$CRED_USER P=$CRED_PASS

out_udp=$(sipcli -t udp -s "127.0.0.1:$SRV_SIP" -n "$N" -u "$U" -p "$P" -e 3600 register 2>&1)
out_tls=$(sipcli -t tls -s "127.0.0.1:$SRV_TLS" -n "$N" -u "$U" -p "$P" -e 3600 register 2>&1)
check "server_restart: two bindings registered (UDP, TLS)" \
  bash -c 'grep -q "^register status=200" <<< "$1" && grep -q "^register status=200" <<< "$2"' _ "$out_udp" "$out_tls"
c_udp=$(grep -o '<sip:[^>]*transport=udp>' <<< "$out_udp" | head -n 1)
c_tls=$(grep -o '<sip:[^>]*transport=tls>' <<< "$out_tls" | head -n 1)
echo "# bindings: $c_udp $c_tls"
check "server_restart: gauges before: 2 registrations, 1 account, 1 device" \
  bash -c '[ "$1" -eq 2 ] && [ "$2" -eq 1 ] && [ "$3" -eq 1 ]' _ \
  "$(metric dataline_registrations)" "$(metric dataline_accounts)" "$(metric dataline_devices)"

old=$SRV_PID
srv_kill KILL
check "server_restart: kill -9 took the server down" bash -c '! kill -0 "$1" 2>/dev/null' _ "$old"
if ! srv_restart; then
  fail "server_restart: server restarts on the same var dir after kill -9"; finish
fi
ok "server_restart: server restarts on the same var dir after kill -9"

out=$(sipcli -t udp -s "127.0.0.1:$SRV_SIP" -n "$N" -u "$U" -p "$P" query 2>&1)
echo "$out" | sed 's/^/# /'
check "server_restart: credentials still authenticate after kill -9" \
  grep -q "^query status=200 challenge=401" <<< "$out"
check "server_restart: both bindings survived kill -9 (listed by a REGISTER without Contact)" \
  bash -c 'grep -qF "$2" <<< "$1" && grep -qF "$3" <<< "$1"' _ "$out" "$c_udp" "$c_tls"
check "server_restart: gauges after: 2 registrations, 1 account, 1 device" \
  bash -c '[ "$1" -eq 2 ] && [ "$2" -eq 1 ] && [ "$3" -eq 1 ]' _ \
  "$(metric dataline_registrations)" "$(metric dataline_accounts)" "$(metric dataline_devices)"

# A second account verified and registered, killed at once: the account,
# its device and its binding must all be there after the restart.
N2=+8613800138102
provision "$N2" || fail "server_restart: second number provisioned"
U2=$CRED_USER P2=$CRED_PASS
out=$(sipcli -t tcp -s "127.0.0.1:$SRV_SIP" -n "$N2" -u "$U2" -p "$P2" -e 3600 register 2>&1)
c_tcp=$(grep -o '<sip:[^>]*transport=tcp>' <<< "$out" | head -n 1)
srv_kill KILL
srv_restart || { fail "server_restart: second restart"; finish; }
out=$(sipcli -t tcp -s "127.0.0.1:$SRV_SIP" -n "$N2" -u "$U2" -p "$P2" query 2>&1)
check "server_restart: account verified then killed at once still authenticates" \
  grep -q "^query status=200 challenge=401" <<< "$out"
check "server_restart: its binding, registered just before kill -9, survived" \
  grep -qF "$c_tcp" <<< "$out"
check "server_restart: registrations gauge counts 3 after the second restart" \
  test "$(metric dataline_registrations)" -eq 3

out=$(sipcli -t udp -s "127.0.0.1:$SRV_SIP" -n "$N" -u "$U" -p "$P" unregister-all 2>&1)
check "server_restart: bindings can still be removed after restarts" \
  grep -q "^unregister-all status=200 .*contacts=0" <<< "$out"
srv_kill TERM
check "server_restart: SIGTERM shuts down cleanly (exit 0)" test "$SRV_RC" -eq 0
finish
