"""iproute2 routes: ``ip -j route`` (incl. ``nexthops``, ``nhid``, ``table local``),
``ip -j nexthop``, plain ``ip route`` (incl. multipath ``nexthop via ... weight N``
lines, as in the seed's Table 7.2) and ``ip [-ts] monitor route`` lines.
"""
from __future__ import annotations

import re

from ..models import NextHop, NexthopObject, Route, RouteEvent
from ._util import Shape, at, ip, lines, load_json, parser, prefix, to_uint
from .errors import ParseError

ROUTE_TYPES = frozenset({"unicast", "local", "broadcast", "multicast", "blackhole", "unreachable",
                         "prohibit", "throw", "nat", "anycast"})
#: Keywords of `ip route` output that take one value; other bare words become flags.
_VALUED = frozenset({"via", "dev", "proto", "scope", "src", "metric", "table", "nhid", "weight",
                     "mtu", "advmss", "expires", "pref", "realm", "realms", "tos", "dsfield",
                     "initcwnd", "initrwnd", "hoplimit", "rtt", "rttvar", "ssthresh", "cwnd",
                     "window", "reordering", "congctl", "features", "quickack",
                     "fastopen_no_cookie", "ttl-propagate", "from", "cache", "error", "uid",
                     "nh_id", "encap", "label"})


def _dst(word: str) -> str:
    return "default" if word == "default" else prefix(word, "a destination prefix")


def _json_route(s: Shape) -> Route:
    hops = tuple(NextHop(h.get("gateway").ip(None), h.get("dev").str(None),
                         h.get("weight").int(1), tuple(f.str() for f in h.get("flags").list())
                         if not h.get("flags").missing else ())
                 for h in (s.get("nexthops").list() if not s.get("nexthops").missing else []))
    metric = s.get("metric").int(None)
    return Route(
        dst=s["dst"].str() if s["dst"].value == "default" else s["dst"].prefix(),
        table=str(s.get("table").value) if not s.get("table").missing else "main",
        type=s.get("type").str("unicast"), protocol=_str_or_num(s.get("protocol")),
        metric=metric, dev=s.get("dev").str(None), gateway=s.get("gateway").ip(None),
        prefsrc=s.get("prefsrc").ip(None), scope=_str_or_num(s.get("scope")), nexthops=hops,
        nhid=s.get("nhid").int(None),
        flags=tuple(f.str() for f in s.get("flags").list()) if not s.get("flags").missing else ())


def _str_or_num(s: Shape) -> str | None:
    if s.missing:
        return None
    if isinstance(s.value, (int, str)) and not isinstance(s.value, bool):
        return str(s.value)
    raise s.fail("expected a name or a number")


@parser
def parse_ip_route_json(text: str, source: str) -> tuple[Route, ...]:
    """``ip -j route [show table T]``: a JSON list of route objects."""
    doc = Shape(source, load_json(text, source))
    return tuple(_json_route(r) for r in doc.list())


@parser
def parse_ip_nexthop_json(text: str, source: str) -> tuple[NexthopObject, ...]:
    """``ip -j nexthop``: single hops (gateway/dev) and groups ([{id, weight}]; a group
    member printed without weight has weight 1)."""
    out = []
    for s in Shape(source, load_json(text, source)).list():
        group = () if s.get("group").missing else tuple(
            (g["id"].int(), g.get("weight").int(1)) for g in s["group"].list())
        out.append(NexthopObject(s["id"].int(), s.get("gateway").ip(None), s.get("dev").str(None),
                                 group, _str_or_num(s.get("protocol")),
                                 "blackhole" in s.dict()))
    return tuple(out)


def expand_nhid(route: Route, objects: tuple[NexthopObject, ...]) -> Route:
    """Replace a route's ``nhid`` by the next hops of that nexthop object (a group gives
    one NextHop per member with the member's weight). Raises KeyError for an unknown id."""
    if route.nhid is None:
        return route
    by_id = {o.id: o for o in objects}
    obj = by_id[route.nhid]
    if obj.group:
        hops = tuple(NextHop(by_id[i].gateway, by_id[i].dev, w) for i, w in obj.group)
        return Route(**{**route.__dict__, "nexthops": hops})
    return Route(**{**route.__dict__, "gateway": obj.gateway, "dev": obj.dev or route.dev})


