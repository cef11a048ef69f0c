#!/usr/bin/env python3
"""callua.py: a small scripted SIP user agent for the server's call tests
(issue 9), over UDP (or TCP with --tcp: one connection to the server,
which is the device's flow) on loopback. Python 3 standard library only; digest
and message parsing come from sipua.py.

It follows RFC 3261: INVITE (s.13), 407 and digest on INVITE (s.22.3),
ACK for non-2xx in the INVITE's transaction and for 2xx end to end along
the Record-Route (s.12.1.2, 13.2.2.4), CANCEL (s.9), BYE (s.15), the UAS
side of each; OPTIONS answered with the X-Dataline-Net header
(docs/calls.md) when --net is given.

  callua.py uas --server H:P --creds C.json --local 127.0.0.1:PORT
            [--answer 200|486|603|180|silent] [--answer-delay MS]
            [--bye-after S] [--net 'rate=..;rtt=..;loss=..'] [--run S]
      registers, then answers what comes for --run seconds
  callua.py uac --server H:P --creds C.json --local 127.0.0.1:PORT NUMBER
            [--cancel-after-ms MS] [--bye] [--hold S] [--sdp FILE]
      calls sip:NUMBER@DOMAIN; prints the final status; with --bye hangs
      up after --hold seconds, else waits --hold for the callee's BYE

One JSON event per line on stdout ({"ev": "invite", ...}); the uac's exit
status is 0 when a final response came.
"""
import argparse
import json
import os
import random
import re
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipua import Msg, digest_response, parse_challenges, uri_of, tag_of  # noqa

SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
       "t=0 0\r\nm=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")


def rnd(n=8):
    return "%0*x" % (2 * n, random.getrandbits(8 * n))


def ev(name, **kw):
    kw["ev"] = name
    kw["t"] = round(time.time(), 3)
    print(json.dumps(kw), flush=True)


