#!/usr/bin/env bash
# tests/bench/server_texts.sh: durable texts per second to an OFFLINE
# recipient (RFC 3428 MESSAGE with proxy digest, RFC 3261 s.22.3): the
# text is committed (fsynced) to the server's store before the 202
# Accepted. dataline-server (its durable queue) vs Kamailio 5.6 + msilo on
# SQLite (tests/kamailio/msilo.cfg), in the same run, both driven by SIPp
# with tests/sipp/message_auth.xml. Prints a markdown section
# (scripts/bench.sh collects it into docs/bench.md).
#
# How it is fair (the pattern of tests/bench/server_register.sh):
# - the same accounts on both (tests/sipp/users.csv provisioned on
#   dataline, the same usernames/HA1s in Kamailio's subscriber table);
#   the senders are the accounts, the recipients 100 (then 4) other
#   numbers, provisioned on dataline and never registered (offline);
# - the same work per text: 407 challenge, digest check against the HA1,
#   From-number ownership check, the text committed to SQLite (fsynced:
#   dataline's queue in WAL with synchronous=FULL, Kamailio's silo table
#   in WAL with SQLite's default synchronous=FULL), then 202. Kamailio
#   does not check that the recipient exists nor rate-limits the sender
#   (dataline's per-sender limit is lifted here: --text-rate);
# - Kamailio needs a lock around m_store(): its children each hold an
#   SQLite connection, and concurrent inserts fail with SQLITE_BUSY (503)
#   otherwise (cfgutils lock(), tests/kamailio/msilo.cfg);
# - the same workers (W), the same load (P SIPp processes, C texts in
#   flight each, closed loop), a warm-up then R alternated runs of N
#   texts, the idle server SIGSTOPped; the median.
# A "text" is one scenario call: MESSAGE, 407, MESSAGE, 202.
# Knobs: BENCH_WORKERS, BENCH_TEXTS (N, 20000), BENCH_RUNS (R, 3),
# BENCH_SIPP_PROCS (P, 4), BENCH_SIPP_CALLS (C, 50), BENCH_KEEP=1.
# Ports 27500-27519 (servers), 27550-27559 (SIPp).
set -uo pipefail
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/integration/lib.sh"
source "$ROOT/tests/tools/server_env.sh"
source "$ROOT/tests/tools/bench_sipp.sh"

W=${BENCH_WORKERS:-$(nproc)}
N=${BENCH_TEXTS:-20000}
R=${BENCH_RUNS:-3}
BS_P=${BENCH_SIPP_PROCS:-4}
BS_C=${BENCH_SIPP_CALLS:-50}
SCEN=$ROOT/tests/sipp/message_auth.xml
WORK=$(mktemp -d /tmp/bench-texts.XXXXXX)
trap bs_cleanup EXIT

CREDS=$WORK/creds.csv
bs_start_dl bench-texts 27500 "$CREDS"
# recipients (offline: nobody registers them): two sets, the last 100
# numbers ("many") and the 4 before them ("few"); senders: every other
# usable account, dealt out to the P processes, each line to the set's
# recipients round-robin (WORK/SET-part$i.csv)
grep -v 'password=0x' "$CREDS" | awk -F';' '/^\+/' > "$WORK/usable.csv"
tail -n 100 "$WORK/usable.csv" | cut -d';' -f1 > "$WORK/rcpt-many"
tail -n 104 "$WORK/usable.csv" | head -n 4 | cut -d';' -f1 > "$WORK/rcpt-few"
head -n -104 "$WORK/usable.csv" > "$WORK/senders.csv"
for set in many few; do
  for ((i = 0; i < BS_P; i++)); do
    awk -F';' -v p="$BS_P" -v i="$i" -v rc="$(tr '\n' ' ' < "$WORK/rcpt-$set")" \
      'BEGIN { print "SEQUENTIAL"; nr = split(rc, r, " ") }
       (NR - 1) % p == i { print $1 ";" $2 ";" r[(n++ % nr) + 1] }' "$WORK/senders.csv" > "$WORK/$set-part$i.csv"
  done
done
use_set() { local i; for ((i = 0; i < BS_P; i++)); do cp "$WORK/$1-part$i.csv" "$WORK/part$i.csv"; done; }

KAM_UP=0
KAM_WAL=1 KAM_SQL=msilo KAM_CFG=$ROOT/tests/kamailio/msilo.cfg \
  kam_start bench-texts 27510 27511 "$W" "$CREDS" >&2 && KAM_UP=1

