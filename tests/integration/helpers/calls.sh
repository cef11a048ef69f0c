# calls.sh: what the call tests share (server_calls*.sh). Source after
# lib.sh with NAME (the test's name), SIP and HTTP (its ports) set; then
# calls_start ARGS... starts the server with the test's own flags.
SRV=$OUT/dataline-server
TMP=$(mktemp -d /tmp/$NAME.XXXXXX)
CUA=(python3 "$ROOT/tests/tools/callua.py" --server 127.0.0.1:$SIP)
PID=
UPIDS=()
calls_cleanup() {
  local p
  for p in "${UPIDS[@]}"; do kill "$p" 2>/dev/null; done
  [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  mkdir -p "$OUT/test-logs"
  cp "$TMP/server.log" "$OUT/test-logs/$NAME-server.log" 2>/dev/null
  for f in "$TMP"/*.out; do cp "$f" "$OUT/test-logs/$NAME-$(basename "$f")" 2>/dev/null; done
  rm -rf "$TMP"
}
trap calls_cleanup EXIT
calls_start() { # server flags of the test
  [ -x "$SRV" ] || { fail "$NAME - $SRV not built"; finish; }
  "$SRV" --var-dir "$TMP/var" --sip-udp 127.0.0.1:$SIP --sip-tcp 127.0.0.1:$SIP \
    --sip-tls off --http 127.0.0.1:$HTTP --https off --workers 2 \
    --code-resend-interval 0 --code-max-per-client-hour 100 \
    --log-level debug --log-file "$TMP/server.log" "$@" &
  PID=$!
  check "$NAME: server up" wait_tcp $HTTP
}
provision() { # NUMBER FILE: an account (device) through the API
  local sess code
  sess=$(curl -s -X POST -d "{\"number\":\"$1\"}" http://127.0.0.1:$HTTP/v1/registrations |
    python3 -c 'import json,sys;print(json.load(sys.stdin)["session"])' 2>/dev/null)
  code=$(grep -F "$1" "$TMP/var/sms.spool" | tail -n 1 | grep -Eo '[0-9]{6}$')
  curl -s -X POST -d "{\"number\":\"$1\",\"code\":\"$code\",\"session\":\"$sess\"}" \
    http://127.0.0.1:$HTTP/v1/registrations/verify > "$2"
  grep -q password "$2"
}
uas() { # NAME PORT ARGS... : a registered device in the background
  local n=$1 port=$2; shift 2
  "${CUA[@]}" uas --creds "$TMP/$n.json" --local 127.0.0.1:$port "$@" > "$TMP/$n.out" 2>&1 &
  UPIDS+=($!)
  local i; for i in $(seq 50); do grep -q '"ready"' "$TMP/$n.out" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}
stop_uas() { local p; for p in "${UPIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; UPIDS=(); }
# The last FIELD of event EV in OUT's events.
field() { python3 -c 'import json,sys
for l in open(sys.argv[1]):
    try: e = json.loads(l)
    except ValueError: continue
    if e.get("ev") == sys.argv[2]: print(e.get(sys.argv[3]))' "$TMP/$1.out" "$2" "$3" | tail -n 1; }
final() { field "$1" final status; }
metric() { curl -s http://127.0.0.1:$HTTP/metrics | awk -v n="$1" '$1 == n { print $2 }'; }
