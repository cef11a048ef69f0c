#!/usr/bin/env python3
"""discover_client: a small client of POST /v1/contacts/discover for the
tests and the bench (stdlib only). HTTP Digest per RFC 7616 (SHA-256 or
MD5, qop=auth, nonce-count), over HTTPS (or plain HTTP with --http).

Runs ACTIONs in order, one connection each (the server closes after every
reply), and prints one JSON line per action:
  {"action": "lookup", "status": 200, "retry_after": null,
   "challenges": [...], "body": {...}}
Actions:
  lookup      authenticated, the numbers of --numbers / --numbers-file
              (a fresh nonce is fetched when there is none or it went stale)
  noauth      the same request without credentials
  wrongpass   credentials made with a wrong password
  replay      the last authenticated request again, same nonce and nc
  wronguri    credentials whose digest uri is another path than the
              request's (the response is right for that uri)
  rawbody     authenticated, the bytes of --body-file as the body
  bigcl       headers announcing --big-cl bytes and no body: the server
              must refuse before reading
  bench       --count lookups as fast as possible (prints requests/s)
Exit status 0 when every action got an answer, 2 on I/O errors.
"""
import argparse
import hashlib
import http.client
import json
import os
import re
import socket
import ssl
import sys
import time

PATH = "/v1/contacts/discover"


def parse_challenge(value):
    """Digest params of one WWW-Authenticate value, or None."""
    if not value.lower().startswith("digest "):
        return None
    params = {}
    for m in re.finditer(r'(\w+)=("((?:[^"\\]|\\.)*)"|[^,\s]+)', value[7:]):
        params[m.group(1).lower()] = (m.group(3) if m.group(3) is not None
                                      else m.group(2))
    return params


def h(alg, s):
    f = hashlib.sha256 if alg == "SHA-256" else hashlib.md5
    return f(s.encode()).hexdigest()


