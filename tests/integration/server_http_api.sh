#!/usr/bin/env bash
# server_http_api: the provisioning HTTP API end to end on loopback, against
# dataline-server (or, while it is not built, tests/tools/dl_httpd, which
# runs the same server/http code without SIP): POST a number, read the code
# from the SMS spool, verify, get credentials (over HTTP and HTTPS with the
# generated certificate); wrong code, too many tries, expired code, resend
# limits, malformed JSON, unknown route, wrong method, oversized body, plain
# HTTP refused on a non-loopback address, restart keeping state, /metrics
# showing the refusals, and the http: SMS gateway against a fake Kannel that
# fails (retried with backoff, kept across a kill -9, never dropped).
# Ports: 23100-23199 (helper s3's range).
set -u
. "$(dirname "$0")/lib.sh"

BIN=$OUT/dataline-server
EXTRA=(--workers 1)
if [ ! -x "$BIN" ]; then
  BIN=$OUT/tools/dl_httpd EXTRA=()
fi
if [ ! -x "$BIN" ]; then
  fail "server_http_api - neither dataline-server nor tools/dl_httpd is built"
  exit 1
fi
for t in curl jq python3; do
  command -v $t >/dev/null || { fail "server_http_api - $t missing"; exit 1; }
done
echo "# testing $BIN"

