#!/usr/bin/env bash
# handset_texts: the handset service (`dataline daemon`: agent + local store
# + D-Bus on a private bus) against the real dataline-server on loopback
# ports 28240-28243, with tests/tools/sipua.py as the other party (B).
# Over UDP and then TCP (the default TLS is covered by handset_texts_netns):
#  - `dataline send` puts a text in the outbox; it leaves as message/cpim
#    with an imdn.Message-ID, is challenged (407) and accepted (202); the
#    CLI prints the 202; sipua gets it and answers with an IMDN
#    "delivered", which moves A's outbox to delivered;
#  - sipua's text (CPIM asking for delivery notification) lands in A's
#    inbox once, A answers with an IMDN "delivered", and a second delivery
#    of the same Message-ID is not stored twice;
#  - a text/plain text (as baresip sends) lands in the inbox too;
#  - bad input: an inbox file that is not SQLite stops the daemon with a
#    clear error; the D-Bus Send with wrong types is InvalidArgs; a text to
#    a non-number is refused with a message.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/tools/server_env.sh"
DL=$OUT/dataline
UA=(python3 "$ROOT/tests/tools/sipua.py")
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  srv_cleanup
}
trap cleanup EXIT
for b in "$DL" "$OUT/dataline-server"; do
  [ -x "$b" ] || { fail "handset_texts - $b not built"; finish; }
done
command -v jq >/dev/null || { fail "handset_texts - jq missing"; finish; }
command -v dbus-daemon >/dev/null || { fail "handset_texts - dbus-daemon missing"; finish; }
srv_start handset_texts 28240 || { fail "handset_texts - server did not start"; finish; }
NA=+8613800138100 NB=+8613800138101
ST=$SRV_DIR/state

wait_for() { # SECONDS CMD...: polls until CMD succeeds (a hang guard)
  local s=$1 i; shift
  for ((i = 0; i < s * 10; i++)); do "$@" && return 0; sleep 0.1; done
  return 1
}
jq_any() { jq -se "any(.[]; $1)" "$2" >/dev/null; }

# a private bus for the daemon and its clients
dbus-daemon --session --address="unix:path=$SRV_DIR/bus" --nofork --nopidfile \
  >/dev/null 2>&1 &
pids+=($!)
wait_for 10 test -S "$SRV_DIR/bus" || { fail "handset_texts - no private bus"; finish; }
BUS="unix:path=$SRV_DIR/bus"
dl() { "$DL" --state-dir "$ST" --bus "$BUS" "$@"; }

# --- A: the handset, provisioned through its own CLI -------------------------
dl --no-modem register "$NA" --server "http://127.0.0.1:$SRV_HTTP" >/dev/null 2>&1
code=$(spool_code "$NA")
check "handset_texts: handset provisioned" dl verify "$code"
# --- B: sipua ---------------------------------------------------------------
provision "$NB" || { fail "handset_texts - provisioning $NB"; finish; }
printf '%s' "$CRED_JSON" > "$SRV_DIR/creds_b.json"

n=0
for tp in udp tcp; do
  blog=$SRV_DIR/ua-$tp.jsonl dlog=$SRV_DIR/daemon-$tp.log
  # B registers, waits for A's text (answering it with an IMDN), then
  # writes back to A twice with the same Message-ID, and once as text/plain
  timeout 60 "${UA[@]}" -t udp --server 127.0.0.1:$SRV_SIP --creds "$SRV_DIR/creds_b.json" \
    -T 5 --imdn -c 'register 120' -c 'wait message 1 30' -c 'sleep 1' \
    -c "send --cpim $NA reply over $tp" -c 'sleep 1' \
    -c "send $NA plain over $tp" -c 'sleep 2' -c unregister > "$blog" 2>&1 &
  upid=$!; pids+=($upid)
  wait_for 10 grep -q '"event": *"register"' "$blog"
  "$DL" --state-dir "$ST" --bus "$BUS" daemon --transport $tp -v --carrier log --log-file "$dlog" &
  dpid=$!; pids+=($dpid)
  wait_for 20 grep -qs '"registered"' "$ST/daemon.json"
  out=$(dl send "$NB" "hello over $tp from the handset" 2>&1); rc=$?
  n=$((n + 1))
  check "handset_texts $tp: send exits 0 (accepted)" test $rc -eq 0
  case "$out" in *"202"*) ok "handset_texts $tp: send prints the server's 202";;
    *) fail "handset_texts $tp: send printed: $out";; esac
  wait $upid; urc=$?
  check "handset_texts $tp: sipua exit 0" test $urc -eq 0
  [ $urc -eq 0 ] || sed 's/^/#   /' "$blog" | tail -20
  check "handset_texts $tp: sipua got the text as CPIM with a Message-ID" jq_any \
    ".event == \"message\" and .text == \"hello over $tp from the handset\" and .from_user == \"$NA\" and (.message_id | length) == 32" "$blog"
  check "handset_texts $tp: A's outbox says delivered (sipua's IMDN)" wait_for 10 \
    sh -c "\"$DL\" --state-dir \"$ST\" --bus \"$BUS\" outbox --json | jq -e '.[] | select(.body == \"hello over $tp from the handset\") | .state == \"delivered\"' >/dev/null"
  check "handset_texts $tp: A's inbox has the CPIM text" wait_for 10 \
    sh -c "\"$DL\" --state-dir \"$ST\" --bus \"$BUS\" inbox --json | jq -e '[.[] | select(.body == \"reply over $tp\" and .peer == \"$NB\")] | length == 1' >/dev/null"
  check "handset_texts $tp: A's inbox has the text/plain text" wait_for 10 \
    sh -c "\"$DL\" --state-dir \"$ST\" --bus \"$BUS\" inbox --json | jq -e '[.[] | select(.body == \"plain over $tp\")] | length == 1' >/dev/null"
  check "handset_texts $tp: sipua got A's IMDN delivered for its text" jq_any \
    '.event == "imdn" and .imdn.status == "delivered"' "$blog"
  kill -TERM $dpid; wait $dpid; rc=$?
  check "handset_texts $tp: daemon unregisters and exits 0" test $rc -eq 0
  if [ $rc -ne 0 ]; then sed 's/^/#   /' "$dlog" | tail -40; fi
