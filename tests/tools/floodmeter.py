#!/usr/bin/env python3
"""floodmeter.py: sends one kind of SIP request over UDP many times from a
chosen loopback source address and counts what comes back to that address
(RFC 3261 requests; RFC 3261 s.22 / RFC 7616 digest for the authenticated
kinds). Used by tests/bench/server_hardening.sh for two figures of
docs/security.md: how much memory a stranger's requests cost the server,
and how many bytes an address that never proved it is there receives per
byte sent in its name (the reflection amplification factor).

  floodmeter.py KIND --target HOST:PORT [--src IP] [--count N] [--rate PPS]
                [--pad BYTES] [--user U --password P --number +E164
                 --auth-src IP --domain D --contacts K --contact-pad BYTES]

KIND, each a REGISTER unless said otherwise:
  noauth    no credentials (a challenge is the answer)
  badauth   a broken Authorization header
  require   Require: foo (an extension nobody has)
  tel       a tel: Request-URI
  rfc2543   no magic-cookie branch, broken Authorization
  options   an OPTIONS request
  query     the reflection attack of a stranger with one stolen challenge:
            from --auth-src (the real client) it registers --contacts
            contacts and takes one challenge; then from --src (standing
            for the victim whose address is spoofed) it sends
            authenticated query REGISTERs (no Contact) with nc = 1..N
--pad adds that many bytes to the top Via (a long branch parameter).
Prints one line: kind= sent= sent_bytes= recv= recv_bytes= factor= and the
statuses seen (status_401=N ...). Everything stays on 127.0.0.0/8.
"""
import argparse
import hashlib
import os
import re
import socket
import sys
import time


def parse_args():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind")
    ap.add_argument("--target", required=True)
    ap.add_argument("--src", default="127.0.0.1")
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=0, help="pps; 0 = flat out")
    ap.add_argument("--pad", type=int, default=0)
    ap.add_argument("--domain", default="dataline.local")
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--number", default="+8613800139999")
    ap.add_argument("--auth-src", default="127.0.0.1")
    ap.add_argument("--contacts", type=int, default=0)
    ap.add_argument("--contact-pad", type=int, default=0,
                    help="bytes of URI parameter per contact (long contacts)")
    ap.add_argument("--wait", type=float, default=1.0)
    a = ap.parse_args()
    host, port = a.target.rsplit(":", 1)
    for ip in (a.src, a.auth_src, host):
        if not ip.startswith("127."):
            sys.exit("floodmeter: loopback addresses only")
    a.host, a.port = host, int(port)
    return a


def request(a, sock, kind, seq, extra="", branch=None, ruri=None, method="REGISTER",
            number=None):
    lip, lport = sock.getsockname()
    number = number or a.number
    pad = ";x=" + "a" * a.pad if a.pad else ""
    if branch is None:
        branch = "z9hG4bK%d.%d" % (os.getpid(), seq)
    ruri = ruri or "sip:%s" % a.domain
    return ("%s %s SIP/2.0\r\n"
            "Via: SIP/2.0/UDP %s:%d;rport;branch=%s%s\r\n"
            "Max-Forwards: 70\r\n"
            "From: <sip:%s@%s>;tag=fm%d\r\n"
            "To: <sip:%s@%s>\r\n"
            "Call-ID: fm%d-%d@%s\r\n"
            "CSeq: %d %s\r\n%s"
            "Content-Length: 0\r\n\r\n" % (
                method, ruri, lip, lport, branch, pad, number, a.domain, seq,
                number, a.domain, os.getpid(), seq if kind != "query" else 0,
                lip, seq, method, extra)).encode()


def make(a, sock, kind, seq):
    bad = "Authorization: Digest username=\r\n"
    if kind == "noauth":
        return request(a, sock, kind, seq)
    if kind == "badauth":
        return request(a, sock, kind, seq, bad)
    if kind == "require":
        return request(a, sock, kind, seq, bad + "Require: foo\r\n")
    if kind == "tel":
        return request(a, sock, kind, seq, bad, ruri="tel:%s" % a.number)
    if kind == "rfc2543":
        return request(a, sock, kind, seq, bad, branch="1.%d.%d" % (os.getpid(), seq))
    if kind == "options":
        return request(a, sock, kind, seq, method="OPTIONS")
    sys.exit("floodmeter: unknown kind " + kind)


def H(alg, s):
    h = hashlib.sha256() if alg == "SHA-256" else hashlib.md5()
    h.update(s.encode())
    return h.hexdigest()


