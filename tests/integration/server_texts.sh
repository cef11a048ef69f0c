#!/usr/bin/env bash
# server_texts: store-and-forward texts across network namespaces (RFC 3428
# MESSAGE, RFC 3862 CPIM, RFC 5438 IMDN, RFC 5626 flows and keep-alives).
#
# Topology (helpers/texts_topo.sh): the sender A and the server S on one
# link; the recipient B behind a NAT router R (nftables masquerade), so the
# server reaches B only through the flow B's REGISTER opened. The server
# runs 4 workers, keep-alive interval 3 s. Devices are tests/tools/sipua.py.
#   1. B offline: A (a one-field client: REGISTER with To = its username)
#      sends 100 CPIM texts over UDP, each answered 202.
#   2. B's first device registers over UDP through the NAT and gets all
#      100, in order, once each; A gets 100 "delivered" IMDNs back.
#   3. B's second device, offline until now, registers over TCP through the
#      NAT and gets the same 100.
#   4. Texts from 8 source ports (so stored by several workers) reach B:
#      the log shows texts stored by a worker other than the one owning
#      B's flow.
#   5. B's link is cut: both flows are found dead within the keep-alive
#      interval plus slack; new texts are answered 202 and wait in the
#      queue; the link comes back, B registers again and gets them.
# Everything runs inside namespaces $P-*, removed at the end.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/helpers/texts_topo.sh"
need_root server_texts
P=tx$(( $$ % 10000 ))
DIR=$(mktemp -d /tmp/dl-texts.XXXXXX)
UA="python3 $ROOT/tests/tools/sipua.py"
NA=+4915200000001 NB=+4915200000002
SPID=
cleanup() {
  [ -n "$SPID" ] && kill -TERM "$SPID" 2>/dev/null
  tt_down "$P"
  mkdir -p "$OUT/test-logs"
  cp "$DIR/server.log" "$OUT/test-logs/server_texts-server.log" 2>/dev/null
  for f in "$DIR"/*.out; do cp "$f" "$OUT/test-logs/server_texts-$(basename "$f")" 2>/dev/null; done
  rm -rf "$DIR"
}
trap cleanup EXIT
command -v nft >/dev/null || { fail "server_texts: nft installed (scripts/install-deps.sh)"; finish; }
tt_up "$P" || { fail "server_texts: topology up"; finish; }
ok "server_texts: namespaces up (sender, server, NAT router, recipient)"

ip netns exec "$TT_S" "$OUT/dataline-server" --var-dir "$DIR/var" \
  --sip-udp 0.0.0.0:5060 --sip-tcp 0.0.0.0:5060 --sip-tls off \
  --http 127.0.0.1:8080 --https off --workers 4 --keepalive-interval 3 \
  --code-resend-interval 0 \
  --log-level debug >> "$DIR/server.log" 2>&1 &
SPID=$!
s_api() { # METHOD PATH [JSON] -> API_STATUS API_BODY
  local out
  out=$(tt_exec "$TT_S" curl -s -w '\n%{http_code}' -X "$1" -H 'Content-Type: application/json' \
    ${3:+-d "$3"} "http://127.0.0.1:8080$2")
  API_STATUS=${out##*$'\n'}; API_BODY=${out%$'\n'*}
}
s_metric() { tt_exec "$TT_S" curl -s http://127.0.0.1:8080/metrics |
  awk -v n="$1" -v l="${2:-}" '$1 ~ "^"n"({|$)" && index($1, l) { s += $2 } END { print s + 0 }'; }
for i in $(seq 100); do s_api GET /healthz; [ "$API_STATUS" = 200 ] && break; sleep 0.1; done
check "server_texts: server up in its namespace" test "$API_STATUS" = 200
s_provision() { # NUMBER FILE
  local code sess
  s_api POST /v1/registrations "{\"number\":\"$1\"}"; sess=$(jq -r .session <<< "$API_BODY")
  code=$(grep -F "$1" "$DIR/var/sms.spool" | tail -1 | grep -Eo '[0-9]{6}$')
  s_api POST /v1/registrations/verify "{\"number\":\"$1\",\"code\":\"$code\",\"session\":\"$sess\"}"
  [ "$API_STATUS" = 200 ] && echo "$API_BODY" > "$2"
}
s_provision "$NA" "$DIR/a.json" && s_provision "$NB" "$DIR/b1.json" &&
  s_provision "$NB" "$DIR/b2.json"
check "server_texts: A and two devices of B provisioned" test -s "$DIR/b2.json"
ua() { # NS OUTFILE ARGS... (background; commands from $OUTFILE.in)
  local ns=$1 out=$2; shift 2
  : > "$out.in"
  tt_exec "$ns" $UA "$@" --stdin < <(tail -f --pid=$$ "$out.in" 2>/dev/null) > "$out" 2>&1 &
}
cmd() { echo "$2" >> "$1.in"; }
events() { grep -c "\"event\": \"$2\"" "$1" 2>/dev/null || true; }
wait_events() { # FILE EVENT N SECONDS
  local i; for ((i = 0; i < $4 * 10; i++)); do
    [ "$(events "$1" "$2")" -ge "$3" ] && return 0; sleep 0.1; done; return 1; }

# ---------------------------------------------------------------- 1
ua "$TT_A" "$DIR/a.out" -t udp -s 198.18.30.1:5060 --creds "$DIR/a.json" --one-field --keepalive flow
cmd "$DIR/a.out" register
wait_events "$DIR/a.out" register 1 10
check "server_texts: one-field client (To = device username) registers: 200" \
  grep -q '"event": "register".*"status": 200' "$DIR/a.out"
cmd "$DIR/a.out" "sendmany --cpim 100 $NB hello"
wait_events "$DIR/a.out" sendmany 1 60
check "server_texts: 100 texts to offline B, each answered 202" \
  grep -q '"event": "sendmany".*"by_status": {"202": 100}' "$DIR/a.out"
check "server_texts: the queue holds 100 texts" test "$(s_metric dataline_queue_depth 'queue="text"')" -ge 100

# ---------------------------------------------------------------- 2
ua "$TT_B" "$DIR/b1.out" -t udp -s 198.18.31.1:5060 --creds "$DIR/b1.json" --imdn --keepalive flow
cmd "$DIR/b1.out" register
wait_events "$DIR/b1.out" message 100 30
got=$(grep '"event": "message"' "$DIR/b1.out" | jq -r .text)
want=$(seq -f 'hello %g' 100)
check "server_texts: B's first device (UDP, behind NAT) gets 100 texts" \
  test "$(grep -c . <<< "$got")" = 100
check "server_texts: ... in order, once each" test "$got" = "$want"
check "server_texts: ... no duplicates seen by B" test "$(events "$DIR/b1.out" duplicate)" = 0
wait_events "$DIR/a.out" imdn 100 30
check "server_texts: A gets 100 delivered IMDNs" \
  test "$(grep '"event": "imdn"' "$DIR/a.out" | jq -r .imdn.status | grep -c delivered)" = 100

# ---------------------------------------------------------------- 3
ua "$TT_B" "$DIR/b2.out" -t tcp -s 198.18.31.1:5060 --creds "$DIR/b2.json" --keepalive flow
cmd "$DIR/b2.out" register
wait_events "$DIR/b2.out" message 100 30
got2=$(grep '"event": "message"' "$DIR/b2.out" | jq -r .text)
check "server_texts: B's second device (TCP, behind NAT, offline until now) gets the same 100 in order" \
  test "$got2" = "$want"
for i in $(seq 50); do [ "$(s_metric dataline_queue_depth 'queue="text"')" = 0 ] && break; sleep 0.1; done
check "server_texts: delivered to both devices, the texts leave the queue" \
  test "$(s_metric dataline_queue_depth 'queue="text"')" = 0

# ---------------------------------------------------------------- 4
for i in $(seq 8); do
  tt_exec "$TT_A" $UA -t udp -s 198.18.30.1:5060 --creds "$DIR/a.json" \
    -c "send $NB port $i" > "$DIR/a$i.out" 2>&1
done
check "server_texts: 8 texts from 8 source ports answered 202" \
  test "$(cat "$DIR"/a[1-8].out | grep '"event": "send"' | grep -c '"status": 202')" = 8
wait_events "$DIR/b1.out" message 108 20
check "server_texts: ... all reach B" test "$(events "$DIR/b1.out" message)" -ge 108
# B's lanes know their backlog now (live): a new text goes out to B while
# its row is being committed, not after the commit and a read
cut=$(s_metric dataline_texts_sent_before_commit_total)
echo "# texts sent before their commit: $cut"
check "server_texts: texts to online B cut through (sent while committed)" test "$cut" -ge 1
check "server_texts: ... and B got them in the order sent" \
  test "$(grep '"event": "message"' "$DIR/b1.out" | jq -r .text | tail -8 | tr '\n' ' ')" = \
    "port 1 port 2 port 3 port 4 port 5 port 6 port 7 port 8 "
# which worker stored each text, which one sent it over B's UDP flow
stored=$(grep -Eo 'text [0-9]+ from worker [0-9]+ for \+4915200000002: 0' "$DIR/server.log" |
  awk '{print $2, $5}' | tail -8)
sentby=$(grep -E 'deliver: item [0-9]+ for \+4915200000002 \(lane 0/1\)' "$DIR/server.log" |
  grep -Eo 'item [0-9]+|owner [0-9]+' | paste - - | awk '{print $2, $4}')
cross=$(join <(sort <<< "$stored") <(sort <<< "$sentby") | awk '$2 != $3' | wc -l)
echo "# stored by (item worker): $(tr '\n' ' ' <<< "$stored")"
echo "# cross-worker deliveries: $cross"
check "server_texts: texts stored by one worker were sent by another (B's flow owner)" test "$cross" -ge 1

# ---------------------------------------------------------------- 5
dead0=$(s_metric dataline_sip_flows_dead_total)
tt_exec "$TT_R" ip link set r1 down
t0=$(date +%s.%N)
for i in $(seq 150); do [ "$(s_metric dataline_sip_flows_dead_total)" -ge $((dead0 + 2)) ] && break; sleep 0.1; done
t1=$(date +%s.%N)
el=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
echo "# both flows dead after ${el} s (keep-alive interval 3 s)"
check "server_texts: link cut: UDP and TCP flows found dead within 10 s" \
  awk -v e="$el" 'BEGIN { exit !(e < 10) }'
del0=$(s_metric dataline_texts_delivered_total)
tt_exec "$TT_A" $UA -t udp -s 198.18.30.1:5060 --creds "$DIR/a.json" \
  -c "sendmany 5 $NB while cut" > "$DIR/a-cut.out" 2>&1
check "server_texts: texts to B while cut are answered 202" \
  grep -q '"by_status": {"202": 5}' "$DIR/a-cut.out"
sleep 3
check "server_texts: ... and wait in the queue (none delivered)" \
  test "$(s_metric dataline_texts_delivered_total)" = "$del0"
check "server_texts: ... the queue holds them" test "$(s_metric dataline_queue_depth 'queue="text"')" -ge 5
tt_exec "$TT_R" ip link set r1 up
cmd "$DIR/b1.out" register
wait_events "$DIR/b1.out" message 113 30
check "server_texts: link back, B registers again and gets the 5" \
  test "$(grep '"event": "message"' "$DIR/b1.out" | jq -r .text | grep -c 'while cut')" = 5
cmd "$DIR/a.out" quit; cmd "$DIR/b1.out" quit; cmd "$DIR/b2.out" quit
# a clean stop (under ASan: no leak, no use after free on the way down)
kill -TERM "$SPID"; wait "$SPID"; rc=$?; SPID=
check "server_texts: SIGTERM: the server stops cleanly (status $rc)" test "$rc" = 0
finish
