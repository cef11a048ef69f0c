#!/usr/bin/env python3
"""httpconn.py: raw-socket HTTP clients for server_http_hardening.sh.

  dribble PORT EVERY MAX_S       header line every EVERY s; prints seconds
                                 until the server closed, and lines sent
  dribble-body PORT EVERY MAX_S  complete (7 KB) headers, then a body byte every
                                 EVERY s; prints seconds until closed
  percap PORT N                  opens N idle connections at once; prints
                                 how many the server closed within 1.5 s
  atcap PORT N                   opens N idle connections, then one more
                                 asking /healthz: prints "held" if no
                                 answer came within 1.5 s, then closes one
                                 of the N and prints "answered" if the
                                 extra one is answered within 10 s
  hold PORT N SECONDS            opens up to N connections (non-blocking,
                                 some may stay in the backlog) and holds
                                 them SECONDS; prints how many connected
  duplen PORT                    two different Content-Length headers;
                                 prints the status and whether the server
                                 closed the connection afterwards
Loopback only (127.0.0.1).
"""
import select
import socket
import sys
import time

HOST = "127.0.0.1"


def closed_within(s, timeout):
    """True if the peer closes (EOF/reset) within timeout; drains data."""
    end = time.monotonic() + timeout
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return False
        r, _, _ = select.select([s], [], [], left)
        if not r:
            return False
        try:
            if not s.recv(4096):
                return True
        except OSError:
            return True


def dribble(port, every, max_s, body=False):
    s = socket.create_connection((HOST, port), timeout=5)
    t0 = time.monotonic()
    lines = 0
    if body:
        # 7 KB of headers: their end must be found across buffer chunks
        s.sendall(b"POST /v1/registrations HTTP/1.1\r\nHost: x\r\n"
                  b"X-Pad: " + b"p" * 7000 + b"\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n")
    else:
        s.sendall(b"GET /healthz HTTP/1.1\r\n")
    while time.monotonic() - t0 < max_s:
        if closed_within(s, every):
            break
        try:
            s.sendall(b"{" if body else b"X-Dribble-%d: y\r\n" % lines)
            lines += 1
        except OSError:
            break
    print("%.1f %d" % (time.monotonic() - t0, lines))


def percap(port, n):
    socks = [socket.create_connection((HOST, port), timeout=5) for _ in range(n)]
    time.sleep(1.5)
    closed = sum(1 for s in socks if closed_within(s, 0.05))
    print(closed)


def atcap(port, n):
    socks = [socket.create_connection((HOST, port), timeout=5) for _ in range(n)]
    time.sleep(0.5)
    extra = socket.create_connection((HOST, port), timeout=5)
    extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    r, _, _ = select.select([extra], [], [], 1.5)
    print("answered-early" if r else "held")
    socks[0].close()
    r, _, _ = select.select([extra], [], [], 10)
    data = extra.recv(4096) if r else b""
    print("answered" if data.startswith(b"HTTP/1.1 200") else "not-answered")


def hold(port, n, secs):
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect((HOST, port))
        except BlockingIOError:
            pass
        except OSError:
            s.close()
            continue
        socks.append(s)
    time.sleep(0.5)
    ok = 0
    for s in socks:
        try:
            s.getpeername()
            ok += 1
        except OSError:
            pass
    print(ok, flush=True)
    time.sleep(secs)


def duplen(port):
    s = socket.create_connection((HOST, port), timeout=5)
    s.sendall(b"POST /v1/registrations HTTP/1.1\r\nHost: x\r\n"
              b"Content-Type: application/json\r\n"
              b"Content-Length: 22\r\nContent-Length: 40\r\n\r\n"
              b'{"number":"+1555000"}\n'
              b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    end = time.monotonic() + 5
    closed = False
    while time.monotonic() < end:
        r, _, _ = select.select([s], [], [], end - time.monotonic())
        if not r:
            break
        try:
            chunk = s.recv(4096)
        except OSError:
            closed = True
            break
        if not chunk:
            closed = True
            break
        data += chunk
    status = data.split(b" ", 2)[1].decode() if data.startswith(b"HTTP/") else "none"
    print(status, "closed" if closed else "open", data.count(b"HTTP/1.1 "))


def main():
    cmd, port = sys.argv[1], int(sys.argv[2])
    if cmd == "dribble":
        dribble(port, float(sys.argv[3]), float(sys.argv[4]))
    elif cmd == "dribble-body":
        dribble(port, float(sys.argv[3]), float(sys.argv[4]), body=True)
    elif cmd == "percap":
        percap(port, int(sys.argv[3]))
    elif cmd == "atcap":
        atcap(port, int(sys.argv[3]))
    elif cmd == "hold":
        hold(port, int(sys.argv[3]), float(sys.argv[4]))
    elif cmd == "duplen":
        duplen(port)
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
