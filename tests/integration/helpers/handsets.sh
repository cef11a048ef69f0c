# helpers/handsets.sh: two handsets running `dataline daemon` and the real
# server in the namespaces of helpers/texts_topo.sh (sourced after it and
# lib.sh; the caller sets DIR, DL, NA, NB and calls tt_up first).
#   hs_server_start [OPTS] the server in S: SIP on 198.18.30.1 (UDP/TCP
#                          5060, TLS 5061), HTTPS 8443, HTTP on S's loopback;
#                          OPTS are added to its command line
#   hs_provision H         handset H (a or b) registers through its CLI over
#                          HTTPS with trust on first use
#   hs_daemon_start H [OPTS]  its daemon (TLS, short keep-alive and retry),
#                          D-Bus on DIR/H/bus; pid in APID / BPID
#   dl H ARGS...           the CLI in H's namespace on H's bus
#   hs_need NAME           fails NAME unless the binaries, python3-dbus/-gi/
#                          -dbusmock and tmux are there
#   hs_netq_cleanup NAME   at exit, for tests with tmux (TMUX_S) and netq
#                          on A (PIN): everything down, logs kept as
#                          $OUT/test-logs/NAME-*.log
#   hs_mm_start            the ModemManager mock on A's bus, which A's
#                          daemon uses as its system bus (MOCK, MM, MODEM)
# B reaches the server's address through R (a default route via S).
SIP=198.18.30.1
SPID= APID= BPID=
HS_BG=()
declare -A NS NUM

wait_for() { # SECONDS CMD...: polls until CMD succeeds (a hang guard)
  local s=$1 i; shift
  for ((i = 0; i < s * 10; i++)); do "$@" && return 0; sleep 0.1; done
  return 1
}
hs_server_start() {
  ip netns exec "$TT_S" "$OUT/dataline-server" --var-dir "$DIR/var" \
    --sip-udp $SIP:5060 --sip-tcp $SIP:5060 --sip-tls $SIP:5061 \
    --https $SIP:8443 --http 127.0.0.1:8080 --workers 2 --keepalive-interval 3 \
    --code-resend-interval 0 --text-rate 1000 --text-burst 2000 \
    --log-level info "$@" >> "$DIR/server.log" 2>&1 &
  SPID=$!
  wait_for 20 tt_exec "$TT_S" curl -sf http://127.0.0.1:8080/healthz -o /dev/null
}
hs_init() {
  NS=([a]=$TT_A [b]=$TT_B) NUM=([a]=$NA [b]=$NB)
  tt_exec "$TT_R" ip route add default via 198.18.31.1
}
hs_provision() { # H
  local h=$1 code
  mkdir -p "$DIR/$h"
  [ -S "$DIR/$h/bus" ] || {
    dbus-daemon --session --address="unix:path=$DIR/$h/bus" --nofork --nopidfile \
      >/dev/null 2>&1 & HS_BG+=($!)
    wait_for 10 test -S "$DIR/$h/bus"
  }
  tt_exec "${NS[$h]}" "$DL" --state-dir "$DIR/$h/state" --no-modem register "${NUM[$h]}" \
    --server "https://$SIP:8443" --insecure >/dev/null 2>&1
  code=$(grep -F "${NUM[$h]}" "$DIR/var/sms.spool" | tail -1 | grep -Eo '[0-9]{6}$')
  tt_exec "${NS[$h]}" "$DL" --state-dir "$DIR/$h/state" verify "$code" >/dev/null
}
dl() { # H ARGS...
  local h=$1; shift
  tt_exec "${NS[$h]}" "$DL" --state-dir "$DIR/$h/state" --bus "unix:path=$DIR/$h/bus" "$@"
}
hs_daemon_start() { # H [DAEMON OPTIONS...]
  local h=$1; shift
  # nsenter (not ip netns exec, which remounts /sys): the daemon sees the
  # bpffs where netq's maps are pinned
  nsenter --net="/var/run/netns/${NS[$h]}" "$DL" --state-dir "$DIR/$h/state" \
    --bus "unix:path=$DIR/$h/bus" daemon --keepalive 2 --retry-base 1 --retry-max 2 --log-file "$DIR/daemon-$h.log" "$@" &
  eval "${h^^}PID=$!"
}
registered() { grep -qs '"registered"' "$DIR/$1/state/daemon.json"; }
hs_cleanup() {
  local p
  for p in $APID $BPID $SPID "${HS_BG[@]}"; do kill -KILL "$p" 2>/dev/null; done
  wait 2>/dev/null
}
hs_need() { # NAME
  local b
  for b in "$DL" "$OUT/dataline-server" "$OUT/dataline-netq"; do
    [ -x "$b" ] || { fail "$1: $b built"; finish; }
  done
  /usr/bin/python3 -c 'import dbus, gi, dbusmock' 2>/dev/null ||
    { fail "$1: python3-dbus, -gi, -dbusmock (scripts/install-deps.sh)"; finish; }
  command -v tmux >/dev/null || { fail "$1: tmux (scripts/install-deps.sh)"; finish; }
}
hs_mm_start() {
  export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$DIR/a/bus"
  /usr/bin/python3 -m dbusmock -s -t "$ROOT/tests/mock/modemmanager.py" -p '{}' \
    >> "$DIR/mock.log" 2>&1 &
  HS_BG+=($!)
  MOCK=(dbus-send --system --print-reply --dest=org.freedesktop.ModemManager1)
  MM=/org/freedesktop/ModemManager1 MODEM=/org/freedesktop/ModemManager1/Modem/0
  wait_for 10 "${MOCK[@]}" $MM org.freedesktop.DBus.ObjectManager.GetManagedObjects >/dev/null 2>&1
}
hs_netq_cleanup() { # NAME
  tmux kill-session -t "$TMUX_S" 2>/dev/null
  hs_cleanup
  nsenter --net="/var/run/netns/$TT_A" "$OUT/dataline-netq" --pin-dir "$PIN" detach >/dev/null 2>&1
  rm -rf "$PIN"
  tt_down "$P"
  mkdir -p "$OUT/test-logs"
  for f in "$DIR"/*.log; do cp "$f" "$OUT/test-logs/$1-$(basename "$f")" 2>/dev/null; done
  rm -rf "$DIR"
}
