#!/usr/bin/env bash
# handset_calls: the handset's call flow through its daemon and the real
# server (docs/calls.md "The handset's call flow", "The C3 gate"): patent
# steps C2 (own rate against threshold 1 before any INVITE) and C3 (the
# server's check of the callee's published rate against threshold 2), the
# carrier fallback, and the D-Bus call methods used by a client that is
# not the CLI. Namespaces of helpers/texts_topo.sh, the real server (probe
# reflector on 5070, threshold 2 = 1500 kbit/s, --call-min-kbps), both
# handsets running `dataline daemon` (B answers by policy); A's private
# bus also carries the ModemManager mock (tests/mock/modemmanager.py) as
# its system bus; netq is attached to A's link, threshold 1 = 1500 kbit/s.
# Both daemons probe every 16 s: the reflector answers an address 2
# packets a second after a burst of 128 (server/presence/reflector.h) and
# a probe is 32, so a shorter interval would soon see missing echoes as
# loss in the figures.
#   1. Unshaped (A's probe above 1500, B's published above 1500):
#      tests/tools/handset_bus.py calls B with Call(); the INVITE leaves
#      A, the gate lets it through, B's daemon answers, the call ends.
#   2. a0 shaped to 1 Mbit/s (tc tbf), a probe below 1500 kbit/s seen:
#      `call --fallback quit` exits 3 naming the rate, and no INVITE
#      leaves A; `--fallback carrier` reaches the mock's Voice.CreateCall
#      with B's number and the Call's Start; `--fallback ask` on a
#      terminal (tmux) asks "call by the carrier network or quit?": "q"
#      places nothing, "c" places the carrier call.
#   3. a0 unshaped (A's probe above threshold 1 again), b0 shaped to 1
#      Mbit/s and B's figures below 1500 kbit/s published: every call
#      sends its INVITE and the server's C3 gate answers 488 + Warning 370
#      (its log, /metrics): `--fallback quit` exits 3 saying why, `ask`
#      asks after the refusal and "c" places the carrier call, `carrier`
#      has the daemon place it (CreateCall with B's number, Start); then
#      b0 unshaped, B's figures above 1500 published, and a call goes over
#      data again: the refusal was the figures'.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/helpers/texts_topo.sh"
source "$(dirname "$0")/helpers/handsets.sh"
source "$(dirname "$0")/helpers/probes.sh"
need_root handset_calls
P=hc$(( $$ % 10000 ))
DIR=$(mktemp -d /tmp/dl-hcall.XXXXXX)
DL=$OUT/dataline
PY=/usr/bin/python3
NA=+4915300000021 NB=+4915300000022
PIN=/sys/fs/bpf/dataline-test-$P
TMUX_S=dl-$P
T1=1500 T2=1500
PROBE=(--probe-interval 16 --probe-budget 16000000)
trap 'hs_netq_cleanup handset_calls' EXIT
hs_need handset_calls
tt_up "$P" || { fail "handset_calls: topology up"; finish; }
hs_init
hs_server_start --probe-udp $SIP:5070 --call-min-kbps $T2
check "handset_calls: server up" tt_exec "$TT_S" curl -sf http://127.0.0.1:8080/healthz -o /dev/null
for h in a b; do
  check "handset_calls: handset $h provisioned" hs_provision $h
done
check "handset_calls: ModemManager mock up" hs_mm_start
ncreate() { "${MOCK[@]}" $MODEM org.freedesktop.DBus.Mock.GetMethodCalls string:CreateCall | grep -c uint64; }
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
check "handset_calls: netq attached to A's link" \
  nsenter --net="/var/run/netns/$TT_A" "$OUT/dataline-netq" --pin-dir "$PIN" attach a0 >/dev/null
hs_daemon_start a --carrier modem --netq-pin-dir "$PIN" --call-min-kbps $T1 "${PROBE[@]}"
hs_daemon_start b --carrier log --answer auto "${PROBE[@]}"
check "handset_calls: both daemons registered" wait_for 30 sh -c \
  "grep -qs '\"registered\"' $DIR/a/state/daemon.json && grep -qs '\"registered\"' $DIR/b/state/daemon.json"
