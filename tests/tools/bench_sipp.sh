# tests/tools/bench_sipp.sh: shell helpers shared by the SIPp benchmarks
# of dataline-server against Kamailio (tests/bench/server_texts.sh,
# server_delivery.sh, server_openloop.sh), the pattern of
# tests/bench/server_register.sh. Sourced after tests/integration/lib.sh
# and tests/tools/server_env.sh. It lives here, not in tests/bench/,
# because scripts/bench.sh runs every .sh found there.
#
#   log MSG...                 a "# MSG" line on stderr (the bench log)
#   bs_cleanup / bs_resume     the EXIT trap / SIGCONT both servers
#   bs_start_dl NAME BASE CREDS [FLAGS...]  dataline up and provisioned
#   up dl|kam                  that server is running
#   bs_dl_settle               waits until dataline's writer is idle
#   bs_provision CREDS         dataline up (srv_start done): the 1,000
#               accounts of tests/sipp/users.csv provisioned into CREDS
#               (NUMBER;[authentication ...];USER;PASS). Without a server,
#               made-up credentials of the same shape (Kamailio still runs)
#   bs_split CREDS P PREFIX AWKPROG  writes PREFIX$i.csv, i < P: the usable
#               accounts (no "0x" password, which SIPp 3.6.1 reads as hex)
#               dealt out round-robin, each line printed by AWKPROG (awk
#               with i = the slice; $1 number, $2 [authentication])
#   only dl|kam                lets that server run, SIGSTOPs the other
#   bs_sipp NAME TARGET TP COUNT SCEN PORT0 [SIPP ARGS...]
#               runs BS_P SIPp processes at once (WORK/part$i.csv, local
#               ports PORT0+i, BS_IPS[i] when set), each COUNT/BS_P calls,
#               BS_C in flight; prints "ok failed secs retrans callrate"
#               (secs: wall time of the whole run; callrate: the sum of
#               SIPp's CallRate(C), calls started per second) from their
#               stat files; WORK/NAME.$i.{out,err,csv} are kept
#   bs_rtt NAME                "p50 p99" in ms of the response times SIPp
#               logged (-trace_rtt passed to bs_sipp), all processes
#   median LIST                the median of the numbers in LIST
#   ratio A B                  "A/Bx" or n/a
SIPP_PIDS=() SINK_PIDS=()
log() { echo "# $*" >&2; }

# bs_cleanup: the EXIT trap: SIPp and sinks killed, both servers let run
# (a stopped process ignores TERM) and stopped, WORK removed
bs_cleanup() {
  local p
  for p in "${SIPP_PIDS[@]}" "${SINK_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  bs_resume
  srv_cleanup
  [ -n "${BENCH_KEEP:-}" ] && { echo "# kept $WORK" >&2; return; }
  rm -rf "$WORK"
}
bs_resume() {
  [ "${KAM_UP:-0}" = 1 ] && kill -CONT $(pgrep -f "$KAM_DIR/kamailio.cfg") 2>/dev/null
  [ "${DL_UP:-0}" = 1 ] && kill -CONT "$SRV_PID" 2>/dev/null
}

# bs_start_dl NAME BASE CREDS [FLAGS...]: dataline-server for texts (the
# per-sender text rate and the per-recipient queue bound lifted), the
# accounts provisioned into CREDS; DL_UP=1. On failure DL_UP=0 and CREDS
# holds made-up accounts (Kamailio still runs).
bs_start_dl() {
  local name=$1 base=$2 creds=$3
  shift 3
  DL_UP=0
  if srv_start "$name" "$base" --workers "$W" --log-level warn \
       --code-max-per-client-hour 100000 --code-max-per-number-hour 1000 \
       --code-resend-interval 0 --text-rate 1000000 --text-burst 1000000 \
       --queue-max-per-recipient 10000000 "$@" >&2 && bs_provision "$creds"; then
    DL_UP=1
  else
    log "dataline-server could not be started or provisioned"
    bs_fake_creds "$creds"
  fi
}
# bs_dl_settle: after an overload, let dataline finish the writes it
# queued (its writer's job counter still for 1 s, at most 60 s) before
# it is SIGSTOPped, so the next run does not start behind the last one
bs_dl_settle() {
  local i a b
  [ "${DL_UP:-0}" = 1 ] || return 0
  b=$(metric dataline_writer_jobs_total)
  for ((i = 0; i < 60; i++)); do
    sleep 1
    a=$b; b=$(metric dataline_writer_jobs_total)
    [ "$a" = "$b" ] && return 0
  done
  log "dataline's writer still busy after 60 s"
}
# up dl|kam: that server is running
up() { [ "$1" = dl ] && [ "${DL_UP:-0}" = 1 ] && return 0; [ "$1" = kam ] && [ "${KAM_UP:-0}" = 1 ]; }

bs_provision() {
  local creds=$1
  python3 "$ROOT/tests/tools/provision.py" --http "127.0.0.1:$SRV_HTTP" \
    --spool "$SRV_VAR/sms.spool" --numbers "$ROOT/tests/sipp/users.csv" \
    --out "$creds" >&2
}

