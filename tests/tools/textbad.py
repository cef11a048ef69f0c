#!/usr/bin/env python3
"""textbad.py: crafted MESSAGEs for tests/integration/server_texts_badinput.sh
(RFC 3428 MESSAGE, RFC 3862 CPIM, RFC 5438 IMDN, RFC 3261 s.22 digest as
a proxy: 407 / Proxy-Authorization). It sends what sipua.py will not: any
Request-URI, From, Content-Type and body, a wrong password or none. Each
command prints one line of key=value results; it asserts nothing itself.

  msg PORT KEY=VALUE...
      one MESSAGE over UDP; keys:
        user=, pass=   digest credentials (none: no Proxy-Authorization
                       at all, the 407 is the answer)
        from=USER      the From URI's user part (sip:USER@DOMAIN)
        ruri=URI       the Request-URI (and To)
        ctype=TYPE     Content-Type (none: no header)
        body=TEXT      the body, backslash escapes expanded (\\r\\n...)
        size=N         N "x" appended to the body
        cpim=MID       body = a valid message/cpim around text/plain BODY
                       with imdn.Message-ID MID (ctype message/cpim)
        imdn=XML       body = message/cpim around message/imdn+xml XML
        callid=ID      the Call-ID (default: random)
      -> "status=N reason=R retry_after=V|- accept=V|- proxy_auth=yes|no"
         (spaces in values as "_")
  flood PORT N KEY=VALUE...
      N such MESSAGEs (cpim=MID gets a fresh MID each), one after the
      other, reusing the nonce with a growing nonce-count
      -> "sent=N by_status=CODE:N,... retry_after_all=yes|no
          retry_after_max=S seconds=S"
All on 127.0.0.1.
"""
import codecs
import hashlib
import os
import re
import socket
import sys
import time

HOST = "127.0.0.1"
DOMAIN = "dataline.local"


def status(r):
    m = re.match(r"SIP/2\.0 (\d{3}) ", r or "")
    return int(m.group(1)) if m else 0


def reason(r):
    return r.split("\r\n", 1)[0][12:] if r else ""


def header(r, name):
    for line in (r or "").split("\r\n\r\n", 1)[0].split("\r\n")[1:]:
        n, _, v = line.partition(":")
        if n.strip().lower() == name.lower():
            return v.strip()
    return None


def proxy_challenge(r):
    """The first MD5 challenge of a 407 (the server may offer SHA-256
    too; MD5 keeps this helper short)."""
    for line in (r or "").split("\r\n"):
        if line.lower().startswith("proxy-authenticate:"):
            p = dict(re.findall(r'(\w+)="?([^",]*)"?', line[19:]))
            if p.get("algorithm", "MD5").upper() == "MD5":
                return p
    return None


def md5(s):
    return hashlib.md5(s.encode()).hexdigest()


