#!/usr/bin/env bash
# handset_gate: the server's C3 answer (488 Not Acceptable Here with
# Warning: 370 "Insufficient bandwidth") reaching the handset's fallback
# through the daemon (docs/calls.md "The handset's call flow"). SIPp
# stands in for the server (registrar + the gate's answer:
# tests/sipp/call_reject.xml made into its 488/370 variant) on loopback
# port 29120; `dataline daemon` runs over UDP with an account written
# here, its private bus also carrying the ModemManager mock as its system
# bus. `call --fallback quit` exits 3 naming the 370; `--fallback carrier`
# has the daemon place the carrier call (Voice.CreateCall with the number,
# the Call's Start); `--fallback ask` on a terminal (tmux): "q" places
# nothing, "c" calls again straight to the carrier; a D-Bus client
# (handset_bus.py) sees CallState "refused" with the Warning. Then an
# incoming call (tests/sipp/call_in_bye.xml):
# the daemon rings (CallState "ringing"), `dataline answer` answers it
# with the media engine's answer, the caller's BYE ends it and CallState
# "ended" carries the statistics (codec PCMU, packets sent). Last, an
# outgoing call answered (tests/sipp/call_callee.xml: 407, 180, 200 with
# PCMU): `dataline call --duration 2` prints the states, the daemon hangs
# up after 2 s (BYE along the route set) and the end has the statistics.
. "$(dirname "$0")/lib.sh"
DL=$OUT/dataline PY=/usr/bin/python3
PORT=29120 ME=+8613800291001 PEER=+8613900291002
[ -x "$DL" ] || { fail "handset_gate - $DL not built"; finish; }
command -v sipp >/dev/null || { fail "handset_gate - sipp missing"; finish; }
command -v tmux >/dev/null || { fail "handset_gate - tmux missing"; finish; }
$PY -c 'import dbus, gi, dbusmock' 2>/dev/null || { fail "handset_gate - python3-dbus/gi/dbusmock"; finish; }
tmp=$(mktemp -d /tmp/handset_gate.XXXXXX)
TMUX_S=dlgate-$$
pids=() DPID=
cleanup() {
  tmux kill-session -t "$TMUX_S" 2>/dev/null
  [ -n "$DPID" ] && kill "$DPID" 2>/dev/null
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  mkdir -p "$OUT/test-logs"
  cp "$tmp/daemon.log" "$OUT/test-logs/handset_gate-daemon.log" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
wait_for() { local s=$1 i; shift; for ((i = 0; i < s * 10; i++)); do "$@" && return 0; sleep 0.1; done; return 1; }

dbus-daemon --session --address="unix:path=$tmp/bus" --nofork --nopidfile >/dev/null 2>&1 &
pids+=($!)
wait_for 10 test -S "$tmp/bus"
export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$tmp/bus"
$PY -m dbusmock -s -t "$ROOT/tests/mock/modemmanager.py" -p '{}' >> "$tmp/mock.log" 2>&1 &
pids+=($!)
MOCK=(dbus-send --system --print-reply --dest=org.freedesktop.ModemManager1)
MM=/org/freedesktop/ModemManager1 MODEM=$MM/Modem/0
check "mock up" wait_for 10 "${MOCK[@]}" $MM org.freedesktop.DBus.ObjectManager.GetManagedObjects
ncreate() { "${MOCK[@]}" $MODEM org.freedesktop.DBus.Mock.GetMethodCalls string:CreateCall | grep -c uint64; }

# the gate: REGISTER -> 200, every INVITE -> 488 + Warning 370
sed 's/SIP\/2.0 486 Busy Here/SIP\/2.0 488 Not Acceptable Here/' \
  "$ROOT/tests/sipp/call_reject.xml" > "$tmp/gate.xml"
sipp -sf "$tmp/gate.xml" -i 127.0.0.1 -p $PORT -m 100 -nostdin \
  -key hdr 'Warning: 370 gate.test "Insufficient bandwidth"' > "$tmp/sipp.log" 2>&1 &
GATE=$!
pids+=($GATE)
mkdir -p "$tmp/st"
cat > "$tmp/st/state.json" <<JSON
{"account": {"number": "$ME", "domain": "dataline.test", "username": "$ME",
 "password": "gate-secret", "instance": "urn:uuid:00000000-0000-4000-8000-000000291201",
 "sip_uris": ["sip:127.0.0.1:$PORT;transport=udp"]}}
JSON
chmod 600 "$tmp/st/state.json"
daemon_start() { # a daemon on the state above, registering with whatever SIPp runs
  rm -f "$tmp/st/daemon.json"
  "$DL" --state-dir "$tmp/st" --bus "unix:path=$tmp/bus" daemon --transport udp --probe off \
    --contacts-sync 0 --carrier modem --log-file "$tmp/daemon.log" &
  DPID=$!
}
daemon_stop() { kill "$DPID" 2>/dev/null; wait "$DPID" 2>/dev/null; DPID=; }
daemon_start
check "daemon registered with the SIPp gate" wait_for 20 grep -qs '"registered"' "$tmp/st/daemon.json"
dl() { "$DL" --state-dir "$tmp/st" --bus "unix:path=$tmp/bus" "$@"; }

out=$(dl call $PEER --fallback quit 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
check "488/370, --fallback quit: exit 3" test $rc -eq 3
check "... says why: the 488 and its Warning 370" grep -q '^Not called: no call over data (488 370 gate.test "Insufficient bandwidth")' <<<"$out"
check "... ModemManager got nothing" test "$(ncreate)" -eq 0

out=$(dl call $PEER --fallback carrier 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
check "488/370, --fallback carrier: exit 0" test $rc -eq 0
check "... the daemon placed the carrier call" grep -q '^carrier: /org/freedesktop/ModemManager1/Call/' <<<"$out"
path=$(grep -Eo '/org/freedesktop/ModemManager1/Call/[0-9]+' <<<"$out" | head -1)
check "... Voice.CreateCall got the number" grep -q "string \"$PEER\"" \
  <<<"$("${MOCK[@]}" $MODEM org.freedesktop.DBus.Mock.GetMethodCalls string:CreateCall)"
check "... and the Call was started" test -n "$path" -a \
  -n "$("${MOCK[@]}" "$path" org.freedesktop.DBus.Mock.GetMethodCalls string:Start | grep uint64)"

. "$ROOT/tests/integration/helpers/tmux_ask.sh"
ask() { tmux_ask "$TMUX_S" 'carrier network or quit' "$1" \
  "DBUS_SYSTEM_BUS_ADDRESS=unix:path=$tmp/bus $DL --state-dir $tmp/st --bus unix:path=$tmp/bus call $PEER --fallback ask"; }
n=$(ncreate)
pane=$(ask q)
check "ask after the 488/370: \"call by the carrier network or quit?\"" \
  grep -q "Call by the carrier network or quit" <<<"$pane"
check "... q: exit 3" grep -q "EXIT=3" <<<"$pane"
check "... q: nothing placed" test "$(ncreate)" -eq "$n"
pane=$(ask c)
check "... c: called by the carrier network, exit 0" grep -q "EXIT=0" <<<"$pane"
check "... c: one more CreateCall" test "$(ncreate)" -eq $((n + 1))
[ "$T_FAILED" = 1 ] && echo "$pane" | sed 's/^/#   /'

$PY "$ROOT/tests/tools/handset_bus.py" --bus "unix:path=$tmp/bus" call-watch $PEER \
  --timeout 20 > "$tmp/bus.jsonl" 2>&1; rc=$?
sed 's/^/# /' "$tmp/bus.jsonl"
check "D-Bus client: CallState refused with the Warning (exit $rc)" \
  grep -q '"final": "refused", "details": "488 370 gate.test' "$tmp/bus.jsonl"

# --- an incoming call, answered by `dataline answer` ---------------------------
# a new daemon registers with SIPp as a caller (call_in_bye.xml: REGISTER
# -> 200, then the INVITE, the ACK and its BYE)
daemon_stop
kill $GATE 2>/dev/null; wait $GATE 2>/dev/null
timeout 40 sipp -sf "$ROOT/tests/sipp/call_in_bye.xml" -i 127.0.0.1 -p $PORT -m 1 -nostdin \
  -trace_err -error_file "$tmp/in.err" > "$tmp/in.sipp" 2>&1 &
S=$!
$PY "$ROOT/tests/tools/handset_bus.py" --bus "unix:path=$tmp/bus" watch --timeout 25 \
  > "$tmp/watch.jsonl" 2>&1 &
W=$!
sleep 0.3
daemon_start
ringing() { dl answer 2>&1 | grep -q '^Answered call'; }
check "incoming: the daemon rings; dataline answer answers it" wait_for 15 ringing
wait $S; rc=$?
check "incoming: SIPp got 180, 200 with Record-Route and an SDP, and its BYE's 200 (rc $rc)" test $rc -eq 0
[ $rc -ne 0 ] && sed 's/^/# sipp: /' "$tmp/in.err" | head -5
wait $W
grep CallState "$tmp/watch.jsonl" | sed 's/^/# /'
check "incoming: CallState ringing" grep -q '"CallState", "args": \[[0-9]*, "ringing"' "$tmp/watch.jsonl"
check "incoming: CallState confirmed (media started)" grep -q '"confirmed", "media on port' "$tmp/watch.jsonl"
check "incoming: CallState ended with statistics (remote, PCMU, packets sent)" \
  grep -Eq '"ended", "reason=remote status=200 codec=PCMU duration=[0-9.]+s sent=[1-9]' "$tmp/watch.jsonl"

# --- an outgoing call, answered, hung up by --duration --------------------------
daemon_stop
# -m 3: the REGISTER, the daemon's PUBLISH (not in the scenario: SIPp
# counts it as a failed call, so its exit status is not looked at) and
# the call. SIPp aborts the call when one of its checks fails (ACK and
# BYE to the Contact with the reversed Record-Route), so the BYE's 200
# that the daemon reports says they passed.
timeout 40 sipp -sf "$ROOT/tests/sipp/call_callee.xml" -i 127.0.0.1 -p $PORT -m 3 -nostdin \
  -trace_err -error_file "$tmp/out.err" > "$tmp/out.sipp" 2>&1 &
S=$!
sleep 0.3
daemon_start
check "outgoing: a new daemon registered" wait_for 20 grep -qs '"registered"' "$tmp/st/daemon.json"
out=$(timeout 30 "$DL" --state-dir "$tmp/st" --bus "unix:path=$tmp/bus" call $PEER \
  --fallback quit --duration 2 2>&1); rc=$?
echo "$out" > "$tmp/call.out"
echo "$out" | sed 's/^/# /'
wait $S
[ $rc -ne 0 ] && sed 's/^/# sipp: /' "$tmp/out.err" | head -5
check "outgoing: dataline call printed ringing, confirmed, then the end (exit $rc)" sh -c \
  "test $rc -eq 0 && grep -q '^ringing: 180' $tmp/call.out && grep -q '^confirmed: media on port' $tmp/call.out"
check "outgoing: ... 407 answered; ended by the BYE after --duration (its 200), with the statistics" \
  grep -Eq '^ended: reason=local status=200 codec=PCMU duration=[0-9.]+s sent=[1-9]' <<<"$out"
finish
