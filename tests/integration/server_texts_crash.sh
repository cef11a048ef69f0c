#!/usr/bin/env bash
# server_texts_crash: a 202 means the text is on disk (docs/messaging.md).
# The sender sends 1,000 CPIM texts one after the other (over UDP: its
# retransmissions carry a text over a restart, and the server stores a
# retransmitted text once, by its Message-ID) while the server is killed
# with SIGKILL at random moments, 5 times, and started again each time; the
# recipient stays registered over UDP (its binding survives the restarts)
# and receives. Then:
#   - every text answered 202 reached the recipient;
#   - none answered with a failure (4xx-6xx) did;
#   - a text received twice (a delivery in flight at a kill) carries the
#     same imdn.Message-ID both times, and only texts without an answer
#     (in flight at a kill) are unaccounted for either way.
# Ports 27160-27163.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/tools/server_env.sh"
DIR=$(mktemp -d /tmp/dl-crash.XXXXXX)
UA="python3 $ROOT/tests/tools/sipua.py"
BPID=
cleanup() {
  [ -n "$BPID" ] && kill "$BPID" 2>/dev/null
  cp "$DIR"/*.out "$OUT/test-logs/" 2>/dev/null
  rm -rf "$DIR"
  srv_cleanup
}
trap cleanup EXIT
FLAGS=(--text-rate 100000 --text-burst 100000 --code-resend-interval 0 --log-level debug)
srv_start crash 27160 "${FLAGS[@]}" || { fail "server_texts_crash: server starts"; finish; }
NA=+4915300000001 NB=+4915300000002
provision "$NA" && echo "$CRED_JSON" > "$DIR/a.json"
provision "$NB" && echo "$CRED_JSON" > "$DIR/b.json"
check "server_texts_crash: two numbers provisioned" test -s "$DIR/b.json"

: > "$DIR/b.in"
$UA -t udp -s "127.0.0.1:$SRV_SIP" --creds "$DIR/b.json" --keepalive 1 --stdin \
  < <(tail -f --pid=$$ "$DIR/b.in") > "$DIR/crash-b.out" 2>&1 &
BPID=$!
echo register >> "$DIR/b.in"
for i in $(seq 50); do grep -q '"event": "register".*"status": 200' "$DIR/crash-b.out" && break; sleep 0.1; done
check "server_texts_crash: recipient registered" grep -q '"status": 200' "$DIR/crash-b.out"

for i in $(seq 1000); do echo "send --cpim $NB crash text $i"; done > "$DIR/a.cmds"
$UA -t udp -s "127.0.0.1:$SRV_SIP" --creds "$DIR/a.json" -T 8 --script "$DIR/a.cmds" \
  > "$DIR/crash-a.out" 2>&1 &
APID=$!
kills=0
while kill -0 "$APID" 2>/dev/null && [ $kills -lt 5 ]; do
  sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 0.2 + r % 40 / 100 }')"
  srv_kill KILL
  kills=$((kills + 1))
  srv_restart || { fail "server_texts_crash: restart $kills"; break; }
done
wait "$APID"
check "server_texts_crash: killed with SIGKILL $kills times during the run" test $kills -ge 5
sleep 2
ok_ids=$(grep '"event": "send"' "$DIR/crash-a.out" | jq -r 'select(.status == 202) | .message_id' | sort)
bad_ids=$(grep '"event": "send"' "$DIR/crash-a.out" | jq -r 'select(.status != null and .status >= 300) | .message_id' | sort)
n_ok=$(grep -c . <<< "$ok_ids")
echo "# 202: $n_ok, refused: $(grep -c . <<< "$bad_ids"), sent: $(grep -c '"event": "send"' "$DIR/crash-a.out")"
# every 202'd text arrives: wait for the last deliveries
for i in $(seq 300); do
  got=$(grep -E '"event": "(message|duplicate)"' "$DIR/crash-b.out" | jq -r .message_id | sort -u)
  [ -z "$(comm -23 <(echo "$ok_ids") <(echo "$got"))" ] && break
  sleep 0.1
done
missing=$(comm -23 <(echo "$ok_ids") <(echo "$got") | grep -c .)
check "server_texts_crash: every text answered 202 was delivered ($n_ok; missing $missing)" test "$missing" = 0
check "server_texts_crash: at least 900 of 1,000 were answered 202" test "$n_ok" -ge 900
wrong=$(comm -12 <(echo "$bad_ids") <(echo "$got") | grep -c .)
check "server_texts_crash: no refused text was delivered" test "$wrong" = 0
# duplicates: same text, same Message-ID (a CPIM text's id travels with it)
dups=$(grep -E '"event": "(message|duplicate)"' "$DIR/crash-b.out" | jq -r '[.message_id, .text] | @tsv' |
  sort | uniq -d | wc -l)
mism=$(grep -E '"event": "(message|duplicate)"' "$DIR/crash-b.out" | jq -r '[.text, .message_id] | @tsv' |
  sort -u | cut -f1 | uniq -d | wc -l)
echo "# texts received more than once: $dups"
check "server_texts_crash: a text received twice carries the same Message-ID" test "$mism" = 0
finish
