#!/usr/bin/env python3
"""sipua.py: a scriptable SIP user agent for the server's system tests, the
stand-in for a handset in the tests of texting and presence. Python 3
standard library only.

It keeps ONE flow to the server (a UDP socket, a TCP connection or a TLS
connection; --listen accepts one instead, for loopback runs) and sends
everything over it; requests from the server arrive on it too. It follows:
  RFC 3261  SIP (non-INVITE client transactions with timer E/F over UDP,
            absorbing retransmitted requests, Content-Length framing on
            streams, compact header forms), s.22 digest
  RFC 7616  digest qop=auth with cnonce and nonce-count, stale=true
  RFC 8760  digest SHA-256 (and MD5): the first algorithm offered that it
            supports; 401/WWW-Authenticate and 407/Proxy-Authenticate
  RFC 5626  outbound (+sip.instance, reg-id, Flow-Timer), keep-alives:
            CRLFCRLF ping / CRLF pong on TCP/TLS, STUN on UDP
  RFC 5389  STUN Binding request with FINGERPRINT, XOR-MAPPED-ADDRESS
  RFC 3428  MESSAGE; RFC 3862 message/cpim; RFC 5438 IMDN (delivery
            notifications, duplicate suppression by imdn.Message-ID)
  RFC 6665  SUBSCRIBE/NOTIFY, RFC 3856 presence event, RFC 3863 PIDF with
            the dataline netq extension (urn:dataline:params:xml:ns:pidf:netq)
  RFC 3903  PUBLISH with SIP-ETag / SIP-If-Match refresh, modify, remove

Usage: sipua.py -t udp|tcp|tls --server HOST:PORT --creds CREDS.json
                [--local HOST[:PORT]] [--cafile F | --no-verify] [--imdn]
                [--keepalive K|flow] [-c CMD]... [--script FILE] [--stdin]
(--creds reads username/password/number/domain of the API's JSON; --user,
--pass, --number, --domain set or override them; python3 sipua.py -h
lists every option.)

Commands come from -c CMD (repeatable), then --script FILE, then stdin
(when neither was given, or with --stdin), one a line ("#" comments);
after the last one it exits. Each command blocks until it is done while
requests from the server keep being answered.
  register [EXPIRES]       REGISTER AOR, Contact with the flow's local
                           address (+sip.instance, reg-id=1, Supported:
                           outbound unless --no-outbound); refreshed at
                           max(half, expires-60 s) while running
  unregister               the same with Expires: 0
  options [URI]            OPTIONS sip:DOMAIN
  ping                     one keep-alive now (CRLFCRLF, or STUN on UDP);
                           its pong or miss is an event, not the exit status
  send [--cpim] [--sip|--tel|--phone] [--esc] [--size N] NUMBER TEXT...
                           MESSAGE to sip:+NUMBER@DOMAIN (tel:+NUMBER,
                           sip:...;user=phone), text/plain, or --cpim:
                           message/cpim with a fresh imdn.Message-ID and
                           Disposition-Notification: positive-delivery,
                           negative-delivery. TEXT is the rest of the line;
                           --esc expands backslash escapes, --size N
                           appends N "x"
  sendmany [send options] N NUMBER PREFIX
                           "PREFIX 1".."PREFIX N" one after the other, each
                           waiting for its final answer; then a summary
  subscribe NUMBER [EXPIRES] | unsubscribe NUMBER
                           SUBSCRIBE Event: presence, Accept:
                           application/pidf+xml; refreshed in its dialog
  publish [--refresh] [expires=N] [link=up|down] [rate_kbps=N] [probed=0|1]
          [rtt_ms=N] [loss_ppm=N] [age_s=N] [basic=open|closed] [netq=off]
                           PUBLISH Event: presence, PIDF whose tuple holds
                           the netq element with exactly the figures given
                           (docs/presence.md: absent = not known; none:
                           <dl:netq/>; netq=off: no element; values are sent
                           as written; basic is closed for link=down, else
                           open); after the first 200, SIP-If-Match
                           with the SIP-ETag (--refresh: no body); 412 ->
                           publishes afresh; refreshed while running
  unpublish                PUBLISH Expires: 0 with SIP-If-Match
  answer CODE|silent [DELAY_S]
                           how later MESSAGEs are answered (as the options
                           --message-answer / --message-delay)
  wait EVENT_TYPE COUNT TIMEOUT
                           until COUNT events of EVENT_TYPE were printed
                           since the start (any source), or TIMEOUT s
  sleep S | echo TEXT | quit

Events: one JSON object a line on stdout, flushed, always with "event"
and "t" (seconds since start):
  start {transport, local, server, peer, aor, instance}; tls {version,
    cipher, verified}; closed {reason}; exit {rc}; error {command?, error}
  register / unregister {status, reason, expires (ours, granted),
    contacts [all of the 200], flow_timer, require, supported, min_expires,
    refresh, challenges [401...], algs [offered], alg (used), stale?}
    (status null + timeout true when no final answer, for every command)
  options {status, reason, allow, accept, supported, server}
  keepalive {kind crlf|stun, rtt_ms, mapped "ip:port" (STUN
    XOR-MAPPED-ADDRESS), fingerprint_ok}; keepalive_missed {kind, note}
  send {status, reason, number, uri, message_id (CPIM) | null, call_id,
    bytes, ms, challenges}; sendmany {count, number, by_status {"202": N},
    timeouts, seconds}
  subscribe / unsubscribe {number, status, reason, expires, call_id}
  publish / unpublish {status, reason, etag, expires, refresh, sent_body,
    netq {the figures sent} | null}
  answer {code, delay}; wait {type, count, seen, ok}; echo {text}
  oddities: pong_unexpected, stun_unexpected / stun_error {type},
    stun_bad {size}, bad_message {error, size}
Requests received (answered at once unless said otherwise), all with
{method, ruri, from, to, from_user, to_user (the user parts of their
URIs), call_id, cseq, content_type, body, headers {those of interest,
lower-case names}, src (UDP, only when not the server's address)}:
  message   MESSAGE: + text, message_id, cpim {CPIM headers as written,
            e.g. "imdn.Message-ID", "imdn.Disposition-Notification"},
            cpim_content_type, answer, answer_delay. Answered 200, or the
            --message-answer code / silent / after --message-delay s. A
            message/cpim asking positive-delivery, once accepted (2xx),
            gets with --imdn a MESSAGE to sip:<CPIM From user>@DOMAIN
            carrying message/cpim > message/imdn+xml "delivered"
            (imdn_sent {status, message_id (the original), imdn_id, uri})
  duplicate the same, for a new transaction with an imdn.Message-ID that
            was accepted before: 200 at once whatever the answer mode, no
            second IMDN
  imdn      a MESSAGE carrying message/imdn+xml: + imdn {message_id,
            datetime, recipient_uri, original_recipient_uri, kind
            (delivery-notification...), status (delivered, failed...)}
  notify    NOTIFY -> 200: + subscription_state, event_package, number
            (of our subscription), basic, netq {link, rate_kbps, probed,
            rtt_ms, loss_ppm, age_s: those present} of the first tuple
            having one (in it or its <status>), else of <presence>, pidf
            {entity, tuples [{id, basic, netq}], netq (aggregate)}
  request   OPTIONS -> 200, anything else -> 501 (+ answer)
  ack       ACK: absorbed
  retransmission {method, call_id, branch, answered}: a copy of a request
            already received (same Via branch, method, CSeq); the stored
            answer is sent again, nothing when none was sent yet

Exit status: 0 when every command got what it waited for, 2 when one
did not (a transaction timed out, a wait ran out, the flow closed), 1 on
bad usage or an unknown command. It asserts nothing about the answers:
the test scripts do. --selftest runs built-in checks (RFC 7616 s.3.9.1
digest values, STUN, CPIM/IMDN/PIDF parsing, an in-process fake server
over TCP and UDP) and prints "N passed, N failed" last; --listen accepts
one flow on --server instead of connecting (two instances in loopback;
TLS then needs --cert/--key).
"""
import argparse
import binascii
import hashlib
import heapq
import json
import os
import queue
import re
import selectors
import socket
import ssl
import struct
import sys
import threading
import time
import uuid
import xml.etree.ElementTree as ET

T1, T2 = 0.5, 4.0
COMPACT = {"i": "call-id", "f": "from", "t": "to", "v": "via", "m": "contact",
           "l": "content-length", "c": "content-type", "o": "event",
           "u": "allow-events", "k": "supported", "e": "content-encoding",
           "s": "subject", "r": "refer-to", "b": "referred-by",
           "x": "session-expires", "a": "accept-contact",
           "j": "reject-contact", "d": "request-disposition",
           "y": "identity", "n": "identity-info"}
INTEREST = ("event", "subscription-state", "expires", "sip-etag",
            "sip-if-match", "flow-timer", "allow", "supported", "require",
            "user-agent", "server", "date", "contact", "accept", "p-asserted-identity",
            "max-forwards", "content-length")
REASONS = {200: "OK", 202: "Accepted", 400: "Bad Request", 403: "Forbidden",
           404: "Not Found", 408: "Request Timeout", 480: "Temporarily Unavailable",
           481: "Call/Transaction Does Not Exist", 486: "Busy Here",
           488: "Not Acceptable Here", 500: "Server Internal Error",
           501: "Not Implemented", 503: "Service Unavailable"}
NS_PIDF = "urn:ietf:params:xml:ns:pidf"
NS_NETQ = "urn:dataline:params:xml:ns:pidf:netq"
NS_IMDN = "urn:ietf:params:xml:ns:imdn"
STUN_COOKIE = 0x2112A442


# ---------------------------------------------------------------- parsing

def split_commas(v):
    """Splits a header value at commas outside quotes and <>."""
    out, cur, q, ang = [], "", False, False
    for ch in v:
        if ch == '"' and not ang:
            q = not q
        elif ch == "<" and not q:
            ang = True
        elif ch == ">" and not q:
            ang = False
        if ch == "," and not q and not ang:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


class Msg:
    """A parsed SIP message: start line, headers (long lower-case names,
    in order), body bytes."""

    def __init__(self, data):
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("utf-8", "replace").split("\r\n")
        self.start = lines[0]
        self.headers = []
        for ln in lines[1:]:
            if ln[:1] in (" ", "\t") and self.headers:  # folded line
                n, v = self.headers[-1]
                self.headers[-1] = (n, v + " " + ln.strip())
                continue
            n, sep, v = ln.partition(":")
            if not sep:
                continue
            n = n.strip().lower()
            self.headers.append((COMPACT.get(n, n), v.strip()))
        self.body = body
        p = self.start.split(" ", 2)
        self.is_response = p[0].startswith("SIP/")
        if self.is_response:
            self.status = int(p[1]) if len(p) > 1 and p[1].isdigit() else 0
            self.reason = p[2] if len(p) > 2 else ""
            self.method = self.cseq()[1]
        else:
            self.method = p[0]
            self.ruri = p[1] if len(p) > 1 else ""

    def get(self, name, default=None):
        for n, v in self.headers:
            if n == name:
                return v
        return default

    def all(self, name):
        return [v for n, v in self.headers if n == name]

    def list(self, name):
        return [x for v in self.all(name) for x in split_commas(v)]

    def cseq(self):
        p = (self.get("cseq") or "0 ?").split()
        return (int(p[0]) if p and p[0].isdigit() else 0,
                p[1] if len(p) > 1 else "?")

    def branch(self):
        vias = self.list("via")
        m = re.search(r";\s*branch=([^;,\s]+)", vias[0] if vias else "", re.I)
        return m.group(1) if m else ""

    def text(self):
        return self.body.decode("utf-8", "replace")


def frame_stream(buf):
    """(message bytes, rest) of a stream buffer, or (None, buf)."""
    i = buf.find(b"\r\n\r\n")
    if i < 0:
        return None, buf
    m = re.search(rb"(?im)^(?:content-length|l)[ \t]*:[ \t]*(\d+)", buf[:i])
    n = int(m.group(1)) if m else 0
    end = i + 4 + n
    if len(buf) < end:
        return None, buf
    return buf[:end], buf[end:]


