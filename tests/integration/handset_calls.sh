#!/usr/bin/env bash
# handset_calls: the handset's call flow through its daemon (docs/calls.md
# "The handset's call flow"): patent step C2 (own rate against threshold
# 1 before any INVITE) and the carrier fallback, and the D-Bus call
# methods used by a client that is not the CLI. Namespaces of
# helpers/texts_topo.sh, the real server (probe reflector on 5070), both
# handsets running `dataline daemon`; A's private bus also carries the
# ModemManager mock (tests/mock/modemmanager.py) as its system bus; netq
# is attached to A's link and A probes every 4 s, threshold 1 = 1500
# kbit/s (--call-min-kbps).
#   1. Unshaped (probed rate above 1500): tests/tools/handset_bus.py calls
#      B with Call(); the INVITE leaves A (the agent logs it) and the call
#      gets a final CallState from the server's answer.
#   2. a0 shaped to 1 Mbit/s (tc tbf), a probe below 1500 kbit/s seen:
#      `call --fallback quit` exits 3 naming the rate, and no INVITE
#      leaves A; `--fallback carrier` reaches the mock's Voice.CreateCall
#      with B's number and the Call's Start; `--fallback ask` on a
#      terminal (tmux) asks "call by the carrier network or quit?": "q"
#      places nothing, "c" places the carrier call.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/helpers/texts_topo.sh"
source "$(dirname "$0")/helpers/handsets.sh"
need_root handset_calls
P=hc$(( $$ % 10000 ))
DIR=$(mktemp -d /tmp/dl-hcall.XXXXXX)
DL=$OUT/dataline
PY=/usr/bin/python3
NA=+4915300000021 NB=+4915300000022
PIN=/sys/fs/bpf/dataline-test-$P
TMUX_S=dl-$P
T1=1500
trap 'hs_netq_cleanup handset_calls' EXIT
hs_need handset_calls
tt_up "$P" || { fail "handset_calls: topology up"; finish; }
hs_init
hs_server_start --probe-udp $SIP:5070
check "handset_calls: server up" tt_exec "$TT_S" curl -sf http://127.0.0.1:8080/healthz -o /dev/null
for h in a b; do
  check "handset_calls: handset $h provisioned" hs_provision $h
done
check "handset_calls: ModemManager mock up" hs_mm_start
ncreate() { "${MOCK[@]}" $MODEM org.freedesktop.DBus.Mock.GetMethodCalls string:CreateCall | grep -c uint64; }
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
check "handset_calls: netq attached to A's link" \
  nsenter --net="/var/run/netns/$TT_A" "$OUT/dataline-netq" --pin-dir "$PIN" attach a0 >/dev/null
hs_daemon_start a --carrier modem --netq-pin-dir "$PIN" --call-min-kbps $T1 \
  --probe-interval 4 --probe-budget 270000 --probe-over-budget
hs_daemon_start b --carrier log --answer auto
check "handset_calls: both daemons registered" wait_for 30 sh -c \
  "grep -qs '\"registered\"' $DIR/a/state/daemon.json && grep -qs '\"registered\"' $DIR/b/state/daemon.json"
LA=$DIR/daemon-a.log
# probe_kbps N: the rate of the Nth probe line of A's log (1-based), or ""
probe_kbps() { grep "hpres: probe to .*kbit/s" "$LA" | sed -n "${1}p" | grep -Eo '[0-9]+ kbit/s' | grep -Eo '[0-9]+'; }
nprobes() { grep -c "hpres: probe to .*kbit/s" "$LA"; }
invites() { grep -c "agent: call [0-9]* to " "$LA"; }
probe_after() { # N OP VALUE: a probe after the Nth whose rate OP VALUE
  local n=$1 op=$2 v=$3 i k
  for ((i = n + 1; i <= $(nprobes); i++)); do
    k=$(probe_kbps $i); [ -n "$k" ] && [ "$k" "$op" "$v" ] && return 0
  done
  return 1
}

# --- 1. over data, a D-Bus client ---------------------------------------------
check "handset_calls: 1. a probe above threshold 1 ($T1 kbit/s)" wait_for 30 probe_after 0 -gt $T1
ip netns exec "$TT_A" $PY "$ROOT/tests/tools/handset_bus.py" --bus "unix:path=$DIR/a/bus" \
  call-watch "$NB" --timeout 60 --hangup-after 1 > "$DIR/call1.jsonl" 2>&1
rc=$?
sed 's/^/# /' "$DIR/call1.jsonl"
check "handset_calls: 1. Call() went over data (exit $rc)" grep -q '"route": "data"' "$DIR/call1.jsonl"
check "handset_calls: 1. ... the INVITE left A" test "$(invites)" -ge 1
check "handset_calls: 1. ... and the call came to an end (CallState)" \
  grep -q '"final": "\(ended\|failed\|refused\)"' "$DIR/call1.jsonl"

# --- 2. A's link below threshold 1 ----------------------------------------------
n=$(nprobes)
tt_exec "$TT_A" tc qdisc replace dev a0 root tbf rate 1mbit burst 4096 limit 262144
check "handset_calls: 2. a probe below threshold 1 once shaped" wait_for 40 probe_after "$n" -lt $T1
echo "# probes: $(grep -Eo '[0-9]+ kbit/s' "$LA" | tr '\n' ' ')"
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
path=$(grep -Eo '/org/freedesktop/ModemManager1/Call/[0-9]+' <<<"$out")
check "handset_calls: 2. ... Voice.CreateCall got B's number" grep -q "string \"$NB\"" \
  <<<"$("${MOCK[@]}" $MODEM org.freedesktop.DBus.Mock.GetMethodCalls string:CreateCall)"
check "handset_calls: 2. ... and the Call was started" test -n "$path" -a \
  -n "$("${MOCK[@]}" "$path" org.freedesktop.DBus.Mock.GetMethodCalls string:Start | grep uint64)"
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
tt_exec "$TT_A" tc qdisc del dev a0 root 2>/dev/null
finish
