#!/usr/bin/env bash
# handset_contacts: the handset's contacts (issue 8, patent claim 3) end to
# end with user/csync against the real dataline-server on loopback ports
# 28300-28303 (this test's range: 28300-28399), driven by
# tests/tools/csync_run (the daemon will drive the same calls):
#   numbers provisioned through the real API; a vCard (3.0, 2.1 with a
#   national number, 4.0 with a tel URI) holding some of them, unregistered
#   ones, a broken card, a TEL that is no number, a card without TEL and a
#   duplicate: imported with per-entry problems and their line numbers;
#   synced over HTTPS + Digest with the account in state.json (CA trust),
#   on an event_base (async): exactly the registered numbers are marked;
#   one more number registered -> the next sync flips its mark (1 change),
#   a sync with nothing new changes none; a pinned certificate works, a
#   wrong pin fails TLS and leaves the marks; a wrong password -> 401
#   reported (-EACCES); 2,500 numbers go as 3 batches of at most 1,000;
#   the request bucket running out mid-sync -> 429 with Retry-After
#   reported (-EAGAIN), the answered batches' marks kept; a file that is
#   no vCard imports nothing.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/tools/server_env.sh"
trap srv_cleanup EXIT
for t in curl jq python3 openssl; do
  command -v $t >/dev/null || { fail "handset_contacts - $t missing"; exit 1; }
done
RUN=$OUT/tools/csync_run
[ -x "$RUN" ] || { fail "handset_contacts - $RUN not built"; exit 1; }

BURST=8
srv_start handset_contacts 28300 --digest-algorithms SHA-256,MD5 \
  --discover-burst $BURST --discover-per-hour 60 ||
  { fail "handset_contacts - server did not start"; exit 1; }
T=$SRV_DIR/t; mkdir -p "$T"
NA=+4915112346001 NB=+4915112346002 NC=+4915112346003 ND=+4915112346004
NE=+49301234567 NF=+4915112346005

# the account of the handset that syncs: A
provision "$NA" || { fail "handset_contacts - provision A"; exit 1; }
A_USER=$CRED_USER A_PASS=$CRED_PASS
for n in "$NB" "$NC"; do
  provision "$n" || { fail "handset_contacts - provision $n"; exit 1; }
done
provision "$NF" && F_USER=$CRED_USER F_PASS=$CRED_PASS ||
  { fail "handset_contacts - provision F"; exit 1; }
# F was provisioned only for its credentials (the bulk test below); it is
# registered too, so the vCard's F must come back marked

# state DIR USER PASS TRUST_JSON: a provisioned state.json as `dataline
# verify` writes it (docs/handset.md "The state directory")
state() {
  mkdir -p "$1"
  jq -n --arg s "https://127.0.0.1:$SRV_HTTPS" --arg num "$NA" --arg u "$2" \
    --arg p "$3" --argjson t "$4" \
    '{server: $s, trust: $t, account: {number: $num, username: $u,
      password: $p, domain: "dataline.local", realm: "dataline.local"}}' \
    > "$1/state.json"
}
CA=$SRV_VAR/tls/server.crt
state "$T/st" "$A_USER" "$A_PASS" "{\"ca_file\": \"$CA\"}"

cat > "$T/book.vcf" <<'EOF'
BEGIN:VCARD
VERSION:3.0
FN:Bea Berg
N:Berg;Bea;;;
TEL;TYPE=cell:+49 151 12346002
END:VCARD
BEGIN:VCARD
VERSION:2.1
N:Cramer;Carl
TEL;CELL;PREF:0151 12346003
END:VCARD
BEGIN:VCARD
VERSION:4.0
FN:Dora Dahl
TEL;VALUE=uri;TYPE=cell:tel:+49-151-12346004
END:VCARD
BEGIN:VCARD
VERSION:3.0
FN:Eve Ebert
TEL:+49 30 1234567
TEL:call me
END:VCARD
BEGIN:VCARD
VERSION:3.0
FN:Broken Card
TEL:+49 151 12346099
BEGIN:VCARD
VERSION:3.0
FN:Fay Fink
TEL:00 49 151 12346005
END:VCARD
BEGIN:VCARD
VERSION:3.0
FN:No Number
EMAIL:nn@example.org
END:VCARD
BEGIN:VCARD
VERSION:3.0
FN:Bea Again
TEL:+4915112346002
END:VCARD
EOF

