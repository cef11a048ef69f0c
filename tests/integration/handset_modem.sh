#!/usr/bin/env bash
# handset_modem: the handset's ModemManager client (user/modem, patent
# steps A1, A3 and C22) against python-dbusmock on a private bus that stands
# in for the system bus (DBUS_SYSTEM_BUS_ADDRESS). The ModemManager template
# is tests/mock/modemmanager.py. Checks: the SIM's number (normalised), the
# newest code SMS among several, register refusing a number that is not the
# SIM's, verify reading and confirming the code (y/N, --yes), and the
# answers when there is no modem or no ModemManager at all. C22 (carrier
# fallback, `dataline modem sms-send`): Create gets the number and text and
# Send goes to the object Create returned; a failing Send, a Create refused,
# a State that is not "sent", a modem without Messaging, and texts or
# numbers refused before ModemManager is asked; none of these says "sent".
source "$(dirname "$0")/lib.sh"
DL=$OUT/dataline
[ -x "$DL" ] || { fail "handset_modem - $DL not built"; finish; }
. "$ROOT/tests/integration/helpers/mm_mock.sh"
mm_setup handset_modem
BUS=("${MM_SEND[@]}")

add_sms() { # NUMBER TEXT TIMESTAMP
  "${BUS[@]}" /org/freedesktop/ModemManager1 org.freedesktop.DBus.Mock.AddSms \
    "string:$1" "string:$2" "string:$3" >/dev/null
}

# 1. no ModemManager on the bus
out=$("$DL" --state-dir "$tmp/st" modem 2>&1); rc=$?
check "no_modemmanager_reported" test $rc -eq 1 -a -n "$(grep 'ModemManager is not running' <<<"$out")"
out=$("$DL" --state-dir "$tmp/st" modem sms-send +8613900000000 hi 2>&1); rc=$?
check "sms_no_modemmanager" test $rc -eq 1 -a -n "$(grep '^not sent: ModemManager is not running' <<<"$out")"

# 2. ModemManager without a modem
check "mock_started_without_modem" start_mock '{"no_modem": true}'
out=$("$DL" --state-dir "$tmp/st" modem 2>&1); rc=$?
check "no_modem_reported" test $rc -eq 1 -a -n "$(grep -i 'modem: *none' <<<"$out")"
out=$("$DL" --state-dir "$tmp/st" modem sms-send +8613900000000 hi 2>&1); rc=$?
check "sms_no_modem" test $rc -eq 1 -a -n "$(grep '^not sent: no modem' <<<"$out")"

# 3. A1: the SIM's own number, written with separators, comes out as E.164
check "mock_started" start_mock '{"OwnNumbers": ["+86 138-0013-8000"]}'
out=$("$DL" --state-dir "$tmp/st" modem 2>&1)
echo "$out"
check "own_number_read" grep -q '^number: *+8613800138000$' <<<"$out"
check "no_code_sms_yet" grep -q '^code sms: *none' <<<"$out"

# 4. A3: the newest code SMS wins; other texts and older codes are ignored
add_sms +10086 "Your dataline code is 111111" 2026-11-26T10:00:00+00:00
add_sms +10086 "Your dataline code is 222222" 2026-11-26T18:05:00+08:00
add_sms +10010 "Hello, not a code" 2026-11-26T10:10:00Z
add_sms +10086 "Your dataline code is 333333" 2026-11-26T09:00:00Z
out=$("$DL" --state-dir "$tmp/st" modem 2>&1)
echo "$out"
check "newest_code_sms" grep -q '^code sms: *222222 from +10086' <<<"$out"

