#!/usr/bin/env bash
# netq counters equal the kernel's own interface statistics (ip -s link,
# stats64 over netlink) for the same traffic, byte for byte and packet for
# packet, in both directions: UDP both ways (plain skbs) and a TCP bulk
# transfer (GSO/GRO skbs: both sides count skbs). Kernel figures are
# deltas from just before attach; IPv6 is off, so nothing else flows.
# The impair program at 0% loss on a0's egress is a second, independent tc
# counter, which shows that the reference is right when netq is not.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/helpers/netq.sh"
need_root netq_counters
nq_setup n2cnt

sleep 0.2
read -r k0rxb k0rxp k0txb k0txp <<<"$(k_stats "$A_NS" a0)"
if nq "$A_NS" attach a0 >/dev/null; then ok "counters: attach a0"; else fail "counters: attach a0"; exit 1; fi
# A second, independent tc counter on a0's egress: the impair program at
# 0% loss counts every skb it sees (clsact, after netq's tcx program).
"$NETNS" impair "$A_NS" a0 0

nq_bg "$B_NS" "$TGEN" udp-sink "$B_IP:21000" --seconds 20 --idle-ms 1500 >/dev/null
nq_bg "$A_NS" "$TGEN" udp-sink "$A_IP:21001" --seconds 20 --idle-ms 1500 >/dev/null
nq_bg "$B_NS" "$TGEN" tcp-sink "$B_IP:21002" --seconds 20 >/dev/null
sleep 0.3
nx "$A_NS" "$TGEN" udp-send "$B_IP:21000" --count 3000 --size 1000 --kbps 20000 >/dev/null
nx "$B_NS" "$TGEN" udp-send "$A_IP:21001" --count 2000 --size 200 --kbps 5000 >/dev/null
nx "$A_NS" "$TGEN" tcp-send "$B_IP:21002" --seconds 1 --size 65536 >/dev/null
nx "$A_NS" ping -q -c 5 -i 0.05 "$B_IP" >/dev/null
sleep 1

read -r k1rxb k1rxp k1txb k1txp <<<"$(k_stats "$A_NS" a0)"
j=$(nq_json "$A_NS" a0)
read -r _ seen _ _ <<<"$("$OUT/tools/impair" --netns "$A_NS" --stats a0)"
# The reference itself: what a tc program sees on a0's egress is what the
# kernel counts (if this fails, the method is wrong, not netq).
[ "$seen" = $((k1txp - k0txp)) ] && ok "counters: an independent tc counter sees the kernel's tx ($seen)" ||
  fail "counters: an independent tc counter saw $seen skbs, kernel $((k1txp - k0txp))"
echo "# netq: $j"
echo "# kernel deltas: rx $((k1rxb - k0rxb)) B $((k1rxp - k0rxp)) pkts, tx $((k1txb - k0txb)) B $((k1txp - k0txp)) pkts"
for f in rx_bytes:$((k1rxb - k0rxb)) rx_packets:$((k1rxp - k0rxp)) \
         tx_bytes:$((k1txb - k0txb)) tx_packets:$((k1txp - k0txp)); do
  name=${f%%:*} want=${f#*:}
  got=$(jq -r ".$name" <<<"$j")
  if [ "$got" = "$want" ] && [ "$want" -gt 0 ]; then
    ok "counters: $name equals ip -s link ($want)"
  else
    fail "counters: $name netq $got, kernel $want"
  fi
done
finish
