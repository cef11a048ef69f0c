#!/usr/bin/env bash
# server_registrar_rules: the registrar's rules that a security probe found
# broken (docs/protocol.md "Registrar", docs/decisions.md), with
# tests/tools/regrules.py crafting the requests sipcli will not:
#   - usernames cannot be told apart: an algorithm we do not offer
#     (SHA-512-256), qop=auth-int, or no qop get the same fresh 401
#     challenge for a known and an unknown username; a right digest
#     without qop is refused (401), not accepted
#   - each device manages its own bindings: device A's "Contact: *"
#     leaves device B's binding; B can neither take over A's live contact
#     (403) nor expire it (expires=0 leaves it; the 200 lists it)
#   - q=nan (and other q outside RFC 3261's qvalue) -> 400
#   - 81 header lines -> 413 over UDP and TCP
#   - a request that fails to parse before its Via is decoded gets its 400
#     at the source port, not at the Via's 5060
#   - a write that fails (the database locked by another process past the
#     writer's busy timeout) answers 500 with Retry-After, after absorbing
#     the UDP retransmissions meanwhile, and leaves the bindings as they
#     were; the next REGISTER commits
# Ports 25700-25703.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/tools/server_env.sh"
trap srv_cleanup EXIT
RR="python3 $ROOT/tests/tools/regrules.py"

if ! srv_start regrules 25700 --code-resend-interval 0 --digest-algorithms SHA-256,MD5; then
  fail "server_registrar_rules: server starts"; finish
fi
P=$SRV_SIP
N=+8613800138711
provision "$N" || { fail "server_registrar_rules: device A provisioned"; finish; }
UA=$CRED_USER PA=$CRED_PASS
provision "$N" || { fail "server_registrar_rules: device B provisioned"; finish; }
UB=$CRED_USER PB=$CRED_PASS
check "server_registrar_rules: two devices of one number ($UA, $UB)" \
  test -n "$UA" -a -n "$UB" -a "$UA" != "$UB"
UNK=${UA%-*}-0badf00d

# ---------------------------------------------------------------- enumeration
for case in "SHA-512-256 auth" "SHA-256 auth-int" "MD5 auth-int" "SHA-256 none" "MD5 none"; do
  set -- $case
  known=$($RR auth $P "$N" "$UA" "$PA" "$1" "$2")
  unknown=$($RR auth $P "$N" "$UNK" "$PA" "$1" "$2")
  echo "# alg=$1 qop=$2: known: $known / unknown: $unknown"
  check "server_registrar_rules: alg=$1 qop=$2: known and unknown user get the same answer" \
    test "$known" = "$unknown"
  check "server_registrar_rules: alg=$1 qop=$2: a fresh 401 challenge offering what we support" \
    grep -Eq "^status=401 .*challenges=[12]$" <<< "$known"
done
out=$($RR auth $P "$N" "$UA" "$PA" SHA-256 auth)
check "server_registrar_rules: the same client with SHA-256 qop=auth gets 200" \
  grep -q "^status=200" <<< "$out"

# ---------------------------------------------------------------- devices
CA="<sip:${N#+}@127.0.0.1:40001>" CB="<sip:${N#+}@127.0.0.1:40002>"
out=$($RR reg $P "$N" "$UA" "$PA" udp "$CA")
check "server_registrar_rules: device A registers its contact" grep -q "^status=200" <<< "$out"
out=$($RR reg $P "$N" "$UB" "$PB" tcp "$CB")
check "server_registrar_rules: device B registers its contact; the 200 lists both" \
  bash -c 'grep -q "^status=200" <<< "$1" && grep -qF "40001" <<< "$1" && grep -qF "40002" <<< "$1"' _ "$out"
out=$($RR reg $P "$N" "$UA" "$PA" udp "*" "Expires: 0")
echo "# A Contact: *: $out"
check "server_registrar_rules: A's Contact: * removes A's binding only, B's stays" \
  bash -c 'grep -q "^status=200" <<< "$1" && ! grep -qF "40001" <<< "$1" && grep -qF "40002" <<< "$1"' _ "$out"