class UA:
    def __init__(self, a):
        c = json.load(open(a.creds))
        self.user, self.pw = c["username"], c["password"]
        self.number, self.domain = c["number"], c["domain"]
        h, p = a.server.rsplit(":", 1)
        self.srv = (h, int(p))
        h, p = a.local.rsplit(":", 1)
        self.tcp = a.tcp
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM
                               if a.tcp else socket.SOCK_DGRAM)
        if a.tcp:   # a fixed port reused within TIME_WAIT of a last run
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.s.bind((h, int(p)))
        if a.tcp:
            self.s.connect(self.srv)
            self.rbuf = b""
        self.lh, self.lp = self.s.getsockname()
        self.a = a
        self.cseq = 1
        self.media = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.media.bind((h, a.media_port or (self.lp + 100)))
        self.mport = self.media.getsockname()[1]

    def sdp(self):
        return SDP % self.mport

    def rtp(self, peer_sdp, n, hold):
        """N RTP packets to the peer's SDP address (20 ms apart, shortened
        to 2 ms), counting what arrives meanwhile; then --strangers
        packets from another port (after latching, a stranger's)."""
        ip = re.search(r"c=IN IP4 (\S+)", peer_sdp)
        port = re.search(r"m=audio (\d+)", peer_sdp)
        if not ip or not port:
            ev("rtp", error="no address in the SDP")
            return
        dst = (ip.group(1), int(port.group(1)))
        self.media.setblocking(False)
        got = sent = 0
        ssrc = random.getrandbits(32)
        end = time.time() + hold
        seq = random.getrandbits(16)
        while time.time() < end:
            if sent < n:
                hdr = struct.pack("!BBHII", 0x80, 0, (seq + sent) & 0xffff,
                                  sent * 160, ssrc)
                self.media.sendto(hdr + bytes(160), dst)
                sent += 1
            try:
                while True:
                    d, _ = self.media.recvfrom(2048)
                    got += 1
            except BlockingIOError:
                pass
            time.sleep(0.002)
        if self.a.strangers:
            o = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            o.bind((self.lh, 0))
            for k in range(self.a.strangers):
                o.sendto(struct.pack("!BBHII", 0x80, 0, k, 0, 1) + bytes(40),
                         dst)
            o.close()
        ev("rtp", sent=sent, received=got, dst="%s:%d" % dst)

    def via(self, branch=None):
        return "Via: SIP/2.0/%s %s:%d;branch=%s;rport" % (
            "TCP" if self.tcp else "UDP", self.lh, self.lp,
            branch or "z9hG4bK" + rnd())

    def contact(self):
        return "Contact: <sip:%s@%s:%d%s>" % (
            self.number, self.lh, self.lp, ";transport=tcp" if self.tcp else "")

    def send(self, text, addr=None):
        if self.tcp:
            self.s.sendall(text.encode())
        else:
            self.s.sendto(text.encode(), addr or self.srv)

    def recv_tcp(self):
        """One message off the stream (RFC 3261 s.18.3: Content-Length
        frames it; CRLF keep-alives skipped), None on timeout or close."""
        while True:
            self.rbuf = self.rbuf.lstrip(b"\r\n")
            end = self.rbuf.find(b"\r\n\r\n")
            if end >= 0:
                cl = re.search(rb"(?im)^(?:content-length|l)[ \t]*:[ \t]*(\d+)",
                               self.rbuf[:end])
                n = end + 4 + (int(cl.group(1)) if cl else 0)
                if len(self.rbuf) >= n:
                    data, self.rbuf = self.rbuf[:n], self.rbuf[n:]
                    return data
            d = self.s.recv(65535)
            if not d:
                return None
            self.rbuf += d

    def req(self, method, ruri, hdrs, body="", ctype=None):
        lines = ["%s %s SIP/2.0" % (method, ruri)] + hdrs
        lines.append("Max-Forwards: 70")
        if body:
            lines.append("Content-Type: " + (ctype or "application/sdp"))
        lines.append("Content-Length: %d" % len(body.encode()))
        return "\r\n".join(lines) + "\r\n\r\n" + body

    def reply(self, m, status, reason, extra=(), body="", to_tag=None):
        lines = ["SIP/2.0 %d %s" % (status, reason)]
        for v in m.all("via"):
            lines.append("Via: " + v)
        for h in ("from", "call-id", "cseq"):
            lines.append("%s: %s" % (h.title(), m.get(h)))
        to = m.get("to")
        if to_tag and not tag_of(to):
            to += ";tag=" + to_tag
        lines.append("To: " + to)
        for v in m.all("record-route"):
            lines.append("Record-Route: " + v)
        lines += list(extra)
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append("Content-Length: %d" % len(body.encode()))
        self.send("\r\n".join(lines) + "\r\n\r\n" + body, self.srv)

    def recv(self, timeout):
        self.s.settimeout(max(timeout, 0.001))
        try:
            if self.tcp:
                data = self.recv_tcp()
                if data is None:
                    return None
            else:
                data, addr = self.s.recvfrom(65535)
        except socket.timeout:
            return None
        if not data.strip():
            return None
        return Msg(data)

    def auth(self, m, method, uri):
        ch = parse_challenges(m.all("proxy-authenticate"))[0]
        alg = ch.get("algorithm", "MD5")
        cn = rnd()
        resp = digest_response(alg, self.user, ch["realm"], self.pw, method,
                               uri, ch["nonce"], "00000001", cn, "auth")
        return ('Proxy-Authorization: Digest username="%s", realm="%s", '
                'nonce="%s", uri="%s", response="%s", algorithm=%s, '
                'qop=auth, nc=00000001, cnonce="%s"' % (
                    self.user, ch["realm"], ch["nonce"], uri, resp, alg, cn))

    def register(self):
        cid, tag = rnd(), rnd()
        aor = "sip:%s@%s" % (self.number, self.domain)
        hdrs = [self.via(), "From: <%s>;tag=%s" % (aor, tag),
                "To: <%s>" % aor, "Call-ID: " + cid, "CSeq: 1 REGISTER",
                self.contact(), "Expires: 300"]
        self.send(self.req("REGISTER", "sip:" + self.domain, hdrs))
        m = self.wait_resp(5)
        if m and m.status == 401:
            ch = parse_challenges(m.all("www-authenticate"))[0]
            alg = ch.get("algorithm", "MD5")
            cn = rnd()
            uri = "sip:" + self.domain
            r = digest_response(alg, self.user, ch["realm"], self.pw,
                                "REGISTER", uri, ch["nonce"], "00000001",
                                cn, "auth")
            hdrs[0] = self.via()
            hdrs[4] = "CSeq: 2 REGISTER"
            hdrs.append('Authorization: Digest username="%s", realm="%s", '
                        'nonce="%s", uri="%s", response="%s", algorithm=%s,'
                        ' qop=auth, nc=00000001, cnonce="%s"' % (
                            self.user, ch["realm"], ch["nonce"], uri, r,
                            alg, cn))
            self.send(self.req("REGISTER", uri, hdrs))
            m = self.wait_resp(5)
        ev("registered", status=m.status if m else 0)
        return m is not None and m.status == 200

    def wait_resp(self, timeout):
        end = time.time() + timeout
        while time.time() < end:
            m = self.recv(end - time.time())
            if m is None:
                continue
            if m.is_response:
                return m
            self.serve(m)
        return None

    # ---- what a request from the server gets (both roles)
    def serve(self, m):
        meth = m.method
        if meth == "OPTIONS":
            ev("options", frm=uri_of(m.get("from")))
            extra = ["X-Dataline-Net: " + self.a.net] if self.a.net else []
            self.reply(m, 200, "OK", extra)
        elif meth == "BYE":
            ev("bye", route=m.get("route"))
            self.reply(m, 200, "OK")
            self.ended = True
        elif meth == "ACK":
            ev("ack", route=m.get("route"))
        elif meth == "CANCEL":
            ev("cancel")
            self.reply(m, 200, "OK")
            inv = getattr(self, "pending", None)
            if inv is not None:
                self.reply(inv, 487, "Request Terminated",
                           to_tag=self.totag)
                self.pending = None
        elif meth == "INVITE":
            self.on_invite(m)
        else:
            self.reply(m, 200, "OK")