def uri_of(nameaddr):
    """The URI of a name-addr or addr-spec (From, To, Contact, CPIM From)."""
    m = re.search(r"<([^>]*)>", nameaddr or "")
    if m:
        return m.group(1).strip()
    return (nameaddr or "").split(";")[0].strip()


def uri_user(uri):
    m = re.match(r"(?:sips?|tel|im|pres):([^@;>]*)", uri or "", re.I)
    return m.group(1) if m else ""


def param(value, name):
    m = re.search(r";\s*%s=(\"[^\"]*\"|[^;,\s]*)" % re.escape(name), value or "", re.I)
    return m.group(1).strip('"') if m else None


def tag_of(v):
    return param(v, "tag")


def parse_cpim(body):
    """RFC 3862: message headers, blank line, MIME headers, blank line,
    content. Returns a dict: headers {name: value} (prefixed names as
    written, e.g. imdn.Message-ID; a repeated header joined by ", "),
    imdn {Name: value} (the headers of urn:ietf:params:imdn, whatever
    prefix NS gave it), content_type, mime, content (text)."""
    text = body.decode("utf-8", "replace").replace("\r\n", "\n")
    msgh, _, rest = text.partition("\n\n")
    mimeh, _, content = rest.partition("\n\n")
    hdrs = {}
    for ln in msgh.split("\n"):
        n, sep, v = ln.partition(":")
        if sep:
            n = n.strip()
            hdrs[n] = hdrs[n] + ", " + v.strip() if n in hdrs else v.strip()
    mime = {}
    for ln in mimeh.split("\n"):
        n, sep, v = ln.partition(":")
        if sep:
            mime[n.strip().lower()] = v.strip()
    ct = mime.get("content-type", "")
    prefixes = {m.group(1) for m in re.finditer(
        r"(?:^|,)\s*([\w-]+)\s*<urn:ietf:params:imdn>", hdrs.get("NS", ""))}
    imdn = {n.split(".", 1)[1].lower(): v for n, v in hdrs.items()
            if "." in n and n.split(".", 1)[0] in prefixes}
    return {"headers": hdrs, "imdn": imdn, "content_type": ct, "mime": mime,
            "content": content}


def cpim_get(cp, name):
    """A CPIM header; "imdn.X" finds X in the imdn namespace under any
    prefix."""
    if name.lower().startswith("imdn."):
        return cp["imdn"].get(name[5:].lower())
    for n, v in cp["headers"].items():
        if n.lower() == name.lower():
            return v
    return None


def parse_imdn(xml_text):
    root = ET.fromstring(xml_text.encode() if isinstance(xml_text, str) else xml_text)
    ns = "{%s}" % NS_IMDN
    out = {}
    for k in ("message-id", "datetime", "recipient-uri", "original-recipient-uri"):
        e = root.find(ns + k)
        if e is not None and e.text:
            out[k.replace("-", "_")] = e.text.strip()
    for kind in ("delivery-notification", "display-notification",
                 "processing-notification"):
        e = root.find(ns + kind)
        if e is not None:
            out["kind"] = kind
            st = e.find(ns + "status")
            if st is not None and len(st):
                out["status"] = st[0].tag.split("}")[-1]
    return out


NETQ_FIELDS = (("link", "link"), ("rate-kbps", "rate_kbps"), ("rtt-ms", "rtt_ms"),
               ("loss-ppm", "loss_ppm"), ("age-s", "age_s"))


def netq_xml(f):
    """<dl:netq> with exactly the figures in F (docs/presence.md: an absent
    element means "not known", never zero; no figure at all gives the
    empty element)."""
    inner = ""
    for el, key in NETQ_FIELDS:
        if key not in f:
            continue
        attr = ""
        if key == "rate_kbps" and "probed" in f:
            attr = ' probed="%s"' % ("true" if f["probed"] else "false")
        inner += "<dl:%s%s>%s</dl:%s>" % (el, attr, f[key], el)
    return "<dl:netq>%s</dl:netq>" % inner if inner else "<dl:netq/>"


def pidf_body(entity, f, basic=None):
    """F None: no netq element at all."""
    basic = basic or ("closed" if f and f.get("link") == "down" else "open")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<presence xmlns="%s"%s entity="%s">\n'
            '  <tuple id="dl1">\n'
            '    <status><basic>%s</basic></status>\n'
            '%s'
            '  </tuple>\n'
            '</presence>\n' % (NS_PIDF, ' xmlns:dl="%s"' % NS_NETQ if f is not None else "",
                                entity, basic,
                                "    %s\n" % netq_xml(f) if f is not None else ""))


def parse_netq(n):
    q = "{%s}" % NS_NETQ
    nq = {}
    for el, key in NETQ_FIELDS:
        e = n.find(q + el)
        if e is None:
            continue
        v = (e.text or "").strip()
        nq[key] = int(v) if re.fullmatch(r"\d+", v) else v
        if el == "rate-kbps" and e.get("probed") is not None:
            nq["probed"] = e.get("probed") == "true"
    return nq


def parse_pidf(xml_text):
    """{entity, tuples: [{id, basic, netq}], netq (directly in <presence>:
    an aggregate)} of a PIDF document; netq is found in a tuple or in its
    <status> (docs/presence.md)."""
    root = ET.fromstring(xml_text.encode() if isinstance(xml_text, str) else xml_text)
    p, q = "{%s}" % NS_PIDF, "{%s}" % NS_NETQ
    out = {"entity": root.get("entity"), "tuples": []}
    for t in root.findall(p + "tuple"):
        tu = {"id": t.get("id")}
        b = t.find(p + "status/" + p + "basic")
        if b is not None:
            tu["basic"] = (b.text or "").strip()
        n = t.find(q + "netq")
        if n is None:
            n = t.find(p + "status/" + q + "netq")
        if n is not None:
            tu["netq"] = parse_netq(n)
        out["tuples"].append(tu)
    n = root.find(q + "netq")
    if n is not None:
        out["netq"] = parse_netq(n)
    return out


# ----------------------------------------------------------------- digest

HASHES = {"SHA-256": hashlib.sha256, "MD5": hashlib.md5}


def hx(alg, s):
    return HASHES[alg.upper()](s.encode()).hexdigest()


def digest_response(alg, user, realm, pw, method, uri, nonce, nc=None,
                    cnonce=None, qop=None):
    ha1 = hx(alg, "%s:%s:%s" % (user, realm, pw))
    ha2 = hx(alg, "%s:%s" % (method, uri))
    if qop:
        return hx(alg, "%s:%s:%s:%s:%s:%s" % (ha1, nonce, nc, cnonce, qop, ha2))
    return hx(alg, "%s:%s:%s" % (ha1, nonce, ha2))


def parse_challenges(values):
    """Digest challenges of WWW-/Proxy-Authenticate values, in order."""
    out = []
    for v in values:
        for part in re.split(r",\s*(?=Digest\s)", v, flags=re.I):
            m = re.match(r"\s*Digest\s+(.*)", part, re.I | re.S)
            if not m:
                continue
            d = {k.lower(): (a if a else b) for k, a, b in re.findall(
                r'([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^",\s]+))', m.group(1))}
            d["algorithm"] = d.get("algorithm", "MD5").upper()
            out.append(d)
    return out


# ------------------------------------------------------------------- STUN

def crc32(b):
    return binascii.crc32(b) & 0xFFFFFFFF


def stun_request(tid):
    """RFC 5389 Binding request with FINGERPRINT (s.15.5)."""
    hdr = struct.pack("!HHI12s", 0x0001, 8, STUN_COOKIE, tid)
    fp = crc32(hdr) ^ 0x5354554E
    return hdr + struct.pack("!HHI", 0x8028, 4, fp)


def is_stun(b):
    return (len(b) >= 20 and b[0] & 0xC0 == 0 and
            struct.unpack("!I", b[4:8])[0] == STUN_COOKIE)


def stun_parse(b):
    """(type, tid, mapped "ip:port" or None, fingerprint ok or None)."""
    typ, ln, _, tid = struct.unpack("!HHI12s", b[:20])
    mapped = fp_ok = None
    i = 20
    while i + 4 <= min(len(b), 20 + ln):
        at, al = struct.unpack("!HH", b[i:i + 4])
        v = b[i + 4:i + 4 + al]
        if at in (0x0020, 0x0001) and len(v) >= 8 and v[1] == 1:
            port = struct.unpack("!H", v[2:4])[0]
            addr = struct.unpack("!I", v[4:8])[0]
            if at == 0x0020:
                port ^= STUN_COOKIE >> 16
                addr ^= STUN_COOKIE
            if at == 0x0020 or mapped is None:
                mapped = "%s:%d" % (socket.inet_ntoa(struct.pack("!I", addr)), port)
        elif at == 0x8028 and al == 4:
            fp_ok = struct.unpack("!I", v)[0] == crc32(b[:i]) ^ 0x5354554E
        i += 4 + ((al + 3) & ~3)
    return typ, tid, mapped, fp_ok


def stun_response(req, addr):
    """A Binding success response to REQ for ADDR (ip, port): the fake
    server of the self-test and --listen mode use it."""
    _, _, _, tid = struct.unpack("!HHI12s", req[:20])
    ip = struct.unpack("!I", socket.inet_aton(addr[0]))[0] ^ STUN_COOKIE
    xma = struct.pack("!HHBBHI", 0x0020, 8, 0, 1, addr[1] ^ (STUN_COOKIE >> 16), ip)
    hdr = struct.pack("!HHI12s", 0x0101, len(xma) + 8, STUN_COOKIE, tid)
    fp = crc32(hdr + xma) ^ 0x5354554E
    return hdr + xma + struct.pack("!HHI", 0x8028, 4, fp)


# ------------------------------------------------------------------- flow