declare -A RATES FAILED
run() { # dl|kam NAME COUNT (NAME: who-set-run)
  local who=$1 name=$2 count=$3 target ok failed secs rt
  [ "$who" = dl ] && { [ "$DL_UP" = 1 ] || return; target=127.0.0.1:$SRV_SIP; }
  [ "$who" = kam ] && { [ "$KAM_UP" = 1 ] || return; target=127.0.0.1:27510; }
  only "$who"
  read -r ok failed secs rt _ < <(bs_sipp "$name" "$target" u1 "$count" "$SCEN" 27550 -r 100000 -rp 1000)
  log "$name: ok=$ok failed=$failed in ${secs}s (retransmissions $rt)"
  if [ "$failed" -gt 0 ]; then
    head -c 600 "$WORK/$name".*.err 2>/dev/null | sed 's/^/#   /' >&2
  fi
  [[ "$name" == *warm ]] && return
  FAILED[${name%-*}]=$(( ${FAILED[${name%-*}]:-0} + failed ))
  [ "$ok" -gt 0 ] && RATES[${name%-*}]+=" $(awk -v n="$ok" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')"
}
use_set many
run dl dl-warm 2000
run kam kam-warm 2000
for set in many few; do
  use_set "$set"
  for ((r = 1; r <= R; r++)); do
    run dl "dl-$set-$r" "$N"
    run kam "kam-$set-$r" "$N"
  done
done
bs_resume

# what the stores hold: every 202 must be a row
STORED_DL=n/a STORED_KAM=n/a
[ "$DL_UP" = 1 ] && STORED_DL=$(metric dataline_texts_accepted_total)
[ "$KAM_UP" = 1 ] && STORED_KAM=$(sqlite3 "$KAM_DIR/kamailio.db" 'SELECT count(*) FROM silo' 2>/dev/null)
SENT=$(( 2000 + 2 * R * N ))
log "stored: dataline $STORED_DL, kamailio $STORED_KAM (of $SENT sent to each)"

declare -A RATE
for k in dl-many kam-many dl-few kam-few; do RATE[$k]=$(median "${RATES[$k]:-}"); done
kver=$(kamailio -v 2>/dev/null | awk 'NR == 1 { print $3 }')
cat <<EOF
## Durable texts to an offline recipient: dataline-server vs Kamailio + msilo

Texts per second stored for an offline recipient, each committed
(fsynced) before its 202 Accepted. One text = MESSAGE, 407 challenge,
MESSAGE with Proxy-Authorization (digest MD5, qop=auth), 202. SIPp
$(sipp -v 2>/dev/null | grep -o 'v[0-9.]*' | head -n 1 | tr -d v) with \`tests/sipp/message_auth.xml\`, UDP: $BS_P SIPp processes at
once, $BS_C texts in flight each, about 890 senders, each text to one
of 100 offline numbers (row "100 recipients") or of 4 ("4 recipients",
$((R * N / 4)) texts each after the runs); $N texts per run after a
warm-up, median of $R runs, both servers up side by side and their runs alternated (the idle
one SIGSTOPped). Both run $W workers on the same $(nproc)-CPU machine as
SIPp; both stores are SQLite in WAL mode, synchronous=FULL, on the same
disk. Kamailio $kver: \`tests/kamailio/msilo.cfg\` (auth_db + msilo
\`m_store()\`, then \`t_reply("202")\`), with a cfgutils \`lock()\` around
\`m_store()\`: without it concurrent children hit SQLITE_BUSY and answer
503. Kamailio does not check that the recipient exists; dataline's
per-sender text rate limit and its per-recipient queue bound (1,000 by
default) are lifted (\`--text-rate\`, \`--queue-max-per-recipient\`):
with 4 recipients dataline slows as their queues grow, since every
store counts the recipient's pending texts (SQL_COUNT_RECIPIENT in
server/queue/queue.c, a scan of that recipient's index range on the one
writer thread). "failed": texts
SIPp gave up on (over the measured runs); "stored": rows in the store
after all runs (warm-up included) against $SENT texts sent to each.

| contender | 100 recipients (texts/s) | failed | 4 recipients (texts/s) | failed | stored |
| --- | ---: | ---: | ---: | ---: | ---: |
| dataline-server ($W workers, durable queue) | ${RATE[dl-many]} | ${FAILED[dl-many]:-n/a} | ${RATE[dl-few]} | ${FAILED[dl-few]:-n/a} | $STORED_DL |
| Kamailio $kver + msilo, db_sqlite (children=$W, lock) | ${RATE[kam-many]} | ${FAILED[kam-many]:-n/a} | ${RATE[kam-few]} | ${FAILED[kam-few]:-n/a} | $STORED_KAM |
| ratio dataline / Kamailio (target >= 3x) | $(ratio "${RATE[dl-many]}" "${RATE[kam-many]}") | | $(ratio "${RATE[dl-few]}" "${RATE[kam-few]}") | | |

EOF
for k in dl-many kam-many dl-few kam-few; do
  [[ "${RATE[$k]}" =~ ^[0-9] ]] || exit 1
done