class UAS(UA):
    def on_invite(self, m):
        if tag_of(m.get("to")):  # a re-INVITE
            self.reply(m, 200, "OK", [self.contact()], self.sdp())
            return
        sdp = m.body.decode(errors="replace") if m.body else ""
        ev("invite", rr=m.all("record-route"), sdp=sdp)
        self.offer = sdp
        self.totag = rnd()
        self.dialog = m
        ans = self.a.answer
        if ans == "silent":
            return
        self.reply(m, 180, "Ringing", [self.contact()], to_tag=self.totag)
        if ans == "180":
            self.pending = m
            return
        if ans in ("486", "603"):
            self.reply(m, int(ans), "Busy Here" if ans == "486" else
                       "Decline", to_tag=self.totag)
            return
        self.pending = m
        self.answer_at = time.time() + self.a.answer_delay / 1000.0

    def run(self):
        self.pending = None
        self.answer_at = None
        self.bye_at = None
        end = time.time() + self.a.run
        while time.time() < end:
            m = self.recv(0.05)
            if m is not None:
                if m.is_response:
                    ev("response", status=m.status, cseq=m.get("cseq"))
                else:
                    if m.method == "ACK" and self.a.bye_after:
                        self.bye_at = time.time() + self.a.bye_after
                    self.serve(m)
                    if m.method == "ACK" and self.a.rtp:
                        self.rtp(self.offer, self.a.rtp, self.a.rtp_time)
            now = time.time()
            if self.answer_at and now >= self.answer_at and self.pending:
                m, self.pending, self.answer_at = self.pending, None, None
                self.reply(m, 200, "OK", [self.contact()], self.sdp(),
                           to_tag=self.totag)
                ev("answered")
            if self.bye_at and now >= self.bye_at:
                self.bye_at = None
                self.bye_from_callee()

    def bye_from_callee(self):
        m = self.dialog
        routes = m.all("record-route")
        hdrs = [self.via(), "From: %s;tag=%s" % (m.get("to"), self.totag),
                "To: " + m.get("from"), "Call-ID: " + m.get("call-id"),
                "CSeq: 1 BYE"] + ["Route: " + r for r in routes]
        self.send(self.req("BYE", uri_of(m.get("contact")), hdrs))
        ev("bye_sent")


