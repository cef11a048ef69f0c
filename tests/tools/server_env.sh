# tests/tools/server_env.sh: shell helpers for the server's system tests and
# benchmarks (sourced after tests/integration/lib.sh). It lives here, not in
# tests/integration/, because run-tests.sh runs every .sh found there.
#
#   srv_start NAME BASE [FLAGS...]  starts $OUT/dataline-server in a fresh
#                 temp dir on BASE (SIP UDP+TCP), BASE+1 (SIP TLS), BASE+2
#                 (HTTP), BASE+3 (HTTPS); waits for /healthz. Sets SRV_PID,
#                 SRV_DIR, SRV_VAR, SRV_SIP, SRV_TLS, SRV_HTTP, SRV_HTTPS.
#                 SRV_WRAP (e.g. "prlimit --nofile=256:256") runs it
#                 through a command that then execs it.
#   srv_restart [FLAGS...]          starts it again on the same dir/ports
#   srv_kill [SIG]                  signals SRV_PID (TERM) and waits
#   srv_cleanup                     kills every server and Kamailio started
#                 here, keeps their logs in $OUT/test-logs/, removes temp dirs
#                 (call it from the test's EXIT trap)
#   api METHOD PATH [JSON]          sets API_STATUS, API_BODY (plain HTTP)
#   spool_code NUMBER               prints the newest code sent to NUMBER
#   provision NUMBER                API register + verify: CRED_USER, CRED_PASS
#                 (SESSION: the registration session it used)
#   metric NAME [LABEL=\"V\"...]   sum of the /metrics samples of NAME
#                 carrying all the given labels (0 when none)
#   rss_kb PID / pss_kb PID...      VmRSS of one process / PSS sum of several
#   sipcli ARGS...                  $OUT/tools/sipcli against this server
SRV_PIDS=() SRV_DIRS=() KAM_PIDS=()
DOMAIN=dataline.local
# Memory bounds in the tests allow this much more for an ASan build: it
# keeps freed memory in quarantine (256 MiB by default), so its RSS grows
# by up to that much without any leak. A TSan build gets the same: its
# shadow memory adds several times what the server touches (3,000 fresh
# nonces: +42 MiB where the plain build stays under 32). The plain build
# keeps the strict bounds.
ASAN_SLACK_KB=0
if ldd "$OUT/dataline-server" 2>/dev/null | grep -Eq 'libasan|libtsan'; then
  ASAN_SLACK_KB=$((320 * 1024))
fi

srv_wait_up() {
  local i
  for ((i = 0; i < 300; i++)); do
    if ! kill -0 "$SRV_PID" 2>/dev/null; then
      echo "# server exited early:"; tail -n 20 "$SRV_DIR/server.log" | sed 's/^/#   /'
      return 1
    fi
    if [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SRV_HTTP/healthz")" = 200 ] &&
       wait_tcp "$SRV_TLS" 127.0.0.1 1; then
      return 0
    fi
    sleep 0.1
  done
  echo "# server did not come up in 30 s"; tail -n 20 "$SRV_DIR/server.log" | sed 's/^/#   /'
  return 1
}

srv_launch() {
  ${SRV_WRAP:-} "$OUT/dataline-server" --var-dir "$SRV_VAR" --domain "$DOMAIN" \
    --sip-udp "127.0.0.1:$SRV_SIP" --sip-tcp "127.0.0.1:$SRV_SIP" \
    --sip-tls "127.0.0.1:$SRV_TLS" --http "127.0.0.1:$SRV_HTTP" \
    --https "127.0.0.1:$SRV_HTTPS" --workers 2 "$@" \
    >> "$SRV_DIR/server.log" 2>&1 &
  SRV_PID=$!
  SRV_PIDS+=("$SRV_PID")
}

srv_start() {
  local name=$1 base=$2; shift 2
  if [ ! -x "$OUT/dataline-server" ]; then
    echo "# $OUT/dataline-server is not built"; return 1
  fi
  SRV_NAME=$name
  SRV_DIR=$(mktemp -d "/tmp/dl-$name.XXXXXX"); SRV_DIRS+=("$SRV_DIR")
  SRV_VAR=$SRV_DIR/var
  SRV_SIP=$base SRV_TLS=$((base + 1)) SRV_HTTP=$((base + 2)) SRV_HTTPS=$((base + 3))
  SRV_FLAGS=("$@")
  srv_launch "$@"
  srv_wait_up
}

