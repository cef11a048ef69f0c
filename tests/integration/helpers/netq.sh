# shellcheck shell=bash disable=SC2034
# Helpers for the netq integration tests and benchmarks (sourced after
# tests/integration/lib.sh or with ROOT/OUT set). A test calls
#   nq_setup PREFIX [netns.sh up options]
# (PREFIX at most 7 characters) which builds the topology (scripts/netns.sh), picks a private BPF pin dir
# and installs an EXIT trap that detaches netq, removes the pins, stops the
# background jobs started with nq_bg and deletes the namespaces.
NETNS=$ROOT/scripts/netns.sh
NETQ=$OUT/dataline-netq
TGEN=$OUT/tools/tgen
NQ_BG=()

# Runs the CLI in namespace NS with the test's pin dir.
nq() { local ns=$1; shift; "$NETNS" exec "$ns" "$NETQ" --pin-dir "$PIN" "$@"; }
nx() { "$NETNS" exec "$@"; }
# nq_bg NS CMD...: start CMD in NS in the background, remembered for cleanup.
# nsenter execs CMD, so $! is CMD itself and killing it ends it.
nq_bg() { local ns=$1; shift; nsenter --net="/var/run/netns/$ns" "$@" & NQ_BG+=($!); }

nq_cleanup() {
  local p
  for p in "${NQ_BG[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${NQ_BG[@]}"; do wait "$p" 2>/dev/null; done
  if [ -n "${PIN:-}" ] && [ -e "$PIN" ]; then
    "$NETNS" exec "$A_NS" "$NETQ" --pin-dir "$PIN" detach >/dev/null 2>&1
    rm -rf "$PIN"
  fi
  [ -n "${NQ_PREFIX:-}" ] && "$NETNS" down "$NQ_PREFIX"
}

nq_setup() {
  # A per-run suffix, so two runs of one test (two people's run-tests.sh)
  # never share namespaces or pins.
  NQ_PREFIX=$1$(( $$ % 1000 )); shift
  "$NETNS" down "$NQ_PREFIX" 2>/dev/null
  "$NETNS" up "$NQ_PREFIX" "$@" >/dev/null || { fail "$NQ_PREFIX topology"; exit 1; }
  eval "$("$NETNS" env "$NQ_PREFIX")"
  # A bpffs is needed for the private pin dir; the CLI mounts one if missing.
  mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
  PIN=/sys/fs/bpf/dataline-test-$NQ_PREFIX
  rm -rf "$PIN"
  trap nq_cleanup EXIT
}

# The JSON object of interface IFNAME from `show --json` in NS.
nq_json() { nq "$1" show --json | jq -c --arg n "$2" '[.. | objects | select(.ifname? == $n)][0]'; }
# One field of it.
nq_field() { nq_json "$1" "$2" | jq -r ".$3"; }
# Kernel statistics of IFACE in NS: "rx_bytes rx_packets tx_bytes tx_packets"
k_stats() {
  ip -n "$1" -s -j link show dev "$2" |
    jq -r '.[0].stats64 | "\(.rx.bytes) \(.rx.packets) \(.tx.bytes) \(.tx.packets)"'
}
# Sum of the program ids of ours: names starting with netq_ loaded after
# a baseline taken with nq_prog_ids (prints ids, one a line).
nq_prog_ids() { bpftool prog show --json | jq -r '.[] | select(.name // "" | startswith("netq_")) | .id' | sort -n; }
nq_link_ids() { bpftool link show --json | jq -r '.[] | .id' | sort -n; }
# wait_udp NS PORT: until something listens on UDP PORT in NS (5 s at most)
wait_udp() {
  local i
  for ((i = 0; i < 50; i++)); do
    [ -n "$("$NETNS" exec "$1" ss -Hunl "sport = :$2")" ] && return 0
    sleep 0.1
  done
  return 1
}
