#!/usr/bin/env bash
# The active probe: on an idle link shaped (tbf on a0's egress) to 5 and 20
# Mbit/s, `probe` estimates the capacity within +-25%; with no shaping and
# no added delay its RTT is within 100 us of ping's (min of 20 pings), and
# within +-10% of ping's + 50 ms when the echo holds each reply 50 ms
# (`echo --delay-ms 50`). The figures are read from `show --json`
# (probe_kbps, probe_rtt_us), where the probe stores them.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/helpers/netq.sh"
need_root netq_probe
nq_setup n2prb

nq "$A_NS" attach a0 >/dev/null || { fail "probe: attach a0"; exit 1; }
nq_bg "$B_NS" "$NETQ" echo "$B_IP:21400" >/dev/null 2>&1
nq_bg "$B_NS" "$NETQ" echo "$B_IP:21401" --delay-ms 50 >/dev/null 2>&1
wait_udp "$B_NS" 21400 || fail "probe: echo on 21400 did not start"
wait_udp "$B_NS" 21401 || fail "probe: echo on 21401 did not start"

for mbit in 5 20; do
  "$NETNS" shape "$A_NS" a0 ${mbit}mbit
  sleep 0.5
  if out=$(nq "$A_NS" probe "$B_IP:21400" 2>&1); then
    kbps=$(nq_field "$A_NS" a0 probe_kbps)
    echo "# shaped ${mbit}mbit: probe_kbps $kbps; probe said: $(tr '\n' ' ' <<<"$out")"
    if within_pct "$kbps" $((mbit * 1000)) 25; then
      ok "probe: capacity at ${mbit} Mbit/s within 25% ($kbps kbit/s)"
    else
      fail "probe: capacity at ${mbit} Mbit/s is $kbps kbit/s"
    fi
  else
    fail "probe: at ${mbit} Mbit/s failed: $out"
  fi
  "$NETNS" shape "$A_NS" a0 off
done

ping_us() { # min RTT of 20 pings, microseconds
  nx "$A_NS" ping -q -c 20 -i 0.02 "$B_IP" |
    awk -F'[/ ]' '/^rtt/{printf "%d", $7 * 1000}'
}
p=$(ping_us)
nq "$A_NS" probe "$B_IP:21400" >/dev/null 2>&1 || fail "probe: unshaped probe failed"
r=$(nq_field "$A_NS" a0 probe_rtt_us)
echo "# ping min $p us, probe_rtt_us $r"
d=$((r - p)); d=${d#-}
if [ -n "$r" ] && [ "$r" -gt 0 ] && [ "$d" -le 100 ]; then
  ok "probe: RTT $r us within 100 us of ping's $p us"
else
  fail "probe: RTT ${r:-none} us, ping $p us"
fi

nq "$A_NS" probe "$B_IP:21401" >/dev/null 2>&1 || fail "probe: probe of the 50 ms echo failed"
r=$(nq_field "$A_NS" a0 probe_rtt_us)
want=$((p + 50000))
echo "# held 50 ms: probe_rtt_us $r, ping + 50 ms = $want us"
if within_pct "$r" "$want" 10; then
  ok "probe: RTT with a 50 ms echo hold within 10% ($r us)"
else
  fail "probe: RTT with a 50 ms echo hold is ${r:-none} us, want $want"
fi
finish
