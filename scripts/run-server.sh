#!/usr/bin/env bash
# run-server.sh: what `make run` runs. Starts $OUT/dataline-server in the
# foreground on its embedded defaults (loopback ports, state in ./var/),
# after printing where everything is and how to register a handset.
# Extra arguments go to the server (e.g. --log-level debug).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-build}
SRV=$OUT/dataline-server
[ -x "$SRV" ] || { echo "run-server: $SRV not built (make all)" >&2; exit 1; }

VAR=./var
cat <<TXT
dataline-server (embedded defaults; state in $VAR/)
  SIP          udp 127.0.0.1:5060   tcp 127.0.0.1:5060   tls 127.0.0.1:5061
  domain       dataline.local (also the digest realm)
  HTTP API     http://127.0.0.1:8080 (loopback only)   https://127.0.0.1:8443
  database     $VAR/dataline.db (SQLite, WAL)
  SMS spool    $VAR/sms.spool (one line per SMS: time, number, text)
  TLS cert     $VAR/tls/server.crt (self-signed, made on first run)
  metrics      curl -s http://127.0.0.1:8080/metrics
  probe        udp 127.0.0.1:5070 (netq reflector for registered handsets:
               the SIP port + 10, where \`dataline daemon\` looks by default)

Register a handset (another terminal):
  1. ask for a code:
       curl -s -X POST -d '{"number":"+8613800138000"}' http://127.0.0.1:8080/v1/registrations
     (the answer carries "session": the id of this request's code)
     or: $OUT/dataline --no-modem register +8613800138000 --server http://127.0.0.1:8080
  2. read it from the spool:
       tail -n 1 $VAR/sms.spool          # "... Your dataline code is NNNNNN"
  3. verify it, which issues the SIP credentials (password shown once):
       curl -s -X POST -d '{"number":"+8613800138000","code":"NNNNNN","session":"SESSION"}' \\
            http://127.0.0.1:8080/v1/registrations/verify
     or: $OUT/dataline --no-modem verify NNNNNN
  4. keep the SIP registration up (TLS, trusting the generated certificate):
       $OUT/dataline --ca $VAR/tls/server.crt daemon
     (any SIP client works too -- baresip, linphone, GNOME Calls: user = the
      "username" returned (or the number, where the client has separate
      address and login fields), password, domain dataline.local,
      registrar sip:127.0.0.1:5060; digest MD5, as every client speaks)
  5. text another registered number (stored, then delivered when it is
     online), with the daemon running:
       $OUT/dataline send +8613900000000 'hello'     # waits for the server's 202
       $OUT/dataline inbox; $OUT/dataline outbox     # --json for scripts
     or from any SIP client (MESSAGE to sip:+NUMBER@dataline.local)

Stop with Ctrl-C (SIGTERM works too; SIGHUP reopens --log-file).
TXT
exec "$SRV" --var-dir "$VAR" --probe-udp 127.0.0.1:5070 "$@"
