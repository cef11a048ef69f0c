#!/usr/bin/env bash
# TCP: retransmissions caused by the impair drop program are counted, and
# the loss figure agrees with the kernel's (TcpRetransSegs / TcpOutSegs of
# a's namespace, nstat); netq's smoothed RTT for the monitored interface
# agrees with the kernel's own figure for the same connection (`ss -ti`
# rtt, the socket's srtt) within +-15%.
# A 10 ms TUN delay line in a middle namespace (scripts/netns.sh up
# --delay-ms; netem is absent) makes the RTT ~20 ms, so scheduling noise of
# tens of microseconds does not matter. Senders are paced below the path's
# capacity, so the RTT is the path's, not a growing queue's. The lossy
# transfer runs first, on a fresh namespace, so netq's 10 s loss window
# holds only it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/helpers/netq.sh"
need_root netq_tcp
nq_setup n2tcp --delay-ms 10

nq "$A_NS" attach a0 >/dev/null || { fail "tcp: attach a0"; exit 1; }
kstat() { nx "$A_NS" nstat -asz "$1" | awk -v k="$1" '$1 == k {print $2}'; }

# --- retransmissions: drop 3% of the data on its way to b (middle's mb egress)
r0=$(nq_field "$A_NS" a0 retrans)
k0=$(kstat TcpRetransSegs) o0=$(kstat TcpOutSegs)
"$NETNS" impair "$M_NS" mb 3
nq_bg "$B_NS" "$TGEN" tcp-sink "$B_IP:21201" --seconds 20 >/dev/null
sleep 0.2
nx "$A_NS" "$TGEN" tcp-send "$B_IP:21201" --seconds 4 --size 1000 --kbps 4000 >/dev/null
wait; NQ_BG=()
sleep 0.3
r1=$(nq_field "$A_NS" a0 retrans)
loss=$(nq_field "$A_NS" a0 loss_pct)
k1=$(kstat TcpRetransSegs) o1=$(kstat TcpOutSegs)
drops=$("$OUT/tools/impair" --netns "$M_NS" --stats mb)
"$NETNS" impair "$M_NS" mb off
kloss=$(awk -v r=$((k1 - k0)) -v o=$((o1 - o0)) 'BEGIN{printf "%.3f", o ? 100 * r / o : 0}')
echo "# impair: $drops; netq retrans $r0 -> $r1, loss_pct $loss; kernel TcpRetransSegs $k0 -> $k1, TcpOutSegs $o0 -> $o1 ($kloss%)"
nd=$((r1 - r0)) kd=$((k1 - k0))
if [ "$kd" -gt 0 ] && [ "$nd" -gt 0 ] && within_pct "$nd" "$kd" 10; then
  ok "tcp: retransmissions counted ($nd, kernel $kd)"
else
  fail "tcp: netq counted $nd retransmissions, kernel $kd"
fi
if within_pct "$loss" "$kloss" 20; then ok "tcp: loss_pct $loss within 20% of the kernel's $kloss"
else fail "tcp: loss_pct ${loss:-none}, kernel's retrans/out $kloss%"; fi

# --- RTT
nq_bg "$B_NS" "$TGEN" tcp-sink "$B_IP:21200" --seconds 20 >/dev/null
sleep 0.2
nq_bg "$A_NS" "$TGEN" tcp-send "$B_IP:21200" --seconds 8 --size 1000 --kbps 2000 >/dev/null
sleep 3
# RTT samples of a paced flow vary by a few ms (delayed ACKs): compare the
# medians of 7 pairs read back to back, 0.4 s apart.
pairs=""
for i in 1 2 3 4 5 6 7; do
  s=$(nx "$A_NS" ss -tin dst "$B_IP" dport = :21200 | grep -o ' rtt:[0-9.]*' | head -1 | cut -d: -f2)
  n=$(nq_field "$A_NS" a0 srtt_us)
  pairs="$pairs $(awk -v r="$s" 'BEGIN{printf "%d", r * 1000}'):$n"
  sleep 0.4
done
med() { tr ' ' '\n' | grep . | sort -n | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}'; }
ss_us=$(for p in $pairs; do echo "${p%%:*}"; done | med)
srtt_us=$(for p in $pairs; do echo "${p#*:}"; done | med)
echo "# (ss us:netq us)$pairs; medians ss $ss_us, netq $srtt_us"
if [ "${ss_us:-0}" -gt 0 ] && within_pct "$srtt_us" "$ss_us" 15; then
  ok "tcp: srtt_us $srtt_us within 15% of ss rtt $ss_us us (medians)"
else
  fail "tcp: srtt_us ${srtt_us:-none}, ss rtt ${ss_us:-none} us (medians)"
fi
min_rtt=$(nq_field "$A_NS" a0 min_rtt_us)
if [ "${min_rtt:-0}" -gt 0 ] && [ "$min_rtt" -le "$srtt_us" ] && within_pct "$min_rtt" 20000 15; then
  ok "tcp: min_rtt_us $min_rtt about the 20 ms path"
else
  fail "tcp: min_rtt_us ${min_rtt:-none} (srtt $srtt_us, path 20000)"
fi
wait; NQ_BG=()
finish