srv_restart() {
  [ $# -gt 0 ] && SRV_FLAGS=("$@")
  srv_launch "${SRV_FLAGS[@]}"
  srv_wait_up
}

srv_kill() {
  local sig=${1:-TERM} i
  {  # stderr off: no "Killed" job notice after -9
    kill "-$sig" "$SRV_PID"
    for ((i = 0; i < 100; i++)); do
      kill -0 "$SRV_PID" || break
      sleep 0.1
    done
    wait "$SRV_PID"
    SRV_RC=$?
  } 2>/dev/null
}

srv_cleanup() {
  local p d n=0
  for p in "${SRV_PIDS[@]}" "${KAM_PIDS[@]}"; do
    kill -TERM "$p" 2>/dev/null
  done
  sleep 0.3
  for p in "${SRV_PIDS[@]}" "${KAM_PIDS[@]}"; do
    kill -0 "$p" 2>/dev/null && { sleep 1; kill -KILL "$p" 2>/dev/null; }
    wait "$p" 2>/dev/null
  done
  mkdir -p "$OUT/test-logs"
  for d in "${SRV_DIRS[@]}"; do
    n=$((n + 1))
    [ -f "$d/server.log" ] && cp "$d/server.log" "$OUT/test-logs/${SRV_NAME:-srv}-server$n.log"
    [ -f "$d/kamailio.log" ] && cp "$d/kamailio.log" "$OUT/test-logs/${SRV_NAME:-srv}-kamailio$n.log"
    rm -rf "$d"
  done
}

api() {
  local method=$1 path=$2 body=${3:-} f
  f=$(mktemp)
  if [ -n "$body" ]; then
    API_STATUS=$(curl -s -o "$f" -w '%{http_code}' -X "$method" \
      -H 'Content-Type: application/json' --data-binary "$body" \
      "http://127.0.0.1:$SRV_HTTP$path")
  else
    API_STATUS=$(curl -s -o "$f" -w '%{http_code}' -X "$method" \
      "http://127.0.0.1:$SRV_HTTP$path")
  fi
  API_BODY=$(cat "$f"); rm -f "$f"
}

spool_code() {
  local i c
  for ((i = 0; i < 50; i++)); do
    c=$(awk -F'\t' -v n="$1" '$2 == n { c = $3 } END { print substr(c, length(c) - 5) }' \
        "$SRV_VAR/sms.spool" 2>/dev/null)
    [[ "$c" =~ ^[0-9]{6}$ ]] && { echo "$c"; return 0; }
    sleep 0.1
  done
  return 1
}

provision() {
  local number=$1 code
  CRED_USER= CRED_PASS=
  api POST /v1/registrations "{\"number\":\"$number\"}"
  [ "$API_STATUS" = 202 ] || { echo "# register $number: $API_STATUS $API_BODY"; return 1; }
  SESSION=$(jq -r .session <<< "$API_BODY")
  code=$(spool_code "$number") || { echo "# no SMS for $number"; return 1; }
  api POST /v1/registrations/verify "{\"number\":\"$number\",\"code\":\"$code\",\"session\":\"$SESSION\"}"
  [ "$API_STATUS" = 200 ] || { echo "# verify $number: $API_STATUS $API_BODY"; return 1; }
  CRED_JSON=$API_BODY
  CRED_USER=$(jq -r .username <<< "$API_BODY")
  CRED_PASS=$(jq -r .password <<< "$API_BODY")
  [ -n "$CRED_USER" ] && [ -n "$CRED_PASS" ]
}

metric() {
  local name=$1; shift
  curl -s "http://127.0.0.1:$SRV_HTTP/metrics" | awk -v name="$name" -v want="$*" '
    BEGIN { n = split(want, w, " ") }
    /^#/ { next }
    {
      sample = $1; v = $NF
      base = sample; sub(/\{.*/, "", base)
      if (base != name) next
      for (i = 1; i <= n; i++) if (index(sample, w[i]) == 0) next
      s += v
    }
    END { printf "%.0f\n", s }'
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
pss_kb() {
  local p s=0 v
  for p in "$@"; do
    v=$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null)
    s=$((s + ${v:-0}))
  done
  echo "$s"
}

sipcli() { "$OUT/tools/sipcli" -d "$DOMAIN" "$@"; }

# kam_start NAME PORT TLSPORT CHILDREN USERS_CSV [tls]: Kamailio with
# tests/kamailio/registrar.cfg, its subscriber table filled from USERS_CSV
# (HA1 = MD5(user:realm:pass), the number for the To check). Sets KAM_PID,
# KAM_DIR, KAM_CTL. KAM_DEFINES adds cfg defines (-A), KAM_SHM_MB its shm,
# KAM_CFG another config (same placeholders; default registrar.cfg),
# KAM_SQL more table sets of /usr/share/kamailio/db_sqlite (e.g. "msilo"),
# KAM_WAL=1 the database in WAL journal mode (persistent in the file).
kam_start() {
  local name=$1 port=$2 tlsport=$3 children=$4 users=$5 tls=${6:-} i
  KAM_DIR=$(mktemp -d "/tmp/kam-$name.XXXXXX"); SRV_DIRS+=("$KAM_DIR")
  KAM_CTL=$KAM_DIR/ctl.sock
  local db=$KAM_DIR/kamailio.db sql=/usr/share/kamailio/db_sqlite
  {
    cat "$sql/standard-create.sql" "$sql/usrloc-create.sql"
    for t in ${KAM_SQL:-}; do cat "$sql/$t-create.sql"; done
    sed 's/ha1b VARCHAR(128) DEFAULT .. NOT NULL,/&\n    number VARCHAR(32) DEFAULT '"''"' NOT NULL,/' "$sql/auth_db-create.sql"
    echo "BEGIN;"
    awk -F';' -v realm="$DOMAIN" 'NF >= 4 && $1 ~ /^\+/ {
        printf "%s\t%s\t%s\n", $1, $3, $4 }' "$users" |
      while IFS=$'\t' read -r num user pass; do
        printf "INSERT INTO subscriber (username, domain, ha1, number) VALUES ('%s', '%s', '%s', '%s');\n" \
          "$user" "$DOMAIN" "$(printf '%s' "$user:$DOMAIN:$pass" | md5sum | cut -d' ' -f1)" "$num"
      done
    echo "COMMIT;"
    if [ -n "${KAM_WAL:-}" ]; then echo "PRAGMA journal_mode=WAL;"; fi
  } | sqlite3 "$db" >/dev/null || return 1
  if [ "$tls" = tls ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
      -subj "/CN=$DOMAIN" -keyout "$KAM_DIR/key.pem" -out "$KAM_DIR/cert.pem" 2>/dev/null
    printf '[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\nprivate_key = %s\ncertificate = %s\n' \
      "$KAM_DIR/key.pem" "$KAM_DIR/cert.pem" > "$KAM_DIR/tls.cfg"
  fi
  sed -e "s|@PORT@|$port|g" -e "s|@TLSPORT@|$tlsport|g" -e "s|@CHILDREN@|$children|g" \
      -e "s|@DB@|$db|g" -e "s|@CTL@|$KAM_CTL|g" -e "s|@TLSCFG@|$KAM_DIR/tls.cfg|g" \
      "${KAM_CFG:-$ROOT/tests/kamailio/registrar.cfg}" > "$KAM_DIR/kamailio.cfg"
  local defs=() d
  [ "$tls" = tls ] && defs=(-A WITH_TLS)
  for d in ${KAM_DEFINES:-}; do defs+=(-A "$d"); done
  kamailio -DD -E -f "$KAM_DIR/kamailio.cfg" -m "${KAM_SHM_MB:-1024}" -M 16 \
    -P "$KAM_DIR/kamailio.pid" -Y "$KAM_DIR" "${defs[@]}" > "$KAM_DIR/kamailio.log" 2>&1 &
  KAM_PID=$!
  KAM_PIDS+=("$KAM_PID")
  for ((i = 0; i < 100; i++)); do
    kamcmd -s "unix:$KAM_CTL" core.uptime >/dev/null 2>&1 && return 0
    kill -0 "$KAM_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "# kamailio did not start:"; tail -n 20 "$KAM_DIR/kamailio.log" | sed 's/^/#   /'
  return 1
}

# Every process of the Kamailio started last (the main one and its children).
kam_pids() { echo "$KAM_PID" $(pgrep -P "$KAM_PID"); }
