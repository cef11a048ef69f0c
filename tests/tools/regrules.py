#!/usr/bin/env python3
"""regrules.py: registrar rules for tests/integration/server_registrar_rules.sh
(RFC 3261 s.10.3, s.22, RFC 7616 digest, RFC 3581 rport). It speaks just
enough SIP to craft what sipcli will not: any algorithm/qop string in the
Authorization, any Contact (with q, expires, "*"), malformed requests. Each
command prints one line of key=value results; it asserts nothing itself.

  auth PORT NUMBER USER PASS ALG QOP
        REGISTER, then answer the 401 with algorithm=ALG (any string, e.g.
        SHA-512-256) and qop=QOP (auth, auth-int, or none = RFC 2069 style)
        -> "status=N reason=R challenges=K"
  reg PORT NUMBER USER PASS udp|tcp CONTACT [HEADER...]
        an authenticated REGISTER (SHA-256 or MD5, qop=auth) with
        "Contact: CONTACT" and the extra header lines given
        -> "status=N reason=R contacts=URI,URI"
  toomany PORT udp|tcp N
        an OPTIONS with N header lines -> "status=N|none"
  early400 PORT badline|badvia
        from a UDP socket on a high port, a request whose start line (or
        Via) is malformed, with a Via naming port 5060 without rport
        -> "status=400|none" (as received on that socket)
All on 127.0.0.1.
"""
import hashlib
import os
import re
import socket
import sys

HOST = "127.0.0.1"
DOMAIN = "dataline.local"


def hx(alg, s):
    h = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}.get(alg.upper(),
                                                             hashlib.sha512)
    return h(s.encode()).hexdigest()


class Conn:
    def __init__(self, port, tp="udp"):
        self.tp = tp
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if tp == "udp"
                               else socket.SOCK_STREAM)
        self.s.settimeout(3)
        self.s.connect((HOST, port))
        self.lport = self.s.getsockname()[1]
        self.callid = os.urandom(8).hex()
        self.cseq = 1
        self.buf = b""

    def recv(self):
        if self.tp == "udp":
            return self.s.recv(65535).decode(errors="replace")
        while True:
            head, sep, rest = self.buf.partition(b"\r\n\r\n")
            if sep:
                m = re.search(rb"(?im)^(?:content-length|l)\s*:\s*(\d+)", head)
                n = int(m.group(1)) if m else 0
                if len(rest) >= n:
                    self.buf = rest[n:]
                    return (head + sep + rest[:n]).decode(errors="replace")
            chunk = self.s.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk

    def transact(self, req):
        """Sends REQ (UDP: up to 3 times); the final response or None."""
        for _ in range(3 if self.tp == "udp" else 1):
            self.s.send(req.encode())
            try:
                while True:
                    r = self.recv()
                    st = status(r)
                    if st >= 200:
                        return r
            except (socket.timeout, ConnectionError):
                continue
        return None

    def request(self, number, extra, method="REGISTER"):
        self.cseq += 1
        return ("%s sip:%s SIP/2.0\r\n"
                "Via: SIP/2.0/%s %s:%d;branch=z9hG4bK%s;rport\r\n"
                "Max-Forwards: 70\r\n"
                "From: <sip:%s@%s>;tag=rr%s\r\n"
                "To: <sip:%s@%s>\r\n"
                "Call-ID: %s\r\n"
                "CSeq: %d %s\r\n%s"
                "Content-Length: 0\r\n\r\n" % (
                    method, DOMAIN, self.tp.upper(), HOST, self.lport,
                    os.urandom(8).hex(), number, DOMAIN, self.callid[:8],
                    number, DOMAIN, self.callid, self.cseq, method,
                    "".join(h + "\r\n" for h in extra)))


def status(r):
    m = re.match(r"SIP/2\.0 (\d{3}) ", r or "")
    return int(m.group(1)) if m else 0


def reason(r):
    return r.split("\r\n", 1)[0][12:] if r else ""


def challenges(r):
    out = []
    for line in (r or "").split("\r\n"):
        if line.lower().startswith("www-authenticate:"):
            p = dict(re.findall(r'(\w+)="?([^",]*)"?', line[17:]))
            out.append(p)
    return out


