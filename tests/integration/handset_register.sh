#!/usr/bin/env bash
# handset_register: patent steps A1-A3 and the SIP registration from the
# handset's side, against the real dataline-server on loopback (ports
# 24160-24163, a temporary var dir): `dataline register` -> code from the
# server's SMS spool (and, for a second number, through a mocked
# ModemManager SMS: the A3 path) -> `dataline verify` -> `dataline daemon`
# registers over UDP, TCP and TLS (the server's /metrics shows the binding),
# SIGTERM unregisters; the TLS trust choices (CA, pin, TOFU, none); the state
# file's mode; refusals (wrong code, plain http to a non-loopback host); and
# re-registration after the server is killed (-9) and restarted.
source "$(dirname "$0")/lib.sh"
DL=$OUT/dataline
SRV=$OUT/dataline-server
PY=/usr/bin/python3
SIP=24160 TLS=24161 HTTP=24162 HTTPS=24163
for b in "$DL" "$SRV"; do
  [ -x "$b" ] || { fail "handset_register - $b not built"; finish; }
done

tmp=$(mktemp -d /tmp/handset_register.XXXXXX)
pids=() srv_pid=
cleanup() {
  for p in "${pids[@]}" $srv_pid; do kill -TERM "$p" 2>/dev/null; done
  sleep 0.3
  for p in "${pids[@]}" $srv_pid; do kill -KILL "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

start_server() {
  "$SRV" --var-dir "$tmp/var" --workers 1 --log-level debug \
    --sip-udp 127.0.0.1:$SIP --sip-tcp 127.0.0.1:$SIP --sip-tls 127.0.0.1:$TLS \
    --http 127.0.0.1:$HTTP --https 127.0.0.1:$HTTPS >>"$tmp/server.log" 2>&1 &
  srv_pid=$!
  wait_tcp $HTTP && wait_tcp $TLS && wait_tcp $SIP
}
metric() { # NAME: value of an unlabelled metric
  curl -s "http://127.0.0.1:$HTTP/metrics" | awk -v n="$1" '$1 == n {print $2}'
}
metric_is() { [ "$(metric "$1")" = "$2" ]; }
code_for() { # NUMBER: the code of the newest SMS to NUMBER in the spool
  awk -F'\t' -v n="$1" '$2 == n {t = $3} END {print t}' "$tmp/var/sms.spool" | grep -o '[0-9]\{6\}$'
}
# wait_for SECONDS CMD...: polls until CMD succeeds (a hang guard, not a timing)
wait_for() {
  local s=$1 i; shift
  for ((i = 0; i < s * 10; i++)); do "$@" && return 0; sleep 0.1; done
  return 1
}
status_has() { "$DL" --state-dir "$1" status 2>/dev/null | grep -q "$2"; }
# the daemon of pid $2 is the one daemon.json speaks for (not a stale file)
daemon_is() { status_has "$1" "running (pid $2)"; }

check "server_started" start_server
CRT=$tmp/var/tls/server.crt
PIN=$(openssl x509 -in "$CRT" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f)

# --- A1/A2 over HTTPS with trust on first use -------------------------------
ST=$tmp/state
out=$("$DL" --state-dir "$ST" --no-modem register +8613800138000 \
      --server "https://127.0.0.1:$HTTPS" --insecure 2>&1); rc=$?
echo "$out"
check "register_https_tofu" test $rc -eq 0
check "register_pins_server_cert" grep -q "\"pin_sha256\": \"$PIN\"" "$ST/state.json"
check "state_dir_mode_0700" test "$(stat -c %a "$ST")" = 700
check "state_file_mode_0600" test "$(stat -c %a "$ST/state.json")" = 600

# --- TLS trust refusals and the CA path --------------------------------------
out=$("$DL" --state-dir "$tmp/s_none" --no-modem register +8613800138009 \
      --server "https://127.0.0.1:$HTTPS" 2>&1); rc=$?
check "self_signed_refused_without_trust" test $rc -eq 1 -a -n "$(grep 'TLS handshake' <<<"$out")"
out=$("$DL" --state-dir "$tmp/s_pin" --no-modem register +8613800138009 \
      --server "https://127.0.0.1:$HTTPS" --pin "$(printf '%064d' 0)" 2>&1); rc=$?
check "wrong_pin_refused" test $rc -eq 1 -a -n "$(grep 'does not match the pinned' <<<"$out")"
out=$("$DL" --state-dir "$tmp/s_ca" --no-modem register +8613800138009 \
      --server "https://127.0.0.1:$HTTPS" --ca "$CRT" 2>&1); rc=$?
check "ca_file_accepted" test $rc -eq 0
out=$("$DL" --state-dir "$tmp/s_plain" --no-modem register +8613800138009 \
      --server "http://192.0.2.1:$HTTP" 2>&1); rc=$?
check "plain_http_only_to_loopback" test $rc -eq 1 -a -n "$(grep 'only allowed to a loopback' <<<"$out")"

# --- A3: a wrong code is refused, the right one issues credentials ----------
code=$(code_for +8613800138000)
check "code_in_spool" test -n "$code"
bad=$(printf '%06d' $(( (10#$code + 1) % 1000000 )))
out=$("$DL" --state-dir "$ST" verify "$bad" 2>&1); rc=$?
echo "$out"
check "wrong_code_refused" test $rc -eq 1 -a -n "$(grep 'invalid_code' <<<"$out")"
check "wrong_code_tries_left" grep -q 'tries left' <<<"$out"
out=$("$DL" --state-dir "$ST" verify "$code" 2>&1); rc=$?
echo "$out"
check "verify_ok" test $rc -eq 0
check "credentials_saved" grep -q '"password": ' "$ST/state.json"
check "state_file_still_0600" test "$(stat -c %a "$ST/state.json")" = 600
out=$("$DL" --state-dir "$ST" status 2>&1)
check "status_shows_account" grep -q '^aor: *sip:+8613800138000@' <<<"$out"
check "status_hides_password" bash -c "! grep -qi password <<<\"\$1\"" _ "$out"

# --- the SIP registration over each transport --------------------------------
for tp in udp tcp tls; do
  "$DL" --state-dir "$ST" daemon --transport "$tp" --log-file "$tmp/daemon_$tp.log" &
  dpid=$!; pids+=($dpid)
  if wait_for 20 status_has "$ST" "registered over $tp"; then
    ok "daemon_registers_over_$tp"
  else
    fail "daemon_registers_over_$tp"; cat "$tmp/daemon_$tp.log"
  fi
  check "server_counts_binding_$tp" metric_is dataline_registrations 1
  kill -TERM $dpid; wait $dpid; rc=$?
  check "daemon_sigterm_exits_0_$tp" test $rc -eq 0
  check "sigterm_unregisters_$tp" metric_is dataline_registrations 0
  check "status_after_stop_$tp" status_has "$ST" "stopped over $tp"
done
check "metrics_register_200" \
  bash -c "curl -s http://127.0.0.1:$HTTP/metrics | grep -q 'dataline_sip_requests_total{method=\"REGISTER\",status=\"200\"}'"

# --- a daemon killed -9 leaves its binding; the next one replaces it ---------
"$DL" --state-dir "$ST" daemon --transport udp --log-file "$tmp/daemon_k1.log" &
dpid=$!; pids+=($dpid)
check "kill9_first_registered" wait_for 20 status_has "$ST" "registered over udp"
kill -KILL $dpid; wait $dpid 2>/dev/null
check "kill9_binding_left" metric_is dataline_registrations 1
"$DL" --state-dir "$ST" daemon --transport udp --log-file "$tmp/daemon_k2.log" &
dpid=$!; pids+=($dpid)
wait_for 20 daemon_is "$ST" $dpid
check "kill9_second_registered" wait_for 20 status_has "$ST" "registered over udp"
check "kill9_old_binding_replaced" metric_is dataline_registrations 1
out=$("$DL" --state-dir "$ST" daemon --transport tcp 2>&1); rc=$?
check "second_daemon_refused" test $rc -eq 1 -a -n "$(grep 'already runs' <<<"$out")"
kill -TERM $dpid; wait $dpid
check "kill9_all_unregistered" metric_is dataline_registrations 0

# --- re-registration after the server dies -----------------------------------
"$DL" --state-dir "$ST" daemon --transport tcp --retry-base 1 --keepalive 1 -v \
  --log-file "$tmp/daemon_re.log" &
dpid=$!; pids+=($dpid)
check "reconnect_first_registration" wait_for 20 status_has "$ST" "registered over tcp"
check "keepalive_pong_seen" wait_for 10 grep -q 'keep-alive pong' "$tmp/daemon_re.log"
kill -KILL $srv_pid; wait $srv_pid 2>/dev/null; srv_pid=
check "daemon_notices_loss" wait_for 20 status_has "$ST" "backoff over tcp"
check "server_restarted" start_server
check "daemon_reregisters" wait_for 30 status_has "$ST" "registered over tcp"
# the binding of the dead connection is replaced, not left to expire
check "binding_after_restart" wait_for 5 metric_is dataline_registrations 1
kill -TERM $dpid; wait $dpid
check "unregistered_after_restart" metric_is dataline_registrations 0

# --- A1 and A3 through ModemManager (python-dbusmock) ------------------------
if $PY -c 'import dbusmock' 2>/dev/null; then
  dbus-daemon --session --address="unix:path=$tmp/bus" --nofork --nopidfile \
    >"$tmp/dbus.log" 2>&1 &
  pids+=($!)
  wait_for 5 test -S "$tmp/bus"
  export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$tmp/bus"
  $PY -m dbusmock -s -t "$ROOT/tests/mock/modemmanager.py" \
    -p '{"OwnNumbers": ["+8613800138002"]}' >"$tmp/mock.log" 2>&1 &
  pids+=($!)
  BUS=(dbus-send --system --print-reply --dest=org.freedesktop.ModemManager1)
  wait_for 10 "${BUS[@]}" /org/freedesktop/ModemManager1 \
    org.freedesktop.DBus.ObjectManager.GetManagedObjects >/dev/null 2>&1
  MS=$tmp/state_modem
  out=$("$DL" --state-dir "$MS" register --server "http://127.0.0.1:$HTTP" 2>&1); rc=$?
  echo "$out"
  check "modem_register_uses_sim_number" test $rc -eq 0 -a -n "$(grep 'sent by SMS to +8613800138002' <<<"$out")"
  code=$(code_for +8613800138002)
  # the server's SMS arrives on the phone: hand it to the mocked modem
  "${BUS[@]}" /org/freedesktop/ModemManager1 org.freedesktop.DBus.Mock.AddSms \
    string:+10690000 "string:Your dataline code is $code" \
    "string:$(date -u +%Y-%m-%dT%H:%M:%S+00:00)" >/dev/null
  out=$("$DL" --state-dir "$MS" verify --yes </dev/null 2>&1); rc=$?
  echo "$out"
  check "modem_verify_reads_sms" grep -q "Use code $code? yes" <<<"$out"
  check "modem_verify_ok" test $rc -eq 0
  "$DL" --state-dir "$MS" daemon --transport udp --log-file "$tmp/daemon_m.log" &
  dpid=$!; pids+=($dpid)
  check "modem_account_registers" wait_for 20 status_has "$MS" "registered over udp"
  kill -TERM $dpid; wait $dpid
  # the API was plain loopback HTTP, so no certificate is known yet: TLS
  # needs a trust choice; with --insecure the first one is pinned
  "$DL" --state-dir "$MS" daemon --transport tls --retry-base 60 \
    --log-file "$tmp/daemon_n.log" &
  dpid=$!; pids+=($dpid)
  check "tls_without_trust_refused" wait_for 20 status_has "$MS" "backoff over tls"
  check "tls_refusal_logged" grep -q 'certificate verify failed' "$tmp/daemon_n.log"
  kill -TERM $dpid; wait $dpid
  "$DL" --state-dir "$MS" daemon --transport tls --insecure --log-file "$tmp/daemon_t.log" &
  dpid=$!; pids+=($dpid)
  check "tls_tofu_registers" wait_for 20 status_has "$MS" "registered over tls"
  check "tls_tofu_pins_cert" grep -q "\"pin_sha256\": \"$PIN\"" "$MS/state.json"
  kill -TERM $dpid; wait $dpid
else
  fail "modem_path - python3-dbusmock missing"
fi
finish
