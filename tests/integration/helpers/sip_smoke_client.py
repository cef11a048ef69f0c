#!/usr/bin/env python3
"""sip_smoke_client: a small independent SIP client for server_sip_smoke.sh.

Speaks RFC 3261 REGISTER/OPTIONS over UDP, TCP or TLS with HTTP Digest
(RFC 8760 SHA-256 or MD5, qop=auth, nonce-count) and RFC 5626 CRLF
keep-alive, written from the RFCs (not from lib/sip) so it checks the
server from the outside. Prints TAP-like "ok NAME" / "not ok NAME - why".
"""
import argparse, hashlib, os, re, socket, ssl, sys, time

def H(alg, s):
    h = hashlib.sha256 if alg == "SHA-256" else hashlib.md5
    return h(s.encode()).hexdigest()

class Client:
    def __init__(s, a):
        s.a, s.tp = a, a.transport
        s.cseq, s.callid = 0, os.urandom(8).hex() + "@smoke"
        s.tag = os.urandom(4).hex()
        fam = socket.AF_INET
        if s.tp == "udp":
            s.sock = socket.socket(fam, socket.SOCK_DGRAM)
            s.sock.connect((a.host, a.port))
        else:
            s.sock = socket.create_connection((a.host, a.port), timeout=5)
            if s.tp == "tls":
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.load_verify_locations(a.cafile)
                ctx.check_hostname = False
                s.sock = ctx.wrap_socket(s.sock)
                s.tls_version = s.sock.version()
        s.sock.settimeout(5)
        s.lhost, s.lport = s.sock.getsockname()[:2]
        s.buf = b""

    def send(s, data):
        s.sock.sendall(data) if s.tp != "udp" else s.sock.send(data)

    def recv_msg(s):
        if s.tp == "udp":
            return s.sock.recv(65535).decode()
        while True:
            i = s.buf.find(b"\r\n\r\n")
            if i >= 0:
                m = re.search(rb"(?im)^(content-length|l)\s*:\s*(\d+)", s.buf[:i])
                n = int(m.group(2)) if m else 0
                if len(s.buf) >= i + 4 + n:
                    msg, s.buf = s.buf[:i + 4 + n], s.buf[i + 4 + n:]
                    return msg.decode()
            d = s.sock.recv(65536)
            if not d:
                raise EOFError("connection closed")
            s.buf += d

    def request(s, method, extra="", to_user=None, expires=None, contact=True,
                branch=None, cseq=None, raw_auth=None):
        if cseq is None:
            s.cseq += 1
            cseq = s.cseq
        a = s.a
        branch = branch or "z9hG4bK" + os.urandom(6).hex()
        ruri = "sip:" + a.domain
        to_user = to_user or a.number
        tp = s.tp.upper()
        lines = [
            f"{method} {ruri} SIP/2.0",
            f"Via: SIP/2.0/{tp} {s.lhost}:{s.lport};branch={branch};rport",
            "Max-Forwards: 70",
            f"From: <sip:{a.number}@{a.domain}>;tag={s.tag}",
            f"To: <sip:{to_user}@{a.domain}>",
            f"Call-ID: {s.callid}",
            f"CSeq: {cseq} {method}",
        ]
        if contact and method == "REGISTER":
            lines.append(f"Contact: <sip:{a.number}@{s.lhost}:{s.lport};transport={s.tp}>")
        if expires is not None:
            lines.append(f"Expires: {expires}")
        if raw_auth:
            lines.append(raw_auth)
        if extra:
            lines.append(extra)
        lines += ["Content-Length: 0", "", ""]
        msg = "\r\n".join(lines).encode()
        s.send(msg)
        return msg, s.recv_msg(), branch

def status(m):
    return int(m.split(" ", 2)[1])

def hdrs(m, name):
    return [l.split(":", 1)[1].strip() for l in m.split("\r\n")
            if l.lower().startswith(name.lower() + ":")]

def challenge(m, alg):
    for v in hdrs(m, "WWW-Authenticate"):
        if re.search(r'algorithm="?%s"?' % re.escape(alg), v):
            return dict(re.findall(r'(\w+)="?([^",]*)"?', v[len("Digest"):]))
    return None

def authz(a, ch, alg, method, nc, password=None):
    uri = "sip:" + a.domain
    ha1 = H(alg, f"{a.user}:{ch['realm']}:{password or a.password}")
    ha2 = H(alg, f"{method}:{uri}")
    cnonce = os.urandom(8).hex()
    ncs = "%08x" % nc
    resp = H(alg, f"{ha1}:{ch['nonce']}:{ncs}:{cnonce}:auth:{ha2}")
    return (f'Authorization: Digest username="{a.user}", realm="{ch["realm"]}", '
            f'nonce="{ch["nonce"]}", uri="{uri}", response="{resp}", '
            f'algorithm={alg}, qop=auth, nc={ncs}, cnonce="{cnonce}"')

