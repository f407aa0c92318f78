"""The router watcher's logic without a router: FIB next-hop sets (nhid groups), its JSON lines, the
host-side history, and the `ip -ts monitor route nexthop` fallback."""
from __future__ import annotations

import datetime as dt
import io
import json
import threading

import pytest

from lbconformance.dynamic import router_watch as rw
from lbconformance.dynamic.watch import FibChange, MonitorFib, RouterWatch, parse_watch_line
from lbconformance.parse import ParseError

P1, P2 = "10.1.1.0/24", "10.1.2.0/24"

# what FRR 8.4 zebra installs (lab-facts.md): the route points at a group object
ROUTES = [{"dst": P1, "nhid": 30, "protocol": "bgp", "metric": 20, "flags": []},
          {"dst": P2, "nhid": 31, "protocol": "bgp", "metric": 20, "flags": []},
          {"dst": "10.0.0.0/24", "dev": "eth0", "protocol": "kernel", "flags": []}]
NEXTHOPS = [{"id": 21, "gateway": "10.0.0.105", "dev": "eth0", "scope": "link", "protocol": "zebra"},
            {"id": 22, "gateway": "10.0.0.106", "dev": "eth0", "scope": "link", "protocol": "zebra"},
            {"id": 23, "gateway": "10.0.0.107", "dev": "eth0", "scope": "link", "protocol": "zebra"},
            {"id": 30, "group": [{"id": 21}, {"id": 22}, {"id": 23}], "protocol": "zebra"},
            {"id": 31, "group": [{"id": 22}, {"id": 23}], "protocol": "zebra"}]


def test_nhid_groups_expand_to_gateways():
    assert rw.next_hop_sets(ROUTES, NEXTHOPS, [P1, P2]) == {
        P1: ["10.0.0.105", "10.0.0.106", "10.0.0.107"], P2: ["10.0.0.106", "10.0.0.107"]}


def test_group_change_without_route_event_changes_the_set():
    # FRR may rewrite group 30's members in place: the routes are unchanged, the set is not
    before = rw.next_hop_sets(ROUTES, NEXTHOPS, [P1, P2])
    changed = [dict(n) for n in NEXTHOPS]
    changed[3] = {"id": 30, "group": [{"id": 21}, {"id": 22}]}
    after = rw.next_hop_sets(ROUTES, changed, [P1, P2])
    assert rw.diff(before, after) == [P1]
    assert after[P1] == ["10.0.0.105", "10.0.0.106"]


def test_plain_multipath_single_gateway_and_missing_routes():
    routes = [{"dst": P1, "nexthops": [{"gateway": "10.0.0.105", "weight": 1}, {"gateway": "10.0.0.106", "weight": 1}]},
              {"dst": P2, "gateway": "10.0.0.107"},
              {"dst": P2, "type": "local", "gateway": "10.9.9.9"}]  # not unicast: ignored
    assert rw.next_hop_sets(routes, [], [P1, P2, "10.1.3.0/24"]) == {
        P1: ["10.0.0.105", "10.0.0.106"], P2: ["10.0.0.107"], "10.1.3.0/24": []}


def test_unknown_or_cyclic_nhid_gives_no_hops():
    nhs = [{"id": 1, "group": [{"id": 2}]}, {"id": 2, "group": [{"id": 1}]}]
    assert rw.next_hop_sets([{"dst": P1, "nhid": 1}, {"dst": P2, "nhid": 99}], nhs, [P1, P2]) == {P1: [], P2: []}


def line(t, prefix, hops, cause=("RTM_NEWROUTE",)):
    return json.dumps({"kind": "fib", "t": t, "prefix": prefix, "hops": sorted(hops), "cause": list(cause)}) + "\n"


def test_watch_lines_parse():
    assert parse_watch_line(line(5.5, P1, ["10.0.0.105"])) == FibChange(5.5, P1, frozenset({"10.0.0.105"}),
                                                                        ("RTM_NEWROUTE",))
    assert parse_watch_line('{"kind": "ready", "t": 1}') is None
    assert parse_watch_line("  ") is None
    with pytest.raises(ParseError):
        parse_watch_line("Traceback (most recent call last):")


