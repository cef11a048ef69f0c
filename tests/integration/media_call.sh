#!/usr/bin/env bash
# media_call: the handset media engine end to end over loopback (issue 9).
# Two sessions on one engine (tests/tools/mediacall) do offer/answer with
# the API and send each other espeak-ng speech for 8 s; what each decoded
# is compared with what was sent (normalised cross-correlation at 8 kHz,
# best lag within 1 s, docs/calls.md):
#   - Opus and PCMU, each with AEAD_AES_128_GCM and AES_CM_128_HMAC_SHA1_80:
#     correlation >= 0.85 both ways, and the delay measured;
#   - 5% random loss on every RTP packet each way (in the sender's path):
#     Opus (FEC + concealment) and PCMU (concealment) stay >= 0.80, FEC
#     frames are used;
#   - RTP/AVP with PCMA when the answerer allows it;
#   - 20 ms of random jitter: no late frame, correlation >= 0.85;
#   - SRTP with a wrong key: auth failures counted, nothing played.
# Ports 29000-29003 on 127.0.0.1.
. "$(dirname "$0")/lib.sh"
MC=$OUT/tools/mediacall
command -v espeak-ng >/dev/null || { fail "media_call - espeak-ng missing (scripts/install-deps.sh)"; finish; }
[ -x "$MC" ] || { fail "media_call - $MC not built"; finish; }
dir=$(mktemp -d /tmp/media_call.XXXXXX)
trap 'rm -rf "$dir"' EXIT
espeak-ng -w "$dir/speech.wav" "The quick brown fox jumps over the lazy dog. \
Dataline carries voice calls over data, with Opus and secure RTP, \
and falls back to the carrier network when the data link is too slow." ||
  { fail "media_call - espeak-ng"; finish; }

# field NAME LINE: the value of NAME= in a key=value line
field() { sed -n "s/.*[ ^]$1=\([^ ]*\).*/\1/p" <<<" $2"; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN{exit !(a+0 >= b+0)}'; }

# run NAME MIN_CORR ARGS...: one call, both directions checked
run() {
  local name=$1 min=$2; shift 2
  local out a b c
  out=$("$MC" -i "$dir/speech.wav" -d "$dir" -t 8 -p 29000 "$@" 2>&1)
  echo "$out" | sed 's/^/# /'
  a=$(grep '^A ' <<<"$out"); b=$(grep '^B ' <<<"$out"); c=$(grep '^corr_ab' <<<"$out")
  if [ -z "$c" ]; then fail "$name - mediacall failed"; return; fi
  if ge "$(field corr_ab "$c")" "$min" && ge "$(field corr_ba "$c")" "$min"; then
    ok "$name correlation $(field corr_ab "$c")/$(field corr_ba "$c") >= $min, delay $(field delay_ab_ms "$c")/$(field delay_ba_ms "$c") ms"
  else
    fail "$name - correlation $(field corr_ab "$c")/$(field corr_ba "$c") < $min"
  fi
  LAST_A=$a LAST_B=$b
}

run "opus gcm" 0.85 -c opus -s gcm
check "opus gcm negotiated" grep -q "codec=opus suite=AEAD_AES_128_GCM" <<<"$LAST_A"
check "opus gcm RTT from RTCP" ge "$(field rtt_ms "$LAST_A")" 0.001
run "opus aes_cm" 0.85 -c opus -s aescm
check "opus aes_cm negotiated" grep -q "suite=AES_CM_128_HMAC_SHA1_80" <<<"$LAST_B"
run "pcmu gcm" 0.85 -c pcmu -s gcm
check "pcmu gcm negotiated" grep -q "codec=PCMU suite=AEAD_AES_128_GCM" <<<"$LAST_B"
run "pcmu aes_cm" 0.85 -c pcmu -s aescm
run "pcma plain rtp allowed" 0.85 -c pcma -s none
check "pcma plain negotiated" grep -q "codec=PCMA suite=none" <<<"$LAST_A"

run "opus gcm 5% loss" 0.80 -c opus -s gcm -l 50
check "opus loss: packets lost and FEC used" \
  bash -c "[ $(field lost "$LAST_A") -gt 0 ] && [ $(field fec "$LAST_A") -gt 0 ]"
run "pcmu gcm 5% loss" 0.80 -c pcmu -s gcm -l 50
check "pcmu loss: concealed" bash -c "[ $(field plc "$LAST_B") -gt 0 ]"

run "opus gcm 20 ms jitter" 0.85 -c opus -s gcm -j 20
check "jitter: no late frame" bash -c "[ $(field late "$LAST_A") -eq 0 ] && [ $(field late "$LAST_B") -eq 0 ]"
echo "# jitter buffer under 20 ms jitter: target $(field jb_target_ms "$LAST_A") ms, delay $(field jb_delay_ms "$LAST_A") ms"

out=$("$MC" -i "$dir/speech.wav" -d "$dir" -t 3 -p 29000 -c opus -s gcm -w 2>&1)
echo "$out" | sed 's/^/# /'
a=$(grep '^A ' <<<"$out")
check "wrong key: auth failures counted" bash -c "[ 0$(field auth_fail "$a") -gt 50 ]"
check "wrong key: nothing received or played" \
  bash -c "[ 0$(field recv "$a") -eq 0 ] && [ 0$(field played "$a") -eq 0 ]"
check "wrong key: A's output is silent" python3 - "$dir/a_out.wav" <<'EOF'
import sys, wave, array
w = wave.open(sys.argv[1]); d = array.array('h', w.readframes(w.getnframes()))
sys.exit(0 if len(d) > 0 and max(abs(x) for x in d) == 0 else 1)
EOF
finish
