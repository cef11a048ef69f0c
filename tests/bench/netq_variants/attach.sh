#!/usr/bin/env bash
# tcx vs clsact (docs/netq.md, "Per-packet cost"): the kernel's run-time
# accounting times only the program, not the hook that dispatches to it, so
# this compares the whole send path instead: the sender's time per 64-byte
# UDP packet (tgen udp-send, PKTS packets a0 -> b0) with nothing attached,
# with netq attached by tcx, and with netq attached by clsact, in turn,
# REPS times (the order rotates, so drift of a shared machine spreads over
# all three). Prints one line per pass and the median per mode. Not part of
# `make bench` (whole-path figures move by more than the difference); run it
# under the lock, from the repository root after `make all`:
#   flock /tmp/dataline-itest.lock tests/bench/netq_variants/attach.sh 200000 5
set -uo pipefail
# lib.sh sets ROOT (from its own place) and OUT (absolute, default build)
source "$(dirname "$0")/../../integration/lib.sh"
source "$ROOT/tests/integration/helpers/netq.sh"
PKTS=${1:-200000} REPS=${2:-5}
nq_setup nqatt >/dev/null
nq_bg "$B_NS" "$TGEN" udp-sink "$B_IP:28610" --seconds 3000 >/dev/null
sleep 0.2
pass() { # MODE -> ns per packet of the sender
  case $1 in
  tcx) nq "$A_NS" attach a0 >/dev/null || exit 1 ;;
  clsact) nq "$A_NS" attach --clsact a0 >/dev/null || exit 1 ;;
  esac
  nx "$A_NS" "$TGEN" udp-send "$B_IP:28610" --count "$PKTS" --size 64 |
    awk -v n="$PKTS" '/^seconds/{printf "%.1f\n", $2 * 1e9 / n}'
  [ "$1" = none ] || nq "$A_NS" detach >/dev/null
}
modes=(none tcx clsact)
declare -A all
for ((r = 0; r < REPS; r++)); do
  for ((k = 0; k < 3; k++)); do
    m=${modes[$(( (r + k) % 3 ))]}
    v=$(pass "$m"); echo "rep $r $m $v ns/packet"; all[$m]+="$v "
  done
done
for m in "${modes[@]}"; do
  echo "$m median $(tr ' ' '\n' <<<"${all[$m]}" | grep . | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}') ns/packet (${all[$m]% })"
done
