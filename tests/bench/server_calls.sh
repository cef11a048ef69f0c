#!/usr/bin/env bash
# tests/bench/server_calls.sh: call setup through the server (issue 9,
# "Must show: Call setup"): INVITE/407/ACK/INVITE/200/ACK/BYE/200 per
# second, dataline-server with the C3 gate and the media relay on (its
# default configuration) against Kamailio 5.6 as a plain stateful proxy
# (tests/kamailio/calls.cfg: registrar, 407 proxy digest, usrloc lookup,
# record_route, t_relay; no gate, no SDP rewriting, no relay), in the
# same run, the same SIPp pair against both.
#   - Callee: one account; its device is a SIPp UAS
#     (tests/sipp/call_uas.xml) that first registered with digest from
#     the same UDP port (tests/sipp/register_auth.xml), so the proxy's
#     INVITE reaches it over that flow. For dataline the callee's network
#     figures are PUBLISHed once before the runs (rate 2000 kbit/s, above
#     threshold 2 = --call-min-kbps 48) with tests/tools/sipua.py: the
#     gate reads them from presence on every call (the path measured; the
#     OPTIONS path is not: --call-figures-max-age 3600 keeps them fresh
#     for the whole bench, and the bench fails if the gate asked or had no
#     figures).
#   - Callers: SIPp UACs (tests/sipp/call_uac_auth.xml), the other
#     accounts, each call answering the 407 with digest, SDP offer,
#     hang-up at once after the ACK.
#   - Closed loop ("max"): BENCH_CALLS_L calls in flight per UAC, a new
#     call as soon as one ends: calls/s completed = successful calls /
#     wall time. Open loop at fixed rates (BENCH_CALLS_RATES): new calls
#     at -r whatever the answers; failures, SIPp retransmissions, and the
#     response time of the authenticated INVITE to its 200 (rtd 2: the
#     proxy's work, gate, relay and the callee's answer) p50/p99.
# All of it runs in a private network namespace (unshare -n, gone when
# the last process of the bench exits), so that the relay's ports
# (40000-40999, the default) and the SIP ports cannot collide with
# anything else on the machine. Ports 29600-29603 dataline, 29605
# Kamailio, 29610-29619 SIPp UACs, 29620/29621 the UAS of each server.
# Knobs: BENCH_WORKERS, BENCH_CALLS_MAX (calls per closed-loop run,
# 15000), BENCH_CALLS_L (calls in flight per UAC, "10 30"), BENCH_CALLS_RATES ("1000 2000"),
# BENCH_CALLS_OPEN (calls per open-loop run, 10000), BENCH_KEEP=1.
# Re-run alone: scripts/bench.sh server_calls.
set -uo pipefail
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
if [ -z "${BENCH_CALLS_NS:-}" ]; then
  exec unshare -n env BENCH_CALLS_NS=1 bash "$0" "$@"
fi
ip link set lo up || exit 1
source "$ROOT/tests/integration/lib.sh"
source "$ROOT/tests/tools/server_env.sh"
source "$ROOT/tests/tools/bench_sipp.sh"

W=${BENCH_WORKERS:-$(nproc)}
CMAX=${BENCH_CALLS_MAX:-15000}
LS=${BENCH_CALLS_L:-10 30}
RATES=${BENCH_CALLS_RATES:-1000 2000}
COPEN=${BENCH_CALLS_OPEN:-10000}
NUAC=2
KPORT=29605
declare -A UAS_PORT=([dl]=29620 [kam]=29621)
WORK=$(mktemp -d /tmp/bench-calls.XXXXXX)
UAS_PID=
calls_cleanup() {
  [ -n "$UAS_PID" ] && kill "$UAS_PID" 2>/dev/null && wait "$UAS_PID" 2>/dev/null
  bs_cleanup
}
trap calls_cleanup EXIT

CREDS=$WORK/creds.csv
bs_start_dl bench-calls 29600 "$CREDS" --max-bindings-per-device 20 \
  --digest-algorithms MD5,SHA-256 --call-figures-max-age 3600
