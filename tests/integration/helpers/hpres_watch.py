#!/usr/bin/env python3
"""hpres_watch: the watcher of handset_presence.sh. SUBSCRIBEs (RFC 6665)
to a handset's number with tests/tools/presua.py and checks the figures
the handset's daemon PUBLISHes: first a probed rate of at least HIGH kbit/s
with the link up and an RTT, then, after running the --shape command, a
rate of at most LOW kbit/s; after the --stop command, a NOTIFY without the
handset's figures. Prints "ok NAME" / "not ok NAME - why" and "# ..." lines.
Arguments: HOST PORT NUMBER USER PASSWORD TARGET HIGH LOW --shape CMD
--stop CMD [--wait S]."""
import argparse
import json
import os
import shlex
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../tools"))
from presua import UA  # noqa: E402

ap = argparse.ArgumentParser()
for a in ("host", "port", "number", "user", "password", "target", "high", "low"):
    ap.add_argument(a)
ap.add_argument("--shape", required=True)
ap.add_argument("--stop", required=True)
ap.add_argument("--wait", type=float, default=60)
a = ap.parse_args()
failed = 0


def res(ok, name, why=""):
    global failed
    print(("ok %s" % name) if ok else ("not ok %s - %s" % (name, why)))
    failed |= not ok
    sys.stdout.flush()


def figures(n):
    """The handset's dl:netq figures in a NOTIFY (first tuple with any)."""
    for t in n.get("tuples") or []:
        if t.get("netq"):
            return t["netq"]
    return None


def wait_for(ua, pred, what):
    end = time.time() + a.wait
    last = None
    while time.time() < end:
        n = ua.wait_notify(timeout=end - time.time())
        if n is None:
            break
        last = figures(n)
        print("# NOTIFY %s" % json.dumps(last))
        if pred(last, n):
            return True, last
    res(False, what, "last figures seen: %s" % json.dumps(last))
    return False, None


ua = UA(int(a.port), a.number, a.user, a.password, "tcp", host=a.host)
st, _, _ = ua.subscribe(a.target, expires=600)
res(st == 200, "watcher subscribed to the handset (%d)" % st)

seen, f = wait_for(ua, lambda q, n: q and q.get("rate_kbps", 0) >= int(a.high),
                   "published probed rate >= %s kbit/s" % a.high)
if seen:
    res(True, "published probed rate %s kbit/s >= %s on the unshaped link"
        % (f["rate_kbps"], a.high))
    res(f.get("link") == "up", "published link up (%s)" % f.get("link"))
    res("rtt_ms" in f, "published an RTT (%s ms)" % f.get("rtt_ms"))
    res("age_s" in f, "published the age (%s s)" % f.get("age_s"))

subprocess.run(shlex.split(a.shape), check=True)
t0 = time.time()
seen, f = wait_for(ua, lambda q, n: q and "rate_kbps" in q and
                   q["rate_kbps"] <= int(a.low),
                   "published rate <= %s kbit/s after shaping" % a.low)
if seen:
    res(True, "published rate fell to %s kbit/s (<= %s) %.0f s after shaping"
        % (f["rate_kbps"], a.low, time.time() - t0))

subprocess.run(shlex.split(a.stop), check=True)
seen, _ = wait_for(ua, lambda q, n: q is None,
                   "figures gone once the daemon stopped")
if seen:
    res(True, "the handset's figures are gone once its daemon stopped")
sys.exit(failed)