class Flow:
    """The one socket, owned by one I/O thread (OpenSSL objects must not be
    read and written from two threads at once). Others call send() and
    call_later(); received messages go to the on_* callbacks, which run in
    the I/O thread."""

    def __init__(self, sock, tp, peer=None):
        self.sock, self.tp, self.peer = sock, tp, peer
        self.q = queue.Queue()
        self.wr, self.ww = socket.socketpair()
        self.timers = []
        self.tseq = 0
        self.tlock = threading.Lock()
        self.rbuf = b""
        self.out = []
        self.chunk = None
        self.closed = False
        self.on_msg = self.on_stun = self.on_pong = self.on_close = None
        self.ping_outstanding = 0
        self.src = None  # UDP: the source of the datagram being handled
        self.stopping = None

    def start(self):
        self.sock.setblocking(False)
        self.wr.setblocking(False)
        self.th = threading.Thread(target=self._loop, daemon=True)
        self.th.start()

    def send(self, data, addr=None):
        self.q.put((data, addr))
        self._wake()

    def put(self, data, addr=None):
        """send() for the I/O thread itself."""
        self.out.append((data, addr))

    def _wake(self):
        try:
            self.ww.send(b"x")
        except OSError:
            pass

    def call_later(self, delay, fn):
        """Runs FN in the I/O thread after DELAY s; returns a handle for
        cancel()."""
        h = [False]
        with self.tlock:
            self.tseq += 1
            heapq.heappush(self.timers, (time.monotonic() + delay, self.tseq, fn, h))
        self._wake()
        return h

    @staticmethod
    def cancel(h):
        if h:
            h[0] = True

    def close(self, wait=2.0):
        """Stops the flow once what is queued has been sent (at most WAIT
        seconds), then closes the socket."""
        self.stopping = time.monotonic() + wait
        self._wake()
        if threading.current_thread() is not self.th:
            self.th.join(wait + 1)

    def _deliver(self, fn, arg):
        if fn:
            try:
                fn(arg) if arg is not None else fn()
            except Exception:  # a bug in a handler must not kill the flow
                import traceback
                sys.stderr.write("sipua: handler error: %s" % traceback.format_exc())

    def _flush(self):
        while True:
            if self.chunk is None:
                if not self.out:
                    return True
                if self.tp == "udp":
                    self.chunk = self.out.pop(0)
                else:
                    data = b"".join(d for d, _ in self.out)
                    self.out = []
                    self.chunk, rest = data[:16384], data[16384:]
                    if rest:
                        self.out.append((rest, None))
            try:
                if self.tp == "udp":
                    data, addr = self.chunk
                    if addr or self.peer:
                        self.sock.sendto(data, addr or self.peer)
                    self.chunk = None
                    continue
                else:
                    n = self.sock.send(self.chunk)
            except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                return False
            except OSError as e:
                if self.tp == "udp":  # ICMP unreachable etc.: datagram lost
                    self.chunk = None
                    continue
                self._closed(str(e))
                return True
            if n >= len(self.chunk):
                self.chunk = None
            else:
                if self.tp == "tls":  # partial writes are not enabled
                    self.chunk = None
                else:
                    self.chunk = self.chunk[n:]

    def _closed(self, why):
        if not self.closed:
            self.closed = True
            if self.on_close:
                self.on_close(why)

    def _read(self):
        while not self.closed:
            try:
                if self.tp == "udp":
                    data, addr = self.sock.recvfrom(65535)
                    if self.peer is None:
                        self.peer = addr
                    self.src = addr
                    self._datagram(data)
                    continue
                data = self.sock.recv(65536)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                return
            except ConnectionRefusedError:
                return  # UDP: ICMP port unreachable
            except OSError as e:
                self._closed(str(e))
                return
            if not data:
                self._closed("closed by peer")
                return
            self.rbuf += data
            self._frames()

    def _datagram(self, data):
        if is_stun(data):
            self._deliver(self.on_stun, data)
        elif data.strip(b"\r\n") == b"":
            if data == b"\r\n\r\n":
                self.put(b"\r\n", self.src)
            else:
                self._deliver(self.on_pong, None)
        else:
            self._deliver(self.on_msg, data)

    def _frames(self):
        while self.rbuf:
            if self.rbuf.startswith(b"\r\n"):
                if self.rbuf.startswith(b"\r\n\r\n"):
                    self.rbuf = self.rbuf[4:]
                    self.put(b"\r\n")  # answer the peer's ping
                    continue
                if len(self.rbuf) == 2 and not self.ping_outstanding:
                    return  # maybe the start of a ping: wait
                self.rbuf = self.rbuf[2:]
                self._deliver(self.on_pong, None)
                continue
            m, self.rbuf = frame_stream(self.rbuf)
            if m is None:
                return
            self._deliver(self.on_msg, m)

    def _loop(self):
        sel = selectors.DefaultSelector()
        sel.register(self.wr, selectors.EVENT_READ)
        sel.register(self.sock, selectors.EVENT_READ)
        want_write = False
        while not self.closed:
            with self.tlock:
                nxt = self.timers[0][0] if self.timers else None
            to = None if nxt is None else max(0.0, nxt - time.monotonic())
            if self.tp == "tls" and self.sock.pending():
                to = 0
            if self.stopping:
                to = 0.05 if to is None else min(to, 0.05)
            for key, ev in sel.select(to):
                if key.fileobj is self.wr:
                    try:
                        while self.wr.recv(4096):
                            pass
                    except BlockingIOError:
                        pass
            self._read()
            now = time.monotonic()
            while True:
                with self.tlock:
                    if not self.timers or self.timers[0][0] > now:
                        break
                    _, _, fn, h = heapq.heappop(self.timers)
                if not h[0]:
                    self._deliver(fn, None)
            while True:
                try:
                    self.out.append(self.q.get_nowait())
                except queue.Empty:
                    break
            done = self.closed or self._flush()
            if self.stopping and (done or time.monotonic() > self.stopping):
                break
            if done == want_write:
                want_write = not done
                sel.modify(self.sock, selectors.EVENT_READ |
                           (selectors.EVENT_WRITE if want_write else 0))
        try:
            self.sock.close()
        except OSError:
            pass


# --------------------------------------------------------------------- UA

class Txn:
    def __init__(self, branch, method, data):
        self.branch, self.method, self.data = branch, method, data
        self.done = threading.Event()
        self.final = None
        self.timer = None
        self.rto = T1


