#!/usr/bin/env python3
"""sipflood.py: UDP floods and reflection probes against dataline-server for
tests/integration/server_sip_flood.sh (RFC 3261 s.17.2 server transactions,
RFC 7616 digest nonces and nonce-counts). Loopback only: the "attacker"
sends from a second loopback address (127.0.0.2, 127.0.0.3) as if spoofed.
Each command prints one line of key=value results; it asserts nothing.

  flood PORT KIND N        N REGISTERs from 127.0.0.2 with a broken
                           Authorization and a 60 KB Via, KIND one of
                           badauth (just that), require (Require: foo),
                           tel (tel: Request-URI), rfc2543 (branch without
                           z9hG4bK)
                           -> "sent=N answered=M"
  creds PORT NUM USER PASS N   one nonce (challenged at 127.0.0.2), then N
                           authenticated query REGISTERs with nc=1..N and a
                           20 KB Via -> "ok=M other=K"
  nonces PORT NUM USER PASS N  N fresh nonces, each used once (nc=1)
                           -> "ok=M other=K"
  spoof PORT NUM USER PASS challenge from 127.0.0.1, then the authenticated
                           query from 127.0.0.3 -> "status=S stale=yes|no
                           contacts=C"
  upper PORT NUM USER PASS authenticates with nc=1, then replays with the
                           nonce upper-cased -> "first=S upper=S"
  amp PORT NUM USER PASS   every answer an unproven 127.0.0.3 can provoke:
                           one line per kind "kind=K status=S chal=N in=B
                           out=B ratio=R"
"""
import hashlib
import os
import re
import select
import socket
import sys
import time

DOMAIN = "dataline.local"
SEQ = [0]


def uniq():
    SEQ[0] += 1
    return "%d-%d" % (os.getpid(), SEQ[0])


def sock(src):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    return s


def request(src_port, num, method="REGISTER", ruri="sip:" + DOMAIN,
            branch=None, via_pad=0, extra="", cseq=1, call_id=None):
    branch = branch or "z9hG4bK" + uniq()
    pad = ";x=" + "a" * via_pad if via_pad else ""
    return ("%s %s SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 127.0.0.9:%d;rport;branch=%s%s\r\n"
            "Max-Forwards: 70\r\n"
            "From: <sip:%s@%s>;tag=f%s\r\n"
            "To: <sip:%s@%s>\r\n"
            "Call-ID: %s\r\n"
            "CSeq: %d %s\r\n%s"
            "Content-Length: 0\r\n\r\n" % (
                method, ruri, src_port, branch, pad, num, DOMAIN, uniq(),
                num, DOMAIN, call_id or "flood-" + uniq(), cseq, method,
                extra)).encode()


def recv_all(s, secs):
    """Every datagram arriving within SECS (after the last one)."""
    out = []
    while True:
        r, _, _ = select.select([s], [], [], secs)
        if not r:
            return out
        out.append(s.recv(65536))


def status_of(data):
    if data.startswith(b"SIP/2.0 ") and len(data) >= 11:
        return data[8:11].decode()
    return "none"


def ask(s, port, msg, secs=2.0):
    """The first answer to MSG within SECS, or b""."""
    s.sendto(msg, ("127.0.0.1", port))
    r, _, _ = select.select([s], [], [], secs)
    return s.recv(65536) if r else b""


def challenge(resp):
    """(algorithm, nonce) of the first WWW-Authenticate."""
    m = re.search(rb"WWW-Authenticate: Digest ([^\r]*)", resp)
    if not m:
        return None, None
    p = m.group(1).decode()
    nonce = re.search(r'nonce="([^"]*)"', p).group(1)
    alg = re.search(r"algorithm=([A-Za-z0-9-]+)", p).group(1)
    return alg, nonce