class Sender:
    def __init__(self, port, opts):
        self.port = port
        self.o = opts
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind((HOST, 0))
        self.s.settimeout(1)
        self.lport = self.s.getsockname()[1]
        self.ch = None
        self.nc = 0
        self.mid_seq = 0

    def body(self):
        o = self.o
        text = codecs.decode(o.get("body", ""), "unicode_escape").encode(
            "latin-1") + b"x" * int(o.get("size", "0"))
        ctype = o.get("ctype", "text/plain")
        if "cpim" in o or "imdn" in o:
            frm = "sip:%s@%s" % (o.get("from", ""), DOMAIN)
            if "imdn" in o:
                inner = codecs.decode(o["imdn"], "unicode_escape").encode("latin-1")
                ict, mid = "message/imdn+xml", "imdn-%s" % os.urandom(6).hex()
            else:
                inner, ict = text, "text/plain;charset=utf-8"
                mid = o["cpim"]
                if self.mid_seq:
                    mid += "-%d" % self.mid_seq
            hdr = ("From: <%s>\r\nTo: <%s>\r\nDateTime: 2026-01-01T00:00:00Z\r\n"
                   "NS: imdn <urn:ietf:params:imdn>\r\nimdn.Message-ID: %s\r\n"
                   "\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n" % (
                       frm, o.get("ruri", ""), mid, ict, len(inner)))
            return hdr.encode() + inner, "message/cpim"
        return text, ctype

    def request(self, auth):
        o = self.o
        body, ctype = self.body()
        ruri = o["ruri"]
        hdrs = ["Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK%s;rport" % (
                    HOST, self.lport, os.urandom(8).hex()),
                "Max-Forwards: 70",
                "From: <sip:%s@%s>;tag=tb%s" % (o.get("from", ""), DOMAIN,
                                                os.urandom(4).hex()),
                "To: <%s>" % ruri,
                "Call-ID: %s" % (o.get("callid") or os.urandom(10).hex()),
                "CSeq: %d MESSAGE" % (self.nc + 1)]
        if ctype != "none":
            hdrs.append("Content-Type: " + ctype)
        if auth:
            hdrs.append(auth)
        head = "MESSAGE %s SIP/2.0\r\n%s\r\nContent-Length: %d\r\n\r\n" % (
            ruri, "\r\n".join(hdrs), len(body))
        return head.encode() + body

    def auth(self):
        o = self.o
        if not self.ch or "user" not in o:
            return None
        self.nc += 1
        ch, uri = self.ch, self.o["ruri"]
        ha1 = md5("%s:%s:%s" % (o["user"], ch["realm"], o.get("pass", "")))
        ha2 = md5("MESSAGE:" + uri)
        nc, cnonce = "%08x" % self.nc, os.urandom(8).hex()
        resp = md5("%s:%s:%s:%s:auth:%s" % (ha1, ch["nonce"], nc, cnonce, ha2))
        return ('Proxy-Authorization: Digest username="%s", realm="%s", '
                'nonce="%s", uri="%s", response="%s", algorithm=MD5, '
                'qop=auth, nc=%s, cnonce="%s"' % (
                    o["user"], ch["realm"], ch["nonce"], uri, resp, nc, cnonce))

    def transact(self, req):
        """Sends REQ (up to 4 times); the final response or None."""
        for _ in range(4):
            self.s.sendto(req, (HOST, self.port))
            try:
                while True:
                    r = self.s.recv(65535).decode(errors="replace")
                    if status(r) >= 200:
                        return r
            except socket.timeout:
                continue
        return None

    def send(self):
        """One MESSAGE, answering a 407 once with the credentials."""
        r = self.transact(self.request(self.auth()))
        if status(r) == 407 and "user" in self.o:
            ch = proxy_challenge(r)
            if ch:
                self.ch, self.nc = ch, 0
                r = self.transact(self.request(self.auth()))
        return r


def opts_of(args):
    o = {}
    for a in args:
        k, _, v = a.partition("=")
        o[k] = v
    return o


def cmd_msg(port, *args):
    r = Sender(int(port), opts_of(args)).send()

    def q(v):
        return v.replace(" ", "_") if v else "-"
    print("status=%s reason=%s retry_after=%s accept=%s proxy_auth=%s" % (
        status(r) or "none", q(reason(r)), q(header(r, "Retry-After")),
        q(header(r, "Accept")),
        "yes" if header(r, "Proxy-Authenticate") else "no"))


def cmd_flood(port, n, *args):
    s = Sender(int(port), opts_of(args))
    by, ra_all, ra_max, t0 = {}, True, 0, time.monotonic()
    for i in range(int(n)):
        s.mid_seq = i + 1
        r = s.send()
        st = status(r) or "none"
        by[st] = by.get(st, 0) + 1
        if st in (480, 503):
            ra = header(r, "Retry-After")
            if not ra or not ra.isdigit():
                ra_all = False
            else:
                ra_max = max(ra_max, int(ra))
    print("sent=%s by_status=%s retry_after_all=%s retry_after_max=%d "
          "seconds=%.1f" % (n, ",".join("%s:%d" % kv for kv in sorted(
              by.items(), key=lambda kv: str(kv[0]))),
                            "yes" if ra_all else "no", ra_max,
                            time.monotonic() - t0))


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    cmd = {"msg": cmd_msg, "flood": cmd_flood}.get(sys.argv[1])
    if not cmd:
        sys.exit(__doc__)
    cmd(*sys.argv[2:])


if __name__ == "__main__":
    main()
