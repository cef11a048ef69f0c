#!/usr/bin/env bash
# server_discover: contact discovery (POST /v1/contacts/discover, issue 7,
# docs/protocol.md "Contact discovery") end to end on loopback with the
# RFC 7616 client tests/tools/discover_client.py:
#   numbers provisioned through the API, one of them registered over SIP
#   (sipcli): the answer marks exactly the provisioned ones registered,
#   "voice" only for the one with a live binding; national ("0151 ...")
#   and "00 49 ..." forms normalised with --default-country-code; malformed
#   entries reported per entry, in order; unregistered numbers look like
#   unknown ones; SHA-256 and MD5; no credentials -> 401 with both
#   challenges; wrong password and unknown user -> 401; a replayed nc ->
#   401; a digest uri that is not the request's -> 400; 1001 numbers -> 413; a Content-Length over 64 KiB -> 413 before
#   any body is sent; 1000 numbers in national form (~20 KiB, over the
#   API's 4 KiB) -> 200; broken JSON -> 400; the request bucket and the
#   daily cap on distinct numbers -> 429 with Retry-After, re-looking up
#   counted numbers free; plain HTTP -> 403 unless --discover-on-http;
#   a restart forgets the daily counts (documented).
# Ports 27000-27039 (this test's range), loopback only.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/tools/server_env.sh"
trap srv_cleanup EXIT
for t in curl jq python3; do
  command -v $t >/dev/null || { fail "server_discover - $t missing"; exit 1; }
done
TMPD=$(mktemp -d /tmp/dl-discover.XXXXXX)
SRV_DIRS+=("$TMPD")

BURST=6 CAP=1200
srv_start discover 27000 --digest-algorithms SHA-256,MD5 --default-country-code 49 --discover-burst $BURST \
  --discover-per-hour 60 --discover-max-numbers-day $CAP ||
  { fail "server_discover - start"; exit 1; }

declare -A USER PASS
for n in 1 2 3 4 5 6; do
  num=+49151123450$(printf '%02d' $n)
  provision "$num" || { fail "server_discover - provision $num"; exit 1; }
  USER[$n]=$CRED_USER PASS[$n]=$CRED_PASS
done
NA=+4915112345001 NB=+4915112345002 NC=+4915112345003

# dc N [ARGS...]: discover_client as account N over HTTPS; one JSON line
# per action in $TMPD/out, the last one in R
dc() {
  local n=$1; shift
  python3 "$ROOT/tests/tools/discover_client.py" --port "$SRV_HTTPS" \
    --cafile "$SRV_VAR/tls/server.crt" --user "${USER[$n]:-nosuchuser}" \
    --pass "${PASS[$n]:-x}" "$@" > "$TMPD/out" 2>"$TMPD/err"
  R=$(tail -n 1 "$TMPD/out")
}
# is NAME JQ [JSON]: ok if the jq test holds on JSON (default $R)
is() {
  local json=${3-$R}
  if jq -e "$2" >/dev/null 2>&1 <<< "$json"; then ok "$1"
  else fail "$1 - $2 fails on: $(head -c 600 <<< "$json")"; fi
}

# --------------------------------------------------------- the answer
out=$(sipcli -t udp -s "127.0.0.1:$SRV_SIP" -n "$NB" -u "${USER[2]}" \
        -p "${PASS[2]}" -e 300 register 2>&1)
check "B registers over SIP" grep -q 'register status=200' <<< "$out"

dc 1 --numbers-file <(printf '%s' "[\"$NA\",\"$NB\",\"$NC\",\"+4915112345999\",\"0151 1234 5002\",\"00 49 151 12345003\",\"abc\",42,\"\",\"(0151) 123-450-04\"]") lookup
is "lookup: 200" '.status == 200'
is "one result per entry, in order" '.body.results | length == 10'
is "A registered, text only" '.body.results[0] | .number == "+4915112345001" and .registered and .capabilities == ["text"]'
is "B (live binding): text and voice" '.body.results[1] | .registered and .capabilities == ["text","voice"]'
is "C registered, text only" '.body.results[2] | .registered and .capabilities == ["text"]'
is "unknown number: registered false, nothing more" \
  '.body.results[3] == {"input":"+4915112345999","number":"+4915112345999","registered":false,"capabilities":[]}'
