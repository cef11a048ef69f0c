#!/usr/bin/env bash
# call_baresip: voice calls between a dataline handset and baresip 1.0.0
# (Debian baresip-core, headless) through dataline-server and its media
# relay (on 127.0.0.1), on loopback ports 29500-29503 (server), 29510-29511
# (baresip SIP), 29520-29539 (baresip RTP), 29540-29599 (relay). Issue 9,
# "Must show": Interop; docs/calls.md, "Interop with baresip".
# Both register over TLS, so both use SRTP with SDES keys (baresip:
# mediaenc=srtp-mand, Opus only). baresip plays espeak-ng speech with its
# aufile source (48 kHz stereo, as aufile wants it; 10 s, after which
# aufile hangs up) and records what it decodes with its sndfile module;
# the handset's daemon plays other espeak-ng speech and records.
#   1. baresip dials the handset (daemon --answer auto): answered; baresip
#      reports SRTP and Opus both ways; the daemon's end-of-call
#      statistics say codec=opus and an SRTP suite, packets sent and
#      received, and an RTT from RTCP (baresip's report blocks on our SRs);
#      the relay's end-of-call line counts packets both ways;
#      each side's recording is not silent and matches what the other
#      sent;
#   2. `dataline call BARESIP --duration 8`, baresip answering
#      (answermode=auto): the same checks; the relay's ports freed after.
# Thresholds: "not silent" RMS >= MIN_RMS = 300 (of 32767; the speech is
# about 2500, silence 0); "matches": tests/tools/mediacall -x, the mean of
# 0.5 s windows' normalised cross-correlation at 8 kHz (seg) >= MIN_SEG =
# 0.80, as in call_e2e; packets >= MIN_PKTS = 200 each way (8-10 s at 50/s).
# (2) after (1) is also the regression test for a server bug it found:
# a handed-over INVITE moved the owner of baresip's TLS flow to the call's
# home worker (docs/calls.md, "Interop with baresip").
# KEEP=1 keeps the run's folder as /tmp/call_baresip-kept.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/tools/server_env.sh"
T=call_baresip
DL=$OUT/dataline MC=$OUT/tools/mediacall PY=/usr/bin/python3
BS_PID= DPID= DBUS_PID=
MIN_SEG=0.80 MIN_RMS=300 MIN_PKTS=200
cleanup() {
  [ -n "$DPID" ] && { kill -TERM "$DPID" 2>/dev/null; wait "$DPID" 2>/dev/null; }
  [ -n "$BS_PID" ] && { kill -KILL "$BS_PID" 2>/dev/null; wait "$BS_PID" 2>/dev/null; }
  [ -n "$DBUS_PID" ] && kill "$DBUS_PID" 2>/dev/null
  [ -n "${SRV_DIR:-}" ] && cp "$SRV_DIR/baresip.log" "$SRV_DIR/daemon.log" "$OUT/test-logs/" 2>/dev/null
  [ -n "${KEEP:-}" ] && [ -n "${SRV_DIR:-}" ] && rm -rf "/tmp/$T-kept" && cp -r "$SRV_DIR" "/tmp/$T-kept"
  srv_cleanup
}
trap cleanup EXIT
command -v baresip >/dev/null || { fail "$T: baresip installed (scripts/install-deps.sh)"; finish; }
command -v espeak-ng >/dev/null || { fail "$T: espeak-ng (scripts/install-deps.sh)"; finish; }
[ -x "$MC" ] || { fail "$T: $MC built"; finish; }
srv_start call_baresip 29500 --log-level debug --relay-addr 127.0.0.1 \
  --relay-port-min 29540 --relay-port-max 29599 || { fail "$T: server starts"; finish; }