KAM_UP=0
KAM_CFG=$ROOT/tests/kamailio/calls.cfg kam_start bench-calls $KPORT $((KPORT + 1)) "$W" "$CREDS" >&2 && KAM_UP=1

# accounts: the last one is the callee, the others call it
grep -v 'password=0x' "$CREDS" | awk -F';' '/^\+/' > "$WORK/usable.csv"
CALLEE_LINE=$(tail -n 1 "$WORK/usable.csv")
CALLEE=${CALLEE_LINE%%;*}
printf 'SEQUENTIAL\n%s\n' "$CALLEE_LINE" > "$WORK/callee.csv"
head -n -1 "$WORK/usable.csv" > "$WORK/callers.csv"
for ((i = 0; i < NUAC; i++)); do
  awk -F';' -v p="$NUAC" -v i="$i" -v b="$CALLEE" 'BEGIN { print "SEQUENTIAL" }
    (NR - 1) % p == i { print $1 ";" $2 ";" b }' "$WORK/callers.csv" > "$WORK/part$i.csv"
done
target_of() { [ "$1" = dl ] && echo "127.0.0.1:$SRV_SIP" || echo "127.0.0.1:$KPORT"; }

# the callee's device registers with each server from its UAS port
register_callee() {
  local who=$1
  up "$who" || return 1
  only "$who"
  sipp -sf "$ROOT/tests/sipp/register_auth.xml" -inf "$WORK/callee.csv" -i 127.0.0.1 \
    -p "${UAS_PORT[$who]}" "$(target_of "$who")" -m 1 -auth_uri dataline.local -nostdin \
    -recv_timeout 5000 > "$WORK/reg-$who.out" 2>&1
}
register_callee dl || { log "callee not registered with dataline"; DL_UP=0; }
register_callee kam || { log "callee not registered with Kamailio"; KAM_UP=0; }
if up dl; then
  only dl
  IFS=';' read -r _ _ cu cp <<< "$CALLEE_LINE"
  printf '{"username": "%s", "password": "%s", "number": "%s", "domain": "%s"}\n' \
    "$cu" "$cp" "$CALLEE" "$DOMAIN" > "$WORK/callee.json"
  python3 "$ROOT/tests/tools/sipua.py" -t udp --server "127.0.0.1:$SRV_SIP" --creds "$WORK/callee.json" \
    -c "publish rate_kbps=2000 rtt_ms=40 loss_ppm=1000 link=up" > "$WORK/publish.out" 2>&1 ||
    { log "the callee's figures could not be published:"; sed 's/^/#   /' "$WORK/publish.out" >&2; DL_UP=0; }
fi

# rtd_pct NAME RTD: "p50 p99" in ms of SIPp's response times of that rtd
rtd_pct() {
  cat "$WORK/$1.rtt/"*_rtt.csv 2>/dev/null | awk -F';' -v r="$2" '$1 ~ /^[0-9]/ && $NF == r { print $(NF - 1) + 0 }' |
    sort -n | awk '{ a[NR] = $1 } END { if (!NR) { print "n/a n/a"; exit }
      printf "%.2f %.2f\n", a[int((NR - 1) * 0.5) + 1], a[int((NR - 1) * 0.99) + 1] }'
}

# cpu_ticks WHO: user+system clock ticks of all the server's processes
cpu_ticks() {
  local pids
  if [ "$1" = dl ]; then pids=$SRV_PID; else pids=$(pgrep -f "$KAM_DIR/kamailio.cfg"); fi
  for p in $pids; do cat "/proc/$p/stat"; done 2>/dev/null |
    awk '{ sub(/^.*\) /, ""); t += $12 + $13 } END { print t + 0 }'
}
HZ=$(getconf CLK_TCK)

