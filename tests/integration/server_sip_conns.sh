#!/usr/bin/env bash
# server_sip_conns: a stranger cannot hold SIP's TCP/TLS connections
# (docs/security.md): at most --max-tcp-conns-per-client connections per
# client (IPv4 address, IPv6 /64) over all workers, and a connection that
# never carries a digest-authenticated request is closed --tcp-unauth-timeout
# after accept however busy it keeps itself; an authenticated one stays.
# The attacker is 127.0.0.2, the device 127.0.0.1. Ports 25750-25753.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/tools/server_env.sh"
trap srv_cleanup EXIT

if ! srv_start sipconns 25750 --max-tcp-conns-per-client 5 --tcp-unauth-timeout 3; then
  fail "server_sip_conns: server starts"; finish
fi
N=+8613800138751
provision "$N" || fail "server_sip_conns: number provisioned"
U=$CRED_USER P=$CRED_PASS

# 20 silent connections from 127.0.0.2: how many the server closes at once,
# then how long the rest live.
python3 - "$SRV_SIP" > "$SRV_DIR/hold.out" <<'PY' &
import select, socket, sys, time
port = int(sys.argv[1])
socks = []
for i in range(20):
    s = socket.socket()
    s.bind(("127.0.0.2", 0))
    s.connect(("127.0.0.1", port))
    socks.append(s)
def closed(s, t):
    r, _, _ = select.select([s], [], [], t)
    if not r:
        return False
    try:
        return s.recv(4096) == b""
    except OSError:
        return True
t0 = time.monotonic()
time.sleep(1)
gone = [s for s in socks if closed(s, 0)]
held = [s for s in socks if s not in gone]
print("open=%d closed=%d" % (len(held), len(gone)), flush=True)
while held and time.monotonic() - t0 < 10:
    held = [s for s in held if not closed(s, 0.1)]
print("held_after=%d at=%.1f" % (len(held), time.monotonic() - t0), flush=True)
PY
HOLD=$!
sleep 1.5
out=$(sipcli -t tcp -s "127.0.0.1:$SRV_SIP" -n "$N" -u "$U" -p "$P" -T 4000 register 2>&1)
check "server_sip_conns: while 127.0.0.2 holds its 5, a device on 127.0.0.1 registers over TCP" \
  grep -q "^register status=200" <<< "$out"
wait "$HOLD"
cat "$SRV_DIR/hold.out" | sed 's/^/# /'
check "server_sip_conns: 5 of 20 connections from one client kept, 15 closed at once" \
  grep -q "^open=5 closed=15" "$SRV_DIR/hold.out"
check "server_sip_conns: the silent unauthenticated connections closed at --tcp-unauth-timeout" \
  grep -q "^held_after=0 " "$SRV_DIR/hold.out"
r=$(metric dataline_tcp_connections_refused_client_total)
check "server_sip_conns: /metrics counts the refused connections ($r)" test "$r" -ge 15

# Busy but never authenticated: OPTIONS every second does not keep it open.
out=$(sipcli -t tcp -s "127.0.0.1:$SRV_SIP" -n "$N" -T 2000 options pause pause pause pause options 2>&1)
echo "$out" | sed 's/^/# /'
check "server_sip_conns: an unauthenticated connection sending OPTIONS is closed after 3 s" \
  test "$(grep -c '^options status=200' <<< "$out")" = 1
# Authenticated: it stays past the unauthenticated lifetime.
out=$(sipcli -t tcp -s "127.0.0.1:$SRV_SIP" -n "$N" -u "$U" -p "$P" -T 2000 register pause pause pause pause options unregister 2>&1)
echo "$out" | sed 's/^/# /'
check "server_sip_conns: an authenticated connection stays open past --tcp-unauth-timeout" \
  bash -c 'grep -q "^options status=200" <<< "$1" && grep -q "^unregister status=200" <<< "$1"' _ "$out"
c=$(metric dataline_tcp_unauthenticated_closed_total)
check "server_sip_conns: /metrics counts the unauthenticated closes ($c)" test "$c" -ge 6
finish