is "national form normalised with the default country code" \
  '.body.results[4] | .input == "0151 1234 5002" and .number == "+4915112345002" and (.capabilities | index("voice"))'
is "00 international prefix normalised" '.body.results[5].number == "+4915112345003"'
is "malformed entry reported, not fatal" '.body.results[6] == {"input":"abc","error":"not a phone number"}'
is "non-string entry reported" '.body.results[7].error == "not a string"'
is "empty entry reported" '.body.results[8].error == "not a phone number"'
is "(0151) 123-450-04 normalised" '.body.results[9] | .number == "+4915112345004" and .registered'
is "remaining_today counts distinct numbers (5)" ".body.remaining_today == $((CAP - 5))"

dc 1 --alg MD5 --numbers "$NB" lookup
is "MD5 digest accepted" '.status == 200 and .body.results[0].registered'

# --------------------------------------------------------- authentication
dc 1 --numbers "$NA" noauth
is "no credentials: 401" '.status == 401 and .body.error == "unauthorized"'
is "401 offers SHA-256 then MD5, one nonce, qop=auth, the SIP realm" \
  '(.challenges | length == 2) and (.challenges[0] | test("^Digest realm=\"dataline.local\", nonce=\"[0-9a-f]{64}\", algorithm=SHA-256, qop=\"auth\"$"))
   and (.challenges[1] | test("algorithm=MD5"))
   and ((.challenges[0] | capture("nonce=\"(?<n>[^\"]+)\"").n) == (.challenges[1] | capture("nonce=\"(?<n>[^\"]+)\"").n))'
dc 1 --numbers "$NA" lookup wrongpass
is "wrong password: 401" '.status == 401'
dc 0 --numbers "$NA" lookup
is "unknown user: 401, same answer" '.status == 401 and .body.error == "unauthorized"'
dc 1 --numbers "$NA" lookup replay
first=$(head -n 1 "$TMPD/out")
is "replayed nonce-count refused" '.status == 401' "$R"
is "... after the same request passed" '.status == 200' "$first"
dc 1 --numbers "$NA" wronguri
is "digest uri other than the request's: 400" '.status == 400 and .body.error == "bad_authorization"'

# --------------------------------------------------------- size limits
python3 -c 'import json; print(json.dumps(["030 %07d" % i for i in range(1001)]))' > "$TMPD/n1001"
python3 -c 'import json; print(json.dumps(["030 %07d" % i for i in range(1000)]))' > "$TMPD/n1000"
dc 4 --numbers-file "$TMPD/n1001" lookup
is "1001 numbers: 413" '.status == 413 and .body.error == "too_many_numbers"'
dc 4 bigcl
is "Content-Length over 64 KiB: 413 before the body is sent" '.status == 413'
dc 4 --numbers-file "$TMPD/n1000" lookup
is "1000 national numbers (over 4 KiB): 200" \
  '.status == 200 and (.body.results | length == 1000) and .body.results[999].number == "+49300000999" and (.body.results | map(select(.registered)) | length == 0)'
printf '{"numbers": ["+4915112345001",' > "$TMPD/bad"
dc 4 --body-file "$TMPD/bad" rawbody
is "broken JSON: 400" '.status == 400 and .body.error == "invalid_json"'
printf '{"number": "+4915112345001"}' > "$TMPD/bad"
dc 4 --body-file "$TMPD/bad" rawbody
is "no numbers array: 400" '.status == 400'

