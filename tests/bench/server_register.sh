#!/usr/bin/env bash
# tests/bench/server_register.sh: REGISTER with digest authentication per
# second (RFC 3261 s.10 + s.22), over UDP and over TCP, dataline-server vs
# Kamailio 5.6 in the same run, both driven by SIPp 3.6.1 with
# tests/sipp/register_auth.xml. Prints a markdown section (scripts/bench.sh
# collects it into docs/bench.md).
#
# How it is fair:
# - the same 1,000 accounts (numbers from tests/sipp/users.csv) on both:
#   created on dataline-server through its provisioning API
#   (tests/tools/provision.py), and the same usernames/HA1 values put into
#   Kamailio's SQLite subscriber table (auth_db, calculate_ha1=0);
# - the same work per registration: 401 challenge (qop=auth, nonce-count
#   checked), digest check against HA1, To-number ownership check, binding
#   saved, 200 listing the Contacts (tests/kamailio/registrar.cfg). Kamailio
#   keeps bindings in memory only (usrloc db_mode=0), dataline-server also
#   persists them to SQLite: that favours Kamailio;
# - the same number of workers: dataline --workers W, Kamailio children=W
#   and tcp_children=W (W = BENCH_WORKERS, default the number of CPUs);
# - the same load: P SIPp processes at once (each its own UDP socket or TCP
#   connection, -t u1/t1, so SO_REUSEPORT spreads them), each with C calls
#   in flight (closed loop), first a warm-up round (every account
#   registers once), then R measured runs of N registrations; the median;
# - the same moment: both servers are up side by side and their runs
#   alternate, dataline, Kamailio, dataline..., so a change in this shared
#   machine's load falls on both; the one not measured is stopped
#   (SIGSTOP), so its timers cost the other nothing.
# A "registration" is one scenario call: REGISTER, 401, REGISTER, 200.
# Knobs: BENCH_WORKERS, BENCH_REGS (N, 30000), BENCH_RUNS (R, 3),
# BENCH_SIPP_PROCS (P, 4), BENCH_SIPP_CALLS (C, 50), BENCH_KEEP=1 keeps
# the SIPp logs. Ports 26000-26099.
set -uo pipefail
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/integration/lib.sh"
source "$ROOT/tests/tools/server_env.sh"

W=${BENCH_WORKERS:-$(nproc)}
N=${BENCH_REGS:-30000}
R=${BENCH_RUNS:-3}
P=${BENCH_SIPP_PROCS:-4}
C=${BENCH_SIPP_CALLS:-50}
SCEN=$ROOT/tests/sipp/register_auth.xml
WORK=$(mktemp -d /tmp/bench-register.XXXXXX)
SIPP_PIDS=()
cleanup() {
  local p
  for p in "${SIPP_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  srv_cleanup
  [ -n "${BENCH_KEEP:-}" ] && { echo "# kept $WORK" >&2; return; }
  rm -rf "$WORK"
}
trap cleanup EXIT
log() { echo "# $*" >&2; }

# sipp_run NAME HOST:PORT TRANSPORT(u1|t1) COUNT -> prints "ok failed secs"
sipp_run() {
  local name=$1 target=$2 tp=$3 count=$4 i per s e ok=0 failed=0
  per=$(( (count + P - 1) / P ))
  SIPP_PIDS=()
  s=$(date +%s.%N)
  for ((i = 0; i < P; i++)); do
    sipp -sf "$SCEN" -inf "$WORK/part$i.csv" -t "$tp" -i 127.0.0.1 \
      -p $((26050 + i)) "$target" -m "$per" -l "$C" -r 100000 -rp 1000 \
      -auth_uri dataline.local -nostdin -recv_timeout 10000 -trace_stat -stf "$WORK/$name.$i.csv" \
      -fd 60 -trace_err -error_file "$WORK/$name.$i.err" > "$WORK/$name.$i.out" 2>&1 &
    SIPP_PIDS+=($!)
  done
  for i in "${SIPP_PIDS[@]}"; do wait "$i"; done
  e=$(date +%s.%N)
  SIPP_PIDS=()
  for ((i = 0; i < P; i++)); do
    read -r a b < <(awk -F';' 'NR == 1 { for (k = 1; k <= NF; k++) col[$k] = k }
      END { print $col["SuccessfulCall(C)"] + 0, $col["FailedCall(C)"] + 0 }' \
      "$WORK/$name.$i.csv" 2>/dev/null)
    ok=$((ok + ${a:-0})); failed=$((failed + ${b:-0}))
  done
  echo "$ok $failed $(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.3f", e - s }')"
}

