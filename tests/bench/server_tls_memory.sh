#!/usr/bin/env bash
# tests/bench/server_tls_memory.sh: memory per idle, registered SIP-over-TLS
# connection (RFC 3261 s.26, RFC 5630) with 10,000 connections held,
# dataline-server vs Kamailio 5.6 measured the same way in the same run.
# Prints a markdown section (scripts/bench.sh collects it into
# docs/bench.md).
#
# Method:
# - the same 1,000 accounts on both (dataline: through the provisioning
#   API; Kamailio: the same usernames/HA1 in its subscriber table);
# - tests/tools/tlsload hold: K client processes (a process may hold at
#   most 20,000 open files here), each opening its share of the N
#   connections (WIN handshakes in flight at a time); every connection
#   does a TLS handshake and a digest-authenticated REGISTER of its own
#   Contact (10 connections per account), then stays open and idle;
# - memory = the server's proportional set size (PSS, from
#   /proc/PID/smaps_rollup, summed over all its processes: Kamailio keeps
#   connections and OpenSSL state in shared memory, which PSS counts once)
#   after all N are registered and idle, minus the same before the first
#   connection (after provisioning and one warm-up connection), divided by
#   N. For Kamailio its own shm accounting (kamcmd core.shmmem real_used,
#   delta / N) is shown too. Kamailio runs with tls ssl_release_buffers=1
#   (its best case); dataline with its defaults.
# Knobs: BENCH_TLS_CONNS (N, 10000), BENCH_TLS_PROCS (K, 1),
# BENCH_TLS_WINDOW_DL (50), BENCH_TLS_WINDOW_KAM (1), BENCH_WORKERS. Ports 26200-26299.
set -uo pipefail
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/integration/lib.sh"
source "$ROOT/tests/tools/server_env.sh"

W=${BENCH_WORKERS:-$(nproc)}
N=${BENCH_TLS_CONNS:-10000}
# One client process (10,000 files fit under the 20,000 limit; split with
# BENCH_TLS_PROCS for more). Handshakes in flight: Kamailio 5.6.3 with
# OpenSSL 3 corrupts its shared memory ("freeing already freed pointer"
# in tls_init.c, then SIGSEGV in a TCP child) as soon as two TLS
# handshakes overlap, even two at a time; one at a time it holds 10,000,
# so it gets 1. dataline-server answers a REGISTER once the binding is
# on disk (tens of ms), so one at a time would take minutes: it gets 50.
# What is held idle at the end is the same either way.
K=${BENCH_TLS_PROCS:-1}
WIN_DL=${BENCH_TLS_WINDOW_DL:-50}
WIN_KAM=${BENCH_TLS_WINDOW_KAM:-1}
WORK=$(mktemp -d /tmp/bench-tlsmem.XXXXXX)
HOLD_PIDS=()
release_clients() {
  local p
  [ -n "${HOLD_FD:-}" ] && exec {HOLD_FD}>&-
  HOLD_FD=
  for p in "${HOLD_PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  HOLD_PIDS=()
}
cleanup() { release_clients; srv_cleanup; rm -rf "$WORK"; }
trap cleanup EXIT
log() { echo "# $*" >&2; }

# hold TARGET_PORT WINDOW -> starts K tlsload processes; returns once all
# report "held"; sets HELD to the number of connections the SERVER has
# established on TARGET_PORT (ss), which is what is measured. Not to be
# called in $(...): the clients hold only while this shell keeps the fifo.
hold() {
  local port=$1 win=$2 i per=$(( (N + K - 1) / K )) held=0 line
  rm -f "$WORK/hold.fifo"; mkfifo "$WORK/hold.fifo"
  for ((i = 0; i < K; i++)); do
    "$OUT/tools/tlsload" hold -s "127.0.0.1:$port" -n "$per" -U "$CREDS" \
      -P 10 -o $((i * per / 10)) -w "$win" -T 900 < "$WORK/hold.fifo" \
      > "$WORK/hold.$i.out" 2> "$WORK/hold.$i.err" &
    HOLD_PIDS+=($!)
  done
  exec {HOLD_FD}> "$WORK/hold.fifo"  # the clients hold until it closes
  for ((i = 0; i < K; i++)); do
    while ! grep -q '^held' "$WORK/hold.$i.out" 2>/dev/null; do
      kill -0 "${HOLD_PIDS[$i]}" 2>/dev/null || break
      sleep 0.5
    done
    line=$(grep '^held' "$WORK/hold.$i.out")
    log "client $i: $line $(head -c 300 "$WORK/hold.$i.err")"
    held=$((held + $(sed -n 's/.*ok=\([0-9]*\).*/\1/p' <<< "$line")))
  done
  sleep 3  # let the server finish writing what the last REGISTERs caused
  log "clients report $held registered connections"
  HELD=$(ss -tnH state established "( sport = :$port )" | wc -l)
}

per_conn_kib() {
  awk -v d="$1" -v n="$2" 'BEGIN { if (n > 0) printf "%.1f", d / n; else print "n/a" }'
}