# 5. register: the SIM's number wins; another number is refused before any
#    request goes out (nothing listens on the URL's port)
out=$("$DL" --state-dir "$tmp/st" register +8613900000000 \
      --server http://127.0.0.1:24991 2>&1); rc=$?
check "register_refuses_other_number" test $rc -eq 1 -a -n "$(grep "SIM's number is +8613800138000" <<<"$out")"
out=$("$DL" --state-dir "$tmp/st" register --server http://127.0.0.1:24991 2>&1)
check "register_uses_sim_number" grep -q 'Number from the SIM (ModemManager): +8613800138000' <<<"$out"

# 6. verify without a code: reads the SMS and asks; "n" stops it, --yes goes on
mkdir -p "$tmp/st"; chmod 700 "$tmp/st"
now=$(date -d 2026-11-26T10:04:00Z +%s)
printf '{"server":"http://127.0.0.1:24991","pending":{"number":"+8613800138000","session":"00112233445566778899aabbccddeeff","requested_at":%s}}\n' \
  "$now" >"$tmp/st/state.json"
out=$(echo n | setsid -w "$DL" --state-dir "$tmp/st" verify 2>&1); rc=$?
echo "$out"
check "verify_asks_for_newest_code" grep -q 'Use code 222222?' <<<"$out"
check "verify_not_confirmed" test $rc -eq 1 -a -n "$(grep 'not confirmed' <<<"$out")"
out=$(setsid -w "$DL" --state-dir "$tmp/st" verify --yes </dev/null 2>&1)
check "verify_yes_uses_code" grep -q 'Use code 222222? yes (--yes)' <<<"$out"
check "verify_then_contacts_server" grep -q 'cannot reach http://127.0.0.1:24991' <<<"$out"

# 7. codes older than the registration request (minus 120 s) are not ours
later=$(date -d 2026-11-26T11:00:00Z +%s)
printf '{"server":"http://127.0.0.1:24991","pending":{"number":"+8613800138000","session":"00112233445566778899aabbccddeeff","requested_at":%s}}\n' \
  "$later" >"$tmp/st/state.json"
out=$(setsid -w "$DL" --state-dir "$tmp/st" verify --yes </dev/null 2>&1); rc=$?
check "verify_ignores_stale_sms" test $rc -eq 1 -a -n "$(grep 'no dataline code SMS' <<<"$out")"

# 8. a SIM that reports no usable number
"${BUS[@]}" /org/freedesktop/ModemManager1 org.freedesktop.DBus.Mock.SetOwnNumbers \
  array:string:"13800138000" >/dev/null
out=$("$DL" --state-dir "$tmp/st" modem 2>&1)
check "national_number_not_used" grep -q '^number: *unknown' <<<"$out"

# 9. C22: an SMS through ModemManager: Create with number and text, then
#    Send on the object Create returned, which ends in State sent (5)
MOCK=(dbus-send --system --print-reply --dest=org.freedesktop.ModemManager1)
mm_mock() { # OBJECT METHOD ARGS...: a mock-control call on OBJECT
  local obj=$1 m=$2; shift 2
  "${MOCK[@]}" "$obj" "org.freedesktop.DBus.Mock.$m" "$@"
}
MM=/org/freedesktop/ModemManager1
MODEM=$MM/Modem/0
check "mock_restarted" start_mock '{}'
text="Are you there? 你好
second line"
out=$("$DL" --state-dir "$tmp/st" modem sms-send +8613900000000 "$text" 2>&1); rc=$?
echo "$out"
sms=$(sed -n 's/^sent: //p' <<<"$out")
check "sms_sent" test $rc -eq 0 -a -n "$sms"
calls=$(mm_mock $MODEM GetMethodCalls string:Create)
check "sms_create_number" grep -q 'string "+8613900000000"' <<<"$calls"
check "sms_create_text" grep -q 'string "Are you there? 你好' <<<"$calls"
check "sms_send_on_created" grep -q 'uint64' <<<"$(mm_mock "$sms" GetMethodCalls string:Send)"
sent=$(mm_mock $MM GetSent)
check "sms_sent_recorded" grep -q "object path \"$sms\"" <<<"$sent"
check "sms_state_sent" grep -q 'uint32 5' <<<"$("${MOCK[@]}" "$sms" \
  org.freedesktop.DBus.Properties.Get string:org.freedesktop.ModemManager1.Sms string:State)"
nsent() { mm_mock $MM GetSent | grep -c 'object path'; }
ncreate() { mm_mock $MODEM GetMethodCalls string:Create | grep -c uint64; }

# 10. Send fails: an error, nothing reported as sent, the draft deleted
mm_mock $MM SetError string:Send string:org.freedesktop.ModemManager1.Error.Core.Failed \
  "string:Couldn't send SMS: +CMS ERROR: 500" >/dev/null
out=$("$DL" --state-dir "$tmp/st" modem sms-send +8613900000000 again 2>&1); rc=$?
echo "$out"
check "sms_send_fails" test $rc -eq 1 -a -n "$(grep '^not sent: ModemManager could not send it' <<<"$out")"
check "sms_send_error_shown" grep -q 'CMS ERROR: 500' <<<"$out"
check "sms_send_fail_not_sent" test "$(nsent)" -eq 1
msgs=$("${MOCK[@]}" $MODEM org.freedesktop.DBus.Properties.Get \
  string:org.freedesktop.ModemManager1.Modem.Messaging string:Messages)
check "sms_draft_deleted" test "$(grep -c 'object path' <<<"$msgs")" -eq 1
mm_mock $MM SetError string:Send string: string: >/dev/null

# 11. Send answers but the SMS is not in State sent: not claimed as sent
mm_mock $MM SetSentState uint32:4 >/dev/null
out=$("$DL" --state-dir "$tmp/st" modem sms-send +8613900000000 pending 2>&1); rc=$?
check "sms_state_not_sent" test $rc -eq 1 -a -n "$(grep '^not sent' <<<"$out")"
mm_mock $MM SetSentState uint32:5 >/dev/null

# 12. Create refused (ModemManager's InvalidArgs)
mm_mock $MM SetError string:Create string:org.freedesktop.ModemManager1.Error.Core.InvalidArgs \
  "string:Invalid number" >/dev/null
out=$("$DL" --state-dir "$tmp/st" modem sms-send 12345 x 2>&1); rc=$?
check "sms_create_refused" test $rc -eq 1 -a -n "$(grep 'Messaging.Create on .* failed: Invalid number' <<<"$out")"
mm_mock $MM SetError string:Create string: string: >/dev/null

# 13. refused before ModemManager is asked: too long, bad number, bad UTF-8
n=$(ncreate)
long=$(head -c 1601 /dev/zero | tr '\0' a)
out=$("$DL" --state-dir "$tmp/st" modem sms-send +8613900000000 "$long" 2>&1); rc=$?
check "sms_too_long" test $rc -eq 1 -a -n "$(grep '^not sent: text too long' <<<"$out")"
out=$("$DL" --state-dir "$tmp/st" modem sms-send +8613900000000 "${long:1}" 2>&1); rc=$?
check "sms_1600_bytes_sent" test $rc -eq 0
n=$((n + 1))
out=$("$DL" --state-dir "$tmp/st" modem sms-send "+86 139" hi 2>&1); rc=$?
check "sms_bad_number" test $rc -eq 1
out=$("$DL" --state-dir "$tmp/st" modem sms-send +8613900000000 "$(printf 'bad \xff')" 2>&1); rc=$?
check "sms_bad_utf8" test $rc -eq 1
check "sms_refused_locally_no_create" test "$(ncreate)" -eq "$n"

# 14. a modem without the Messaging interface
check "mock_started_no_messaging" start_mock '{"no_messaging": true}'
out=$("$DL" --state-dir "$tmp/st" modem sms-send +8613900000000 hi 2>&1); rc=$?
check "sms_no_messaging" test $rc -eq 1 -a -n "$(grep '^not sent: the modem cannot send SMS' <<<"$out")"
finish
