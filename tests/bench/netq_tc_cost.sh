#!/usr/bin/env bash
# Benchmark: per-packet cost of netq's tc programs, from the kernel's own
# BPF run-time statistics (kernel.bpf_stats_enabled: run_time_ns/run_cnt
# per program), beside an empty tc program (bpf/empty_tc.bpf.c) attached to
# the same interface and direction, so both see the same packets in the same
# run. bpf_stats_enabled is restored on exit.
set -uo pipefail
source "$ROOT/tests/integration/lib.sh"
source "$ROOT/tests/integration/helpers/netq.sh"
PKTS=${NETQ_BENCH_PKTS:-400000}
old_stats=$(sysctl -n kernel.bpf_stats_enabled)
restore() { sysctl -qw kernel.bpf_stats_enabled="$old_stats"; nq_cleanup; }
nq_setup n2bcost >/dev/null
trap restore EXIT

nq "$A_NS" attach a0 >&2 || exit 1
eg=$("$OUT/tools/impair" --netns "$A_NS" --empty a0) || exit 1
in=$("$OUT/tools/impair" --netns "$A_NS" --empty --ingress a0) || exit 1
# Our netq programs: the sched_cls programs that use our pinned netq_ifaces.
mid=$(bpftool map show pinned "$PIN/netq_ifaces" --json | jq .id)
echo "empty egress prog $eg, ingress prog $in, netq map $mid" >&2
sysctl -qw kernel.bpf_stats_enabled=1

prog() { # id -> "run_cnt run_time_ns"
  bpftool prog show id "$1" --json | jq -r '"\(.run_cnt // 0) \(.run_time_ns // 0)"'
}
netq_ids=$(bpftool prog show --json | jq -r --argjson m "$mid" \
  '.[] | select(.type == "sched_cls" and ((.map_ids // []) | index($m))) | "\(.id) \(.name)"')
# netq's tracing programs (net_dev_xmit after the qdisc, TCP tracepoints):
# not tc programs, but the transmit hook runs per packet too, so its cost is
# reported beside them.
trace_ids=$(bpftool prog show --json | jq -r --argjson m "$mid" \
  '.[] | select(.type != "sched_cls" and ((.map_ids // []) | index($m))) | "\(.id) \(.name)"')
declare -A c0 t0
for id in $eg $in $(cut -d' ' -f1 <<<"$netq_ids") $(cut -d' ' -f1 <<<"$trace_ids"); do read -r c0[$id] t0[$id] <<<"$(prog "$id")"; done

# The same traffic for all: small UDP packets both ways (a0 egress and
# ingress), each packet one skb.
nq_bg "$B_NS" "$TGEN" udp-sink "$B_IP:21600" --seconds 120 >/dev/null
nq_bg "$A_NS" "$TGEN" udp-sink "$A_IP:21601" --seconds 120 >/dev/null
sleep 0.2
nx "$A_NS" "$TGEN" udp-send "$B_IP:21600" --count "$PKTS" --size 64 >/dev/null
nx "$B_NS" "$TGEN" udp-send "$A_IP:21601" --count "$PKTS" --size 64 >/dev/null
sleep 0.3
sysctl -qw kernel.bpf_stats_enabled="$old_stats"