CREDS=$WORK/creds.csv
DL_HELD=0 DL_KIB=n/a DL_RSS_KIB=n/a
if srv_start bench-tlsmem 26200 --workers "$W" --log-level warn \
     --code-max-per-client-hour 100000 --code-max-per-number-hour 1000 \
     --code-resend-interval 0 --max-bindings-per-device 20 \
     --max-tcp-conns-per-client 20000 >&2 &&
   python3 "$ROOT/tests/tools/provision.py" --http "127.0.0.1:$SRV_HTTP" \
     --spool "$SRV_VAR/sms.spool" --numbers "$ROOT/tests/sipp/users.csv" \
     --out "$CREDS" >&2; then
  "$OUT/tools/tlsload" storm -s "127.0.0.1:$SRV_TLS" -n 1 -r 1 >&2
  sleep 1
  b_pss=$(pss_kb "$SRV_PID") b_rss=$(rss_kb "$SRV_PID")
  hold "$SRV_TLS" "$WIN_DL"; DL_HELD=$HELD
  a_pss=$(pss_kb "$SRV_PID") a_rss=$(rss_kb "$SRV_PID")
  log "dataline: PSS $b_pss -> $a_pss KiB, RSS $b_rss -> $a_rss KiB, held $DL_HELD"
  DL_KIB=$(per_conn_kib $((a_pss - b_pss)) "$DL_HELD")
  DL_RSS_KIB=$(per_conn_kib $((a_rss - b_rss)) "$DL_HELD")
  DL_FDS=$(ls "/proc/$SRV_PID/fd" | wc -l)
  log "dataline: $DL_FDS open files"
  release_clients
  srv_kill TERM
else
  log "dataline-server could not be started or provisioned"
  awk -F';' 'BEGIN { print "SEQUENTIAL" } /^\+/ {
      u = substr($1, 2) "-" sprintf("%08x", NR); p = "pw" NR "x0123456789abcdefghij"
      print $1 ";[authentication username=" u " password=" p "];" u ";" p }' \
    "$ROOT/tests/sipp/users.csv" > "$CREDS"
fi

# Kamailio twice: with tls ssl_release_buffers=1 (its best case) and
# without (OpenSSL's default), the two figures issue 3 quotes.
declare -A KAM_HELD KAM_KIB KAM_SHM_KIB
shm() { kamcmd -s "unix:$KAM_CTL" core.shmmem | awk '/real_used/ { print int($2 / 1024) }'; }
for v in release keep; do
  KAM_HELD[$v]=0 KAM_KIB[$v]=n/a KAM_SHM_KIB[$v]=n/a
  defs=; [ $v = keep ] && defs=TLS_KEEP_BUFFERS
  if KAM_DEFINES=$defs KAM_SHM_MB=2048 kam_start bench-tlsmem 26210 26211 "$W" "$CREDS" tls >&2; then
    "$OUT/tools/tlsload" storm -s 127.0.0.1:26211 -n 1 -r 1 >&2
    sleep 1
    b_pss=$(pss_kb $(kam_pids)) b_shm=$(shm)
    hold 26211 "$WIN_KAM"; KAM_HELD[$v]=$HELD
    a_pss=$(pss_kb $(kam_pids)) a_shm=$(shm)
    log "kamailio ($v buffers): PSS $b_pss -> $a_pss KiB, shm $b_shm -> $a_shm KiB, held $HELD"
    KAM_KIB[$v]=$(per_conn_kib $((a_pss - b_pss)) "$HELD")
    KAM_SHM_KIB[$v]=$(per_conn_kib $((a_shm - ${b_shm:-0})) "$HELD")
    release_clients
    kill -TERM "$KAM_PID"; wait "$KAM_PID" 2>/dev/null
    for ((i = 0; i < 50; i++)); do  # its children too, before the next one
      ss -ltnH "( sport = :26211 )" | grep -q . || break
      sleep 0.2
    done
  fi
done

kver=$(kamailio -v 2>/dev/null | awk 'NR == 1 { print $3 }')
ratio=$(awk -v a="$DL_KIB" -v b="${KAM_KIB[release]}" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.1fx less", b / a; else print "n/a" }')
cat <<EOF
## Memory per idle registered TLS connection: dataline-server vs Kamailio

$N SIP-over-TLS connections held open and idle, each after a TLS
handshake ($(openssl version | awk '{ print $1, $2 }')) and a digest-authenticated REGISTER of its own
Contact (tests/tools/tlsload, $K client processes, 1,000 accounts, 10
connections each; handshakes in flight: $WIN_DL for dataline, $WIN_KAM for
Kamailio, which crashes when they overlap). "Connections held" is what
the server has established at the end (ss). Memory is the server's PSS (/proc/PID/smaps_rollup,
summed over all its processes) with the connections held minus before,
divided by the connections held. Both servers run $W workers. Kamailio
$kver with \`tests/kamailio/registrar.cfg\` (-A WITH_TLS), once with tls
ssl_release_buffers=1 (its best case) and once without (-A TLS_KEEP_BUFFERS).

| contender | connections held | KiB per connection (PSS) | other measure |
| --- | ---: | ---: | --- |
| dataline-server ($W workers) | $DL_HELD | $DL_KIB | VmRSS: $DL_RSS_KIB KiB/conn |
| Kamailio $kver, ssl_release_buffers=1 | ${KAM_HELD[release]} | ${KAM_KIB[release]} | shm real_used: ${KAM_SHM_KIB[release]} KiB/conn |
| Kamailio $kver, OpenSSL buffers kept | ${KAM_HELD[keep]} | ${KAM_KIB[keep]} | shm real_used: ${KAM_SHM_KIB[keep]} KiB/conn |
| ratio to Kamailio's best (target: dataline under 16 KiB) | | $ratio | |

EOF
# Exit 0 only when both were measured with every connection held.
[ "$DL_HELD" -eq "$N" ] && [ "${KAM_HELD[release]}" -eq "$N" ] && [ "${KAM_HELD[keep]}" -eq "$N" ]
