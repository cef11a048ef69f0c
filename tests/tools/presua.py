#!/usr/bin/env python3
"""presua: a small SIP presence user agent for dataline's tests and bench
(stdlib only). Over TCP (one connection per UA, so the server's NOTIFYs
come back on it, RFC 5626-style) or UDP. Digest (MD5 or SHA-256, qop=auth)
for 401 and 407, REGISTER, PUBLISH (RFC 3903) with PIDF + dl:netq,
SUBSCRIBE (RFC 6665) and NOTIFY received (answered 200, or a chosen code).

As a library:   ua = UA(port, number, user, password); ua.register()
                st, resp = ua.publish(rate_kbps=2400, rtt_ms=85, expires=60)
                st, resp = ua.subscribe("+86...", expires=60)
                n = ua.wait_notify(timeout=3)   # dict: state, tuples, netq
As a command (stdin-driven, one JSON event per line on stdout):
    presua.py --port P --number N --user U --password W [--tcp|--udp]
    register [EXPIRES] | publish k=v... [expires=N] | subscribe NUMBER [EXPIRES]
    | wait [SECONDS] | quit
"""
import argparse
import hashlib
import json
import os
import re
import select
import socket
import sys
import time
import xml.etree.ElementTree as ET

DOMAIN = "dataline.local"
PIDF_NS = "urn:ietf:params:xml:ns:pidf"
NETQ_NS = "urn:dataline:params:xml:ns:pidf:netq"


def hx(alg, s):
    h = hashlib.sha256 if alg.upper() == "SHA-256" else hashlib.md5
    return h(s.encode()).hexdigest()


def status(m):
    g = re.match(r"SIP/2\.0 (\d{3})", m or "")
    return int(g.group(1)) if g else 0


def header(m, name):
    for line in (m or "").split("\r\n\r\n", 1)[0].split("\r\n")[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == name.lower():
            return v.strip()
    return None


def body(m):
    return (m or "").split("\r\n\r\n", 1)[1] if "\r\n\r\n" in (m or "") else ""


def pidf(netq=None, basic="open", entity="sip:x@" + DOMAIN, tid="t1"):
    """A PIDF document with one tuple carrying NETQ (a dict)."""
    q = ""
    if netq is not None:
        parts = []
        if "link" in netq:
            parts.append("<dl:link>%s</dl:link>" % netq["link"])
        if "rate_kbps" in netq:
            parts.append('<dl:rate-kbps probed="true">%s</dl:rate-kbps>'
                         % netq["rate_kbps"])
        for k, el in (("rtt_ms", "rtt-ms"), ("loss_ppm", "loss-ppm"),
                      ("age_s", "age-s")):
            if k in netq:
                parts.append("<dl:%s>%s</dl:%s>" % (el, netq[k], el))
        q = "<dl:netq>%s</dl:netq>" % "".join(parts)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<presence xmlns="%s" xmlns:dl="%s" entity="%s">'
            '<tuple id="%s"><status><basic>%s</basic></status>%s</tuple>'
            '</presence>' % (PIDF_NS, NETQ_NS, entity, tid, basic, q))


def parse_netq(el):
    out = {}
    if el is None:
        return None
    for child in el:
        k = child.tag.split("}")[-1].replace("-", "_")
        t = (child.text or "").strip()
        out[k] = int(t) if t.isdigit() else t
    return out


def parse_pidf(text):
    """{'tuples': [{'id','basic','netq'}], 'netq': {...} or None}"""
    root = ET.fromstring(text)
    tuples = []
    for t in root.findall("{%s}tuple" % PIDF_NS):
        b = t.find("{%s}status/{%s}basic" % (PIDF_NS, PIDF_NS))
        tuples.append({"id": t.get("id"),
                       "basic": b.text.strip() if b is not None else None,
                       "netq": parse_netq(t.find("{%s}netq" % NETQ_NS))})
    return {"entity": root.get("entity"), "tuples": tuples,
            "netq": parse_netq(root.find("{%s}netq" % NETQ_NS))}


