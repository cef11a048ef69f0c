#!/usr/bin/env bash
# handset_modem: the handset's ModemManager client (user/modem, patent
# steps A1 and A3) against python-dbusmock on a private bus that stands in
# for the system bus (DBUS_SYSTEM_BUS_ADDRESS). The ModemManager template is
# tests/mock/modemmanager.py. Checks: the SIM's number (normalised), the
# newest code SMS among several, register refusing a number that is not the
# SIM's, verify reading and confirming the code (y/N, --yes), and the
# answers when there is no modem or no ModemManager at all.
source "$(dirname "$0")/lib.sh"
DL=$OUT/dataline
PY=/usr/bin/python3
TPL=$ROOT/tests/mock/modemmanager.py
[ -x "$DL" ] || { fail "handset_modem - $DL not built"; finish; }
$PY -c 'import dbusmock' 2>/dev/null || { fail "handset_modem - python3-dbusmock missing"; finish; }

tmp=$(mktemp -d /tmp/handset_modem.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

dbus-daemon --session --address="unix:path=$tmp/bus" --nofork --nopidfile \
  >"$tmp/dbus.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -S "$tmp/bus" ] && break; sleep 0.1; done
export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$tmp/bus"
BUS=(dbus-send --system --print-reply --dest=org.freedesktop.ModemManager1)

# start_mock JSON-PARAMS: (re)starts the mocked ModemManager
mock_pid=
start_mock() {
  [ -n "$mock_pid" ] && { kill "$mock_pid" 2>/dev/null; wait "$mock_pid" 2>/dev/null; }
  $PY -m dbusmock -s -t "$TPL" -p "$1" >>"$tmp/mock.log" 2>&1 &
  mock_pid=$!; pids+=($mock_pid)
  for _ in $(seq 100); do
    "${BUS[@]}" /org/freedesktop/ModemManager1 \
      org.freedesktop.DBus.ObjectManager.GetManagedObjects >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}
add_sms() { # NUMBER TEXT TIMESTAMP
  "${BUS[@]}" /org/freedesktop/ModemManager1 org.freedesktop.DBus.Mock.AddSms \
    "string:$1" "string:$2" "string:$3" >/dev/null
}

# 1. no ModemManager on the bus
out=$("$DL" --state-dir "$tmp/st" modem 2>&1); rc=$?
check "no_modemmanager_reported" test $rc -eq 1 -a -n "$(grep 'ModemManager is not running' <<<"$out")"

# 2. ModemManager without a modem
check "mock_started_without_modem" start_mock '{"no_modem": true}'
out=$("$DL" --state-dir "$tmp/st" modem 2>&1); rc=$?
check "no_modem_reported" test $rc -eq 1 -a -n "$(grep -i 'modem: *none' <<<"$out")"

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
finish
