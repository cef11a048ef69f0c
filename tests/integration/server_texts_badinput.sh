#!/usr/bin/env bash
# server_texts_badinput: every way a MESSAGE can be refused, in the order
# of server/sip/message.c's header, each answered once with its code and
# counted in /metrics (RFC 3428 MESSAGE, RFC 3862 CPIM, RFC 5438 IMDN, RFC
# 3261 s.22 digest as a proxy, s.20.33 Retry-After, s.21.4.16 415/Accept).
# The MESSAGEs are crafted by tests/tools/textbad.py over UDP; nobody is
# registered, so accepted texts stay queued.
#   407 without credentials and with a wrong password; 403 From not the
#   sender's; 404 Request-URI not a number, number without an account;
#   202 for sip:+N@, tel:+N, sip:N@...;user=phone; 413 over
#   --queue-max-body; 415 + Accept for image/png; 400 for broken CPIM (no
#   blank line, bad header), CPIM around broken IMDN, an empty body; the
#   same imdn.Message-ID twice: 202 twice, stored once (long ids that
#   differ only at the end: two texts); 480 + Retry-After
#   once the recipient's queue (--queue-max-per-recipient) is full; a
#   flood over --text-burst: 503 + Retry-After, counted, RSS bounded.
# Ports 27600-27603.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/tools/server_env.sh"
trap srv_cleanup EXIT
TB="python3 $ROOT/tests/tools/textbad.py"
T=server_texts_badinput
BURST=50 CAP=40
if ! srv_start texts_badinput 27600 --text-burst $BURST --text-rate 2 \
     --queue-max-per-recipient $CAP --queue-max-body 1024; then
  fail "$T: server starts"; finish
fi
NA=+4915200000011 NB=+4915200000012 NC=+4915200000013 ND=+4915200000014
NE=+4915200000015 NF=+4915200000016 NX=+4915200000019
for n in A B C D E F; do
  v=N$n
  provision "${!v}" || { fail "$T: $n provisioned"; finish; }
  eval "U$n=\$CRED_USER P$n=\$CRED_PASS"
done
ok "$T: six numbers provisioned"

# msg [KEY=VALUE...]: A's MESSAGE to B (overridable); sets R to its line
msg() { R=$($TB msg "$SRV_SIP" user="$UA" pass="$PA" from="$NA" \
          ruri="sip:$NB@$DOMAIN" body=hello "$@"); echo "# $* -> $R"; }
has() { grep -q -- "$1" <<< "$R"; }
depth() { metric dataline_queue_depth 'queue="text"'; }

# ---------------------------------------------------------- authentication
R=$($TB msg "$SRV_SIP" from="$NA" ruri="sip:$NB@$DOMAIN" body=hi)
echo "# no credentials -> $R"
check "$T: no credentials -> 407 with Proxy-Authenticate" \
  bash -c 'grep -q "status=407 .*proxy_auth=yes" <<< "$1"' _ "$R"
msg pass=wrong-password
check "$T: a wrong password -> 407 again" has "status=407 .*proxy_auth=yes"
msg user=nobody-here
check "$T: an unknown user -> 407" has "status=407"

# ---------------------------------------------------------- addressing
msg from="$NC"
check "$T: From is not the sender's number -> 403" has "status=403"
msg from="$UC"
check "$T: From is another device's username -> 403" has "status=403"
msg ruri="sip:alice@$DOMAIN"
check "$T: Request-URI sip:alice@... (not a number) -> 404 Not A Phone Number" \
  has "status=404 reason=Not_A_Phone_Number"
msg ruri="sip:+12@$DOMAIN"
check "$T: Request-URI sip:+12@... (too short for E.164) -> 404" has "status=404"
msg ruri="sip:$NX@$DOMAIN"
check "$T: a number without an account -> 404" has "status=404"
check "$T: ... not the 'Not A Phone Number' one" bash -c '! grep -q Not_A_Phone <<< "$1"' _ "$R"
acc0=$(metric dataline_texts_accepted_total)
d0=$(depth)
msg ruri="sip:$NB@$DOMAIN"
check "$T: sip:+NUMBER@domain -> 202" has "status=202"
msg ruri="tel:$NB"
check "$T: tel:+NUMBER -> 202" has "status=202"
msg ruri="sip:${NB#+}@$DOMAIN;user=phone"
check "$T: sip:NUMBER@domain;user=phone -> 202" has "status=202"
msg ruri="sip:$UB@$DOMAIN"
check "$T: sip:USERNAME@domain (one-field client) -> 202" has "status=202"
check "$T: ... 4 accepted and counted" test "$(metric dataline_texts_accepted_total)" -eq $((acc0 + 4))
check "$T: ... 4 stored" test "$(depth)" -eq $((d0 + 4))

# ---------------------------------------------------------- bodies
big0=$(metric dataline_texts_too_large_total)
msg body= size=1025
check "$T: body of 1025 bytes over --queue-max-body 1024 -> 413" has "status=413"
msg body= size=1024
check "$T: ... 1024 bytes exactly -> 202" has "status=202"
check "$T: ... 413 counted in dataline_texts_too_large_total" \
  test "$(metric dataline_texts_too_large_total)" -eq $((big0 + 1))
