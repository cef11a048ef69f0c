#!/usr/bin/env python3
"""fake_kannel: a stand-in for Kannel's sendsms HTTP interface on loopback,
for testing dataline-server's http: SMS gateway.

  fake_kannel.py PORT STATE_DIR

STATE_DIR/fail holds how many requests to refuse next (with 503), read and
decremented on every request (write a big number to make it fail for good,
0 to heal it). Every request is appended to STATE_DIR/requests as
"<status>\t<to>\t<text>" (query decoded); accepted ones answer
202 "0: Accepted for delivery" like Kannel does.
"""
import os
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1])
STATE = sys.argv[2]


def take_failure():
    path = os.path.join(STATE, "fail")
    try:
        with open(path) as f:
            n = int(f.read().strip() or 0)
    except FileNotFoundError:
        n = 0
    if n > 0:
        with open(path + ".tmp", "w") as f:
            f.write(str(n - 1))
        os.replace(path + ".tmp", path)
        return True
    return False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        ok = u.path == "/cgi-bin/sendsms" and "to" in q and "text" in q
        status = 503 if take_failure() else (202 if ok else 400)
        with open(os.path.join(STATE, "requests"), "a") as f:
            f.write("%d\t%s\t%s\n" % (status, q.get("to", [""])[0],
                                      q.get("text", [""])[0]))
        body = b"0: Accepted for delivery" if status == 202 else b"Temporary failure"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