done

# --- without --bus: the system bus if we may own the name, else a private
# bus on STATE_DIR/bus, which the clients find in daemon.json -----------------
dlog=$SRV_DIR/daemon-bad.log
"$DL" --state-dir "$ST" daemon --transport tcp -v --carrier log --log-file "$dlog" &
dpid=$!; pids+=($dpid)
wait_for 20 grep -qs '"registered"' "$ST/daemon.json"
check "handset_texts: without --bus the daemon says where it serves" \
  jq -e '.bus | length > 0' "$ST/daemon.json"
check "handset_texts: ... and the clients find it without --bus" \
  sh -c "\"$DL\" --state-dir \"$ST\" outbox --json | jq -e 'length == 2' >/dev/null"
BUS=$(jq -r .bus "$ST/daemon.json")
[ "$BUS" = system ] && BUS=${DBUS_SYSTEM_BUS_ADDRESS:-unix:path=/run/dbus/system_bus_socket}
# --- bad input --------------------------------------------------------------
out=$(dl send "call me" "x" 2>&1); rc=$?
check "handset_texts: send to a non-number fails (exit 1)" test $rc -eq 1
case "$out" in *"not a phone number"*) ok "handset_texts: ... saying it is not a phone number";;
  *) fail "handset_texts: ... printed: $out";; esac
/usr/bin/python3 - "$BUS" > "$SRV_DIR/wrongtypes.txt" 2>&1 <<'EOF'
import sys, dbus
bus = dbus.bus.BusConnection(sys.argv[1])
o = bus.get_object("org.dataline.Handset1", "/org/dataline/Handset1")
try:
    o.Send(dbus.Int32(5), dbus.Int32(6), "quit", dbus_interface="org.dataline.Handset1",
           signature="iis")
    print("accepted")
except dbus.DBusException as e:
    print(e.get_dbus_name(), e.get_dbus_message())
EOF
grep -q "org.freedesktop.DBus.Error.InvalidArgs" "$SRV_DIR/wrongtypes.txt" || sed "s/^/#   /" "$SRV_DIR/wrongtypes.txt"
check "handset_texts: Send with wrong types is InvalidArgs" \
  grep -q "org.freedesktop.DBus.Error.InvalidArgs" "$SRV_DIR/wrongtypes.txt"
check "handset_texts: ... and the daemon still answers" dl outbox --json
kill -TERM $dpid; wait $dpid
cp "$ST/messages.db" "$SRV_DIR/messages.db.good"
head -c 4096 /dev/urandom > "$ST/messages.db"; rm -f "$ST/messages.db-wal" "$ST/messages.db-shm"
out=$(timeout 20 "$DL" --state-dir "$ST" --bus "$BUS" daemon --transport tcp 2>&1); rc=$?
check "handset_texts: a messages.db that is not SQLite stops the daemon (exit 1)" test $rc -eq 1
case "$out" in *"not a dataline store"*) ok "handset_texts: ... with a clear error";;
  *) fail "handset_texts: ... printed: $out";; esac
finish
