#!/usr/bin/env bash
# tests/bench/server_presence.sh: presence fan-out. One PUBLISH of new
# netq figures for a number with W watchers (W subscriptions, RFC 6665,
# spread over S client sockets of one watcher device): the time from
# sending the PUBLISH to the last of the W NOTIFYs received (each answered
# 200 by the client), the median of R publishes. The clients are Python
# (tests/bench/presence_fanout.py on tests/tools/presua.py) on the same
# machine, so the figure includes their reading; it is an upper bound of
# the server's share. Knobs: BENCH_WATCHERS (W, 1000), BENCH_SOCKETS (S,
# 4), BENCH_RUNS (R, 5). Ports 27440-27449.
set -uo pipefail
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/integration/lib.sh"
source "$ROOT/tests/tools/server_env.sh"
trap srv_cleanup EXIT

W=${BENCH_WATCHERS:-1000}
S=${BENCH_SOCKETS:-4}
R=${BENCH_RUNS:-5}
srv_start presence-bench 27440 --presence-max-subs-per-watcher $((W * 2)) \
  --code-resend-interval 0 >&2 || exit 1
A=+8613800274401 B=+8613800274402
provision $A >&2 && AU=$CRED_USER AP=$CRED_PASS || exit 1
provision $B >&2 && BU=$CRED_USER BP=$CRED_PASS || exit 1

rows=()
for tp in tcp udp; do
  line=$(python3 "$ROOT/tests/bench/presence_fanout.py" 27440 $tp "$W" "$S" "$R" \
         "$A" "$AU" "$AP" "$B" "$BU" "$BP") || { echo "fan-out $tp failed: $line" >&2; exit 1; }
  echo "$tp: $line" >&2
  rows+=("$line")
done

cat <<EOF2
## Presence fan-out (issue 7)

One PUBLISH of new figures for a number watched by $W subscriptions
($S client sockets of one watcher device, Python clients on the same
machine answering every NOTIFY 200): time from sending the PUBLISH to
receiving the last of the $W NOTIFYs, median of $R publishes
(min / max beside it). dataline-server with --workers 2. The Python
client is part of the figure: over UDP it reads and answers one datagram
per system call, over TCP many NOTIFYs per read, which is at least part
of the gap between the rows (not yet measured apart).

| transport | watchers | sockets | median ms | min ms | max ms |
| --- | --- | --- | --- | --- | --- |
EOF2
for l in "${rows[@]}"; do
  read -r w s tp med mn mx <<< "$l"
  echo "| $tp | $w | $s | $med | $mn | $mx |"
done
