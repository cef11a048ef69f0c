#!/usr/bin/env bash
# netq smoke test (n1): attach dataline-netq to a veth in a namespace pair
# this test creates, send traffic, check the counters, a probe against the
# echo, `decide text` before and after the link goes down, then detach and
# check that no program or link of ours is left. The thorough checks
# (exactness, rates, RTT accuracy) are in the other netq_*.sh tests.
source "$(dirname "$0")/lib.sh"
need_root netq_smoke
NETQ=$OUT/dataline-netq
A=n1smoke-a B=n1smoke-b PIN=/sys/fs/bpf/dataline-test-n1smoke
PORT=20010
ECHO_PID=
cleanup() {
  [ -n "$ECHO_PID" ] && kill "$ECHO_PID" 2>/dev/null && wait "$ECHO_PID" 2>/dev/null
  [ -e "$PIN" ] && nsenter --net=/var/run/netns/$A "$NETQ" --pin-dir "$PIN" detach >/dev/null 2>&1
  rm -rf "$PIN"
  ip netns del $A 2>/dev/null; ip netns del $B 2>/dev/null
}
trap cleanup EXIT
cleanup
ip netns add $A && ip netns add $B || { fail "smoke: namespaces"; exit 1; }
ip -n $A link add n1s0 type veth peer name n1s1 netns $B
ip -n $A addr add 198.19.77.1/24 dev n1s0
ip -n $B addr add 198.19.77.2/24 dev n1s1
ip -n $A link set n1s0 up; ip -n $B link set n1s1 up
ip -n $A link set lo up; ip -n $B link set lo up
ip -n $A route add default via 198.19.77.2
ina() { nsenter --net=/var/run/netns/$A "$@"; }
nq() { ina "$NETQ" --pin-dir "$PIN" "$@"; }

out=$(nq attach); rc=$?   # no IFACE: the default route's interface
[ $rc -eq 0 ] && [[ "$out" == n1s0:* ]] && ok "smoke: attach (default route: n1s0)" ||
  fail "smoke: attach with no interface: exit $rc: $out"
before=$(bpftool prog show --json | jq -r '.[] | select(.name // "" | startswith("netq_")) | .id' | sort -n)
mid=$(bpftool map show pinned "$PIN/netq_ifaces" --json | jq -r .id)
ours=$(bpftool prog show --json | jq -r --argjson m "$mid" '.[] | select((.map_ids // []) | index($m)) | .id')
[ -n "$ours" ] && ok "smoke: programs loaded ($(echo $ours | wc -w))" || fail "smoke: no programs use our map"
out=$(nq attach n1s0)
[[ "$out" == *"already attached"* ]] && ok "smoke: second attach is idempotent" || fail "smoke: second attach said: $out"

ina ping -c 20 -i 0.05 -q 198.19.77.2 >/dev/null
j=$(nq show --json n1s0)
rxp=$(jq -r '.interfaces[0].rx_packets' <<<"$j"); txp=$(jq -r '.interfaces[0].tx_packets' <<<"$j")
[ "$rxp" -ge 20 ] && [ "$txp" -ge 20 ] && ok "smoke: counters after 20 pings (rx $rxp, tx $txp)" ||
  fail "smoke: counters rx $rxp tx $txp after 20 pings"
for f in ifname ifindex up rx_bps tx_bps rx_bytes tx_bytes rx_packets tx_packets srtt_us \
         min_rtt_us retrans loss_pct probe_rtt_us probe_kbps age_ms; do
  jq -e ".interfaces[0] | has(\"$f\")" <<<"$j" >/dev/null || { fail "smoke: json lacks $f"; break; }
done && ok "smoke: json has all fields"
# BTF on the pinned maps: bpftool prints named fields, and the figures in
# them are the ones the CLI reported (rx packets of the slot of n1s0).
dump=$(bpftool map dump pinned "$PIN/netq_ifaces" 2>&1)
bt_rxp=$(jq -r --argjson i "$(jq -r '.interfaces[0].ifindex' <<<"$j")" \
  '[.[] | .formatted.value // .value | select(.ifindex? == $i) | .rx.b][0]' <<<"$(bpftool -j map dump pinned "$PIN/netq_ifaces" 2>/dev/null)" 2>/dev/null)
