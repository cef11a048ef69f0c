#!/usr/bin/env bash
# tests/bench/server_hardening.sh: what a stranger's UDP requests cost the
# server (memory per 10,000 requests) and what an address that never proved
# it is there gets back per byte sent in its name (reflection
# amplification), dataline-server vs Kamailio 5.6 with the same accounts and
# the same requests in the same run (docs/security.md explains the limits).
#
# Memory: from 127.0.0.2, 10,000 requests of each kind at a fixed offered
# rate (open loop, BENCH_FLOOD_RATE/s, so the socket buffers do not drop
# them), each with a BENCH_FLOOD_PAD-byte Via parameter; the growth of the
# server's memory (dataline: VmRSS; Kamailio: PSS of all its processes,
# as its shared memory pool is preallocated) from before to 1 s after.
# "credentialed nc flood": one real device, one nonce, nc = 1..10,000.
# Amplification: 500 minimal requests of each kind from 127.0.0.2, bytes
# received there / bytes sent; "stolen challenge": the real device
# (127.0.0.1) takes one challenge, then authenticated query REGISTERs
# (nc = 1..500) are sent from 127.0.0.3, standing for a victim whose address
# the attacker spoofs, while the number has 64 long contacts.
# Ports 26100-26119. Loopback only.
set -uo pipefail
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/integration/lib.sh"
source "$ROOT/tests/tools/server_env.sh"

RATE=${BENCH_FLOOD_RATE:-4000}
PAD=${BENCH_FLOOD_PAD:-4000}
NUM=+8613800137777
WORK=$(mktemp -d /tmp/bench-hardening.XXXXXX)
trap 'srv_cleanup; rm -rf "$WORK"' EXIT
log() { echo "# $*" >&2; }
FM() { python3 "$ROOT/tests/tools/floodmeter.py" "$@"; }
KINDS="noauth badauth require tel rfc2543 options"
declare -A MEM AMP

# mem_of who -> KiB
mem_of() { if [ "$1" = dl ]; then rss_kb "$SRV_PID"; else pss_kb $(pgrep -f "$KAM_DIR/kamailio.cfg"); fi; }

# measure WHO PORT: fills MEM[WHO,kind] and AMP[WHO,kind]
measure() {
  local who=$1 port=$2 k m0 m1 out
  for k in $KINDS; do
    out=$(FM "$k" --target "127.0.0.1:$port" --src 127.0.0.2 --count 500 --wait 0.5)
    log "$who amplification: $out"
    AMP[$who,$k]=$(sed -n 's/.* factor=\([0-9.]*\).*/\1/p' <<< "$out")
  done
  out=$(FM query --target "127.0.0.1:$port" --src 127.0.0.3 --auth-src 127.0.0.1 \
        --count 500 --wait 0.5 --user "$CRED_USER" --password "$CRED_PASS" \
        --number "$NUM" --contacts 64 --contact-pad 400)
  log "$who amplification: $out"
  AMP[$who,query]=$(sed -n 's/.* factor=\([0-9.]*\).*/\1/p' <<< "$out")
  for k in $KINDS; do
    m0=$(mem_of "$who")
    out=$(FM "$k" --target "127.0.0.1:$port" --src 127.0.0.2 --count 10000 \
          --rate "$RATE" --pad "$PAD" --wait 1)
    m1=$(mem_of "$who")
    log "$who memory $k: $m0 -> $m1 KiB: $out"
    MEM[$who,$k]=$((m1 - m0))
  done
  m0=$(mem_of "$who")
  out=$(FM query --target "127.0.0.1:$port" --src 127.0.0.1 --auth-src 127.0.0.1 \
        --count 10000 --rate "$RATE" --wait 1 --user "$CRED_USER" \
        --password "$CRED_PASS" --number "$NUM")
  m1=$(mem_of "$who")
  log "$who memory nc flood: $m0 -> $m1 KiB: $out"
  MEM[$who,query]=$((m1 - m0))
}

dl_ok=0 kam_ok=0
if srv_start bench-hardening 26100 --log-level warn --max-bindings-per-device 64 \
     --digest-algorithms MD5,SHA-256 >&2 && provision "$NUM" >&2; then
  measure dl "$SRV_SIP"
  dl_ok=1
  srv_kill TERM
else
  log "dataline-server could not be started or provisioned"
fi
printf '%s;x;%s;%s\n' "$NUM" "${CRED_USER:-u}" "${CRED_PASS:-p}" > "$WORK/users.csv"
if [ $dl_ok = 1 ] && kam_start bench-hardening 26110 26111 2 "$WORK/users.csv" >&2; then
  sleep 0.5
  measure kam 26110
  kam_ok=1
fi

row() { # LABEL KEY
  printf '| %s | %s | %s | %s | %s |\n' "$1" "${MEM[dl,$2]:-n/a}" "${MEM[kam,$2]:-n/a}" \
    "${AMP[dl,$2]:-n/a}" "${AMP[kam,$2]:-n/a}"
}
maxamp() { # WHO: the largest factor of the kinds a stranger can send alone
  local k m=0
  for k in $KINDS query; do m=$(awk -v a="${AMP[$1,$k]:-0}" -v b="$m" 'BEGIN { print (a > b) ? a : b }'); done
  echo "$m"
}
kver=$(kamailio -v 2>/dev/null | awk 'NR == 1 { print $3 }')
cat <<EOF
## What a stranger's requests cost: memory and reflection

Memory growth (KiB) after 10,000 UDP requests of one kind from 127.0.0.2,
offered at $RATE/s with a $PAD-byte Via parameter (dataline-server: VmRSS;
Kamailio $kver: PSS of its processes); the last row is a device with real
credentials re-using one nonce with nc = 1..10,000. Amplification: bytes
that reach an address per byte sent in its name, 500 minimal requests per
kind; "stolen challenge" sends a real device's authenticated query
REGISTERs (its number holds 64 long contacts) from another address, as a
spoofed source would. Both servers: 2 workers, digest MD5 with qop=auth,
the same account; Kamailio runs \`tests/kamailio/registrar.cfg\`
(auth nonce_count=1, no source-address check of nonces).

| request | dataline KiB / 10k | Kamailio KiB / 10k | dataline bytes out/in | Kamailio bytes out/in |
| --- | ---: | ---: | ---: | ---: |
$(row "no credentials (401)" noauth)
$(row "broken Authorization" badauth)
$(row "Require: foo" require)
$(row "tel: Request-URI" tel)
$(row "RFC 2543 branch, broken Authorization" rfc2543)
$(row "OPTIONS" options)
$(row "stolen challenge / credentialed nc flood" query)

Largest amplification towards an unproven address: dataline-server
$(maxamp dl)x (limit about 3x), Kamailio $(maxamp kam)x.

EOF
[ $dl_ok = 1 ] && [ $kam_ok = 1 ]
