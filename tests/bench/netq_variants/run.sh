#!/usr/bin/env bash
# Variants of netq's tc program, one piece at a time (docs/netq.md,
# "Per-packet cost"): each VARIANT (a SEC("tc") program of variants.bpf.c
# beside this script) is attached alone at clsact egress and ingress of a0,
# before the empty program (tools/impair --empty), and both are measured
# with kernel.bpf_stats_enabled over PKTS 64-byte UDP packets each way.
# Prints per variant: its ns per packet, the empty program's, the difference.
# Not part of `make bench` (a variant's order and the shared stack page move
# a few ns between the two programs; run it several times). Needs a quiet
# machine: run under the lock, from the repository root after `make all`:
#   flock /tmp/dataline-itest.lock tests/bench/netq_variants/run.sh \
#     200000 v_empty v_rodata v_ctl v_atomic2 v_jiffies n_cur n_new
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
OUT=${OUT:-$ROOT/build}
case "$OUT" in /*) ;; *) OUT=$ROOT/$OUT ;; esac
source "$ROOT/tests/integration/lib.sh"
source "$ROOT/tests/integration/helpers/netq.sh"
PKTS=$1; shift
OBJ=$(mktemp --suffix=.bpf.o)
clang -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Werror -I"$ROOT/include" \
  -I"$OUT" -c "$(dirname "$0")/variants.bpf.c" -o "$OBJ" || exit 1
old_stats=$(sysctl -n kernel.bpf_stats_enabled)
D=/sys/fs/bpf/nqv$$
restore() { sysctl -qw kernel.bpf_stats_enabled="$old_stats"; rm -rf "$D" "$OBJ"; nq_cleanup; }
nq_setup nqv >/dev/null
trap restore EXIT
bpftool prog loadall "$OBJ" "$D" || exit 1
eg=$("$OUT/tools/impair" --netns "$A_NS" --empty a0) || exit 1
in=$("$OUT/tools/impair" --netns "$A_NS" --empty --ingress a0) || exit 1
nsx() { nsenter --net="/var/run/netns/$A_NS" "$@"; }
prog() { bpftool prog show id "$1" --json | jq -r '"\(.run_cnt // 0) \(.run_time_ns // 0)"'; }
nq_bg "$B_NS" "$TGEN" udp-sink "$B_IP:21600" --seconds 3000 >/dev/null
nq_bg "$A_NS" "$TGEN" udp-sink "$A_IP:21601" --seconds 3000 >/dev/null
sleep 0.2
for v in "$@"; do
  vid=$(bpftool prog show pinned "$D/$v" --json | jq .id)
  nsx tc filter replace dev a0 egress pref 1 handle 1 bpf da pinned "$D/$v" || exit 1
  nsx tc filter replace dev a0 ingress pref 1 handle 1 bpf da pinned "$D/$v" || exit 1
  sysctl -qw kernel.bpf_stats_enabled=1
  read -r c0 t0 <<<"$(prog $vid)"; read -r ec0 et0 <<<"$(prog $eg)"; read -r ic0 it0 <<<"$(prog $in)"
  nx "$A_NS" "$TGEN" udp-send "$B_IP:21600" --count "$PKTS" --size 64 >/dev/null
  read -r c1 t1 <<<"$(prog $vid)"; read -r ec1 et1 <<<"$(prog $eg)"
  nx "$B_NS" "$TGEN" udp-send "$A_IP:21601" --count "$PKTS" --size 64 >/dev/null
  read -r c2 t2 <<<"$(prog $vid)"; read -r ic2 it2 <<<"$(prog $in)"
  sysctl -qw kernel.bpf_stats_enabled=0
  awk -v v="$v" -v ve=$(( t1-t0 )) -v vec=$(( c1-c0 )) -v ee=$(( et1-et0 )) -v eec=$(( ec1-ec0 )) \
      -v vi=$(( t2-t1 )) -v vic=$(( c2-c1 )) -v ii=$(( it2-it0 )) -v iic=$(( ic2-ic0 )) \
   'BEGIN{printf "%-20s eg %6.1f (empty %5.1f) +%6.1f   in %6.1f (empty %5.1f) +%6.1f  runs %d/%d\n", v, ve/vec, ee/eec, ve/vec-ee/eec, vi/vic, ii/iic, vi/vic-ii/iic, vec, vic}'
  nsx tc filter del dev a0 egress pref 1 handle 1 bpf
  nsx tc filter del dev a0 ingress pref 1 handle 1 bpf
done
