"""The router watcher: streams the FIB next-hop set of each watched prefix as JSON lines.

Runs ON the router host (in the lab: the router netns inside the VM, with Debian's /usr/bin/python3 and
python3-pyroute2), so it imports nothing of ours and only the standard library at module level:

    ip netns exec router /usr/bin/python3 router_watch.py 10.1.1.0/24 10.1.2.0/24

A netlink socket (pyroute2) subscribed to IPv4 route AND nexthop events is the trigger and the clock:
FRR may swap a route's nexthop group (`nhid`) or change the group's members without any route event.
After each batch of events the watcher reads the FIB (`ip -j route`, `ip -j nexthop`), expands nhid
groups, and prints one line per prefix whose next-hop set changed, stamped with time.time() taken when
the batch arrived:

    {"kind": "ready", "t": 1764150000.12, "source": "pyroute2"}
    {"kind": "fib", "t": 1764150001.53, "prefix": "10.1.1.0/24", "hops": ["10.0.0.105", ...],
     "cause": ["RTM_NEWNEXTHOP", "RTM_NEWROUTE"]}

Without pyroute2 it falls back to `ip -ts monitor route nexthop` as the trigger (same output).
It exits when its stdin closes (the caller went away) or after --max-seconds.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

RTNLGRP_IPV4_ROUTE = 7
RTNLGRP_NEXTHOP = 32
EVENT_NAMES = {24: "RTM_NEWROUTE", 25: "RTM_DELROUTE", 104: "RTM_NEWNEXTHOP", 105: "RTM_DELNEXTHOP"}


def next_hop_sets(routes: list, nexthops: list, prefixes) -> dict:
    """{prefix: sorted gateways} from `ip -j route show` and `ip -j nexthop show` output.

    A route's hops are its `gateway`, its multipath `nexthops`, or its `nhid` object (a gateway, or a
    group whose members are expanded). Only main-table unicast routes count; a missing prefix maps to []."""
    objs = {nh.get("id"): nh for nh in nexthops if isinstance(nh, dict)}
    out = {p: [] for p in prefixes}
    for r in routes:
        dst = r.get("dst")
        if dst not in out or r.get("type", "unicast") != "unicast" or r.get("table", "main") != "main":
            continue
        hops = set()
        if r.get("gateway"):
            hops.add(r["gateway"])
        for h in r.get("nexthops") or []:
            if h.get("gateway"):
                hops.add(h["gateway"])
        if "nhid" in r:
            hops |= _expand(objs, r["nhid"], set())
        out[dst] = sorted(set(out[dst]) | hops)
    return out


def _expand(objs: dict, nhid, seen: set) -> set:
    nh = objs.get(nhid)
    if nh is None or nhid in seen:
        return set()
    seen.add(nhid)
    hops = {nh["gateway"]} if nh.get("gateway") else set()
    for member in nh.get("group") or []:
        hops |= _expand(objs, member.get("id"), seen)
    return hops


def diff(old: dict, new: dict) -> list:
    """The prefixes whose next-hop set changed, in order."""
    return [p for p in new if old.get(p) != new[p]]


def read_fib(prefixes) -> dict:
    def ip_json(*args):
        p = subprocess.run(["ip", "-j", *args], capture_output=True, text=True, timeout=20)
        try:
            return json.loads(p.stdout or "[]")
        except ValueError:
            return []
    return next_hop_sets(ip_json("-4", "route", "show"), ip_json("nexthop", "show"), prefixes)


def emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")
    sys.stdout.flush()


def _pyroute2_batches():
    """Yield (t, [event names]) per batch of netlink route/nexthop messages."""
    from pyroute2 import IPRoute  # noqa: PLC0415 (only on the router host)

    ipr = IPRoute()
    ipr.bind(groups=1 << (RTNLGRP_IPV4_ROUTE - 1))
    ipr.add_membership(RTNLGRP_NEXTHOP)
    yield None  # subscribed: the caller reads the initial FIB now
    while True:
        msgs = ipr.get()
        t = time.time()
        yield t, sorted({EVENT_NAMES.get(m.get("header", {}).get("type"), str(m.get("header", {}).get("type")))
                         for m in msgs})


def _ip_monitor_batches():
    p = subprocess.Popen(["ip", "-ts", "monitor", "route", "nexthop"], stdout=subprocess.PIPE, text=True)
    yield None
    for line in p.stdout:
        t = time.time()
        yield t, ["ip-monitor: " + line.strip()[:80]]


def main(argv: list) -> int:
    max_seconds = 3600.0
    if "--max-seconds" in argv:
        i = argv.index("--max-seconds")
        max_seconds = float(argv[i + 1])
        argv = argv[:i] + argv[i + 2:]
    prefixes = argv
    try:
        import pyroute2  # noqa: F401
        batches, source = _pyroute2_batches(), "pyroute2"
    except ImportError:
        batches, source = _ip_monitor_batches(), "ip-monitor"

    def watchdog():
        try:
            while sys.stdin.read(4096):
                pass
        except (OSError, ValueError):
            pass
        os._exit(0)
    threading.Thread(target=watchdog, daemon=True).start()
    threading.Timer(max_seconds, lambda: os._exit(0)).start()

    next(batches)
    state = read_fib(prefixes)
    emit({"kind": "ready", "t": time.time(), "source": source})
    for p in prefixes:
        emit({"kind": "fib", "t": time.time(), "prefix": p, "hops": state[p], "cause": ["initial"]})
    for t, causes in batches:
        new = read_fib(prefixes)
        for p in diff(state, new):
            emit({"kind": "fib", "t": t, "prefix": p, "hops": new[p], "cause": causes})
        state = new
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