T = {"failed": 0}
def check(name, cond, why=""):
    print(("ok " if cond else "not ok ") + name + ("" if cond else " - " + why))
    if not cond:
        T["failed"] = 1

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--transport", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--domain", required=True)
    p.add_argument("--number", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--cafile")
    p.add_argument("--alg", default="SHA-256")
    p.add_argument("--keep", action="store_true", help="leave the binding")
    p.add_argument("--expect-contact", metavar="SUBSTR",
                   help="only query the bindings (REGISTER without Contact) "
                        "and check one contains SUBSTR")
    a = p.parse_args()
    t = a.transport
    c = Client(a)
    if a.expect_contact:
        _, r, _ = c.request("REGISTER", contact=False)
        ch = challenge(r, a.alg)
        _, r, _ = c.request("REGISTER", contact=False,
                            raw_auth=authz(a, ch, a.alg, "REGISTER", 1))
        cts = hdrs(r, "Contact")
        check(f"{t} binding {a.expect_contact} is listed",
              status(r) == 200 and any(a.expect_contact in x for x in cts),
              r[:300])
        sys.exit(T["failed"])
    if t == "tls":
        check(f"{t} protocol is TLS 1.2+", c.tls_version in ("TLSv1.2", "TLSv1.3"),
              str(c.tls_version))

    _, r, _ = c.request("OPTIONS", contact=False)
    check(f"{t} OPTIONS 200", status(r) == 200, r[:40])
    allow = ",".join(hdrs(r, "Allow"))
    check(f"{t} OPTIONS lists Allow/Accept/Supported",
          "REGISTER" in allow and hdrs(r, "Accept") and hdrs(r, "Supported") != [], r)

    _, r, _ = c.request("REGISTER", expires=300)
    check(f"{t} REGISTER without credentials gets 401", status(r) == 401, r[:40])
    algs = [re.search(r'algorithm="?([\w-]+)', v).group(1)
            for v in hdrs(r, "WWW-Authenticate")]
    check(f"{t} challenge offers SHA-256 then MD5", algs == ["SHA-256", "MD5"], str(algs))
    ch = challenge(r, a.alg)
    via = hdrs(r, "Via")[0]
    check(f"{t} rport filled in (RFC 3581)", f"rport={c.lport}" in via, via)

    _, r, _ = c.request("REGISTER", expires=300,
                        raw_auth=authz(a, ch, a.alg, "REGISTER", 1))
    check(f"{t} REGISTER with {a.alg} digest gets 200", status(r) == 200, r[:60])
    cts = hdrs(r, "Contact")
    mine = [x for x in cts if f"{c.lhost}:{c.lport}" in x]
    check(f"{t} 200 lists our Contact with expires",
          len(mine) == 1 and re.search(r"expires=(29\d|300)\b", mine[0]) is not None, str(cts))

    # a new request replaying the same nonce-count: refused
    _, r, _ = c.request("REGISTER", expires=300,
                        raw_auth=authz(a, ch, a.alg, "REGISTER", 1))
    check(f"{t} replayed nonce-count gets 401", status(r) == 401, r[:40])
    # the same nonce with the next count is fine
    _, r, _ = c.request("REGISTER", expires=300,
                        raw_auth=authz(a, ch, a.alg, "REGISTER", 2))
    check(f"{t} next nonce-count gets 200", status(r) == 200, r[:40])
    _, r, _ = c.request("REGISTER", expires=300,
                        raw_auth=authz(a, ch, a.alg, "REGISTER", 3, password="wrong"))
    check(f"{t} wrong password gets 401", status(r) == 401, r[:40])
    _, r, _ = c.request("REGISTER", expires=10,
                        raw_auth=authz(a, ch, a.alg, "REGISTER", 4))
    check(f"{t} too brief expires gets 423 with Min-Expires",
          status(r) == 423 and hdrs(r, "Min-Expires") != [], r[:60])
    _, r, _ = c.request("REGISTER", expires=300, to_user="+8613900000000",
                        raw_auth=authz(a, ch, a.alg, "REGISTER", 5))
    check(f"{t} another number's AOR gets 403", status(r) == 403, r[:40])

    if t == "udp":
        # a retransmission (same branch and CSeq) is answered from the
        # transaction, not run again (its nonce-count would be a replay)
        auth = authz(a, ch, a.alg, "REGISTER", 6)
        msg, r1, br = c.request("REGISTER", expires=300, raw_auth=auth)
        c.send(msg)
        r2 = c.recv_msg()
        check("udp retransmission absorbed, same response resent",
              status(r1) == 200 and r1 == r2, r2[:40])
    else:
        c.send(b"\r\n\r\n")
        pong = c.sock.recv(16)
        check(f"{t} CRLF keep-alive answered with CRLF (RFC 5626)", pong == b"\r\n", repr(pong))

    if a.keep:
        print(f"# kept contact {c.lhost}:{c.lport}")
    else:
        _, r, _ = c.request("REGISTER", expires=0,
                            raw_auth=authz(a, ch, a.alg, "REGISTER", 7))
        mine = [x for x in hdrs(r, "Contact") if f"{c.lhost}:{c.lport}" in x]
        check(f"{t} Expires: 0 removes the binding", status(r) == 200 and not mine, r)
    sys.exit(T["failed"])

if __name__ == "__main__":
    main()
