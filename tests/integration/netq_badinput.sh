#!/usr/bin/env bash
# Bad input and bad states of `dataline-netq attach/detach`: an unknown
# interface, no BPF permission (an unprivileged user with no capabilities),
# bpffs not mounted (a private mount namespace without it: the CLI mounts
# one), attaching twice (idempotent), stale pins of a crashed run (interface
# gone, and a loader killed with SIGKILL mid-way: the next attach cleans
# them). Each gives a clear message and a defined exit status, and after
# `detach` no program or link of ours is left (bpftool prog/link).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/helpers/netq.sh"
need_root netq_badinput
nq_setup n2bad
LOG=$(mktemp)
trap 'rm -f "$LOG"; nq_cleanup' EXIT

# run NAME WANT_RC REGEX CMD...: exit status and message
run() {
  local name=$1 want=$2 re=$3 rc; shift 3
  "$@" >"$LOG" 2>&1; rc=$?
  if [ "$rc" -eq "$want" ] && grep -Eqi -- "$re" "$LOG"; then
    ok "bad input: $name (exit $rc)"
  else
    fail "bad input: $name: exit $rc (want $want), said: $(head -c 300 "$LOG" | tr '\n' ' ')"
  fi
}
# Exit statuses documented by `dataline-netq --help`.
help=$("$NETQ" --help 2>&1)
RC_PERM=$(sed -n 's/.*\b\([0-9]\) no BPF permission.*/\1/p' <<<"$help" | head -1)
RC_NODEV=$(sed -n 's/.*\b\([0-9]\) unknown interface.*/\1/p' <<<"$help" | head -1)
RC_NOTATT=$(sed -n 's/.*\b\([0-9]\) not attached.*/\1/p' <<<"$help" | head -1)
echo "# exit statuses from --help: no BPF permission ${RC_PERM:=4}, unknown interface ${RC_NODEV:=5}, not attached ${RC_NOTATT:=6}"

# Ours: the programs that use the netq_ifaces map pinned in our pin dir
# (recorded after every attach), and the links of those programs.
base_progs=$(nq_prog_ids)
SEEN=""
record() {
  local mid
  mid=$(bpftool map show pinned "$PIN/netq_ifaces" --json 2>/dev/null | jq -r '.id // empty')
  [ -n "$mid" ] || return 0
  SEEN="$SEEN $(bpftool prog show --json | jq -r --argjson m "$mid" \
    '.[] | select((.map_ids // []) | index($m)) | .id' | tr '\n' ' ')"
}
ours_left() { # recorded programs still loaded, plus netq_ programs new since the start
  local live n=0 id
  live=" $(bpftool prog show --json | jq -r '.[].id' | tr '\n' ' ') "
  for id in $SEEN; do [[ "$live" == *" $id "* ]] && n=$((n + 1)); done
  n=$((n + $(comm -13 <(sort <<<"$base_progs") <(nq_prog_ids | sort) | grep -c .)))
  echo "$n"
}
# Programs are freed asynchronously after their last link goes: wait for
# the count to settle (up to 3 s) before judging.
settled() { # FN: prints FN's final count
  local i v
  for ((i = 0; i < 30; i++)); do v=$("$1"); [ "$v" -eq 0 ] && break; sleep 0.1; done
  echo "$v"
}
links_left() {
  local ids; ids=$(tr ' ' '\n' <<<"$SEEN" | grep . | jq -sc . )
  bpftool link show --json | jq --argjson s "${ids:-[]}" '[.[] | select(.prog_id as $p | $s | index($p))] | length'
}

# 1. unknown interface
run "unknown interface" "$RC_NODEV" "nosuch0|no such|unknown" nq "$A_NS" attach nosuch0

# 2. no BPF permission: uid/gid nobody, no capabilities at all (enter the
# namespace first: nsenter itself needs CAP_SYS_ADMIN)
run "no BPF permission" "$RC_PERM" "permi|privileg|EPERM|root" \
  nsenter --net="/var/run/netns/$A_NS" setpriv --reuid=65534 --regid=65534 \
  --clear-groups --inh-caps=-all --bounding-set=-all "$NETQ" --pin-dir "$PIN" attach a0

