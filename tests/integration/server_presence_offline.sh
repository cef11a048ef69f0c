#!/usr/bin/env bash
# server_presence_offline: a watcher sees a device go offline (RFC 3856
# basic status; docs/presence.md "When a device goes offline") on
# loopback, ports 28000-28003: (1) REGISTER Expires: 0 -> NOTIFY without
# the device at once; (2) a binding expiring -> NOTIFY within the
# registrar's gc interval (10 s); (3) its flow found dead -> NOTIFY at
# once for a TCP connection closed or a killed client, within 2.5
# keep-alive intervals for a UDP device that stops answering pings. Its
# publication is dropped with it (a later refresh gets 412, the gauge
# falls). The client is tests/tools/presua.py, driven by
# helpers/presence_offline_check.py.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/tools/server_env.sh"
trap srv_cleanup EXIT

BASE=${PRES_OFFLINE_BASE:-28000} KA=2 GC=10
command -v jq >/dev/null || { fail "server_presence_offline - jq missing"; finish; }
if ! srv_start presence_offline $BASE --presence-min-expires 1 \
     --min-expires 1 --keepalive-interval $KA --code-resend-interval 0 --log-level debug; then
  fail "server_presence_offline - server did not start"; finish
fi
ok "server starts (--min-expires 1, --keepalive-interval $KA)"

A=+8613800280001 W=+8613800280002 C=+8613800280003 D=+8613800280004
E=+8613800280005
args=()
for n in $A $A $W $C $D $E; do
  provision $n || { fail "provision $n"; finish; }
  args+=("$n" "$CRED_USER" "$CRED_PASS")
done
ok "six devices provisioned"

python3 "$ROOT/tests/integration/helpers/presence_offline_check.py" \
  $SRV_SIP $KA $GC "${args[@]}" || T_FAILED=1

# every device went offline (the client exited: its connections closed)
for ((i = 0; i < 20; i++)); do
  p=$(metric dataline_presence_publications)
  [ "$p" -eq 0 ] && break
  sleep 0.1
done
check "metrics: no publication left once every device is offline ($p)" \
  test "$p" -eq 0
srv_kill TERM
check "server exits cleanly on SIGTERM" test "$SRV_RC" = 0
finish
