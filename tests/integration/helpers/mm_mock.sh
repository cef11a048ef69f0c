# mm_mock.sh: sourced by the handset tests that need ModemManager
# (handset_modem, handset_voice). NAME is the test's name. Starts a private
# dbus-daemon that stands in for the system bus (DBUS_SYSTEM_BUS_ADDRESS)
# in a fresh $tmp, kills what it started on exit, and defines
#   start_mock JSON   (re)starts tests/mock/modemmanager.py with parameters
#   MM_SEND           dbus-send to ModemManager on that bus
mm_setup() { # NAME
  PY=/usr/bin/python3
  TPL=$ROOT/tests/mock/modemmanager.py
  $PY -c 'import dbusmock' 2>/dev/null || { fail "$1 - python3-dbusmock missing"; finish; }
  tmp=$(mktemp -d "/tmp/$1.XXXXXX")
  pids=()
  trap mm_cleanup EXIT
  dbus-daemon --session --address="unix:path=$tmp/bus" --nofork --nopidfile \
    >"$tmp/dbus.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do [ -S "$tmp/bus" ] && break; sleep 0.1; done
  export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$tmp/bus"
  MM_SEND=(dbus-send --system --print-reply --dest=org.freedesktop.ModemManager1)
  mock_pid=
}
mm_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$tmp"
}
start_mock() {
  [ -n "$mock_pid" ] && { kill "$mock_pid" 2>/dev/null; wait "$mock_pid" 2>/dev/null; }
  $PY -m dbusmock -s -t "$TPL" -p "$1" >>"$tmp/mock.log" 2>&1 &
  mock_pid=$!; pids+=($mock_pid)
  for _ in $(seq 100); do
    "${MM_SEND[@]}" /org/freedesktop/ModemManager1 \
      org.freedesktop.DBus.ObjectManager.GetManagedObjects >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}