class UA:
    def __init__(self, a, out=None):
        self.a = a
        self.out = out or sys.stdout
        self.t0 = time.monotonic()
        self.elock = threading.Condition()
        self.counts = {}
        self.lock = threading.RLock()
        self.txns = {}
        self.auth = {}        # realm -> challenge state
        self.answered = {}    # (branch, method, cseq) -> (answer, addr) or None
        self.seen_ids = set()
        self.subs = {}
        self.pub = None       # PUBLISH state
        self.reg = {"call_id": self.rand() + "@sipua", "tag": self.rand(4),
                    "cseq": 0, "timer": None, "expires": 0}
        self.msg_code = a.message_answer
        self.msg_delay = a.message_delay
        self.ka_timer = None
        self.ka_pending = None
        self.ka_interval = None
        self.flow_timer = None
        self.instance = a.instance or str(uuid.uuid4())
        self.flow = None
        self.reg_lock = threading.Lock()
        self.pub_lock = threading.Lock()

    # ---- helpers
    @staticmethod
    def rand(n=8):
        return os.urandom(n).hex()

    def emit(self, ev, **kw):
        d = {"event": ev, "t": round(time.monotonic() - self.t0, 3)}
        d.update(kw)
        with self.elock:
            self.out.write(json.dumps(d) + "\n")
            self.out.flush()
            self.counts[ev] = self.counts.get(ev, 0) + 1
            self.elock.notify_all()
        return d

    def aor_user(self):
        return self.a.user if self.a.one_field else self.a.number

    def aor(self):
        return "sip:%s@%s" % (self.aor_user(), self.a.domain)

    def target(self, number, form=None):
        n = number
        if re.fullmatch(r"\d+", n):
            n = "+" + n
        form = form or self.a.uri_form
        if form == "tel":
            return "tel:" + n
        if form == "phone":
            return "sip:%s@%s;user=phone" % (n, self.a.domain)
        return "sip:%s@%s" % (n, self.a.domain)

    def hostport(self):
        return "%s:%d" % ("[%s]" % self.lip if ":" in self.lip else self.lip, self.lport)

    def contact_uri(self):
        return "sip:%s@%s;transport=%s" % (self.aor_user() or "sipua", self.hostport(),
                                           self.a.transport)

    def contact(self):
        c = "<%s>" % self.contact_uri()
        if self.a.outbound:
            c += ';+sip.instance="<urn:uuid:%s>";reg-id=1' % self.instance
        return c

    # ---- connection
    def connect(self):
        a = self.a
        tp = a.transport
        fam = socket.AF_INET6 if ":" in a.host else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_DGRAM if tp == "udp" else socket.SOCK_STREAM)
        peer = None
        if a.listen:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((a.host, a.port))
            if tp != "udp":
                s.listen(1)
                s.settimeout(max(a.timeout, 60.0))  # the other side starts
                c, peer = s.accept()
                s.close()
                s = c
                s.settimeout(a.timeout)
        elif tp == "udp":
            # Unconnected, so that a request from another source address
            # still shows (its event carries "src"); bound to the address
            # a connected socket would use, so the Contact is real.
            if a.local:
                s.bind(a.local)
            else:
                probe = socket.socket(fam, socket.SOCK_DGRAM)
                probe.connect((a.host, a.port))
                s.bind((probe.getsockname()[0], 0))
                probe.close()
            peer = socket.getaddrinfo(a.host, a.port, fam, socket.SOCK_DGRAM)[0][4]
        else:
            if a.local:
                s.bind(a.local)
            s.settimeout(a.timeout)
            s.connect((a.host, a.port))
            peer = (a.host, a.port)
        if tp != "udp":  # request/answer in turn: no Nagle delays
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tp == "tls":
            if a.listen:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(a.cert, a.key)
                s = ctx.wrap_socket(s, server_side=True)
            else:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.minimum_version = ssl.TLSVersion.TLSv1_2
                if a.no_verify:
                    ctx.check_hostname = False
                    ctx.verify_mode = ssl.CERT_NONE
                elif a.cafile:
                    ctx.load_verify_locations(a.cafile)
                    ctx.check_hostname = bool(a.tls_name)
                else:
                    ctx.load_default_certs()
                s = ctx.wrap_socket(s, server_hostname=a.tls_name or a.host)
            self.emit("tls", version=s.version(), cipher=s.cipher()[0],
                      verified=not a.no_verify and not a.listen)
        self.lip, self.lport = s.getsockname()[:2]
        self.flow = Flow(s, tp, peer)
        self.flow.on_msg = self.on_msg
        self.flow.on_stun = self.on_stun
        self.flow.on_pong = self.on_pong
        self.flow.on_close = self.on_close
        self.flow.start()
        self.emit("start", transport=tp, local="%s:%d" % (self.lip, self.lport),
                  server="%s:%d" % (a.host, a.port) if not a.listen else None,
                  peer="%s:%d" % peer[:2] if peer else None,
                  aor=self.aor() if self.aor_user() else None,
                  instance=self.instance if a.outbound else None)

    def on_close(self, why):
        self.emit("closed", reason=why)
        with self.lock:
            for t in list(self.txns.values()):
                t.done.set()

    # ---- client transactions
    def build(self, method, ruri, call, headers=(), body=b"", ctype=None,
              branch=None):
        tp = self.a.transport.upper()
        to = call.get("to") or ruri
        lines = ["%s %s SIP/2.0" % (method, ruri),
                 "Via: SIP/2.0/%s %s;branch=%s;rport" % (tp, self.hostport(), branch),
                 "Max-Forwards: 70",
                 "From: <%s>;tag=%s" % (call.get("from") or self.aor(), call["tag"]),
                 "To: <%s>%s" % (to, ";tag=" + call["to_tag"] if call.get("to_tag") else ""),
                 "Call-ID: %s" % call["call_id"],
                 "CSeq: %d %s" % (call["cseq"], method),
                 "User-Agent: dataline-sipua"]
        lines += list(headers)
        if ctype and body:
            lines.append("Content-Type: " + ctype)
        lines.append("Content-Length: %d" % len(body))
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    def transact(self, method, data, branch):
        t = Txn(branch, method, data)
        if self.flow.closed or self.flow.peer is None:
            self.emit("error", error="flow closed" if self.flow.closed else
                      "no peer yet (--listen over UDP: it sends first)")
            return None
        with self.lock:
            self.txns[branch] = t
        self.flow.send(data)
        if self.a.transport == "udp":
            t.timer = self.flow.call_later(T1, lambda: self._retransmit(t))
        t.done.wait(self.a.timeout)
        with self.lock:
            self.txns.pop(branch, None)
        self.flow.cancel(t.timer)
        return t.final

    def _retransmit(self, t):  # I/O thread
        if t.done.is_set():
            return
        self.flow.put(t.data)
        t.rto = min(t.rto * 2, T2)
        t.timer = self.flow.call_later(t.rto, lambda: self._retransmit(t))

    def auth_header(self, method, uri):
        with self.lock:
            if not self.auth:
                return []
            out = []
            for st in self.auth.values():
                st["nc"] += 1
                cnonce = self.rand(8)
                qop = "auth" if "auth" in [x.strip() for x in st.get("qop", "").split(",")] else None
                nc = "%08x" % st["nc"]
                resp = digest_response(st["algorithm"], self.a.user, st["realm"],
                                       self.a.password, method, uri, st["nonce"],
                                       nc, cnonce, qop)
                v = ('Digest username="%s", realm="%s", nonce="%s", uri="%s", '
                     'response="%s", algorithm=%s' % (self.a.user, st["realm"], st["nonce"],
                                                      uri, resp, st["algorithm"]))
                if st.get("opaque") is not None:
                    v += ', opaque="%s"' % st["opaque"]
                if qop:
                    v += ', qop=%s, nc=%s, cnonce="%s"' % (qop, nc, cnonce)
                out.append(("Proxy-Authorization: " if st["proxy"] else "Authorization: ") + v)
            return out

    def request(self, method, ruri, call, headers=(), body=b"", ctype=None):
        """A non-INVITE request with digest auth; returns (final Msg or
        None, info dict)."""
        info = {"challenges": []}
        tries = 0
        while True:
            with self.lock:
                call["cseq"] += 1
            branch = "z9hG4bK" + self.rand(10)
            ah = self.auth_header(method, ruri)
            data = self.build(method, ruri, call, list(headers) + ah, body, ctype, branch)
            r = self.transact(method, data, branch)
            if r is None or r.status not in (401, 407) or not self.a.user:
                return r, info
            proxy = r.status == 407
            chs = parse_challenges(r.all("proxy-authenticate" if proxy else "www-authenticate"))
            info["challenges"].append(r.status)
            info["algs"] = [c["algorithm"] for c in chs]
            ch = next((c for c in chs if c["algorithm"] in HASHES), None)
            if ch is None or tries >= 3:
                return r, info
            stale = (ch.get("stale") or "").lower() == "true"
            if tries and not stale:
                return r, info  # the answer to a fresh challenge was refused
            if stale:
                info["stale"] = True
            tries += 1
            with self.lock:
                self.auth[ch.get("realm")] = {"realm": ch.get("realm", ""), "nonce": ch["nonce"],
                                              "algorithm": ch["algorithm"],
                                              "opaque": ch.get("opaque"),
                                              "qop": ch.get("qop", ""), "nc": 0,
                                              "proxy": proxy}
            info["alg"] = ch["algorithm"]

    def on_msg(self, data):  # I/O thread
        try:
            m = Msg(data)
        except Exception as e:
            self.emit("bad_message", error=str(e), size=len(data))
            return
        src = self.flow.src if self.a.transport == "udp" else None
        m.src = src
        if m.is_response:
            with self.lock:
                t = self.txns.get(m.branch())
            if t is None:
                return  # stray or late
            if m.status < 200:
                if t.timer is not None:  # RFC 3261 17.1.2.2: retransmit at T2
                    t.rto = T2
                return
            t.final = m
            self.flow.cancel(t.timer)
            t.done.set()
            return
        self.on_request(m, data)

    # ---- server side: requests from the server
    def respond(self, m, code, headers=(), key=None):  # I/O thread
        to = m.get("to", "")
        if tag_of(to) is None and code > 100:
            to += ";tag=" + self.rand(4)
        lines = ["SIP/2.0 %d %s" % (code, REASONS.get(code, "Status"))]
        lines += ["Via: " + v for v in m.all("via")]
        lines += ["From: " + m.get("from", ""), "To: " + to,
                  "Call-ID: " + m.get("call-id", ""), "CSeq: " + m.get("cseq", "")]
        lines += list(headers)
        lines.append("Content-Length: 0")
        src = getattr(m, "src", None)
        out = ("\r\n".join(lines) + "\r\n\r\n").encode()
        if key:
            self.answered[key] = (out, src)
        self.flow.put(out, src)

    def on_request(self, m, data):  # I/O thread
        key = (m.branch(), m.method, m.cseq()[0])
        if key in self.answered and m.method != "ACK":
            resp = self.answered[key]
            self.emit("retransmission", method=m.method, call_id=m.get("call-id"),
                      branch=key[0], answered=resp is not None)
            if resp is not None:
                self.flow.put(*resp)
            return
        if len(self.answered) > 4096:
            self.answered.clear()
        ev = {"method": m.method, "ruri": m.ruri, "from": m.get("from"),
              "to": m.get("to"), "from_user": uri_user(uri_of(m.get("from"))),
              "to_user": uri_user(uri_of(m.get("to"))),
              "call_id": m.get("call-id"), "cseq": m.get("cseq"),
              "content_type": m.get("content-type"), "body": m.text(),
              "headers": {h: m.get(h) for h in INTEREST if m.get(h) is not None}}
        if m.src and self.flow.peer and m.src[:2] != self.flow.peer[:2]:
            ev["src"] = "%s:%d" % m.src[:2]  # not from the server's address
        if m.method == "ACK":
            self.emit("ack", **ev)
            return
        self.answered[key] = None
        if m.method == "MESSAGE":
            self.on_message(m, ev, key)
        elif m.method == "NOTIFY":
            self.on_notify(m, ev)
            self.respond(m, 200, key=key)
        elif m.method == "OPTIONS":
            ev["answer"] = 200
            self.emit("request", **ev)
            self.respond(m, 200, ["Allow: MESSAGE, NOTIFY, OPTIONS",
                                  "Accept: text/plain, message/cpim, application/pidf+xml"],
                         key=key)
        else:
            ev["answer"] = 501
            self.emit("request", **ev)
            self.respond(m, 501, key=key)

    def on_message(self, m, ev, key):
        ct = (m.get("content-type") or "").split(";")[0].strip().lower()
        kind = "message"
        cp = None
        if ct == "message/cpim":
            try:
                cp = parse_cpim(m.body)
                ev["cpim"] = cp["headers"]
                ev["cpim_content_type"] = cp["content_type"]
                ev["text"] = cp["content"]
                if cp["content_type"].split(";")[0].strip().lower() == "message/imdn+xml":
                    kind = "imdn"
                    ev["imdn"] = parse_imdn(cp["content"])
            except Exception as e:
                ev["parse_error"] = str(e)
        else:
            ev["text"] = m.text()
        mid = cpim_get(cp, "imdn.Message-ID") if cp else None
        ev["message_id"] = mid
        code, delay = self.msg_code, self.msg_delay
        accepted = code != "silent" and 200 <= int(code) < 300
        if kind == "message" and mid:
            # A text counts as received once it is accepted (2xx); a new
            # transaction with a Message-ID already accepted is a
            # duplicate: 200 at once whatever the answer mode, no IMDN.
            if mid in self.seen_ids:
                kind, code, delay = "duplicate", "200", 0
            elif accepted:
                self.seen_ids.add(mid)
        ev["answer"] = int(code) if code != "silent" else code
        ev["answer_delay"] = delay
        self.emit(kind, **ev)
        if code != "silent":
            if delay:
                self.flow.call_later(delay, lambda: self.respond(m, int(code), key=key))
            else:
                self.respond(m, int(code), key=key)
        dn = (cpim_get(cp, "imdn.Disposition-Notification") or "") if cp else ""
        if (kind == "message" and accepted and self.a.imdn and mid and
                "positive-delivery" in dn.lower()):
            threading.Thread(target=self.send_imdn, args=(cp, mid), daemon=True).start()

    def on_notify(self, m, ev):
        ss = m.get("subscription-state") or ""
        ev["subscription_state"] = ss
        ev["event_package"] = m.get("event")
        ct = (m.get("content-type") or "").split(";")[0].strip().lower()
        if ct == "application/pidf+xml" and m.body:
            try:
                p = parse_pidf(m.body)
                ev["pidf"] = p
                nq = next((t["netq"] for t in p["tuples"] if "netq" in t), p.get("netq"))
                ev["netq"] = nq
                ev["basic"] = next((t.get("basic") for t in p["tuples"] if t.get("basic")), None)
            except ET.ParseError as e:
                ev["parse_error"] = str(e)
        with self.lock:
            for s in self.subs.values():
                if s["call"]["call_id"] == m.get("call-id"):
                    ev["number"] = s["number"]
                    if not s["call"].get("to_tag"):
                        s["call"]["to_tag"] = tag_of(m.get("from"))
                    if ss.lower().startswith("terminated"):
                        s["terminated"] = True
                        self.flow.cancel(s["timer"])  # no automatic re-subscribe
        self.emit("notify", **ev)

    # ---- keep-alive
    def ka_start(self, k):
        self.ka_interval = k
        self.flow.cancel(self.ka_timer)
        if k:
            self.ka_timer = self.flow.call_later(k, self._ka_tick)

    def _ka_tick(self):  # I/O thread
        self.ka_send()
        if self.ka_interval:
            self.ka_timer = self.flow.call_later(self.ka_interval, self._ka_tick)

    def ka_send(self, done=None):  # I/O thread
        kind = "stun" if self.a.transport == "udp" else "crlf"
        if self.ka_pending:  # the last one is still out: counts as missed now
            self._ka_missed(self.ka_pending)
        p = {"kind": kind, "sent": time.monotonic(), "done": done,
             "tid": os.urandom(12)}
        self.ka_pending = p
        if kind == "stun":
            self.flow.put(stun_request(p["tid"]))
        else:
            self.flow.ping_outstanding += 1
            self.flow.put(b"\r\n\r\n")
        wait = min(10.0, self.ka_interval or 10.0, self.a.timeout)
        p["timer"] = self.flow.call_later(wait, lambda: self._ka_missed(p))

    def _ka_missed(self, p):
        if self.ka_pending is not p:
            return
        self.ka_pending = None
        self.flow.cancel(p["timer"])
        if p["kind"] == "crlf":
            self.flow.ping_outstanding = max(0, self.flow.ping_outstanding - 1)
        note = ("no STUN Binding response (the server may not answer STUN on its SIP port)"
                if p["kind"] == "stun" else "no CRLF pong")
        self.emit("keepalive_missed", kind=p["kind"], note=note)
        if p["done"]:
            p["done"](False)

    def _ka_ok(self, p, **kw):
        self.ka_pending = None
        self.flow.cancel(p["timer"])
        rtt = round((time.monotonic() - p["sent"]) * 1000, 2)
        self.emit("keepalive", kind=p["kind"], rtt_ms=rtt, **kw)
        if p["done"]:
            p["done"](True)

    def on_pong(self):
        p = self.ka_pending
        self.flow.ping_outstanding = max(0, self.flow.ping_outstanding - 1)
        if p and p["kind"] == "crlf":
            self._ka_ok(p)
        else:
            self.emit("pong_unexpected")

    def on_stun(self, data):
        try:
            typ, tid, mapped, fp = stun_parse(data)
        except struct.error:
            self.emit("stun_bad", size=len(data))
            return
        if typ == 0x0001:  # somebody pings us (loopback): answer
            self.flow.put(stun_response(data, self.flow.src), self.flow.src)
            return
        p = self.ka_pending
        if not p or p["kind"] != "stun" or tid != p["tid"]:
            self.emit("stun_unexpected", type="0x%04x" % typ)
            return
        if typ == 0x0101:
            self._ka_ok(p, mapped=mapped, fingerprint_ok=fp)
        else:
            self.emit("stun_error", type="0x%04x" % typ)
            self._ka_missed(p)

    # ---- commands
    def cmd_register(self, args, refresh=False):
        with self.reg_lock:  # a refresh and a command: one at a time
            return self._register(int(args[0]) if args else self.a.expires, refresh)

    def _register(self, exp, refresh):
        r = self.reg
        hdrs = ["Contact: " + self.contact(), "Expires: %d" % exp]
        if self.a.outbound:
            hdrs.append("Supported: outbound, path")
        call = {"call_id": r["call_id"], "tag": r["tag"], "cseq": r["cseq"],
                "to": self.aor()}
        resp, info = self.request("REGISTER", "sip:" + self.a.domain, call, hdrs)
        r["cseq"] = call["cseq"]
        name = "unregister" if exp == 0 else "register"
        self.flow.cancel(r["timer"])
        if resp is None or (resp.status >= 300 and refresh):
            if refresh:  # keep trying while running
                r["timer"] = self.flow.call_later(10, lambda: self.background(
                    self.cmd_register, [str(exp)], True))
        if resp is None:
            self.emit(name, status=None, timeout=True, refresh=refresh, **info)
            return False
        granted = None
        contacts = []
        mine = self.contact_uri()
        for c in resp.list("contact"):
            contacts.append(c)
            if uri_of(c) == mine and param(c, "expires") is not None:
                granted = int(param(c, "expires"))
        if granted is None and resp.status == 200 and exp:
            e = resp.get("expires")
            granted = int(e) if e and e.isdigit() else exp
        ft = resp.get("flow-timer")
        if ft and ft.isdigit():
            self.flow_timer = int(ft)
        self.emit(name, status=resp.status, reason=resp.reason, expires=granted,
                  contacts=contacts, flow_timer=int(ft) if ft and ft.isdigit() else None,
                  require=resp.get("require"), supported=resp.get("supported"),
                  min_expires=resp.get("min-expires"), refresh=refresh, **info)
        if resp.status == 200 and exp and granted:
            r["expires"] = granted
            delay = max(granted / 2.0, granted - 60.0)
            r["timer"] = self.flow.call_later(delay, lambda: self.background(
                self.cmd_register, [str(exp)], True))
            if self.a.keepalive == "flow" and self.ka_interval is None:
                self.ka_start(0.8 * self.flow_timer if self.flow_timer else 25)
        return True

    def background(self, fn, args, refresh):
        threading.Thread(target=fn, args=(args, refresh), daemon=True).start()

    def cmd_unregister(self, args):
        return self.cmd_register(["0"])

    def cmd_options(self, args):
        ruri = args[0] if args else "sip:" + self.a.domain
        call = {"call_id": self.rand() + "@sipua", "tag": self.rand(4), "cseq": 0,
                "to": ruri}
        resp, info = self.request("OPTIONS", ruri, call, ["Accept: application/sdp"])
        if resp is None:
            self.emit("options", status=None, timeout=True)
            return False
        self.emit("options", status=resp.status, reason=resp.reason,
                  allow=resp.get("allow"), accept=resp.get("accept"),
                  supported=resp.get("supported"), server=resp.get("server"))
        return True

    def cmd_ping(self, args):
        """One keep-alive now; waits for its pong or its miss, both being
        events. A miss does not change the exit status (the server may not
        answer STUN yet): "wait keepalive N T" makes it count."""
        ev = threading.Event()
        self.flow.call_later(0, lambda: self.ka_send(lambda ok: ev.set()))
        ev.wait(self.a.timeout + 11)
        return True

    def send_opts(self, args):
        o = {"cpim": False, "form": None, "esc": False, "size": None}
        while args and args[0].startswith("--"):
            x = args.pop(0)
            if x == "--cpim":
                o["cpim"] = True
            elif x in ("--sip", "--tel", "--phone"):
                o["form"] = x[2:]
            elif x == "--esc":
                o["esc"] = True
            elif x == "--size":
                o["size"] = int(args.pop(0))
            else:
                raise ValueError("unknown send option " + x)
        return o

    def send_one(self, o, number, text):
        if o["esc"]:
            text = text.encode().decode("unicode_escape")
        if o["size"] is not None:
            text = (text + " " if text else "") + "x" * o["size"]
        ruri = self.target(number, o["form"])
        mid = None
        if o["cpim"]:
            mid = str(uuid.uuid4())
            body, ctype = self.cpim(self.target(number, "sip"), text.encode(),
                                    "text/plain; charset=utf-8", mid,
                                    "positive-delivery, negative-delivery")
        else:
            body, ctype = text.encode(), "text/plain; charset=utf-8"
        call = {"call_id": self.rand() + "@sipua", "tag": self.rand(4), "cseq": 0,
                "to": ruri}
        t0 = time.monotonic()
        resp, info = self.request("MESSAGE", ruri, call, [], body, ctype)
        d = dict(number=number, uri=ruri, message_id=mid, call_id=call["call_id"],
                 bytes=len(body), ms=round((time.monotonic() - t0) * 1000, 1), **info)
        if resp is None:
            self.emit("send", status=None, timeout=True, **d)
            return None
        self.emit("send", status=resp.status, reason=resp.reason, **d)
        return resp.status

    def cmd_send(self, args, line):
        n = len(args)
        o = self.send_opts(args)
        if not args:
            raise ValueError("send NUMBER TEXT...")
        number = args[0]
        text = line_rest(line, 2 + n - len(args))
        return self.send_one(o, number, text) is not None

    def cmd_sendmany(self, args):
        o = self.send_opts(args)
        if len(args) < 3:
            raise ValueError("sendmany N NUMBER PREFIX")
        n, number, prefix = int(args[0]), args[1], " ".join(args[2:])
        by, to = {}, 0
        t0 = time.monotonic()
        for i in range(1, n + 1):
            st = self.send_one(o, number, "%s %d" % (prefix, i))
            if st is None:
                to += 1
            else:
                by[str(st)] = by.get(str(st), 0) + 1
        self.emit("sendmany", count=n, number=number, by_status=by, timeouts=to,
                  seconds=round(time.monotonic() - t0, 3))
        return to == 0

    def cpim(self, to_uri, content, ctype, mid, disp=None, extra=()):
        hdr = ["From: <%s>" % self.aor(), "To: <%s>" % to_uri,  # docs/messaging.md order
               "DateTime: " + now_iso(), "NS: imdn <urn:ietf:params:imdn>",
               "imdn.Message-ID: " + mid]
        if disp:
            hdr.append("imdn.Disposition-Notification: " + disp)
        mime = ["Content-Type: " + ctype] + list(extra) + ["Content-Length: %d" % len(content)]
        body = ("\r\n".join(hdr) + "\r\n\r\n" + "\r\n".join(mime) + "\r\n\r\n").encode() + content
        return body, "message/cpim"

    def send_imdn(self, cp, mid):
        sender = uri_of(cpim_get(cp, "From") or "")
        num = uri_user(sender)
        orig_to = uri_of(cpim_get(cp, "To") or "") or self.aor()
        xml = ('<?xml version="1.0" encoding="UTF-8"?>\n'
               '<imdn xmlns="urn:ietf:params:xml:ns:imdn">\n'
               '  <message-id>%s</message-id>\n'
               '  <datetime>%s</datetime>\n'
               '  <recipient-uri>%s</recipient-uri>\n'
               '  <original-recipient-uri>%s</original-recipient-uri>\n'
               '  <delivery-notification><status><delivered/></status></delivery-notification>\n'
               '</imdn>\n' % (xesc(mid), xesc(cpim_get(cp, "DateTime") or now_iso()),
                              xesc(self.aor()), xesc(orig_to)))
        ruri = "sip:%s@%s" % (num, self.a.domain)
        nid = str(uuid.uuid4())
        body, ctype = self.cpim(sender or ruri, xml.encode(), "message/imdn+xml", nid, None,
                                ["Content-Disposition: notification"])
        call = {"call_id": self.rand() + "@sipua", "tag": self.rand(4), "cseq": 0,
                "to": ruri}
        resp, info = self.request("MESSAGE", ruri, call, [], body, ctype)
        self.emit("imdn_sent", status=resp.status if resp else None,
                  timeout=resp is None, reason=resp.reason if resp else None,
                  message_id=mid, imdn_id=nid, uri=ruri, **info)

    def cmd_subscribe(self, args, refresh=False):
        if not args:
            raise ValueError("subscribe NUMBER [EXPIRES]")
        number = args[0]
        exp = int(args[1]) if len(args) > 1 else self.a.sub_expires
        with self.lock:
            s = self.subs.get(number)
            if s is None or s.get("terminated"):
                if exp == 0 and s is None:
                    raise ValueError("no subscription to " + number)
                uri = self.target(number, "sip")
                s = {"number": number, "uri": uri, "terminated": False, "timer": None,
                     "call": {"call_id": self.rand() + "@sipua", "tag": self.rand(4),
                              "cseq": 0, "to": uri}}
                self.subs[number] = s
        self.flow.cancel(s["timer"])
        hdrs = ["Event: presence", "Accept: application/pidf+xml",
                "Expires: %d" % exp, "Contact: <%s>" % self.contact_uri()]
        ruri = s.get("target") or s["uri"]
        resp, info = self.request("SUBSCRIBE", ruri, s["call"], hdrs)
        name = "unsubscribe" if exp == 0 else "subscribe"
        if resp is None:
            self.emit(name, number=number, status=None, timeout=True, refresh=refresh)
            return False
        granted = resp.get("expires")
        granted = int(granted) if granted and granted.isdigit() else None
        if resp.status < 300:
            if not s["call"].get("to_tag"):
                s["call"]["to_tag"] = tag_of(resp.get("to"))
            if resp.get("contact"):
                s["target"] = uri_of(resp.get("contact"))
            if exp and granted:
                s["timer"] = self.flow.call_later(max(granted / 2.0, granted - 60.0),
                                                  lambda: self.background(
                                                      self.cmd_subscribe, [number, str(exp)], True))
        if resp.status >= 300:  # no dialog: the next subscribe starts afresh
            with self.lock:
                if self.subs.get(number) is s:
                    del self.subs[number]
        self.emit(name, number=number, status=resp.status, reason=resp.reason,
                  expires=granted, call_id=s["call"]["call_id"], refresh=refresh, **info)
        return True

    def cmd_unsubscribe(self, args):
        return self.cmd_subscribe(args[:1] + ["0"])

    def cmd_publish(self, args, refresh=False):
        with self.pub_lock:
            return self._publish(list(args), refresh)

    def _publish(self, args, refresh):
        bare = refresh or (args and args[0] == "--refresh")
        if args and args[0] == "--refresh":
            args.pop(0)
        f = {}  # only the figures given: absent means "not known"
        exp = self.a.pub_expires
        basic = None
        for kv in args:
            k, sep, v = kv.partition("=")
            if not sep:
                raise ValueError("publish wants k=v, not " + kv)
            k = k.replace("-", "_")
            if k == "expires":
                exp = int(v)
            elif k == "basic":
                basic = v
            elif k == "link":
                f["link"] = v
            elif k == "probed":
                f["probed"] = v.lower() in ("1", "true", "yes")
            elif k == "netq" and v == "off":
                f = None
            elif k in ("rate_kbps", "rtt_ms", "loss_ppm", "age_s"):
                if f is None:
                    raise ValueError("netq=off with figures")
                f[k] = v  # as given: a test may send a bad value on purpose
            else:
                raise ValueError("unknown publish field " + k)
        p = self.pub or {"etag": None, "timer": None, "body": None,
                         "call": {"call_id": self.rand() + "@sipua", "tag": self.rand(4),
                                  "cseq": 0, "to": self.aor()}}
        self.pub = p
        self.flow.cancel(p["timer"])
        body = b""
        if not bare or not p["etag"]:
            if bare and p["body"] is None:
                raise ValueError("publish --refresh before any publish")
            body = pidf_body(self.aor(), f, basic).encode() if not bare else p["body"]
            if not bare:
                p["body"] = body
        for attempt in (1, 2):
            hdrs = ["Event: presence", "Expires: %d" % exp]
            if p["etag"]:
                hdrs.append("SIP-If-Match: " + p["etag"])
            resp, info = self.request("PUBLISH", self.aor(), p["call"], hdrs, body,
                                      "application/pidf+xml" if body else None)
            if resp is not None and resp.status == 412 and p["etag"] and attempt == 1:
                self.emit("publish", status=412, reason=resp.reason, etag=p["etag"],
                          note="entity tag unknown: publishing afresh")
                p["etag"] = None
                body = p["body"] or b""
                continue
            break
        name = "unpublish" if exp == 0 else "publish"
        if resp is None:
            self.emit(name, status=None, timeout=True, refresh=bool(bare))
            return False
        granted = resp.get("expires")
        granted = int(granted) if granted and granted.isdigit() else None
        if resp.status < 300:
            p["etag"] = resp.get("sip-etag") if exp else None
            if exp and granted and p["etag"]:
                p["timer"] = self.flow.call_later(max(granted / 2.0, granted - 60.0),
                                                  lambda: self.background(
                                                      self.cmd_publish, ["expires=%d" % exp], True))
        self.emit(name, status=resp.status, reason=resp.reason, etag=p["etag"],
                  expires=granted, refresh=bool(bare), sent_body=bool(body),
                  netq=None if bare else f, **info)
        return True

    def cmd_unpublish(self, args):
        if not self.pub or not self.pub["etag"]:
            raise ValueError("nothing published")
        return self.cmd_publish(["--refresh", "expires=0"])  # RFC 3903 s.4.5

    def cmd_answer(self, args):
        if not args or not (args[0] == "silent" or args[0].isdigit()):
            raise ValueError("answer CODE|silent [DELAY]")
        self.msg_code = args[0]
        self.msg_delay = float(args[1]) if len(args) > 1 else 0.0
        self.emit("answer", code=self.msg_code, delay=self.msg_delay)
        return True

    def cmd_wait(self, args):
        if len(args) != 3:
            raise ValueError("wait EVENT_TYPE COUNT TIMEOUT")
        typ, n, to = args[0], int(args[1]), float(args[2])
        end = time.monotonic() + to
        with self.elock:
            while self.counts.get(typ, 0) < n:
                left = end - time.monotonic()
                if left <= 0:
                    break
                self.elock.wait(left)
            seen = self.counts.get(typ, 0)
        ok = seen >= n
        self.emit("wait", type=typ, count=n, seen=seen, ok=ok)
        return ok

    def cmd_sleep(self, args):
        time.sleep(float(args[0]) if args else 1.0)
        return True

    def run_line(self, line):
        """Runs one command line; True when it got what it waited for."""
        line = line.strip()
        if not line or line.startswith("#"):
            return True
        words = line.split()
        cmd, args = words[0], words[1:]
        try:
            if cmd == "quit":
                return "quit"
            if cmd == "echo":
                self.emit("echo", text=line_rest(line, 1))
                return True
            if cmd == "send":
                ok = self.cmd_send(args, line)
            elif cmd in ("register", "unregister", "options", "ping", "sendmany",
                         "subscribe", "unsubscribe", "publish", "unpublish", "answer",
                         "wait", "sleep"):
                if self.flow.closed and cmd not in ("wait", "sleep", "answer"):
                    self.emit("error", command=line, error="flow closed")
                    return False
                ok = getattr(self, "cmd_" + cmd)(args)
            else:
                self.emit("error", command=line, error="unknown command")
                return "usage"
        except (ValueError, IndexError) as e:
            self.emit("error", command=line, error=str(e))
            return "usage"
        except Exception as e:  # e.g. a socket error: reported, exit 2
            self.emit("error", command=line, error=repr(e))
            return False
        return ok