DB=$T/messages.db
# mark NUMBER: the stored mark of NUMBER (-1 unknown, 0 no, 1 yes)
mark() { "$RUN" "$DB" list | jq -r --arg n "$1" 'select(.number == $n) | .registered'; }
marks() { "$RUN" "$DB" list | jq -sc 'map({(.number): .registered}) | add'; }
# is NAME JQ JSON
is() {
  if [ -n "$3" ] && jq -e "$2" >/dev/null 2>&1 <<< "$3"; then ok "$1"
  else fail "$1 - $2 fails on: $(head -c 600 <<< "$3")"; fi
}

# --------------------------------------------------------- import
out=$("$RUN" "$DB" import "$T/book.vcf" 49)
R=$(tail -n 1 <<< "$out")
is "import: 7 good cards, 1 broken, 5 distinct numbers, 1 duplicate, 3 problems" \
  '.rc == 0 and .cards == 7 and .bad_cards == 1 and .numbers == 5 and .duplicates == 1 and .problems == 3' "$R"
check "broken card reported with its BEGIN line (23)" grep -q '^problem [0-9]* 23 1: ' <<< "$out"
check "TEL that is no number reported at its line (21)" grep -q '^problem 21 17 2: .*: call me$' <<< "$out"
check "card without TEL reported (line 32)" grep -q '^problem 32 32 4: ' <<< "$out"
R=$(marks)
is "stored: B, C (national, CC 49), D (tel URI), E, F; all unknown" \
  ". == {\"$NB\":-1,\"$NC\":-1,\"$ND\":-1,\"$NE\":-1,\"$NF\":-1}" "$R"
R=$("$RUN" "$DB" list | jq -sc 'map({(.number): .name}) | add')
is "names from FN, else N (given family); the first card's name kept" \
  ".\"$NB\" == \"Bea Berg\" and .\"$NC\" == \"Carl Cramer\"" "$R"

head -c 4096 /dev/urandom > "$T/garbage.vcf"
out=$("$RUN" "$DB" import "$T/garbage.vcf" 49)
R=$(tail -n 1 <<< "$out")
is "binary garbage: not a vCard, nothing imported" \
  '.rc == -74 and .not_vcard == 1 and .numbers == 0 and .problems == 1' "$R"
check "... said clearly" grep -q '^problem 1 0 0: not a vCard file' <<< "$out"
check "... the store unchanged" test "$("$RUN" "$DB" list | wc -l)" = 5

# --------------------------------------------------------- sync
R=$("$RUN" "$DB" sync "$T/st" async)
is "sync (async): 200, one batch of 5" \
  '.err == 0 and .http_status == 200 and .batches == 1 and .asked == 5' "$R"
is "sync: B, C, F registered; D, E not; 5 marks changed" \
  '.registered == 3 and .not_registered == 2 and .entry_errors == 0 and .marks_changed == 5' "$R"
R=$(marks)
is "exactly the registered numbers are marked" \
  ". == {\"$NB\":1,\"$NC\":1,\"$ND\":0,\"$NE\":0,\"$NF\":1}" "$R"

provision "$ND" || fail "provision D"
R=$("$RUN" "$DB" sync "$T/st")
is "D registered since: the next sync flips its mark (1 change)" \
  '.err == 0 and .registered == 4 and .marks_changed == 1' "$R"
check "D is marked now" test "$(mark "$ND")" = 1
R=$("$RUN" "$DB" sync "$T/st" async)
is "nothing new: no mark changes" '.err == 0 and .marks_changed == 0' "$R"

