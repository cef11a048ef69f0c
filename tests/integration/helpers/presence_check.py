#!/usr/bin/env python3
"""presence_check: the presence scenarios of server_presence.sh against a
running server (tests/tools/presua.py as the client). Prints "ok NAME" /
"not ok NAME - why" lines. Arguments: SIP_PORT PROBE_PORT, then
NUMBER_A USER_A1 PASS_A1 USER_A2 PASS_A2 NUMBER_B USER_B PASS_B."""
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../tools"))
sys.path.insert(0, os.path.dirname(__file__))
import tapcheck  # noqa: E402
from tapcheck import check  # noqa: E402
from presua import UA, header, pidf  # noqa: E402

port, probe = int(sys.argv[1]), int(sys.argv[2])
num_a, ua1, pa1, ua2, pa2, num_b, ub, pb = sys.argv[3:11]


def probe_once(sock, n=1, size=64):
    """Sends N probe requests; returns the sizes of the echoes received."""
    got = []
    for i in range(n):
        # struct netq_probe_hdr: magic, train, idx, count, dir, flags, delay
        hdr = struct.pack("<IIHHBBH", 0x514e4c44, 7, i, n, 1, 0, 0)
        sock.send(hdr + b"\0" * (size - len(hdr)))
    end = time.time() + 1.0
    while time.time() < end:
        sock.settimeout(max(0.01, end - time.time()))
        try:
            d = sock.recv(4096)
        except socket.timeout:
            break
        if struct.unpack("<I", d[:4])[0] == 0x514e4c44 and d[12] == 2:
            got.append(len(d))
    return got


# the reflector first: nothing has authenticated from 127.0.0.1 yet
ps = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
ps.connect(("127.0.0.1", probe))
check("reflector: an unauthenticated source gets no echo",
      probe_once(ps) == [])

a1 = UA(port, num_a, ua1, pa1)
a2 = UA(port, num_a, ua2, pa2)
b = UA(port, num_b, ub, pb)
st, _ = a1.register(300)
check("device A1 registers (its tuple is open)", st == 200, st)

st, m, _ = b.subscribe(num_a, 60, auth_user=False)
b.user, saved = None, b.user
st, m, _ = b.subscribe(num_a, 60)
b.user = saved
check("unauthenticated SUBSCRIBE -> 407", st == 407 and
      header(m, "Proxy-Authenticate"), st)
st, m, _ = b.subscribe(num_a, 60, event="dialog")
check("SUBSCRIBE Event: dialog -> 489 with Allow-Events",
      st == 489 and header(m, "Allow-Events") == "presence", st)
st, m = a1.publish(60, event="reg", rate_kbps=1)
check("PUBLISH Event: reg -> 489", st == 489, st)

# the reflector answers once its source authenticated, echoing as many
# bytes as it received, and rate-limits a flood
got = probe_once(ps, 1, 200)
check("reflector: echo after authentication, same size", got == [200], got)
got = probe_once(ps, 300, 100)
check("reflector: a 300-packet flood is cut to the burst (<= 140 echoes)",
      100 <= len(got) <= 140, len(got))

st, m, cid = b.subscribe(num_a, 60)
check("SUBSCRIBE A -> 200 with a To tag, Contact, Expires",
      st == 200 and ";tag=" in (header(m, "To") or "") and
      header(m, "Contact") and header(m, "Expires") == "60", st)
n = b.wait_notify(3)
check("first NOTIFY at once, active, PIDF",
      n and n["state"].startswith("active;expires=") and
      n["ctype"] == "application/pidf+xml", n)
check("first NOTIFY: A1 registered -> one open tuple, no figures",
      n and len(n["tuples"]) == 1 and n["tuples"][0]["basic"] == "open" and
      n["tuples"][0]["netq"] is None, n)

st, m = a1.publish(2, netq={"link": "up", "rate_kbps": 2400, "rtt_ms": 85,
                            "loss_ppm": 1200, "age_s": 4})
etag = header(m, "SIP-ETag")
check("PUBLISH figures -> 200 with SIP-ETag and Expires",
      st == 200 and etag and header(m, "Expires") == "2", (st, m))
t_pub = time.time()
n = b.wait_notify(3)
q = n and n["tuples"] and n["tuples"][0]["netq"]
check("watcher's NOTIFY carries the dl:netq figures",
      q and q.get("rate_kbps") == 2400 and q.get("rtt_ms") == 85 and
      q.get("loss_ppm") == 1200 and q.get("link") == "up" and
      q.get("age_s", 0) >= 4, n)
check("NOTIFY's presence-level netq is the best device's",
      n and n["netq"] and n["netq"].get("rate_kbps") == 2400, n)

st, m = a1.publish(60, raw="<presence><tuple>", netq=None)
check("PUBLISH bad PIDF -> 400", st == 400, st)
st, m = a1.publish(60, raw="hello", ctype="text/plain")
check("PUBLISH text/plain -> 415 with Accept", st == 415 and
      header(m, "Accept") == "application/pidf+xml", st)
st, m = a1.publish(60, etag="00000000deadbeef", rate_kbps=1)
check("PUBLISH SIP-If-Match unknown -> 412", st == 412, st)
st, m = a1.publish(60, number=num_b, rate_kbps=1)
check("PUBLISH for another number -> 403", st == 403, st)
st, m = a1.publish(60, raw=pidf({"rate_kbps": 1}) + " " * 9000)
check("PUBLISH body over the bound -> 413", st == 413, st)