def line_rest(line, nwords):
    """The raw text of LINE after its first NWORDS words (inner spaces
    kept, the separating ones dropped)."""
    m = re.match(r"\s*(?:\S+\s+){%d}" % nwords, line + " ")
    rest = line[m.end():] if m else ""
    return rest


def now_iso():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def xesc(s):
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


def hostport(s, default_port=None):
    m = re.fullmatch(r"\[?([^\]]*?)\]?(?::(\d+))?", s)
    if not m or (m.group(2) is None and default_port is None):
        raise argparse.ArgumentTypeError("HOST:PORT wanted: " + s)
    return m.group(1), int(m.group(2) or default_port)


# --------------------------------------------------------------- selftest

def selftest():
    """Checks against RFC examples and an in-process fake server on
    loopback (TCP then UDP); prints one line per check and the totals."""
    res = [0, 0]

    def check(name, cond, detail=""):
        res[0 if cond else 1] += 1
        print("%s %s%s" % ("ok" if cond else "not ok", name,
                           "" if cond or not detail else " - " + str(detail)))
        sys.stdout.flush()

    # RFC 7616 s.3.9.1
    kw = dict(user="Mufasa", realm="http-auth@example.org", pw="Circle of Life",
              method="GET", uri="/dir/index.html",
              nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc="00000001",
              cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop="auth")
    check("digest MD5 RFC 7616 3.9.1", digest_response("MD5", **kw) ==
          "8ca523f5e9506fed4657c9700eebdbec")
    check("digest SHA-256 RFC 7616 3.9.1", digest_response("SHA-256", **kw) ==
          "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1")
    chs = parse_challenges(['Digest realm="r", nonce="n1", algorithm=SHA-512-256, qop="auth"',
                            'Digest realm="r", nonce="n1", algorithm=SHA-256, qop="auth", stale=TRUE',
                            'Digest realm="r", nonce="n1", qop="auth"'])
    check("challenges parsed in order", [c["algorithm"] for c in chs] ==
          ["SHA-512-256", "SHA-256", "MD5"], chs)
    check("stale flag parsed", chs[1].get("stale", "").lower() == "true")
    # STUN
    tid = os.urandom(12)
    req = stun_request(tid)
    check("STUN request: header, cookie, FINGERPRINT", len(req) == 28 and is_stun(req) and
          stun_parse(req)[3] is True)
    typ, rtid, mapped, fp = stun_parse(stun_response(req, ("192.0.2.7", 40123)))
    check("STUN XOR-MAPPED-ADDRESS", (typ, rtid, mapped, fp) ==
          (0x0101, tid, "192.0.2.7:40123", True), (typ, mapped, fp))
    # parsing: compact forms, folding, framing
    raw = (b"MESSAGE sip:+1@d SIP/2.0\r\nv: SIP/2.0/TCP 1.2.3.4;branch=z9hG4bKa\r\n"
           b"f: <sip:+2@d>;tag=x\r\nt: <sip:+1@d>\r\ni: abc\r\nCSeq: 5\r\n MESSAGE\r\n"
           b"c: text/plain\r\nl: 2\r\n\r\nhiMESSAGE")
    one, rest = frame_stream(raw)
    m = Msg(one)
    check("compact headers, folding, Content-Length framing",
          m.get("call-id") == "abc" and m.cseq() == (5, "MESSAGE") and m.body == b"hi" and
          rest == b"MESSAGE" and m.branch() == "z9hG4bKa", (m.headers, rest))
    cp = parse_cpim(b"From: <sip:a@b>\r\nNS: MyFeatures <mid:MessageFeatures@id.foo.com>\r\n"
                    b"NS: im <urn:ietf:params:imdn>\r\nim.Message-ID: q-1\r\n"
                    b"im.Disposition-Notification: positive-delivery\r\n\r\n"
                    b"Content-Type: text/plain\r\n\r\nhey")
    check("CPIM: imdn headers under another NS prefix",
          cpim_get(cp, "imdn.Message-ID") == "q-1" and cp["content"] == "hey" and
          cpim_get(cp, "imdn.Disposition-Notification") == "positive-delivery", cp)
    check("commas split outside quotes",
          split_commas('<sip:a@b;x=1>;q=0.5, "x, y" <sip:c@d>') ==
          ['<sip:a@b;x=1>;q=0.5', '"x, y" <sip:c@d>'])
    f = {"link": "up", "rate_kbps": 5120, "probed": True, "rtt_ms": 42,
         "loss_ppm": 150, "age_s": 3}
    doc = pidf_body("sip:+1@d", f)
    check("PIDF netq element exactly", netq_xml(f) ==
          '<dl:netq><dl:link>up</dl:link><dl:rate-kbps probed="true">5120</dl:rate-kbps>'
          '<dl:rtt-ms>42</dl:rtt-ms><dl:loss-ppm>150</dl:loss-ppm><dl:age-s>3</dl:age-s>'
          '</dl:netq>')
    check("PIDF round trip", parse_pidf(doc)["tuples"][0]["netq"] == f,
          parse_pidf(doc))
    check("netq: only the figures given; none -> <dl:netq/>",
          netq_xml({"link": "down", "rtt_ms": 7}) ==
          "<dl:netq><dl:link>down</dl:link><dl:rtt-ms>7</dl:rtt-ms></dl:netq>" and
          netq_xml({}) == "<dl:netq/>" and "dl:" not in pidf_body("sip:+1@d", None))
    example = ('<?xml version="1.0" encoding="UTF-8"?>\n'  # docs/presence.md
               '<presence xmlns="urn:ietf:params:xml:ns:pidf"\n'
               '    xmlns:dl="urn:dataline:params:xml:ns:pidf:netq"\n'
               '    entity="sip:+8613800138000@dataline.local">\n'
               '  <tuple id="hs-a1">\n'
               '    <status><basic>open</basic></status>\n'
               '    <dl:netq>\n      <dl:link>up</dl:link>\n'
               '      <dl:rate-kbps probed="true">2400</dl:rate-kbps>\n'
               '      <dl:rtt-ms>85</dl:rtt-ms>\n      <dl:loss-ppm>1200</dl:loss-ppm>\n'
               '      <dl:age-s>4</dl:age-s>\n    </dl:netq>\n'
               '    <contact>sip:+8613800138000@10.0.0.2:5060</contact>\n'
               '    <timestamp>2026-12-05T12:00:00Z</timestamp>\n  </tuple>\n</presence>')
    check("PIDF: the docs/presence.md example", parse_pidf(example)["tuples"][0] ==
          {"id": "hs-a1", "basic": "open",
           "netq": {"link": "up", "rate_kbps": 2400, "probed": True, "rtt_ms": 85,
                    "loss_ppm": 1200, "age_s": 4}}, parse_pidf(example))
    agg = ('<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:q="%s" entity="x">'
           '<tuple id="a"><status><basic>open</basic><q:netq><q:rtt-ms> 9 </q:rtt-ms>'
           '</q:netq></status></tuple><q:netq><q:link>down</q:link></q:netq></presence>'
           % NS_NETQ)
    pa = parse_pidf(agg)
    check("PIDF: netq in <status> and aggregate in <presence>, any prefix",
          pa["tuples"][0]["netq"] == {"rtt_ms": 9} and pa["netq"] == {"link": "down"}, pa)
    for tp in ("tcp", "udp"):
        try:
            selftest_flow(tp, check)
        except Exception as e:
            import traceback
            traceback.print_exc()
            check("fake server over %s ran" % tp, False, repr(e))
    print("%d passed, %d failed" % (res[0], res[1]))
    return 0 if res[1] == 0 else 1