declare -A RES
# run WHO MODE RATE COUNT [TAG]: MODE max (closed loop, RATE calls in
# flight per UAC) or open (RATE calls/s offered); TAG "-warm": not
# reported, else appended to the result's key (the pass)
run() {
  local who=$1 mode=$2 rate=$3 count=$4 tag=${5:-} name ok failed secs rt cr pr cps uok t0 cpc
  up "$who" || return
  name=$who-$mode-$rate$tag
  only "$who"
  t0=$(cpu_ticks "$who")
  sipp -sf "$ROOT/tests/sipp/call_uas.xml" -i 127.0.0.1 -p "${UAS_PORT[$who]}" -nostdin \
    -trace_stat -stf "$WORK/$name-uas.csv" -fd 1 -trace_err -error_file "$WORK/$name-uas.err" \
    > "$WORK/$name-uas.out" 2>&1 &
  UAS_PID=$!
  sleep 0.3
  BS_P=$NUAC BS_IPS=()
  for ((i = 0; i < NUAC; i++)); do BS_IPS+=("127.0.0.$((i + 2))"); done
  if [ "$mode" = max ]; then
    read -r ok failed secs rt cr < <(BS_C=$rate bs_sipp "$name" "$(target_of "$who")" u1 "$count" \
      "$ROOT/tests/sipp/call_uac_auth.xml" 29610 -r 100000 -timer_resol 1 -trace_rtt -rtt_freq 1000)
  else
    read -r ok failed secs rt cr < <(BS_C=$((rate * 3 / NUAC + 10)) bs_sipp "$name" "$(target_of "$who")" u1 "$count" \
      "$ROOT/tests/sipp/call_uac_auth.xml" 29610 -r $((rate / NUAC)) -timer_resol 1 -trace_rtt -rtt_freq 1000)
  fi
  kill "$UAS_PID" 2>/dev/null; wait "$UAS_PID" 2>/dev/null; UAS_PID=
  # calls per CPU-second of the server (its processes' user+system time)
  cpc=$(awk -v o="$ok" -v t="$(( $(cpu_ticks "$who") - t0 ))" -v hz="$HZ" 'BEGIN { printf "%.0f", (t > 0 ? o * hz / t : 0) }')
  uok=$(awk -F';' 'NR == 1 { for (k = 1; k <= NF; k++) col[$k] = k } END { print $col["SuccessfulCall(C)"] + 0 }' \
    "$WORK/$name-uas.csv" 2>/dev/null)
  pr=$(rtd_pct "$name" 2)
  cps=$(awk -v o="$ok" -v s="$secs" 'BEGIN { printf "%.0f", (s > 0 ? o / s : 0) }')
  log "$name: ok=$ok failed=$failed in ${secs}s = $cps calls/s, SIPp call rate $cr/s, retransmissions $rt, callee ok $uok, INVITE->200 p50/p99 $pr ms, $cpc calls per server CPU-second"
  sleep 1
  [ "$tag" = -warm ] && return
  RES[$who,$mode,$rate$tag]="$cps $ok $failed $rt $pr $cpc"
}

dl_started0=$(up dl && metric dataline_calls_started_total)
run dl max 10 2000 -warm
run kam max 10 2000 -warm
for l in $LS; do
  for pass in 1 2; do
    run dl max "$l" "$CMAX" ".$pass"
    run kam max "$l" "$CMAX" ".$pass"
  done
done
for rate in $RATES; do
  run dl open "$rate" "$COPEN"
  run kam open "$rate" "$COPEN"
done
bs_resume

gate_ok=1 gate_note="n/a"
if up dl; then
  only dl
  asked=$(metric dataline_calls_gate_asked_total); nofig=$(metric dataline_calls_gate_no_figures_total)
  refused=$(metric dataline_calls_gate_refused_total); answered=$(metric dataline_calls_answered_total)
  ended=$(metric dataline_calls_ended_total); started=$(metric dataline_calls_started_total)
  log "dataline metrics: calls started $started answered $answered ended $ended, gate asked $asked no-figures $nofig refused $refused"
  gate_note="$((started - ${dl_started0:-0})) calls started, $answered answered, $ended ended; gate: $refused refused, $asked asked by OPTIONS, $nofig without figures"
  [ "$asked" = 0 ] && [ "$nofig" = 0 ] && [ "$refused" = 0 ] && [ "$answered" -gt 0 ] || gate_ok=0
  bs_resume
fi

