#!/usr/bin/env bash
# The test topology itself (scripts/netns.sh), checked against independent
# figures so the netq tests stand on measured ground: a tbf-shaped link
# carries a saturating UDP sender at its rate (receiver's count, +-2%), the
# impair program drops the asked fraction (its own count and the receiver's),
# the delay line adds its delay (ping), and `down` leaves nothing behind.
source "$(dirname "$0")/lib.sh"
need_root netns_topology
NETNS=$ROOT/scripts/netns.sh
TGEN=$OUT/tools/tgen
P=n2top$(( $$ % 1000 ))   # per run: two runs never share namespaces
cleanup() { "$NETNS" down $P 2>/dev/null; "$NETNS" down ${P}d 2>/dev/null; }
trap cleanup EXIT
cleanup

"$NETNS" up $P >/dev/null && ok "topology: up" || { fail "topology: up"; exit 1; }
eval "$("$NETNS" env $P)"
nx() { "$NETNS" exec "$@"; }
nx "$A_NS" ping -q -c 2 -i 0.1 "$B_IP" >/dev/null && ok "topology: a reaches b" || fail "topology: a reaches b"
[ "$(ip -n "$A_NS" -j link show dev a0 | jq '.[0].ifindex')" = "$A_IFINDEX" ] &&
  ok "topology: a0 has the announced ifindex" || fail "topology: a0 ifindex"

# Shaping: receiver-side rate of a saturating sender, wire bytes (L2).
for mbit in 2 20; do
  "$NETNS" shape "$A_NS" a0 ${mbit}mbit
  out=$(mktemp)
  nx "$B_NS" "$TGEN" udp-sink "$B_IP:21900" --seconds 8 --idle-ms 300 >"$out" &
  sleep 0.2
  nx "$A_NS" "$TGEN" udp-send "$B_IP:21900" --seconds 3 --size 1400 >/dev/null
  wait
  # The queue fills in the first instant; measure from the sink's first to
  # last packet, on the wire (payload + UDP/IP/Ethernet headers = +42 B).
  pk=$(awk '/^packets/{print $2}' "$out"); s=$(awk '/^seconds/{print $2}' "$out")
  bps=$(awk -v p="$pk" -v s="$s" 'BEGIN{printf "%d", (p - 1) * 1442 * 8 / s}')
  within_pct "$bps" $((mbit * 1000000)) 2 && ok "topology: shaped ${mbit} Mbit/s carries $bps bit/s" ||
    fail "topology: shaped ${mbit} Mbit/s carries $bps bit/s"
  rm -f "$out"
  "$NETNS" shape "$A_NS" a0 off
done
tc -n "$A_NS" qdisc show dev a0 | grep -q tbf && fail "topology: shape off left tbf" ||
  ok "topology: shape off removes tbf"

# Loss: 10% on b0's egress; 20000 packets b -> a.
"$NETNS" impair "$B_NS" b0 10
ue0=$(nx "$A_NS" nstat -asz UdpRcvbufErrors | awk '$1 == "UdpRcvbufErrors" {print $2}')
out=$(mktemp)
nx "$A_NS" "$TGEN" udp-sink "$A_IP:21901" --seconds 20 --idle-ms 500 >"$out" &
sleep 0.2
nx "$B_NS" "$TGEN" udp-send "$A_IP:21901" --count 20000 --size 100 --kbps 4000 >/dev/null
wait
got=$(awk '/^packets/{print $2}' "$out"); rm -f "$out"
ue1=$(nx "$A_NS" nstat -asz UdpRcvbufErrors | awk '$1 == "UdpRcvbufErrors" {print $2}')
rcvbuf=$(( ${ue1:-0} - ${ue0:-0} ))   # a slow receiver on a busy host
read -r _ seen _ dropped <<<"$("$OUT/tools/impair" --netns "$B_NS" --stats b0)"
lost=$(awk -v g="$got" -v r="$rcvbuf" 'BEGIN{printf "%.2f", (20000 - g - r) / 200}')
echo "# impair 10%: seen $seen dropped $dropped, receiver lost $lost% ($rcvbuf of them to a full socket buffer)"
awk -v l="$lost" 'BEGIN{exit !(l >= 9 && l <= 11)}' && ok "topology: impair 10% loses $lost%" ||
  fail "topology: impair 10% loses $lost%"
[ $((20000 - got)) -eq $((dropped + rcvbuf)) ] && ok "topology: every loss is accounted for (impair $dropped, socket buffer $rcvbuf)" ||
  fail "topology: lost $((20000 - got)), impair dropped $dropped, socket buffer $rcvbuf"
"$NETNS" impair "$B_NS" b0 off
nx "$B_NS" ping -q -c 50 -i 0.01 "$A_IP" | grep -q ' 0% packet loss' && ok "topology: impair off" ||
  fail "topology: impair off still loses"

# Delay line: 15 ms each way -> ping ~30 ms.
"$NETNS" up ${P}d --delay-ms 15 >/dev/null || fail "topology: up --delay-ms"
eval "$("$NETNS" env ${P}d)"
# min and median of 10 pings (a median, since one late wake-up of a busy
# shared machine must not decide the test)
read -r rmin rmed <<<"$(nx "$A_NS" ping -c 10 -i 0.05 "$B_IP" |
  sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' | sort -n | awk '{v[NR]=$1} END{print v[1], v[int((NR+1)/2)]}')"
echo "# delay 15 ms each way: ping min $rmin median $rmed ms"
# At least the two delays; the user-space line adds its wake-up time.
awk -v m="${rmin:-0}" -v a="${rmed:-0}" 'BEGIN{exit !(m >= 30 && a <= 33)}' &&
  ok "topology: delay line gives RTT $rmin/$rmed ms (min/median, want 30..33)" ||
  fail "topology: delay line gives RTT ${rmin:-none}/${rmed:-none} ms (min/median, want 30..33)"
pid=$(cat /run/dataline-netns/${P}d/tundelay.pid)

"$NETNS" down $P; "$NETNS" down ${P}d
left=$(ip netns list | grep -c "^$P")
[ "$left" -eq 0 ] && ok "topology: down deletes the namespaces" || fail "topology: $left namespaces left"
sleep 0.2
# (a zombie waiting for init to reap it has stopped running)
if [ -d "/proc/$pid" ] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; then
  fail "topology: delay line still running"
else
  ok "topology: down stops the delay line"
fi
finish
