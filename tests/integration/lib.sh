# Shared helpers for integration tests (sourced). Each test prints TAP-like
# lines "ok NAME" / "not ok NAME - why"; scripts/run-tests.sh counts them.
# Tests use loopback and namespaces they create themselves, and remove them.
ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
OUT=${OUT:-build}
case "$OUT" in /*) ;; *) OUT=$ROOT/$OUT ;; esac
T_FAILED=0
ok()   { echo "ok $*"; }
fail() { echo "not ok $*"; T_FAILED=1; }
# check NAME CMD...: ok if the command succeeds
check() { local n=$1; shift; if "$@"; then ok "$n"; else fail "$n"; fi; }
# need_root: these tests run as root in CI; say so and fail otherwise.
need_root() {
  if [ "$(id -u)" -ne 0 ]; then fail "$1 - needs root (CI runs as root)"; exit 1; fi
}
# wait_tcp PORT [HOST] [SECONDS]: wait until something listens
wait_tcp() {
  local port=$1 host=${2:-127.0.0.1} secs=${3:-10} i
  for ((i = 0; i < secs * 10; i++)); do
    (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
# float comparisons: within PCT of REF
within_pct() { awk -v v="$1" -v r="$2" -v p="$3" 'BEGIN{d=v-r; if(d<0)d=-d; exit !(r!=0 && d/r*100<=p)}'; }
finish() { exit $T_FAILED; }
