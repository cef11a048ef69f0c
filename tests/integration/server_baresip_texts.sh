#!/usr/bin/env bash
# server_baresip_texts: texts (RFC 3428 MESSAGE) between an independent SIP
# user agent and ours, through dataline-server in its DEFAULT configuration
# (no digest flag: MD5 challenges, which libre 1.1.0 answers).
#   baresip 1.0.0 (Debian baresip-core, libre 1.1.0), headless with a
#   private config dir, registers number A over UDP. tests/tools/sipua.py
#   registers number B over UDP.
#   (a) baresip -> B: baresip's contact module has "/message TEXT", which
#       sends a text/plain MESSAGE to the *current contact* (the first of
#       its contacts file) through the account's outbound proxy, answering
#       the server's 407 with the account's credentials. Typed into its
#       stdin (stdio module; "/" starts a long command, newline runs it).
#       sipua B gets it, From A's number.
#   (b) B -> baresip: sipua sends a text/plain MESSAGE to A; the server
#       delivers it over baresip's registered flow to its Contact; baresip
#       answers 200 (dataline_texts_delivered_total) and prints
#       '<from URI>: "TEXT"' (its menu module's message handler).
# baresip 1.0.0 takes text/plain only (415 + Accept: text/plain for
# message/cpim), so only plain texts are tried.
# Ports 27610-27613 (server), 27650 (baresip).
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/tools/server_env.sh"
T=server_baresip_texts
BS_PID= BS_DIR= UA_PID=
cleanup() {
  [ -n "$UA_PID" ] && { kill -TERM "$UA_PID" 2>/dev/null; wait "$UA_PID" 2>/dev/null; }
  [ -n "$BS_PID" ] && { kill -KILL "$BS_PID" 2>/dev/null; wait "$BS_PID" 2>/dev/null; }
  if [ -n "$BS_DIR" ]; then
    cp "$BS_DIR/baresip.log" "$OUT/test-logs/$T-baresip.log" 2>/dev/null
    cp "$BS_DIR/b.out" "$OUT/test-logs/$T-sipua.out" 2>/dev/null
    rm -rf "$BS_DIR"
  fi
  srv_cleanup
}
trap cleanup EXIT

command -v baresip >/dev/null || { fail "$T: baresip installed (scripts/install-deps.sh)"; finish; }
if ! srv_start baresip_texts 27610; then
  fail "$T: server starts"; finish
fi
NA=+8613800138411 NB=+8613800138412
provision "$NB" || { fail "$T: B provisioned"; finish; }
BS_DIR=$(mktemp -d /tmp/dl-baresip-texts.XXXXXX)
echo "$CRED_JSON" > "$BS_DIR/b.json"
provision "$NA" || { fail "$T: A provisioned"; finish; }

# ---------------------------------------------------------------- B: sipua
: > "$BS_DIR/b.in"
python3 "$ROOT/tests/tools/sipua.py" -t udp -s "127.0.0.1:$SRV_SIP" \
  --creds "$BS_DIR/b.json" --domain "$DOMAIN" --keepalive 0 --stdin \
  < <(tail -f --pid=$$ "$BS_DIR/b.in" 2>/dev/null) > "$BS_DIR/b.out" 2>&1 &
UA_PID=$!
b_cmd() { echo "$1" >> "$BS_DIR/b.in"; }
b_events() { grep -c "\"event\": \"$1\"" "$BS_DIR/b.out" 2>/dev/null || true; }
b_wait() { # EVENT N SECONDS
  local i; for ((i = 0; i < $3 * 10; i++)); do
    [ "$(b_events "$1")" -ge "$2" ] && return 0; sleep 0.1; done; return 1; }
b_cmd register
b_wait register 1 10
check "$T: sipua B registers over UDP: 200" \
  grep -q '"event": "register".*"status": 200' "$BS_DIR/b.out"

# ---------------------------------------------------------------- A: baresip
cat > "$BS_DIR/config" <<EOF
poll_method		epoll
sip_listen		127.0.0.1:27650
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
  "$NA" "$DOMAIN" "$CRED_USER" "$CRED_PASS" "$SRV_SIP" > "$BS_DIR/accounts"