[[ "$dump" == *'"ifname"'* && "$dump" == *'"srtt_us"'* && "$dump" == *'"marks"'* ]] &&
  [ -n "$bt_rxp" ] && [ "$bt_rxp" != null ] && [ "$bt_rxp" -ge "$rxp" ] &&
  ok "smoke: bpftool map dump shows named fields (rx.b $bt_rxp >= $rxp)" ||
  fail "smoke: bpftool map dump lacks named fields or figures: rx.b '$bt_rxp' (cli $rxp): $(head -c 300 <<<"$dump")"

ELOG=$(mktemp)
nsenter --net=/var/run/netns/$B "$NETQ" echo 198.19.77.2:$PORT 2>"$ELOG" &
ECHO_PID=$!
for i in $(seq 50); do grep -q listening "$ELOG" && break; sleep 0.1; done
rm -f "$ELOG"
p=$(nq probe 198.19.77.2:$PORT --json)
rtt=$(jq -r .rtt_us <<<"$p"); kbps=$(jq -r .kbps <<<"$p"); ts=$(jq -r .timestamps <<<"$p")
[ "$rtt" -gt 0 ] && [ "$kbps" -gt 0 ] && [ "$ts" = kernel ] &&
  ok "smoke: probe rtt $rtt us, $kbps kbit/s, $ts timestamps" || fail "smoke: probe said $p"
prtt=$(nq show --json n1s0 | jq -r '.interfaces[0].probe_rtt_us')
[ "$prtt" = "$rtt" ] && ok "smoke: probe result stored in the map" || fail "smoke: map has probe_rtt_us $prtt, probe said $rtt"
# Background probing is refused above the 1 MB/hour data budget (every 10 s
# is ~24 MB/hour), before anything is sent.
out=$(timeout 5 "$NETQ" --pin-dir "$PIN" probe 127.0.0.1:9 --every 10 2>&1); rc=$?
[ $rc -eq 2 ] && [[ "$out" == *"over the 1000000 budget"* ]] &&
  ok "smoke: probe --every 10 refused over the data budget (exit 2)" ||
  fail "smoke: probe --every 10 exit $rc: $out"

nq decide text >/dev/null; rc=$?
[ $rc -eq 0 ] && ok "smoke: decide text = data (exit 0)" || fail "smoke: decide text exit $rc"
nq decide voice >/dev/null; rc=$?
[ $rc -eq 0 ] && ok "smoke: decide voice = data after a probe (exit 0)" || fail "smoke: decide voice exit $rc"
ip -n $A link set n1s0 down
nq decide text --json > /tmp/n1smoke.$$ ; rc=$?
[ $rc -eq 3 ] && ok "smoke: link down -> decide text = fallback (exit 3, $(jq -r .reason /tmp/n1smoke.$$))" ||
  fail "smoke: link down: decide text exit $rc: $(cat /tmp/n1smoke.$$)"
rm -f /tmp/n1smoke.$$
ip -n $A link set n1s0 up

check "smoke: detach" nq detach
[ ! -e "$PIN" ] && ok "smoke: pins removed" || fail "smoke: $PIN still there"
live=" $(bpftool prog show --json | jq -r '.[].id' | tr '\n' ' ') "
left=0; for id in $ours; do [[ "$live" == *" $id "* ]] && left=$((left + 1)); done
[ $left -eq 0 ] && ok "smoke: no program of ours after detach" || fail "smoke: $left programs left"
nl=$(bpftool link show --json | jq --argjson s "$(echo $ours | jq -sc .)" '[.[] | select(.prog_id as $p | $s | index($p))] | length')
[ "$nl" -eq 0 ] && ok "smoke: no link of ours after detach" || fail "smoke: $nl links left"
nq detach >/dev/null 2>&1; rc=$?
[ $rc -eq 6 ] && ok "smoke: detach again says not attached (exit 6)" || fail "smoke: second detach exit $rc"
nq status >/dev/null 2>&1; rc=$?
[ $rc -eq 6 ] && ok "smoke: status when not attached exits 6" || fail "smoke: status exit $rc"
finish
