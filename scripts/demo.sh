#!/usr/bin/env bash
# demo.sh: what `make demo` runs. Walks through the patent's flow
# (shared/brief/patent.md) across two network namespaces, with the real
# binaries: a handset (demo-a) and a server (demo-b) joined by a veth pair.
#
#   A1-A3  register the number, code by SMS (the server's spool), verify
#   SIP    the handset's daemon registers over TLS with the issued credentials
#   C2     own network rate vs threshold 1: data on a fast link, fallback
#          ("carrier network or quit") once the link is shaped below it
#   C22    text: connected -> data; link down -> fallback
# Steps that later issues build (B contact marks, C3 peer rate at the
# server, C33 store-and-forward texts, D calls) are listed, not faked.
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
PEER=+8613900000001
NUMBER=+8613800138000
SRV_PID= DAEMON_PID= ECHO_PID=

[ "$(id -u)" -eq 0 ] || { echo "demo: needs root (namespaces, BPF)" >&2; exit 1; }

say()  { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run()  { printf '$ %s\n' "$*"; "$@"; }
in_a() { nsenter --net=/var/run/netns/$P-a "$@"; }
in_b() { nsenter --net=/var/run/netns/$P-b "$@"; }
netq() { in_a "$OUT/dataline-netq" --pin-dir "$PIN" "$@"; }
handset() { in_a "$OUT/dataline" --state-dir "$WORK/handset" "$@"; }

cleanup() {
  [ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
  [ -n "$ECHO_PID" ] && kill "$ECHO_PID" 2>/dev/null
  [ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null && wait "$SRV_PID" 2>/dev/null
  [ -e "$PIN" ] && netq detach >/dev/null 2>&1
  rm -rf "$PIN"
  "$NETNS" down "$P" >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

for b in dataline dataline-netq dataline-server; do
  [ -x "$OUT/$b" ] || { echo "demo: $OUT/$b not built (make all)" >&2; exit 1; }
done

say "Topology: handset namespace $P-a (198.18.0.1) <-> server namespace $P-b (198.18.0.2)"
"$NETNS" down "$P" >/dev/null 2>&1
"$NETNS" up "$P" >/dev/null || exit 1
eval "$("$NETNS" env "$P")"
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

say "Server: dataline-server in $P-b (SIP on 198.18.0.2, HTTPS API on :8443)"
mkdir -p "$WORK/server"
in_b "$OUT/dataline-server" --var-dir "$WORK/server" --workers 1 \
  --sip-udp "$B_IP:5060" --sip-tcp "$B_IP:5060" --sip-tls "$B_IP:5061" \
  --https "$B_IP:8443" --http 127.0.0.1:8080 \
  --log-file "$WORK/server/server.log" &
SRV_PID=$!
in_b "$OUT/dataline-netq" echo "$B_IP:7007" 2>/dev/null &
ECHO_PID=$!
for _ in $(seq 50); do
  in_a bash -c "exec 3<>/dev/tcp/$B_IP/8443" 2>/dev/null && break
  sleep 0.1
done
echo "server pid $SRV_PID, probe echo on $B_IP:7007"

say "netq: attach the eBPF programs to the handset's uplink a0"
run netq attach a0

say "A1: the handset asks to register its number (no modem here: --no-modem)"
run handset --no-modem register "$NUMBER" --server "https://$B_IP:8443" --insecure
say "A2: the server sent the code by SMS (spool gateway: one line per SMS)"
run tail -n 1 "$WORK/server/sms.spool"
CODE=$(tail -n 1 "$WORK/server/sms.spool" | grep -o '[0-9]\{6\}$')
say "A3: the handset confirms the code; the server issues SIP credentials"
run handset --no-modem verify "$CODE"

say "SIP: the daemon registers over TLS (certificate pinned at A1)"
handset daemon --transport tls --netq-pin-dir "$PIN" --carrier log \
  --log-file "$WORK/daemon.log" &
DAEMON_PID=$!
for _ in $(seq 50); do
  handset status 2>/dev/null | grep -qi 'registered' && break
  sleep 0.2
done
run handset status
echo "server's view:"
in_b curl -s http://127.0.0.1:8080/metrics | grep -E '^dataline_(registrations|accounts|devices) '

say "C1/C2: voice call instruction; own rate vs threshold 1 (100 kbit/s)"
run netq probe "$B_IP:7007"
run netq decide voice; echo "exit status $? (0 = call over data)"

say "C2 again with the uplink shaped to 64 kbit/s (below threshold 1)"
"$NETNS" shape "$P-a" a0 64kbit >/dev/null
run netq probe "$B_IP:7007"
run netq decide voice; echo "exit status $? (3 = ask: carrier network or quit)"
"$NETNS" shape "$P-a" a0 off >/dev/null

say "Claim 3: another number registers; the handset's address book marks it"
api() { in_b curl -s -X POST -d "$2" "http://127.0.0.1:8080$1"; }
SESSION=$(api /v1/registrations "{\"number\":\"$PEER\"}" | grep -o '"session":"[0-9a-f]*"' | cut -d'"' -f4)
PCODE=$(tail -n 1 "$WORK/server/sms.spool" | grep -o '[0-9]\{6\}$')
api /v1/registrations/verify "{\"number\":\"$PEER\",\"code\":\"$PCODE\",\"session\":\"$SESSION\"}" >/dev/null
printf 'BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Peer\r\nTEL:%s\r\nEND:VCARD\r\nBEGIN:VCARD\r\nVERSION:3.0\r\nFN:Not on dataline\r\nTEL:+8613900000099\r\nEND:VCARD\r\n' \
  "$PEER" > "$WORK/book.vcf"
run handset contacts import "$WORK/book.vcf"
run handset contacts sync
run handset contacts list

say "C11/C22/C33: a text; connected, so over data; the server stores it until $PEER connects"
run handset send "$PEER" "hello over data" --fallback ask
run handset outbox
echo "server's view:"
in_b curl -s http://127.0.0.1:8080/metrics | grep -E '^dataline_queue_depth\{queue="text"\}'

say "C22: the uplink goes down: not connected; the user chose carrier SMS"
in_a ip link set a0 down
sleep 0.3
run netq decide text; echo "exit status $? (3 = ask: carrier SMS or quit)"
run handset send "$PEER" "hello by SMS" --fallback carrier
echo "(no modem here: the log backend; with a modem, ModemManager's Messaging.Create and Send)"
run tail -n 1 "$WORK/handset/carrier-sms.log"
in_a ip link set a0 up

say "Not in this build yet (issue 9): C3 the callee's rate checked at the"
echo "server, D the call itself (media), carrier fallback for calls."

say "Done: stopping the daemon (it unregisters), the server, and removing the namespaces"