def digest(a, alg, nonce, nc, method="REGISTER"):
    uri = "sip:%s" % a.domain
    ha1 = H(alg, "%s:%s:%s" % (a.user, a.domain, a.password))
    ha2 = H(alg, "%s:%s" % (method, uri))
    cnonce = "fm%08x" % os.getpid()
    ncs = "%08x" % nc
    resp = H(alg, "%s:%s:%s:%s:auth:%s" % (ha1, nonce, ncs, cnonce, ha2))
    return ('Authorization: Digest username="%s", realm="%s", nonce="%s", '
            'uri="%s", response="%s", algorithm=%s, cnonce="%s", qop=auth, '
            'nc=%s\r\n' % (a.user, a.domain, nonce, uri, resp, alg, cnonce, ncs))


def rx(sock, timeout):
    sock.settimeout(timeout)
    try:
        return sock.recv(65535)
    except socket.timeout:
        return None


def status_of(data):
    m = re.match(rb"SIP/2\.0 (\d{3})", data or b"")
    return int(m.group(1)) if m else None


def query_setup(a):
    """From the real client's address: contacts, then one challenge."""
    if not (a.user and a.password):
        sys.exit("floodmeter: query needs --user and --password")
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((a.auth_src, 0))
    s.connect((a.host, a.port))
    seq = 1
    for k in range(0, a.contacts, 16):
        cts = "".join("Contact: <sip:%s@%s:%d;fm=%d%s>\r\n" % (
                          a.number, a.auth_src, 40000 + i, i, "p" * a.contact_pad)
                      for i in range(k, min(k + 16, a.contacts)))
        s.send(request(a, s, "setup", seq, cts, number=a.number))
        ch = rx(s, 2)
        seq += 1
        m = re.search(rb'nonce="([^"]+)"', ch or b"")
        alg = "SHA-256" if re.search(rb"algorithm=SHA-256", ch or b"") else "MD5"
        if not m:
            sys.exit("floodmeter: no challenge while adding contacts")
        s.send(request(a, s, "setup", seq, cts + digest(a, alg, m.group(1).decode(), 1),
                       number=a.number))
        seq += 1
        r = rx(s, 2)
        if status_of(r) != 200:
            sys.exit("floodmeter: adding contacts got %s" % status_of(r))
    s.send(request(a, s, "setup", seq, number=a.number))
    ch = rx(s, 2)
    m = re.search(rb'nonce="([^"]+)"', ch or b"")
    if not m:
        sys.exit("floodmeter: no challenge")
    alg = "SHA-256" if re.search(rb"algorithm=SHA-256", ch or b"") else "MD5"
    s.close()
    return alg, m.group(1).decode()


def main():
    a = parse_args()
    auth = query_setup(a) if a.kind == "query" else None
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.bind((a.src, 0))
    sock.connect((a.host, a.port))
    sock.setblocking(False)
    sent = sent_b = recv = recv_b = 0
    statuses = {}

    def drain():
        nonlocal recv, recv_b
        while True:
            try:
                d = sock.recv(65535)
            except (BlockingIOError, ConnectionRefusedError):
                return
            recv += 1
            recv_b += len(d)
            st = status_of(d)
            statuses[st] = statuses.get(st, 0) + 1

    t0 = time.monotonic()
    for i in range(a.count):
        if a.kind == "query":
            msg = request(a, sock, "query", 1000 + i,
                          digest(a, auth[0], auth[1], i + 1), number=a.number)
        else:
            msg = make(a, sock, a.kind, i)
        while True:
            try:
                sock.send(msg)
                break
            except BlockingIOError:
                drain()
                time.sleep(0.0005)
        sent += 1
        sent_b += len(msg)
        if i % 64 == 0:
            drain()
        if a.rate > 0:
            delay = t0 + (i + 1) / a.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
    end = time.monotonic() + a.wait
    while time.monotonic() < end:
        drain()
        time.sleep(0.01)
    drain()
    st = " ".join("status_%s=%d" % (k, v) for k, v in sorted(statuses.items(),
                                                             key=lambda x: str(x[0])))
    print("kind=%s sent=%d sent_bytes=%d recv=%d recv_bytes=%d factor=%.2f %s" % (
        a.kind, sent, sent_b, recv, recv_b, recv_b / sent_b if sent_b else 0, st))


if __name__ == "__main__":
    main()
