#!/usr/bin/env bash
# server_tls_storm: 200 SIP-over-TLS clients (RFC 3261 s.26, RFC 5630)
# handshaking with dataline-server at the same moment, 5 rounds
# (tests/tools/tlsload storm: one process, non-blocking, all 200 connects
# issued at once, each client then sends OPTIONS and needs its 200).
# Afterwards the server still answers OPTIONS and REGISTER over UDP, TCP
# and TLS and /healthz, has closed the connections (its open files are
# back near the baseline) and its memory stayed bounded. (Kamailio 5.6.3
# crashes under this load here: see tests/bench/server_tls_memory.sh.)
# Ports 25200-25209.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/tools/server_env.sh"
trap srv_cleanup EXIT

if ! srv_start storm 25200; then
  fail "server_tls_storm: server starts"; finish
fi
N=+8613800138201
provision "$N" || fail "server_tls_storm: number provisioned"
U=$CRED_USER P=$CRED_PASS
nfd() { ls "/proc/$SRV_PID/fd" 2>/dev/null | wc -l; }
fd0=$(nfd) rss0=$(rss_kb "$SRV_PID")
opt0=$(metric dataline_sip_requests_total 'method="OPTIONS"' 'status="200"')

out=$("$OUT/tools/tlsload" storm -s "127.0.0.1:$SRV_TLS" -n 200 -r 5 -T 60 2>&1)
echo "$out" | sed 's/^/# /'
for r in 1 2 3 4 5; do
  check "server_tls_storm: round $r: 200 concurrent handshakes + OPTIONS all answered" \
    grep -q "^round $r ok=200 failed=0" <<< "$out"
done
check "server_tls_storm: server still running" kill -0 "$SRV_PID"
opt1=$(metric dataline_sip_requests_total 'method="OPTIONS"' 'status="200"')
check "server_tls_storm: /metrics counts the 1000 OPTIONS ($opt0 -> $opt1)" \
  test "$opt1" -ge $((opt0 + 1000))

check "server_tls_storm: /healthz 200 after the storm" \
  test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SRV_HTTP/healthz")" = 200
for tp in udp tcp tls; do
  port=$SRV_SIP; [ $tp = tls ] && port=$SRV_TLS
  out=$(sipcli -t $tp -s "127.0.0.1:$port" -n "$N" -u "$U" -p "$P" options register unregister 2>&1)
  check "server_tls_storm: after the storm, OPTIONS and REGISTER over ${tp^^} succeed" \
    bash -c 'grep -q "^options status=200" <<< "$1" && grep -q "^register status=200" <<< "$1" &&
             grep -q "^unregister status=200" <<< "$1"' _ "$out"
done

# The connections are gone from the server (closed by the clients).
for ((i = 0; i < 100; i++)); do
  [ "$(nfd)" -le $((fd0 + 10)) ] && break
  sleep 0.1
done
check "server_tls_storm: server closed the 1000 connections (open files $fd0 -> $(nfd))" \
  test "$(nfd)" -le $((fd0 + 10))
check "server_tls_storm: /metrics connections gauge for TLS back to 0" \
  test "$(metric dataline_connections 'transport="tls"')" -eq 0
rss1=$(rss_kb "$SRV_PID")
echo "# VmRSS before $rss0 KiB, after $rss1 KiB"
check "server_tls_storm: memory bounded after the storm (RSS grew < 64 MiB + ASan slack $ASAN_SLACK_KB KiB)" \
  test $((rss1 - rss0)) -lt $((65536 + ASAN_SLACK_KB))

# A second storm of the same size still goes through (nothing leaked shut).
out=$("$OUT/tools/tlsload" storm -s "127.0.0.1:$SRV_TLS" -n 200 -r 1 -T 60 2>&1)
check "server_tls_storm: a later storm is served as well" grep -q "^round 1 ok=200 failed=0" <<< "$out"
finish