# --------------------------------------------------------- rate limit
dc 5 --numbers "$NA" $(printf 'lookup %.0s' $(seq $BURST)) lookup
n200=$(jq -s 'map(select(.status == 200)) | length' "$TMPD/out")
check "bucket: $BURST requests at once pass" test "$n200" = "$BURST"
is "request $((BURST + 1)): 429 rate_limited with Retry-After" \
  '.status == 429 and .body.error == "rate_limited" and (.retry_after | tonumber) >= 1 and (.retry_after | tonumber) <= 60'
dc 1 --numbers "$NA" lookup
is "another account keeps its own bucket" '.status == 200'

# --------------------------------------------------------- daily distinct cap
python3 -c 'import json; print(json.dumps(["+4940%07d" % i for i in range(200, 1200)]))' > "$TMPD/f1"
python3 -c 'import json; print(json.dumps(["+4940%07d" % i for i in range(0, 200)] + ["+4941999999"]))' > "$TMPD/f2"
python3 -c 'import json; print(json.dumps(["+4940%07d" % i for i in range(0, 200)]))' > "$TMPD/f3"
dc 6 --numbers-file "$TMPD/f1" lookup
is "cap: 1000 distinct numbers pass" ".status == 200 and .body.remaining_today == $((CAP - 1000))"
dc 6 --numbers-file "$TMPD/f1" lookup
is "cap: the same 1000 again cost nothing" ".status == 200 and .body.remaining_today == $((CAP - 1000))"
dc 6 --numbers-file "$TMPD/f2" lookup
is "cap: 201 new ones would pass $CAP -> 429 daily_limit, Retry-After ~24 h" \
  '.status == 429 and .body.error == "daily_limit" and (.retry_after | tonumber) > 86000 and (.retry_after | tonumber) <= 86400'
dc 6 --numbers-file "$TMPD/f3" lookup
is "cap: 200 new ones (nothing counted for the refused request) fit exactly" \
  '.status == 200 and .body.remaining_today == 0'
dc 6 --numbers "+4940$(printf '%07d' 500)" lookup
is "cap reached: a counted number can still be looked up" '.status == 200'
check "metrics: 429s counted" test "$(metric dataline_discover_limited_total)" -ge 2
check "metrics: route counted" test "$(metric dataline_http_requests_total 'route="/v1/contacts/discover"' 'status="200"')" -ge 8

# --------------------------------------------------------- plain HTTP
python3 "$ROOT/tests/tools/discover_client.py" --http --port "$SRV_HTTP" \
  --user "${USER[1]}" --pass "${PASS[1]}" --numbers "$NA" lookup > "$TMPD/out"
R=$(tail -n 1 "$TMPD/out")
is "plain HTTP: 403 https_required" '.status == 403 and .body.error == "https_required"'

# --------------------------------------------------------- restart
srv_kill TERM
srv_restart || { fail "server_discover - restart"; exit 1; }
dc 6 --numbers "+4941000001" lookup
is "after a restart the daily count starts over (documented)" ".status == 200 and .body.remaining_today == $((CAP - 1))"
dc 2 --numbers "$NB" lookup
is "after a restart the binding is still live (from the store)" '.status == 200 and .body.results[0].capabilities == ["text","voice"]'

# --------------------------------------------------------- second server
srv_start discover2 27004 --digest-algorithms SHA-256,MD5 --discover-on-http 1 ||
  { fail "server_discover - start second"; exit 1; }
provision +4915112345077 || { fail "server_discover - provision on the second"; exit 1; }
python3 "$ROOT/tests/tools/discover_client.py" --http --port "$SRV_HTTP" \
  --user "$CRED_USER" --pass "$CRED_PASS" --numbers "+4915112345077,0151 12345077" \
  lookup > "$TMPD/out"
R=$(tail -n 1 "$TMPD/out")
is "--discover-on-http 1: plain HTTP served" '.status == 200 and .body.results[0].registered'
is "no --default-country-code: national forms are not phone numbers" '.body.results[1].error == "not a phone number"'

finish