def _words_to_fields(words: list[str]) -> tuple[dict[str, str], list[str]]:
    vals: dict[str, str] = {}
    flags: list[str] = []
    i = 0
    while i < len(words):
        w = words[i]
        if w == "lock" and i + 1 < len(words):  # "mtu lock 1400"
            i += 1
            continue
        if w in _VALUED:
            if i + 1 >= len(words):
                raise ValueError(f"{w!r} without a value")
            vals.setdefault(w, words[i + 1])
            i += 2
        else:
            flags.append(w)
            i += 1
    return vals, flags


def _plain_route(words: list[str], hops: list[NextHop], default_table: str) -> Route:
    rtype = "unicast"
    if words[0] in ROUTE_TYPES:
        rtype, words = words[0], words[1:]
        if not words:
            raise ValueError("route type without a destination")
    dst = _dst(words[0])
    vals, flags = _words_to_fields(words[1:])
    return Route(dst=dst, table=vals.get("table", default_table), type=rtype,
                 protocol=vals.get("proto"), metric=to_uint(vals["metric"], "a metric") if "metric" in vals else None,
                 dev=vals.get("dev"), gateway=ip(vals["via"].split()[-1]) if "via" in vals else None,
                 prefsrc=ip(vals["src"]) if "src" in vals else None, scope=vals.get("scope"),
                 nexthops=tuple(hops), nhid=to_uint(vals["nhid"], "a nexthop id") if "nhid" in vals else None,
                 flags=tuple(flags))


def _plain_hop(words: list[str]) -> NextHop:
    vals, flags = _words_to_fields(words[1:])
    return NextHop(ip(vals["via"]) if "via" in vals else None, vals.get("dev"),
                   to_uint(vals.get("weight", "1"), "a weight"), tuple(flags))


def _is_hop_line(line: str) -> bool:
    return line[:1].isspace() or line.split()[0] == "nexthop"


def _group(text: str, source: str):
    """Yield (line number, head words, [(line, hop words)]) with continuation lines."""
    current = None
    for n, line in lines(text):
        if not line.strip():
            continue
        if _is_hop_line(line):
            if current is None:
                raise ParseError(source, n, "nexthop line without a route before it")
            words = line.split()
            if words[0] != "nexthop":
                current[1].extend(words)  # wrapped continuation of the route itself
            else:
                current[2].append((n, words))
            continue
        if current is not None:
            yield current
        current = (n, line.split(), [])
    if current is not None:
        yield current


@parser
def parse_ip_route(text: str, source: str, table: str = "main") -> tuple[Route, ...]:
    """Plain ``ip route [show table T]`` output (``table`` names the table asked for, since
    plain output omits it). ``nexthop`` lines may be indented or not (the seed's)."""
    out = []
    for n, head, hop_lines in _group(text, source):
        hops = []
        for hn, words in hop_lines:
            with at(source, hn):
                hops.append(_plain_hop(words))
        with at(source, n):
            out.append(_plain_route(head, hops, table))
    return tuple(out)


_TS = re.compile(r"^\[([^\]]*)\]\s*")


@parser
def parse_ip_monitor_route(text: str, source: str) -> tuple[RouteEvent, ...]:
    """``ip [-ts] monitor route``: ``[2024-05-01T10:00:00.123456] [Deleted] ROUTE`` lines,
    with multipath ``nexthop`` continuation lines. ``ip -t`` "Timestamp:" lines are
    applied to the event that follows."""
    events = []
    pending_ts = None
    blocks: list[tuple[int, str | None, bool, list[str], list[tuple[int, list[str]]]]] = []
    for n, line in lines(text):
        if not line.strip():
            continue
        with at(source, n):
            if line.startswith("Timestamp:"):
                pending_ts = line[len("Timestamp:"):].strip()
                continue
            if _is_hop_line(line):
                if not blocks:
                    raise ValueError("nexthop line without a route before it")
                words = line.split()
                if words[0] == "nexthop":
                    blocks[-1][4].append((n, words))
                else:
                    blocks[-1][3].extend(words)
                continue
            ts = pending_ts
            pending_ts = None
            m = _TS.match(line)
            if m:
                ts, line = m.group(1), line[m.end():]
            words = line.split()
            deleted = bool(words) and words[0] == "Deleted"
            if deleted:
                words = words[1:]
            if not words:
                raise ValueError("event without a route")
            blocks.append((n, ts, deleted, words, []))
    for n, ts, deleted, words, hop_lines in blocks:
        hops = []
        for hn, hw in hop_lines:
            with at(source, hn):
                hops.append(_plain_hop(hw))
        with at(source, n):
            events.append(RouteEvent(ts, deleted, _plain_route(words, hops, "main")))
    return tuple(events)
