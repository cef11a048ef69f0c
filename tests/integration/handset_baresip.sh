#!/usr/bin/env bash
# handset_baresip: texts between a dataline handset (`dataline daemon`, its
# CLI on a private D-Bus) and baresip 1.0.0 (Debian baresip-core, headless,
# as in server_baresip_texts.sh), through dataline-server in its default
# configuration on loopback ports 28250-28253 (baresip on 28260).
#   (a) baresip's "/message" (text/plain) to the handset's number: the
#       handset's inbox has it, From baresip's number; baresip sees no error.
#   (b) `dataline send` to baresip's number: accepted (202); the handset
#       sends message/cpim, which baresip refuses (415, text/plain only);
#       the server delivers the content as text/plain instead; baresip
#       prints it; the server reports the delivery (IMDN "delivered"),
#       so the handset's outbox says delivered.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/tools/server_env.sh"
T=handset_baresip
DL=$OUT/dataline
BS_PID= DPID= DBUS_PID=
cleanup() {
  [ -n "$DPID" ] && { kill -TERM "$DPID" 2>/dev/null; wait "$DPID" 2>/dev/null; }
  [ -n "$BS_PID" ] && { kill -KILL "$BS_PID" 2>/dev/null; wait "$BS_PID" 2>/dev/null; }
  [ -n "$DBUS_PID" ] && kill "$DBUS_PID" 2>/dev/null
  [ -n "${SRV_DIR:-}" ] && cp "$SRV_DIR/baresip.log" "$SRV_DIR/daemon.log" "$OUT/test-logs/" 2>/dev/null
  srv_cleanup
}
trap cleanup EXIT
command -v baresip >/dev/null || { fail "$T: baresip installed (scripts/install-deps.sh)"; finish; }
srv_start handset_baresip 28250 || { fail "$T: server starts"; finish; }
NA=+8613800138511 NB=+8613800138512   # A: the handset, B: baresip
ST=$SRV_DIR/state
wait_for() { local s=$1 i; shift
  for ((i = 0; i < s * 10; i++)); do "$@" && return 0; sleep 0.1; done; return 1; }

dbus-daemon --session --address="unix:path=$SRV_DIR/bus" --nofork --nopidfile >/dev/null 2>&1 &
DBUS_PID=$!
wait_for 10 test -S "$SRV_DIR/bus"
dl() { "$DL" --state-dir "$ST" --bus "unix:path=$SRV_DIR/bus" "$@"; }
dl --no-modem register "$NA" --server "http://127.0.0.1:$SRV_HTTP" >/dev/null 2>&1
check "$T: handset provisioned" dl verify "$(spool_code "$NA")"
"$DL" --state-dir "$ST" --bus "unix:path=$SRV_DIR/bus" daemon --transport udp \
  --carrier log --log-file "$SRV_DIR/daemon.log" &
DPID=$!
check "$T: handset registered" wait_for 20 grep -qs '"registered"' "$ST/daemon.json"

# ---------------------------------------------------------------- baresip
provision "$NB" || { fail "$T: baresip's number provisioned"; finish; }
cat > "$SRV_DIR/config" <<EOF
poll_method		epoll
sip_listen		127.0.0.1:28260
module_path		/usr/lib/baresip/modules
module			stdio.so
module			g711.so
module			account.so
module_app		contact.so
module_app		menu.so
audio_player		aubridge,nil
audio_source		aubridge,nil
EOF
printf '<sip:%s@%s;transport=udp>;auth_user=%s;auth_pass=%s;outbound="sip:127.0.0.1:%s;transport=udp";regint=600\n' \
  "$NB" "$DOMAIN" "$CRED_USER" "$CRED_PASS" "$SRV_SIP" > "$SRV_DIR/accounts"
printf '"A" <sip:%s@%s>\n' "$NA" "$DOMAIN" > "$SRV_DIR/contacts"
mkfifo "$SRV_DIR/stdin"
baresip -f "$SRV_DIR" -n 127.0.0.1 < "$SRV_DIR/stdin" > "$SRV_DIR/baresip.log" 2>&1 &
BS_PID=$!
exec {BS_IN}> "$SRV_DIR/stdin"
check "$T: baresip registers" wait_for 10 grep -q "{0/UDP/v4} 200 OK" "$SRV_DIR/baresip.log"

# ---------------------------------------------------------------- (a)
echo "/message hello handset from baresip $$" >&"$BS_IN"
inbox_has() { dl inbox --json | jq -e --arg t "hello handset from baresip $$" --arg n "$NB" \
  '[.[] | select(.body == $t and .peer == $n)] | length == 1' >/dev/null; }
check "$T: (a) baresip's text is in the handset's inbox, From baresip's number" wait_for 15 inbox_has
check "$T: (a) ... baresip printed no error answer" \
  bash -c '! grep -Eaq "\[31m(4|5|6)[0-9][0-9] " "$1"' _ "$SRV_DIR/baresip.log"

# ---------------------------------------------------------------- (b)
out=$(dl send "$NB" "hello baresip from the handset $$" 2>&1); rc=$?
check "$T: (b) dataline send to baresip: accepted (exit $rc: $out)" test $rc -eq 0
check "$T: (b) baresip prints the text, From the handset's number" wait_for 15 \
  grep -aq "sip:$NA@.*: \"hello baresip from the handset $$\"" "$SRV_DIR/baresip.log"
check "$T: (b) ... the server delivered it as text/plain after baresip's 415" \
  grep -q "takes no CPIM: the text again as text/plain" "$SRV_DIR/server.log"
outbox_delivered() { dl outbox --json | jq -e --arg t "hello baresip from the handset $$" \
  '.[] | select(.body == $t) | .state == "delivered"' >/dev/null; }
check "$T: (b) the handset's outbox says delivered (the server's IMDN)" wait_for 15 outbox_delivered
finish