class Client:
    def __init__(self, a):
        self.a = a
        self.ch = None      # the challenge in use (dict)
        self.nc = 0
        self.last_auth = None
        if a.http:
            self.ctx = None
        else:
            self.ctx = ssl.create_default_context(cafile=a.cafile)
            self.ctx.check_hostname = False
            if not a.cafile:
                self.ctx.verify_mode = ssl.CERT_NONE

    def conn(self):
        if self.ctx is None:
            return http.client.HTTPConnection(self.a.host, self.a.port,
                                              timeout=self.a.timeout)
        return http.client.HTTPSConnection(self.a.host, self.a.port,
                                           timeout=self.a.timeout,
                                           context=self.ctx)

    def send(self, body, auth=None):
        c = self.conn()
        hdrs = {"Content-Type": "application/json"}
        if auth:
            hdrs["Authorization"] = auth
        c.request("POST", PATH, body=body, headers=hdrs)
        r = c.getresponse()
        data = r.read()
        chs = r.msg.get_all("WWW-Authenticate") or []
        c.close()
        try:
            js = json.loads(data) if data else None
        except ValueError:
            js = data.decode(errors="replace")
        return {"status": r.status, "retry_after": r.getheader("Retry-After"),
                "challenges": chs, "body": js}

    def pick(self, chs):
        want = self.a.alg
        for v in chs:
            p = parse_challenge(v)
            if p and p.get("algorithm", "MD5").upper() == want:
                return p
        return None

    def authorization(self, password, uri=PATH):
        ch = self.ch
        alg = ch.get("algorithm", "MD5").upper()
        self.nc += 1
        nc = "%08x" % self.nc
        cnonce = os.urandom(8).hex()
        ha1 = h(alg, "%s:%s:%s" % (self.a.user, ch["realm"], password))
        ha2 = h(alg, "POST:%s" % uri)
        resp = h(alg, "%s:%s:%s:%s:auth:%s" % (ha1, ch["nonce"], nc, cnonce,
                                                ha2))
        return ('Digest username="%s", realm="%s", nonce="%s", uri="%s", '
                'algorithm=%s, qop=auth, nc=%s, cnonce="%s", response="%s"'
                % (self.a.user, ch["realm"], ch["nonce"], uri, alg, nc,
                   cnonce, resp))

    def authed(self, body, password=None):
        pw = self.a.password if password is None else password
        for _ in range(3):
            if self.ch is None:
                r = self.send(body)
                if r["status"] != 401:
                    return r
                self.ch = self.pick(r["challenges"])
                self.nc = 0
                if self.ch is None:
                    return r
            auth = self.authorization(pw)
            r = self.send(body, auth)
            self.last_auth = auth
            if r["status"] == 401:
                stale = any((parse_challenge(v) or {}).get("stale", "")
                            .lower() == "true" for v in r["challenges"])
                if stale:
                    self.ch = None
                    continue
            return r
        return r

    def bigcl(self, n):
        raw = socket.create_connection((self.a.host, self.a.port),
                                       timeout=self.a.timeout)
        s = raw if self.ctx is None else self.ctx.wrap_socket(raw)
        s.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: "
                   "application/json\r\nContent-Length: %d\r\n\r\n"
                   % (PATH, n)).encode())
        data = b""
        t0 = time.time()
        try:
            while b"\r\n" not in data and time.time() - t0 < self.a.timeout:
                d = s.recv(4096)
                if not d:
                    break
                data += d
        except OSError:
            pass
        s.close()
        m = re.match(rb"HTTP/1\.[01] (\d{3})", data)
        return {"status": int(m.group(1)) if m else None,
                "retry_after": None, "challenges": [], "body": None}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--http", action="store_true", help="plain HTTP")
    ap.add_argument("--cafile")
    ap.add_argument("--user", default="")
    ap.add_argument("--pass", dest="password", default="")
    ap.add_argument("--alg", default="SHA-256", choices=["SHA-256", "MD5"])
    ap.add_argument("--numbers", default="",
                    help="comma-separated entries")
    ap.add_argument("--numbers-file", help="a JSON array of entries")
    ap.add_argument("--body-file")
    ap.add_argument("--big-cl", type=int, default=70000)
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--timeout", type=float, default=10)
    ap.add_argument("actions", nargs="+")
    a = ap.parse_args()

    if a.numbers_file:
        with open(a.numbers_file) as f:
            numbers = json.load(f)
    else:
        numbers = [x for x in a.numbers.split(",") if x]
    body = json.dumps({"numbers": numbers}).encode()
    cl = Client(a)
    rc = 0
    for act in a.actions:
        try:
            if act == "lookup":
                r = cl.authed(body)
            elif act == "noauth":
                r = cl.send(body)
            elif act == "wrongpass":
                saved = (cl.ch, cl.nc)
                r = cl.authed(body, password=a.password + "x")
                cl.ch, cl.nc = saved
            elif act == "replay":
                r = cl.send(body, cl.last_auth)
            elif act == "wronguri":
                if cl.ch is None:
                    cl.ch = cl.pick(cl.send(body)["challenges"])
                    cl.nc = 0
                r = cl.send(body, cl.authorization(a.password, "/v1/other"))
            elif act == "rawbody":
                with open(a.body_file, "rb") as f:
                    r = cl.authed(f.read())
            elif act == "bigcl":
                r = cl.bigcl(a.big_cl)
            elif act == "bench":
                cl.authed(body)
                t0 = time.time()
                ok = 0
                for _ in range(a.count):
                    ok += cl.authed(body)["status"] == 200
                dt = time.time() - t0
                r = {"status": 200 if ok == a.count else 0, "ok": ok,
                     "seconds": dt, "rps": a.count / dt}
            else:
                print("unknown action " + act, file=sys.stderr)
                return 1
        except (OSError, http.client.HTTPException) as e:
            r = {"status": None, "error": str(e)}
            rc = 2
        r["action"] = act
        print(json.dumps(r), flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
