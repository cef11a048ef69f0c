#!/usr/bin/env python3
"""badinput.py: hostile SIP input for tests/integration/server_badinput.sh
(RFC 3261 s.18.3 framing, s.21.5.14 513 Message Too Large). Each command
prints one line of key=value results for the test to check; it asserts
nothing itself.

  udp-oversize PORT SIZE      one REGISTER datagram of SIZE bytes
                              -> "status=513|none"
  tcp-huge-cl PORT            headers with Content-Length: 100000000
                              -> "status=513|none closed=yes|no"
  tcp-long-headers PORT SIZE  SIZE bytes of header lines, never a blank line
                              -> "status=... closed=yes|no"
  tcp-truncated PORT WAIT     half a REGISTER, then silence for up to WAIT s
                              -> "closed=yes|no after=SECONDS"
  slowloris PORT N SECS       N connections sending one byte a second for
                              SECS s -> "open=N closed=N"
  garbage PORT                binary junk over UDP and TCP -> "sent=yes"
All on 127.0.0.1.
"""
import os
import select
import socket
import sys
import time

HOST = "127.0.0.1"


def register(body_len=0, extra=""):
    return ("REGISTER sip:dataline.local SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKbad%d\r\n"
            "Max-Forwards: 70\r\n"
            "From: <sip:+8613800138888@dataline.local>;tag=bad\r\n"
            "To: <sip:+8613800138888@dataline.local>\r\n"
            "Call-ID: badinput-%d\r\n"
            "CSeq: 1 REGISTER\r\n%s"
            "Content-Length: %d\r\n\r\n" % (os.getpid(), time.monotonic_ns(),
                                            extra, body_len))


def status_of(data):
    if data.startswith(b"SIP/2.0 ") and len(data) >= 11:
        return data[8:11].decode()
    return "none"


def read_until_close(s, secs):
    """Reads what the server sends for up to SECS; (data, closed)."""
    data, end = b"", time.monotonic() + secs
    while time.monotonic() < end:
        r, _, _ = select.select([s], [], [], max(0, end - time.monotonic()))
        if not r:
            break
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


def udp_oversize(port, size):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    pad = size - len(register(size))
    msg = register(pad).encode() + b"x" * pad
    s.sendto(msg, (HOST, port))
    s.settimeout(3)
    try:
        data = s.recv(65536)
    except socket.timeout:
        data = b""
    print("status=%s sent=%d" % (status_of(data), len(msg)))


def tcp_huge_cl(port):
    s = socket.create_connection((HOST, port))
    s.sendall(register(100000000).encode() + b"x" * 1000)
    data, closed = read_until_close(s, 5)
    print("status=%s closed=%s" % (status_of(data), "yes" if closed else "no"))


def tcp_long_headers(port, size):
    s = socket.create_connection((HOST, port))
    line = b"X-Filler: " + b"a" * 100 + b"\r\n"
    head = register().encode().split(b"Content-Length")[0]
    sent, closed = 0, False
    try:
        s.sendall(head)
        while sent < size:
            s.sendall(line)
            sent += len(line)
    except (BrokenPipeError, ConnectionResetError):
        closed = True
    data, c2 = read_until_close(s, 5)
    print("status=%s closed=%s sent=%d" % (status_of(data),
          "yes" if closed or c2 else "no", sent))


def tcp_truncated(port, wait):
    s = socket.create_connection((HOST, port))
    msg = register().encode()
    s.sendall(msg[: len(msg) // 2])
    t0 = time.monotonic()
    data, closed = read_until_close(s, wait)
    print("closed=%s after=%.1f status=%s" % ("yes" if closed else "no",
          time.monotonic() - t0, status_of(data)))


def slowloris(port, n, secs):
    conns = []
    for _ in range(n):
        c = socket.create_connection((HOST, port))
        c.setblocking(False)
        conns.append(c)
    msg = register().encode()
    closed = set()
    for i in range(secs):
        for k, c in enumerate(conns):
            if k in closed:
                continue
            try:
                c.send(msg[i % len(msg): i % len(msg) + 1])
                if c.recv(4096) == b"":
                    closed.add(k)
            except BlockingIOError:
                pass
            except OSError:
                closed.add(k)
        time.sleep(1)
    for k, c in enumerate(conns):  # a last look
        try:
            if c.recv(4096) == b"":
                closed.add(k)
        except BlockingIOError:
            pass
        except OSError:
            closed.add(k)
        c.close()
    print("open=%d closed=%d" % (n - len(closed), len(closed)))


def garbage(port):
    junk = os.urandom(1500)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(200):
        u.sendto(junk[: 1 + (i * 7) % 1500], (HOST, port))
    u.sendto(b"\r\n\r\n", (HOST, port))
    u.sendto(b"SIP/2.0 200 OK\r\n\r\n", (HOST, port))
    u.sendto(b"INVITE sip:x SIP/7.0\r\nVia: nonsense\r\n\r\n", (HOST, port))
    t = socket.create_connection((HOST, port))
    try:
        t.sendall(b"\x00\xff" * 100 + b"\r\n\r\n" + junk)
        read_until_close(t, 2)
    except OSError:
        pass
    print("sent=yes")


def main():
    a = sys.argv[1:]
    if not a:
        sys.exit(__doc__)
    cmd, port = a[0], int(a[1])
    if cmd == "udp-oversize":
        udp_oversize(port, int(a[2]))
    elif cmd == "tcp-huge-cl":
        tcp_huge_cl(port)
    elif cmd == "tcp-long-headers":
        tcp_long_headers(port, int(a[2]))
    elif cmd == "tcp-truncated":
        tcp_truncated(port, float(a[2]))
    elif cmd == "slowloris":
        slowloris(port, int(a[2]), int(a[3]))
    elif cmd == "garbage":
        garbage(port)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