kver=$(kamailio -v 2>/dev/null | awk 'NR == 1 { print $3 }')
cat <<EOF
## Call setup: dataline-server (gate and relay on) vs Kamailio as a plain proxy

SIPp $(sipp -v 2>/dev/null | grep -o 'v[0-9.]*' | head -n 1 | tr -d v) over UDP in a private network namespace: $NUAC UAC
processes (127.0.0.2-127.0.0.$((NUAC + 1)), \`tests/sipp/call_uac_auth.xml\`) call one
callee whose device is one SIPp UAS (\`tests/sipp/call_uas.xml\`,
registered with digest beforehand from its port). A call: INVITE with
an SDP offer, 407, ACK, INVITE with Proxy-Authorization, 200 with the
SDP answer (Record-Route), ACK and BYE along the route, 200: 14-15
messages through the proxy (5 from the caller, 4-5 to it with the 100s,
3 to the callee, 2 from it). dataline-server: its default call path, the C3 gate
on (the callee's figures, rate 2000 kbit/s, PUBLISHed once before the
runs and read from presence on every call; none asked by OPTIONS) and the
media relay on (SDP parsed and rewritten both ways, a relay session of
two legs opened per call and closed on the BYE; SIPp sends no RTP).
Kamailio $kver (\`tests/kamailio/calls.cfg\`): 407 proxy digest
(HA1 from SQLite), From check, usrloc lookup (in memory),
record_route, t_relay (tm), loose_route for ACK/BYE: no gate, no SDP
handling, no relay, no call state beyond tm's transactions. Both
$W workers on the same $(nproc)-CPU machine as SIPp, up side by
side, runs alternated, the idle one SIGSTOPped. "max": closed
loop, a fixed number of calls in flight (split over the UACs; SIPp starts
a new call as soon as one ends), $CMAX calls, calls/s = successful calls /
wall time, two runs each (run 1 and 2, alternated).
"open": new calls at a fixed offered rate whatever the answers, $COPEN
calls. "retrans": SIPp's Retransmissions counter (500 ms timer);
"INVITE->200": SIPp -trace_rtt, the authenticated INVITE to its 200 (the
proxy's whole work, the gate, the relay and the callee's answer), SIPp's
clock. Target (issue 9): dataline at least 1.5x Kamailio's calls/s.
"calls per server CPU-s": successful calls / the user+system
time of the server's processes during the run (/proc/PID/stat: dataline's
one process with all its threads, relay included; Kamailio's main
process and children): the server's cost per call, less sensitive to
what else runs on the shared machine than calls/s. dataline: $gate_note.

| mode | offered/s | contender | calls/s | ok | failed | retrans | INVITE->200 p50 (ms) | p99 (ms) | ours/Kamailio | calls per server CPU-s | ours/Kamailio |
| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
EOF
ok_all=1
row() { # LABEL MODE KEY OFFERED
  local lab=$1 mode=$2 key=$3 off=$4 who v r rc label
  r=$(ratio "${RES[dl,$mode,$key]:-}" "${RES[kam,$mode,$key]:-}")
  rc=$(ratio "$(awk '{ print $7 }' <<< "${RES[dl,$mode,$key]:-}")" "$(awk '{ print $7 }' <<< "${RES[kam,$mode,$key]:-}")")
  for who in dl kam; do
    v=${RES[$who,$mode,$key]:-}
    [ -z "$v" ] && { v="n/a n/a n/a n/a n/a n/a n/a"; ok_all=0; }
    set -- $v
    label="dataline-server"; [ "$who" = kam ] && label="Kamailio $kver"
    echo "| $lab | $off | $label | $1 | $2 | $3 | $4 | $5 | $6 | $([ "$who" = dl ] && echo "$r") | $7 | $([ "$who" = dl ] && echo "$rc") |"
  done
}
for l in $LS; do
  row "max, $((l * NUAC)) in flight (run 1)" max "$l.1" "-"
  row "max, $((l * NUAC)) in flight (run 2)" max "$l.2" "-"
done
for rate in $RATES; do row open open "$rate" "$rate"; done
echo
[ "$ok_all" = 1 ] && [ "$gate_ok" = 1 ]
