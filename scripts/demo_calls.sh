# demo_calls.sh: the call steps of `make demo` (C1-C3 and D), sourced by
# scripts/demo.sh once both daemons are registered; uses its functions
# (say, run, A, B, metrics, wait_for) and variables (WORK, TT_A, TT_B, NB,
# T1, T2). The daemons probe every 16 s; a shaped link shows in the next
# probe, and B's figures reach the server by PUBLISH.

# nprobes LOG, probe_kbps LOG N, probe_after LOG N OP VALUE
source "$ROOT/tests/integration/helpers/probes.sh"
# shape_wait NS LOG RATE|off OP VALUE: shape NS's link, wait for a probe
shape_wait() {
  local n; n=$(nprobes "$2")
  "$NETNS" shape "$1" "${1##*-}0" "$3" --queue-ms 2000 >/dev/null
  wait_for 40 probe_after "$2" "$n" "$4" "$5" ||
    echo "(no probe $4 $5 kbit/s within 40 s)"
  echo "last probe: $(probe_kbps "$2" "$(nprobes "$2")") kbit/s"
}
started() { metrics '^dataline_calls_started_total ' | awk '{print $2}'; }

say "C1/C2 again, now as a call: A's uplink shaped to 1 Mbit/s, below threshold 1 ($T1 kbit/s here)"
shape_wait "$TT_A" "$WORK/a-daemon.log" 1mbit -lt "$T1"
n0=$(started)
run A call "$NB" --fallback quit; echo "exit status $? (3 = not called)"
echo "server's view: calls started $n0 before, $(started) after (no INVITE left A)"
say "C2: the user chose the carrier network (no modem here: the log backend)"
run A call "$NB" --fallback carrier
run tail -n 1 "$WORK/a/carrier-calls.log"
shape_wait "$TT_A" "$WORK/a-daemon.log" off -gt "$T1"

say "C3: B's downlink shaped to 1 Mbit/s; B publishes its figures, below threshold 2 ($T2 kbit/s here)"
shape_wait "$TT_B" "$WORK/b-daemon.log" 1mbit -lt "$T2"
sleep 1   # the PUBLISH that follows the probe
run A call "$NB" --fallback quit; echo "exit status $? (the server answered 488 + Warning 370)"
grep "C3 gate refuses" "$WORK/server/server.log" | tail -n 1
say "C3: asked \"carrier network or quit?\", the user chose the carrier network"
run A call "$NB" --fallback carrier
run tail -n 1 "$WORK/a/carrier-calls.log"
shape_wait "$TT_B" "$WORK/b-daemon.log" off -gt "$T2"
sleep 1

say "D: a call over data: A and B above both thresholds; speech both ways through the relay (SRTP)"
run netq decide voice
run A call "$NB" --audio-in "$WORK/speech-a.wav" --audio-out "$WORK/a-heard.wav" --duration 6
wait_for 10 grep -q "call .* ended" "$WORK/b-daemon.log"
echo "B's end of it:"
grep "call .* from .*ended" "$WORK/b-daemon.log" | tail -n 1
echo "what each heard against what the other said (normalised cross-correlation, 8 kHz):"
echo "A -> B: $("$OUT/tools/mediacall" -i "$WORK/speech-a.wav" -x "$WORK/b-heard.wav")"
echo "B -> A: $("$OUT/tools/mediacall" -i "$WORK/speech-b.wav" -x "$WORK/a-heard.wav")"
echo "server's view:"
metrics '^dataline_(calls_(started|answered|gate_refused)_total|relay_packets_total|relay_sessions) '