def authorization(ch, user, pw, alg, qop, method="REGISTER"):
    uri = "sip:" + DOMAIN
    ha1 = hx(alg, "%s:%s:%s" % (user, ch["realm"], pw))
    a2 = "%s:%s" % (method, uri)
    if qop == "auth-int":
        a2 += ":" + hx(alg, "")
    ha2 = hx(alg, a2)
    cnonce, nc = os.urandom(8).hex(), "00000001"
    if qop == "none":
        resp = hx(alg, "%s:%s:%s" % (ha1, ch["nonce"], ha2))
        tail = ""
    else:
        resp = hx(alg, "%s:%s:%s:%s:%s:%s" % (ha1, ch["nonce"], nc, cnonce,
                                              qop, ha2))
        tail = ', qop=%s, nc=%s, cnonce="%s"' % (qop, nc, cnonce)
    return ('Authorization: Digest username="%s", realm="%s", nonce="%s", '
            'uri="%s", response="%s", algorithm=%s%s' % (
                user, ch["realm"], ch["nonce"], uri, resp, alg, tail))


def challenge(c, number, extra):
    r = c.transact(c.request(number, extra))
    chs = challenges(r)
    if status(r) != 401 or not chs:
        return None
    return chs[0]


def cmd_auth(port, number, user, pw, alg, qop):
    c = Conn(int(port))
    ch = challenge(c, number, [])
    if not ch:
        print("status=error reason=no-challenge")
        return
    r = c.transact(c.request(number, ["Contact: <sip:%s@%s:%d>" % (
        number, HOST, c.lport), authorization(ch, user, pw, alg, qop)]))
    print("status=%s reason=%s challenges=%d" % (
        status(r) or "none", reason(r).replace(" ", "_"), len(challenges(r))))


def cmd_reg(port, number, user, pw, tp, contact, *extra):
    c = Conn(int(port), tp)
    hdrs = (["Contact: " + contact] if contact != "-" else []) + list(extra)
    ch = challenge(c, number, hdrs)
    if not ch:
        print("status=error reason=no-challenge")
        return
    r = c.transact(c.request(number, hdrs + [authorization(
        ch, user, pw, ch.get("algorithm", "MD5"), "auth")]))
    cts = re.findall(r"(?im)^(?:contact|m)\s*:\s*<([^>]*)>", r or "")
    ra = re.search(r"(?im)^retry-after\s*:\s*(\d+)", r or "")
    print("status=%s reason=%s contacts=%s retry_after=%s" % (
        status(r) or "none", reason(r).replace(" ", "_"), ",".join(cts),
        ra.group(1) if ra else "-"))


def cmd_toomany(port, tp, n):
    c = Conn(int(port), tp)
    req = c.request("+8613800138999", ["X-Filler-%d: v" % i
                                       for i in range(int(n) - 7)],
                    method="OPTIONS")
    r = c.transact(req)
    print("status=%s" % (status(r) or "none"))


def cmd_early400(port, kind):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((HOST, 0))
    s.settimeout(2)
    tag = os.urandom(6).hex()
    start = ("OPTIONS  sip:%s SIP/2.0" if kind == "badline"
             else "OPTIONS sip:%s SIP/2.0") % DOMAIN
    via = ("SIP/2.0/UDP %s:5060;branch=z9hG4bK%s" if kind == "badline"
           else "SIP/2.0/UDP %s:5060;;branch=z9hG4bK%s") % (HOST, tag)
    req = ("%s\r\nVia: %s\r\nMax-Forwards: 70\r\n"
           "From: <sip:a@%s>;tag=%s\r\nTo: <sip:b@%s>\r\n"
           "Call-ID: early-%s\r\nCSeq: 1 OPTIONS\r\n"
           "Content-Length: 0\r\n\r\n" % (start, via, DOMAIN, tag, DOMAIN, tag))
    got = 0
    for _ in range(3):
        s.sendto(req.encode(), (HOST, int(port)))
        try:
            got = status(s.recv(65535).decode(errors="replace"))
            break
        except socket.timeout:
            continue
    print("status=%s" % (got or "none"))


CMDS = {"auth": cmd_auth, "reg": cmd_reg, "toomany": cmd_toomany,
        "early400": cmd_early400}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in CMDS:
        sys.exit(__doc__)
    CMDS[sys.argv[1]](*sys.argv[2:])
