#!/usr/bin/env bash
# handset_texts: texts through the handset agent's UA core (RFC 3428
# MESSAGE, RFC 3261 s.22 digest) against the real dataline-server on
# loopback ports 28240-28243. Account A is the handset (`dataline register`,
# `verify`, then `dataline daemon` with its test hooks --selftest-send and
# --selftest-inbox); account B is tests/tools/sipua.py. Over UDP and then
# TCP: A's text to B is challenged by the server (407), answered by the
# core with Proxy-Authorization and accepted (202); B receives it; B's text
# to A is delivered down A's flow, A's hook sees From, Content-Type and
# body and the core answers 200. SIGTERM still unregisters and exits 0.
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
srv_start handset_texts 28240 || { fail "handset_texts - server did not start"; finish; }
NA=+8613800138100 NB=+8613800138101
ST=$SRV_DIR/state

# wait_for SECONDS CMD...: polls until CMD succeeds (a hang guard)
wait_for() {
  local s=$1 i; shift
  for ((i = 0; i < s * 10; i++)); do "$@" && return 0; sleep 0.1; done
  return 1
}
jq_any() { jq -se "any(.[]; $1)" "$2" >/dev/null; }
msg407() { metric dataline_sip_requests_total 'method="MESSAGE"' 'status="407"'; }

# --- A: the handset, provisioned through its own CLI -------------------------
"$DL" --state-dir "$ST" --no-modem register "$NA" --server "http://127.0.0.1:$SRV_HTTP" \
  >/dev/null 2>&1
code=$(spool_code "$NA")
check "handset_texts: handset provisioned" "$DL" --state-dir "$ST" verify "$code"
# --- B: sipua ---------------------------------------------------------------
provision "$NB" || { fail "handset_texts - provisioning $NB"; finish; }
printf '%s' "$CRED_JSON" > "$SRV_DIR/creds_b.json"

for tp in udp tcp; do
  blog=$SRV_DIR/ua-$tp.jsonl dlog=$SRV_DIR/daemon-$tp.log
  # B registers, waits for A's text, then writes back to A
  timeout 60 "${UA[@]}" -t udp --server 127.0.0.1:$SRV_SIP --creds "$SRV_DIR/creds_b.json" \
    -T 5 -c 'register 120' -c 'wait message 1 30' -c "send $NA reply over $tp" \
    -c 'sleep 2' -c unregister > "$blog" 2>&1 &
  upid=$!; pids+=($upid)
  wait_for 10 grep -q '"event": *"register"' "$blog"
  before=$(msg407)
  "$DL" --state-dir "$ST" daemon --transport $tp -v --log-file "$dlog" \
    --selftest-inbox --selftest-send "$NB" "hello over $tp from the agent" &
  dpid=$!; pids+=($dpid)
  check "handset_texts $tp: agent's MESSAGE accepted (202)" \
    wait_for 20 grep -qs "selftest text to $NB answered 202 " "$dlog"
  check "handset_texts $tp: the server's 407 was answered by the core" \
    test "$(msg407)" -gt "$before"
  check "handset_texts $tp: the retry had CSeq 2" grep -q "answered 202 (cseq 2," "$dlog"
  wait $upid; urc=$?
  check "handset_texts $tp: sipua got the text" jq_any \
    ".event == \"message\" and .text == \"hello over $tp from the agent\" and .from_user == \"$NA\"" "$blog"
  check "handset_texts $tp: sipua's text to the agent accepted" jq_any \
    '.event == "send" and .status == 202' "$blog"
  check "handset_texts $tp: sipua exit 0" test $urc -eq 0
  [ $urc -eq 0 ] || sed 's/^/#   /' "$blog"
  check "handset_texts $tp: the agent's hook got the text" wait_for 20 \
    grep -q "selftest text from $NB (text/plain; charset=utf-8): reply over $tp" "$dlog"
  kill -TERM $dpid; wait $dpid; rc=$?
  check "handset_texts $tp: daemon unregisters and exits 0" test $rc -eq 0
  if [ $rc -ne 0 ] || ! grep -q "answered 202" "$dlog"; then sed 's/^/#   /' "$dlog" | tail -40; fi
done

# --- without the inbox hook: 480, and the server keeps the text -------------
dlog=$SRV_DIR/daemon-noinbox.log
"$DL" --state-dir "$ST" daemon --transport tcp -v --log-file "$dlog" &
dpid=$!; pids+=($dpid)
wait_for 10 grep -qs "registered" "$SRV_DIR/state/daemon.json"
retries0=$(metric dataline_texts_delivery_retries_total)
timeout 30 "${UA[@]}" -t udp --server 127.0.0.1:$SRV_SIP --creds "$SRV_DIR/creds_b.json" \
  -T 5 -c "send $NA kept for later" > "$SRV_DIR/ua-later.jsonl" 2>&1
check "handset_texts: a text to the daemon without an inbox: 202 to the sender" jq_any \
  '.event == "send" and .status == 202' "$SRV_DIR/ua-later.jsonl"
check "handset_texts: ... the daemon answers 480 (stays queued)" wait_for 20 \
  grep -q "stays queued on the server" "$dlog"
check "handset_texts: ... the server retries it rather than dropping it" wait_for 10 \
  test "$(metric dataline_texts_delivery_retries_total)" -gt "$retries0"
check "handset_texts: ... and still holds it" \
  test "$(metric dataline_queue_depth 'queue="text"')" -ge 1
kill -TERM $dpid; wait $dpid
finish
