#!/usr/bin/env bash
# Benchmark: per-packet cost of netq's tc programs, from the kernel's own
# BPF run-time statistics (kernel.bpf_stats_enabled: run_time_ns/run_cnt
# per program), beside an empty tc program (bpf/empty_tc.bpf.c) attached to
# the same interface and direction, so both see the same packets in the same
# run. Then a second pass with netq detached, where the empty program runs
# alone, first on its hook as netq's programs are: on machines that flush the
# TLB at every kernel entry the first program to run after the flush pays
# for walking to its JIT code page, and the empty program of the first pass
# shares that page with netq's (docs/netq.md, "Per-packet cost"), so the
# second pass gives the like-for-like floor. bpf_stats_enabled is restored
# on exit.
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
declare -A c0 t0 c1 t1 c2 t2
snap() { # ARRAY-SUFFIX ids... : remember "run_cnt run_time_ns" of each
  local id
  for id in "${@:2}"; do read -r "c$1[$id]" "t$1[$id]" <<<"$(prog "$id")"; done
}
all_ids="$eg $in $(cut -d' ' -f1 <<<"$netq_ids") $(cut -d' ' -f1 <<<"$trace_ids")"
# shellcheck disable=SC2086
snap 0 $all_ids

# The same traffic for all: small UDP packets both ways (a0 egress and
# ingress), each packet one skb.
nq_bg "$B_NS" "$TGEN" udp-sink "$B_IP:21600" --seconds 300 >/dev/null
nq_bg "$A_NS" "$TGEN" udp-sink "$A_IP:21601" --seconds 300 >/dev/null
sleep 0.2
traffic() {
  nx "$A_NS" "$TGEN" udp-send "$B_IP:21600" --count "$PKTS" --size 64 >/dev/null
  nx "$B_NS" "$TGEN" udp-send "$A_IP:21601" --count "$PKTS" --size 64 >/dev/null
  sleep 0.3
}
traffic
# shellcheck disable=SC2086
snap 1 $all_ids
# Where the JIT put the code (bpf_jit_kallsyms): does the empty egress
# program share a 4 KiB code page with netq_tc_egress?
code_pages() { # prog id -> its code pages, from /proc/kallsyms
  local tag name
  read -r tag name <<<"$(bpftool prog show id "$1" --json | jq -r '"\(.tag) \(.name)"')"
  awk -v s="bpf_prog_${tag}_$name" '$3 == s {print substr($1, 1, length($1) - 3)}' /proc/kallsyms | sort -u
}
netq_eg_id=$(awk '/netq_tc_egress/{print $1}' <<<"$netq_ids")
shared=$(comm -12 <(code_pages "$eg") <(code_pages "$netq_eg_id") | head -n1)
if [ -z "$(code_pages "$eg")" ]; then shared="? (no bpf_prog symbols in /proc/kallsyms)"
elif [ -n "$shared" ]; then shared="yes (page 0x${shared}000)"
else shared=no; fi
# Second pass: netq detached, the empty programs alone on their hooks.
nq "$A_NS" detach >&2 || exit 1
traffic
snap 2 "$eg" "$in"
sysctl -qw kernel.bpf_stats_enabled="$old_stats"

