#!/usr/bin/env bash
# handset_presence: the handset keeps its network figures fresh and
# published (issue 8, steps C2/C3). Two namespaces (scripts/netns.sh): the
# handset (a, netq attached to a0 with the test's own pin dir) and the
# server (b: dataline-server on its veth address, ports 28400-28403, the
# probe reflector on the SIP port + 10 = 28410, where the daemon looks by
# default). `dataline daemon` registers over UDP, probes every 4 s with an
# explicit budget of 270,000 bytes an hour (4 probes: --probe-over-budget
# lets the budget space them) and PUBLISHes; a watcher (presua.py,
# helpers/hpres_watch.py) SUBSCRIBEs and sees a probed rate on the unshaped
# link, then a rate under 1,500 kbit/s once a0 is shaped to 1 Mbit/s, then
# the figures gone when the daemon stops (once it has deferred a probe
# over the budget). The probe bytes are counted
# independently by nftables counters in the handset's namespace (both
# directions, L3 + 14 bytes of Ethernet a packet) and must stay within the
# budget; the daemon must have deferred the probes over it. An interval
# over the default budget is refused without --probe-over-budget.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/helpers/netq.sh"
need_root handset_presence
DL=$OUT/dataline SRV=$OUT/dataline-server
SIP=28400 TLS=28401 HTTP=28402 HTTPS=28403 PROBE=28410
BUDGET=270000 HIGH=5000 LOW=1500
A_NUM=+8613800284001 W_NUM=+8613800284002
for b in "$DL" "$SRV" "$NETQ"; do
  [ -x "$b" ] || { fail "handset_presence - $b not built"; finish; }
done
command -v nft >/dev/null || { fail "handset_presence - nft missing"; finish; }