class UAC(UA):
    def on_invite(self, m):
        self.reply(m, 200, "OK", [self.contact()], self.sdp())

    def run(self):
        a = self.a
        self.ended = False
        ruri = "sip:%s@%s" % (a.number, self.domain)
        self.cid, self.tag = rnd(), rnd()
        body = open(a.sdp).read() if a.sdp else self.sdp()
        auth = None
        for attempt in range(2):
            self.branch = "z9hG4bK" + rnd()
            hdrs = [self.via(self.branch),
                    "From: <sip:%s@%s>;tag=%s" % (self.number, self.domain,
                                                  self.tag),
                    "To: <%s>" % ruri, "Call-ID: " + self.cid,
                    "CSeq: %d INVITE" % self.cseq, self.contact()]
            if auth:
                hdrs.append(auth)
            self.invite_hdrs = hdrs
            self.send(self.req("INVITE", ruri, hdrs, body))
            final = self.wait_final(a.timeout)
            if final is None:
                ev("final", status=0)
                return 1
            if final.status == 407 and attempt == 0:
                ev("challenged", status=407)
                self.ack_non2xx(final, ruri)
                auth = self.auth(final, "INVITE", ruri)
                self.cseq += 1
                continue
            break
        ev("final", status=final.status, reason=final.reason,
           warning=final.get("warning"),
           net=final.get("x-dataline-net"), rr=final.all("record-route"),
           sdp=final.body.decode(errors="replace") if final.body else "")
        if final.status >= 300:
            self.ack_non2xx(final, ruri)
            return 0
        # 2xx: ACK end to end along the route set (s.13.2.2.4)
        self.route = list(reversed(final.all("record-route")))
        self.target = uri_of(final.get("contact"))
        self.to = final.get("to")
        self.dialog_req("ACK", self.cseq)
        if a.rtp:
            self.rtp(final.body.decode(errors="replace"), a.rtp, a.rtp_time)
        end = time.time() + a.hold
        while time.time() < end and not self.ended:
            m = self.recv(0.05)
            if m is not None and not m.is_response:
                self.serve(m)
        if a.bye and not self.ended:
            self.cseq += 1
            self.dialog_req("BYE", self.cseq)
            m = self.wait_resp(5)
            ev("bye_answer", status=m.status if m else 0)
        return 0

    def wait_final(self, timeout):
        end = time.time() + timeout
        cancel_at = None
        while time.time() < end:
            if cancel_at and time.time() >= cancel_at:
                cancel_at = None
                hdrs = [self.via(self.branch)] + self.invite_hdrs[1:5]
                hdrs[4] = "CSeq: %d CANCEL" % self.cseq
                self.send(self.req("CANCEL", "sip:%s@%s" % (
                    self.a.number, self.domain), hdrs))
                ev("cancel_sent")
            m = self.recv(0.05)
            if m is None:
                continue
            if not m.is_response:
                self.serve(m)
                continue
            if m.get("cseq", "").endswith("CANCEL"):
                ev("cancel_answer", status=m.status)
                continue
            if m.status < 200:
                ev("provisional", status=m.status)
                if (m.status > 100 and self.a.cancel_after_ms is not None
                        and cancel_at is None):
                    cancel_at = time.time() + self.a.cancel_after_ms / 1e3
                    self.a.cancel_after_ms = None
                continue
            return m
        return None

    def ack_non2xx(self, resp, ruri):
        hdrs = [self.via(self.branch)] + self.invite_hdrs[1:2] + [
            "To: " + resp.get("to"), "Call-ID: " + self.cid,
            "CSeq: %d ACK" % self.cseq]
        self.send(self.req("ACK", ruri, hdrs))

    def dialog_req(self, method, cseq):
        hdrs = [self.via(), "From: <sip:%s@%s>;tag=%s" % (
            self.number, self.domain, self.tag), "To: " + self.to,
            "Call-ID: " + self.cid, "CSeq: %d %s" % (cseq, method)]
        hdrs += ["Route: " + r for r in self.route]
        self.send(self.req(method, self.target, hdrs))
        ev(method.lower() + "_sent")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("role", choices=("uas", "uac"))
    ap.add_argument("number", nargs="?")
    ap.add_argument("--server", required=True)
    ap.add_argument("--creds", required=True)
    ap.add_argument("--local", default="127.0.0.1:0")
    ap.add_argument("--tcp", action="store_true",
                    help="SIP over one TCP connection to --server")
    ap.add_argument("--answer", default="200")
    ap.add_argument("--answer-delay", type=int, default=300)
    ap.add_argument("--bye-after", type=float, default=0)
    ap.add_argument("--net", default="")
    ap.add_argument("--run", type=float, default=10)
    ap.add_argument("--cancel-after-ms", type=int, default=None)
    ap.add_argument("--bye", action="store_true")
    ap.add_argument("--hold", type=float, default=1)
    ap.add_argument("--timeout", type=float, default=15)
    ap.add_argument("--sdp")
    ap.add_argument("--no-register", action="store_true")
    ap.add_argument("--media-port", type=int, default=0)
    ap.add_argument("--rtp", type=int, default=0,
                    help="RTP packets to send once the call is up")
    ap.add_argument("--rtp-time", type=float, default=1.0)
    ap.add_argument("--strangers", type=int, default=0)
    a = ap.parse_intermixed_args()
    ua = (UAS if a.role == "uas" else UAC)(a)
    if not a.no_register and not ua.register():
        return 2
    if a.role == "uas":
        ev("ready")
    return ua.run() or 0


if __name__ == "__main__":
    sys.exit(main())