# one_run NAME HOST:PORT TRANSPORT COUNT: appends the rate (reg/s) of the
# successful registrations to RATES[NAME] and the failed ones to FAILED[NAME]
declare -A RATES FAILED
one_run() {
  local name=$1 ok failed secs
  read -r ok failed secs < <(sipp_run "$name" "$2" "$3" "$4")
  log "$name: ok=$ok failed=$failed in ${secs}s"
  if [ "$failed" -gt 0 ]; then
    FAILED[${name%-*}]=$(( ${FAILED[${name%-*}]:-0} + failed ))
    head -c 600 "$WORK/$name".*.err 2>/dev/null | sed 's/^/#   /' >&2
  fi
  [ "$ok" -gt 0 ] && RATES[${name%-*}]+=" $(awk -v n="$ok" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')"
}

# median NAME -> the median of RATES[NAME], "(N failed)" noted if any
median() {
  [ -z "${RATES[$1]:-}" ] && { echo "failed"; return; }
  printf '%s\n' ${RATES[$1]} | sort -n |
    awk -v f="${FAILED[$1]:-0}" '{ a[NR] = $1 } END { printf "%s%s\n", a[int((NR + 1) / 2)], f ? " (" f " failed)" : "" }'
}

# measure TRANSPORT(udp|tcp): a warm-up of each server, then R rounds of
# one run on dataline-server and one on Kamailio, alternated so that a
# change in the machine's load falls on both contenders alike.
# The server not being measured is stopped (SIGSTOP), so its timers (a
# transaction table expiring, a write-behind flush) cost the other nothing.
only() { # dl|kam: lets that server run, stops the other
  local dl=() kam=()
  [ "$DL_UP" = 1 ] && dl=("$SRV_PID")
  [ "$KAM_UP" = 1 ] && mapfile -t kam < <(pgrep -f "$KAM_DIR/kamailio.cfg")
  if [ "$1" = dl ]; then
    [ ${#kam[@]} -gt 0 ] && kill -STOP "${kam[@]}"; [ ${#dl[@]} -gt 0 ] && kill -CONT "${dl[@]}"
  else
    [ ${#dl[@]} -gt 0 ] && kill -STOP "${dl[@]}"; [ ${#kam[@]} -gt 0 ] && kill -CONT "${kam[@]}"
  fi
  sleep 0.2
}
run_dl() { [ "$DL_UP" = 1 ] && { only dl; one_run "dl-$1" "127.0.0.1:$SRV_SIP" "$2" "$3"; }; }
run_kam() { [ "$KAM_UP" = 1 ] && { only kam; one_run "kam-$1" 127.0.0.1:26010 "$2" "$3"; }; }
measure() {
  local tp=$1 t=${1:0:1}1 r
  run_dl "$tp-warm" "$t" 1000
  run_kam "$tp-warm" "$t" 1000
  for ((r = 1; r <= R; r++)); do
    run_dl "$tp-$r" "$t" "$N"
    run_kam "$tp-$r" "$t" "$N"
  done
  RATE[dl,$tp]=n/a RATE[kam,$tp]=n/a
  [ "$DL_UP" = 1 ] && RATE[dl,$tp]=$(median "dl-$tp")
  [ "$KAM_UP" = 1 ] && RATE[kam,$tp]=$(median "kam-$tp")
}

# Injection files: the accounts split into P slices, one per SIPp process.
# SIPp 3.6.1 reads a password that starts with "0x" as hex bytes (and so
# answers with a wrong digest, on both servers alike); the server's random
# passwords start so about once in 3,844 accounts, so those are left out.
split_users() {
  local i
  for ((i = 0; i < P; i++)); do
    awk -F';' -v p="$P" -v i="$i" 'BEGIN { print "SEQUENTIAL" }
      /^\+/ && $2 !~ /password=0x/ && (n++ % p) == i { print $1 ";" $2 }' "$1" > "$WORK/part$i.csv"
  done
}

declare -A RATE
CREDS=$WORK/creds.csv
if srv_start bench-register 26000 --workers "$W" --log-level warn \
     --code-max-per-client-hour 100000 --code-max-per-number-hour 1000 \
     --code-resend-interval 0 --max-bindings-per-device 20 \
     --digest-algorithms MD5,SHA-256 >&2 &&
   python3 "$ROOT/tests/tools/provision.py" --http "127.0.0.1:$SRV_HTTP" \
     --spool "$SRV_VAR/sms.spool" --numbers "$ROOT/tests/sipp/users.csv" \
     --out "$CREDS" >&2; then
  split_users "$CREDS"
  DL_UP=1
else
  log "dataline-server could not be started or provisioned"
  DL_UP=0
  # Kamailio still runs, with made-up credentials of the same shape.
  awk -F';' 'BEGIN { print "SEQUENTIAL" } /^\+/ {
      u = substr($1, 2) "-" sprintf("%08x", NR); p = "pw" NR "x0123456789abcdefghij"
      print $1 ";[authentication username=" u " password=" p "];" u ";" p }' \
    "$ROOT/tests/sipp/users.csv" > "$CREDS"
  split_users "$CREDS"
fi

KAM_UP=0
kam_start bench-register 26010 26011 "$W" "$CREDS" >&2 && KAM_UP=1
# both servers run from here on, each idle while the other is measured
measure udp
measure tcp
only dl; [ "$KAM_UP" = 1 ] && pkill -CONT -f "$KAM_DIR/kamailio.cfg"

ratio() {
  awk -v a="${1%% *}" -v b="${2%% *}" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2fx", a / b; else print "n/a" }'
}
kver=$(kamailio -v 2>/dev/null | awk 'NR == 1 { print $3 }')
cat <<EOF
## SIP REGISTER with digest authentication: dataline-server vs Kamailio

Authenticated registrations per second (one = REGISTER, 401 challenge,
REGISTER with Authorization, 200), driven by SIPp $(sipp -v 2>/dev/null | grep -o 'v[0-9.]*' | head -n 1 | tr -d v)
with \`tests/sipp/register_auth.xml\`: $P SIPp processes at once, $C
registrations in flight each, 1,000 accounts, $N registrations per run
after a warm-up, median of $R runs; both servers up side by side and
their runs alternated (dataline, Kamailio, dataline, ...; the one not
measured is stopped with SIGSTOP), so a change in the shared machine's
load falls on both. Both run $W workers on the
same $(nproc)-CPU machine as SIPp; digest MD5 with qop=auth (SIPp 3.6.1
knows no SHA-256 and reads only the first challenge, so dataline-server
runs with --digest-algorithms MD5,SHA-256). "(N failed)": registrations
SIPp gave up on, left out of the rate. Kamailio $kver: \`tests/kamailio/registrar.cfg\`
(auth_db on db_sqlite with HA1, nonce-count checked, usrloc in memory
only, while dataline-server also persists bindings to SQLite).

| contender | UDP (reg/s) | TCP (reg/s) |
| --- | ---: | ---: |
| dataline-server ($W workers) | ${RATE[dl,udp]} | ${RATE[dl,tcp]} |
| Kamailio $kver (children=$W, tcp_children=$W) | ${RATE[kam,udp]} | ${RATE[kam,tcp]} |
| ratio dataline / Kamailio (target >= 1.5x) | $(ratio "${RATE[dl,udp]}" "${RATE[kam,udp]}") | $(ratio "${RATE[dl,tcp]}" "${RATE[kam,tcp]}") |

EOF
# Exit 0 only when all four figures were measured.
for k in dl,udp dl,tcp kam,udp kam,tcp; do
  [[ "${RATE[$k]}" =~ ^[0-9] ]] || exit 1
done
exit 0
