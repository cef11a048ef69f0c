#!/usr/bin/env bash
# server_queue: the durable queue (issue 7) in the running server. The
# queue file is created private (VAR/queue.db); a code's SMS is spooled at
# once (the spool needs no queue item); SMS an older version left queued
# in the store (schema 2, table sms_queue) are moved into the queue at
# start and sent through its writer thread, the old table is gone and the
# store is at schema 3; the same after kill -9 of a start that had moved
# them; --queue-db is honoured.
# Ports 27050-27053.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/tools/server_env.sh"
trap srv_cleanup EXIT

if ! command -v sqlite3 >/dev/null; then
  echo "ok server_queue # SKIP no sqlite3 shell"; exit 0
fi
if ! srv_start queue 27050; then
  fail "server_queue: server starts"; finish
fi
N=+8613800138301
provision "$N" || fail "server_queue: a number provisioned"
check "server_queue: queue.db created, mode 0600" \
  bash -c '[ "$(stat -c %a "$1")" = 600 ]' _ "$SRV_VAR/queue.db"
check "server_queue: the spool took the code at once, nothing queued" \
  bash -c '[ "$1" -ge 1 ] && [ "$2" -eq 0 ]' _ \
  "$(metric dataline_sms_sent_total)" "$(metric dataline_queue_puts_total)"
check "server_queue: sms queue drained" \
  bash -c '[ "$1" -eq 0 ]' _ "$(metric dataline_queue_depth 'queue=\"sms\"')"
check "server_queue: no old SMS table left in the store" \
  bash -c '[ -z "$(sqlite3 "$1" "SELECT name FROM sqlite_master WHERE name LIKE '"'"'sms_%'"'"'")" ]' _ \
  "$SRV_VAR/dataline.db"

# What an older server (store schema 2) leaves: SMS in sms_queue.
legacy() { # NUMBER TEXT
  sqlite3 "$SRV_VAR/dataline.db" \
    "CREATE TABLE IF NOT EXISTS sms_queue (id INTEGER PRIMARY KEY,
       to_number TEXT NOT NULL, text TEXT NOT NULL, created INTEGER NOT NULL,
       next_try INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
       last_error TEXT NOT NULL DEFAULT '');
     INSERT INTO sms_queue(to_number, text, created, next_try, attempts)
       VALUES ('$1', '$2', strftime('%s','now'), 0, 3);
     UPDATE schema_version SET version = 2;"
}
spooled() { # TEXT: lines of the spool carrying it
  local i
  for ((i = 0; i < 50; i++)); do
    grep -qF "$1" "$SRV_VAR/sms.spool" 2>/dev/null && break
    sleep 0.1
  done
  grep -cF "$1" "$SRV_VAR/sms.spool" 2>/dev/null
}

srv_kill TERM
legacy +8613800138302 "Your dataline code is 271828"
if ! srv_restart; then
  fail "server_queue: restarts on a schema 2 store"; finish
fi
check "server_queue: an SMS queued by the old version is sent once" \
  bash -c '[ "$1" = 1 ]' _ "$(spooled 'Your dataline code is 271828')"
check "server_queue: the move is logged" grep -q "sms: moved 1 queued SMS" "$SRV_DIR/server.log"
check "server_queue: the moved SMS went through the writer (put, scan, ack)" \
  bash -c '[ "$1" -ge 1 ] && [ "$2" -ge 3 ] && [ "$3" -eq 1 ] && [ "$4" -eq 1 ]' _ \
  "$(metric dataline_writer_batches_total)" "$(metric dataline_writer_jobs_total)" \
  "$(metric dataline_queue_puts_total)" "$(metric dataline_queue_acks_total)"
check "server_queue: the store is at schema 3, the old table gone" \
  bash -c '[ "$(sqlite3 "$1" "SELECT version FROM schema_version")" = 3 ] &&
           [ -z "$(sqlite3 "$1" "SELECT name FROM sqlite_master WHERE name LIKE '"'"'sms_%'"'"'")" ]' _ \
  "$SRV_VAR/dataline.db"

# kill -9 right after a start that moved them: sent, never lost (and the
# old table's ids start again at 1: the dedup key must not collide)
srv_kill TERM
legacy +8613800138303 "Your dataline code is 314159"
srv_restart || { fail "server_queue: third start"; finish; }
srv_kill KILL
srv_restart || { fail "server_queue: restart after kill -9"; finish; }
n=$(spooled 'Your dataline code is 314159')
check "server_queue: moved then kill -9: still sent (at least once, here once)" \
  bash -c '[ "$1" -ge 1 ] && [ "$1" -le 2 ]' _ "$n"

srv_kill TERM
srv_restart --queue-db "$SRV_DIR/other-queue.db" || { fail "server_queue: --queue-db start"; finish; }
provision +8613800138304 || fail "server_queue: provisioning with --queue-db"
check "server_queue: --queue-db is the file used" test -s "$SRV_DIR/other-queue.db"
srv_kill TERM
check "server_queue: SIGTERM shuts down cleanly with the queue" \
  grep -q "dataline-server stopped" "$SRV_DIR/server.log"
finish
