#!/usr/bin/env python3
"""presence_offline_check: the "device goes offline" scenarios of
server_presence_offline.sh against a running server (docs/presence.md,
"When a device goes offline"), with tests/tools/presua.py as the client.
Prints "ok NAME" / "not ok NAME - why" lines and "# time-to-NOTIFY" lines.
Arguments: SIP_PORT KEEPALIVE_S GC_S, then six NUMBER USER PASS triples:
A1, A2 (one number), the watcher W, C (expiry), D (killed), E (UDP)."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../tools"))
sys.path.insert(0, os.path.dirname(__file__))
import tapcheck  # noqa: E402
from tapcheck import check  # noqa: E402
from presua import UA, header  # noqa: E402

port, ka_s, gc_s = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
(na, a1u, a1p), (_, a2u, a2p), (nw, wu, wp), (nc, cu, cp), \
    (nd, du, dp), (ne, eu, ep) = [tuple(sys.argv[i:i + 3])
                                  for i in range(4, 22, 3)]


def of(number):
    """NOTIFYs about NUMBER (the watcher holds one dialog per number)."""
    return lambda n: (n.get("entity") or "").startswith("sip:%s@" % number)


def rated(n):
    return sorted((t["netq"] or {}).get("rate_kbps", 0)
                  for t in n["tuples"])


def closed_none(n):
    return (len(n["tuples"]) == 1 and n["tuples"][0]["basic"] == "closed"
            and n["tuples"][0]["netq"] is None and n["netq"] is None)


def settle(number):
    """Reads what is in flight and forgets NUMBER's NOTIFYs so far: the
    next one matched is caused by what the test does next."""
    w.pump(0.3)
    w.notifies = [x for x in w.notifies if not of(number)(x)]


def ms(n, t0):
    return "%.0f ms" % ((n["t"] - t0) * 1000) if n else "no NOTIFY"


w = UA(port, nw, wu, wp)


def watch(number, label):
    st, _, _ = w.subscribe(number, 300)
    n = w.wait_notify(3, of(number))
    check("watcher subscribes to %s -> 200 + NOTIFY" % label,
          st == 200 and n is not None, (st, n))


def publish_ok(ua, label, rate, expires=300):
    st, _ = ua.register(expires)
    st2, m = ua.publish(300, rate_kbps=rate, link="up")
    check("%s registers and publishes (%d kbit/s)" % (label, rate),
          st == 200 and st2 == 200, (st, st2))
    return header(m, "SIP-ETag")


# ---- (1) unregistration: REGISTER Expires: 0 -> at once
a1 = UA(port, na, a1u, a1p)
a2 = UA(port, na, a2u, a2p)
watch(na, "A")
e1 = publish_ok(a1, "A1", 1000)
publish_ok(a2, "A2", 5000)
n = w.wait_notify(3, lambda n: of(na)(n) and rated(n) == [1000, 5000])
check("A: two open tuples with figures", n is not None and
      all(t["basic"] == "open" for t in n["tuples"]), n)
settle(na)
t0 = time.time()
st, _ = a1.register(0)
n = w.wait_notify(3, lambda n: of(na)(n) and rated(n) == [5000])
print("# time-to-NOTIFY unregistration: %s" % ms(n, t0), flush=True)
check("(1) A1 unregisters -> NOTIFY without A1: A2's tuple only, open",
      n is not None and len(n["tuples"]) == 1 and
      n["tuples"][0]["basic"] == "open", n)
check("(1) ... the aggregate is A2's (5000 kbit/s)",
      n is not None and n["netq"] and n["netq"].get("rate_kbps") == 5000, n)
check("(1) ... at once (< 1 s)", n is not None and n["t"] - t0 < 1.0,
      ms(n, t0))
st, _ = a1.publish(300, etag=e1)
check("(1) A1 unregistered: PUBLISH refresh -> 403 Not Registered",
      st == 403, st)
st, _ = a1.register(300)
w.wait_notify(3, lambda n: of(na)(n) and len(n["tuples"]) == 2)
st2, _ = a1.publish(300, etag=e1)
check("(1) A1 registers again: its old publication is gone (refresh "
      "-> 412)", st == 200 and st2 == 412, (st, st2))

# ---- (3a) flow death: A2's TCP connection closed -> once found dead
settle(na)
t0 = time.time()
a2.s.close()
n = w.wait_notify(3, lambda n: of(na)(n) and len(n["tuples"]) == 1)
print("# time-to-NOTIFY TCP close: %s" % ms(n, t0), flush=True)
check("(3) A2's TCP connection closed -> NOTIFY with A1's tuple only "
      "(open, no figures: A1 has not published again)",
      n is not None and n["tuples"][0]["basic"] == "open" and
      n["tuples"][0]["netq"] is None, n)
check("(3) ... at once (< 1 s)", n is not None and n["t"] - t0 < 1.0,
      ms(n, t0))

# ---- (3b) flow death: the device's process is killed (kernel closes it)
watch(nd, "D")
cmd = [sys.executable, os.path.join(os.path.dirname(__file__),
                                    "../../tools/presua.py"),
       "--port", str(port), "--number", nd, "--user", du, "--password", dp]
p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                     text=True)
p.stdin.write("register 300\npublish rate_kbps=300 link=up expires=300\n")
p.stdin.flush()
r1, r2 = p.stdout.readline(), p.stdout.readline()
check("D registers and publishes (a separate process)",
      '"status": 200' in r1 and '"status": 200' in r2, (r1, r2))
n = w.wait_notify(3, lambda n: of(nd)(n) and rated(n) == [300])
check("D: its tuple is open with its figures", n is not None, n)
settle(nd)
t0 = time.time()
p.kill()
p.wait()
n = w.wait_notify(3, lambda n: of(nd)(n) and closed_none(n))
print("# time-to-NOTIFY process killed: %s" % ms(n, t0), flush=True)
check("(3) D's process killed -> NOTIFY: no device, basic closed",
      n is not None, n)
check("(3) ... at once (< 1 s)", n is not None and n["t"] - t0 < 1.0,
      ms(n, t0))

# ---- (3c) flow death: a UDP device stops answering the server's pings
e = UA(port, ne, eu, ep, tp="udp")
watch(ne, "E")
publish_ok(e, "E (UDP)", 700)
t_last = time.time()   # E's last message; from now on it reads nothing
n = w.wait_notify(3, lambda n: of(ne)(n) and rated(n) == [700])
check("E: its tuple is open with its figures", n is not None, n)
settle(ne)
bound = 2 * ka_s + ka_s / 2 + 2.5
n = w.wait_notify(bound + 3, lambda n: of(ne)(n) and closed_none(n))
print("# time-to-NOTIFY UDP keep-alive failure: %s after the device fell "
      "silent (keep-alive interval %d s)" % (ms(n, t_last), ka_s),
      flush=True)
check("(3) E silent over UDP -> NOTIFY closed once its flow is dead",
      n is not None, n)
check("(3) ... within 2.5 keep-alive intervals + 2.5 s (%.1f s)" % bound,
      n is not None and n["t"] - t_last <= bound, ms(n, t_last))
# it speaks again: the flow is back, the watcher sees it open
st, _ = e.register(300)
n = w.wait_notify(3, lambda n: of(ne)(n) and n["tuples"][0]["basic"] ==
                  "open")
check("E registers again -> NOTIFY open", st == 200 and n is not None,
      (st, n))

# ---- (2) binding expiry: within the registrar's gc interval
c = UA(port, nc, cu, cp)
watch(nc, "C")
t_exp = int(time.time()) + 3   # the registrar counts whole seconds
publish_ok(c, "C (Expires: 3)", 900, expires=3)
n = w.wait_notify(3, lambda n: of(nc)(n) and rated(n) == [900])
check("C: its tuple is open with its figures", n is not None, n)
settle(nc)
n = w.wait_notify(3 + gc_s + 4, lambda n: of(nc)(n) and closed_none(n))
print("# time-to-NOTIFY binding expiry: %s after the expiry (gc every "
      "%d s)" % (ms(n, t_exp), gc_s), flush=True)
check("(2) C's binding expires -> NOTIFY: no device, basic closed",
      n is not None, n)
check("(2) ... within the gc interval + 2 s of the expiry",
      n is not None and n["t"] - t_exp <= gc_s + 2, ms(n, t_exp))
st, _ = c.publish(300, rate_kbps=1)
check("(2) C, expired, publishes -> 403 Not Registered", st == 403, st)

sys.exit(tapcheck.failed)