bs_fake_creds() {
  awk -F';' 'BEGIN { print "SEQUENTIAL" } /^\+/ {
      u = substr($1, 2) "-" sprintf("%08x", NR); p = "pw" NR "x0123456789abcdefghij"
      print $1 ";[authentication username=" u " password=" p "];" u ";" p }' \
    "$ROOT/tests/sipp/users.csv" > "$1"
}

bs_split() {
  local creds=$1 p=$2 prefix=$3 prog=$4 i
  for ((i = 0; i < p; i++)); do
    awk -F';' -v p="$p" -v i="$i" 'BEGIN { print "SEQUENTIAL" }
      /^\+/ && $2 !~ /password=0x/ && (n++ % p) == i { '"$prog"' }' "$creds" > "$prefix$i.csv"
  done
}

only() {
  local dl=() kam=()
  [ "${DL_UP:-0}" = 1 ] && dl=("$SRV_PID")
  [ "${KAM_UP:-0}" = 1 ] && mapfile -t kam < <(pgrep -f "$KAM_DIR/kamailio.cfg")
  if [ "$1" = dl ]; then
    [ ${#kam[@]} -gt 0 ] && kill -STOP "${kam[@]}"; [ ${#dl[@]} -gt 0 ] && kill -CONT "${dl[@]}"
  else
    [ ${#dl[@]} -gt 0 ] && kill -STOP "${dl[@]}"; [ ${#kam[@]} -gt 0 ] && kill -CONT "${kam[@]}"
  fi
  sleep 0.2
}

BS_P=${BS_P:-4}
BS_C=${BS_C:-50}
BS_IPS=()
bs_sipp() {
  local name=$1 target=$2 tp=$3 count=$4 scen=$5 port0=$6 i per s e ok=0 failed=0 rt=0 cr=0
  shift 6
  per=$(( (count + BS_P - 1) / BS_P ))
  SIPP_PIDS=()
  rm -f "$WORK/$name".*.csv "$WORK/$name".*.err "$WORK/$name".*.out
  s=$(date +%s.%N)
  rm -rf "$WORK/$name.rtt"; mkdir -p "$WORK/$name.rtt"
  for ((i = 0; i < BS_P; i++)); do
    (cd "$WORK/$name.rtt" && exec sipp -sf "$scen" -inf "$WORK/part$i.csv" -t "$tp" -i "${BS_IPS[i]:-127.0.0.1}" \
      -p $((port0 + i)) "$target" -m "$per" -l "$BS_C" \
      -auth_uri dataline.local -nostdin -recv_timeout 10000 -trace_stat -stf "$WORK/$name.$i.csv" \
      -fd 60 -trace_err -error_file "$WORK/$name.$i.err" "$@" > "$WORK/$name.$i.out" 2>&1) &
    SIPP_PIDS+=($!)
  done
  for i in "${SIPP_PIDS[@]}"; do wait "$i"; done
  e=$(date +%s.%N)
  SIPP_PIDS=()
  for ((i = 0; i < BS_P; i++)); do
    read -r a b c d < <(awk -F';' 'NR == 1 { for (k = 1; k <= NF; k++) col[$k] = k }
      END { print $col["SuccessfulCall(C)"] + 0, $col["FailedCall(C)"] + 0, $col["Retransmissions(C)"] + 0,
                  int($col["CallRate(C)"] + 0.5) }' \
      "$WORK/$name.$i.csv" 2>/dev/null)
    ok=$((ok + ${a:-0})); failed=$((failed + ${b:-0})); rt=$((rt + ${c:-0})); cr=$((cr + ${d:-0}))
  done
  echo "$ok $failed $(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.3f", e - s }') $rt $cr"
}

# bs_rtt NAME: with -trace_rtt passed to bs_sipp, SIPp (run from
# WORK/NAME.rtt) wrote <scenario>_<pid>_rtt.csv there: "date_ms;date_s;
# response time ms;rtd number" lines, one per response time measured
# (the scenarios mark every transaction: rtd 1 and 2). All processes and
# both rtds together: "p50 p99" in ms.
bs_rtt() {
  cat "$WORK/$1.rtt/"*_rtt.csv 2>/dev/null | awk -F';' '$1 ~ /^[0-9]/ && NF >= 3 { print $(NF - 1) + 0 }' | sort -n |
    awk '{ a[NR] = $1 } END { if (!NR) { print "n/a n/a"; exit }
      printf "%.2f %.2f\n", a[int((NR - 1) * 0.5) + 1], a[int((NR - 1) * 0.99) + 1] }'
}

median() {
  [ -z "${1// /}" ] && { echo "n/a"; return; }
  printf '%s\n' $1 | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}

ratio() {
  awk -v a="${1%% *}" -v b="${2%% *}" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2fx", a / b; else print "n/a" }'
}
# kv KEY: the value of KEY=VALUE among the words on stdin
kv() { tr ' ' '\n' | awk -F= -v k="$1" '$1 == k { print $2 }'; }
