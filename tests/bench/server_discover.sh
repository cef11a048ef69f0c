#!/usr/bin/env bash
# tests/bench/server_discover.sh: contact discovery (POST
# /v1/contacts/discover) throughput with 1,000 numbers per request, and
# what one number costs the server. Prints a markdown section
# (scripts/bench.sh collects it into docs/bench.md).
#
# Method:
# - one dataline-server (--workers 2) whose store holds 100,000 provisioned
#   devices (written straight into its SQLite file while it is stopped, as
#   provisioning would leave them); its discovery limits are opened wide
#   (--discover-burst/--discover-per-hour/--discover-max-numbers-day) so
#   that only the work is measured;
# - tests/tools/discover_client.py "bench": C client processes at once,
#   each making R digest-authenticated requests over HTTPS, one TLS
#   connection per request (the server closes after every reply);
# - rows: 1,000 numbers none of which is registered, 1,000 numbers of which
#   every tenth is (those answer "text"), 1,000 in national form
#   ("030 ..." with --default-country-code 49), and 10 numbers for the
#   fixed cost of a request (TLS handshake, digest, JSON);
# - requests/s = all requests / wall time; server CPU per request = the
#   server's utime+stime over the run (/proc/PID/stat) / requests; the cost
#   of one number = (CPU per 1,000-number request - CPU per 10-number
#   request) / 990. The clients are Python and share the machine's cores
#   with the server, so requests/s is a floor; the CPU figures are the
#   server's own.
# Knobs: BENCH_DISC_CLIENTS (C, 2), BENCH_DISC_REQS (R, 100). Ports
# 27040-27049.
set -uo pipefail
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/integration/lib.sh"
source "$ROOT/tests/tools/server_env.sh"

C=${BENCH_DISC_CLIENTS:-2}
R=${BENCH_DISC_REQS:-100}
WORK=$(mktemp -d /tmp/bench-discover.XXXXXX)
SRV_DIRS+=("$WORK")
trap srv_cleanup EXIT
FLAGS=(--default-country-code 49 --discover-burst 100000
       --discover-per-hour 1000000 --discover-max-numbers-day 1000000)

srv_start bench-discover 27040 "${FLAGS[@]}" >&2 || exit 1
provision +4915112340000 >&2 || exit 1
srv_kill TERM
# 100,000 devices: +49300000000, +49300000010, ... (every tenth number)
python3 - "$SRV_VAR/dataline.db" <<'EOF' >&2 || exit 1
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
now = int(time.time())
nums = ["+4930%07d" % (i * 10) for i in range(100000)]
db.executemany("INSERT INTO accounts (number, created) VALUES (?, ?)",
               [(n, now) for n in nums])
db.executemany("INSERT INTO devices (username, number, ha1_md5, ha1_sha256, created) "
               "VALUES (?, ?, ?, ?, ?)",
               [(n[1:] + "-bench", n, "0" * 32, "0" * 64, now) for n in nums])
db.commit()
EOF
srv_restart >&2 || exit 1

python3 -c 'import json; print(json.dumps(["+4940%07d" % i for i in range(1000)]))' > "$WORK/none"
python3 -c 'import json; print(json.dumps(["+4930%07d" % i for i in range(5000, 6000)]))' > "$WORK/tenth"
python3 -c 'import json; print(json.dumps(["030 %07d" % i for i in range(5000, 6000)]))' > "$WORK/national"
python3 -c 'import json; print(json.dumps(["+4930%07d" % i for i in range(5000, 5010)]))' > "$WORK/ten"

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)

# run FILE: sets RPS, CPU_MS (server CPU per request), OK
run() {
  local file=$1 i t0 t1 c0 c1 pids=()
  # one warm-up request (pages of the store into the cache)
  python3 "$ROOT/tests/tools/discover_client.py" --port "$SRV_HTTPS" \
    --cafile "$SRV_VAR/tls/server.crt" --user "$CRED_USER" --pass "$CRED_PASS" \
    --numbers-file "$file" lookup > "$WORK/warm" 2>&1
  c0=$(cpu_ticks "$SRV_PID"); t0=$(date +%s.%N)
  for ((i = 0; i < C; i++)); do
    python3 "$ROOT/tests/tools/discover_client.py" --port "$SRV_HTTPS" \
      --cafile "$SRV_VAR/tls/server.crt" --user "$CRED_USER" --pass "$CRED_PASS" \
      --numbers-file "$file" --count "$R" bench > "$WORK/out.$i" 2>&1 &
    pids+=($!)
  done
  wait "${pids[@]}"
  t1=$(date +%s.%N); c1=$(cpu_ticks "$SRV_PID")
  OK=$(cat "$WORK"/out.* | jq -s 'map(.ok) | add')
  RPS=$(awk -v n="$((C * R))" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')
  CPU_MS=$(awk -v d="$((c1 - c0))" -v hz="$HZ" -v n="$((C * R))" \
    'BEGIN { printf "%.2f", d / hz * 1000 / n }')
  echo "# $file: ok $OK/$((C * R)), $RPS req/s, $CPU_MS ms CPU/req" >&2
}

declare -A rps cpu ok
for s in ten none tenth national; do
  run "$WORK/$s"
  rps[$s]=$RPS cpu[$s]=$CPU_MS ok[$s]=$OK
done
per_number() { # CPU ms of a 1000-number row -> us per number
  awk -v a="$1" -v b="${cpu[ten]}" 'BEGIN { printf "%.1f", (a - b) * 1000 / 990 }'
}

cat <<EOF
## Contact discovery: 1,000 numbers per request

POST /v1/contacts/discover over HTTPS with digest authentication, $C client
processes at once, $R requests each, one TLS connection per request; the
store holds 100,000 provisioned devices. Server CPU is dataline-server's
own (utime+stime over the run); a number's cost is the difference to a
10-number request, over 990 numbers. The Python clients share the $(nproc)
cores with the server, so requests/s is a floor.

| request | answered 200 | requests/s | server CPU per request | server CPU per number |
| --- | --- | --- | --- | --- |
| 10 numbers (fixed cost: TLS, digest, JSON) | ${ok[ten]}/$((C * R)) | ${rps[ten]} | ${cpu[ten]} ms | - |
| 1,000 numbers, none registered | ${ok[none]}/$((C * R)) | ${rps[none]} | ${cpu[none]} ms | $(per_number "${cpu[none]}") µs |
| 1,000 numbers, every tenth registered | ${ok[tenth]}/$((C * R)) | ${rps[tenth]} | ${cpu[tenth]} ms | $(per_number "${cpu[tenth]}") µs |
| 1,000 numbers in national form ("030 ...") | ${ok[national]}/$((C * R)) | ${rps[national]} | ${cpu[national]} ms | $(per_number "${cpu[national]}") µs |
EOF