class FakeServer:
    """The other end of one flow: a registrar that challenges, and a
    sender of MESSAGE/NOTIFY towards the UA."""

    def __init__(self, tp):
        self.tp = tp
        self.ls = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if tp == "udp"
                                else socket.SOCK_STREAM)
        self.ls.bind(("127.0.0.1", 0))
        if tp != "udp":
            self.ls.listen(1)
        self.port = self.ls.getsockname()[1]
        self.s = None
        self.peer = None
        self.buf = b""
        self.ls.settimeout(5)

    def accept(self):
        if self.tp == "udp":
            self.s = self.ls
        else:
            self.s, _ = self.ls.accept()
            self.s.settimeout(5)

    def recv(self, timeout=5):
        """The next SIP message (Msg) or raw STUN/CRLF bytes; None on
        timeout."""
        self.s.settimeout(timeout)
        try:
            if self.tp == "udp":
                d, self.peer = self.s.recvfrom(65535)
                return d if is_stun(d) or not d.strip() else Msg(d)
            while True:
                if self.buf.startswith(b"\r\n\r\n"):
                    self.buf = self.buf[4:]
                    return b"\r\n\r\n"
                m, self.buf = frame_stream(self.buf)
                if m:
                    return Msg(m)
                d = self.s.recv(65536)
                if not d:
                    return None
                self.buf += d
        except socket.timeout:
            return None

    def send(self, b):
        if self.tp == "udp":
            self.s.sendto(b, self.peer)
        else:
            self.s.sendall(b)

    def reply(self, m, code, extra=()):
        lines = ["SIP/2.0 %d X" % code] + ["Via: " + v for v in m.all("via")]
        lines += ["From: " + m.get("from"), "To: " + m.get("to") + ";tag=fs",
                  "Call-ID: " + m.get("call-id"), "CSeq: " + m.get("cseq")]
        lines += list(extra) + ["Content-Length: 0"]
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode())

    def request(self, method, body, ctype, branch, extra=(), call_id=None, ftag="s1"):
        lines = ["%s sip:+15550001@127.0.0.1 SIP/2.0" % method,
                 "v: SIP/2.0/%s 127.0.0.1:%d;branch=%s" % (self.tp.upper(), self.port, branch),
                 "Via: SIP/2.0/%s 192.0.2.1:5060;branch=z9hG4bKup" % self.tp.upper(),
                 "k: outbound", "u: presence",
                 "f: <sip:+15550002@dataline.local>;tag=%s" % ftag,
                 "t: <sip:+15550001@dataline.local>", "i: %s" % (call_id or branch), "CSeq: 7 %s" % method, "Max-Forwards: 70",
                 "c: " + ctype] + list(extra) + ["l: %d" % len(body)]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def selftest_flow(tp, check):
    fs = FakeServer(tp)
    import io
    out = io.StringIO()
    a = parse_args(["--transport", tp, "--server", "127.0.0.1:%d" % fs.port,
                    "--user", "u1", "--pass", "pw", "--number", "+15550001",
                    "--domain", "dataline.local", "--imdn", "--timeout", "5"])
    ua = UA(a, out)
    if tp != "udp":
        th = threading.Thread(target=fs.accept)
        th.start()
        ua.connect()
        th.join()
    else:
        ua.connect()
        fs.accept()
    P = "[%s] " % tp

    def events(kind):
        return [json.loads(x) for x in out.getvalue().splitlines()
                if json.loads(x)["event"] == kind]

    # REGISTER: 401 with SHA-512-256 then SHA-256 then MD5 -> SHA-256 chosen
    rt = threading.Thread(target=ua.run_line, args=("register 120",))
    rt.start()
    m = fs.recv()
    if tp == "udp":  # the first copy is "lost": a retransmission follows
        m2 = fs.recv(2)
        check(P + "UDP REGISTER retransmitted (timer E)",
              isinstance(m2, Msg) and m2.branch() == m.branch())
    check(P + "REGISTER first without credentials", m.get("authorization") is None)
    check(P + "outbound Contact and Supported",
          "+sip.instance" in m.get("contact") and "reg-id=1" in m.get("contact") and
          "outbound" in (m.get("supported") or ""), m.get("contact"))
    fs.reply(m, 401, ['WWW-Authenticate: Digest realm="dataline.local", nonce="abc", '
                      'algorithm=SHA-512-256, qop="auth"',
                      'WWW-Authenticate: Digest realm="dataline.local", nonce="abc", '
                      'algorithm=SHA-256, qop="auth"',
                      'WWW-Authenticate: Digest realm="dataline.local", nonce="abc", '
                      'algorithm=MD5, qop="auth"'])
    m = fs.recv()
    au = parse_challenges([m.get("authorization", "").replace("Digest", "Digest", 1)])[0]
    want = digest_response("SHA-256", "u1", "dataline.local", "pw", "REGISTER",
                           au.get("uri"), "abc", au.get("nc"), au.get("cnonce"), "auth")
    check(P + "Authorization SHA-256, nc=1, right response",
          au.get("algorithm") == "SHA-256" and au.get("nc") == "00000001" and
          au.get("response") == want, m.get("authorization"))
    fs.reply(m, 200, ["Contact: <%s>;expires=100" % uri_of(m.get("contact")),
                      "Flow-Timer: 25"])
    rt.join()
    r = events("register")
    check(P + "register event: 200, expires, Flow-Timer",
          r and r[-1]["status"] == 200 and r[-1]["expires"] == 100 and
          r[-1]["flow_timer"] == 25, r)

    # OPTIONS reuses the nonce with nc=2; a stale 401 makes it re-answer
    rt = threading.Thread(target=ua.run_line, args=("options",))
    rt.start()
    m = fs.recv()
    au = parse_challenges([m.get("authorization", "")])[0]
    check(P + "nonce reused with nc=2", au.get("nonce") == "abc" and au.get("nc") == "00000002",
          m.get("authorization"))
    fs.reply(m, 401, ['WWW-Authenticate: Digest realm="dataline.local", nonce="def", '
                      'algorithm=MD5, qop="auth", stale=true'])
    m = fs.recv()
    au = parse_challenges([m.get("authorization", "")])[0]
    check(P + "stale=true: new nonce, nc=1, MD5",
          au.get("nonce") == "def" and au.get("nc") == "00000001" and au.get("algorithm") == "MD5")
    fs.reply(m, 200, ["Allow: REGISTER, OPTIONS"])
    rt.join()

    # a CPIM MESSAGE asking for positive-delivery -> 200 + IMDN back
    cp = ("From: <sip:+15550002@dataline.local>\r\nTo: <sip:+15550001@dataline.local>\r\n"
          "NS: imdn <urn:ietf:params:imdn>\r\nimdn.Message-ID: m-1\r\n"
          "DateTime: 2026-12-05T10:00:00Z\r\n"
          "imdn.Disposition-Notification: positive-delivery, negative-delivery\r\n\r\n"
          "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 5\r\n\r\nhello").encode()
    fs.send(fs.request("MESSAGE", cp, "message/cpim", "z9hG4bKm1"))
    got = {}
    for _ in range(4):
        x = fs.recv(3)
        if isinstance(x, Msg):
            got["resp" if x.is_response else "req"] = x
            if len(got) == 2:
                break
    check(P + "MESSAGE answered 200", "resp" in got and got["resp"].status == 200)
    im = got.get("req")
    ok = im is not None and im.method == "MESSAGE" and im.ruri == "sip:+15550002@dataline.local"
    if ok:
        icp = parse_cpim(im.body)
        info = parse_imdn(icp["content"])
        ok = (icp["content_type"] == "message/imdn+xml" and info.get("message_id") == "m-1" and
              info.get("status") == "delivered" and info.get("kind") == "delivery-notification"
              and info.get("recipient_uri") == "sip:+15550001@dataline.local")
    check(P + "IMDN delivered sent to the CPIM From", ok, im and im.body)
    if im is not None:
        fs.reply(im, 202)
    ev = events("message")
    check(P + "message event with parsed CPIM",
          ev and ev[-1]["message_id"] == "m-1" and ev[-1]["text"] == "hello" and
          "positive-delivery" in ev[-1]["cpim"]["imdn.Disposition-Notification"], ev)
    # the same imdn.Message-ID again (a new transaction): duplicate, 200, no IMDN
    fs.send(fs.request("MESSAGE", cp, "message/cpim", "z9hG4bKm2"))
    x = fs.recv(3)
    y = fs.recv(1)
    check(P + "duplicate Message-ID: 200 and no second IMDN",
          isinstance(x, Msg) and x.status == 200 and y is None and
          len(events("duplicate")) == 1, (x and x.start, y))
    # a retransmission of the first request: the same answer, no event
    fs.send(fs.request("MESSAGE", cp, "message/cpim", "z9hG4bKm1"))
    x = fs.recv(3)
    check(P + "retransmitted request re-answered",
          isinstance(x, Msg) and x.status == 200 and len(events("retransmission")) == 1)
    # an IMDN arriving
    ix = ('<?xml version="1.0" encoding="UTF-8"?><imdn xmlns="urn:ietf:params:xml:ns:imdn">'
          '<message-id>x-9</message-id><datetime>2026-12-05T10:00:00Z</datetime>'
          '<recipient-uri>sip:+15550002@dataline.local</recipient-uri>'
          '<delivery-notification><status><failed/></status></delivery-notification></imdn>')
    b = ("From: <sip:+15550002@dataline.local>\r\nTo: <sip:+15550001@dataline.local>\r\n"
         "NS: imdn <urn:ietf:params:imdn>\r\nimdn.Message-ID: n-1\r\n\r\n"
         "Content-Type: message/imdn+xml\r\nContent-Disposition: notification\r\n"
         "Content-Length: %d\r\n\r\n%s" % (len(ix), ix)).encode()
    fs.send(fs.request("MESSAGE", b, "message/cpim", "z9hG4bKm3"))
    x = fs.recv(3)
    ev = events("imdn")
    check(P + "received IMDN parsed", isinstance(x, Msg) and x.status == 200 and ev and
          ev[-1]["imdn"]["message_id"] == "x-9" and ev[-1]["imdn"]["status"] == "failed", ev)
    # NOTIFY with PIDF + netq
    f = {"link": "down", "rate_kbps": 64, "probed": False, "rtt_ms": 900,
         "loss_ppm": 20000, "age_s": 61}
    fs.send(fs.request("NOTIFY", pidf_body("sip:+15550002@dataline.local", f).encode(),
                       "application/pidf+xml", "z9hG4bKn1",
                       ["o: presence", "Subscription-State: active;expires=300"]))
    x = fs.recv(3)
    ev = events("notify")
    check(P + "NOTIFY 200 and netq figures", isinstance(x, Msg) and x.status == 200 and ev and
          ev[-1]["netq"] == f and ev[-1]["basic"] == "closed", ev)
    check(P + "response copies every Via", isinstance(x, Msg) and len(x.all("via")) == 2)
    if tp != "udp":  # two requests in one segment, then one split in two
        two = (fs.request("OPTIONS", b"", "text/plain", "z9hG4bKo1") +
               fs.request("OPTIONS", b"", "text/plain", "z9hG4bKo2"))
        fs.send(two)
        a1, a2 = fs.recv(3), fs.recv(3)
        third = fs.request("MESSAGE", b"split body", "text/plain", "z9hG4bKo3")
        fs.send(third[:40])
        time.sleep(0.2)
        fs.send(third[40:])
        a3 = fs.recv(3)
        check(P + "stream framing: coalesced and split messages",
              all(isinstance(x, Msg) and x.status == 200 for x in (a1, a2, a3)) and
              events("message")[-1]["text"] == "split body")
    # unknown method -> 501; answer code switch; silent
    fs.send(fs.request("INFO", b"", "text/plain", "z9hG4bKi1"))
    x = fs.recv(3)
    check(P + "INFO answered 501", isinstance(x, Msg) and x.status == 501)
    ua.run_line("answer 486")
    fs.send(fs.request("MESSAGE", b"busy", "text/plain", "z9hG4bKm4"))
    x = fs.recv(3)
    check(P + "answer 486", isinstance(x, Msg) and x.status == 486)
    ua.run_line("answer silent")
    fs.send(fs.request("MESSAGE", b"shh", "text/plain", "z9hG4bKm5"))
    check(P + "answer silent", fs.recv(1) is None)
    fs.send(fs.request("MESSAGE", b"shh", "text/plain", "z9hG4bKm5"))
    quiet = fs.recv(0.5) is None
    r = events("retransmission")
    check(P + "silent: a retransmission is absorbed, still no answer",
          quiet and r and r[-1]["answered"] is False, r)
    ua.run_line("answer 202 0.6")
    fs.send(fs.request("MESSAGE", b"later", "text/plain", "z9hG4bKd1"))
    early = fs.recv(0.3)
    fs.send(fs.request("MESSAGE", b"later", "text/plain", "z9hG4bKd1"))
    late = fs.recv(2)
    check(P + "answer after a delay, retransmission meanwhile absorbed",
          early is None and isinstance(late, Msg) and late.status == 202 and
          fs.recv(0.3) is None, (early, late))
    ua.run_line("answer silent")
    # a text not accepted (silent) is no duplicate when it comes again;
    # once accepted, a further copy is a duplicate answered 200 even in 486 mode
    cp7 = cp.replace(b"m-1", b"m-7")
    fs.send(fs.request("MESSAGE", cp7, "message/cpim", "z9hG4bKm6"))
    fs.recv(0.5)
    ua.run_line("answer 200")
    fs.send(fs.request("MESSAGE", cp7, "message/cpim", "z9hG4bKm7"))
    got = [fs.recv(3), fs.recv(3)]
    resp = [x for x in got if isinstance(x, Msg) and x.is_response]
    imdn = [x for x in got if isinstance(x, Msg) and not x.is_response]
    check(P + "retry of an unanswered text: message again, 200, IMDN",
          len(resp) == 1 and resp[0].status == 200 and len(imdn) == 1 and
          len(events("duplicate")) == 1 and events("message")[-1]["message_id"] == "m-7",
          [x.start if isinstance(x, Msg) else x for x in got])
    for x in imdn:
        fs.reply(x, 202)
    ua.run_line("answer 486")
    fs.send(fs.request("MESSAGE", cp7, "message/cpim", "z9hG4bKm8"))
    x = fs.recv(3)
    check(P + "duplicate answered 200 in 486 mode", isinstance(x, Msg) and x.status == 200 and
          len(events("duplicate")) == 2 and fs.recv(0.5) is None)
    ua.run_line("answer 200")
    # send CPIM to a tel: URI; 202 -> send event with message id
    rt = threading.Thread(target=ua.run_line, args=("send --cpim --tel 15550003 hi  there",))
    rt.start()
    m = fs.recv()
    if isinstance(m, Msg):  # a proxy challenge first: 407, Proxy-Authorization
        fs.reply(m, 407, ['Proxy-Authenticate: Digest realm="proxy.test", nonce="p1", '
                          'algorithm=MD5, qop="auth"'])
        m = fs.recv()
        pa = parse_challenges([m.get("proxy-authorization", "")])
        wa = parse_challenges([m.get("authorization", "")])
        want = digest_response("MD5", "u1", "proxy.test", "pw", "MESSAGE", "tel:+15550003",
                               "p1", "00000001", pa and pa[0].get("cnonce"), "auth")
        check(P + "407: Proxy-Authorization with the proxy nonce, Authorization kept",
              pa and pa[0].get("response") == want and wa and wa[0].get("nonce") == "def",
              (m.get("proxy-authorization"), m.get("authorization")))
    mcp = parse_cpim(m.body) if isinstance(m, Msg) else None
    check(P + "send --cpim --tel", isinstance(m, Msg) and m.ruri == "tel:+15550003" and
          mcp["content"] == "hi  there" and cpim_get(mcp, "imdn.Message-ID") and
          "negative-delivery" in cpim_get(mcp, "imdn.Disposition-Notification"),
          m.start if isinstance(m, Msg) else m)
    if isinstance(m, Msg):
        fs.reply(m, 202)
    rt.join()
    ev = events("send")
    check(P + "send event 202 with Message-ID", ev and ev[-1]["status"] == 202 and
          ev[-1]["message_id"] == cpim_get(mcp, "imdn.Message-ID"), ev)
    # keep-alive
    rt = threading.Thread(target=ua.run_line, args=("ping",))
    rt.start()
    x = fs.recv()
    if tp == "udp":
        ok = isinstance(x, bytes) and is_stun(x)
        if ok:
            fs.send(stun_response(x, fs.peer))
    else:
        ok = x == b"\r\n\r\n"
        fs.send(b"\r\n")
    rt.join()
    ev = events("keepalive")
    check(P + "keep-alive %s answered" % ("STUN" if tp == "udp" else "CRLF"), ok and ev and
          (tp != "udp" or ev[-1]["mapped"] == "127.0.0.1:%d" % ua.lport), ev)
    # SUBSCRIBE: 200, a NOTIFY in its dialog, then unsubscribe in the dialog
    rt = threading.Thread(target=ua.run_line, args=("subscribe 15550002 300",))
    rt.start()
    m = fs.recv()
    ok = (isinstance(m, Msg) and m.method == "SUBSCRIBE" and m.get("event") == "presence" and
          m.get("accept") == "application/pidf+xml" and m.get("expires") == "300")
    if isinstance(m, Msg):
        fs.reply(m, 200, ["Expires: 300", "Contact: <sip:pres@127.0.0.1:%d>" % fs.port])
    rt.join()
    check(P + "SUBSCRIBE presence", ok and events("subscribe")[-1]["status"] == 200)
    fs.send(fs.request("NOTIFY", pidf_body("sip:+15550002@dataline.local", f).encode(),
                       "application/pidf+xml", "z9hG4bKn2",
                       ["Event: presence", "Subscription-State: active;expires=299"],
                       call_id=m.get("call-id"), ftag="fs"))
    fs.recv(3)
    ev = events("notify")
    check(P + "NOTIFY matched to the subscription", ev[-1].get("number") == "15550002", ev[-1])
    rt = threading.Thread(target=ua.run_line, args=("unsubscribe 15550002",))
    rt.start()
    u = fs.recv()
    check(P + "unsubscribe in the dialog", isinstance(u, Msg) and
          u.ruri == "sip:pres@127.0.0.1:%d" % fs.port and u.get("expires") == "0" and
          u.get("call-id") == m.get("call-id") and tag_of(u.get("to")) == "fs" and
          u.cseq()[0] > m.cseq()[0], u and u.start)
    if isinstance(u, Msg):
        fs.reply(u, 200, ["Expires: 0"])
    rt.join()
    # PUBLISH then refresh with SIP-If-Match
    rt = threading.Thread(target=ua.run_line,
                          args=("publish link=up rate_kbps=5120 probed=1 rtt_ms=42 "
                                "loss_ppm=150 age_s=3",))
    rt.start()
    m = fs.recv()
    ok = isinstance(m, Msg) and m.get("event") == "presence"
    if ok:
        nq = parse_pidf(m.body)["tuples"][0]["netq"]
        ok = nq["rate_kbps"] == 5120 and nq["probed"] is True
        fs.reply(m, 200, ["SIP-ETag: e1", "Expires: 600"])
    rt.join()
    check(P + "PUBLISH PIDF with netq", ok)
    rt = threading.Thread(target=ua.run_line, args=("publish --refresh",))
    rt.start()
    m = fs.recv()
    check(P + "PUBLISH refresh: If-Match, no body", isinstance(m, Msg) and
          m.get("sip-if-match") == "e1" and not m.body)
    if isinstance(m, Msg):
        fs.reply(m, 200, ["SIP-ETag: e2", "Expires: 600"])
    rt.join()
    check(P + "new entity tag kept", ua.pub["etag"] == "e2")
    ua.flow.close()
    fs.ls.close()
    if fs.s is not fs.ls:
        fs.s.close()