per() { # id FROM TO -> "runs ns-per-run" between snapshots FROM and TO
  local c t
  eval "c=\$(( c$3[$1] - c$2[$1] )) t=\$(( t$3[$1] - t$2[$1] ))"
  awk -v t="$t" -v c="$c" 'BEGIN{printf "%d %.1f", c, c ? t / c : 0}'
}
row() { # label id FROM TO -> prints the row, sets NS
  local c; read -r c NS <<<"$(per "$2" "$3" "$4")"
  echo "| $1 | $c | $NS |"
}
{
  echo "| program (a0) | runs | ns per packet |"
  echo "| --- | ---: | ---: |"
  row "empty tc, egress, after netq (same packets)" "$eg" 0 1; e_eg=$NS
  row "empty tc, ingress, after netq (same packets)" "$in" 0 1; e_in=$NS
  while read -r id name; do
    [ -n "$id" ] || continue
    row "netq $name" "$id" 0 1
    case "$name" in *egress*) n_eg=$NS ;; *ingress*) n_in=$NS ;; esac
  done <<<"$netq_ids"
  row "empty tc, egress, alone (second pass, netq detached)" "$eg" 1 2; a_eg=$NS
  row "empty tc, ingress, alone (second pass, netq detached)" "$in" 1 2; a_in=$NS
} > "$BENCH_TMP/table"
{
  echo "| netq tracing program (first pass) | runs | ns per run |"
  echo "| --- | ---: | ---: |"
  while read -r id name; do
    [ -n "$id" ] || continue
    row "$name" "$id" 0 1
  done <<<"$trace_ids"
} > "$BENCH_TMP/trace"
# Machine facts that move these figures between machines of one kind
# (docs/netq.md, "Per-packet cost"): the clock source (the accounting reads
# the clock twice per run), the JIT settings, the CPU, and the mitigations:
# with PTI and no PCID the TLB is flushed at every kernel entry, so each
# memory region a program touches costs a page walk per packet; under PVM
# the CR3 loads and TLB flushes are hypercalls and the host's features
# (dmesg "pvm-pv: host supports ...") decide what an entry costs.
fact() { cat "$1" 2>/dev/null || echo "?"; }
vuln() { fact "/sys/devices/system/cpu/vulnerabilities/$1"; }
hv=$(dmesg 2>/dev/null | sed -n 's/.*Hypervisor detected: //p' | head -n1)
has_flag() { grep -qw "$1" /proc/cpuinfo && echo yes || echo no; }
pvf=$(dmesg 2>/dev/null | sed -n 's/.*pvm-pv: host supports \(PVF_[A-Z0-9_]*\).*/\1/p' | sort -u | xargs)
pvtlb=$(dmesg 2>/dev/null | sed -n 's/.*pvm-pv: \(CR3 loads.*\)/\1/p' | head -n1)
cold_eg=$(awk -v a="$a_eg" -v b="$e_eg" 'BEGIN{printf "%+.1f", a - b}')
cold_in=$(awk -v a="$a_in" -v b="$e_in" 'BEGIN{printf "%+.1f", a - b}')
{
  echo "| machine fact | value |"
  echo "| --- | --- |"
  echo "| kernel | $(uname -r) |"
  echo "| CPU | $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo), $(nproc) CPUs |"
  echo "| hypervisor | ${hv:-$(has_flag hypervisor | sed 's/yes/yes (unknown)/;s/no/none/')} |"
  [ -n "$pvf$pvtlb" ] && echo "| PVM host features; TLB | ${pvf:-none listed}; ${pvtlb:-?} |"
  echo "| clock source | $(fact /sys/devices/system/clocksource/clocksource0/current_clocksource) (available: $(fact /sys/devices/system/clocksource/clocksource0/available_clocksource | xargs)) |"
  echo "| bpf_jit_enable / harden / kallsyms | $(sysctl -n net.core.bpf_jit_enable) / $(sysctl -n net.core.bpf_jit_harden) / $(sysctl -n net.core.bpf_jit_kallsyms) |"
  echo "| meltdown (PTI) | $(vuln meltdown) |"
  echo "| CPU flags pcid / invpcid / pge | $(has_flag pcid) / $(has_flag invpcid) / $(has_flag pge) |"
  echo "| spectre_v2 | $(vuln spectre_v2) |"
  echo "| spec_store_bypass | $(vuln spec_store_bypass) |"
  echo "| kernel command line (mitigation, clock, tsc, pti) | $(tr ' ' '\n' </proc/cmdline | grep -E '^(mitigations|pti|nopti|clocksource|tsc|spectre|nospec|pvm)' | xargs) |"
  echo "| empty egress program's JIT code on netq_tc_egress's 4 KiB page | $shared |"
  echo "| cost of running first on a cold code page: empty alone - empty after netq, egress / ingress (measured above) | $cold_eg / $cold_in ns |"
} > "$BENCH_TMP/facts"
d_eg=$(awk -v a="${n_eg:-0}" -v b="$e_eg" 'BEGIN{printf "%.1f", a - b}')
d_in=$(awk -v a="${n_in:-0}" -v b="$e_in" 'BEGIN{printf "%.1f", a - b}')
l_eg=$(awk -v a="${n_eg:-0}" -v b="$a_eg" 'BEGIN{printf "%.1f", a - b}')
l_in=$(awk -v a="${n_in:-0}" -v b="$a_in" 'BEGIN{printf "%.1f", a - b}')

cat <<MD
## netq: per-packet cost of the tc programs

The kernel's own accounting (sysctl kernel.bpf_stats_enabled=1; run_time_ns
/ run_cnt of each program from \`bpftool prog show --json\`) over $PKTS
64-byte UDP packets each way through a0, with netq's programs and an empty
tc program (bpf/empty_tc.bpf.c, clsact, so it runs after netq's tcx
programs) attached to the same interface and direction, so both ran on the
same packets in the same run; then a second pass of the same traffic with
netq detached, where the empty program runs alone, first on its hook as
netq's programs do. The setting is restored afterwards. Source:
tests/bench/netq_tc_cost.sh.

$(cat "$BENCH_TMP/table")

netq above the empty program of the same packets: **egress ${d_eg} ns,
ingress ${d_in} ns** per packet (target: at most 25 ns).
Above the empty program alone (each the first program on its hook):
egress ${l_eg} ns, ingress ${l_in} ns.

On a VM that flushes the TLB at every kernel entry, each memory region a
program touches per packet costs a page walk (~25-50 ns here), and that
includes the page of the program's own JIT code: whichever program runs
first after the flush pays it, so an empty program that runs after netq on
netq's code page (the first rows, when the facts below say the page is
shared) is cheaper than one alone (the last rows). On this veth path the ingress programs run in the sender's kernel
entry right after netq_xmit has run on the sending interface from that same
page, so ingress finds the code page warm; a packet from a real NIC does
not. The figures of machines of one kind differ with these facts
(variants, one piece removed at a time: docs/netq.md, "Per-packet cost"):

$(cat "$BENCH_TMP/facts")

The tx *rate* is counted after the qdisc by a \`net_dev_xmit\` tracepoint
program (docs/netq.md), which runs once per transmitted packet on every
interface of the host and returns at once for interfaces netq does not
watch; the TCP tracepoints run per TCP event. Their own run-time from the
same accounting in the first pass (the UDP traffic above has no TCP events,
so those show 0 runs; the empty tc program's figure above is the floor of
this accounting, most of it the clock reads around each run):

$(cat "$BENCH_TMP/trace")
MD