# 3. bpffs not mounted: a private mount namespace where /sys/fs/bpf is not
# a bpffs; attach mounts one there (the host's mount is untouched).
run "bpffs not mounted: attach mounts it" 0 "not mounted.*mounted" \
  nsenter --net="/var/run/netns/$A_NS" unshare -m --propagation private sh -c '
    umount -l /sys/fs/bpf 2>/dev/null
    mountpoint -q /sys/fs/bpf && { echo "still mounted"; exit 9; }
    "$0" --pin-dir /sys/fs/bpf/dataline-test-n2bad-priv attach a0 || exit $?
    mountpoint -q /sys/fs/bpf || { echo "not mounted after attach"; exit 8; }
    "$0" --pin-dir /sys/fs/bpf/dataline-test-n2bad-priv detach' "$NETQ"
mountpoint -q /sys/fs/bpf && ok "bad input: host bpffs still mounted" ||
  fail "bad input: host bpffs was unmounted"
n=$(settled ours_left); [ "$n" -eq 0 ] && ok "bad input: nothing left from the private-bpffs run" ||
  fail "bad input: $n programs left from the private-bpffs run"

# 4. attach twice: the second says so and succeeds; nothing doubles
run "first attach" 0 "." nq "$A_NS" attach a0
record
n1=$(ours_left)
run "already attached is idempotent" 0 "already" nq "$A_NS" attach a0
n2=$(ours_left)
[ "$n1" -gt 0 ] && [ "$n1" -eq "$n2" ] && ok "bad input: second attach loaded nothing ($n2 programs)" ||
  fail "bad input: programs $n1 after the first attach, $n2 after the second"
run "detach" 0 "." nq "$A_NS" detach
n=$(settled ours_left); [ "$n" -eq 0 ] && ok "bad input: no program of ours after detach" ||
  fail "bad input: $n programs of ours after detach"
n=$(settled links_left); [ "$n" -eq 0 ] && ok "bad input: no link of ours after detach" ||
  fail "bad input: $n links of ours after detach"
# detach with nothing attached: either idempotent (0) or "not attached"
nq "$A_NS" detach >"$LOG" 2>&1; rc=$?
if { [ $rc -eq 0 ] || [ $rc -eq "$RC_NOTATT" ]; } && [ -s "$LOG" ]; then
  ok "bad input: detach when nothing is attached (exit $rc: $(head -c 80 "$LOG" | tr '\n' ' '))"
else
  fail "bad input: detach when nothing is attached: exit $rc, said: $(head -c 200 "$LOG")"
fi

# 5. stale pins: the interface vanished under a pinned attachment
nq "$A_NS" attach a0 >/dev/null
record
"$NETNS" down "$NQ_PREFIX"
"$NETNS" up "$NQ_PREFIX" >/dev/null
run "stale pins (interface gone) are cleaned" 0 "stale" nq "$A_NS" attach a0
record
run "status shows a0" 0 "a0" nq "$A_NS" status
run "detach after stale cleanup" 0 "." nq "$A_NS" detach
n=$(settled ours_left); [ "$n" -eq 0 ] && ok "bad input: nothing left after stale cleanup" ||
  fail "bad input: $n programs left after stale cleanup"

# 6. a loader killed with SIGKILL part-way, at several points
for ms in 5 20 60 150; do
  # nsenter execs the CLI, so $! is the loader itself
  nsenter --net="/var/run/netns/$A_NS" "$NETQ" --pin-dir "$PIN" attach a0 >/dev/null 2>&1 &
  pid=$!; sleep "0.$(printf '%03d' $ms)"
  kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  record
  run "attach after a loader killed at ${ms} ms" 0 "." nq "$A_NS" attach a0
  record
done
run "detach after the killed loaders" 0 "." nq "$A_NS" detach
n=$(settled ours_left); [ "$n" -eq 0 ] && ok "bad input: nothing left after killed loaders" ||
  fail "bad input: $n programs left after killed loaders"
n=$(settled links_left); [ "$n" -eq 0 ] && ok "bad input: no link left after killed loaders" ||
  fail "bad input: $n links left after killed loaders"
finish
