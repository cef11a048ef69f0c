#!/usr/bin/env bash
# server_http_hardening: the HTTP API against clients that try to hold it
# open, starve the process of descriptors, smuggle requests or lock a
# number's owner out of provisioning (docs/decisions.md, "HTTP API
# hardening"; the limits: docs/operations.md, "Limits against abuse"):
#   a header dribbler is closed at the absolute header deadline, a body
#   dribbler at the request deadline; over the per-client cap connections
#   are closed at once; at the listener cap new clients wait in the backlog
#   and are served when a slot frees; under `ulimit -n 256` the budget
#   clamps the caps, HTTP is exhausted and SIP over TCP still answers, the
#   server does not spin; when accept() fails (descriptor limit lowered
#   under the running server) the listener backs off instead of spinning;
#   two Content-Length headers get 400 and a closed connection; /metrics
#   is not on HTTPS unless asked for.
#   Provisioning: an attacker on another /24 (127.0.2.x; the victim is
#   127.0.0.1) requests codes for the victim's number and guesses wrong 5
#   times per code, as often as allowed: the victim still gets a code and
#   verifies it, and a second attacker address in the same /24 shares the
#   first one's budget; the daily SMS cap per number holds across 4
#   prefixes (each gets at most half); the device cap answers 409.
# Loopback: all of 127.0.0.0/8 is local, so curl --interface 127.0.2.1
# gives a second client; the default per-client prefix is /24, hence
# 127.0.2.x and not 127.0.0.2 for the attacker.
# Timings are only generous deadlines. Ports 25600-25649, loopback only.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/tools/server_env.sh"
BG=()
cleanup() { local p; for p in "${BG[@]}"; do kill "$p" 2>/dev/null; done; srv_cleanup; }
trap cleanup EXIT
HC="python3 $ROOT/tests/tools/httpconn.py"

