#!/usr/bin/env bash
# Runs every test dataline has and prints one closing line the CI reads:
#   N passed, N failed
# - unit:        $OUT/tests/test_*        (cmocka; its own summary is parsed)
# - integration: tests/integration/*.sh   (TAP-like "ok NAME"/"not ok NAME")
# - fuzz:        $OUT/fuzz/fuzz_*         (libFuzzer, FUZZ_SECONDS each)
# Options: --unit-only, or NAME filters (substring match on the test file).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-build}
export OUT ROOT=$PWD
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
unit_only=0
filters=()
for a in "$@"; do
  case "$a" in
    --unit-only) unit_only=1 ;;
    *) filters+=("$a") ;;
  esac
done

passed=0 failed=0 failures=()
selected() {
  [ ${#filters[@]} -eq 0 ] && return 0
  local f; for f in "${filters[@]}"; do [[ "$1" == *"$f"* ]] && return 0; done
  return 1
}
logdir=$OUT/test-logs; mkdir -p "$logdir"

# A ThreadSanitizer build (SANITIZE=thread): every instrumented process
# (tests, server, tools) writes its reports to $logdir/tsan/report.PID, so a
# race in a server that a test started and stopped still fails that test,
# whatever the server's exit status or log file.
tsan_dir=
if ldd "$OUT/dataline-server" 2>/dev/null | grep -q libtsan; then
  tsan_dir=$PWD/$logdir/tsan
  rm -rf "$tsan_dir"; mkdir -p "$tsan_dir"
  export TSAN_OPTIONS="${TSAN_OPTIONS:+$TSAN_OPTIONS:}log_path=$tsan_dir/report"
fi
# tsan_reports NAME: prints and keeps (as $logdir/NAME.tsan.N) the reports
# written while NAME ran; fails when there were any.
tsan_reports() {
  [ -n "$tsan_dir" ] || return 0
  local r n=0
  for r in "$tsan_dir"/report.*; do
    [ -f "$r" ] || continue
    n=$((n + 1))
    echo "# ThreadSanitizer report ($(basename "$r")):"
    cat "$r"
    mv "$r" "$logdir/$1.tsan.$n"
  done
  [ $n -eq 0 ]
}

for t in "$OUT"/tests/test_*; do
  [ -x "$t" ] || continue
  selected "$t" || continue
  name=$(basename "$t")
  echo "== unit $name"
  "$t" > "$logdir/$name.log" 2>&1; rc=$?
  cat "$logdir/$name.log"
  p=$(grep -Eo '^\[  PASSED  \] [0-9]+' "$logdir/$name.log" | awk '{s+=$4} END{print s+0}')
  f=$(grep -Eo '^\[  FAILED  \] [0-9]+' "$logdir/$name.log" | awk '{s+=$4} END{print s+0}')
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  tsan_reports "$name" || f=$((f + 1))
  passed=$((passed + p)); failed=$((failed + f))
  [ "$f" -gt 0 ] && failures+=("unit/$name")
done

if [ $unit_only -eq 0 ]; then
  for t in tests/integration/*.sh; do
    [ -f "$t" ] || continue
    [ "$(basename "$t")" = lib.sh ] && continue   # sourced helpers, not a test
    selected "$t" || continue
    name=$(basename "$t" .sh)
    echo "== integration $name"
    bash "$t" > "$logdir/$name.log" 2>&1; rc=$?
    cat "$logdir/$name.log"
    p=$(grep -c '^ok ' "$logdir/$name.log")
    f=$(grep -c '^not ok ' "$logdir/$name.log")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "not ok $name exited $rc"; fi
    if [ "$rc" -eq 0 ] && [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
      f=1; echo "not ok $name ran no check"
    fi
    if ! tsan_reports "$name"; then
      f=$((f + 1)); echo "not ok $name: ThreadSanitizer reported a race"
    fi
    passed=$((passed + p)); failed=$((failed + f))
    [ "$f" -gt 0 ] && failures+=("integration/$name")
  done

  for z in "$OUT"/fuzz/fuzz_*; do
    [ -x "$z" ] || continue
    selected "$z" || continue
    name=$(basename "$z")
    corpus=tests/fuzz/corpus/${name#fuzz_}
    work=$(mktemp -d)
    [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/
    echo "== fuzz $name (${FUZZ_SECONDS}s)"
    if "$z" -max_total_time="$FUZZ_SECONDS" -max_len=8192 -timeout=10 \
         -rss_limit_mb=1024 "$work" > "$logdir/$name.log" 2>&1; then
      tail -n 1 "$logdir/$name.log"; echo "ok $name"
      passed=$((passed + 1))
    else
      tail -n 40 "$logdir/$name.log"; echo "not ok $name"
      failed=$((failed + 1)); failures+=("fuzz/$name")
    fi
    rm -rf "$work"
  done
fi

echo
[ ${#failures[@]} -gt 0 ] && printf 'failed: %s\n' "${failures[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
