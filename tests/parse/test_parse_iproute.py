"""iproute2 routes: JSON (as FRR installs them, lab-facts), plain text (seed Table 7.2),
nexthop objects and monitor lines."""
from __future__ import annotations

import pytest
from hypothesis import given
from parse_fuzz_helpers import FUZZ, data, mutations, only_parse_error

from lbconformance.models import NextHop, NexthopObject, Route
from lbconformance.parse import (
    ParseError,
    expand_nhid,
    parse_ip_monitor_route,
    parse_ip_nexthop_json,
    parse_ip_route,
    parse_ip_route_json,
)

T72A, T72B, T72C = (data(f"seed_table7_2{x}_ip_route.txt") for x in "abc")

ROUTE_JSON = """[{"dst":"default","gateway":"10.0.0.1","dev":"eth0","flags":[]},
{"dst":"10.0.0.0/24","dev":"eth0","protocol":"kernel","scope":"link","prefsrc":"10.0.0.110","flags":[]},
{"dst":"10.1.1.0/24","nhid":23,"protocol":"bgp","metric":20,"flags":[],"nexthops":[
 {"gateway":"10.0.0.105","dev":"eth0","weight":1,"flags":[]},
 {"gateway":"10.0.0.106","dev":"eth0","weight":1,"flags":[]},
 {"gateway":"10.0.0.107","dev":"eth0","weight":1,"flags":[]}]},
{"dst":"10.1.2.0/24","nhid":19,"gateway":"10.0.0.106","dev":"eth0","protocol":"bgp","metric":20,"flags":[]},
{"dst":"10.1.1.1","dev":"docker0","scope":"link","flags":[]}]
"""

LOCAL_JSON = """[{"type":"local","dst":"10.1.1.0/24","dev":"eth0","table":"local","protocol":"boot","scope":"host","flags":[]},
{"type":"broadcast","dst":"172.16.20.255","dev":"eth0","table":"local","protocol":"kernel","scope":"link","prefsrc":"172.16.20.2","flags":[]}]"""

NEXTHOP_JSON = """[{"id":19,"gateway":"10.0.0.106","dev":"eth0","scope":"link","protocol":"zebra","flags":[]},
{"id":20,"gateway":"10.0.0.105","dev":"eth0","scope":"link","protocol":"zebra","flags":[]},
{"id":21,"gateway":"10.0.0.107","dev":"eth0","scope":"link","protocol":"zebra","flags":[]},
{"id":23,"group":[{"id":20},{"id":19,"weight":2},{"id":21}],"type":"mpath","protocol":"zebra","flags":[]},
{"id":30,"blackhole":null,"protocol":"zebra","flags":[]}]"""

PLAIN_REAL = data("ip_route_frr_router.txt")

PLAIN_LOCAL = """\
local 10.1.1.0/24 dev eth0 table local proto boot scope host
local 172.16.20.2 dev eth0 table local proto kernel scope host src 172.16.20.2
broadcast 172.16.20.255 dev eth0 table local proto kernel scope link src 172.16.20.2
"""

MONITOR = """\
[2026-11-26T07:10:00.100000] 10.1.1.0/24 nhid 23 proto bgp metric 20
\tnexthop via 10.0.0.105 dev eth0 weight 1
\tnexthop via 10.0.0.106 dev eth0 weight 1
[2026-11-26T07:10:01.250000] Deleted 10.1.2.0/24 nhid 19 via 10.0.0.106 dev eth0 proto bgp metric 20
Timestamp: Thu Nov 26 07:10:02 2026 123456 usec
10.1.2.0/24 via 10.0.0.107 dev eth0 proto bgp metric 20
"""


def test_seed_table_7_2a_single_path():
    (r,) = parse_ip_route(T72A, "router:ip route")
    assert r == Route("10.1.1.0/24", protocol="zebra", metric=20, dev="eth0", gateway="10.0.0.106")
    assert r.paths == (NextHop("10.0.0.106", "eth0", 1),)


def test_seed_table_7_2b_three_next_hops():
    (r,) = parse_ip_route(T72B, "router:ip route")
    assert (r.dst, r.protocol, r.metric, r.gateway) == ("10.1.1.0/24", "zebra", 20, None)
    assert r.nexthops == tuple(NextHop(f"10.0.0.10{i}", "eth0", 1) for i in (5, 6, 7))


def test_seed_table_7_2c_two_services():
    a, b = parse_ip_route(T72C, "router:ip route")
    assert {h.gateway for h in a.nexthops} == {"10.0.0.105", "10.0.0.106", "10.0.0.107"}
    assert (b.dst, [h.gateway for h in b.nexthops]) == ("10.1.2.0/24", ["10.0.0.107", "10.0.0.106"])