def test_first_expected_set_at_or_after_the_request():
    w = RouterWatch([P1])
    w.feed('{"kind": "ready", "t": 0.5}\n')
    assert w.ready.is_set()
    for ln in (line(1.0, P1, {"a", "b", "c"}, ("initial",)), line(2.0, P1, {"a", "b", "c", "d"}),
               line(3.0, P1, {"a", "b", "c"}), line(4.0, P1, {"a", "b", "c", "d"}), line(4.5, P2, {"a"})):
        w.feed(ln)
    assert w.first(P1, {"a", "b", "c", "d"}, since=0).t == 2.0
    assert w.first(P1, {"a", "b", "c", "d"}, since=2.5).t == 4.0    # not the earlier occurrence
    assert w.first(P1, {"a", "b", "c"}, since=3.0).t == 3.0         # at-or-after
    assert w.first(P1, {"a", "b"}, since=0) is None                 # a subset is not the expected set
    assert w.current(P1) == frozenset({"a", "b", "c", "d"})
    assert [c.t for c in w.history(P1, since=2.5)] == [3.0, 4.0]
    w.feed("garbage\n")
    assert w.errors and "garbage" in w.errors[0]


def test_wait_for_wakes_on_a_later_line():
    w = RouterWatch([P1])
    timer = threading.Timer(0.2, lambda: w.feed(line(7.0, P1, {"x"})))
    timer.start()
    got = w.wait_for(P1, {"x"}, since=6.0, timeout=10)
    assert got is not None and got.t == 7.0
    assert w.wait_for(P1, {"y"}, since=0, timeout=0.3) is None


def test_follow_a_stream_and_stop_at_its_end():
    w = RouterWatch([P1])
    th = w.follow(io.StringIO('{"kind": "ready", "t": 0}\n' + line(1.0, P1, {"a"}) + line(2.0, P1, set())))
    th.join(5)
    assert w.closed.is_set() and [c.hops for c in w.changes] == [frozenset({"a"}), frozenset()]
    assert w.wait_for(P1, {"zzz"}, since=0, timeout=30) is None  # returns at once: the stream ended


MONITOR = """\
[2026-11-26T10:00:00.100000+00:00] id 21 via 10.0.0.105 dev eth0 scope link proto zebra
[2026-11-26T10:00:00.100000+00:00] id 22 via 10.0.0.106 dev eth0 scope link proto zebra
[2026-11-26T10:00:00.200000+00:00] id 30 group 21/22 proto zebra
[2026-11-26T10:00:00.300000+00:00] 10.1.1.0/24 nhid 30 proto bgp metric 20
[2026-11-26T10:00:05.000000+00:00] id 23 via 10.0.0.107 dev eth0 scope link proto zebra
[2026-11-26T10:00:05.000000+00:00] id 30 group 21/22/23 proto zebra
[2026-11-26T10:00:09.500000+00:00] 10.1.2.0/24 proto bgp metric 20
	nexthop via 10.0.0.106 dev eth0 weight 1
	nexthop via 10.0.0.107 dev eth0 weight 1
[2026-11-26T10:00:12.000000+00:00] Deleted 10.1.1.0/24 nhid 30 proto bgp metric 20
"""


def test_ip_monitor_fallback_follows_nhid_group_changes():
    fib = MonitorFib([P1, P2])
    changes = fib.feed_text(MONITOR)
    t0 = dt.datetime(2026, 11, 26, 10, tzinfo=dt.timezone.utc).timestamp()
    got = [(round(c.t - t0, 2), c.prefix, sorted(c.hops)) for c in changes]
    assert got == [(0.3, P1, ["10.0.0.105", "10.0.0.106"]),
                   (5.0, P1, ["10.0.0.105", "10.0.0.106", "10.0.0.107"]),   # a group change, no route event
                   (9.5, P2, ["10.0.0.106", "10.0.0.107"]),
                   (12.0, P1, [])]
    w = RouterWatch([P1, P2])
    for c in changes:
        w.add(c)
    assert w.first(P1, {"10.0.0.105", "10.0.0.106", "10.0.0.107"}, since=t0 + 1).t == pytest.approx(t0 + 5.0)


def test_watcher_program_is_standalone():
    """It runs on the router with Python's standard library (+ pyroute2 there): no imports of ours."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(rw))
    mods = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    mods |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not {m for m in mods if m.startswith("lbconformance")}, mods