class UA:
    def __init__(self, port, number, user=None, password=None, tp="tcp",
                 host="127.0.0.1", alg=None):
        self.host, self.port, self.tp = host, port, tp
        self.number, self.user, self.password = number, user, password
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM
                               if tp == "tcp" else socket.SOCK_DGRAM)
        if tp == "tcp":
            self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        else:  # a fan-out burst of NOTIFYs must not overflow it
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.s.connect((host, port))
        self.lport = self.s.getsockname()[1]
        self.buf = b""
        self.cseq = 0
        self.nc = 0
        self.chal = None          # the last challenge (dict)
        self.notifies = []        # parsed NOTIFYs not yet taken
        self.notify_answer = 200  # what NOTIFYs get
        self.tag = os.urandom(4).hex()
        self.dialogs = {}         # call-id -> dict(to_tag)

    # ---------------------------------------------------------- wire
    def send(self, msg):
        data = msg.encode() if isinstance(msg, str) else msg
        if self.tp == "tcp":
            self.s.sendall(data)
        else:
            self.s.send(data)

    def _frame(self):
        head, sep, rest = self.buf.partition(b"\r\n\r\n")
        if not sep:
            return None
        g = re.search(rb"(?im)^(?:content-length|l)\s*:\s*(\d+)", head)
        n = int(g.group(1)) if g else 0
        if len(rest) < n:
            return None
        self.buf = rest[n:]
        return (head + sep + rest[:n]).decode(errors="replace")

    def recv(self, timeout):
        """One message or None on timeout; NOTIFYs are answered and kept."""
        end = time.time() + timeout
        while True:
            if self.tp == "tcp":
                self.buf = self.buf.lstrip(b"\r\n")
                m = self._frame()
                if m:
                    return m
            left = end - time.time()
            if left <= 0:
                return None
            r, _, _ = select.select([self.s], [], [], left)
            if not r:
                return None
            chunk = self.s.recv(65536)
            if not chunk:
                raise ConnectionError("closed by the server")
            if self.tp == "udp":
                return chunk.decode(errors="replace")
            self.buf += chunk

    def _answer(self, req, code):
        vias = [l for l in req.split("\r\n\r\n")[0].split("\r\n")
                if l.lower().startswith(("via:", "v:"))]
        hdrs = "\r\n".join(vias)
        resp = ("SIP/2.0 %d %s\r\n%s\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\n"
                "CSeq: %s\r\nContent-Length: 0\r\n\r\n" % (
                    code, "OK" if code == 200 else "Error", hdrs,
                    header(req, "From"), header(req, "To"),
                    header(req, "Call-ID"), header(req, "CSeq")))
        self.send(resp)

    def _take_request(self, m):
        method = m.split(" ", 1)[0]
        if method == "NOTIFY":
            self._answer(m, self.notify_answer)
            ev = {"event": "notify", "t": time.time(),
                  "state": header(m, "Subscription-State"),
                  "call_id": header(m, "Call-ID"),
                  "cseq": header(m, "CSeq"),
                  "ctype": header(m, "Content-Type")}
            try:
                ev.update(parse_pidf(body(m)) if body(m) else {})
            except ET.ParseError as e:
                ev["error"] = str(e)
            self.notifies.append(ev)
        elif method == "OPTIONS":
            self._answer(m, 200)

    def transact(self, req_fn, timeout=5):
        """Sends req_fn(auth_header) and returns the final response,
        answering one 401/407 with credentials."""
        auth = None
        for _ in range(2):
            branch = "z9hG4bK" + os.urandom(6).hex()
            self.send(req_fn(auth, branch))
            end = time.time() + timeout
            while True:
                m = self.recv(max(0.0, end - time.time()))
                if m is None:
                    return 0, None
                if not m.startswith("SIP/2.0"):
                    self._take_request(m)
                    continue
                if branch not in (header(m, "Via") or ""):
                    continue
                st = status(m)
                if st < 200:
                    continue
                break
            if st in (401, 407) and auth is None and self.user:
                hn = "WWW-Authenticate" if st == 401 else "Proxy-Authenticate"
                ch = dict(re.findall(r'(\w+)="?([^",]*)"?', header(m, hn)))
                auth = (("Authorization" if st == 401 else
                         "Proxy-Authorization"), ch)
                continue
            return st, m
        return st, m

    def _auth_line(self, auth, method, uri):
        if not auth:
            return ""
        hn, ch = auth
        alg = ch.get("algorithm", "MD5")
        self.nc += 1
        nc = "%08x" % self.nc
        cnonce = os.urandom(6).hex()
        ha1 = hx(alg, "%s:%s:%s" % (self.user, ch["realm"], self.password))
        ha2 = hx(alg, "%s:%s" % (method, uri))
        resp = hx(alg, "%s:%s:%s:%s:auth:%s" % (ha1, ch["nonce"], nc, cnonce,
                                                ha2))
        return ('%s: Digest username="%s", realm="%s", nonce="%s", uri="%s", '
                'response="%s", algorithm=%s, qop=auth, nc=%s, cnonce="%s"\r\n'
                % (hn, self.user, ch["realm"], ch["nonce"], uri, resp, alg,
                   nc, cnonce))

    def request(self, method, ruri, to, headers=(), body_text="",
                ctype=None, call_id=None, to_tag=None, auth_user=True,
                timeout=5):
        call_id = call_id or os.urandom(8).hex()
        hdrs = "".join(h + "\r\n" for h in headers)
        if body_text and ctype:
            hdrs += "Content-Type: %s\r\n" % ctype
        b = body_text.encode()

        def build(auth, branch):
            self.cseq += 1
            return ("%s %s SIP/2.0\r\nVia: SIP/2.0/%s 127.0.0.1:%d;branch=%s;"
                    "rport\r\nMax-Forwards: 70\r\nFrom: <sip:%s@%s>;tag=%s\r\n"
                    "To: <%s>%s\r\nCall-ID: %s\r\nCSeq: %d %s\r\n"
                    "Contact: <sip:%s@127.0.0.1:%d;transport=%s>\r\n%s%s"
                    "Content-Length: %d\r\n\r\n" % (
                        method, ruri, self.tp.upper(), self.lport, branch,
                        self.number, DOMAIN, self.tag, to,
                        ";tag=" + to_tag if to_tag else "", call_id,
                        self.cseq, method, self.number, self.lport, self.tp,
                        hdrs, self._auth_line(auth, method, ruri)
                        if auth_user else "", len(b))).encode() + b
        return self.transact(build, timeout)

    # ---------------------------------------------------------- verbs
    def aor(self, number=None):
        return "sip:%s@%s" % (number or self.number, DOMAIN)

    def register(self, expires=300):
        return self.request("REGISTER", "sip:" + DOMAIN, self.aor(),
                            ["Expires: %d" % expires])

    def publish(self, expires=60, etag=None, netq=None, raw=None,
                ctype="application/pidf+xml", number=None, event="presence",
                **kw):
        if netq is None and kw:
            netq = kw
        text = raw if raw is not None else (
            pidf(netq, entity=self.aor(number)) if netq is not None else "")
        hs = ["Event: %s" % event, "Expires: %d" % expires]
        if etag:
            hs.append("SIP-If-Match: %s" % etag)
        return self.request("PUBLISH", self.aor(number), self.aor(number), hs,
                            text, ctype if text else None)

    def subscribe(self, number, expires=60, event="presence", call_id=None,
                  to_tag=None, auth_user=True):
        call_id = call_id or os.urandom(8).hex()
        st, m = self.request("SUBSCRIBE", self.aor(number), self.aor(number),
                             ["Event: %s" % event, "Expires: %d" % expires,
                              "Accept: application/pidf+xml"],
                             call_id=call_id, to_tag=to_tag,
                             auth_user=auth_user)
        if st == 200:
            g = re.search(r";tag=([^;>\s]+)", header(m, "To") or "")
            self.dialogs[call_id] = g.group(1) if g else None
        return st, m, call_id

    def wait_notify(self, timeout=3, pred=None):
        end = time.time() + timeout
        while True:
            for i, n in enumerate(self.notifies):
                if pred is None or pred(n):
                    return self.notifies.pop(i)
            left = end - time.time()
            if left <= 0:
                return None
            m = self.recv(left)
            if m and not m.startswith("SIP/2.0"):
                self._take_request(m)

    def pump(self, timeout):
        """Reads (answering NOTIFYs) for TIMEOUT seconds."""
        end = time.time() + timeout
        while time.time() < end:
            m = self.recv(end - time.time())
            if m and not m.startswith("SIP/2.0"):
                self._take_request(m)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--number", required=True)
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--udp", action="store_true")
    a = ap.parse_args()
    ua = UA(a.port, a.number, a.user, a.password, "udp" if a.udp else "tcp")
    etag = None
    for line in sys.stdin:
        w = line.split()
        if not w:
            continue
        ev = {"cmd": w[0]}
        if w[0] == "register":
            st, _ = ua.register(int(w[1]) if len(w) > 1 else 300)
            ev["status"] = st
        elif w[0] == "publish":
            kv = dict(x.split("=", 1) for x in w[1:])
            exp = int(kv.pop("expires", 60))
            st, m = ua.publish(exp, etag, netq=kv or None)
            etag = header(m, "SIP-ETag") or etag
            ev.update(status=st, etag=etag)
        elif w[0] == "subscribe":
            st, _, cid = ua.subscribe(w[1], int(w[2]) if len(w) > 2 else 60)
            ev.update(status=st, call_id=cid)
        elif w[0] == "wait":
            n = ua.wait_notify(float(w[1]) if len(w) > 1 else 3)
            ev = n or {"event": "timeout"}
        elif w[0] == "quit":
            break
        print(json.dumps(ev), flush=True)


if __name__ == "__main__":
    main()
