#!/usr/bin/env bash
# handset_fallback: patent step C22 on the handset, and its D-Bus
# interface used by a client other than the CLI. Namespaces of
# helpers/texts_topo.sh, both handsets running `dataline daemon`; A's
# private bus also carries the ModemManager mock (python-dbusmock,
# tests/mock/modemmanager.py), as its system bus; netq is attached to A's
# link (its own pin dir), so the daemon's check sees the link.
#   1. D-Bus: tests/tools/handset_bus.py (python3-dbus) sends a text on A
#      and receives DeliveryReport "accepted" then "delivered"; on B it
#      receives TextReceived.
#   2. A's link down: `send --fallback carrier` reaches the mock's
#      Messaging.Create with number and text and the Sms object's Send;
#      `--fallback quit` sends nothing; `--fallback ask` on a terminal
#      (tmux) offers carrier or quit: "q" sends nothing, "c" sends the SMS.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/helpers/texts_topo.sh"
source "$(dirname "$0")/helpers/handsets.sh"
need_root handset_fallback
P=hf$(( $$ % 10000 ))
DIR=$(mktemp -d /tmp/dl-hfb.XXXXXX)
DL=$OUT/dataline
PY=/usr/bin/python3
NA=+4915300000011 NB=+4915300000012
PIN=/sys/fs/bpf/dataline-test-$P
TMUX_S=dl-$P
trap 'hs_netq_cleanup handset_fallback' EXIT
hs_need handset_fallback
tt_up "$P" || { fail "handset_fallback: topology up"; finish; }
hs_init
hs_server_start
check "handset_fallback: server up" tt_exec "$TT_S" curl -sf http://127.0.0.1:8080/healthz -o /dev/null
for h in a b; do
  check "handset_fallback: handset $h provisioned" hs_provision $h
done
# the ModemManager mock on A's bus, which A's daemon uses as system bus
check "handset_fallback: ModemManager mock up" hs_mm_start
ncreate() { "${MOCK[@]}" $MODEM org.freedesktop.DBus.Mock.GetMethodCalls string:Create | grep -c uint64; }
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
check "handset_fallback: netq attached to A's link" \
  nsenter --net="/var/run/netns/$TT_A" "$OUT/dataline-netq" --pin-dir "$PIN" attach a0 >/dev/null
hs_daemon_start a --carrier modem --netq-pin-dir "$PIN"
hs_daemon_start b --carrier log
check "handset_fallback: both daemons registered" wait_for 30 sh -c \
  "grep -qs '\"registered\"' $DIR/a/state/daemon.json && grep -qs '\"registered\"' $DIR/b/state/daemon.json"
check "handset_fallback: A's daemon uses netq for the link check" \
  grep -q "svc: netq open" "$DIR/daemon-a.log"

# --- 1. a D-Bus client that is not the CLI -----------------------------------
ip netns exec "$TT_B" $PY "$ROOT/tests/tools/handset_bus.py" --bus "unix:path=$DIR/b/bus" \
  watch --count 1 --timeout 30 > "$DIR/bwatch.jsonl" 2>&1 &
BW=$!
sleep 0.5
ip netns exec "$TT_A" $PY "$ROOT/tests/tools/handset_bus.py" --bus "unix:path=$DIR/a/bus" \
  send-watch "$NB" "over the bus" --timeout 30 > "$DIR/awatch.jsonl" 2>&1
rc=$?
check "handset_fallback: 1. the client's text was delivered (exit $rc)" test $rc -eq 0
check "handset_fallback: 1. ... it saw DeliveryReport accepted" \
  grep -q '"DeliveryReport".*"accepted"' "$DIR/awatch.jsonl"
check "handset_fallback: 1. ... then delivered" \
  grep -q '"DeliveryReport".*"delivered"' "$DIR/awatch.jsonl"
wait $BW
check "handset_fallback: 1. B's client got TextReceived from A with the text" \
  grep -q "\"TextReceived\".*\"$NA\".*\"over the bus\"" "$DIR/bwatch.jsonl"
[ "$T_FAILED" = 1 ] && sed 's/^/#   /' "$DIR/awatch.jsonl" "$DIR/bwatch.jsonl"

# --- 2. A's link down: the fallback -------------------------------------------
tt_exec "$TT_A" ip link set a0 down
sleep 0.3
out=$(dl a send "$NB" "quit please" --fallback quit 2>&1); rc=$?
check "handset_fallback: 2. --fallback quit: exit 3" test $rc -eq 3
case "$out" in *"Not sent: not connected"*) ok "handset_fallback: 2. ... says not connected";;
  *) fail "handset_fallback: 2. ... printed: $out";; esac
check "handset_fallback: 2. ... and ModemManager got nothing" test "$(ncreate)" -eq 0
out=$(dl a send "$NB" "Carrier hello 你好" --fallback carrier 2>&1); rc=$?
check "handset_fallback: 2. --fallback carrier: exit 0 ($out)" test $rc -eq 0
calls=$("${MOCK[@]}" $MODEM org.freedesktop.DBus.Mock.GetMethodCalls string:Create)
check "handset_fallback: 2. ... Messaging.Create got the number" grep -q "string \"$NB\"" <<<"$calls"
check "handset_fallback: 2. ... and the text" grep -q 'string "Carrier hello 你好"' <<<"$calls"
check "handset_fallback: 2. ... and the Sms object was sent" \
  grep -q 'object path' <<<"$("${MOCK[@]}" $MM org.freedesktop.DBus.Mock.GetSent)"
outbox_has() { dl a outbox --json | jq -e "$1" >/dev/null; }
check "handset_fallback: 2. ... the outbox records it as sent_by_carrier" \
  outbox_has '.[] | select(.body == "Carrier hello 你好") | .state == "sent_by_carrier"'
# ask, on a terminal
ask() { # KEY -> the pane's text after answering
  tmux kill-session -t "$TMUX_S" 2>/dev/null
  tmux new-session -d -s "$TMUX_S" -x 200 -y 20 \
    "ip netns exec $TT_A $DL --state-dir $DIR/a/state --bus unix:path=$DIR/a/bus send $NB 'asked text' --fallback ask; echo EXIT=\$?; sleep 30"
  wait_for 10 sh -c "tmux capture-pane -p -t $TMUX_S | grep -q 'carrier SMS or quit'" || return 1
  tmux send-keys -t "$TMUX_S" "$1" Enter
  wait_for 20 sh -c "tmux capture-pane -p -t $TMUX_S | grep -q 'EXIT='"
  tmux capture-pane -p -t "$TMUX_S"
}
n0=$(ncreate)
pane=$(ask q)
check "handset_fallback: 2. ask offers carrier SMS or quit" grep -q "Send by carrier SMS or quit" <<<"$pane"
check "handset_fallback: 2. ... q: nothing sent, exit 3" grep -q "EXIT=3" <<<"$pane"
check "handset_fallback: 2. ... q: ModemManager got nothing" test "$(ncreate)" -eq "$n0"
pane=$(ask c)
check "handset_fallback: 2. ... c: sent by carrier SMS, exit 0" grep -q "EXIT=0" <<<"$pane"
check "handset_fallback: 2. ... c: one more Messaging.Create" test "$(ncreate)" -eq $((n0 + 1))
[ "$T_FAILED" = 1 ] && echo "$pane" | sed 's/^/#   /'
tt_exec "$TT_A" ip link set a0 up
finish
