#!/usr/bin/env bash
# server_calls_media: a call's media through the server's relay on loopback
# (issue 9, docs/calls.md "Media"). SIP on 28840, relay ports 28850-28899,
# --relay-timeout 2. Devices are tests/tools/callua.py.
#   1. A calls B: the offer B gets and the answer A gets name the relay
#      (127.0.0.1, a relay port, not the devices' own media ports); 100
#      RTP packets each way all arrive through the relay; 20 packets from a
#      stranger's port at A's relay port are dropped and counted; BYE
#      frees the relay's ports.
#   2. A cancels while B rings: no relay session or port is left.
#   3. An answered call whose media stops: the relay's media timeout ends
#      the call record and frees the ports.
#   4. A malformed SDP offer gets 488 "Malformed SDP" and opens no port.
. "$(dirname "$0")/lib.sh"
NAME=server_calls_media SIP=28840 HTTP=28841
. "$(dirname "$0")/helpers/calls.sh"
calls_start --relay-addr 127.0.0.1 --relay-port-min 28850 --relay-port-max 28899 --relay-timeout 2 --call-timeout 5
NA=+8613900002001 NB=+8613900002002
provision $NA "$TMP/a.json" && provision $NB "$TMP/b.json"
check "server_calls_media: accounts provisioned" test $? = 0

uac() { local out=$1; shift; "${CUA[@]}" uac --creds "$TMP/a.json" --local 127.0.0.1:28842 $NB "$@" > "$TMP/$out.out" 2>&1; }
relay_socks() { ss -Huan | awk '{ print $4 }' | grep -cE ':288[5-9][0-9]$'; }
wait_zero() { local i; for i in $(seq 40); do [ "$(relay_socks)" = 0 ] && [ "$(metric dataline_relay_sessions)" = 0 ] && return 0; sleep 0.1; done; return 1; }

# 1. media both ways through the relay, strangers dropped, BYE frees
uas b 28843 --answer 200 --answer-delay 100 --rtp 100 --rtp-time 1.5 --run 6
uac call1 --rtp 100 --rtp-time 1.5 --strangers 20 --bye --hold 0.3
check "server_calls_media: the call is answered" test "$(field call1 final status)" = 200
check "server_calls_media: B's offer names the relay (c=127.0.0.1, a relay port)" \
  python3 -c 'import json,re,sys
e=[json.loads(l) for l in open(sys.argv[1]) if "\"invite\"" in l][0]
p=int(re.search(r"m=audio (\d+)", e["sdp"]).group(1)); sys.exit(not 28850 <= p <= 28899)' "$TMP/b.out"
check "server_calls_media: A's answer names the relay" \
  python3 -c 'import json,re,sys
e=[json.loads(l) for l in open(sys.argv[1]) if "\"final\"" in l][0]
p=int(re.search(r"m=audio (\d+)", e["sdp"]).group(1)); sys.exit(not 28850 <= p <= 28899)' "$TMP/call1.out"
check "server_calls_media: 100 RTP packets A->B all relayed" test "$(field b rtp received)" = 100
check "server_calls_media: 100 RTP packets B->A all relayed" test "$(field call1 rtp received)" = 100
check "server_calls_media: BYE answered" test "$(field call1 bye_answer status)" = 200
check "server_calls_media: after BYE no relay session or port is left" wait_zero
check "server_calls_media: 200 packets counted as forwarded" test "$(metric dataline_relay_packets_total)" -ge 200
check "server_calls_media: the stranger's 20 packets counted and dropped" test "$(metric dataline_relay_strangers_total)" = 20
stop_uas

# 2. CANCEL frees the relay
uas b 28843 --answer 180 --run 4
uac call2 --cancel-after-ms 200
check "server_calls_media: cancelled call ends 487" test "$(field call2 final status)" = 487
check "server_calls_media: after CANCEL no relay session or port is left" wait_zero
stop_uas

# 3. the media timeout ends a silent call
uas b 28843 --answer 200 --answer-delay 100 --run 6
uac call3 --hold 0.2
check "server_calls_media: silent call answered" test "$(field call3 final status)" = 200
check "server_calls_media: its relay session holds four ports meanwhile" test "$(relay_socks)" = 4
sleep 3.5
check "server_calls_media: media timeout: the call record ended" test "$(metric dataline_calls_media_timeout_total)" = 1
check "server_calls_media: media timeout: no relay session or port is left" wait_zero
check "server_calls_media: media timeout: no call left active" test "$(metric dataline_calls_active)" = 0
stop_uas

# 4. a malformed offer
printf 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 99999 RTP/AVP 0\r\n' > "$TMP/bad.sdp"
uas b 28843 --answer 200 --run 3
uac call4 --sdp "$TMP/bad.sdp"
check "server_calls_media: malformed SDP: 488" test "$(field call4 final status)" = 488
check "server_calls_media: malformed SDP: the reason says so" test "$(field call4 final reason)" = "Malformed SDP"
check "server_calls_media: malformed SDP: no relay port opened" wait_zero
check "server_calls_media: malformed SDP: the device was not rung" test "$(grep -c '"invite"' "$TMP/b.out")" = 0
stop_uas
finish
