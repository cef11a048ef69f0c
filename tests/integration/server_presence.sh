#!/usr/bin/env bash
# server_presence: presence end to end on loopback (ports 27400-27405, or
# PRES_BASE..PRES_BASE+5):
# PUBLISH (RFC 3903) of netq figures in PIDF, SUBSCRIBE/NOTIFY (RFC
# 6665/3856) of a number's aggregate, their errors (407, 489, 400, 403,
# 412, 413, 415, 481), expiry of a publication, PUBLISH by a device that
# is not registered (403), two devices of one number, fetch, unsubscribe,
# a NOTIFY answered 481, publications dropped when the devices' flows
# close (server_presence_offline.sh has the rest of going offline); and
# the netq probe reflector
# (authenticated sources only, same-size echoes, rate limit). The client
# is tests/tools/presua.py, driven by helpers/presence_check.py.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/tools/server_env.sh"
trap srv_cleanup EXIT

BASE=${PRES_BASE:-27400}; PROBE=$((BASE + 5))
command -v jq >/dev/null || { fail "server_presence - jq missing"; finish; }
if ! srv_start presence $BASE --presence-min-expires 1 \
     --code-resend-interval 0 --probe-udp 127.0.0.1:$PROBE; then
  fail "server_presence - server did not start"; finish
fi
ok "server starts with --probe-udp"

A=+8613800274001 B=+8613800274002
provision $A && A1U=$CRED_USER A1P=$CRED_PASS || fail "provision A1"
provision $A && A2U=$CRED_USER A2P=$CRED_PASS || fail "provision A2"
provision $B && BU=$CRED_USER BP=$CRED_PASS || fail "provision B"
[ "$T_FAILED" = 0 ] || finish

python3 "$ROOT/tests/integration/helpers/presence_check.py" $BASE $PROBE \
  "$A" "$A1U" "$A1P" "$A2U" "$A2P" "$B" "$BU" "$BP" || T_FAILED=1

n=$(metric dataline_presence_notifies_total)
check "metrics: dataline_presence_notifies_total counts NOTIFYs ($n)" test "$n" -ge 8
# the client exited: its connections closed, so its devices went offline
# and their publications with them (docs/presence.md)
for ((i = 0; i < 20; i++)); do
  p=$(metric dataline_presence_publications)
  [ "$p" -eq 0 ] && break
  sleep 0.1
done
check "metrics: dataline_presence_publications gauge back to 0 once the devices' flows closed ($p)" test "$p" -eq 0
s=$(metric dataline_presence_subscriptions)
check "metrics: dataline_presence_subscriptions gauge back to 0 ($s)" test "$s" -eq 0
srv_kill TERM
check "server exits cleanly on SIGTERM" test "$SRV_RC" = 0
finish
