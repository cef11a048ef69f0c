#!/usr/bin/env python3
"""presence_fanout: time from one PUBLISH to the last of the NOTIFYs it
causes, with W watchers (subscriptions) spread over S client sockets.
Arguments: PORT TRANSPORT W S RUNS NUMBER_A USER_A PASS_A NUMBER_B USER_B
PASS_B. Prints one line: "W S TRANSPORT median_ms min_ms max_ms"."""
import os
import re
import select
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../tools"))
from presua import UA  # noqa: E402

port, tp, W, S, runs = (int(sys.argv[1]), sys.argv[2], int(sys.argv[3]),
                        int(sys.argv[4]), int(sys.argv[5]))
num_a, ua, pa, num_b, ub, pb = sys.argv[6:12]

# the publisher registers first: presence follows reachability (only a
# registered device may publish, docs/presence.md), and an authenticated
# connection is not closed while the watchers subscribe
pub = UA(port, num_a, ua, pa, "tcp")
st, _ = pub.register(3600)
if st != 200:
    sys.exit("register: %d" % st)
watchers = [UA(port, num_b, ub, pb, tp) for _ in range(S)]
for i in range(W):
    w = watchers[i % S]
    st, _, _ = w.subscribe(num_a, 3600)
    if st != 200:
        sys.exit("subscribe %d: %d" % (i, st))
for w in watchers:     # the initial NOTIFYs
    w.pump(0.3)
    w.notifies.clear()

t_sub = time.time()
rx = re.compile(rb"<dl:rate-kbps[^>]*>(\d+)<")


def answer(w, msg):
    head = msg.split(b"\r\n\r\n", 1)[0].decode()
    lines = head.split("\r\n")
    keep = [l for l in lines[1:] if l.split(":", 1)[0].strip().lower() in
            ("via", "v", "from", "f", "to", "t", "call-id", "i", "cseq")]
    w.send("SIP/2.0 200 OK\r\n" + "\r\n".join(keep) +
           "\r\nContent-Length: 0\r\n\r\n")


def collect(want_rate, deadline):
    """Reads every socket until W NOTIFYs with WANT_RATE came; the time of
    the last one."""
    got, last = 0, None
    socks = {w.s: w for w in watchers}
    while got < W and time.time() < deadline:
        r, _, _ = select.select(list(socks), [], [], 0.5)
        for s in r:
            w = socks[s]
            data = s.recv(1 << 20)
            t = time.time()
            msgs = []
            if tp == "udp":
                msgs = [data]
            else:
                w.buf += data
                while True:
                    w.buf = w.buf.lstrip(b"\r\n")
                    head, sep, rest = w.buf.partition(b"\r\n\r\n")
                    if not sep:
                        break
                    g = re.search(rb"(?im)^(?:content-length|l)\s*:\s*(\d+)",
                                  head)
                    n = int(g.group(1)) if g else 0
                    if len(rest) < n:
                        break
                    msgs.append(head + sep + rest[:n])
                    w.buf = rest[n:]
            for m in msgs:
                if not m.startswith(b"NOTIFY "):
                    continue
                answer(w, m)
                g = rx.search(m)
                if g and int(g.group(1)) == want_rate:
                    got += 1
                    last = t
    return got, last


times = []
for run in range(runs):
    rate = 1000 + run
    t0 = time.time()
    st, _ = pub.publish(600, rate_kbps=rate, rtt_ms=30, link="up")
    if st != 200:
        sys.exit("publish: %d" % st)
    got, last = collect(rate, t0 + 30)
    if got < W:
        sys.exit("only %d of %d NOTIFYs" % (got, W))
    times.append((last - t0) * 1000)
    time.sleep(0.3)
times.sort()
print("%d %d %s %.1f %.1f %.1f" % (W, S, tp, times[len(times) // 2],
                                   times[0], times[-1]))