NA=+8613800138611 NB=+8613800138612   # A: the handset, B: baresip
ST=$SRV_DIR/state
wait_for() { local s=$1 i; shift
  for ((i = 0; i < s * 10; i++)); do "$@" && return 0; sleep 0.1; done; return 1; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN{exit !(a+0 >= b+0)}'; }
field() { sed -n "s/.*[ ^]$1=\([^ ]*\).*/\1/p" <<<" $2"; }

# ---------------------------------------------------------------- audio
espeak-ng -w "$SRV_DIR/speech.wav" "The quick brown fox jumps over the lazy dog. \
Dataline carries voice calls over data, with Opus and secure RTP." ||
  { fail "$T: espeak-ng"; finish; }
espeak-ng -w "$SRV_DIR/bspeech.wav" "Baresip speaks to the handset now. \
One, two, three, four, five. Pack my box with five dozen liquor jugs." ||
  { fail "$T: espeak-ng"; finish; }
# baresip's source: its speech twice (aufile ends the call at the end of
# the file), 48 kHz stereo; bs_ref.wav the same as mono for the comparison
"$PY" -W ignore "$ROOT/tests/tools/wavconv.py" src "$SRV_DIR/bspeech.wav" \
  "$SRV_DIR/bs_src.wav" "$SRV_DIR/bs_ref.wav" || { fail "$T: baresip's WAV"; finish; }

# ---------------------------------------------------------------- handset
dbus-daemon --session --address="unix:path=$SRV_DIR/bus" --nofork --nopidfile >/dev/null 2>&1 &
DBUS_PID=$!
wait_for 10 test -S "$SRV_DIR/bus"
dl() { "$DL" --state-dir "$ST" --bus "unix:path=$SRV_DIR/bus" "$@"; }
dl --no-modem register "$NA" --server "https://127.0.0.1:$SRV_HTTPS" --insecure >/dev/null 2>&1
check "$T: handset provisioned" dl verify "$(spool_code "$NA")"
"$DL" --state-dir "$ST" --bus "unix:path=$SRV_DIR/bus" daemon --transport tls \
  --carrier log --log-file "$SRV_DIR/daemon.log" --answer auto \
  --audio-in "$SRV_DIR/speech.wav" --audio-out "$SRV_DIR/d_out.wav" &
DPID=$!
check "$T: handset registered over TLS" wait_for 20 grep -qs '"registered"' "$ST/daemon.json"

# ---------------------------------------------------------------- baresip
provision "$NB" || { fail "$T: baresip's number provisioned"; finish; }
mkdir -p "$SRV_DIR/rec"
cat > "$SRV_DIR/config" <<EOF
poll_method		epoll
sip_listen		127.0.0.1:29510
rtp_ports		29520-29539
module_path		/usr/lib/baresip/modules
module			stdio.so
module			opus.so
module			g711.so
module			srtp.so
module			aufile.so
module			aubridge.so
module			sndfile.so
module			account.so
module_app		contact.so
module_app		menu.so
audio_player		aubridge,nil
audio_source		aufile,$SRV_DIR/bs_src.wav
ausrc_srate		48000
ausrc_channels		2
snd_path		$SRV_DIR/rec
EOF
printf '<sip:%s@%s;transport=tls>;auth_user=%s;auth_pass=%s;outbound="sip:127.0.0.1:%s;transport=tls";regint=600;answermode=auto;audio_codecs=opus/48000/2;mediaenc=srtp-mand\n' \
  "$NB" "$DOMAIN" "$CRED_USER" "$CRED_PASS" "$SRV_TLS" > "$SRV_DIR/accounts"
: > "$SRV_DIR/contacts"
mkfifo "$SRV_DIR/stdin"
baresip -f "$SRV_DIR" -n 127.0.0.1 < "$SRV_DIR/stdin" > "$SRV_DIR/baresip.log" 2>&1 &
BS_PID=$!
exec {BS_IN}> "$SRV_DIR/stdin"
check "$T: baresip registers over TLS" wait_for 10 grep -q "{0/TLS/v4} 200 OK" "$SRV_DIR/baresip.log"

# ---------------------------------------------------------------- checks
WC() { "$PY" -W ignore "$ROOT/tests/tools/wavconv.py" "$@"; }
# heard NAME SENT GOT: GOT (mono) is not silent and matches SENT
heard() {
  local name=$1 sent=$2 got=$3 rms r
  rms=$(WC rms "$got" 2>/dev/null)
  r=$("$MC" -i "$sent" -x "$got" 2>&1)
  echo "# $name: rms=${rms:-none} $r"
  check "$T: $name: not silent (RMS ${rms:-none} >= $MIN_RMS)" ge "${rms:-0}" "$MIN_RMS"
  check "$T: $name: matches what was sent (seg $(field seg "$r") >= $MIN_SEG, delay $(field delay_ms "$r") ms)" \
    ge "$(field seg "$r")" "$MIN_SEG"
}
# relayed N: the relay's line for the server's Nth call: packets both ways
relayed() {
  local l a b
  wait_for 10 test "$(grep -c 'relay: call .* ended' "$SRV_DIR/server.log")" -ge "$1"
  l=$(grep 'relay: call .* ended' "$SRV_DIR/server.log" | sed -n "$1p")
  echo "# ${l#* * }"
  a=$(sed -n 's/.*A->B \([0-9]*\) packets.*/\1/p' <<<"$l")
  b=$(sed -n 's/.*B->A \([0-9]*\) packets.*/\1/p' <<<"$l")
  check "$T: $2 RTP through the relay both ways (${a:-0} and ${b:-0} packets, >= $MIN_PKTS each)" \
    test "${a:-0}" -ge "$MIN_PKTS" -a "${b:-0}" -ge "$MIN_PKTS"
}
# stats NAME LINE: a call's statistics (ours): Opus, SRTP, packets both
# ways, and a round-trip time from RTCP (rtt=-1ms: none), which needs our
# SR to reach baresip and its report block on us (LSR, DLSR) to come back
stats() {
  local s r u t
  s=$(field sent "$2") r=$(field received "$2") u=$(field suite "$2")
  t=$(field rtt "$2"); t=${t%ms}
  check "$T: $1 the handset's side: codec opus, SRTP (${u%)})" \
    grep -Eq 'codec=opus .*suite=(AES_CM_128_HMAC_SHA1_80|AEAD_AES_128_GCM)' <<<"$2"
  check "$T: $1 the handset sent and received RTP (${s:-0} / ${r:-0} >= $MIN_PKTS)" \
    test "${s:-0}" -ge "$MIN_PKTS" -a "${r:-0}" -ge "$MIN_PKTS"
  check "$T: $1 the handset has an RTT from baresip's RTCP (rtt=${t:-none} ms >= 0)" \
    ge "${t:--1}" 0
}
bs_srtp_opus() { # the baresip log since line $1: SRTP and Opus both ways
  tail -n +"$1" "$SRV_DIR/baresip.log" | grep -aq 'SRTP is Enabled' &&
  tail -n +"$1" "$SRV_DIR/baresip.log" | grep -aq 'Set audio encoder: opus' &&
  tail -n +"$1" "$SRV_DIR/baresip.log" | grep -aq 'Set audio decoder: opus'
}
# the call baresip started after line $L of its log has ended
bs_ended() { tail -n +"$L" "$SRV_DIR/baresip.log" | grep -aq terminated; }

# ---------------------------------------------------------------- 1.
L=$(wc -l < "$SRV_DIR/baresip.log")
echo "/dial sip:$NA@$DOMAIN" >&"$BS_IN"
check "$T: 1. baresip's call to the handset is answered" wait_for 10 \
  grep -aq "Call established: sip:$NA@" "$SRV_DIR/baresip.log"
check "$T: 1. baresip: SRTP and Opus ($(tail -n +"$L" "$SRV_DIR/baresip.log" | grep -ao 'cryptosuite=[A-Z0-9_]*' | head -1))" \
  bs_srtp_opus "$L"
# baresip hangs up at the end of its 10 s file
check "$T: 1. the call ends (baresip's BYE at the end of its file)" wait_for 20 \
  grep -q "call [0-9]* from $NB: ended" "$SRV_DIR/daemon.log"
line=$(grep "call [0-9]* from $NB: ended" "$SRV_DIR/daemon.log" | tail -1)
echo "# handset: ${line#*svc: }"
stats "1." "$line"
relayed 1 "1."
wait_for 10 bs_ended; sleep 1   # then sndfile has closed its files
WC mono "$(ls "$SRV_DIR"/rec/*-dec.wav | head -1)" "$SRV_DIR/bs_got1.wav" 2>/dev/null
heard "1. baresip to handset" "$SRV_DIR/bs_ref.wav" "$SRV_DIR/d_out.wav"
heard "1. handset to baresip" "$SRV_DIR/speech.wav" "$SRV_DIR/bs_got1.wav"

# ---------------------------------------------------------------- 2.
rm -f "$SRV_DIR"/rec/*
L=$(wc -l < "$SRV_DIR/baresip.log")
out=$(dl call "$NB" --fallback quit --audio-in "$SRV_DIR/speech.wav" \
  --audio-out "$SRV_DIR/a_out.wav" --duration 8 2>&1); rc=$?
echo "$out" | sed 's/^/# dataline call: /'
check "$T: 2. dataline call to baresip: baresip answered, --duration ended it (exit $rc)" \
  test $rc -eq 0
check "$T: 2. baresip: SRTP and Opus ($(tail -n +"$L" "$SRV_DIR/baresip.log" | grep -ao 'cryptosuite=[A-Z0-9_]*' | head -1))" \
  bs_srtp_opus "$L"
stats "2." "$(grep '^ended:' <<<"$out")"
relayed 2 "2."
wait_for 10 bs_ended; sleep 1   # then sndfile has closed its files
WC mono "$(ls "$SRV_DIR"/rec/*-dec.wav | head -1)" "$SRV_DIR/bs_got2.wav" 2>/dev/null
heard "2. handset to baresip" "$SRV_DIR/speech.wav" "$SRV_DIR/bs_got2.wav"
heard "2. baresip to handset" "$SRV_DIR/bs_ref.wav" "$SRV_DIR/a_out.wav"
curl -s "http://127.0.0.1:$SRV_HTTP/metrics" | grep -E '^dataline_(calls|relay)' | sed 's/^/# /'
check "$T: the relay's ports are freed after both calls" wait_for 10 \
  test "$(metric dataline_relay_sessions)" = 0
finish
