#!/usr/bin/env bash
# Decisions end to end: `decide voice` says data (exit 0) while the link's
# capacity (measured by a probe against the echo in b) is above threshold 1
# and fallback (exit 3) once the link is shaped below it and re-probed;
# `decide text` says data while a0 is up and fallback (exit 3) once a0 is
# down. Threshold 1 is set with --min-kbps 5000 and the link shaped to
# 1 Mbit/s, so a probe train fits in its timeout.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/helpers/netq.sh"
need_root netq_decide
nq_setup n2dec

nq "$A_NS" attach a0 >/dev/null || { fail "decide: attach a0"; exit 1; }
nq_bg "$B_NS" "$NETQ" echo "$B_IP:21300" >/dev/null 2>&1
wait_udp "$B_NS" 21300 || fail "decide: echo on 21300 did not start"

decide() { # service [options] -> exit status; prints the JSON on fd 3
  nq "$A_NS" decide "$@" --json >"$DEC_OUT" 2>&1
}
DEC_OUT=$(mktemp); trap 'rm -f "$DEC_OUT"; nq_cleanup' EXIT
expect() { # name want-status service [options]
  local name=$1 want=$2 rc; shift 2
  decide "$@"; rc=$?
  if [ $rc -eq "$want" ]; then ok "decide: $name (exit $rc)"
  else fail "decide: $name exit $rc, want $want: $(tr '\n' ' ' <"$DEC_OUT")"; fi
}

nq "$A_NS" probe "$B_IP:21300" >/dev/null || fail "decide: probe unshaped"
expect "voice is data on the unshaped link" 0 voice --min-kbps 5000
expect "text is data while a0 is up" 0 text

"$NETNS" shape "$A_NS" a0 1mbit
nq "$A_NS" probe "$B_IP:21300" >/dev/null || fail "decide: probe at 1 Mbit/s"
expect "voice falls back below threshold 1 (1 Mbit/s < 5000 kbit/s)" 3 voice --min-kbps 5000
grep -qi 'rate' "$DEC_OUT" && ok "decide: reason names the rate" ||
  fail "decide: reason does not name the rate: $(tr '\n' ' ' <"$DEC_OUT")"
expect "voice is data with threshold 1 under the link (500 kbit/s)" 0 voice --min-kbps 500
expect "text stays data on a slow link" 0 text

ip -n "$A_NS" link set dev a0 down
sleep 0.2
expect "text falls back when a0 is down" 3 text
expect "voice falls back when a0 is down" 3 voice --min-kbps 500
ip -n "$A_NS" link set dev a0 up
finish
