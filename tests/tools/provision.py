#!/usr/bin/env python3
"""provision.py: creates N accounts on a running dataline-server through its
provisioning API, the way a handset does (POST /v1/registrations, read the
one-time code from the SMS spool, POST /v1/registrations/verify), and writes
the issued credentials as a SIPp injection file (tests/sipp/users.csv
format):

    SEQUENTIAL
    NUMBER;[authentication username=USER password=PASS];USER;PASS

Fields 2 and 3 repeat the credentials for tools that are not SIPp (the
Kamailio subscriber import, tlsload). The server must allow that many codes
per client address (--code-max-per-client-hour).

Usage: provision.py --http 127.0.0.1:8080 --spool VAR/sms.spool \
                    --numbers tests/sipp/users.csv --out creds.csv
   or: provision.py ... --count 1000 --first +8613900000000 --out creds.csv
(--numbers takes the first field of every line starting with "+").
"""
import argparse
import http.client
import json
import os
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--http", required=True, help="HOST:PORT of the plain HTTP API")
    ap.add_argument("--spool", required=True, help="the server's SMS spool file")
    ap.add_argument("--numbers", help="file whose lines start with the numbers")
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--first", default="+8613900000000",
                    help="first number; the next ones count up")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    host, port = a.http.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    first = int(a.first.lstrip("+"))
    spool = open(a.spool, "a+")  # exists once the first SMS is written
    spool.seek(0, os.SEEK_END)
    pending = ""
    out = open(a.out, "w")
    out.write("SEQUENTIAL\n")

    def post(path, body):
        conn.request("POST", path, json.dumps(body),
                     {"Content-Type": "application/json"})
        r = conn.getresponse()
        return r.status, r.read()

    if a.numbers:
        numbers = [ln.split(";")[0].strip() for ln in open(a.numbers)
                   if ln.startswith("+")]
    else:
        numbers = ["+%d" % (first + i) for i in range(a.count)]
    for number in numbers:
        st, body = post("/v1/registrations", {"number": number})
        if st != 202:
            sys.exit("provision: POST /v1/registrations %s -> %d %s" % (number, st, body))
        session = json.loads(body)["session"]
        code = None
        deadline = time.monotonic() + 10
        while code is None and time.monotonic() < deadline:
            pending += spool.read()
            lines = pending.split("\n")
            pending = lines.pop()  # an incomplete last line stays
            for ln in lines:
                f = ln.split("\t")
                if len(f) == 3 and f[1] == number:
                    code = f[2][-6:]
            if code is None:
                time.sleep(0.005)
        if code is None:
            sys.exit("provision: no SMS for %s in %s" % (number, a.spool))
        st, body = post("/v1/registrations/verify", {"number": number, "code": code,
                                                     "session": session})
        if st != 200:
            sys.exit("provision: verify %s -> %d %s" % (number, st, body))
        cred = json.loads(body)
        out.write("%s;[authentication username=%s password=%s];%s;%s\n" % (
            number, cred["username"], cred["password"], cred["username"],
            cred["password"]))
    out.close()
    print("provision: %d accounts in %s" % (len(numbers), a.out))


if __name__ == "__main__":
    main()
