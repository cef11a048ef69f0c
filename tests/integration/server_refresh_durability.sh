#!/usr/bin/env bash
# server_refresh_durability: the durability rules of docs/protocol.md
# ("Durability of registrations"). New bindings commit before their 200; a
# refresh (same device, same contact and source) is written behind within
# 1 s: a kill -9 right after refreshes keeps every binding (with the older
# expiry), SIGTERM writes the held refreshes. SIPp keeps its source port,
# so its second registration of an account is a refresh. Ports 25500-25509.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/tools/server_env.sh"
WORK=$(mktemp -d /tmp/refresh-dur.XXXXXX)
trap 'srv_cleanup; rm -rf "$WORK"' EXIT

if ! srv_start refresh 25500 --digest-algorithms MD5,SHA-256; then
  fail "server_refresh_durability: server starts"; finish
fi
echo SEQUENTIAL > "$WORK/users.csv"
for n in +8613800138201 +8613800138202 +8613800138203; do
  provision "$n" || { fail "server_refresh_durability: $n provisioned"; finish; }
  echo "$n;[authentication username=$CRED_USER password=$CRED_PASS]" >> "$WORK/users.csv"
done
reg() {
  sipp -sf "$ROOT/tests/sipp/register_auth.xml" -inf "$WORK/users.csv" -t u1 \
    -i 127.0.0.1 -p 25505 "127.0.0.1:$SRV_SIP" -m 3 -l 3 -auth_uri "$DOMAIN" \
    -nostdin -recv_timeout 5000 -trace_stat -stf "$WORK/stat.csv" > /dev/null 2>&1
}
db() { sqlite3 "$SRV_VAR/dataline.db" "$1"; }

reg
check "server_refresh_durability: three new bindings registered" test "$(metric dataline_registrations)" -eq 3
check "server_refresh_durability: new bindings are on disk before their 200" test "$(db 'select count(*) from bindings')" -eq 3
check "server_refresh_durability: the registrar's writer thread committed them" \
  test "$(metric dataline_writer_batches_total)" -ge 1
check "server_refresh_durability: no commit ran on a worker's event loop" \
  test "$(metric dataline_worker_commits_total)" -eq 0
first=$(db 'select min(expires_at) from bindings')
sleep 2
reg
srv_kill KILL
check "server_refresh_durability: kill -9 right after refreshes: every binding still on disk" \
  test "$(db 'select count(*) from bindings')" -eq 3
check "server_refresh_durability: ... with an expiry no older than the first registration's" \
  test "$(db 'select min(expires_at) from bindings')" -ge "$first"
srv_restart || { fail "server_refresh_durability: restart after kill -9"; finish; }
check "server_refresh_durability: after the restart the registrar lists the three bindings" \
  test "$(metric dataline_registrations)" -eq 3
sleep 2
reg
after=$(date +%s)
sleep 2 # a write-behind flush ran: still no commit on a worker
check "server_refresh_durability: refreshes and their flush: no commit on a worker's loop" \
  test "$(metric dataline_worker_commits_total)" -eq 0
srv_kill TERM
check "server_refresh_durability: SIGTERM exits cleanly" test "$SRV_RC" -eq 0
check "server_refresh_durability: SIGTERM wrote the held refreshes (expiry = refresh time + 3600)" \
  test "$(db 'select min(expires_at) from bindings')" -ge $((after + 3600 - 2))
finish
