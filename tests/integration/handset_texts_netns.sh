#!/usr/bin/env bash
# handset_texts_netns: two handsets, each running `dataline daemon` (TLS to
# the server, TOFU-pinned certificate, D-Bus on a private bus each), and
# the real server, in namespaces (helpers/texts_topo.sh: A beside the
# server, B behind a NAT router).
#   1. B's link is down; `dataline send` on A sends 100 texts, each
#      answered 202; B's link comes up; B's inbox has all 100, in order,
#      once each; A's outbox shows the 100 delivered (B's IMDNs), though
#      the server, restarted with a 30-text burst, refuses B's notifications
#      over it with 503: B sends them again until each is taken.
#   2. The server is killed with SIGKILL at random moments during 1,000
#      texts sent by a D-Bus client (tests/tools/handset_bus.py); after
#      it: B's inbox holds every text A's outbox saw accepted, exactly
#      once, and nothing else.
#   3. A's daemon is killed (SIGKILL) while it sends 200 more; restarted,
#      its outbox sends what was pending; B sees each text once.
# Everything runs inside namespaces $P-*, removed at the end.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/helpers/texts_topo.sh"
source "$(dirname "$0")/helpers/handsets.sh"
need_root handset_texts_netns
P=hn$(( $$ % 10000 ))
DIR=$(mktemp -d /tmp/dl-hnetns.XXXXXX)
DL=$OUT/dataline
PY=/usr/bin/python3
BUSC="$PY $ROOT/tests/tools/handset_bus.py"
NA=+4915300000001 NB=+4915300000002
cleanup() {
  hs_cleanup
  tt_down "$P"
  mkdir -p "$OUT/test-logs"
  for f in "$DIR"/*.log; do cp "$f" "$OUT/test-logs/handset_texts_netns-$(basename "$f")" 2>/dev/null; done
  rm -rf "$DIR"
}
trap cleanup EXIT
for b in "$DL" "$OUT/dataline-server"; do
  [ -x "$b" ] || { fail "handset_texts_netns: $b built"; finish; }
done
$PY -c 'import dbus, gi' 2>/dev/null || { fail "handset_texts_netns: python3-dbus and python3-gi (scripts/install-deps.sh)"; finish; }
tt_up "$P" || { fail "handset_texts_netns: topology up"; finish; }
ok "handset_texts_netns: namespaces up"

hs_init
hs_server_start
check "handset_texts_netns: server up" tt_exec "$TT_S" curl -sf http://127.0.0.1:8080/healthz -o /dev/null
for h in a b; do
  check "handset_texts_netns: handset $h provisioned over HTTPS" hs_provision $h
done
for h in a b; do hs_daemon_start $h --carrier log; done
check "handset_texts_netns: both daemons registered over TLS" wait_for 30 sh -c \
  "grep -qs '\"registered\"' $DIR/a/state/daemon.json && grep -qs '\"registered\"' $DIR/b/state/daemon.json"
check "handset_texts_netns: ... A over tls" grep -q '"transport": *"tls"' "$DIR/a/state/daemon.json"

# --- 1. B offline, 100 texts, B back ---------------------------------------
tt_exec "$TT_B" ip link set b0 down
n202=0
for i in $(seq -f '%03g' 100); do
  out=$(dl a send "$NB" "offline-$i" --timeout 20 2>&1)
  case "$out" in *"Accepted by the server: 202"*) n202=$((n202 + 1));;
    *) echo "# send offline-$i: $out";; esac
done
check "handset_texts_netns: 1. 100 texts from A, each answered 202 ($n202)" test $n202 -eq 100
# B's 100 delivery notifications meet a server that takes 30 at once from
# one sender, then 20 a second: the rest are refused 503 (Retry-After) and
# must be sent again, not lost (they are rows in B's store until a 2xx)
kill -TERM "$SPID"; wait "$SPID" 2>/dev/null; sleep 1
hs_server_start --text-rate 20 --text-burst 30
check "handset_texts_netns: 1. server back with a 30-text burst" wait_for 30 registered a
tt_exec "$TT_B" ip link set b0 up
tt_exec "$TT_B" ip route replace default via 10.77.0.1
inbox_bodies() { dl b inbox --json --limit 10000 | jq -r '.[].body'; }
got_all() { [ "$(inbox_bodies | grep -c '^offline-')" -ge 100 ]; }
check "handset_texts_netns: 1. B's inbox fills once its link is up" wait_for 90 got_all
seq -f 'offline-%03g' 100 > "$DIR/want1"
inbox_bodies | grep '^offline-' > "$DIR/got1"
check "handset_texts_netns: 1. B's inbox has all 100, in order, once each" \
  cmp -s "$DIR/want1" "$DIR/got1"
delivered() { [ "$(dl a outbox --json --limit 10000 2>/dev/null |
  jq '[.[] | select((.body | startswith("offline-")) and .state == "delivered")] | length')" -eq 100 ] 2>/dev/null; }
check "handset_texts_netns: 1. A's outbox shows 100 delivered" wait_for 90 delivered
check "handset_texts_netns: 1. ... though B's notifications over the burst were refused 503 and sent again" \
  grep -q 'delivery notification to .* answered 503: sent again later' "$DIR/daemon-b.log"
nt_left() { [ "$($PY -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from notices").fetchone()[0])' "$DIR/b/state/messages.db")" = 0 ]; }
check "handset_texts_netns: 1. B owes no notification at the end" wait_for 10 nt_left
kill -TERM "$SPID"; wait "$SPID" 2>/dev/null; sleep 1
hs_server_start
check "handset_texts_netns: 1. server back with the usual limits, both registered" \
  wait_for 30 sh -c "grep -qs '\"registered\"' $DIR/a/state/daemon.json && grep -qs '\"registered\"' $DIR/b/state/daemon.json"

# --- 2. the server killed at random moments during 1,000 texts --------------
ip netns exec "$TT_A" $BUSC --bus "unix:path=$DIR/a/bus" send-many "$NB" kill 1000 \
  > "$DIR/send2.jsonl" 2>"$DIR/send2.err" &
SENDER=$!
for k in 1 2 3; do
  sleep "$(awk -v s=$RANDOM 'BEGIN { srand(s); printf "%.2f", 1 + rand() * 3 }')"
  kill -KILL "$SPID"; wait "$SPID" 2>/dev/null
  sleep 0.5
  hs_server_start || fail "handset_texts_netns: 2. server restart $k"
done
wait $SENDER
accepted_n=$(jq -s '[.[] | select(.id)] | length' "$DIR/send2.jsonl")
refused_n=$(jq -s '[.[] | select(.error)] | length' "$DIR/send2.jsonl")
echo "# 2. the D-Bus client: $accepted_n queued, $refused_n refused while not connected"
check "handset_texts_netns: 2. some texts were queued and some refused (kills hit)" \
  test "$accepted_n" -gt 0
settled() { [ "$(dl a outbox --json --limit 10000 2>/dev/null |
  jq '[.[] | select(.body | startswith("kill-")) | select(.state == "queued" or .state == "sending")] | length')" -eq 0 ] 2>/dev/null; }
check "handset_texts_netns: 2. A's outbox has nothing pending at the end" wait_for 120 settled
dl a outbox --json --limit 10000 | jq -r '.[] | select((.body | startswith("kill-")) and (.state == "accepted" or .state == "delivered")) | .body' | sort > "$DIR/want2"
inb2() { dl b inbox --json --limit 10000 | jq -r '.[].body | select(startswith("kill-"))' | sort > "$DIR/got2"; cmp -s "$DIR/want2" "$DIR/got2"; }
check "handset_texts_netns: 2. B's inbox = A's accepted texts ($(wc -l < "$DIR/want2")), each once" wait_for 60 inb2
check "handset_texts_netns: 2. every queued text was accepted" \
  test "$(wc -l < "$DIR/want2")" -eq "$accepted_n"
check "handset_texts_netns: 2. no text twice in B's inbox" test -z "$(uniq -d "$DIR/got2")"

# --- 3. A's daemon killed during sends ---------------------------------------
ip netns exec "$TT_A" $BUSC --bus "unix:path=$DIR/a/bus" send-many "$NB" dkill 200 --gap 0.01 \
  > "$DIR/send3.jsonl" 2>"$DIR/send3.err" &
SENDER=$!
wait_for 20 sh -c "[ \$(grep -c '\"id\"' $DIR/send3.jsonl) -ge 60 ]"
kill -KILL "$APID"; wait "$APID" 2>/dev/null
pending_after_kill=$(grep -c '"id"' "$DIR/send3.jsonl")
unsent=$($PY -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from outbox where state in (0,1)").fetchone()[0])' "$DIR/a/state/messages.db" 2>&1)
echo "# 3. A's daemon killed with $pending_after_kill texts queued, $unsent of them not yet accepted"
sleep 1
hs_daemon_start a --carrier log
wait $SENDER
check "handset_texts_netns: 3. A's daemon back and registered" wait_for 30 registered a
settled3() { [ "$(dl a outbox --json --limit 10000 2>/dev/null |
  jq '[.[] | select(.body | startswith("dkill-")) | select(.state == "queued" or .state == "sending")] | length')" -eq 0 ] 2>/dev/null; }
check "handset_texts_netns: 3. after the restart A's outbox sent what was pending" wait_for 60 settled3
dl a outbox --json --limit 10000 | jq -r '.[] | select(.body | startswith("dkill-")) | .body' | sort > "$DIR/want3"
inb3() { dl b inbox --json --limit 10000 | jq -r '.[].body | select(startswith("dkill-"))' | sort > "$DIR/got3"; cmp -s "$DIR/want3" "$DIR/got3"; }
check "handset_texts_netns: 3. B has each of A's $(wc -l < "$DIR/want3") texts once (killed after $pending_after_kill)" wait_for 60 inb3
check "handset_texts_netns: 3. no text twice in B's inbox" test -z "$(uniq -d "$DIR/got3")"
if [ "$T_FAILED" = 1 ]; then
  tail -30 "$DIR/daemon-a.log" | sed 's/^/# A: /'
  tail -20 "$DIR/daemon-b.log" | sed 's/^/# B: /'
fi
finish