# expiry of the publication: NOTIFY with the tuple still open (binding)
# and no figures
n = b.wait_notify(5, lambda n: n["tuples"] and
                  n["tuples"][0]["netq"] is None)
check("publication expiry -> NOTIFY without figures",
      n and n["netq"] is None and n["tuples"][0]["basic"] == "open", n)
check("... within 2 s of the expiry", n and n["t"] - t_pub < 4.5,
      n and n["t"] - t_pub)

# presence follows reachability: a device that is not registered has
# nothing to publish (docs/presence.md, "When a device goes offline")
st, m = a2.publish(60, rate_kbps=5000, rtt_ms=20, link="up")
check("PUBLISH from a device without a binding -> 403", st == 403, st)

# two devices of one number aggregate
st1, m1 = a1.publish(60, rate_kbps=1000, rtt_ms=120, link="up")
b.wait_notify(3)
st, _ = a2.register(300)
b.wait_notify(3, lambda n: len(n["tuples"]) == 2)
st2, m2 = a2.publish(60, rate_kbps=5000, rtt_ms=20, link="up")
n = b.wait_notify(3, lambda n: len([t for t in n["tuples"]
                                    if t["netq"]]) == 2)
rates = sorted((t["netq"] or {}).get("rate_kbps", 0) for t in
               (n["tuples"] if n else []))
check("two devices of A -> two tuples with their own figures",
      st1 == 200 and st2 == 200 and rates == [1000, 5000], n)
check("aggregate = the best device (5000 kbit/s, 20 ms)",
      n and n["netq"] and n["netq"].get("rate_kbps") == 5000 and
      n["netq"].get("rtt_ms") == 20, n)

# refresh with SIP-If-Match and no body: 200, a new etag, no NOTIFY
e2 = header(m2, "SIP-ETag")
st, m = a2.publish(60, etag=e2)
check("PUBLISH refresh (SIP-If-Match, no body) -> 200, new SIP-ETag",
      st == 200 and header(m, "SIP-ETag") not in (None, e2), st)
# remove A2's publication
st, m = a2.publish(0, etag=header(m, "SIP-ETag"))
n = b.wait_notify(3, lambda n: len([t for t in n["tuples"]
                                    if t["netq"]]) == 1)
check("PUBLISH Expires: 0 removes -> NOTIFY with A1's figures only",
      st == 200 and n and n["netq"]["rate_kbps"] == 1000, (st, n))

# fetch: Expires 0 -> one NOTIFY terminated
st, m, _ = b.subscribe(num_a, 0)
n = b.wait_notify(3, lambda n: n["state"].startswith("terminated"))
check("fetch (Expires: 0) -> 200 then NOTIFY terminated;reason=timeout",
      st == 200 and n and n["state"] == "terminated;reason=timeout", (st, n))

# another device cannot touch B's dialog even knowing its identifiers
st, m, _ = a1.subscribe(num_a, 0, call_id=cid, to_tag=b.dialogs[cid])
check("another device's in-dialog SUBSCRIBE -> 481", st == 481, st)

# unsubscribe in the dialog (a NOTIFY of a state change sent just before
# may still be on its way: the terminated one is what must come)
st, m, _ = b.subscribe(num_a, 0, call_id=cid, to_tag=b.dialogs[cid])
n = b.wait_notify(3, lambda n: n["call_id"] == cid and
                  n["state"].startswith("terminated"))
check("unsubscribe in the dialog -> 200 + NOTIFY terminated",
      st == 200 and n and n["state"].startswith("terminated"), (st, n))
st, m, _ = b.subscribe(num_a, 60, call_id=cid, to_tag="nosuchtag")
check("SUBSCRIBE refresh of an unknown dialog -> 481", st == 481, st)

# registration gone: with no publication left, A1's unregistering leaves
# A with no device (one closed tuple); registering again opens it
st, _ = a2.register(0)
check("A2 unregisters (REGISTER Expires: 0)", st == 200, st)
st, m = a1.publish(60, rate_kbps=5, link="up")
e1 = header(m, "SIP-ETag")
b2 = UA(port, num_b, ub, pb)
st, m, cid3 = b2.subscribe(num_a, 60)
b2.wait_notify(3)
st, m = a1.publish(0, etag=e1)
b2.wait_notify(3)
st, _ = a1.register(0)
n = b2.wait_notify(3)
check("REGISTER removing A's last binding -> NOTIFY closed",
      st == 200 and n and len(n["tuples"]) == 1 and
      n["tuples"][0]["basic"] == "closed", (st, n))
st, _ = a1.register(300)
n = b2.wait_notify(3)
check("REGISTER adding a binding -> NOTIFY open",
      st == 200 and n and n["tuples"][0]["basic"] == "open", (st, n))
st, m, _ = b2.subscribe(num_a, 0, call_id=cid3, to_tag=b2.dialogs[cid3])

# a watcher whose NOTIFY is answered 481 loses its subscription
c = UA(port, num_b, ub, pb)
st, m, cid2 = c.subscribe(num_a, 60)
c.wait_notify(3)
c.notify_answer = 481
a1.publish(60, rate_kbps=777)
c.wait_notify(3)
st, m, _ = c.subscribe(num_a, 60, call_id=cid2, to_tag=c.dialogs[cid2])
check("NOTIFY answered 481 ends the subscription (refresh -> 481)",
      st == 481, st)

sys.exit(tapcheck.failed)
