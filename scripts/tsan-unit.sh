#!/usr/bin/env bash
# tsan-unit.sh: ThreadSanitizer builds of the unit tests whose code runs on
# several threads (the writer thread, the durable queue, the SMS mailbox),
# compiled by hand into $OUT (default build-tsan) and run. The Makefile's
# EXTRA_CFLAGS=-fsanitize=thread cannot build the whole tree: user/netq
# uses atomic_thread_fence, which GCC's TSan refuses.
# usage: scripts/tsan-unit.sh [writer] [queue] [sms]   (default: all three)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-build-tsan}
mkdir -p "$OUT"
CC=${CC:-gcc}
FLAGS=(-fsanitize=thread -O1 -g -std=gnu11 -D_GNU_SOURCE -Wall -Wextra
       -Wno-unused-parameter -Werror -Iinclude)
CORE=(server/core/writer.c server/core/metrics.c lib/util/log.c)
declare -A SRCS=(
  [writer]="${CORE[*]}"
  [queue]="server/queue/queue.c server/queue/queue_read.c ${CORE[*]}"
  [sms]="$(ls server/sms/*.c server/store/*.c | tr '\n' ' ') server/queue/queue.c server/queue/queue_read.c ${CORE[*]}"
)
tests=("$@")
[ ${#tests[@]} -eq 0 ] && tests=(writer queue sms)
rc=0
for t in "${tests[@]}"; do
  # shellcheck disable=SC2086
  if ! $CC "${FLAGS[@]}" -o "$OUT/test_$t" "tests/unit/test_$t.c" ${SRCS[$t]} \
       -lsqlite3 -levent -lcmocka -lpthread; then
    echo "tsan: test_$t does not build"; rc=1; continue
  fi
  log=$OUT/test_$t.log
  TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1} "$OUT/test_$t" >"$log" 2>&1
  r=$?
  if [ $r -ne 0 ] || grep -q "WARNING: ThreadSanitizer" "$log"; then
    echo "tsan: test_$t FAILED (exit $r), see $log"; rc=1
  else
    echo "tsan: test_$t clean ($(grep -Eo '^\[  PASSED  \] [0-9]+' "$log" | awk '{print $4}') tests)"
  fi
done
exit $rc
