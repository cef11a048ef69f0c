#!/usr/bin/env bash
# tests/bench/server_delivery.sh: texts to an ONLINE recipient, end to
# end: SIPp sends MESSAGE with proxy digest (tests/sipp/message_auth.xml)
# to a number whose device is registered; the device is
# tests/tools/msgsink.c (REGISTER with digest over UDP, then a 200 to
# every MESSAGE). dataline-server stores the text (fsynced), answers 202
# and delivers it over the device's flow; Kamailio 5.6 as a proxy
# (tests/kamailio/relay.cfg, NO msilo: auth, lookup("location"),
# t_relay) only forwards it. Both in the same run, alternated, the idle
# one SIGSTOPped. Two measures:
# 1. latency: one sender process at a fixed rate (SIPp -r, 1,000/s and
#    200/s), one recipient device; the body carries the wall-clock time
#    SIPp took just before the authenticated MESSAGE left, the sink
#    subtracts it on receipt: p50/p99 per text, sender to recipient.
# 2. relay throughput: closed loop (P SIPp processes, C texts in flight
#    each) to S recipients, one device each; delivered texts per second
#    = texts the sinks got / (last receipt - first receipt, all sinks).
# Prints a markdown section (scripts/bench.sh collects it).
# Knobs: BENCH_WORKERS, BENCH_LAT_SECS (seconds per latency run, 10),
# BENCH_TEXTS (N per throughput run, 20000), BENCH_RUNS (R, 3),
# BENCH_SIPP_PROCS (P, 4), BENCH_SIPP_CALLS (C, 50), BENCH_SINKS (S, 8),
# BENCH_KEEP=1. Ports 27520-27549 (servers), 27550-27599 (SIPp, sinks).
set -uo pipefail
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/integration/lib.sh"
source "$ROOT/tests/tools/server_env.sh"
source "$ROOT/tests/tools/bench_sipp.sh"

W=${BENCH_WORKERS:-$(nproc)}
LAT_SECS=${BENCH_LAT_SECS:-10}
N=${BENCH_TEXTS:-20000}
R=${BENCH_RUNS:-3}
BS_P=${BENCH_SIPP_PROCS:-4}
BS_C=${BENCH_SIPP_CALLS:-50}
S=${BENCH_SINKS:-8}
SCEN=$ROOT/tests/sipp/message_auth.xml
SINK=$OUT/tools/msgsink
WORK=$(mktemp -d /tmp/bench-delivery.XXXXXX)
trap bs_cleanup EXIT
[ -x "$SINK" ] || { log "$SINK is not built"; exit 1; }

CREDS=$WORK/creds.csv
bs_start_dl bench-delivery 27520 "$CREDS"
KAM_UP=0
KAM_CFG=$ROOT/tests/kamailio/relay.cfg kam_start bench-delivery 27530 27531 "$W" "$CREDS" >&2 && KAM_UP=1

# recipients: the last S usable accounts; senders: the others
grep -v 'password=0x' "$CREDS" | awk -F';' '/^\+/' > "$WORK/usable.csv"
tail -n "$S" "$WORK/usable.csv" > "$WORK/rcpt.csv"
head -n -"$S" "$WORK/usable.csv" > "$WORK/senders.csv"
mapfile -t RCPT < <(cut -d';' -f1 "$WORK/rcpt.csv")

# sinks: S devices registered on each server (dataline: local ports
# 27560+k, Kamailio: 27580+k)
start_sinks() { # dl|kam
  local who=$1 k target port0 num user pass line
  [ "$who" = dl ] && { target=127.0.0.1:$SRV_SIP; port0=27560; }
  [ "$who" = kam ] && { target=127.0.0.1:27530; port0=27580; }
  for ((k = 0; k < S; k++)); do
    IFS=';' read -r num _ user pass < <(sed -n "$((k + 1))p" "$WORK/rcpt.csv")
    "$SINK" -s "$target" -l "127.0.0.1:$((port0 + k))" -n "$num" -u "$user" \
      -p "$pass" > "$WORK/sink-$who-$k.out" 2>>"$WORK/sink-$who-$k.err" &
    SINK_PIDS+=($!)
    eval "SINK_${who}_$k=$!"
  done
  for ((k = 0; k < S; k++)); do
    for ((i = 0; i < 100; i++)); do
      grep -q registered "$WORK/sink-$who-$k.out" 2>/dev/null && break
      sleep 0.1
    done
    grep -q registered "$WORK/sink-$who-$k.out" || { log "sink $who $k did not register"; return 1; }
  done
}
# sink_reset WHO / sink_report WHO K: SIGUSR1 starts counting afresh; the
# report is its newest line
sink_signal() { # WHO K -> waits for the new line
  local pid n i
  eval "pid=\$SINK_$1_$2"
  n=$(wc -l < "$WORK/sink-$1-$2.out")
  kill -USR1 "$pid"
  for ((i = 0; i < 50; i++)); do
    [ "$(wc -l < "$WORK/sink-$1-$2.out")" -gt "$n" ] && break
    sleep 0.05
  done
  tail -n 1 "$WORK/sink-$1-$2.out"
}
sinks_reset() { local k; for ((k = 0; k < S; k++)); do sink_signal "$1" "$k" >/dev/null; done; }

