#!/usr/bin/env python3
"""msg_retrans.py: sends one authenticated MESSAGE (RFC 3428, proxy digest
MD5 qop=auth) over UDP and then the very same datagram again, as a UDP
client retransmits it when the answer is late (RFC 3261 s.17.1.2, timer
E), and prints every response received in 2 s. A server that keeps a
transaction for the MESSAGE answers the copy with the same final response
(or absorbs it); one that authenticates it afresh sees the nonce-count
used twice and answers 407. For checking tests/bench/server_openloop.sh
findings by hand.

usage: msg_retrans.py SERVER_IP:PORT FROM_NUMBER USER PASS TO_NUMBER [GAP_MS]
"""
import hashlib
import os
import socket
import sys
import time


def md5(s):
    return hashlib.md5(s.encode()).hexdigest()


def main():
    if len(sys.argv) < 6:
        sys.exit(__doc__)
    host, port = sys.argv[1].rsplit(":", 1)
    frm, user, pw, to = sys.argv[2:6]
    gap = float(sys.argv[6]) / 1000 if len(sys.argv) > 6 else 0.0
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(2)
    lp = s.getsockname()[1]
    dom = "dataline.local"
    ruri = "sip:%s@%s" % (to, dom)
    cid = os.urandom(8).hex()
    body = "hello, retransmitted\r\n"

    def req(cseq, auth=""):
        return ("MESSAGE %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s%d;rport\r\n"
                "Max-Forwards: 70\r\nFrom: <sip:%s@%s>;tag=rt%s\r\nTo: <%s>\r\nCall-ID: %s\r\n"
                "CSeq: %d MESSAGE\r\n%sContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"
                % (ruri, lp, cid, cseq, frm, dom, cid[:6], ruri, cid, cseq, auth, len(body), body))

    s.sendto(req(1).encode(), (host, int(port)))
    r = s.recv(65535).decode()
    print("first:", r.split("\r\n")[0])
    ch = [l for l in r.split("\r\n") if l.lower().startswith("proxy-authenticate:") and "MD5" in l][0]
    nonce = ch.split('nonce="')[1].split('"')[0]
    realm = ch.split('realm="')[1].split('"')[0]
    cn = os.urandom(8).hex()
    resp = md5("%s:%s:00000001:%s:auth:%s" % (md5("%s:%s:%s" % (user, realm, pw)), nonce, cn,
                                              md5("MESSAGE:" + ruri)))
    auth = ('Proxy-Authorization: Digest username="%s", realm="%s", nonce="%s", uri="%s", '
            'response="%s", algorithm=MD5, qop=auth, nc=00000001, cnonce="%s"\r\n'
            % (user, realm, nonce, ruri, resp, cn))
    m = req(2, auth).encode()
    s.sendto(m, (host, int(port)))
    if gap:
        time.sleep(gap)
    s.sendto(m, (host, int(port)))
    end = time.time() + 2
    while time.time() < end:
        try:
            r = s.recv(65535).decode()
        except socket.timeout:
            break
        print("answer to the authenticated MESSAGE (sent twice):", r.split("\r\n")[0])


if __name__ == "__main__":
    main()