out=$($RR reg $P "$N" "$UA" "$PA" udp "$CA")
check "server_registrar_rules: A registers again" grep -q "^status=200" <<< "$out"
out=$($RR reg $P "$N" "$UB" "$PB" udp "$CA")
echo "# B registers A's contact: $out"
check "server_registrar_rules: B cannot take over A's live contact (403 with a reason)" \
  grep -q "^status=403 reason=Contact_Bound_By_Another_Device" <<< "$out"
out=$($RR reg $P "$N" "$UB" "$PB" udp "$CA;expires=0")
echo "# B expires A's contact: $out"
check "server_registrar_rules: B's expires=0 for A's contact leaves it (200 lists it)" \
  bash -c 'grep -q "^status=200" <<< "$1" && grep -qF "40001" <<< "$1"' _ "$out"
out=$($RR reg $P "$N" "$UA" "$PA" udp "-")
check "server_registrar_rules: A's query still lists A's and B's contacts" \
  bash -c 'grep -q "^status=200" <<< "$1" && grep -qF "40001" <<< "$1" && grep -qF "40002" <<< "$1"' _ "$out"

# ---------------------------------------------------------------- q
for q in nan inf 1.5 -1 0.0001 1e0; do
  out=$($RR reg $P "$N" "$UA" "$PA" udp "<sip:${N#+}@127.0.0.1:40003>;q=$q")
  check "server_registrar_rules: q=$q: 400 with a reason" grep -q "^status=400 reason=Bad_q_Value" <<< "$out"
done
out=$($RR reg $P "$N" "$UA" "$PA" udp "<sip:${N#+}@127.0.0.1:40003>;q=0.5")
check "server_registrar_rules: q=0.5 accepted" grep -q "^status=200" <<< "$out"

# ---------------------------------------------------------------- parser limits
for tp in udp tcp; do
  out=$($RR toomany $P $tp 80)
  check "server_registrar_rules: 80 header lines over ${tp^^}: answered (200)" grep -q "^status=200" <<< "$out"
  out=$($RR toomany $P $tp 81)
  check "server_registrar_rules: 81 header lines over ${tp^^}: 413" grep -q "^status=413" <<< "$out"
done
for kind in badline badvia; do
  out=$($RR early400 $P $kind)
  check "server_registrar_rules: early parse failure ($kind): the 400 reaches the source port" \
    grep -q "^status=400" <<< "$out"
done

# ---------------------------------------------------------------- failed write
CF="<sip:${N#+}@127.0.0.1:40009>"
python3 - "$SRV_VAR/dataline.db" "$SRV_DIR/locked" <<'PY' &
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
c.execute("BEGIN IMMEDIATE")
open(sys.argv[2], "w").close()
time.sleep(7)
c.execute("ROLLBACK")
PY
locker=$!
for _ in $(seq 50); do [ -e "$SRV_DIR/locked" ] && break; sleep 0.1; done
out=$($RR reg $P "$N" "$UA" "$PA" udp "$CF")
echo "# REGISTER while the database is locked: $out"
check "server_registrar_rules: a write the database refuses gets 500 with Retry-After" \
  grep -q "^status=500 .*retry_after=[0-9]" <<< "$out"
wait $locker
out=$($RR reg $P "$N" "$UA" "$PA" udp "-")
check "server_registrar_rules: ... and the failed binding is not listed" \
  bash -c 'grep -q "^status=200" <<< "$1" && ! grep -qF "40009" <<< "$1"' _ "$out"
out=$($RR reg $P "$N" "$UA" "$PA" udp "$CF")
check "server_registrar_rules: once the lock is gone the same REGISTER commits" \
  bash -c 'grep -q "^status=200" <<< "$1" && grep -qF "40009" <<< "$1"' _ "$out"
check "server_registrar_rules: no commit ran on a worker's event loop" \
  test "$(metric dataline_worker_commits_total)" -eq 0
finish
