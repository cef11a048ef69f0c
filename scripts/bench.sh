#!/usr/bin/env bash
# bench.sh: runs the benchmarks and writes docs/bench.md (`make bench`).
#
# Contract for a benchmark (later issues add theirs the same way):
#   - A benchmark is an executable-or-not shell script tests/bench/NAME.sh
#     (run with bash). Compiled helpers go beside it as tests/bench/*.c
#     (the Makefile builds them into $OUT/bench/) or tests/tools/*.c.
#   - It is run from the repository root with these variables exported:
#       ROOT          the repository root
#       OUT           the build folder, absolute (binaries in $OUT, $OUT/bench,
#                     $OUT/tools)
#       BENCH_IMG     docs/img, absolute: write plots here as NAME*.png
#                     (gnuplot, `set terminal pngcairo` or `png`) and link
#                     them from the section as ![...](img/NAME.png)
#       BENCH_TMP     a scratch folder of its own, removed afterwards
#   - It prints ONE markdown section on stdout: a "## Title" heading, a line
#     or two on what is measured and how, and a table with one row per
#     contender, all contenders measured side by side in the same run. Its
#     stderr goes to $OUT/bench-logs/NAME.log.
#   - Exit status 0 = measured; anything else is reported as a failure in
#     the section (with the tail of its log) and makes bench.sh exit 1.
#   - It must clean up what it made (namespaces, sysctls) even on failure.
#
# usage: scripts/bench.sh [FILTER...]   (FILTER: substring of NAME)
# With filters, sections of benchmarks not run are kept from the existing
# docs/bench.md, so one benchmark can be re-run alone.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
OUT=${OUT:-build}
case "$OUT" in /*) ;; *) OUT=$ROOT/$OUT ;; esac
BENCH_IMG=$ROOT/docs/img
DOC=docs/bench.md
export ROOT OUT BENCH_IMG
mkdir -p "$BENCH_IMG" "$OUT/bench-logs" docs

selected() { # NAME [FILTER...]: no filter selects everything
  local name=$1 f; shift
  [ $# -eq 0 ] && return 0
  for f in "$@"; do [[ "$name" == *"$f"* ]] && return 0; done
  return 1
}

# Previous sections, to keep those not re-run.
declare -A old
if [ -f "$DOC" ]; then
  while IFS= read -r -d '' chunk; do
    name=$(printf '%s' "$chunk" | sed -n '1s/^<!-- bench:\([^ ]*\) -->$/\1/p')
    [ -n "$name" ] && old[$name]=$chunk
  done < <(awk '/^<!-- bench:[^ ]* -->$/{if(buf!="")printf "%s%c",buf,0; buf=""; on=1}
                on{buf=buf $0 "\n"} /^<!-- \/bench:/{printf "%s%c",buf,0; buf=""; on=0}' "$DOC")
fi

cpu=$(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)
mem=$(awk '/MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo)
rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain 2>/dev/null | grep -q . && echo " (with uncommitted changes)")

tmpdoc=$(mktemp)
failed=0
{
  cat <<HDR
# Benchmarks

Written by \`scripts/bench.sh\` (\`make bench\`); do not edit by hand.
Each section comes from one \`tests/bench/NAME.sh\`, which measures all its
contenders side by side in the same run and prints one markdown section
(contract at the top of scripts/bench.sh). Re-run one benchmark with
\`scripts/bench.sh NAME\`; the other sections are kept.

| machine | |
| --- | --- |
| kernel | $(uname -r) |
| CPU | ${cpu:-unknown} |
| cores | $(nproc) |
| memory | $mem |
| date | $(date -u '+%Y-%m-%d %H:%M UTC') |
| git revision | $rev$dirty |

The machine is a shared VM: absolute figures move with the load of other
users; ratios between contenders of one run are the meaningful figures.

HDR
  for b in tests/bench/*.sh; do
    [ -f "$b" ] || continue
    name=$(basename "$b" .sh)
    if ! selected "$name" "$@"; then
      [ -n "${old[$name]:-}" ] && printf '%s\n' "${old[$name]}"
      continue
    fi
    echo "bench: $name" >&2
    BENCH_TMP=$(mktemp -d)
    export BENCH_TMP
    sec=$(bash "$b" 2>"$OUT/bench-logs/$name.log"); rc=$?
    rm -rf "$BENCH_TMP"
    echo "<!-- bench:$name -->"
    printf '%s\n' "$sec"
    if [ $rc -ne 0 ]; then
      failed=1
      printf '\n**%s failed (exit %d)**; the end of its log:\n\n```\n%s\n```\n' \
        "$name" "$rc" "$(tail -n 15 "$OUT/bench-logs/$name.log")"
      echo "bench: $name FAILED (exit $rc), log $OUT/bench-logs/$name.log" >&2
    fi
    echo "<!-- /bench:$name -->"
    echo
  done
} > "$tmpdoc"
mv "$tmpdoc" "$DOC"
chmod 644 "$DOC"
echo "bench: wrote $DOC" >&2
exit $failed
