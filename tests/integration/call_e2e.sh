#!/usr/bin/env bash
# call_e2e: patent step D end to end (issue 9, "Must show" 1 and 3).
# Namespaces of helpers/texts_topo.sh: handset A, the server S with its
# media relay on 198.18.30.1, and handset B behind R's NAT (masquerade).
# Both daemons register over TLS, so the media is SRTP with SDES keys.
# B answers by policy (--answer auto) and plays a known WAV (espeak-ng
# speech); A calls B with `dataline call --duration 10` and plays the same
# speech. Each side records what it decoded; tests/tools/mediacall -x
# compares it with what was sent (normalised cross-correlation at 8 kHz,
# 0.5 s windows each within 120 ms of the best delay, docs/calls.md):
#   1. clean: at least 0.80 both ways, the delay printed, an RTT from
#      RTCP (SR and RR both ways through the relay and the NAT);
#   2. 5% random loss on B's link, both directions (scripts/netns.sh
#      impair: a tc BPF drop program, netem is absent here): at least
#      0.70 both ways (Opus in-band FEC and concealment);
# and each time: the media went through the relay (its /metrics count
# packets both ways for the call), both ends printed their statistics,
# and the relay's ports are freed after the BYE.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/helpers/texts_topo.sh"
source "$(dirname "$0")/helpers/handsets.sh"
need_root call_e2e
P=ce$(( $$ % 10000 ))
DIR=$(mktemp -d /tmp/dl-call-e2e.XXXXXX)
DL=$OUT/dataline MC=$OUT/tools/mediacall
NA=+4915300000031 NB=+4915300000032
PIN=/sys/fs/bpf/dataline-test-$P
TMUX_S=dl-$P
MIN_CLEAN=0.80 MIN_LOSS=0.70
trap 'hs_netq_cleanup call_e2e' EXIT
hs_need call_e2e
[ -x "$MC" ] || { fail "call_e2e: $MC built"; finish; }
command -v espeak-ng >/dev/null || { fail "call_e2e: espeak-ng (scripts/install-deps.sh)"; finish; }
espeak-ng -w "$DIR/speech.wav" "The quick brown fox jumps over the lazy dog. \
Dataline carries voice calls over data, with Opus and secure RTP, \
and falls back to the carrier network when the data link is too slow." ||
  { fail "call_e2e: espeak-ng"; finish; }

tt_up "$P" || { fail "call_e2e: topology up"; finish; }
hs_init
hs_server_start --log-level debug --relay-addr $SIP --relay-port-min 41000 --relay-port-max 41099
check "call_e2e: server up" tt_exec "$TT_S" curl -sf http://127.0.0.1:8080/healthz -o /dev/null
for h in a b; do check "call_e2e: handset $h provisioned" hs_provision $h; done
hs_daemon_start a --carrier log
hs_daemon_start b --carrier log --answer auto --audio-in "$DIR/speech.wav" \
  --audio-out "$DIR/b_out.wav"
check "call_e2e: both daemons registered over TLS" wait_for 30 sh -c \
  "grep -qs '\"registered\"' $DIR/a/state/daemon.json && grep -qs '\"registered\"' $DIR/b/state/daemon.json"
metric() { tt_exec "$TT_S" curl -s http://127.0.0.1:8080/metrics | awk -v m="$1" '$1 == m {print $2}'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN{exit !(a+0 >= b+0)}'; }
field() { sed -n "s/.*[ ^]$1=\([^ ]*\).*/\1/p" <<<" $2"; }

# call NAME MIN: A calls B for 10 s; both recordings compared with the speech
call() {
  local name=$1 min=$2 out rc ab ba
  rm -f "$DIR/a_out.wav" "$DIR/b_out.wav"
  out=$(dl a call "$NB" --fallback quit --audio-in "$DIR/speech.wav" \
    --audio-out "$DIR/a_out.wav" --duration 10 2>&1); rc=$?
  echo "$out" | sed 's/^/# A: /'
  check "call_e2e: $name: the call took place (exit $rc)" test $rc -eq 0
  check "call_e2e: $name: A printed the statistics" grep -q "codec=" <<<"$out"
  # RTCP is sent every 5 s: with 5% loss each way one lost SR or RR can
  # leave a 10 s call without an RTT, so only the clean call must have one
  [ "$name" = clean ] &&
    check "call_e2e: $name: ... with an RTT from RTCP through the relay and B's NAT" \
      grep -Eq "rtt=[0-9]+ms" <<<"$out"
  wait_for 10 grep -q "call .* ended" "$DIR/daemon-b.log"
  grep "call .* ended" "$DIR/daemon-b.log" | tail -1 | sed 's/^/# B: /'
  ab=$("$MC" -i "$DIR/speech.wav" -x "$DIR/b_out.wav" 2>&1)
  ba=$("$MC" -i "$DIR/speech.wav" -x "$DIR/a_out.wav" 2>&1)
  echo "# A to B: $ab"; echo "# B to A: $ba"
  check "call_e2e: $name: A to B audio matches ($(field seg "$ab") >= $min, delay $(field delay_ms "$ab") ms)" \
    ge "$(field seg "$ab")" "$min"
  check "call_e2e: $name: B to A audio matches ($(field seg "$ba") >= $min, delay $(field delay_ms "$ba") ms)" \
    ge "$(field seg "$ba")" "$min"
}

call clean $MIN_CLEAN
[ -n "${E2E_ONE:-}" ] && finish
tt_exec "$TT_S" curl -s http://127.0.0.1:8080/metrics | grep -E '^dataline_(calls|relay)' | sed 's/^/# /'
check "call_e2e: the relay forwarded the call's packets (both ways: 10 s at 50/s each)" \
  test "$(metric dataline_relay_packets_total)" -gt 800
check "call_e2e: the relay's ports are freed after the BYE" wait_for 10 \
  test "$(metric dataline_relay_sessions)" = 0

"$ROOT/scripts/netns.sh" impair "$TT_B" b0 5 >/dev/null && "$ROOT/scripts/netns.sh" impair "$TT_B" b0 5 --ingress >/dev/null ||
  fail "call_e2e: 5% loss on B's link"
call "5% loss" $MIN_LOSS
"$ROOT/scripts/netns.sh" impair "$TT_B" b0 off >/dev/null
finish
