#!/usr/bin/env bash
# demo.sh: what `make demo` runs. Walks through the patent's flow
# (shared/brief/patent.md) across network namespaces, with the real
# binaries: handset A, the server S, and handset B behind a NAT router R
# (tests/integration/helpers/texts_topo.sh draws it):
#
#   A1-A3  A and B register their numbers, the code read from the SMS spool
#   SIP    both daemons register over TLS with the issued credentials
#   B      claim 3: A's address book marks the contacts who are registered
#   C11-C33  a text to B while B is offline: stored, delivered when B connects
#   C22    A's link down: the text goes by carrier SMS (the log backend)
#   C1/C2  A's own rate vs threshold 1, with the link fast and then shaped;
#          `dataline call` refused at threshold 1, no INVITE sent
#   C3     B's published rate below threshold 2: the server answers 488 +
#          Warning 370, A's user chooses the carrier network
#   D      a call over data, speech both ways through the relay, statistics
# (the call steps are in scripts/demo_calls.sh)
# Needs root (namespaces, BPF). Removes everything it made.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${OUT:-build}
case "$OUT" in /*) ;; *) OUT=$ROOT/$OUT ;; esac
NETNS=$ROOT/scripts/netns.sh
P=demo
PIN=/sys/fs/bpf/dataline-demo
WORK=$(mktemp -d /tmp/dataline-demo.XXXXXX)
SIP=198.18.30.1
NA=+8613800138000 NB=+8613900000001
# The thresholds are raised for the demo (defaults: 100 kbit/s for threshold
# 1, 48 for threshold 2) so that a link shaped to 1 Mbit/s is below both
# and the probes that measure it take a second, not a minute; the probe
# budget is raised from 1 MB an hour so that the daemons probe every 16 s
# (the server's reflector answers a device about one probe in 16 s).
T1=1500 T2=1500
PROBE=(--probe-interval 16 --probe-budget 16000000)
SRV_PID= APID= BPID=
BG=()

[ "$(id -u)" -eq 0 ] || { echo "demo: needs root (namespaces, BPF)" >&2; exit 1; }
source "$ROOT/tests/integration/helpers/texts_topo.sh"

say()  { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run()  { printf '$ %s\n' "$*"; "$@"; }
in_ns() { local ns=$1; shift; nsenter --net="/var/run/netns/$ns" "$@"; }
netq() { in_ns "$TT_A" "$OUT/dataline-netq" --pin-dir "$PIN" "$@"; }
# the handsets' CLIs, each in its namespace and on its daemon's bus
A() { in_ns "$TT_A" "$OUT/dataline" --state-dir "$WORK/a" --bus "unix:path=$WORK/a.bus" "$@"; }
B() { in_ns "$TT_B" "$OUT/dataline" --state-dir "$WORK/b" --bus "unix:path=$WORK/b.bus" "$@"; }
wait_for() { local i; for ((i = 0; i < $1 * 10; i++)); do "${@:2}" && return 0; sleep 0.1; done; return 1; }
registered() { grep -qs '"registered"' "$WORK/$1/daemon.json"; }

cleanup() {
  local p
  for p in $APID $BPID; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  [ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null && wait "$SRV_PID" 2>/dev/null
  for p in "${BG[@]}"; do kill "$p" 2>/dev/null; done
  [ -e "$PIN" ] && netq detach >/dev/null 2>&1
  rm -rf "$PIN"
  tt_down "$P"
  # DEMO_LOGS=DIR keeps the server's and the daemons' logs
  [ -n "${DEMO_LOGS:-}" ] && mkdir -p "$DEMO_LOGS" &&
    cp "$WORK"/*.log "$WORK/server/server.log" "$DEMO_LOGS/" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

for b in dataline dataline-netq dataline-server; do
  [ -x "$OUT/$b" ] || { echo "demo: $OUT/$b not built (make all)" >&2; exit 1; }
done

espeak-ng -w "$WORK/speech-a.wav" "This is handset A, calling over data." &&
  espeak-ng -w "$WORK/speech-b.wav" "Hello A, this is handset B, behind a NAT." ||
  { echo "demo: espeak-ng missing (scripts/install-deps.sh)" >&2; exit 1; }

say "Topology: A (198.18.30.2) -- S, the server (198.18.30.1) -- R, a NAT router -- B (10.77.0.2)"
tt_up "$P" || exit 1
tt_exec "$TT_R" ip route add default via 198.18.31.1
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
for h in a b; do   # each handset's D-Bus (a phone has its system bus)
  dbus-daemon --session --address="unix:path=$WORK/$h.bus" --nofork --nopidfile \
    >/dev/null 2>&1 & BG+=($!)
done

say "Server: dataline-server in S (SIP on $SIP, HTTPS API on :8443, probe reflector on :5070)"
mkdir -p "$WORK/server"
in_ns "$TT_S" "$OUT/dataline-server" --var-dir "$WORK/server" --workers 1 \
  --sip-udp "$SIP:5060" --sip-tcp "$SIP:5060" --sip-tls "$SIP:5061" \
  --https "$SIP:8443" --http 127.0.0.1:8080 --probe-udp "$SIP:5070" \
  --keepalive-interval 5 --call-min-kbps $T2 --relay-addr $SIP --log-file "$WORK/server/server.log" &
SRV_PID=$!
wait_for 10 in_ns "$TT_S" curl -sf http://127.0.0.1:8080/healthz -o /dev/null
echo "server pid $SRV_PID"
metrics() { in_ns "$TT_S" curl -s http://127.0.0.1:8080/metrics | grep -E "$1"; }

say "netq: the eBPF programs on A's uplink a0"
run netq attach a0

say "A1: A asks to register its number (no modem here: --no-modem)"
run A --no-modem register "$NA" --server "https://$SIP:8443" --insecure
say "A2: the server sent the code by SMS (spool gateway: one line per SMS)"
run tail -n 1 "$WORK/server/sms.spool"
CODE=$(tail -n 1 "$WORK/server/sms.spool" | grep -o '[0-9]\{6\}$')
say "A3: A confirms the code; the server issues SIP credentials"
run A --no-modem verify "$CODE"
say "A1-A3 for B, behind the NAT"
B --no-modem register "$NB" --server "https://$SIP:8443" --insecure >/dev/null
B --no-modem verify "$(tail -n 1 "$WORK/server/sms.spool" | grep -o '[0-9]\{6\}$')"

say "SIP: A's daemon registers over TLS (certificate pinned at A1); B stays offline"
in_ns "$TT_A" "$OUT/dataline" --state-dir "$WORK/a" --bus "unix:path=$WORK/a.bus" daemon \
  --transport tls --netq-pin-dir "$PIN" --carrier log --call-min-kbps $T1 "${PROBE[@]}" \
  --log-file "$WORK/a-daemon.log" &
APID=$!
wait_for 20 registered a
run A status

say "B (claim 3): A's address book marks the contacts who are registered"
printf 'BEGIN:VCARD\r\nVERSION:3.0\r\nFN:B\r\nTEL:%s\r\nEND:VCARD\r\nBEGIN:VCARD\r\nVERSION:3.0\r\nFN:Not on dataline\r\nTEL:+8613900000099\r\nEND:VCARD\r\n' \
  "$NB" > "$WORK/book.vcf"
run A contacts import "$WORK/book.vcf"
run A contacts sync
run A contacts list

say "C11/C22: A texts B; A is connected, so over data. C33: B is offline, the server stores it"
run A send "$NB" "hello over data" --fallback ask
run A outbox
metrics '^dataline_queue_depth\{queue="text"\}'
say "C33: B's daemon starts (it registers through the NAT); the server delivers the stored text"
in_ns "$TT_B" "$OUT/dataline" --state-dir "$WORK/b" --bus "unix:path=$WORK/b.bus" daemon \
  --transport tls --carrier log "${PROBE[@]}" --answer auto \
  --audio-in "$WORK/speech-b.wav" --audio-out "$WORK/b-heard.wav" --log-file "$WORK/b-daemon.log" &
BPID=$!
wait_for 20 registered b
inbox_has() { B inbox 2>/dev/null | grep -q "$1"; }
outbox_has() { A outbox 2>/dev/null | grep -q "$1"; }
wait_for 20 inbox_has 'hello over data'
run B inbox
wait_for 10 outbox_has delivered
run A outbox

say "C22: A's uplink goes down: not connected; the user chose carrier SMS"
tt_exec "$TT_A" ip link set a0 down
sleep 0.3
run netq decide text; echo "exit status $? (3 = ask: carrier SMS or quit)"
run A send "$NB" "hello by SMS" --fallback carrier
echo "(no modem here: the log backend; with a modem, ModemManager's Messaging.Create and Send)"
run tail -n 1 "$WORK/a/carrier-sms.log"
tt_exec "$TT_A" ip link set a0 up
tt_exec "$TT_A" ip route replace default via 198.18.30.1

say "C1/C2: a voice call instruction; A's own rate vs threshold 1"
run netq probe "$SIP:5070"
run netq decide voice; echo "exit status $? (0 = call over data)"
say "C2 again with A's uplink shaped to 64 kbit/s (below threshold 1)"
"$NETNS" shape "$TT_A" a0 64kbit >/dev/null
run netq probe "$SIP:5070"
run netq decide voice; echo "exit status $? (3 = ask: carrier network or quit)"
"$NETNS" shape "$TT_A" a0 off >/dev/null

source "$ROOT/scripts/demo_calls.sh"

say "Done: stopping the daemons (they unregister), the server, and removing the namespaces"
