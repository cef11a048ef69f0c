#!/usr/bin/env bash
# Benchmark: group commit of the durable queue (issue 7). queue_put()
# calls through the writer thread on a fresh SQLite file with
# synchronous=FULL (every commit fsyncs the WAL), from 1 or 8 submitting
# threads, each keeping 1 put (a client waiting for its 202) or 64 puts
# (an event loop with many clients) outstanding; one NORMAL row for
# contrast. Prints a markdown section (contract: scripts/bench.sh).
set -uo pipefail
SECS=${QUEUE_PUT_SECONDS:-5}
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
OUT=${OUT:-$ROOT/build}
case "$OUT" in /*) ;; *) OUT=$ROOT/$OUT ;; esac
TMP=${BENCH_TMP:-$(mktemp -d)}

bin=$OUT/bench/queue_put
if [ ! -x "$bin" ]; then
  echo "missing $bin (make OUT=$OUT all)" >&2
  exit 1
fi
fs=$(df -T "$TMP" | awk 'NR==2{print $2}')

row() { # THREADS INFLIGHT SYNC
  local r
  r=$("$bin" "$TMP" "$1" "$2" "$SECS" "$3") || exit 1
  echo "$1 x $2 $3: $r" >&2
  read -r rate per c50 c99 p50 p99 <<<"$r"
  printf '| %s | %s | %s | %s | %s | %s / %s | %s / %s |\n' \
    "$1" "$2" "$3" "$rate" "$per" "$c50" "$c99" "$p50" "$p99"
}

# a short warm-up so the first row does not pay for the file's creation
"$bin" "$TMP" 1 1 1 full >/dev/null || exit 1

cat <<MD
## Durable queue: group-commit throughput

\`queue_put()\` of a 160-byte text (dedup key, one of 1000 recipients)
through the writer thread (server/core/writer.c) on a fresh queue file
($fs, under \$BENCH_TMP), $SECS s per row. *threads* submit, each keeping
*in flight* puts outstanding: 1 is a client that waits for its 202 before
the next text, 64 an event loop serving many clients. *commit* is one
batch's BEGIN..COMMIT (the fsync included), *put* is from \`queue_put()\`
to its callback: what a 202 waits for. Source: tests/bench/queue_put.c.
The single-client row swings most from run to run on this VM (an idle
vCPU wakes slowly for each fsync's completion; between 300 and 3300
puts/s seen): compare the rows of one run.

| threads | in flight | synchronous | puts/s | puts per commit | commit p50 / p99 ms | put p50 / p99 ms |
| --- | --- | --- | --- | --- | --- | --- |
$(row 1 1 full)
$(row 8 1 full)
$(row 1 64 full)
$(row 8 64 full)
$(row 8 1 normal)
MD
[ -n "${BENCH_TMP:-}" ] || rm -rf "$TMP"