[ "$DL_UP" = 1 ] && { start_sinks dl || DL_UP=0; }
[ "$KAM_UP" = 1 ] && { start_sinks kam || KAM_UP=0; }

# dataline answers 202 before it delivers: a run ends when every stored
# text reached the device (delivered == accepted), at most 120 s
dl_drain() {
  local i a d
  for ((i = 0; i < 1200; i++)); do
    a=$(metric dataline_texts_accepted_total); d=$(metric dataline_texts_delivered_total)
    [ "$d" -ge "$a" ] && return 0
    sleep 0.1
  done
  log "dataline: delivered $d of $a accepted after 120 s"
}
target_of() { [ "$1" = dl ] && echo "127.0.0.1:$SRV_SIP" || echo 127.0.0.1:27530; }

# 1. latency at a fixed rate, one sender process, recipient 0
declare -A LAT
latency_run() { # WHO RATE
  local who=$1 rate=$2 ok failed secs rt line saveP=$BS_P
  up "$who" || return
  only "$who"
  awk -F';' -v r="${RCPT[0]}" 'BEGIN { print "SEQUENTIAL" } { print $1 ";" $2 ";" r }' \
    "$WORK/senders.csv" > "$WORK/part0.csv"
  sinks_reset "$who"
  BS_P=1
  read -r ok failed secs rt _ < <(bs_sipp "lat-$who-$rate" "$(target_of "$who")" u1 \
    $((rate * LAT_SECS)) "$SCEN" 27550 -r "$rate" -l 2000)
  BS_P=$saveP
  [ "$who" = dl ] && dl_drain
  sleep 0.5
  line=$(sink_signal "$who" 0)
  log "lat-$who-$rate: sipp ok=$ok failed=$failed ${secs}s rt=$rt; sink: $line"
  LAT[$who,$rate]="$(kv p50_us <<< "$line") $(kv p99_us <<< "$line") $(kv count <<< "$line") $failed"
}
for rate in 1000 200; do
  latency_run dl "$rate"
  latency_run kam "$rate"
done

# 2. relay throughput, closed loop, S recipients
declare -A TPUT FAILED WARM
tput_run() { # WHO NAME COUNT
  local who=$1 name=$2 count=$3 ok failed secs rt k line first last total=0 f0=0 l0=0
  up "$who" || return
  only "$who"
  sinks_reset "$who"
  read -r ok failed secs rt _ < <(bs_sipp "$name" "$(target_of "$who")" u1 "$count" "$SCEN" 27550 -r 100000 -rp 1000)
  [ "$who" = dl ] && dl_drain
  sleep 0.5
  for ((k = 0; k < S; k++)); do
    line=$(sink_signal "$who" "$k")
    total=$((total + $(kv count <<< "$line")))
    first=$(kv first <<< "$line"); last=$(kv last <<< "$line")
    f0=$(awk -v a="$f0" -v b="$first" 'BEGIN { printf "%.6f", (a == 0 || (b > 0 && b < a)) ? b : a }')
    l0=$(awk -v a="$l0" -v b="$last" 'BEGIN { printf "%.6f", (b > a) ? b : a }')
  done
  local rate
  rate=$(awk -v n="$total" -v a="$f0" -v b="$l0" 'BEGIN { if (b > a) printf "%.0f", n / (b - a); else print 0 }')
  log "$name: sipp ok=$ok failed=$failed in ${secs}s (rt $rt); sinks got $total in $(awk -v a="$f0" -v b="$l0" 'BEGIN { printf "%.3f", b - a }')s: $rate/s"
  [[ "$name" == *warm ]] && { WARM[$who]=$rate; return; }
  FAILED[$who]=$(( ${FAILED[$who]:-0} + failed + (ok > total ? ok - total : 0) ))
  [ "$rate" -gt 0 ] && TPUT[$who]+=" $rate"
}
# senders dealt out to the P processes, recipients round-robin
for ((i = 0; i < BS_P; i++)); do
  awk -F';' -v p="$BS_P" -v i="$i" -v rc="${RCPT[*]}" 'BEGIN { print "SEQUENTIAL"; ns = split(rc, r, " ") }
    (NR - 1) % p == i { print $1 ";" $2 ";" r[(n++ % ns) + 1] }' "$WORK/senders.csv" > "$WORK/part$i.csv"