TMP=$(mktemp -d /tmp/dl-s3-http.XXXXXX)
PIDS=() KANNEL_PID=
cleanup() {
  local p
  for p in "${PIDS[@]}" $KANNEL_PID; do kill -TERM "$p" 2>/dev/null; done
  sleep 0.3
  for p in "${PIDS[@]}" $KANNEL_PID; do
    kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  mkdir -p "$OUT/test-logs"
  for d in "$TMP"/*/; do
    [ -f "$d/log" ] && cp "$d/log" "$OUT/test-logs/server_http_api-$(basename "$d").log"
  done
  rm -rf "$TMP"
}
trap cleanup EXIT

# start NAME PORT [FLAGS...]: server in $TMP/NAME on HTTP PORT, HTTPS PORT+1,
# SIP PORT+2 (udp/tcp) and PORT+3 (tls). Sets PID, DIR, HTTP, HTTPS.
start() {
  local name=$1 port=$2 i; shift 2
  DIR=$TMP/$name HTTP=$port HTTPS=$((port + 1))
  mkdir -p "$DIR"
  "$BIN" --var-dir "$DIR/var" --domain dataline.local \
    --http "127.0.0.1:$HTTP" --https "127.0.0.1:$HTTPS" \
    --sip-udp "127.0.0.1:$((port + 2))" --sip-tcp "127.0.0.1:$((port + 2))" \
    --sip-tls "127.0.0.1:$((port + 3))" "${EXTRA[@]}" "$@" >> "$DIR/log" 2>&1 &
  PID=$!
  PIDS+=("$PID")
  for ((i = 0; i < 200; i++)); do
    kill -0 "$PID" 2>/dev/null || { echo "# $name exited:"; tail -5 "$DIR/log"; return 1; }
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP/healthz")" = 200 ] && return 0
    sleep 0.1
  done
  return 1
}
stop() { kill -"${1:-TERM}" "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; }

# req METHOD PATH [BODY] [BASEURL]: sets ST, BODY, HDR
req() {
  local m=$1 p=$2 b=${3-} url=${4:-http://127.0.0.1:$HTTP} args=()
  [ -n "$b" ] && args=(-H 'Content-Type: application/json' --data-binary "$b")
  ST=$(curl -s --cacert "$DIR/var/tls/server.crt" -D "$TMP/hdr" -o "$TMP/body" \
       -w '%{http_code}' -X "$m" "${args[@]}" "$url$p")
  BODY=$(cat "$TMP/body"); HDR=$(cat "$TMP/hdr")
}
# register remembers each number's newest registration session, verify
# sends it (docs/protocol.md)
declare -A SESS
register() {
  req POST /v1/registrations "{\"number\":\"$1\"}"
  if [ "$ST" = 202 ]; then SESS[$(jq -r .number <<< "$BODY")]=$(jq -r .session <<< "$BODY"); fi
}
verify() {
  req POST /v1/registrations/verify \
    "{\"number\":\"$1\",\"code\":\"$2\",\"session\":\"${SESS[$1]:-}\"}" "${3:-}"
}
# spool_code NUMBER: the newest code sent to NUMBER
spool_code() {
  awk -F'\t' -v n="$1" '$2 == n { c = $3 } END { print substr(c, length(c) - 5) }' \
    "$DIR/var/sms.spool" 2>/dev/null
}
# metric NAME [LABELS]: sum of the samples of NAME whose labels contain LABELS
metric() {
  curl -s "http://127.0.0.1:$HTTP/metrics" | awk -v name="$1" -v want="${2-}" '
    /^#/ { next }
    { base = $1; sub(/\{.*/, "", base)
      if (base == name && index($1, want) > 0) s += $NF }
    END { print s + 0 }'
}
expect() { # NAME STATUS [JQ-EXPR]: status and (optionally) a jq test on the body
  local n=$1 s=$2 q=${3-}
  if [ "$ST" != "$s" ]; then fail "$n - status $ST, want $s: $BODY"; return; fi
  if [ -n "$q" ] && ! jq -e "$q" >/dev/null 2>&1 <<< "$BODY"; then
    fail "$n - body fails $q: $BODY"; return
  fi
  ok "$n"
}
other_code() { printf '%06d' $(( (10#$1 + 1) % 1000000 )); }

N1=+8613800138000 N2=+4915112345678 N3=+14155550100

# ---------------------------------------------------------------- main flow
start main 23100 || { fail "server_http_api start"; exit 1; }
req GET /healthz
expect "healthz" 200 '.status == "ok"'

register "+86 138-0013-8000"
expect "register: 202 with expiry and resend interval" 202 \
  '.number == "+8613800138000" and .expires_in == 600 and .resend_after == 60'
line=$(tail -n 1 "$DIR/var/sms.spool")
check "spool line: time, number, text" grep -qE \
  $'^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\t\\+8613800138000\tYour dataline code is [0-9]{6}$' \
  <<< "$line"
code=$(spool_code $N1)
check "spool file is private (0600)" test "$(stat -c %a "$DIR/var/sms.spool")" = 600

verify $N1 "$(other_code "$code")"
expect "wrong code: 403 invalid_code, 4 tries left" 403 '.error == "invalid_code" and .tries_left == 4'
verify $N1 "12ab"
expect "malformed code counts as a wrong try" 403 '.tries_left == 3'
verify $N1 "$code" "https://127.0.0.1:$HTTPS"
expect "verify over HTTPS (generated cert verified): 200 with credentials" 200 \
  '.number == "+8613800138000" and (.username | test("^8613800138000-[0-9a-f]{8}$"))
   and (.password | length >= 24) and .domain == "dataline.local"
   and .realm == "dataline.local" and .aor == "sip:+8613800138000@dataline.local"
   and .sip_uris == ["sip:127.0.0.1:23102;transport=udp","sip:127.0.0.1:23102;transport=tcp","sips:127.0.0.1:23103;transport=tls"]'
user1=$(jq -r .username <<< "$BODY") pass1=$(jq -r .password <<< "$BODY")
check "credentials say no-store" grep -qi '^cache-control: no-store' <<< "$HDR"
check "the password is not in the log" bash -c "! grep -q '$pass1' '$DIR/log'"
check "the password is not in the database" bash -c "! grep -aq '$pass1' '$DIR'/var/dataline.db*"
ha1=$(printf '%s' "$user1:dataline.local:$pass1" | md5sum | cut -d' ' -f1)
check "the database holds the HA1 (MD5)" test "$(sqlite3 "$DIR/var/dataline.db" \
  "SELECT ha1_md5 FROM devices WHERE username = '$user1'")" = "$ha1"
ha1s=$(printf '%s' "$user1:dataline.local:$pass1" | sha256sum | cut -d' ' -f1)
check "the database holds the HA1 (SHA-256)" test "$(sqlite3 "$DIR/var/dataline.db" \
  "SELECT ha1_sha256 FROM devices WHERE username = '$user1'")" = "$ha1s"
verify $N1 "$code"
expect "a used code is gone: 404 no_pending_code" 404 '.error == "no_pending_code"'

# resend interval (60 s) runs from the last code, even a used one
register $N1
expect "resend too soon: 429 rate_limited" 429 '.error == "rate_limited" and .retry_after > 0'
check "429 carries Retry-After" grep -qiE '^retry-after: [0-9]+' <<< "$HDR"

# too many tries
register $N2
code2=$(spool_code $N2)
for i in 1 2 3 4 5; do verify $N2 "$(other_code "$code2")"; done
expect "fifth wrong code: 0 tries left" 403 '.tries_left == 0'
verify $N2 "$code2"
expect "after 5 wrong codes even the right one: 429 too_many_tries" 429 '.error == "too_many_tries"'

# bad input
req POST /v1/registrations '{"number":'
expect "truncated JSON: 400 invalid_json" 400 '.error == "invalid_json"'
req POST /v1/registrations '["+8613800138000"]'
expect "JSON not an object: 400 invalid_json" 400 '.error == "invalid_json"'
req POST /v1/registrations '{"number":"+8613800138000","number":"+1"}'
expect "duplicate keys: 400 invalid_json" 400 '.error == "invalid_json"'
req POST /v1/registrations '{"number":"8613800138000"}'
expect "number without +: 400 invalid_number" 400 '.error == "invalid_number"'
req POST /v1/registrations '{"number":12345678}'
expect "number not a string: 400 invalid_number" 400 '.error == "invalid_number"'
req POST /v1/registrations/verify '{"number":"+8613800138000"}'
expect "verify without code: 400 invalid_json" 400 '.error == "invalid_json"'
verify +4930123456789 123456
expect "verify with no code requested: 404" 404 '.error == "no_pending_code"'
req POST /v1/nothing '{}'
expect "unknown route: 404 not_found" 404 '.error == "not_found"'
req GET /v1/registrations
expect "wrong method: 405" 405 '.error == "method_not_allowed"'
check "405 carries Allow: POST" grep -qi '^allow: POST' <<< "$HDR"
req PATCH /healthz
expect "PATCH: 405" 405
big=$(printf '{"number":"+8613800138000","pad":"%08000d"}' 0)
req POST /v1/registrations "$big"
expect "8 KB body: 413 body_too_large" 413 '.error == "body_too_large"'
head -c 200000 /dev/zero | tr '\0' 'a' > "$TMP/huge"
ST=$(curl -s -o /dev/null -w '%{http_code}' --data-binary @"$TMP/huge" \
     "http://127.0.0.1:$HTTP/v1/registrations")
check "200 KB body: refused (413 or connection closed)" test "$ST" = 413 -o "$ST" = 000
req GET /healthz
expect "still serving after bad input" 200

# the refusals in /metrics
check "metrics: invalid_code" test "$(metric dataline_code_verifications_total 'result="invalid_code"')" = 7
check "metrics: too_many_tries" test "$(metric dataline_code_verifications_total 'result="too_many_tries"')" = 1
check "metrics: no_pending" test "$(metric dataline_code_verifications_total 'result="no_pending"')" = 2
check "metrics: ok" test "$(metric dataline_code_verifications_total 'result="ok"')" = 1
check "metrics: 429 on /v1/registrations" test \
  "$(metric dataline_http_requests_total 'route="/v1/registrations",status="429"')" = 1
check "metrics: 413" test "$(metric dataline_http_requests_total 'status="413"')" -ge 1
check "metrics: 404 unknown route" test "$(metric dataline_http_requests_total 'route="other",status="404"')" = 1
check "metrics: codes rate limited" test "$(metric dataline_codes_rate_limited_total)" = 1
check "metrics: sms queue empty" test "$(metric dataline_queue_depth 'queue="sms"')" = 0
check "metrics: Prometheus text content type" bash -c \
  "curl -s -D - -o /dev/null http://127.0.0.1:$HTTP/metrics | grep -qi '^content-type: text/plain; version=0.0.4'"

# restart: devices and a pending code survive a kill -9
register $N3
code3=$(spool_code $N3)
stop KILL
start main 23100 || fail "restart after kill -9"
check "after kill -9: devices kept" test "$(metric dataline_devices)" = 1
verify $N3 "$code3"
expect "after kill -9: the pending code still verifies" 200
stop TERM

# ---------------------------------------------------------------- per-hour limits
start limits 23110 --code-resend-interval 0 --code-max-per-number-hour 3 \
  --code-max-per-client-hour 5 || fail "start limits"
register $N1
verify $N1 "$(spool_code $N1)"
expect "first device" 200
userA=$(jq -r .username <<< "$BODY")
register $N1
expect "second device: a new code at once (resend interval 0)" 202
verify $N1 "$(spool_code $N1)"
expect "second device: its own username" 200 ".username != \"$userA\""
check "two devices, one account" test "$(metric dataline_devices)/$(metric dataline_accounts)" = 2/1
register $N1
expect "3 codes an hour to one number" 202
register $N1
expect "the 4th code to that number: 429 until the first leaves the hour" 429 \
  '.error == "rate_limited" and .retry_after > 3000 and .retry_after <= 3601'
register $N2; register $N3
expect "other numbers until the client's limit" 202
register +4930123456789
expect "the 6th code from one client: 429" 429 '.error == "rate_limited"'
stop TERM

# ---------------------------------------------------------------- expiry
# (10 s: the shortest --code-ttl dataline-server accepts)
start expiry 23120 --code-ttl 10 || fail "start expiry"
register $N1
expect "short-lived code" 202 '.expires_in == 10'
code=$(spool_code $N1)
verify $N1 "$(other_code "$code")"
expect "before expiry: a wrong code is 403" 403
sleep 11
verify $N1 "$code"
expect "expired code: 410 code_expired" 410 '.error == "code_expired"'
check "metrics: expired" test "$(metric dataline_code_verifications_total 'result="expired"')" = 1
stop TERM

# ---------------------------------------------------------------- plain HTTP only on loopback
mkdir -p "$TMP/nonloop"
"$BIN" --var-dir "$TMP/nonloop/var" --http 0.0.0.0:23130 --https 127.0.0.1:23131 \
  --sip-udp 127.0.0.1:23132 --sip-tcp 127.0.0.1:23132 --sip-tls 127.0.0.1:23133 \
  "${EXTRA[@]}" > "$TMP/nonloop/log" 2>&1 &
p=$!; PIDS+=("$p")
for ((i = 0; i < 100; i++)); do kill -0 $p 2>/dev/null || break; sleep 0.1; done
if kill -0 $p 2>/dev/null; then
  fail "plain HTTP on 0.0.0.0 refused - the server kept running"
else
  wait $p; rc=$?
  check "plain HTTP on 0.0.0.0: exits non-zero" test $rc -ne 0
  check "plain HTTP on 0.0.0.0: says why" grep -q "refusing plain HTTP on non-loopback" "$TMP/nonloop/log"
fi

# ---------------------------------------------------------------- http: SMS gateway
K=$TMP/kannel; mkdir -p "$K"; echo 2 > "$K/fail"
python3 "$ROOT/tests/tools/fake_kannel.py" 23150 "$K" 2>"$K/err" &
KANNEL_PID=$!
wait_tcp 23150 || fail "fake kannel up"
SMS="http:http://127.0.0.1:23150/cgi-bin/sendsms?username=dl&password=pw&to=%to&text=%text"
start gw 23140 --sms "$SMS" || fail "start gw"
# kannel_code NUMBER [SECONDS]: waits for an accepted SMS to NUMBER
kannel_code() {
  local i
  for ((i = 0; i < ${2:-30} * 10; i++)); do
    c=$(awk -F'\t' -v n="$1" '$1 == 202 && $2 == n { c = $3 } END { print substr(c, length(c) - 5) }' \
        "$K/requests" 2>/dev/null)
    [[ "$c" =~ ^[0-9]{6}$ ]] && { echo "$c"; return 0; }
    sleep 0.1
  done
  return 1
}
register $N1
expect "gateway failing: the API still answers 202" 202
code=$(kannel_code $N1 30)
check "gateway: delivered after 2 failures" test -n "$code"
check "gateway: 2 refused attempts then 1 accepted" test \
  "$(cut -f1 "$K/requests" | tr '\n' ' ')" = "503 503 202 "
check "gateway: text URL-decoded intact" grep -qE $'^202\t\\+8613800138000\tYour dataline code is [0-9]{6}$' "$K/requests"
verify $N1 "$code"
expect "gateway: the delivered code verifies" 200
check "gateway: neither the SMS text nor its URL is in the server log" \
  bash -c "! grep -qE 'code%20is|code is $code' '$DIR/log'"
check "metrics: sms failures counted" test "$(metric dataline_sms_failures_total)" = 2
check "metrics: sms sent counted" test "$(metric dataline_sms_sent_total)" = 1
check "metrics: sms queue drained" test "$(metric dataline_queue_depth 'queue="sms"')" = 0

# gateway down, server killed: the SMS waits in the store and goes out after restart
echo 1000000 > "$K/fail"
register $N2
expect "gateway down: 202" 202
for ((i = 0; i < 50; i++)); do
  [ "$(metric dataline_sms_failures_total)" -ge 3 ] && break; sleep 0.1
done
check "gateway down: queued, not dropped" test "$(metric dataline_queue_depth 'queue="sms"')" = 1
check "gateway down: the failure is logged" grep -q "failed: gateway answered HTTP 503" "$DIR/log"
stop KILL
echo 0 > "$K/fail"
start gw 23140 --sms "$SMS" || fail "restart gw"
code=$(kannel_code $N2 30)
check "after kill -9 and restart: the queued SMS is delivered" test -n "$code"
verify $N2 "$code"
expect "after restart: that code verifies" 200
stop TERM

finish
