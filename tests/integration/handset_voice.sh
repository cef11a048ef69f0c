#!/usr/bin/env bash
# handset_voice: the carrier voice call (the call fallback of patent steps
# C2/C3, user/modem/modem_voice.c through user/carrier) against the
# ModemManager template tests/mock/modemmanager.py on a private bus that
# stands in for the system bus. `dataline modem call NUMBER`: CreateCall
# gets the number, Start goes to the Call object CreateCall returned and
# the call is left dialing; a refused CreateCall, a failing Start, a Call
# that is terminated right after Start (deleted again), a modem without
# Voice, no ModemManager and a malformed number: none says "placed".
source "$(dirname "$0")/lib.sh"
DL=$OUT/dataline
[ -x "$DL" ] || { fail "handset_voice - $DL not built"; finish; }
. "$ROOT/tests/integration/helpers/mm_mock.sh"
mm_setup handset_voice
MOCK=("${MM_SEND[@]}")
MM=/org/freedesktop/ModemManager1
MODEM=$MM/Modem/0
mm_mock() { local obj=$1 m=$2; shift 2; "${MOCK[@]}" "$obj" "org.freedesktop.DBus.Mock.$m" "$@"; }
call() { "$DL" --state-dir "$tmp/st" modem call "$@" 2>&1; }
ncalls() { mm_mock $MM GetCalls | grep -c 'object path'; }
live_calls() { "${MOCK[@]}" $MODEM org.freedesktop.DBus.Properties.Get \
  string:org.freedesktop.ModemManager1.Modem.Voice string:Calls | grep -c 'object path'; }

# 1. no ModemManager
out=$(call +8613900000009); rc=$?
check "no_modemmanager" test $rc -eq 1 -a -n "$(grep '^not placed: ModemManager is not running' <<<"$out")"

# 2. a call placed: CreateCall with the number, Start on its object, dialing
check "mock_started" start_mock '{}'
out=$(call +8613900000009); rc=$?
echo "$out" | sed 's/^/# /'
path=$(sed -n 's/^placed: //p' <<<"$out")
check "call_placed" test $rc -eq 0 -a -n "$path"
check "createcall_number" grep -q 'string "+8613900000009"' \
  <<<"$(mm_mock $MODEM GetMethodCalls string:CreateCall)"
check "start_on_created_call" grep -q uint64 <<<"$(mm_mock "$path" GetMethodCalls string:Start)"
dialing() { mm_mock $MM GetCalls | grep -A2 "object path \"$1\"" | grep -q 'int32 1'; }
check "call_dialing" dialing "$path"
check "call_listed" test "$(live_calls)" -eq 1

# 3. CreateCall refused: nothing placed, no Call object
mm_mock $MM SetError string:CreateCall string:org.freedesktop.ModemManager1.Error.Core.Failed \
  "string:No network" >/dev/null
out=$(call +8613900000009); rc=$?
check "createcall_refused" test $rc -eq 1 -a -n "$(grep '^not placed' <<<"$out")"
check "createcall_refused_no_call" test "$(ncalls)" -eq 1
mm_mock $MM SetError string:CreateCall string: string: >/dev/null

# 4. Start fails: not placed, the Call deleted again
mm_mock $MM SetError string:Start string:org.freedesktop.ModemManager1.Error.Core.Failed \
  "string:+CME ERROR: 30" >/dev/null
out=$(call +8613900000009); rc=$?
check "start_fails" test $rc -eq 1 -a -n "$(grep '^not placed' <<<"$out")"
check "start_fails_error_shown" grep -q 'CME ERROR: 30' <<<"$out"
check "start_fails_call_deleted" test "$(live_calls)" -eq 1
mm_mock $MM SetError string:Start string: string: >/dev/null

# 5. Start answers but the call is terminated at once: not placed, deleted
mm_mock $MM SetCallStartState int32:7 >/dev/null
out=$(call +8613900000009); rc=$?
check "terminated_not_placed" test $rc -eq 1 -a -n "$(grep '^not placed' <<<"$out")"
check "terminated_deleted" test "$(live_calls)" -eq 1
mm_mock $MM SetCallStartState int32:1 >/dev/null

# 6. a malformed number never reaches ModemManager
n=$(ncalls)
out=$(call "+86 139"); rc=$?
check "bad_number_refused" test $rc -eq 1 -a "$(ncalls)" -eq "$n"

# 7. a modem without Voice
check "mock_without_voice" start_mock '{"no_voice": true}'
out=$(call +8613900000009); rc=$?
check "no_voice_interface" test $rc -eq 1 -a -n "$(grep 'no Voice interface' <<<"$out")"
finish