LA=$DIR/daemon-a.log LB=$DIR/daemon-b.log LS=$DIR/server.log
invites() { grep -c "agent: call [0-9]* to " "$LA"; }
incoming() { grep -c "svc: call [0-9]* from .*: incoming" "$LB"; }
refusals() { grep -c "C3 gate refuses the call to $NB" "$LS"; }
metric() { tt_exec "$TT_S" curl -s http://127.0.0.1:8080/metrics | awk -v n="$1" '$1 == n { print $2 }'; }
# shape NS DEV: DEV's egress to 1 Mbit/s (tc tbf), below both thresholds
shape() { tt_exec "$1" tc qdisc replace dev "$2" root tbf rate 1mbit burst 4096 limit 262144; }
unshape() { tt_exec "$1" tc qdisc del dev "$2" root 2>/dev/null; }
mm_calls() { "${MOCK[@]}" "$1" org.freedesktop.DBus.Mock.GetMethodCalls string:"$2"; }
# carrier_placed OUT: the mock's last CreateCall had B's number and the
# Call named in OUT (the CLI's output) was started
carrier_placed() {
  local path; path=$(grep -Eo '/org/freedesktop/ModemManager1/Call/[0-9]+' <<<"$1" | tail -n 1)
  [ -n "$path" ] && mm_calls $MODEM CreateCall | grep -q "string \"$NB\"" &&
    mm_calls "$path" Start | grep -q uint64
}

# --- 1. over data, a D-Bus client ---------------------------------------------
check "handset_calls: 1. a probe above threshold 1 ($T1 kbit/s)" wait_for 30 probe_after "$LA" 0 -gt $T1
check "handset_calls: 1. B published figures above threshold 2 ($T2 kbit/s)" \
  wait_for 30 published_after "$LB" 0 -gt $T2
ip netns exec "$TT_A" $PY "$ROOT/tests/tools/handset_bus.py" --bus "unix:path=$DIR/a/bus" \
  call-watch "$NB" --timeout 60 --hangup-after 1 > "$DIR/call1.jsonl" 2>&1
rc=$?
sed 's/^/# /' "$DIR/call1.jsonl"
check "handset_calls: 1. Call() went over data (exit $rc)" grep -q '"route": "data"' "$DIR/call1.jsonl"
check "handset_calls: 1. ... the INVITE left A" test "$(invites)" -ge 1
check "handset_calls: 1. ... the gate let it through to B's daemon" test "$(incoming)" -eq 1
check "handset_calls: 1. ... and the call ended (CallState)" grep -q '"final": "ended"' "$DIR/call1.jsonl"

# --- 2. A's link below threshold 1 ----------------------------------------------
n=$(nprobes "$LA")
shape "$TT_A" a0
check "handset_calls: 2. a probe below threshold 1 once shaped" wait_for 40 probe_after "$LA" "$n" -lt $T1
echo "# A's probes: $(grep -o 'probe to .*kbit/s' "$LA" | grep -Eo '[0-9]+ kbit/s' | tr '\n' ' ')"
i0=$(invites) c0=$(ncreate)
out=$(dl a call "$NB" --fallback quit 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
check "handset_calls: 2. --fallback quit: exit 3" test $rc -eq 3
check "handset_calls: 2. ... says why (the rate against threshold 1)" \
  grep -q "Not called: no call over data (.*threshold 1 $T1 kbit/s)" <<<"$out"
check "handset_calls: 2. ... no INVITE left A" test "$(invites)" -eq "$i0"
check "handset_calls: 2. ... and ModemManager got nothing" test "$(ncreate)" -eq "$c0"
out=$(dl a call "$NB" --fallback carrier 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
check "handset_calls: 2. --fallback carrier: exit 0" test $rc -eq 0
check "handset_calls: 2. ... Voice.CreateCall got B's number, the Call was started" \
  carrier_placed "$out"
check "handset_calls: 2. ... still no INVITE" test "$(invites)" -eq "$i0"
. "$ROOT/tests/integration/helpers/tmux_ask.sh"
ask() { tmux_ask "$TMUX_S" 'carrier network or quit' "$1" \
  "ip netns exec $TT_A $DL --state-dir $DIR/a/state --bus unix:path=$DIR/a/bus call $NB --fallback ask"; }
c0=$(ncreate)
pane=$(ask q)
check "handset_calls: 2. ask: \"call by the carrier network or quit?\"" \
  grep -q "Call by the carrier network or quit" <<<"$pane"
check "handset_calls: 2. ... q: nothing placed, exit 3" grep -q "EXIT=3" <<<"$pane"
check "handset_calls: 2. ... q: ModemManager got nothing" test "$(ncreate)" -eq "$c0"
pane=$(ask c)
check "handset_calls: 2. ... c: called by the carrier network, exit 0" grep -q "EXIT=0" <<<"$pane"
check "handset_calls: 2. ... c: one more CreateCall" test "$(ncreate)" -eq $((c0 + 1))
check "handset_calls: 2. ... and never an INVITE" test "$(invites)" -eq "$i0"
[ "$T_FAILED" = 1 ] && echo "$pane" | sed 's/^/#   /'

# --- 3. B's published figures below threshold 2 (C3) ----------------------------
na=$(nprobes "$LA") lb=$(wc -l < "$LB")
unshape "$TT_A" a0
shape "$TT_B" b0
check "handset_calls: 3. A's probe above threshold 1 again once a0 unshaped" \
  wait_for 40 probe_after "$LA" "$na" -gt $T1
check "handset_calls: 3. B published figures below threshold 2 once b0 shaped" \
  wait_for 40 published_after "$LB" "$lb" -lt $T2
echo "# B's probes: $(grep -o 'probe to .*kbit/s' "$LB" | grep -Eo '[0-9]+ kbit/s' | tr '\n' ' ')"
i0=$(invites) c0=$(ncreate) g0=$(metric dataline_calls_gate_refused_total)
r0=$(metric 'dataline_sip_requests_total{method="INVITE",status="488"}')
out=$(dl a call "$NB" --fallback quit 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
grep "C3 gate refuses" "$LS" | tail -n 1 | sed 's/^/# server: /'
check "handset_calls: 3a. --fallback quit: exit 3 (not called)" test $rc -eq 3
check "handset_calls: 3a. ... the INVITE left A" test "$(invites)" -eq $((i0 + 1))
check "handset_calls: 3a. ... the server's C3 gate refused it (log, figures)" \
  grep -q "C3 gate refuses the call to $NB (below threshold 2: rate [0-9]* kbit/s < $T2" "$LS"
check "handset_calls: 3a. ... counted in /metrics (gate refused, INVITE 488)" test \
  "$(metric dataline_calls_gate_refused_total)" -eq $((g0 + 1)) -a \
  "$(metric 'dataline_sip_requests_total{method="INVITE",status="488"}')" -eq $((${r0:-0} + 1))
check "handset_calls: 3a. ... A says why (488, Warning 370, the callee's rate)" grep -q \
  "Not called: no call over data (488 370 [^ ]* \"Insufficient bandwidth\".*rate [0-9]* kbit/s.*threshold 2 $T2 kbit/s" <<<"$out"
check "handset_calls: 3a. ... B's daemon never saw it" test "$(incoming)" -eq 1
check "handset_calls: 3a. ... and ModemManager got nothing" test "$(ncreate)" -eq "$c0"
g0=$(metric dataline_calls_gate_refused_total)
pane=$(ask c)
echo "$pane" | grep -v '^$' | sed 's/^/#   /'
check "handset_calls: 3b. ask: the question comes after the server's refusal" \
  awk '/^refused: 488 370/ { r = NR } /Call by the carrier network or quit/ && r && NR >= r { q = 1 }
    END { exit !q }' <<<"$pane"
check "handset_calls: 3b. ... the INVITE had left A and the gate refused it" \
  test "$(invites)" -eq $((i0 + 2)) -a "$(metric dataline_calls_gate_refused_total)" -eq $((g0 + 1))
check "handset_calls: 3b. ... c: called by the carrier network, exit 0" grep -q "EXIT=0" <<<"$pane"
check "handset_calls: 3b. ... c: one CreateCall" test "$(ncreate)" -eq $((c0 + 1))
out=$(dl a call "$NB" --fallback carrier 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
check "handset_calls: 3c. --fallback carrier: exit 0" test $rc -eq 0
check "handset_calls: 3c. ... after the server's refusal" \
  test "$(invites)" -eq $((i0 + 3)) -a "$(refusals)" -eq 3
check "handset_calls: 3c. ... Voice.CreateCall got B's number, the Call was started" \
  carrier_placed "$out"
check "handset_calls: 3c. ... one more CreateCall" test "$(ncreate)" -eq $((c0 + 2))
lb=$(wc -l < "$LB")
unshape "$TT_B" b0
check "handset_calls: 3d. B published figures above threshold 2 once b0 unshaped" \
  wait_for 40 published_after "$LB" "$lb" -gt $T2
out=$(dl a call "$NB" --fallback quit --duration 1 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
check "handset_calls: 3d. the same call goes over data again (exit 0)" test $rc -eq 0
check "handset_calls: 3d. ... answered by B and ended" grep -q "^ended: reason=local status=200" <<<"$out"
check "handset_calls: 3d. ... the gate let it through" \
  test "$(refusals)" -eq 3 -a "$(incoming)" -eq 2 -a "$(invites)" -eq $((i0 + 4))
check "handset_calls: 3d. ... and no carrier call" test "$(ncreate)" -eq $((c0 + 2))
finish
