#!/usr/bin/env bash
# server_sip_smoke: dataline-server's SIP side end to end on loopback.
# Starts the server on ports 22100-22104 with a temporary var dir, creates
# an account through the HTTP API (code read from the SMS spool), then a
# small independent client (helpers/sip_smoke_client.py, written from the
# RFCs) does OPTIONS, REGISTER 401 -> 200 with SHA-256 and MD5 digest,
# nonce-count replay, wrong password, 423, 403, CRLF keep-alive and
# unregister over UDP, TCP and TLS. Then: an oversize message gets 513,
# SIGHUP reopens the log, a binding survives kill -9 + restart, a second
# server cannot share the SIP ports, SIGTERM exits cleanly.
. "$(dirname "$0")/lib.sh"

SRV=$OUT/dataline-server
UDP=22100 TCP=22100 TLS=22101 HTTP=22102 HTTPS=22103
TMP=$(mktemp -d /tmp/server_sip_smoke.XXXXXX)
PID=
cleanup() {
  [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

if [ ! -x "$SRV" ]; then fail "server_sip_smoke - $SRV not built"; finish; fi
command -v curl >/dev/null || { fail "server_sip_smoke - curl missing"; finish; }

start() {
  "$SRV" --var-dir "$TMP/var" --sip-udp 127.0.0.1:$UDP --sip-tcp 127.0.0.1:$TCP \
    --sip-tls 127.0.0.1:$TLS --http 127.0.0.1:$HTTP --https 127.0.0.1:$HTTPS \
    --workers 2 --max-msg-size 8192 --digest-algorithms SHA-256,MD5 --log-file "$TMP/server.log" "$@" &
  PID=$!
  wait_tcp $TCP && wait_tcp $TLS && wait_tcp $HTTP
}

check "server --help lists the flags" \
  bash -c "'$SRV' --help | grep -q -- '--max-bindings-per-device'"
check "server starts (SIP UDP/TCP/TLS + HTTP)" start
check "self-signed certificate generated on first run" \
  test -s "$TMP/var/tls/server.crt" -a -s "$TMP/var/tls/server.key"

NUM=+8613800138077
SESSION=$(curl -s -X POST -d "{\"number\":\"$NUM\"}" http://127.0.0.1:$HTTP/v1/registrations |
  python3 -c 'import json,sys;print(json.load(sys.stdin)["session"])' 2>/dev/null)
CODE=$(grep -F "$NUM" "$TMP/var/sms.spool" | tail -n 1 | grep -Eo '[0-9]{6}$')
curl -s -X POST -d "{\"number\":\"$NUM\",\"code\":\"$CODE\",\"session\":\"$SESSION\"}" \
  http://127.0.0.1:$HTTP/v1/registrations/verify > "$TMP/creds.json"
USER_=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["username"])' "$TMP/creds.json" 2>/dev/null)
PASS=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["password"])' "$TMP/creds.json" 2>/dev/null)
DOMAIN=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["domain"])' "$TMP/creds.json" 2>/dev/null)
check "account provisioned through the API" test -n "$USER_" -a -n "$PASS"

CLI=(python3 "$ROOT/tests/integration/helpers/sip_smoke_client.py"
     --domain "$DOMAIN" --number "$NUM" --user "$USER_" --password "$PASS")
"${CLI[@]}" --transport udp --port $UDP --alg MD5 || T_FAILED=1
"${CLI[@]}" --transport tcp --port $TCP || T_FAILED=1
"${CLI[@]}" --transport tls --port $TLS --cafile "$TMP/var/tls/server.crt" || T_FAILED=1

# an oversize message over TCP: 513, then the server closes that stream
python3 - $TCP > "$TMP/big.out" 2>&1 <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
body = "x" * 20000
s.sendall(("OPTIONS sip:dataline.local SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKbig\r\n"
           "Max-Forwards: 70\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: big\r\n"
           "CSeq: 1 OPTIONS\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)).encode())
data = b""
while True:
    try:
        d = s.recv(4096)
    except ConnectionResetError:
        break
    if not d:
        break
    data += d
print(data.split(b"\r\n")[0].decode())
PY
check "oversize message gets 513 and the stream is closed" grep -q "SIP/2.0 513" "$TMP/big.out"

mv "$TMP/server.log" "$TMP/server.log.1"
kill -HUP $PID
for i in $(seq 50); do [ -s "$TMP/server.log" ] && break; sleep 0.1; done
check "SIGHUP reopens the log file" grep -q "log reopened" "$TMP/server.log"

curl -s http://127.0.0.1:$HTTP/metrics > "$TMP/metrics"
check "metrics count REGISTER 200s" \
  grep -Eq '^dataline_sip_requests_total\{method="REGISTER",status="200"\} [1-9]' "$TMP/metrics"
check "metrics count replayed nonces" \
  grep -Eq '^dataline_sip_auth_failures_total\{reason="replayed_nonce"\} [1-9]' "$TMP/metrics"

# a binding made over TCP survives kill -9 and a restart
"${CLI[@]}" --transport tcp --port $TCP --keep > "$TMP/keep.out" || T_FAILED=1
CONTACT=$(sed -n 's/^# kept contact //p' "$TMP/keep.out")
kill -9 $PID; wait $PID 2>/dev/null; PID=
check "server restarts after kill -9" start
"${CLI[@]}" --transport udp --port $UDP --expect-contact "$CONTACT" || T_FAILED=1

# SO_REUSEPORT must not let a second server share the SIP ports
"$SRV" --var-dir "$TMP/var2" --sip-udp 127.0.0.1:$UDP --sip-tcp 127.0.0.1:$TCP \
  --sip-tls 127.0.0.1:$TLS --http off --https off > "$TMP/second.log" 2>&1 &
P2=$!
for i in $(seq 50); do kill -0 $P2 2>/dev/null || break; sleep 0.1; done
if kill -0 $P2 2>/dev/null; then
  kill -9 $P2; fail "a second server on the same SIP ports refuses to start"
else
  check "a second server on the same SIP ports refuses to start" \
    grep -q "Address already in use" "$TMP/second.log"
fi

kill -TERM $PID; wait $PID; rc=$?; PID=
check "SIGTERM: clean exit (status 0)" test "$rc" -eq 0
check "SIGTERM: shutdown logged" grep -q "dataline-server stopped" "$TMP/server.log"
finish