def test_plain_real_output():
    d, link, ecmp, bh, node = parse_ip_route(PLAIN_REAL, "ip route")
    assert (d.dst, d.gateway, d.protocol, d.metric, d.flags) == ("default", "10.0.0.1", "static", 100, ("onlink",))
    assert (link.prefsrc, link.scope, link.flags) == ("10.0.0.110", "link", ("linkdown",))
    assert ecmp.nhid == 23 and len(ecmp.nexthops) == 3 and ecmp.protocol == "bgp"
    assert (bh.type, bh.dst) == ("blackhole", "10.9.0.0/16")
    assert (node.dst, node.dev, node.gateway) == ("10.1.2.0/24", "docker0", None)


def test_plain_local_table():
    a, b, c = parse_ip_route(PLAIN_LOCAL, "ip route show table local", table="local")
    assert (a.type, a.dst, a.dev, a.table) == ("local", "10.1.1.0/24", "eth0", "local")
    assert b.dst == "172.16.20.2/32" and c.type == "broadcast"


def test_json_routes_and_nexthops():
    d, link, ecmp, single, host = parse_ip_route_json(ROUTE_JSON, "ip -j route")
    assert d == Route("default", gateway="10.0.0.1", dev="eth0")
    assert link.prefsrc == "10.0.0.110" and link.protocol == "kernel"
    assert ecmp.nhid == 23 and ecmp.metric == 20
    assert [h.gateway for h in ecmp.nexthops] == ["10.0.0.105", "10.0.0.106", "10.0.0.107"]
    assert single.nhid == 19 and single.paths == (NextHop("10.0.0.106", "eth0", 1),)
    assert host.dst == "10.1.1.1/32"


def test_json_local_table():
    a, b = parse_ip_route_json(LOCAL_JSON, "ip -j route show table local")
    assert (a.type, a.dst, a.table, a.dev) == ("local", "10.1.1.0/24", "local", "eth0")
    assert b.type == "broadcast" and b.dst == "172.16.20.255/32"


def test_nexthop_objects_and_expand():
    objs = parse_ip_nexthop_json(NEXTHOP_JSON, "ip -j nexthop")
    assert objs[0] == NexthopObject(19, "10.0.0.106", "eth0", protocol="zebra")
    assert objs[3].group == ((20, 1), (19, 2), (21, 1))
    assert objs[4].blackhole
    route = Route("10.1.1.0/24", protocol="bgp", metric=20, nhid=23)
    hops = expand_nhid(route, objs).nexthops
    assert hops == (NextHop("10.0.0.105", "eth0", 1), NextHop("10.0.0.106", "eth0", 2),
                    NextHop("10.0.0.107", "eth0", 1))
    assert expand_nhid(Route("x/32", nhid=19), objs).gateway == "10.0.0.106"


def test_monitor_lines():
    a, b, c = parse_ip_monitor_route(MONITOR, "ip -ts monitor route")
    assert a.timestamp == "2026-11-26T07:10:00.100000" and not a.deleted
    assert len(a.route.nexthops) == 2 and a.route.nhid == 23
    assert b.deleted and b.route.dst == "10.1.2.0/24" and b.route.gateway == "10.0.0.106"
    assert c.timestamp == "Thu Nov 26 07:10:02 2026 123456 usec" and c.route.gateway == "10.0.0.107"


@pytest.mark.parametrize("fn, text, line, words", [
    (parse_ip_route, T72B.replace("10.0.0.106", "10.0.0.1066"), 3, "10.0.0.1066"),
    (parse_ip_route, "\tnexthop via 10.0.0.1 dev eth0\n", 1, "without a route"),
    (parse_ip_route, "10.1.1.0/24 proto zebra metric twenty\n", 1, "metric"),
    (parse_ip_route, "10.1.1.1/24 dev eth0\n", 1, "host bits"),
    (parse_ip_route_json, '[{"dst": "10.1.1.0/24",\n "metric": 20\n', 3, "invalid JSON"),
    (parse_ip_route_json, '[{"dst": "10.1.1.0/24", "metric": "x"}]', None, "$[0].metric"),
    (parse_ip_nexthop_json, '[{"gateway": "10.0.0.1"}]', None, "missing field 'id'"),
    (parse_ip_monitor_route, "[ts] Deleted\n", 1, "without a route"),
])
def test_garbled_input_names_source_and_line(fn, text, line, words):
    with pytest.raises(ParseError) as e:
        fn(text, "router")
    assert e.value.source == "router" and e.value.line == line
    assert str(e.value).startswith("router:" if line is None else f"router:{line}: ")
    assert words in str(e.value)


@FUZZ
@given(mutations(T72A, T72B, T72C, PLAIN_REAL, PLAIN_LOCAL, alphabet=" \t\n0123456789./viadeth"))
def test_fuzz_plain(text):
    only_parse_error(parse_ip_route, text)


@FUZZ
@given(mutations(ROUTE_JSON, LOCAL_JSON, NEXTHOP_JSON, alphabet='[]{}":,0123456789.abc'))
def test_fuzz_json(text):
    only_parse_error(parse_ip_route_json, text)
    only_parse_error(parse_ip_nexthop_json, text)


@FUZZ
@given(mutations(MONITOR, alphabet=" \t\n[]0123456789./Deleted"))
def test_fuzz_monitor(text):
    only_parse_error(parse_ip_monitor_route, text)