# ------------------------------------------------------------------- main

def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="scriptable SIP user agent for the server's system tests",
        epilog="commands: see the header of this file")

    def usage_error(msg):  # 1, not argparse's 2: 2 means a timeout here
        ap.print_usage(sys.stderr)
        sys.exit("sipua.py: error: " + msg)
    ap.error = usage_error
    ap.add_argument("--transport", "-t", choices=("udp", "tcp", "tls"), default="udp")
    ap.add_argument("--server", "-s", type=lambda s: hostport(s, 5060), metavar="HOST:PORT",
                    help="HOST:PORT of the server (or, with --listen, where to listen)")
    ap.add_argument("--listen", action="store_true",
                    help="accept one flow on --server instead (loopback tests)")
    ap.add_argument("--cert", help="--listen over TLS: certificate file")
    ap.add_argument("--key", help="--listen over TLS: key file")
    ap.add_argument("--local", type=lambda s: hostport(s, 0), metavar="HOST[:PORT]",
                    help="local address to bind")
    ap.add_argument("--creds", help="credentials JSON of the API (username, "
                    "password, domain, number)")
    ap.add_argument("--user", help="digest username (the device)")
    ap.add_argument("--pass", "--password", dest="password")
    ap.add_argument("--number", help="E.164 number: the AOR user")
    ap.add_argument("--domain", help="SIP domain / realm (default dataline.local)")
    ap.add_argument("--one-field", action="store_true",
                    help="the username instead of the number in From/To/Contact")
    ap.add_argument("--expires", type=int, default=600, metavar="S",
                    help="REGISTER expiry when the command gives none (600)")
    ap.add_argument("--outbound", dest="outbound", action="store_true", default=True,
                    help="RFC 5626 Contact params and Supported: outbound (default)")
    ap.add_argument("--no-outbound", dest="outbound", action="store_false",
                    help="a plain Contact, no Supported: outbound")
    ap.add_argument("--instance", help="the +sip.instance UUID (default: random)")
    ap.add_argument("--keepalive", default="0", metavar="K|flow",
                    help="seconds between keep-alives, 0 = none, 'flow' = 80%% "
                         "of the Flow-Timer (25 s without) once registered")
    ap.add_argument("--cafile", help="TLS: trust this CA/certificate (name not checked "
                    "unless --tls-name)")
    ap.add_argument("--tls-name", help="TLS: the name to check and send as SNI")
    ap.add_argument("--no-verify", action="store_true", help="TLS: no verification")
    ap.add_argument("--imdn", action="store_true",
                    help="send delivery IMDNs for CPIM messages asking positive-delivery")
    ap.add_argument("--message-answer", default="200", metavar="CODE|silent",
                    help="answer to MESSAGE: a code, or 'silent'")
    ap.add_argument("--message-delay", type=float, default=0.0, metavar="S",
                    help="answer MESSAGE only after this many seconds")
    ap.add_argument("--uri-form", choices=("sip", "tel", "phone"), default="sip",
                    help="Request-URI form of send")
    ap.add_argument("--sub-expires", type=int, default=600, metavar="S",
                    help="SUBSCRIBE expiry when the command gives none (600)")
    ap.add_argument("--pub-expires", type=int, default=600, metavar="S",
                    help="PUBLISH expiry when the command gives none (600)")
    ap.add_argument("--timeout", "-T", type=float, default=8.0, metavar="S",
                    help="seconds a transaction may take (timer F; 8)")
    ap.add_argument("-c", dest="cmds", action="append", default=[], metavar="CMD",
                    help="a command (repeatable)")
    ap.add_argument("--script", metavar="FILE", help="file of commands")
    ap.add_argument("--stdin", action="store_true", help="also read commands from stdin")
    ap.add_argument("--selftest", action="store_true",
                    help="built-in checks; last line \"N passed, N failed\"")
    a = ap.parse_args(argv)
    if a.creds:
        c = json.load(open(a.creds))
        a.user = a.user or c.get("username")
        a.password = a.password or c.get("password")
        a.number = a.number or c.get("number")
        a.domain = a.domain or c.get("domain")
    a.domain = a.domain or "dataline.local"
    if a.keepalive != "flow":
        a.keepalive = float(a.keepalive)
    if a.message_answer != "silent" and not a.message_answer.isdigit():
        ap.error("--message-answer CODE|silent")
    if a.server:
        a.host, a.port = a.server
    elif not a.selftest:
        ap.error("--server HOST:PORT is required")
    if a.listen and a.transport == "tls" and not (a.cert and a.key):
        ap.error("--listen over TLS needs --cert and --key")
    return a


def main():
    a = parse_args(sys.argv[1:])
    if a.selftest:
        return selftest()
    ua = UA(a)
    try:
        ua.connect()
    except (OSError, ssl.SSLError) as e:
        ua.emit("error", error="connect: %s" % e)
        ua.emit("exit", rc=2)
        return 2
    if isinstance(a.keepalive, float) and a.keepalive > 0:
        ua.ka_start(a.keepalive)
    lines = list(a.cmds)
    if a.script:
        lines += open(a.script).read().splitlines()
    src = iter(lines)
    if not lines or a.stdin:
        import itertools
        src = itertools.chain(src, iter(sys.stdin.readline, ""))
    rc = 0
    for line in src:
        r = ua.run_line(line)
        if r == "quit":
            break
        if r == "usage":
            rc = max(rc, 1)
        elif not r:
            rc = 2
    if ua.flow.closed and rc == 0 and not a.listen:
        rc = 2
    ua.emit("exit", rc=rc)
    ua.flow.close()  # what is queued (an answer just made) still goes out
    return rc


if __name__ == "__main__":
    sys.exit(main())