nq_setup hpres
tmp=$(mktemp -d /tmp/handset_presence.XXXXXX)
DAEMON_PID=
cleanup() {
  [ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null
  nq_cleanup
  mkdir -p "$OUT/test-logs"
  cp "$tmp/server.log" "$OUT/test-logs/handset_presence-server.log" 2>/dev/null
  cp "$tmp/daemon.log" "$OUT/test-logs/handset_presence-daemon.log" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

nq "$A_NS" attach a0 >/dev/null || { fail "handset_presence - netq attach a0"; finish; }
nq_bg "$B_NS" "$SRV" --var-dir "$tmp/var" --workers 1 --log-level debug \
  --sip-udp "$B_IP:$SIP" --sip-tcp "$B_IP:$SIP" --sip-tls "$B_IP:$TLS" \
  --http "127.0.0.1:$HTTP" --https "127.0.0.1:$HTTPS" --probe-udp "$B_IP:$PROBE" \
  --code-resend-interval 0 >>"$tmp/server.log" 2>&1
up() { nx "$B_NS" curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP/healthz" | grep -q 200; }
for ((i = 0; i < 100; i++)); do up && break; sleep 0.1; done
check "server up in the server namespace with the reflector on $B_IP:$PROBE" up
wait_udp "$B_NS" "$PROBE" || fail "reflector not listening on $PROBE"

code_for() { # the newest code sent to NUMBER
  awk -F'\t' -v n="$1" '$2 == n {t = $3} END {print t}' "$tmp/var/sms.spool" | grep -o '[0-9]\{6\}$'
}
# the handset's account, through the handset command (in b: plain HTTP is
# for loopback only)
ST=$tmp/state
nx "$B_NS" "$DL" --state-dir "$ST" --no-modem register "$A_NUM" \
  --server "http://127.0.0.1:$HTTP" >/dev/null 2>&1 || fail "dataline register"
nx "$B_NS" "$DL" --state-dir "$ST" --no-modem verify "$(code_for "$A_NUM")" \
  >/dev/null 2>&1 || fail "dataline verify"
check "account provisioned (SIP URIs on $B_IP)" grep -q "sip:$B_IP:$SIP" "$ST/state.json"
# the watcher's credentials, through the API
j=$(nx "$B_NS" curl -s -X POST -d "{\"number\":\"$W_NUM\"}" "http://127.0.0.1:$HTTP/v1/registrations")
sess=$(jq -r .session <<<"$j")
j=$(nx "$B_NS" curl -s -X POST -d "{\"number\":\"$W_NUM\",\"code\":\"$(code_for "$W_NUM")\",\"session\":\"$sess\"}" \
    "http://127.0.0.1:$HTTP/v1/registrations/verify")
W_USER=$(jq -r .username <<<"$j") W_PASS=$(jq -r .password <<<"$j")
[ -n "$W_USER" ] && [ "$W_USER" != null ] || fail "watcher provisioned: $j"
[ "$T_FAILED" = 0 ] || finish

# an interval over the default budget is refused (16 s: 225 probes/hour)
out=$(nx "$A_NS" "$DL" --state-dir "$ST" daemon --transport udp --probe-interval 16 2>&1); rc=$?
check "an interval over the budget is refused (exit $rc)" \
  test $rc -ne 0 -a -n "$(grep 'costs more than the budget' <<<"$out")"

# independent count of the probe bytes in the handset's namespace
nx "$A_NS" nft -f - <<NFT || fail "nft counters"
table inet hpres {
  chain out { type filter hook output priority 0; udp dport $PROBE counter; }
  chain in { type filter hook input priority 0; udp sport $PROBE counter; }
}
NFT
nft_bytes() { # L2 bytes both ways: L3 bytes + 14 a packet
  nx "$A_NS" nft -j list table inet hpres |
    jq '[.nftables[] | .rule? // empty | .expr[] | .counter? // empty | .bytes + 14 * .packets] | add'
}

nq_bg "$A_NS" "$DL" --state-dir "$ST" --log-file "$tmp/daemon.log" -v daemon \
  --transport udp --probe-interval 4 --probe-budget $BUDGET --probe-over-budget \
  --netq-pin-dir "$PIN"
DAEMON_PID=${NQ_BG[-1]}
# `dataline status` shows what the daemon publishes (GetStatus on D-Bus)
for ((i = 0; i < 200; i++)); do
  grep -qs "PUBLISH (initial) answered 200" "$tmp/daemon.log" && break; sleep 0.1
done
st_out=$(nx "$A_NS" "$DL" --state-dir "$ST" status 2>&1)
echo "$st_out" | grep -E "^(data|figures|probing):" | sed 's/^/# /'
check "dataline status shows the published figures" \
  grep -Eq "^figures: +link up, rate [0-9]+ kbit/s \(probed\).*, published" <<<"$st_out"
check "dataline status shows the probe bytes against the budget" \
  grep -Eq "^probing: +[0-9]+ of $BUDGET bytes" <<<"$st_out"

nx "$B_NS" python3 "$ROOT/tests/integration/helpers/hpres_watch.py" "$B_IP" $SIP "$W_NUM" \
  "$W_USER" "$W_PASS" "$A_NUM" $HIGH $LOW \
  --shape "$NETNS shape $A_NS a0 1mbit" \
  --stop "bash -c 'for ((i = 0; i < 600; i++)); do grep -q \"probe deferred\" $tmp/daemon.log && break; sleep 0.1; done; kill -TERM $DAEMON_PID'" ||
  T_FAILED=1
wait "$DAEMON_PID" 2>/dev/null; rc=$?
DAEMON_PID=
check "daemon exits cleanly on SIGTERM (exit $rc)" test "$rc" = 0

L=$tmp/daemon.log
check "daemon probes the reflector derived from the SIP URI ($B_IP:$PROBE)" \
  grep -q "hpres: probing $B_IP:$PROBE" "$L"
check "daemon reads its figures from netq" grep -q "hpres: reading the figures from netq" "$L"
check "daemon deferred probes over the budget" grep -q "hpres: probe deferred" "$L"
check "daemon removed its publication on stop (Expires: 0 answered 200)" \
  grep -q "PUBLISH (remove) answered 200" "$L"
n=$(grep -c "hpres: probe to" "$L")
spent=$(nft_bytes)
echo "# $n probes; nft counted $spent bytes (budget $BUDGET);" \
  "daemon's last count: $(grep -o '[0-9]* of [0-9]* this hour' "$L" | tail -n 1)"
check "probe bytes counted by nft ($spent) within the budget ($BUDGET)" test "${spent:-0}" -le $BUDGET
check "nft saw at least two probes' worth ($spent > 100000)" test "${spent:-0}" -gt 100000
finish