# --------------------------------------------------------- trust
PIN=$(openssl x509 -in "$CA" -noout -fingerprint -sha256 | sed 's/.*=//')
state "$T/pin" "$A_USER" "$A_PASS" "{\"pin_sha256\": \"$PIN\"}"
R=$("$RUN" "$DB" sync "$T/pin" async)
is "pinned certificate: sync works, the pin seen is reported" \
  '.err == 0 and .http_status == 200 and (.pin_seen | length == 64)' "$R"
state "$T/badpin" "$A_USER" "$A_PASS" "{\"pin_sha256\": \"$(printf '%064d' 0)\"}"
before=$("$RUN" "$DB" list | jq -sc 'map(.synced)')
R=$("$RUN" "$DB" sync "$T/badpin" async)
is "wrong pin: TLS refused (-EPROTO), no HTTP status" '.err == -71 and .http_status == 0' "$R"
check "... marks untouched" test "$("$RUN" "$DB" list | jq -sc 'map(.synced)')" = "$before"

state "$T/badpass" "$A_USER" "wrong-password" "{\"ca_file\": \"$CA\"}"
R=$("$RUN" "$DB" sync "$T/badpass" async)
is "wrong password: 401 reported as -EACCES" \
  '.err == -13 and .http_status == 401 and .error == "unauthorized" and .batches == 0' "$R"

state "$T/http" "$A_USER" "$A_PASS" '{}'
jq --arg s "http://127.0.0.1:$SRV_HTTP" '.server = $s' "$T/http/state.json" > "$T/x" &&
  mv "$T/x" "$T/http/state.json"
R=$("$RUN" "$DB" sync "$T/http" async)
is "plain http:// refused by the client (the body is the address book)" \
  '.err == -93 and .http_status == 0' "$R"

# --------------------------------------------------------- batches, 429
DB2=$T/bulk.db
python3 - "$T/bulk.vcf" <<'EOF'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(2500):
        f.write("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bulk %d\r\n"
                "TEL:+4940%07d\r\nEND:VCARD\r\n" % (i, i))
EOF
R=$("$RUN" "$DB2" import "$T/bulk.vcf" | tail -n 1)
is "2,500 cards imported" '.numbers == 2500 and .problems == 0' "$R"
state "$T/stf" "$F_USER" "$F_PASS" "{\"ca_file\": \"$CA\"}"
DB_SAVE=$DB; DB=$DB2
t0=$(date +%s%N)
R=$("$RUN" "$DB2" sync "$T/stf" async)
echo "# sync of 2,500 numbers (3 batches): $((($(date +%s%N) - t0) / 1000000)) ms (not a test)"
is "2,500 numbers: 3 batches (1,000 + 1,000 + 500), none registered" \
  '.err == 0 and .batches == 3 and .asked == 2500 and .not_registered == 2500 and .marks_changed == 2500' "$R"
R=$("$RUN" "$DB2" sync "$T/stf" async)
is "again: 3 more requests, no change, the distinct numbers cost nothing" \
  ".err == 0 and .batches == 3 and .marks_changed == 0 and .remaining_today == $((5000 - 2500))" "$R"
# registered since: one number of the first batch, one of the last
provision +49400000007 && provision +49400002407 || fail "provision two bulk numbers"
# the bucket held $BURST requests: 6 used, 2 left -> the third batch gets 429
R=$("$RUN" "$DB2" sync "$T/stf" async)
is "bucket empty mid-sync: 429 rate_limited with Retry-After reported (-EAGAIN)" \
  '.err == -11 and .http_status == 429 and .error == "rate_limited" and .retry_after >= 1 and .batches == 2 and .asked == 2000' "$R"
is "... the answered batches' marks stored (1 change)" '.registered == 1 and .marks_changed == 1' "$R"
check "... a number of the first batch flipped" test "$(mark +49400000007)" = 1
check "... one of the unanswered batch did not" test "$(mark +49400002407)" = 0
DB=$DB_SAVE

finish
