#!/usr/bin/env bash
# The one-read rate (show --json rx_bps/tx_bps, one call, no second sample)
# under a saturating UDP sender through a link shaped with tbf to 2, 10 and
# 50 Mbit/s is within +-5% of the shaped rate, in both directions of the
# monitored interface a0: tx with a0's egress shaped, rx with the peer b0's
# egress shaped. tbf and netq both count skb->len (L2), so the figures
# compare directly. The sender blocks on its socket buffer (the tbf queue is
# larger), so it runs at the shaped rate without drops. tx is counted at tc
# egress, before the qdisc, so it sees the sender's refills: the kernel
# wakes a blocked UDP sender once half its buffer is free, so the default
# buffer (~200 kB) refills in bursts of ~0.2 s of a 2 Mbit/s link. The
# sender's buffer is therefore sized to ~10 ms of the rate (--sndbuf).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/helpers/netq.sh"
need_root netq_rate
nq_setup n2rate

nq "$A_NS" attach a0 >/dev/null || { fail "rate: attach a0"; exit 1; }
port=21100
for mbit in 2 10 50; do
  for dir in tx rx; do
    if [ $dir = tx ]; then sns=$A_NS sif=a0 rns=$B_NS rip=$B_IP
    else sns=$B_NS sif=b0 rns=$A_NS rip=$A_IP; fi
    port=$((port + 1))
    "$NETNS" shape "$sns" $sif ${mbit}mbit
    nq_bg "$rns" "$TGEN" udp-sink "$rip:$port" --seconds 6 >/dev/null
    sleep 0.2
    sndbuf=$((mbit * 1250)); [ $sndbuf -ge 4096 ] || sndbuf=4096
    nq_bg "$sns" "$TGEN" udp-send "$rip:$port" --seconds 4 --size 1400 --sndbuf $sndbuf >/dev/null
    sleep 3
    bps=$(nq_field "$A_NS" a0 ${dir}_bps)
    want=$((mbit * 1000000))
    echo "# $dir shaped ${mbit}mbit: ${dir}_bps $bps"
    if within_pct "$bps" "$want" 5; then
      ok "rate: ${dir}_bps at ${mbit} Mbit/s within 5% ($bps)"
    else
      fail "rate: ${dir}_bps at ${mbit} Mbit/s is $bps, want $want +-5%"
    fi
    wait; NQ_BG=()
    "$NETNS" shape "$sns" $sif off
  done
done
finish
