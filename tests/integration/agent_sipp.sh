#!/usr/bin/env bash
# agent_sipp: the handset agent's INVITE dialogs (user/agent/agent_call*.c)
# against SIPp, which plays registrar, outbound proxy and far end at once
# (tests/sipp/call_*.xml), on loopback ports 29100-29109; the agent is
# driven by tests/tools/callua. Out: the 407 answered (the digest response
# recomputed here from SIPp's message log), 180, the 2xx ACKed to the
# Contact along the reversed Record-Route, BYE; 486; 488 + Warning 370 (the
# server's C3 gate) reported with its warn-code and ACKed hop by hop on the
# INVITE's branch; CANCEL of a callee that never answers. In: ring, answer
# with Record-Route copied, the caller's BYE; the caller's CANCEL (200 +
# 487). SIPp's exit status says every step of its scenario passed.
. "$(dirname "$0")/lib.sh"
UA=$OUT/tools/callua
[ -x "$UA" ] || { fail "agent_sipp - $UA not built"; finish; }
command -v sipp >/dev/null || { fail "agent_sipp - sipp missing"; finish; }
tmp=$(mktemp -d /tmp/agent_sipp.XXXXXX)
SIPP_PID=
cleanup() {
  [ -n "$SIPP_PID" ] && kill "$SIPP_PID" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
PORT=29100
ME=+8613800291001 PEER=+8613900291002 PW=sipp-secret

# run NAME SCENARIO [SIPP ARGS...] -- [CALLUA ARGS...]: SIPp for M "calls"
# (default 2: the REGISTER and the call; the caller scenarios are one),
# then the agent; SIPP_RC, UA_RC, $tmp/NAME.*
run() {
  local name=$1 sc=$2 sargs=() uargs=()
  shift 2
  while [ $# -gt 0 ] && [ "$1" != -- ]; do sargs+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  uargs=("$@")
  PORT=$((PORT + 1))
  case $sc in /*) ;; *) sc=$ROOT/tests/sipp/$sc ;; esac
  timeout 25 sipp -sf "$sc" -i 127.0.0.1 -p $PORT -m "${M:-2}" -nostdin \
    -trace_msg -message_file "$tmp/$name.msg" -trace_err -error_file "$tmp/$name.err" \
    "${sargs[@]}" > "$tmp/$name.sipp" 2>&1 &
  SIPP_PID=$!
  sleep 0.3
  timeout 20 "$UA" --server 127.0.0.1:$PORT --user $ME --password $PW "${uargs[@]}" \
    > "$tmp/$name.ua" 2> "$tmp/$name.ualog"
  UA_RC=$?
  wait $SIPP_PID; SIPP_RC=$?
  SIPP_PID=
  sed "s/^/# $name: /" "$tmp/$name.ua"
  if [ $SIPP_RC -ne 0 ]; then
    sed "s/^/# $name sipp: /" "$tmp/$name.err" 2>/dev/null | head -5
  fi
}
ev() { grep -q "$2" "$tmp/$1.ua"; }

# the digest response of the INVITE with credentials, recomputed (MD5,
# qop=auth, RFC 7616 s.3.4.1) from what SIPp received
digest_ok() { python3 - "$tmp/$1.msg" "$ME" "$PW" <<'PY'
import hashlib, re, sys
msg = open(sys.argv[1], errors="replace").read()
m = re.search(r'^INVITE (\S+) SIP/2\.0.*?^Proxy-Authorization: Digest (.*?)$', msg, re.M | re.S)
if not m:
    sys.exit(1)
f = dict(re.findall(r'(\w+)="?([^",]*)"?', m.group(2)))
h = lambda s: hashlib.md5(s.encode()).hexdigest()
ha1 = h("%s:%s:%s" % (sys.argv[2], f["realm"], sys.argv[3]))
ha2 = h("INVITE:%s" % f["uri"])
want = h(":".join([ha1, f["nonce"], f["nc"], f["cnonce"], f["qop"], ha2]))
sys.exit(0 if f["response"] == want and f["uri"] == m.group(1) else 1)
PY
}

# --- out ------------------------------------------------------------------------
run answered call_callee.xml -- --call $PEER --hangup-after 300
check "out: 407 answered, 180, 2xx ACKed along the route set, BYE (sipp rc $SIPP_RC)" \
  test $SIPP_RC -eq 0
check "out: ... the agent saw 180, the answer and its BYE's 200" sh -c \
  "grep -q '\"progress\",\"status\":180' $tmp/answered.ua && grep -q '\"answered\"' $tmp/answered.ua && grep -q '\"ended\",\"why\":\"local\",\"status\":200' $tmp/answered.ua"
check "out: ... the digest response in Proxy-Authorization is right" digest_ok answered

run busy call_reject.xml -key hdr "Server: sipp" -- --call $PEER --expect-fail 486
check "out: 486 reported, ACKed hop by hop (sipp rc $SIPP_RC, agent rc $UA_RC)" \
  test $SIPP_RC -eq 0 -a $UA_RC -eq 0

sed 's/SIP\/2.0 486 Busy Here/SIP\/2.0 488 Not Acceptable Here/' \
  "$ROOT/tests/sipp/call_reject.xml" > "$tmp/call_gate.xml"
run gate "$tmp/call_gate.xml" -key hdr 'Warning: 370 sipp.test "Insufficient bandwidth"' -- --call $PEER --expect-fail 488
check "out: 488 + Warning 370 reported, ACKed (sipp rc $SIPP_RC, agent rc $UA_RC)" \
  test $SIPP_RC -eq 0 -a $UA_RC -eq 0
check "out: ... with the Warning text and warn-code 370" \
  ev gate '"warning":"370 sipp.test \\"Insufficient bandwidth\\"","warn_code":370'
check "out: ... the ACK kept the INVITE's branch" python3 -c '
import re, sys
m = open(sys.argv[1], errors="replace").read()
inv = re.search(r"^INVITE .*?^Via: (.*?)$", m, re.M | re.S).group(1)
ack = re.search(r"^ACK .*?^Via: (.*?)$", m, re.M | re.S).group(1)
sys.exit(0 if inv.strip() == ack.strip() else 1)' "$tmp/gate.msg"

run cancel call_cancel.xml -- --call $PEER --cancel-after 500
check "out: a callee that never answers is cancelled: 200, 487, ACK (sipp rc $SIPP_RC)" \
  test $SIPP_RC -eq 0
check "out: ... the agent reports it cancelled (487)" ev cancel '"why":"cancelled","status":487'

# --- in -------------------------------------------------------------------------
M=1 run in_bye call_in_bye.xml -- --wait --answer-after 200
check "in: rung, answered with Record-Route copied and an SDP, caller's BYE (sipp rc $SIPP_RC)" \
  test $SIPP_RC -eq 0
check "in: ... the agent saw the call, the ACK and the remote end" sh -c \
  "grep -q '\"incoming\"' $tmp/in_bye.ua && grep -q '\"answered\"' $tmp/in_bye.ua && grep -q '\"why\":\"remote\",\"status\":200' $tmp/in_bye.ua"

M=1 run in_cancel call_in_cancel.xml -- --wait --answer ring
check "in: the caller's CANCEL gets 200 and the INVITE 487 (sipp rc $SIPP_RC)" test $SIPP_RC -eq 0
check "in: ... the agent reports it cancelled" ev in_cancel '"why":"cancelled","status":487'
finish
