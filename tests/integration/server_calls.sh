#!/usr/bin/env bash
# server_calls: voice calls through dataline-server on loopback (issue 9,
# docs/calls.md): the INVITE proxy core (RFC 3261 s.16) and the C3 gate.
# Ports 28800-28839 (relay 28820-28839). Devices are tests/tools/callua.py (UAC and UAS over
# UDP); figures are PUBLISHed with tests/tools/sipua.py.
#   1. A calls B (two devices): 407 then INVITE with credentials; the gate
#      has no figures for B and asks a device with OPTIONS (answered with
#      X-Dataline-Net above threshold 2); both devices ring, b1 answers,
#      b2 gets CANCEL; ACK and BYE reach b1 through the server (Route).
#   2. C's device answers 486: 486 reaches A.
#   3. D has an account but no device registered: 480.
#   4. A cancels while B's devices ring: 200 to the CANCEL, 487 to the
#      INVITE, both devices get CANCEL.
#   5. The callee hangs up: its BYE reaches A through the Record-Route.
#   6. E publishes figures below threshold 2: 488 + Warning 370 with the
#      figures in X-Dataline-Net; E publishes good ones: the call goes
#      through.
#   6b. G's only device is on TCP and has published nothing: every call
#      asks it with OPTIONS over its connection, also when the call's
#      home is another worker than the connection's (the ask goes through
#      the owner's mailbox, the figures come back): 10 calls, each 488
#      with the device's figures.
#   7. F's device rings for ever: timer C (--call-timeout 3) gives 408
#      and the device gets CANCEL.
#   8. /metrics: calls started, answered, ended; none left active.
. "$(dirname "$0")/lib.sh"
NAME=server_calls SIP=28800 HTTP=28801
. "$(dirname "$0")/helpers/calls.sh"
calls_start --relay-port-min 28820 --relay-port-max 28839 --call-timeout 3 --call-min-kbps 48 --call-figures-max-age 120
NA=+8613900001001 NB=+8613900001002 NC=+8613900001003 ND=+8613900001004
NE=+8613900001005 NF=+8613900001006 NG=+8613900001007
ok_p=1
for x in "$NA a" "$NB b1" "$NB b2" "$NC c" "$ND d" "$NE e" "$NF f" "$NG g"; do
  set -- $x; provision "$1" "$TMP/$2.json" || ok_p=0
done
check "server_calls: accounts provisioned (B with two devices)" test $ok_p = 1

uac() { # OUT NUMBER ARGS...
  local out=$1 num=$2; shift 2
  "${CUA[@]}" uac --creds "$TMP/a.json" --local 127.0.0.1:28810 "$num" "$@" > "$TMP/$out.out" 2>&1
}
evc() { grep -c "\"ev\": \"$2\"" "$TMP/$1.out" 2>/dev/null || true; }

# 1. fork, 407, gate asks, b1 answers, b2 cancelled, ACK and BYE routed
uas b1 28811 --answer 200 --answer-delay 400 --net 'rate=2000;rtt=40;loss=1000' --run 8 &&
  uas b2 28812 --answer 180 --net 'rate=2000;rtt=40;loss=1000' --run 8
check "server_calls: B's two devices registered" test $? = 0
uac call1 $NB --bye --hold 0.5
check "server_calls: 407 first, then the INVITE with credentials" test "$(evc call1 challenged)" = 1
check "server_calls: fork: A gets 200 from one of B's devices" test "$(final call1)" = 200
check "server_calls: both devices got the INVITE" test "$(evc b1 invite)" = 1 -a "$(evc b2 invite)" = 1
check "server_calls: the INVITE carries our Record-Route;lr" \
  grep -q 'Record-Route.*;lr;dlc\|"rr": \["<sip:127.0.0.1:28800;transport=udp;lr;dlc>"\]' "$TMP/b1.out"
check "server_calls: the device that did not answer got CANCEL" test "$(evc b2 cancel)" = 1
check "server_calls: the gate asked a device of B (OPTIONS from gate@)" grep -q '"frm": "sip:gate@' "$TMP/b1.out" "$TMP/b2.out"
check "server_calls: ACK for the 2xx reached b1 through the server" test "$(evc b1 ack)" = 1
check "server_calls: BYE reached b1 and its 200 came back to A" \
  test "$(evc b1 bye)" = 1 -a "$(field call1 bye_answer status)" = 200
sleep 0.5; stop_uas

