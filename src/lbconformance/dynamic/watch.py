"""The host side of the router watcher: read its JSON lines, keep the history, find the expected set.

The watcher program (router_watch.py) runs on the router and prints `fib` lines, one per prefix whose
next-hop set changed, with the router's time.time(). `RouterWatch` consumes any iterable of lines (a
process's stdout in a thread), and answers "when did PREFIX first show exactly these next hops, at or
after time T?" on the router's clock, which is the clock the lab's scale events use too.

`ip -ts monitor route nexthop` output (the fallback for routers without Python) becomes the same
changes through `MonitorFib`, which applies route and nexthop-object events to a table.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import threading
from dataclasses import dataclass

from lbconformance.models import Route
from lbconformance.parse import ParseError, parse_ip_monitor_route


@dataclass(frozen=True)
class FibChange:
    """At router time `t`, `prefix` had exactly the next hops `hops` (empty: no route)."""

    t: float
    prefix: str
    hops: frozenset
    cause: tuple = ()


def parse_watch_line(line: str, source: str = "router watcher") -> FibChange | None:
    """One watcher line -> FibChange; `ready` and blank lines -> None. A bad line raises ParseError."""
    line = line.strip()
    if not line:
        return None
    try:
        obj = json.loads(line)
        if obj.get("kind") != "fib":
            return None
        return FibChange(float(obj["t"]), str(obj["prefix"]), frozenset(obj.get("hops") or ()),
                         tuple(obj.get("cause") or ()))
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise ParseError(source, None, f"not a watcher line ({e}): {line[:120]}") from None


class RouterWatch:
    """The history of next-hop sets, fed by `feed(line)` (or `follow(stream)` in a thread)."""

    def __init__(self, prefixes=()):
        self.prefixes = tuple(prefixes)
        self.changes: list[FibChange] = []
        self.ready = threading.Event()
        self.errors: list[str] = []
        self.closed = threading.Event()
        self._cond = threading.Condition()

    def feed(self, line: str) -> FibChange | None:
        if '"kind": "ready"' in line or '"kind":"ready"' in line:
            self.ready.set()
            return None
        try:
            ch = parse_watch_line(line)
        except ParseError as e:
            self.errors.append(str(e))
            return None
        if ch is not None:
            self.add(ch)
        return ch

    def add(self, ch: FibChange) -> None:
        with self._cond:
            self.changes.append(ch)
            self._cond.notify_all()

    def follow(self, stream) -> threading.Thread:
        def run():
            try:
                for line in stream:
                    self.feed(line if isinstance(line, str) else line.decode())
            finally:
                self.closed.set()
                with self._cond:
                    self._cond.notify_all()
        th = threading.Thread(target=run, name="router-watch", daemon=True)
        th.start()
        return th

    def current(self, prefix: str) -> frozenset | None:
        with self._cond:
            for ch in reversed(self.changes):
                if ch.prefix == prefix:
                    return ch.hops
        return None

    def first(self, prefix: str, hops, since: float) -> FibChange | None:
        """The first change at or after `since` (router clock) to exactly `hops`."""
        want = frozenset(hops)
        with self._cond:
            for ch in self.changes:
                if ch.prefix == prefix and ch.t >= since and ch.hops == want:
                    return ch
        return None

    def wait_for(self, prefix: str, hops, since: float, timeout: float) -> FibChange | None:
        """Block until `first(prefix, hops, since)` exists, at most `timeout` host seconds."""
        import time

        end = time.monotonic() + timeout
        with self._cond:
            while True:
                found = self.first(prefix, hops, since)
                left = end - time.monotonic()
                if found or left <= 0 or self.closed.is_set():
                    return found
                self._cond.wait(min(left, 0.5))

    def history(self, prefix: str, since: float = 0.0) -> list[FibChange]:
        with self._cond:
            return [ch for ch in self.changes if ch.prefix == prefix and ch.t >= since]


# -- the `ip -ts monitor route nexthop` fallback -------------------------------------------------------

_TS = re.compile(r"^\[([0-9T:.\-+]+)\]\s*")
_NH = re.compile(r"^(Deleted\s+)?id\s+(\d+)\s*(.*)$")


def _epoch(ts: str | None) -> float:
    if not ts:
        return 0.0
    d = dt.datetime.fromisoformat(ts)
    if d.tzinfo is None:
        d = d.astimezone()  # ip prints local time
    return d.timestamp()


class MonitorFib:
    """Apply `ip -ts monitor route nexthop` lines to a table of routes and nexthop objects; emit
    FibChange for watched prefixes whose next-hop set changed."""

    def __init__(self, prefixes):
        self.prefixes = tuple(prefixes)
        self.routes: dict[str, Route] = {}
        self.objects: dict[int, dict] = {}
        self.last: dict[str, frozenset] = {p: frozenset() for p in self.prefixes}
        self._pending: list[str] = []

    def feed_text(self, text: str, source: str = "ip -ts monitor route nexthop") -> list[FibChange]:
        out: list[FibChange] = []
        route_lines: list[str] = []
        for line in text.splitlines():
            body = _TS.sub("", line)
            m = _NH.match(body.strip())
            if m:
                out += self._flush(route_lines, source)
                route_lines = []
                ts = _TS.match(line)
                self._nexthop(bool(m.group(1)), int(m.group(2)), m.group(3).split())
                out += self._changes(_epoch(ts.group(1) if ts else None), ("nexthop",))
            elif line.strip():
                route_lines.append(line)
        out += self._flush(route_lines, source)
        return out

    def _flush(self, lines: list[str], source: str) -> list[FibChange]:
        if not lines:
            return []
        out = []
        for ev in parse_ip_monitor_route("\n".join(lines) + "\n", source):
            r = ev.route
            if r.table != "main" or r.type != "unicast" or r.dst not in self.last:
                continue
            if ev.deleted:
                self.routes.pop(r.dst, None)
            else:
                self.routes[r.dst] = r
            out += self._changes(_epoch(ev.timestamp), ("route",))
        return out

    def _nexthop(self, deleted: bool, nhid: int, words: list[str]) -> None:
        if deleted:
            self.objects.pop(nhid, None)
            return
        obj: dict = {"id": nhid}
        for i, w in enumerate(words[:-1]):
            if w == "via":
                obj["gateway"] = words[i + 1]
            elif w == "group":
                obj["group"] = [{"id": int(x.split(",")[0])} for x in words[i + 1].split("/")]
        self.objects[nhid] = obj

    def hops(self, prefix: str) -> frozenset:
        r = self.routes.get(prefix)
        if r is None:
            return frozenset()
        hops = {h.gateway for h in r.paths if h.gateway}
        nhid = getattr(r, "nhid", None)
        if nhid is not None:
            hops |= _expand_objects(self.objects, int(nhid), set())
        return frozenset(hops)

    def _changes(self, t: float, cause: tuple) -> list[FibChange]:
        out = []
        for p in self.prefixes:
            now = self.hops(p)
            if now != self.last[p]:
                self.last[p] = now
                out.append(FibChange(t, p, now, cause))
        return out


def _expand_objects(objs: dict, nhid: int, seen: set) -> set:
    nh = objs.get(nhid)
    if nh is None or nhid in seen:
        return set()
    seen.add(nhid)
    hops = {nh["gateway"]} if nh.get("gateway") else set()
    for m in nh.get("group") or []:
        hops |= _expand_objects(objs, m["id"], seen)
    return hops
