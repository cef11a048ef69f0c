#!/usr/bin/python3
"""handset_bus: a D-Bus client of the handset daemon (org.dataline.Handset1)
that is not the `dataline` CLI, for the tests: python3-dbus with a GLib
main loop, so it sees the daemon's signals as any phone UI would.

  handset_bus.py --bus ADDR send-many PREFIX N [--fallback F] [--gap S]
      calls Send(number, "PREFIX-0001".., F) N times; one JSON line per
      call: {"i", "text", "id", "route"} or {"i", "text", "error", "message"}
      (a refused call is not retried: the text was not accepted)
  handset_bus.py --bus ADDR send-watch NUMBER TEXT [--timeout S]
      subscribes to the signals, sends TEXT, prints every signal as a JSON
      line ({"signal": "DeliveryReport", ...}) until the text's report says
      delivered (exit 0) or the timeout (exit 1)
  handset_bus.py --bus ADDR watch [--timeout S] [--count N]
      prints signals until N TextReceived or the timeout
  handset_bus.py --bus ADDR call-watch NUMBER [--fallback F] [--timeout S]
          [--hangup-after S]
      subscribes, calls Call(NUMBER, {"fallback": F}), prints its answer
      ({"call": id, "route", "detail"} or {"error", "message"}) and every
      signal; Hangup(id) S seconds after "confirmed"; exit 0 on the
      call's final CallState (ended, failed, refused, carrier), printed
      as {"final": STATE, "details": ...}, 1 on the timeout, 2 refused
      by the daemon
"""
import argparse
import json
import sys
import time

import dbus
import dbus.mainloop.glib
from gi.repository import GLib

NAME = IFACE = "org.dataline.Handset1"
PATH = "/org/dataline/Handset1"


def out(obj):
    print(json.dumps(obj), flush=True)


def proxy(bus):
    return dbus.Interface(bus.get_object(NAME, PATH, introspect=False), IFACE)


def send_many(bus, a):
    h = proxy(bus)
    for i in range(1, a.n + 1):
        text = "%s-%04d" % (a.prefix, i)
        try:
            tid, route, mid = h.Send(a.number, text, a.fallback, timeout=30)
            out({"i": i, "text": text, "id": int(tid), "route": str(route),
                 "message_id": str(mid)})
        except dbus.DBusException as e:
            out({"i": i, "text": text, "error": e.get_dbus_name(),
                 "message": e.get_dbus_message()})
            time.sleep(0.05)
            # a daemon restarting (killed) is not there for a moment
            h = proxy(bus)
        if a.gap:
            time.sleep(a.gap)
    return 0


def watch(bus, a, send=None):
    loop = GLib.MainLoop()
    state = {"id": None, "rc": 1, "received": 0}

    def on_signal(*args, **kw):
        member = kw["member"]
        ev = {"signal": member, "args": [str(x) if isinstance(x, dbus.String)
                                         else int(x) for x in args]}
        out(ev)
        if member == "DeliveryReport" and state["id"] is not None and \
                int(args[0]) == state["id"] and str(args[2]) == "delivered":
            state["rc"] = 0
            loop.quit()
        if member == "TextReceived":
            state["received"] += 1
            if a.count and state["received"] >= a.count:
                state["rc"] = 0
                loop.quit()

    bus.add_signal_receiver(on_signal, dbus_interface=IFACE, path=PATH,
                            member_keyword="member")
    if send:
        tid, route, mid = proxy(bus).Send(send[0], send[1], "quit")
        state["id"] = int(tid)
        out({"sent": int(tid), "route": str(route), "message_id": str(mid)})
    GLib.timeout_add(int(a.timeout * 1000), loop.quit)
    loop.run()
    return state["rc"]


FINAL = ("ended", "failed", "refused", "carrier")


def call_watch(bus, a):
    loop = GLib.MainLoop()
    state = {"id": None, "rc": 1, "early": []}
    h = proxy(bus)

    def on_state(cid, st, details):
        if state["id"] is None:
            state["early"].append((int(cid), str(st), str(details)))
            return
        if int(cid) != state["id"]:
            return
        out({"signal": "CallState", "args": [int(cid), str(st), str(details)]})
        if str(st) == "confirmed" and a.hangup_after is not None:
            GLib.timeout_add(int(a.hangup_after * 1000),
                             lambda: h.Hangup(dbus.UInt32(state["id"])) and False)
        if str(st) in FINAL:
            out({"final": str(st), "details": str(details)})
            state["rc"] = 0
            loop.quit()

    bus.add_signal_receiver(on_state, signal_name="CallState", dbus_interface=IFACE,
                            path=PATH)
    try:
        cid, route, detail = h.Call(a.number, dbus.Dictionary(
            {"fallback": a.fallback}, signature="ss"))
    except dbus.exceptions.DBusException as e:
        out({"error": e.get_dbus_name(), "message": e.get_dbus_message()})
        return 2
    out({"call": int(cid), "route": str(route), "detail": str(detail)})
    if str(route) != "data":
        return 0
    state["id"] = int(cid)
    for ev in state.pop("early"):
        on_state(*ev)
    if state["rc"] == 0:
        return 0
    GLib.timeout_add(int(a.timeout * 1000), loop.quit)
    loop.run()
    return state["rc"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bus", required=True)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("send-many")
    p.add_argument("number")
    p.add_argument("prefix")
    p.add_argument("n", type=int)
    p.add_argument("--fallback", default="quit")
    p.add_argument("--gap", type=float, default=0)
    p = sub.add_parser("send-watch")
    p.add_argument("number")
    p.add_argument("text")
    p.add_argument("--timeout", type=float, default=30)
    p.add_argument("--count", type=int, default=0)
    p = sub.add_parser("watch")
    p.add_argument("--timeout", type=float, default=30)
    p.add_argument("--count", type=int, default=0)
    p = sub.add_parser("call-watch")
    p.add_argument("number")
    p.add_argument("--fallback", default="quit")
    p.add_argument("--timeout", type=float, default=60)
    p.add_argument("--hangup-after", type=float, default=None)
    a = ap.parse_args()
    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    bus = dbus.bus.BusConnection(a.bus)
    if a.cmd == "send-many":
        return send_many(bus, a)
    if a.cmd == "call-watch":
        return call_watch(bus, a)
    if a.cmd == "send-watch":
        return watch(bus, a, (a.number, a.text))
    return watch(bus, a)


if __name__ == "__main__":
    sys.exit(main())