def authorization(alg, nonce, user, pw, nc):
    h = hashlib.sha256 if alg == "SHA-256" else hashlib.md5
    uri = "sip:" + DOMAIN
    ha1 = h(("%s:%s:%s" % (user, DOMAIN, pw)).encode()).hexdigest()
    ha2 = h(("REGISTER:%s" % uri).encode()).hexdigest()
    cn = "c0ffee"
    ncs = "%08x" % nc
    resp = h(("%s:%s:%s:%s:auth:%s" % (ha1, nonce, ncs, cn, ha2))
             .encode()).hexdigest()
    return ('Authorization: Digest username="%s", realm="%s", nonce="%s", '
            'uri="%s", response="%s", algorithm=%s, qop=auth, nc=%s, '
            'cnonce="%s"\r\n' % (user, DOMAIN, nonce, uri, resp, alg, ncs, cn))


def get_nonce(s, port, num):
    r = ask(s, port, request(s.getsockname()[1], num))
    return challenge(r)


def flood(port, kind, n):
    s = sock("127.0.0.2")
    sp = s.getsockname()[1]
    answered = 0
    bad = "Authorization: Digest garbage\r\n"
    for i in range(n):
        if kind == "badauth":
            m = request(sp, "+8613800000000", via_pad=60000, extra=bad)
        elif kind == "require":
            m = request(sp, "+8613800000000", via_pad=60000,
                        extra="Require: foo\r\n" + bad)
        elif kind == "tel":
            m = request(sp, "+8613800000000", ruri="tel:+8613800000000",
                        via_pad=60000, extra=bad)
        else:  # rfc2543
            m = request(sp, "+8613800000000", branch="old%d" % i,
                        via_pad=60000, extra=bad)
        s.sendto(m, ("127.0.0.1", port))
        # paced by the answers (a few in flight), so that the server's
        # receive buffer does not drop the flood before it is processed
        if i % 8 == 7:
            answered += len(recv_all(s, 0.05))
    answered += len(recv_all(s, 1.0))
    print("sent=%d answered=%d" % (n, answered))


def creds(port, num, user, pw, n):
    s = sock("127.0.0.2")
    sp = s.getsockname()[1]
    alg, nonce = get_nonce(s, port, num)
    ok = other = 0
    cid = "creds-" + uniq()
    for i in range(1, n + 1):
        m = request(sp, num, via_pad=20000, cseq=i, call_id=cid,
                    extra=authorization(alg, nonce, user, pw, i))
        s.sendto(m, ("127.0.0.1", port))
        if i % 32 == 0:
            for r in recv_all(s, 0.5 if i % 512 == 0 else 0):
                ok, other = (ok + 1, other) if status_of(r) == "200" \
                    else (ok, other + 1)
    for r in recv_all(s, 1.0):
        ok, other = (ok + 1, other) if status_of(r) == "200" \
            else (ok, other + 1)
    print("ok=%d other=%d" % (ok, other))


def nonces(port, num, user, pw, n):
    s = sock("127.0.0.2")
    sp = s.getsockname()[1]
    ok = other = 0
    for i in range(n):
        alg, nonce = get_nonce(s, port, num)
        if not nonce:
            other += 1
            continue
        r = ask(s, port, request(sp, num, extra=authorization(
            alg, nonce, user, pw, 1)))
        ok, other = (ok + 1, other) if status_of(r) == "200" \
            else (ok, other + 1)
    print("ok=%d other=%d" % (ok, other))


def spoof(port, num, user, pw):
    good = sock("127.0.0.1")
    alg, nonce = get_nonce(good, port, num)
    evil = sock("127.0.0.3")
    r = ask(evil, port, request(evil.getsockname()[1], num,
                                extra=authorization(alg, nonce, user, pw, 1)))
    print("status=%s stale=%s contacts=%d" % (
        status_of(r), "yes" if b"stale=true" in r else "no",
        r.count(b"\r\nContact:")))