row() { # label id -> prints row, sets NS
  local c t; read -r c t <<<"$(prog "$2")"
  c=$((c - c0[$2])) t=$((t - t0[$2]))
  NS=$(awk -v t="$t" -v c="$c" 'BEGIN{printf "%.1f", c ? t / c : 0}')
  echo "| $1 | $c | $NS |"
}
{
  echo "| program (a0, same packets) | runs | ns per packet |"
  echo "| --- | ---: | ---: |"
  row "empty tc, egress (floor)" "$eg"; e_eg=$NS
  row "empty tc, ingress (floor)" "$in"; e_in=$NS
  while read -r id name; do
    [ -n "$id" ] || continue
    row "netq $name" "$id"
    case "$name" in *egress*) n_eg=$NS ;; *ingress*) n_in=$NS ;; esac
  done <<<"$netq_ids"
} > "$BENCH_TMP/table"
{
  echo "| netq tracing program (same run) | runs | ns per run |"
  echo "| --- | ---: | ---: |"
  while read -r id name; do
    [ -n "$id" ] || continue
    row "$name" "$id"
  done <<<"$trace_ids"
} > "$BENCH_TMP/trace"
# Machine facts that move these figures between machines of one kind
# (docs/netq.md, "Per-packet cost"): the clock source (the accounting reads
# the clock twice per run), the JIT settings, the CPU, and the mitigations:
# with PTI and no PCID the TLB is flushed at every kernel entry, so each
# memory region a program touches costs a page walk per packet.
fact() { cat "$1" 2>/dev/null || echo "?"; }
vuln() { fact "/sys/devices/system/cpu/vulnerabilities/$1"; }
hv=$(dmesg 2>/dev/null | sed -n 's/.*Hypervisor detected: //p' | head -n1)
has_flag() { grep -qw "$1" /proc/cpuinfo && echo yes || echo no; }
{
  echo "| machine fact | value |"
  echo "| --- | --- |"
  echo "| kernel | $(uname -r) |"
  echo "| CPU | $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo), $(nproc) CPUs |"
  echo "| hypervisor | ${hv:-$(has_flag hypervisor | sed 's/yes/yes (unknown)/;s/no/none/')} |"
  echo "| clock source | $(fact /sys/devices/system/clocksource/clocksource0/current_clocksource) (available: $(fact /sys/devices/system/clocksource/clocksource0/available_clocksource | xargs)) |"
  echo "| bpf_jit_enable / harden / kallsyms | $(sysctl -n net.core.bpf_jit_enable) / $(sysctl -n net.core.bpf_jit_harden) / $(sysctl -n net.core.bpf_jit_kallsyms) |"
  echo "| meltdown (PTI) | $(vuln meltdown) |"
  echo "| CPU flags pcid / invpcid | $(has_flag pcid) / $(has_flag invpcid) |"
  echo "| spectre_v2 | $(vuln spectre_v2) |"
  echo "| spec_store_bypass | $(vuln spec_store_bypass) |"
  echo "| kernel command line (mitigation, clock, tsc, pti) | $(tr ' ' '\n' </proc/cmdline | grep -E '^(mitigations|pti|nopti|clocksource|tsc|spectre|nospec)' | xargs) |"
} > "$BENCH_TMP/facts"
d_eg=$(awk -v a="${n_eg:-0}" -v b="$e_eg" 'BEGIN{printf "%.1f", a - b}')
d_in=$(awk -v a="${n_in:-0}" -v b="$e_in" 'BEGIN{printf "%.1f", a - b}')

cat <<MD
## netq: per-packet cost of the tc programs

The kernel's own accounting (sysctl kernel.bpf_stats_enabled=1; run_time_ns
/ run_cnt of each program from \`bpftool prog show --json\`) over $PKTS
64-byte UDP packets each way through a0, with netq's programs and an empty
tc program (bpf/empty_tc.bpf.c, clsact) attached to the same interface and
direction, so both ran on the same packets in the same run. The setting is
restored afterwards. Source: tests/bench/netq_tc_cost.sh.

$(cat "$BENCH_TMP/table")

netq above the empty program: **egress ${d_eg} ns, ingress ${d_in} ns**
per packet (target: at most 25 ns).

On a VM that flushes the TLB at every kernel entry, each memory region a
program touches per packet costs a page walk (~20-40 ns); the figures of
machines of one kind differ with these facts (variants, one piece removed
at a time: docs/netq.md, "Per-packet cost"):

$(cat "$BENCH_TMP/facts")

The tx *rate* is counted after the qdisc by a \`net_dev_xmit\` tracepoint
program (docs/netq.md), which runs once per transmitted packet on every
interface of the host and returns at once for interfaces netq does not
watch; the TCP tracepoints run per TCP event. Their own run-time from the
same accounting (the UDP traffic above has no TCP events, so those show 0
runs; the empty tc program's figure above is the floor of this accounting,
most of it the clock reads around each run):

$(cat "$BENCH_TMP/trace")
MD
