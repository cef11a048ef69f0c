#!/usr/bin/env bash
# Benchmark: SIP message parse rate, lib/sip (zero-copy, no allocation)
# beside GNU oSIP2's parser (libosip2-dev), same messages
# (tests/bench/sip_parse_msgs.h), same process shape (best of 5 runs of
# ITERS parses each, one core), run one after the other in this script.
# Prints a markdown section (contract: scripts/bench.sh).
set -uo pipefail
ITERS=${SIP_PARSE_ITERS:-300000}
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
OUT=${OUT:-$ROOT/build}
case "$OUT" in /*) ;; *) OUT=$ROOT/$OUT ;; esac
TMP=${BENCH_TMP:-$(mktemp -d)}

ours=$OUT/bench/sip_parse
if [ ! -x "$ours" ]; then
  echo "missing $ours (make OUT=$OUT all)" >&2
  exit 1
fi
osip=$TMP/sip_parse_osip
# same optimisation level as the Makefile's -O2
if ! gcc -O2 -std=gnu11 -Wall -Wextra -Werror \
     "$ROOT/tests/bench/osip/sip_parse_osip.c" -losipparser2 -o "$osip" >&2; then
  echo "cannot build the oSIP2 contender (apt-get install libosip2-dev)" >&2
  exit 1
fi
osipver=$(dpkg-query -W -f='${Version}' libosip2-dev 2>/dev/null || echo unknown)

a=$("$ours" "$ITERS") || exit 1
b=$("$osip" "$ITERS") || exit 1
echo "ours: $a" >&2
echo "osip: $b" >&2
get() { awk -v k="$2" -v f="$3" '$1==k{print $f}' <<<"$1"; }
row() { # KIND
  local k=$1 r1 n1 r2 n2
  r1=$(get "$a" "$k" 2); n1=$(get "$a" "$k" 3)
  r2=$(get "$b" "$k" 2); n2=$(get "$b" "$k" 3)
  printf '| %s | lib/sip (dataline) | %s | %s | %s |\n' "$k" "$r1" "$n1" \
    "$(awk -v x="$r1" -v y="$r2" 'BEGIN{printf "%.1fx", x/y}')"
  printf '| %s | oSIP2 %s | %s | %s | 1.0x |\n' "$k" "$osipver" "$r2" "$n2"
}

cat <<MD
## SIP parser: messages per second

One core, best of 5 runs of $ITERS parses per message and parser. The
REGISTER is what baresip sends with digest credentials (961 bytes), the
INVITE carries an SDP offer (1063 bytes); both are in
tests/bench/sip_parse_msgs.h. lib/sip: \`sip_msg_parse\` (indexes every
header, validates Via, From, To, Call-ID, CSeq, Max-Forwards, Expires,
Content-Length, Contact) plus decoding the Contact list, no allocation.
oSIP2: \`osip_message_init\` + \`osip_message_parse\` (parses every known
header into allocated structures) + \`osip_message_free\`.
Sources: tests/bench/sip_parse.c, tests/bench/osip/sip_parse_osip.c.

| message | parser | messages/s | ns/message | vs oSIP2 |
| --- | --- | --- | --- | --- |
$(row REGISTER)
$(row INVITE)
MD
[ -n "${BENCH_TMP:-}" ] || rm -rf "$TMP"