printf '"B" <sip:%s@%s>\n' "$NB" "$DOMAIN" > "$BS_DIR/contacts"
mkfifo "$BS_DIR/stdin"
reg0=$(metric dataline_registrations)
baresip -f "$BS_DIR" -n 127.0.0.1 < "$BS_DIR/stdin" > "$BS_DIR/baresip.log" 2>&1 &
BS_PID=$!
exec {BS_IN}> "$BS_DIR/stdin"  # keeps baresip's stdin open
for ((i = 0; i < 100; i++)); do
  grep -q "{0/UDP/v4} 200 OK" "$BS_DIR/baresip.log" && break
  kill -0 "$BS_PID" 2>/dev/null || break
  sleep 0.1
done
check "$T: baresip registers A over UDP against the default configuration: 200 OK" \
  grep -q "{0/UDP/v4} 200 OK" "$BS_DIR/baresip.log"
check "$T: ... registrations gauge $reg0 -> $((reg0 + 1))" \
  test "$(metric dataline_registrations)" -eq $((reg0 + 1))
check "$T: ... its contact module loaded B as the current contact" \
  grep -q "Populated 1 contacts" "$BS_DIR/baresip.log"

# ---------------------------------------------------------------- (a)
acc0=$(metric dataline_texts_accepted_total)
m202=$(metric dataline_sip_requests_total 'method="MESSAGE"' 'status="202"')
echo "/message hello from baresip $$" >&"$BS_IN"
b_wait message 1 10
sed 's/^/# sipua B: /' <<< "$(grep '"event": "message"' "$BS_DIR/b.out")"
check "$T: (a) baresip's /message reaches sipua B through the server" \
  bash -c 'grep "\"event\": \"message\"" "$1" | jq -e --arg t "hello from baresip $2" "select(.text == \$t)" >/dev/null' \
  _ "$BS_DIR/b.out" "$$"
check "$T: ... From A's number (the server checked it against baresip's credentials)" \
  bash -c 'grep "\"event\": \"message\"" "$1" | jq -e --arg n "$2" "select(.from_user == \$n)" >/dev/null' \
  _ "$BS_DIR/b.out" "$NA"
check "$T: ... as text/plain" \
  bash -c 'grep "\"event\": \"message\"" "$1" | jq -e "select(.content_type | startswith(\"text/plain\"))" >/dev/null' \
  _ "$BS_DIR/b.out"
check "$T: ... stored and answered 202 (dataline_texts_accepted_total +1)" \
  test "$(metric dataline_texts_accepted_total)" -eq $((acc0 + 1))
m202b=$(metric dataline_sip_requests_total 'method="MESSAGE"' 'status="202"')
echo "# MESSAGE 202s on /metrics: $m202 -> $m202b"
check "$T: ... baresip printed no error answer" \
  bash -c '! grep -Eq "\[31m(4|5|6)[0-9][0-9] " "$1"' _ "$BS_DIR/baresip.log"

# ---------------------------------------------------------------- (b)
del0=$(metric dataline_texts_delivered_total)
b_cmd "send $NA hello baresip from sipua $$"
b_wait send 1 10
check "$T: (b) sipua B's text to A answered 202" \
  grep -q '"event": "send".*"status": 202' "$BS_DIR/b.out"
for ((i = 0; i < 100; i++)); do
  grep -q "hello baresip from sipua $$" "$BS_DIR/baresip.log" && break
  sleep 0.1
done
grep -a "hello baresip from sipua" "$BS_DIR/baresip.log" | sed 's/^/# baresip: /'
check "$T: ... baresip prints it, From B's number" \
  grep -aq "sip:$NB@.*: \"hello baresip from sipua $$\"" "$BS_DIR/baresip.log"
for ((i = 0; i < 50; i++)); do
  [ "$(metric dataline_texts_delivered_total)" -gt "$del0" ] && break; sleep 0.1
done
check "$T: ... baresip answered 200: dataline_texts_delivered_total +1" \
  test "$(metric dataline_texts_delivered_total)" -eq $((del0 + 1))
check "$T: ... and the text left the queue" \
  test "$(metric dataline_queue_depth 'queue="text"')" -eq 0

b_cmd quit
kill -TERM "$BS_PID"
for ((i = 0; i < 100; i++)); do kill -0 "$BS_PID" 2>/dev/null || break; sleep 0.1; done
wait "$BS_PID" 2>/dev/null; BS_PID=
exec {BS_IN}>&-
sed 's/^/# baresip: /' "$BS_DIR/baresip.log" | grep -av '^# baresip: *$' | tail -n 12
finish
