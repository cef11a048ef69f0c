#!/usr/bin/env bash
# handset_contacts_daemon: the address book through the handset daemon
# (patent claim 3), with its CLI on a private D-Bus, against the real
# dataline-server on loopback ports 28280-28283. The handset registered
# over HTTPS with trust on first use (discovery is HTTPS only), so the
# daemon's sync uses the pinned certificate.
#   - `contacts import` of a vCard with registered and unregistered numbers,
#     a broken card and a TEL that is no number: the problems are reported
#     per entry with their line numbers, the rest is imported;
#   - `contacts sync`: exactly the registered numbers are marked;
#   - a number of the address book registers later: the daemon's periodic
#     sync (--contacts-sync 2) marks it without being asked, and a
#     ContactsChanged signal says so;
#   - a file that is not a vCard: a clear error, nothing imported.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/tools/server_env.sh"
T=handset_contacts_daemon
DL=$OUT/dataline
PY=/usr/bin/python3
DPID= DBUS_PID= WPID=
cleanup() {
  [ -n "$WPID" ] && kill "$WPID" 2>/dev/null
  [ -n "$DPID" ] && { kill -TERM "$DPID" 2>/dev/null; wait "$DPID" 2>/dev/null; }
  [ -n "$DBUS_PID" ] && kill "$DBUS_PID" 2>/dev/null
  srv_cleanup
}
trap cleanup EXIT
$PY -c 'import dbus, gi' 2>/dev/null || { fail "$T: python3-dbus and python3-gi"; finish; }
srv_start handset_contacts_daemon 28280 || { fail "$T: server starts"; finish; }
NA=+4915112347001 NB=+4915112347002 NC=+4915112347003 ND=+4915112347004 NE=+4915112347005
ST=$SRV_DIR/state
BUS="unix:path=$SRV_DIR/bus"
wait_for() { local s=$1 i; shift
  for ((i = 0; i < s * 10; i++)); do "$@" && return 0; sleep 0.1; done; return 1; }
dbus-daemon --session --address="$BUS" --nofork --nopidfile >/dev/null 2>&1 &
DBUS_PID=$!
wait_for 10 test -S "$SRV_DIR/bus"
dl() { "$DL" --state-dir "$ST" --bus "$BUS" "$@"; }

dl --no-modem register "$NA" --server "https://127.0.0.1:$SRV_HTTPS" --insecure >/dev/null 2>&1
check "$T: handset provisioned over HTTPS (certificate pinned on first use)" \
  dl verify "$(spool_code "$NA")"
for n in "$NB" "$NC"; do provision "$n" || fail "$T: provision $n"; done
"$DL" --state-dir "$ST" --bus "$BUS" daemon --transport tls --contacts-sync 2 \
  --carrier log --log-file "$SRV_DIR/daemon.log" &
DPID=$!
check "$T: daemon registered" wait_for 20 grep -qs '"registered"' "$ST/daemon.json"

cat > "$SRV_DIR/book.vcf" <<EOF
BEGIN:VCARD
VERSION:3.0
FN:Bea
TEL;TYPE=CELL:$NB
END:VCARD
BEGIN:VCARD
VERSION:4.0
FN:Carl
TEL;VALUE=uri:tel:$NC
END:VCARD
BEGIN:VCARD
VERSION:3.0
FN:Dora (registers later)
TEL:$ND
END:VCARD
BEGIN:VCARD
VERSION:3.0
FN:Emil (never registers)
TEL:$NE
END:VCARD
BEGIN:VCARD
VERSION:3.0
FN:Broken
TEL;TYPE="unterminated:+4915112347999
END:VCARD
BEGIN:VCARD
VERSION:3.0
FN:Pizza
TEL:call me maybe
END:VCARD
EOF
out=$(dl contacts import "$SRV_DIR/book.vcf" 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
check "$T: import exits 0" test $rc -eq 0
check "$T: ... imported the 4 numbers" grep -q "Imported 4 numbers" <<<"$out"
check "$T: ... the broken card reported with its line" grep -Eq "line (2[0-9]|3[0-9]): " <<<"$out"
check "$T: ... the TEL that is no number reported" grep -qi "call me maybe" <<<"$out"
mark() { dl contacts list --json | jq -r --arg n "$1" '.[] | select(.number == $n) | .registered'; }
out=$(dl contacts sync 2>&1); rc=$?
echo "# $out"
check "$T: sync exits 0" test $rc -eq 0
check "$T: ... B and C marked registered" test "$(mark "$NB")$(mark "$NC")" = 11
check "$T: ... D and E marked not registered" test "$(mark "$ND")$(mark "$NE")" = 00
# D registers; the periodic sync marks it, and says so on D-Bus
$PY "$ROOT/tests/tools/handset_bus.py" --bus "$BUS" watch --timeout 20 > "$SRV_DIR/watch.jsonl" 2>&1 &
WPID=$!
sleep 0.5
provision "$ND" || fail "$T: provision $ND"
marked_d() { [ "$(mark "$ND")" = 1 ]; }
check "$T: the periodic sync marks D once it registered" wait_for 20 marked_d
check "$T: ... and ContactsChanged was signalled" wait_for 10 grep -q '"ContactsChanged"' "$SRV_DIR/watch.jsonl"
check "$T: ... E is still not registered" test "$(mark "$NE")" = 0
head -c 3000 /dev/urandom > "$SRV_DIR/garbage.vcf"
out=$(dl contacts import "$SRV_DIR/garbage.vcf" 2>&1); rc=$?
check "$T: a file that is not a vCard: exit 1" test $rc -eq 1
check "$T: ... saying so" grep -q "not a vCard file" <<<"$out"
grep -q "not a vCard file" <<<"$out" || echo "$out" | head -5 | sed 's/^/#   /'
check "$T: ... and the book is unchanged (4 contacts)" \
  test "$(dl contacts list --json | jq length)" -eq 4
finish