# cpu_ticks PID: utime + stime of PID, in clock ticks
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# cpu_over_3s PID: CPU seconds PID used in the next 3 s (awk float)
cpu_over_3s() {
  local t0 t1 hz
  hz=$(getconf CLK_TCK); t0=$(cpu_ticks "$1"); sleep 3; t1=$(cpu_ticks "$1")
  awk -v a="$t0" -v b="$t1" -v hz="$hz" 'BEGIN { printf "%.2f", (b - a) / hz }'
}
# not_spinning WHAT LOG0: the server used < 1 s CPU over 3 s and its log
# grew by < 64 KiB since it was LOG0 bytes long
not_spinning() {
  local cpu log1
  cpu=$(cpu_over_3s "$SRV_PID"); echo "# server CPU over 3 s $1: $cpu s"
  check "server_http_hardening: $1: the server does not spin (< 1 s CPU in 3 s)" \
    awk -v c="$cpu" 'BEGIN { exit !(c < 1) }'
  log1=$(stat -c %s "$SRV_DIR/server.log")
  check "server_http_hardening: $1: the log grew by < 64 KiB ($((log1 - $2)) bytes)" \
    test $((log1 - $2)) -lt 65536
}
healthz() { curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SRV_HTTP/healthz"; }

# ---------------------------------------------------------------- deadlines
if ! srv_start hardening 25600 --http-header-timeout 3 --http-request-timeout 6 \
     --max-http-conns 6 --max-http-conns-per-client 4; then
  fail "server_http_hardening: server starts"; finish
fi
out=$($HC dribble "$SRV_HTTP" 1 20); echo "# header dribbler (line/1 s, deadline 3 s): closed after $out"
check "server_http_hardening: header dribbler closed at the header deadline (< 10 s, not renewed by each line)" \
  awk -v s="${out% *}" -v n="${out#* }" 'BEGIN { exit !(s < 10 && n >= 1) }'
out=$($HC dribble-body "$SRV_HTTP" 1 20); echo "# body dribbler (byte/1 s, deadline 6 s): closed after $out"
# (the lower bound is no timing assumption: the server cannot close before
# the request deadline once the end of the headers was seen)
check "server_http_hardening: body dribbler after 7 KB of headers: closed at the request deadline (4.5 s < t < 12 s)" \
  awk -v s="${out% *}" 'BEGIN { exit !(s > 4.5 && s < 12) }'
check "server_http_hardening: /metrics counts deadline closes" \
  test "$(metric dataline_http_deadline_closed_total)" -ge 2

# ---------------------------------------------------------------- caps
out=$($HC percap "$SRV_HTTP" 6); echo "# 6 connections from one client, cap 4: $out closed at once"
check "server_http_hardening: over the per-client cap: the extra 2 of 6 closed at once" test "$out" = 2
# (the 6 just closed may still count for a moment: ask again for a while)
for ((i = 0; i < 30; i++)); do
  n=$(metric dataline_http_connections_refused_total); [ "${n:-0}" -ge 2 ] && break; sleep 0.1
done
check "server_http_hardening: /metrics counts refused connections" test "${n:-0}" -ge 2
srv_kill
if ! srv_start hardening-cap 25604 --http-header-timeout 20 --http-request-timeout 30 \
     --max-http-conns 3 --max-http-conns-per-client 10; then
  fail "server_http_hardening: capped server starts"; finish
fi
out=$($HC atcap "$SRV_HTTP" 3 | tr '\n' ' '); echo "# listener cap 3, 3 idle + /healthz: $out"
check "server_http_hardening: at the listener cap a new client waits in the backlog" grep -q "^held" <<< "$out"
check "server_http_hardening: ... and is answered once a connection closes" grep -q " answered" <<< "$out"
srv_kill

# ---------------------------------------------------------------- budget
# 256 descriptors for the default caps (2 x 1000 HTTP + 18000 SIP): the
# server must shrink them, start, and keep SIP over TCP while HTTP is full.
if ! SRV_WRAP="prlimit --nofile=256:256" srv_start hardening-fd 25608; then
  fail "server_http_hardening: server starts under ulimit -n 256"; finish
fi
check "server_http_hardening: ulimit -n 256: caps clamped with a warning in the log" \
  grep -q "descriptor budget: open-file limit 256.*max-http-conns 256 ->" "$SRV_DIR/server.log"
grep "descriptor budget" "$SRV_DIR/server.log" | sed 's/^/# /'
log0=$(stat -c %s "$SRV_DIR/server.log")
$HC hold "$SRV_HTTP" 300 12 > "$SRV_DIR/hold.out" & BG+=($!)
sleep 1.5
out=$(sipcli -t tcp -s "127.0.0.1:$SRV_SIP" -n +8613800138777 -T 4000 options 2>&1)
check "server_http_hardening: 300 HTTP connections held: SIP over TCP still answers OPTIONS 200" \
  grep -q "^options status=200" <<< "$out"
not_spinning "HTTP full" "$log0"
wait "${BG[-1]}" 2>/dev/null
# the 300 closed connections still queued in the kernel's backlog are
# accepted and dismissed 2 at a time first (the listener's clamped cap)
healthz_again() { local i; for ((i = 0; i < 6; i++)); do [ "$(healthz)" = 200 ] && return 0; done; return 1; }
check "server_http_hardening: after the flood /healthz answers again" healthz_again
srv_kill

# ---------------------------------------------------------------- accept errors
# The descriptor limit lowered under the running server: accept() fails
# with EMFILE, which the budget cannot prevent; the listener must pause.
if ! srv_start hardening-emfile 25612 --max-http-conns 1000 --max-http-conns-per-client 1000; then
  fail "server_http_hardening: server starts (accept errors)"; finish
fi
nfd=$(ls "/proc/$SRV_PID/fd" | wc -l)
prlimit --pid "$SRV_PID" --nofile=$((nfd + 10)):$((nfd + 10))
log0=$(stat -c %s "$SRV_DIR/server.log")
$HC hold "$SRV_HTTP" 60 8 > /dev/null & BG+=($!)
sleep 1
not_spinning "accept() failing" "$log0"
wait "${BG[-1]}" 2>/dev/null
sleep 1
check "server_http_hardening: after the descriptors come back /healthz answers" test "$(healthz)" = 200
check "server_http_hardening: /metrics counts accept errors" \
  test "$(metric dataline_http_accept_errors_total)" -ge 1

# ---------------------------------------------------------------- smuggling, /metrics
out=$($HC duplen "$SRV_HTTP"); echo "# two Content-Length headers: $out"
check "server_http_hardening: two different Content-Length headers: 400, connection closed, nothing else served" \
  test "$out" = "400 closed 1"
st=$(curl -sk -o /dev/null -w '%{http_code}' "https://127.0.0.1:$SRV_HTTPS/metrics")
check "server_http_hardening: /metrics not served on HTTPS by default ($st)" test "$st" = 404
st=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SRV_HTTP/metrics")
check "server_http_hardening: /metrics still on loopback HTTP ($st)" test "$st" = 200
srv_kill
if srv_start hardening-metrics 25616 --metrics-on-https 1; then
  st=$(curl -sk -o /dev/null -w '%{http_code}' "https://127.0.0.1:$SRV_HTTPS/metrics")
  check "server_http_hardening: --metrics-on-https 1 serves /metrics on HTTPS ($st)" test "$st" = 200
  srv_kill
else
  fail "server_http_hardening: server with --metrics-on-https starts"
fi

# ---------------------------------------------------------------- provisioning
# api_from ADDR METHOD PATH JSON: like api, from source address ADDR
api_from() {
  local f; f=$(mktemp)
  API_STATUS=$(curl -s --interface "$1" -o "$f" -w '%{http_code}' -X "$2" \
    -H 'Content-Type: application/json' --data-binary "$4" "http://127.0.0.1:$SRV_HTTP$3")
  API_BODY=$(cat "$f"); rm -f "$f"
}
if ! srv_start hardening-prov 25620 --code-resend-interval 0 --max-devices-per-number 2; then
  fail "server_http_hardening: provisioning server starts"; finish
fi
V=+8613800138555
api_from 127.0.0.1 POST /v1/registrations "{\"number\":\"$V\"}"
SV=$(jq -r .session <<< "$API_BODY")
check "server_http_hardening: the victim's code request: 202 with a 128-bit session" \
  bash -c '[ "$1" = 202 ] && [[ "$2" =~ ^[0-9a-f]{32}$ ]]' _ "$API_STATUS" "$SV"
vcode=$(spool_code "$V")
sent=0 refused=0 last=
for round in 1 2 3 4 5; do
  for src in 127.0.2.1 127.0.2.9; do
    api_from "$src" POST /v1/registrations "{\"number\":\"$V\"}"
    if [ "$API_STATUS" = 202 ]; then
      sent=$((sent + 1)); sa=$(jq -r .session <<< "$API_BODY")
      for i in 1 2 3 4 5; do
        api_from "$src" POST /v1/registrations/verify \
          "{\"number\":\"$V\",\"code\":\"000000\",\"session\":\"$sa\"}"
      done
    else
      refused=$((refused + 1)); last=$API_BODY
    fi
    # guessing without a session of its own, or with a made-up one
    api_from "$src" POST /v1/registrations/verify \
      "{\"number\":\"$V\",\"code\":\"000000\",\"session\":\"0123456789abcdef0123456789abcdef\"}"
  done
done
echo "# attacker (127.0.2.1 + 127.0.2.9): $sent codes sent, $refused refused; last: $last"
check "server_http_hardening: attacker's /24 (two addresses) gets 3 codes an hour for the number, then 429" \
  bash -c '[ "$1" = 3 ] && jq -e ".error == \"rate_limited\" and .limit == \"number_client_hour\"" <<< "$2" >/dev/null' \
  _ "$sent" "$last"
api_from 127.0.0.1 POST /v1/registrations/verify \
  "{\"number\":\"$V\",\"code\":\"$vcode\",\"session\":\"$SV\"}"
check "server_http_hardening: after the attacker's wrong guesses the victim's own code verifies (200)" \
  test "$API_STATUS" = 200
api_from 127.0.0.1 POST /v1/registrations "{\"number\":\"$V\"}"
check "server_http_hardening: ... and the victim can still request a new code (202, not 429)" \
  test "$API_STATUS" = 202
api_from 127.0.0.1 POST /v1/registrations/verify \
  "{\"number\":\"$V\",\"code\":\"$vcode\",\"session\":\"$(jq -r .session <<< "$API_BODY")\"}"
check "server_http_hardening: a code is bound to its session: an old code in a new session is wrong (403)" \
  test "$API_STATUS" = 403

# devices per number: 2 allowed here
D=+8613800138556
for i in 1 2 3; do
  api_from 127.0.0.1 POST /v1/registrations "{\"number\":\"$D\"}"
  s=$(jq -r .session <<< "$API_BODY"); c=$(spool_code "$D"); sleep 0.1
  while [ "$c" = "${prev:-}" ]; do sleep 0.1; c=$(spool_code "$D"); done; prev=$c
  api_from 127.0.0.1 POST /v1/registrations/verify \
    "{\"number\":\"$D\",\"code\":\"$c\",\"session\":\"$s\"}"
  echo "# device $i: $API_STATUS $API_BODY" | cut -c1-160
done
check "server_http_hardening: the 3rd device of a number over --max-devices-per-number 2: 409 too_many_devices" \
  bash -c '[ "$1" = 409 ] && jq -e ".error == \"too_many_devices\" and .max_devices == 2" <<< "$2" >/dev/null' \
  _ "$API_STATUS" "$API_BODY"
check "server_http_hardening: ... and the number has 2 devices" \
  test "$(sqlite3 "$SRV_VAR/dataline.db" "SELECT count(*) FROM devices WHERE number = '$D'")" = 2
srv_kill

# the daily cap across clients: 4 a day here, so each prefix gets 2
if ! srv_start hardening-day 25624 --code-resend-interval 0 --code-max-per-number-hour 100 \
     --code-max-per-client-hour 100 --code-max-per-number-client-hour 100 --sms-max-per-number-day 4; then
  fail "server_http_hardening: daily-cap server starts"; finish
fi
M=+8613800138557 got=
for src in 127.0.3.1 127.0.4.1 127.0.5.1 127.0.6.1; do
  for i in 1 2 3; do
    api_from "$src" POST /v1/registrations "{\"number\":\"$M\"}"
    got+="$src:$API_STATUS:$(jq -r '.limit // ""' <<< "$API_BODY") "
  done
done
echo "# daily cap 4: $got"
sms=$(awk -F'\t' -v n="$M" '$2 == n' "$SRV_VAR/sms.spool" | wc -l)
check "server_http_hardening: daily cap: the number got exactly 4 SMS from 4 prefixes asking 12 times" test "$sms" = 4
check "server_http_hardening: daily cap: one prefix gets at most half (2), then 429 number_client_day" \
  grep -q "127.0.3.1:429:number_client_day" <<< "$got"
check "server_http_hardening: daily cap: once 4 are sent everyone gets 429 number_day" \
  grep -q "127.0.5.1:429:number_day" <<< "$got"
srv_kill

finish