def upper(port, num, user, pw):
    s = sock("127.0.0.1")
    sp = s.getsockname()[1]
    alg, nonce = get_nonce(s, port, num)
    r1 = ask(s, port, request(sp, num, extra=authorization(
        alg, nonce, user, pw, 1)))
    r2 = ask(s, port, request(sp, num, extra=authorization(
        alg, nonce.upper(), user, pw, 1)))
    print("first=%s upper=%s" % (status_of(r1), status_of(r2)))


def amp(port, num, user, pw):
    good = sock("127.0.0.1")
    alg, nonce = get_nonce(good, port, num)
    s = sock("127.0.0.3")
    sp = s.getsockname()[1]
    n = "+8613800000000"
    kinds = [
        ("register-minimal", ("REGISTER sip:%s SIP/2.0\r\nVia: SIP/2.0/UDP "
                              "127.0.0.3:%d;branch=z9hG4bK%s\r\nFrom: <sip:a@%s>"
                              ";tag=1\r\nTo: <sip:a@%s>\r\nCall-ID: %s\r\nCSeq: "
                              "1 REGISTER\r\n\r\n" % (DOMAIN, sp, uniq(),
                                                      DOMAIN, DOMAIN, uniq())
                              ).encode()),
        ("register-tiny", ("REGISTER sip:%s SIP/2.0\r\nVia: SIP/2.0/UDP "
                           "127.0.0.3:%d;branch=z9hG4bK%s\r\nFrom: <sip:a@d>"
                           ";tag=1\r\nTo: <sip:a@d>\r\nCall-ID: c\r\nCSeq: "
                           "1 REGISTER\r\n\r\n" % (DOMAIN, sp, uniq())
                           ).encode()),
        ("register-401", request(sp, num)),
        ("spoofed-auth", request(sp, num, extra=authorization(
            alg, nonce, user, pw, 1))),
        ("bad-authorization", request(sp, n, extra="Authorization: x\r\n")),
        ("require-420", request(sp, n, extra="Require: foo, bar, baz\r\n")),
        ("tel-416", request(sp, n, ruri="tel:" + n)),
        ("options-200", request(sp, n, method="OPTIONS")),
        ("invite-407", request(sp, n, method="INVITE")),
        ("unknown-501", request(sp, n, method="FOO")),
        ("bye-481", request(sp, n, method="BYE")),
        ("maxfwd-483", request(sp, n, method="MESSAGE").replace(
            b"Max-Forwards: 70", b"Max-Forwards: 0")),
        ("cseq-mismatch", request(sp, n).replace(b"1 REGISTER", b"1 OPTIONS")),
        ("short-options", ("OPTIONS sip:%s SIP/2.0\r\nVia: SIP/2.0/UDP "
                           "127.0.0.3:%d;rport;branch=z9hG4bK%s\r\nFrom: "
                           "<sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: "
                           "%s\r\nCSeq: 1 OPTIONS\r\n\r\n" % (
                               DOMAIN, sp, uniq(), uniq())).encode()),
    ]
    for kind, m in kinds:
        s.sendto(m, ("127.0.0.1", port))
        got = recv_all(s, 1.0)
        out = sum(len(g) for g in got)
        print("kind=%s status=%s chal=%d in=%d out=%d ratio=%.2f" % (
            kind, status_of(got[0]) if got else "none",
            sum(g.count(b"WWW-Authenticate:") for g in got), len(m), out,
            out / len(m)))


def main():
    a = sys.argv[1:]
    if not a:
        sys.exit(__doc__)
    cmd, port = a[0], int(a[1])
    if cmd == "flood":
        flood(port, a[2], int(a[3]))
    elif cmd == "creds":
        creds(port, a[2], a[3], a[4], int(a[5]))
    elif cmd == "nonces":
        nonces(port, a[2], a[3], a[4], int(a[5]))
    elif cmd == "spoof":
        spoof(port, a[2], a[3], a[4])
    elif cmd == "upper":
        upper(port, a[2], a[3], a[4])
    elif cmd == "amp":
        amp(port, a[2], a[3], a[4])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