done
tput_run dl dl-warm 2000
tput_run kam kam-warm 2000
for ((r = 1; r <= R; r++)); do
  tput_run dl "dl-$r" "$N"
  tput_run kam "kam-$r" "$N"
done
bs_resume

ms() { awk -v u="$1" 'BEGIN { if (u == "" || u == "n/a") print "n/a"; else printf "%.1f", u / 1000 }'; }
lat_cell() { # WHO RATE FIELD(1 p50, 2 p99, 3 count, 4 failed)
  local v=${LAT[$1,$2]:-}
  [ -z "$v" ] && { echo n/a; return; }
  set -- $v "$3"
  case $5 in 1) ms "$1" ;; 2) ms "$2" ;; 3) echo "$3" ;; 4) echo "$4" ;; esac
}
TD=$(median "${TPUT[dl]:-}") TK=$(median "${TPUT[kam]:-}")
kver=$(kamailio -v 2>/dev/null | awk 'NR == 1 { print $3 }')
cat <<EOF
## Texts to an online recipient: dataline-server vs Kamailio as a relay

A text sent with SIPp $(sipp -v 2>/dev/null | grep -o 'v[0-9.]*' | head -n 1 | tr -d v) (\`tests/sipp/message_auth.xml\`, UDP: MESSAGE, 407,
MESSAGE with Proxy-Authorization) to a number whose device
(\`tests/tools/msgsink.c\`: REGISTER with digest, then 200 to every
MESSAGE) is registered. dataline-server stores the text durably
(fsynced), answers 202 and delivers it over the device's flow; Kamailio
$kver (\`tests/kamailio/relay.cfg\`: auth_db, \`lookup("location")\`,
\`t_relay()\`, no msilo) only forwards it. Both run $W workers on the same
$(nproc)-CPU machine, both up side by side, runs alternated, the idle one
SIGSTOPped.

**Latency**: one SIPp process at a fixed rate for ${LAT_SECS} s, one recipient
device; SIPp stamps the wall clock in the body just before the
authenticated MESSAGE leaves, the device subtracts it on receipt
(dataline: until every stored text was delivered). "got": texts the
device received; "failed": texts SIPp gave up on.

| contender | rate | p50 (ms) | p99 (ms) | got | failed |
| --- | ---: | ---: | ---: | ---: | ---: |
| dataline-server | 1,000/s | $(lat_cell dl 1000 1) | $(lat_cell dl 1000 2) | $(lat_cell dl 1000 3) | $(lat_cell dl 1000 4) |
| Kamailio $kver relay | 1,000/s | $(lat_cell kam 1000 1) | $(lat_cell kam 1000 2) | $(lat_cell kam 1000 3) | $(lat_cell kam 1000 4) |
| dataline-server | 200/s | $(lat_cell dl 200 1) | $(lat_cell dl 200 2) | $(lat_cell dl 200 3) | $(lat_cell dl 200 4) |
| Kamailio $kver relay | 200/s | $(lat_cell kam 200 1) | $(lat_cell kam 200 2) | $(lat_cell kam 200 3) | $(lat_cell kam 200 4) |

Target: dataline p99 < 5 ms at 1,000/s. dataline delivers to one device
one text at a time (deliver.c: a lane has at most one text in flight,
the next is read only after the device's 200 has been acknowledged in
the queue), so one device takes at most about one text per queue round
trip; past that the texts wait in the queue and the latency is their
wait.

**Relay throughput**: closed loop, $BS_P SIPp processes with $BS_C texts in
flight each, to $S recipients (one device each, round-robin), $N texts per
run after a warm-up, median of $R runs. Delivered texts/s = texts all
devices got / (last receipt - first receipt). "lost": texts SIPp gave up
on, plus 2xx-answered texts no device got. "2,000 texts": the warm-up
run, one figure: dataline's rate depends on how many texts wait in its
queue (SQLite plans the read of "the next text for this device",
SQL_PENDING in server/queue/queue_read.c, on the items_expires index: a
scan of every pending item of every recipient, then a sort), Kamailio's
does not.

| contender | delivered texts/s ($N texts) | lost | 2,000 texts |
| --- | ---: | ---: | ---: |
| dataline-server (store, 202, deliver) | $TD | ${FAILED[dl]:-n/a} | ${WARM[dl]:-n/a} |
| Kamailio $kver (relay only) | $TK | ${FAILED[kam]:-n/a} | ${WARM[kam]:-n/a} |
| ratio dataline / Kamailio (target >= 1.5x) | $(ratio "$TD" "$TK") | | $(ratio "${WARM[dl]:-}" "${WARM[kam]:-}") |

EOF
[[ "$TD" =~ ^[0-9] ]] && [[ "$TK" =~ ^[0-9] ]]
