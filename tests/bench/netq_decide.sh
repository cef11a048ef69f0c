#!/usr/bin/env bash
# Benchmark: decision latency of libnetq (mmap'ed maps) beside the same
# decision from /proc/net/dev, libnl RTM_GETLINK and bpf_map_lookup_elem,
# 1e6 decisions each, interleaved in one run (tests/bench/netq_decide.c).
# Topology: scripts/netns.sh, netq attached to a0, ~1 Mbit/s of UDP
# flowing so the counters move. Prints a markdown section; plots the CDF.
set -uo pipefail
source "$ROOT/tests/integration/lib.sh"
source "$ROOT/tests/integration/helpers/netq.sh"
ITERS=${NETQ_BENCH_ITERS:-1000000}
nq_setup n2bdec >/dev/null
nq "$A_NS" attach a0 >&2 || exit 1
nq_bg "$B_NS" "$TGEN" udp-sink "$B_IP:21500" --seconds 600 >/dev/null
nq_bg "$A_NS" "$TGEN" udp-send "$B_IP:21500" --seconds 600 --size 1000 --kbps 1000 >/dev/null
sleep 1.5
out=$(nx "$A_NS" "$OUT/bench/netq_decide" --pin-dir "$PIN" --iface a0 \
      --iters "$ITERS" --slow-iters "$ITERS" --cdf "$BENCH_TMP/cdf.dat") || exit 1
ratio=$(sed -n 's/^RATIO p99 \([0-9.]*\) p50 \([0-9.]*\) NETQ_P99 \([0-9]*\)$/\1 \2 \3/p' <<<"$out")
read -r r99 r50 p99 <<<"$ratio"

gnuplot <<GP 2>&2
set terminal png size 900,520 noenhanced
set output "$BENCH_IMG/netq_decide_cdf.png"
set title "netq decision latency, $ITERS decisions each (one run)"
set xlabel "latency per decision (ns, log scale)"
set ylabel "fraction of decisions"
set logscale x
set key bottom right
set grid
plot for [i=3:6] "$BENCH_TMP/cdf.dat" using i:1 with lines lw 2 title columnhead(i)
GP

cat <<MD
## netq: decision latency

One voice decision (default thresholds, the same rules of user/netq/netq_rules.h at the end of
each) with its figures taken from four sources, $ITERS decisions each,
interleaved in rounds of 1000 in one process on one interface (a0 of a
netns.sh pair, ~1 Mbit/s of UDP flowing). Each decision is timed alone with
clock_gettime(); the timer's own cost is the first row. Link state for the
three alternatives comes from the same libnl cache libnetq uses, so only the
counter source differs. Source: tests/bench/netq_decide.c.

$(grep '^|' <<<"$out")

libnetq p99 is **${p99} ns** (target: under 1000 ns); the fastest of (a) and
(b) is **${r99}x** slower at p99 and ${r50}x at p50 (target: at least 50x).

![decision latency CDF](img/netq_decide_cdf.png)
MD