# 2. 486 passed back; 3. 480 with no device
uas c 28813 --answer 486 --run 5
uac call2 $NC
check "server_calls: 486 from the only device reaches A" test "$(final call2)" = 486
uac call3 $ND
check "server_calls: 480 when no device of the number is registered" test "$(final call3)" = 480
stop_uas

# 4. CANCEL from the caller while both ring
uas b1 28811 --answer 180 --run 6 && uas b2 28812 --answer 180 --run 6
uac call4 $NB --cancel-after-ms 300
check "server_calls: CANCEL answered 200" test "$(field call4 cancel_answer status)" = 200
check "server_calls: the INVITE ends 487" test "$(final call4)" = 487
check "server_calls: both devices got CANCEL" test "$(evc b1 cancel)" = 1 -a "$(evc b2 cancel)" = 1
stop_uas

# 5. the callee hangs up: BYE from the callee reaches A via Record-Route
uas b1 28811 --answer 200 --answer-delay 100 --bye-after 0.3 --run 5
uac call5 $NB --hold 3
check "server_calls: callee's BYE reached A through the server" test "$(evc call5 bye)" = 1
check "server_calls: callee's BYE answered 200" grep -q '"status": 200, "cseq": "1 BYE"' "$TMP/b1.out"
stop_uas

# 6. the C3 gate: figures below threshold 2, then above
uas e 28814 --answer 200 --answer-delay 100 --run 12
python3 "$ROOT/tests/tools/sipua.py" -t udp --server 127.0.0.1:$SIP --creds "$TMP/e.json" \
  -c "publish rate_kbps=20 rtt_ms=300 loss_ppm=50000 link=up" > "$TMP/pub1.out" 2>&1
uac call6 $NE
check "server_calls: gate: 488 below threshold 2" test "$(final call6)" = 488
check "server_calls: gate: Warning 370 Insufficient bandwidth" \
  grep -q '"warning": "370 [^ ]* \\"Insufficient bandwidth\\""' "$TMP/call6.out"
check "server_calls: gate: the figures in X-Dataline-Net" grep -q '"net": "rate=20;rtt=300;loss=50000;' "$TMP/call6.out"
check "server_calls: gate: the callee's device was never rung" test "$(evc e invite)" = 0
python3 "$ROOT/tests/tools/sipua.py" -t udp --server 127.0.0.1:$SIP --creds "$TMP/e.json" \
  -c "publish rate_kbps=900 rtt_ms=30 loss_ppm=0 link=up" > "$TMP/pub2.out" 2>&1
uac call7 $NE --bye --hold 0.2
check "server_calls: gate: above threshold 2 the call goes through" test "$(final call7)" = 200
stop_uas

# 6b. the gate asks a TCP device whose connection another worker may own
uas g 28816 --tcp --answer 200 --net 'rate=30;rtt=200;loss=20000' --run 30
check "server_calls: gate: G's device registered over TCP" test $? = 0
n488=0
for i in 1 2 3 4 5 6 7 8 9 10; do
  uac call6b$i $NG
  [ "$(final call6b$i)" = 488 ] && grep -q '"net": "rate=30;rtt=200;loss=20000;age=0;' "$TMP/call6b$i.out" &&
    n488=$((n488 + 1))
done
check "server_calls: gate over TCP: 10 calls, each 488 with the device's own figures" test $n488 = 10
check "server_calls: gate over TCP: the device got an OPTIONS for each" test "$(evc g options)" = 10
check "server_calls: gate over TCP: and was never rung" test "$(evc g invite)" = 0
echo "# asks through the connection's owner worker: $(grep -c 'OPTIONS (via worker' "$TMP/server.log") of 10"
stop_uas

# 7. timer C: a device that rings for ever
uas f 28815 --answer 180 --run 8
uac call8 $NF --timeout 10
check "server_calls: timer C: 408 to the caller" test "$(final call8)" = 408
check "server_calls: timer C: the ringing device got CANCEL" test "$(evc f cancel)" = 1
stop_uas

# 8. metrics
check "server_calls: metrics: calls started" test "$(metric dataline_calls_started_total)" -ge 8
check "server_calls: metrics: calls answered" test "$(metric dataline_calls_answered_total)" -ge 3
check "server_calls: metrics: gate refusals" test "$(metric dataline_calls_gate_refused_total)" = 11
check "server_calls: metrics: INVITE finals by status (487)" \
  bash -c "curl -s http://127.0.0.1:$HTTP/metrics | grep -q 'dataline_sip_requests_total{method=\"INVITE\",status=\"487\"} 1'"
check "server_calls: metrics: no call left active" test "$(metric dataline_calls_active)" = 0
finish