msg ctype=image/png body='\x89PNG\r\n\x1a\n'
check "$T: Content-Type image/png -> 415" has "status=415"
check "$T: ... with Accept: text/plain, message/cpim" has "accept=text/plain,_message/cpim"
msg ctype=message/cpim body='From: <sip:a@b>\r\nTo: <sip:c@d>\r\nContent-Type: text/plain\r\nhello'
check "$T: CPIM without the blank line after its headers -> 400" has "status=400"
msg ctype=message/cpim body='From: <sip:a@b>\r\nthis is no header\r\n\r\nContent-Type: text/plain\r\n\r\nhello'
check "$T: CPIM with a header line without a colon -> 400" has "status=400"
msg ctype=message/cpim body='From: <sip:a@b>\r\nfoo.Bar: undeclared prefix\r\n\r\nContent-Type: text/plain\r\n\r\nhello'
check "$T: CPIM with an undeclared namespace prefix -> 400" has "status=400"
msg ctype=message/cpim body='From: <sip:a@b>\r\n\r\n\r\nhello'
check "$T: CPIM without a Content-Type for its content -> 400" has "status=400"
msg imdn='<?xml version="1.0"?><imdn xmlns="urn:ietf:params:xml:ns:imdn"><message-id>x'
check "$T: CPIM around a truncated message/imdn+xml -> 400" has "status=400"
msg imdn='this is not xml at all'
check "$T: CPIM around message/imdn+xml that is not XML -> 400" has "status=400"
msg body=
check "$T: an empty text/plain body -> 400" has "status=400"
msg ctype=none
check "$T: a body without Content-Type -> 400 or 415" has "status=4[01][05]"
check "$T: none of the refused bodies was stored" test "$(depth)" -eq $((d0 + 5))

# ---------------------------------------------------------- duplicates
dup0=$(metric dataline_texts_duplicate_total); d1=$(depth)
msg cpim=dup-1 body="once only"
check "$T: a CPIM text -> 202" has "status=202"
msg cpim=dup-1 body="once only"
check "$T: the same imdn.Message-ID again (new transaction) -> 202" has "status=202"
check "$T: ... counted in dataline_texts_duplicate_total" \
  test "$(metric dataline_texts_duplicate_total)" -eq $((dup0 + 1))
check "$T: ... stored once" test "$(depth)" -eq $((d1 + 1))
msg callid=same-call-1 body="plain twice"
msg callid=same-call-1 body="plain twice"
check "$T: a plain text sent twice (same Call-ID and CSeq) -> 202 again" has "status=202"
check "$T: ... stored once" test "$(depth)" -eq $((d1 + 2))

d2=$(depth)
long=$(printf 'm%.0s' $(seq 600))
msg cpim="$long-1" body="long id one" > /dev/null
msg cpim="$long-2" body="long id two" > /dev/null
check "$T: two texts whose 600-character imdn.Message-IDs differ only at the end: both stored" \
  test "$(depth)" -eq $((d2 + 2))

# ---------------------------------------------------------- queue full
qf0=$(metric dataline_texts_queue_full_total)
R=$($TB flood "$SRV_SIP" $((CAP + 5)) user="$UE" pass="$PE" from="$NE" \
      ruri="sip:$ND@$DOMAIN" cpim=qf body=fill)
echo "# $((CAP + 5)) texts E -> D: $R"
check "$T: $CAP texts fill D's queue (--queue-max-per-recipient $CAP): 202 each" \
  has "by_status=202:$CAP,480:5 "
check "$T: ... then 480 with Retry-After" has "retry_after_all=yes"
check "$T: ... counted in dataline_texts_queue_full_total" \
  test "$(metric dataline_texts_queue_full_total)" -eq $((qf0 + 5))

# ---------------------------------------------------------- flood
N=5000
rl0=$(metric dataline_texts_rate_limited_total)
rss0=$(rss_kb "$SRV_PID")
R=$($TB flood "$SRV_SIP" $N user="$UF" pass="$PF" from="$NF" \
      ruri="sip:$NC@$DOMAIN" body=flood size=900)
rss1=$(rss_kb "$SRV_PID")
echo "# $N texts F -> C: $R; RSS ${rss0} -> ${rss1} kB"
n503=$(grep -Eo '503:[0-9]+' <<< "$R" | cut -d: -f2); n503=${n503:-0}
secs=$(grep -Eo 'seconds=[0-9.]+' <<< "$R" | cut -d= -f2)
# at most BURST + rate x seconds + 1 get through the limiter
pass=$(awk -v s="${secs:-0}" -v b=$BURST 'BEGIN { printf "%d", b + 2 * s + 1 }')
check "$T: a flood of $N over --text-burst $BURST: all but <= $pass answered 503" \
  test "$n503" -ge $((N - pass))
check "$T: ... every 503 (and 480) carries Retry-After" has "retry_after_all=yes"
check "$T: ... the first $BURST got through (202, or 480 once C's queue is full)" \
  bash -c 'a=$(grep -Eo "202:[0-9]+" <<< "$1" | cut -d: -f2); b=$(grep -Eo "480:[0-9]+" <<< "$1" | cut -d: -f2)
           [ $(( ${a:-0} + ${b:-0} )) -ge '"$BURST"' ]' _ "$R"
check "$T: ... every 503 counted in dataline_texts_rate_limited_total" \
  test "$(metric dataline_texts_rate_limited_total)" -eq $((rl0 + n503))
check "$T: ... the server's RSS grew by < 16 MiB ($rss0 -> $rss1 kB)" \
  test $((rss1 - rss0)) -lt $((16384 + ASAN_SLACK_KB))
msg
check "$T: ... another sender is not limited: A's text -> 202" has "status=202"
check "$T: the server is still up" kill -0 "$SRV_PID"
finish
