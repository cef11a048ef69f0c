#!/usr/bin/env bash
# netns.sh: the test topology for netq (and later issues): network
# namespaces joined by veth, shaped with tbf, made lossy with a tc BPF drop
# program (bpf/impair.bpf.c; netem is absent on our kernels), and delayed by
# a user-space TUN delay line (tests/tools/tundelay.c; netem again).
# Everything it makes lives inside namespaces named PREFIX-*, with addresses
# from 198.18.0.0/15 (RFC 2544's benchmarking range) used only inside them;
# `down` removes all of it. Nothing is configured in the root namespace.
set -euo pipefail

ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
OUT=${OUT:-build}
case "$OUT" in /*) ;; *) OUT=$ROOT/$OUT ;; esac
STATE=/run/dataline-netns

usage() {
  cat <<'USAGE'
usage: netns.sh up PREFIX [--delay-ms MS]
       netns.sh env PREFIX
       netns.sh shape NS IFACE RATE|off [--queue-ms MS]
       netns.sh impair NS IFACE LOSS_PCT|off [--ingress]
       netns.sh exec NS CMD [ARG...]
       netns.sh down PREFIX
       netns.sh list

up      Two namespaces PREFIX-a and PREFIX-b joined by one veth pair:
          PREFIX-a: a0 198.18.0.1/24      PREFIX-b: b0 198.18.0.2/24
        each the other's default route (a handset's uplink has one).
        With --delay-ms MS a third namespace PREFIX-m routes between them
        through a TUN delay line that holds every packet MS ms in each
        direction (a round trip gains 2*MS):
          PREFIX-a: a0 198.18.1.1/24 -> PREFIX-m: ma 198.18.1.254, mb 198.18.2.254
          -> PREFIX-b: b0 198.18.2.2/24
        IPv6 is off in all of them (no background traffic), and the
        interfaces get ifindexes unique across the namespaces. PREFIX must be
        at most 10 characters. Prints the environment lines of `env`.
env     Prints A_NS, B_NS, M_NS, A_IF, B_IF, A_IP, B_IP, A_IFINDEX, B_IFINDEX
        as shell assignments: eval "$(scripts/netns.sh env n2x)".
shape   tbf on the egress of IFACE in NS at RATE (tc syntax: 2mbit, 500kbit).
        The bucket holds 4 ms of RATE (at least 4 kB) so a saturating
        sender reads within ~1% of RATE over a second; the queue holds
        --queue-ms of RATE (default 1000, at least 256 kB) so a blocking
        sender's socket buffer fills before the queue drops (a UDP sender
        then sends at RATE with no drops). `off` removes it.
impair  Drops LOSS_PCT% of the packets on the egress (or --ingress) of
        IFACE with a tc BPF program (clsact, $OUT/tools/impair). `off`
        removes it.
exec    Runs CMD in NS with nsenter --net. Unlike `ip netns exec` this
        keeps the host's /sys, so BPF pins under /sys/fs/bpf work (but
        /sys/class/net still shows the root namespace: read interface
        statistics with `ip -s -j link` instead).
down    Stops the delay line, ends the processes still running in the
        namespaces, and deletes PREFIX-a, PREFIX-b, PREFIX-m.

EXAMPLES
  scripts/netns.sh up n2x && eval "$(scripts/netns.sh env n2x)"
  scripts/netns.sh shape n2x-a a0 10mbit
  scripts/netns.sh impair n2x-b b0 5
  scripts/netns.sh exec n2x-a ping -c 3 198.18.0.2
  scripts/netns.sh up n2rtt --delay-ms 10    # RTT a<->b about 20 ms
  scripts/netns.sh down n2x
USAGE
}

die() { echo "netns.sh: $*" >&2; exit 1; }
nsx() { local ns=$1; shift; nsenter --net="/var/run/netns/$ns" "$@"; }
# exec: the caller's pid becomes CMD's (so killing it ends CMD)
nsx_exec() { local ns=$1; shift; exec nsenter --net="/var/run/netns/$ns" "$@"; }

# A base for the ifindexes of PREFIX's interfaces, so that two namespaces'
# interfaces never share an ifindex (BPF programs that key by ifindex see
# every namespace).
idx_base() { echo $(( 3000 + ($(printf '%s' "$1" | cksum | cut -d' ' -f1) % 5000) * 8 )); }

ns_quiet() { # create a namespace with lo up and IPv6 off
  ip netns add "$1"
  ip -n "$1" link set lo up
  nsx "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
    net.ipv6.conf.default.disable_ipv6=1 >/dev/null
}

print_env() {
  local p=$1 base; base=$(idx_base "$p")
  [ -f "$STATE/$p/mode" ] || die "no topology $p (run: netns.sh up $p)"
  echo "A_NS=$p-a B_NS=$p-b A_IF=a0 B_IF=b0 A_IFINDEX=$((base + 1)) B_IFINDEX=$((base + 2))"
  if [ "$(cat "$STATE/$p/mode")" = delay ]; then
    echo "M_NS=$p-m A_IP=198.18.1.1 B_IP=198.18.2.2"
  else
    echo "M_NS= A_IP=198.18.0.1 B_IP=198.18.0.2"
  fi
}

cmd_up() {
  local p=${1:-} delay='' base
  [ -n "$p" ] || die "up needs PREFIX"
  shift
  while [ $# -gt 0 ]; do
    case "$1" in
      --delay-ms) delay=$2; shift 2 ;;
      *) die "up: unknown option $1" ;;
    esac
  done
  [ ${#p} -le 10 ] || die "PREFIX '$p' longer than 10 characters"
  [ -e "/var/run/netns/$p-a" ] && die "$p-a exists (netns.sh down $p first)"
  base=$(idx_base "$p")
  mkdir -p "$STATE/$p"
  ns_quiet "$p-a"; ns_quiet "$p-b"
  if [ -z "$delay" ]; then
    echo plain > "$STATE/$p/mode"
    ip -n "$p-a" link add a0 index $((base + 1)) type veth \
      peer name b0 index $((base + 2)) netns "$p-b"
    ip -n "$p-a" addr add 198.18.0.1/24 dev a0
    ip -n "$p-b" addr add 198.18.0.2/24 dev b0
    ip -n "$p-a" link set dev a0 up
    ip -n "$p-b" link set dev b0 up
    ip -n "$p-a" route add default via 198.18.0.2
    ip -n "$p-b" route add default via 198.18.0.1
  else
    echo delay > "$STATE/$p/mode"
    ns_quiet "$p-m"
    ip -n "$p-a" link add a0 index $((base + 1)) type veth \
      peer name ma index $((base + 3)) netns "$p-m"
    ip -n "$p-b" link add b0 index $((base + 2)) type veth \
      peer name mb index $((base + 4)) netns "$p-m"
    ip -n "$p-a" addr add 198.18.1.1/24 dev a0
    ip -n "$p-m" addr add 198.18.1.254/24 dev ma
    ip -n "$p-m" addr add 198.18.2.254/24 dev mb
    ip -n "$p-b" addr add 198.18.2.2/24 dev b0
    ip -n "$p-a" link set dev a0 up; ip -n "$p-b" link set dev b0 up
    ip -n "$p-m" link set dev ma up; ip -n "$p-m" link set dev mb up
    ip -n "$p-a" route add default via 198.18.1.254
    ip -n "$p-b" route add default via 198.18.2.254
    [ -x "$OUT/tools/tundelay" ] || die "$OUT/tools/tundelay missing (make OUT=$OUT)"
    # setsid: the delay line must not die with the caller's terminal/job.
    setsid "$OUT/tools/tundelay" --netns "$p-m" --dev dly0 --delay-ms "$delay" \
      </dev/null >/dev/null 2>"$STATE/$p/tundelay.log" &
    echo $! > "$STATE/$p/tundelay.pid"
    local i
    for ((i = 0; i < 50; i++)); do
      ip -n "$p-m" link show dev dly0 >/dev/null 2>&1 && break
      sleep 0.1
    done
    ip -n "$p-m" link set dev dly0 up
    nsx "$p-m" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
      net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.dly0.rp_filter=0 \
      net.ipv4.conf.ma.rp_filter=0 net.ipv4.conf.mb.rp_filter=0 >/dev/null
    # Forwarded packets (arriving on ma or mb) go into the delay line;
    # what it writes back (iif dly0) takes the main table to a or b.
    ip -n "$p-m" route add default dev dly0 table 100
    ip -n "$p-m" rule add iif ma lookup 100 pref 100
    ip -n "$p-m" rule add iif mb lookup 100 pref 101
  fi
  print_env "$p"
}

rate_bps() { # tc rate syntax -> bit/s
  awk -v r="$1" 'BEGIN{
    n = r + 0; u = tolower(substr(r, length(n "") + 1));
    m = 1; if (u ~ /^k/) m = 1e3; else if (u ~ /^m/) m = 1e6; else if (u ~ /^g/) m = 1e9;
    if (u ~ /bps$/) m *= 8;   # tc: "bps" means bytes per second
    printf "%d", n * m }'
}

cmd_shape() {
  local ns=$1 dev=$2 rate=$3 qms=1000 bps burst limit
  shift 3
  while [ $# -gt 0 ]; do
    case "$1" in --queue-ms) qms=$2; shift 2 ;; *) die "shape: unknown option $1" ;; esac
  done
  if [ "$rate" = off ]; then
    ip netns exec "$ns" tc qdisc del dev "$dev" root 2>/dev/null || true
    return 0
  fi
  bps=$(rate_bps "$rate")
  [ "$bps" -gt 0 ] || die "shape: bad RATE $rate"
  burst=$(( bps / 8 / 250 )); [ $burst -ge 4096 ] || burst=4096
  limit=$(( bps / 8 * qms / 1000 )); [ $limit -ge 262144 ] || limit=262144
  nsx "$ns" tc qdisc replace dev "$dev" root tbf rate "${bps}bit" \
    burst "$burst" limit "$limit"
}

cmd_impair() {
  local ns=$1 dev=$2 loss=$3 dir=()
  [ "${4:-}" = --ingress ] && dir=(--ingress)
  [ -x "$OUT/tools/impair" ] || die "$OUT/tools/impair missing (make OUT=$OUT)"
  if [ "$loss" = off ]; then
    "$OUT/tools/impair" --netns "$ns" "${dir[@]}" --remove "$dev" 2>/dev/null || true
  else
    "$OUT/tools/impair" --netns "$ns" "${dir[@]}" "$dev" "$loss" >/dev/null
  fi
}

cmd_down() {
  local p=${1:-} pid ns pids
  [ -n "$p" ] || die "down needs PREFIX"
  if [ -f "$STATE/$p/tundelay.pid" ]; then
    pid=$(cat "$STATE/$p/tundelay.pid")
    if grep -q tundelay "/proc/$pid/cmdline" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
  fi
  for ns in "$p-a" "$p-b" "$p-m"; do
    [ -e "/var/run/netns/$ns" ] || continue
    # Whatever still runs inside (a test's sink or echo left behind) would
    # keep the namespace alive after `del`: end it first, by pid.
    pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
    [ -n "$pids" ] && kill $pids 2>/dev/null
    ip netns del "$ns"
  done
  rm -rf "${STATE:?}/$p"
  return 0
}

[ $# -ge 1 ] || { usage >&2; exit 2; }
cmd=$1; shift
case "$cmd" in
  -h|--help|help) usage ;;
  up) cmd_up "$@" ;;
  env) print_env "${1:?PREFIX}" ;;
  shape) [ $# -ge 3 ] || die "shape NS IFACE RATE|off"; cmd_shape "$@" ;;
  impair) [ $# -ge 3 ] || die "impair NS IFACE LOSS_PCT|off"; cmd_impair "$@" ;;
  exec) [ $# -ge 2 ] || die "exec NS CMD..."; ns=$1; shift; nsx_exec "$ns" "$@" ;;
  down) cmd_down "$@" ;;
  list) ls "$STATE" 2>/dev/null || true ;;
  *) usage >&2; exit 2 ;;
esac
