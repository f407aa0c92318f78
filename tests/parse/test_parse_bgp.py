"""BGP: gobgp and FRR JSON state, exabgp, gobgpd and FRR configs (the seed's appendix)."""
from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from parse_fuzz_helpers import FUZZ, data, mutations, only_parse_error

from lbconformance.models import BgpPath
from lbconformance.parse import (
    ParseError,
    parse_exabgp_config,
    parse_frr_bgp_neighbors,
    parse_frr_bgp_routes,
    parse_frr_bgp_summary,
    parse_frr_bgpd_conf,
    parse_frr_ip_route,
    parse_gobgp_neighbors,
    parse_gobgp_rib,
    parse_gobgpd_config,
)

EXA_SEED = data("seed_appendix2_exabgp.conf")
RR_SEED = data("seed_appendix3_gobgp.yaml")
RR_EXTRACTED = data("seed_appendix3_gobgp_extracted.txt")
ROUTER_SEED = data("seed_appendix4_gobgp_router.yaml")


def _addpath_cap(mode: int) -> dict:
    """An apipb.AddPathsCapability for ipv4-unicast, as gobgp's JSON carries it (an Any)."""
    family = bytes([0x08, 1, 0x10, 1])
    tup = bytes([0x0A, len(family)]) + family + bytes([0x10, mode])
    cap = bytes([0x0A, len(tup)]) + tup
    return {"type_url": "type.googleapis.com/apipb.AddPathsCapability", "value": base64.b64encode(cap).decode()}


GOBGP_NEIGHBORS = json.dumps([
    {"conf": {"local_as": 65021, "neighbor_address": "10.0.0.110", "peer_as": 65021},
     "state": {"local_as": 65021, "neighbor_address": "10.0.0.110", "peer_as": 65021, "router_id": "10.0.0.110",
               "session_state": 6, "admin_state": 0,
               "local_cap": [{"type_url": "type.googleapis.com/apipb.RouteRefreshCapability"}, _addpath_cap(3)],
               "remote_cap": [_addpath_cap(1)]},
     "timers": {"config": {"hold_time": 90, "keepalive_interval": 30},
                "state": {"keepalive_interval": 30, "negotiated_hold_time": 90}},
     "transport": {"local_address": "10.0.0.109", "local_port": 179, "remote_port": 40000},
     "route_reflector": {"route_reflector_client": True, "route_reflector_cluster_id": "10.0.0.109"},
     "afi_safis": [{"config": {"family": {"afi": 1, "safi": 1}, "enabled": True},
                    "add_paths": {"config": {"receive": True, "send_max": 255}},
                    "state": {"family": {"afi": 1, "safi": 1}, "enabled": True, "received": 0}}]},
    {"conf": {"neighbor_address": "172.16.20.2", "peer_as": 65021, "peer_group": "k8s"},
     "state": {"neighbor_address": "172.16.20.2", "peer_as": 65021, "peer_group": "k8s", "router_id": "172.16.20.2",
               "session_state": 6},
     "timers": {"state": {"negotiated_hold_time": 180}},
     "transport": {"local_address": "10.0.0.109"},
     "afi_safis": [{"state": {"received": 1}}]},
    {"conf": {"neighbor_address": "172.16.21.2", "peer_as": 65021}, "state": {"session_state": 3},
     "timers": {"state": {}}},
])

GOBGP_OLD = json.dumps({"config": {"neighbor-address": "10.0.0.109", "peer-as": 65021},
                        "state": {"session-state": "established", "neighbor-address": "10.0.0.109"},
                        "timers": {"state": {"negotiated-hold-time": 9}},
                        "transport": {"state": {"local-address": "10.0.0.110"}}})

GOBGP_RIB = json.dumps({"10.1.1.0/24": [
    {"nlri": {"prefix": "10.1.1.0/24"}, "age": 1764140000, "best": True, "id": 1,
     "attrs": [{"type": 1, "value": 0}, {"type": 3, "nexthop": "10.0.0.105"}, {"type": 5, "value": 100},
               {"type": 9, "value": "172.16.19.2"}, {"type": 10, "value": ["10.0.0.109"]}],
     "stale": False, "source-id": "172.16.19.2", "neighbor-ip": "172.16.19.2"},
    {"nlri": {"prefix": "10.1.1.0/24"}, "age": 1764140001, "best": False, "id": 2,
     "attrs": [{"type": 1, "value": 0}, {"type": 3, "nexthop": "10.0.0.106"}],
     "stale": False, "neighbor-ip": "172.16.20.2"}]})

FRR_ROUTES = json.dumps({"vrfId": 0, "vrfName": "default", "routerId": "10.0.0.110", "localAS": 65021, "routes": {
    "10.1.1.0/24": [
        {"valid": True, "bestpath": True, "multipath": True, "pathFrom": "internal", "prefix": "10.1.1.0",
         "prefixLen": 24, "network": "10.1.1.0/24", "locPrf": 100, "weight": 0, "peerId": "10.0.0.109",
         "path": "", "origin": "IGP", "addpathRxId": 1, "nexthops": [{"ip": "10.0.0.105", "afi": "ipv4", "used": True}]},
        {"valid": True, "multipath": True, "pathFrom": "internal", "peerId": "10.0.0.109", "addpathRxId": 2,
         "nexthops": [{"ip": "10.0.0.106", "afi": "ipv4", "used": True}]}]}})

FRR_DETAIL = json.dumps({"prefix": "10.1.1.0/24", "paths": [
    {"aspath": {"string": "Local"}, "addpathRxId": 3, "originatorId": "172.16.21.2",
     "clusterList": {"list": ["10.0.0.109"]}, "nexthops": [{"ip": "10.0.0.107", "used": True}],
     "peer": {"peerId": "10.0.0.109", "routerId": "10.0.0.109"}, "bestpath": {"overall": True}, "multipath": True}]})

FRR_SUMMARY = json.dumps({"ipv4Unicast": {"routerId": "10.0.0.110", "as": 65021, "peers": {
    "10.0.0.109": {"remoteAs": 65021, "localAs": 65021, "version": 4, "state": "Established", "peerState": "OK",
                   "pfxRcd": 3, "pfxSnt": 0}}}})

FRR_NEIGHBORS = json.dumps({"10.0.0.109": {
    "remoteAs": 65021, "localAs": 65021, "nbrInternalLink": True, "remoteRouterId": "10.0.0.109",
    "localRouterId": "10.0.0.110", "bgpState": "Established", "bgpTimerHoldTimeMsecs": 9000,
    "bgpTimerKeepAliveIntervalMsecs": 3000,
    "neighborCapabilities": {"4byteAs": "advertisedAndReceived", "addPath": {"ipv4Unicast": {
        "txAdvertisedAndReceived": False, "txAdvertised": False, "txReceived": True,
        "rxAdvertisedAndReceived": True, "rxAdvertised": True, "rxReceived": True}}},
    "addressFamilyInfo": {"ipv4Unicast": {"acceptedPrefixCounter": 3}},
    "hostLocal": "10.0.0.110", "portLocal": 179, "hostForeign": "10.0.0.109", "portForeign": 41234},
    "10.0.0.200": {"remoteAs": 65021, "bgpState": "Active"}})

FRR_IP_ROUTE = json.dumps({"10.1.1.0/24": [{"prefix": "10.1.1.0/24", "protocol": "bgp", "selected": True,
                                            "installed": True, "distance": 200, "metric": 0, "table": 254,
                                            "nexthops": [{"fib": True, "ip": "10.0.0.105", "afi": "ipv4",
                                                          "interfaceName": "eth0", "active": True, "weight": 1},
                                                         {"fib": True, "ip": "10.0.0.106", "afi": "ipv4",
                                                          "interfaceName": "eth0", "active": True, "weight": 1}]}]})

EXA4 = """\
# exabgp 4 forms
template {
    neighbor rr {
        local-as 65021;
        peer-as 65021;
        hold-time 9;
    }
}
process announce-routes {
    run /usr/bin/python3 /etc/exabgp/api.py;
    encoder json;
}
neighbor 10.0.0.109 {
    inherit rr;
    router-id 172.16.20.2;
    local-address 172.16.20.2;
    family { ipv4 unicast; }
    capability { add-path send/receive; }
    announce {
        ipv4 {
            unicast 10.1.2.0/24 next-hop 10.0.0.107 local-preference 100;
        }
    }
    static {
        route 10.1.3.0/24 {
            next-hop 10.0.0.107;
        }
    }
    route 10.1.4.1 next-hop self;
}
"""

RR_TOML = """\
[global.config]
  as = 65021
  router-id = "10.0.0.109"
  local-address-list = ["0.0.0.0"]
[global.use-multiple-paths.config]
  enabled = true

[[peer-groups]]
  [peer-groups.config]
    peer-group-name = "k8s"
    peer-as = 65021
  [peer-groups.add-paths.config]
    send-max = 255
    receive = true
  [[peer-groups.afi-safis]]
    [peer-groups.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
    [peer-groups.afi-safis.add-paths.config]
      send-max = 8

[[dynamic-neighbors]]
  [dynamic-neighbors.config]
    prefix = "172.16.0.0/16"
    peer-group = "k8s"

[[neighbors]]
  [neighbors.config]
    neighbor-address = "10.0.0.110"
    peer-as = 65021
  [neighbors.timers.config]
    hold-time = 9
  [neighbors.route-reflector.config]
    route-reflector-client = true
    route-reflector-cluster-id = "10.0.0.109"
  [neighbors.add-paths.config]
    send-max = 255
    receive = true
"""

BGPD_CONF = """\
frr version 8.4.4
frr defaults traditional
hostname router
log syslog informational
!
router bgp 65021
 bgp router-id 10.0.0.110
 no bgp ebgp-requires-policy
 neighbor 10.0.0.109 remote-as 65021
 neighbor 10.0.0.109 timers 3 9
 neighbor PODS peer-group
 neighbor PODS remote-as internal
 neighbor 10.0.0.120 peer-group PODS
 !
 address-family ipv4 unicast
  maximum-paths ibgp 16
  maximum-paths 4
  neighbor 10.0.0.109 route-reflector-client
 exit-address-family
exit
!
router bgp 65099 vrf blue
 bgp router-id 1.1.1.1
exit
!
line vty
!
"""


def test_seed_appendix_2_exabgp():
    (n,) = parse_exabgp_config(EXA_SEED, "exabgp.conf")
    assert (n.neighbor, n.router_id, n.local_address, n.local_as, n.peer_as, n.hold_time, n.description) == (
        "10.0.0.109", "172.16.20.2", "172.16.20.2", 65021, 65021, 1800, "peer1")
    assert n.routes == (("10.1.1.0/24", "10.0.0.106"),)


def test_exabgp_4_forms_and_templates():
    (n,) = parse_exabgp_config(EXA4, "exabgp.conf")
    assert (n.local_as, n.peer_as, n.hold_time, n.router_id) == (65021, 65021, 9, "172.16.20.2")
    assert n.routes == (("10.1.2.0/24", "10.0.0.107"), ("10.1.3.0/24", "10.0.0.107"), ("10.1.4.1/32", "self"))
    assert n.line == 13


def test_seed_appendix_3_reflector_yaml():
    c = parse_gobgpd_config(RR_SEED, "gobgp.conf", fmt="yaml")
    assert (c.as_number, c.router_id, c.local_addresses, c.use_multiple_paths) == (65021, "10.0.0.109", ("0.0.0.0",), True)
    (pg,) = c.peer_groups
    assert (pg.name, pg.peer_as, pg.add_paths_send_max, [a.name for a in pg.afi_safis]) == ("k8s", 65021, None, ["ipv4-unicast"])
    assert c.dynamic_neighbors == (("172.16.0.0/16", "k8s"),)
    (nb,) = c.neighbors
    assert (nb.address, nb.route_reflector_client, nb.route_reflector_cluster_id) == ("10.0.0.110", True, "10.0.0.109")
    assert (nb.add_paths_send_max, nb.add_paths_receive) == (255, True)


def test_seed_appendix_3_as_extracted_is_reported_not_guessed():
    with pytest.raises(ParseError) as e:
        parse_gobgpd_config(RR_EXTRACTED, "seed appendix .3")
    assert e.value.line is not None and "YAML" in str(e.value)


def test_seed_appendix_4_router_yaml():
    c = parse_gobgpd_config(ROUTER_SEED, "gobgp.conf")
    assert (c.router_id, c.zebra_enabled, c.use_multiple_paths) == ("10.0.0.110", True, True)
    (nb,) = c.neighbors
    assert (nb.address, nb.add_paths_receive, nb.add_paths_send_max, nb.route_reflector_client) == (
        "10.0.0.109", True, None, False)


def test_gobgpd_toml_same_model_as_yaml_and_peer_group_add_paths():
    c = parse_gobgpd_config(RR_TOML, "gobgpd.toml")
    (pg,) = c.peer_groups
    assert (pg.add_paths_send_max, pg.add_paths_receive) == (255, True)
    assert pg.afi_safis[0].add_paths_send_max == 8
    assert c.neighbors[0].hold_time == 9
    y = parse_gobgpd_config(RR_SEED, "gobgp.conf")
    assert c.neighbors[0].route_reflector_cluster_id == y.neighbors[0].route_reflector_cluster_id
    assert c.dynamic_neighbors == y.dynamic_neighbors


def test_gobgp_neighbors_v3():
    rtr, pod, down = parse_gobgp_neighbors(GOBGP_NEIGHBORS, "rr:gobgp neighbor -j")
    assert (rtr.neighbor_address, rtr.state, rtr.remote_as, rtr.hold_time) == ("10.0.0.110", "Established", 65021, 90)
    assert (rtr.router_id, rtr.local_address, rtr.route_reflector_client) == ("10.0.0.110", "10.0.0.109", True)
    assert (rtr.add_path_advertised, rtr.add_path_received, rtr.add_path_send, rtr.add_path_receive) == (
        True, True, True, False)
    assert (pod.neighbor_address, pod.peer_group, pod.hold_time, pod.prefixes_received) == ("172.16.20.2", "k8s", 180, 1)
    assert pod.add_path_received is None
    assert down.state == "Active" and down.hold_time is None


def test_gobgp_neighbor_older_hyphenated_single_object():
    (p,) = parse_gobgp_neighbors(GOBGP_OLD, "gobgp neighbor 10.0.0.109 -j")
    assert (p.neighbor_address, p.state, p.hold_time, p.local_address) == ("10.0.0.109", "Established", 9, "10.0.0.110")


def test_gobgp_rib_add_paths():
    a, b = parse_gobgp_rib(GOBGP_RIB, "rr:gobgp global rib -a ipv4 -j")
    assert a == BgpPath("10.1.1.0/24", "10.0.0.105", 1, "172.16.19.2", ("10.0.0.109",), True, "172.16.19.2")
    assert (b.next_hop, b.path_id, b.best, b.peer) == ("10.0.0.106", 2, False, "172.16.20.2")


def test_frr_routes_list_and_detail():
    a, b = parse_frr_bgp_routes(FRR_ROUTES, "router:show bgp ipv4 unicast json")
    assert (a.prefix, a.next_hop, a.path_id, a.best, a.peer, a.multipath) == (
        "10.1.1.0/24", "10.0.0.105", 1, True, "10.0.0.109", True)
    assert (b.next_hop, b.best) == ("10.0.0.106", False)
    (d,) = parse_frr_bgp_routes(FRR_DETAIL, "router:show bgp ipv4 unicast 10.1.1.0/24 json")
    assert (d.originator, d.cluster_list, d.best, d.path_id, d.peer) == (
        "172.16.21.2", ("10.0.0.109",), True, 3, "10.0.0.109")


def test_frr_summary_and_neighbors():
    (s,) = parse_frr_bgp_summary(FRR_SUMMARY, "router:show bgp summary json")
    assert (s.neighbor_address, s.state, s.remote_as, s.prefixes_received) == ("10.0.0.109", "Established", 65021, 3)
    rr, idle = parse_frr_bgp_neighbors(FRR_NEIGHBORS, "router:show bgp neighbors json")
    assert (rr.state, rr.hold_time, rr.router_id, rr.local_address) == ("Established", 9, "10.0.0.109", "10.0.0.110")
    assert (rr.add_path_receive, rr.add_path_send, rr.add_path_advertised, rr.add_path_received) == (
        True, False, True, True)
    assert rr.prefixes_received == 3
    assert idle.state == "Active" and idle.add_path_receive is None


def test_frr_ip_route():
    (r,) = parse_frr_ip_route(FRR_IP_ROUTE, "router:show ip route json")
    assert (r.dst, r.protocol, r.table) == ("10.1.1.0/24", "bgp", "main")
    assert [(h.gateway, h.dev, h.weight) for h in r.nexthops] == [("10.0.0.105", "eth0", 1), ("10.0.0.106", "eth0", 1)]


def test_frr_bgpd_conf():
    c = parse_frr_bgpd_conf(BGPD_CONF, "bgpd.conf")
    assert (c.as_number, c.router_id, c.maximum_paths_ibgp, c.maximum_paths) == (65021, "10.0.0.110", 16, 4)
    by = {n.name: n for n in c.neighbors}
    assert by["10.0.0.109"].remote_as == "65021"
    assert ("timers", "3", "9") in by["10.0.0.109"].options
    assert ("route-reflector-client",) in by["10.0.0.109"].options
    assert by["PODS"].is_peer_group and by["PODS"].remote_as == "internal"
    assert by["10.0.0.120"].peer_group == "PODS"
    assert c.address_families == ("ipv4 unicast",)
    assert "1.1.1.1" not in str(c)


@pytest.mark.parametrize("fn, text, line, words", [
    (parse_exabgp_config, EXA_SEED.replace("peer-as 65021", "peer-as sixty"), 6, "peer-as"),
    (parse_exabgp_config, EXA_SEED.replace("next-hop 10.0.0.106", "next-hop"), 9, "next-hop"),
    (parse_exabgp_config, EXA_SEED.rstrip().rstrip("}"), 1, "not closed"),
    (parse_gobgpd_config, RR_TOML.replace('as = 65021', 'as = "x"', 1), 2, "as"),
    (parse_gobgpd_config, RR_SEED.replace("  config:\n    as: 65021\n", "  config:\n"), 5, "global.config.as"),
    (parse_gobgpd_config, RR_TOML.replace("[[neighbors]]", "[[neighbors]"), 26, "invalid TOML"),
    (parse_gobgp_neighbors, '[{"state": {"session_state": 42}, "conf": {"neighbor_address": "1.2.3.4"}}]', None,
     "session state"),
    (parse_gobgp_neighbors, '[{"state":\n{"session_state": 6}', 2, "invalid JSON"),
    (parse_frr_bgp_neighbors, '{"10.0.0.109": {"bgpState": "Established", "bgpTimerHoldTimeMsecs": "x"}}', None,
     "bgpTimerHoldTimeMsecs"),
    (parse_frr_bgpd_conf, BGPD_CONF.replace("maximum-paths ibgp 16", "maximum-paths ibgp many"), 16, "path count"),
    (parse_frr_bgpd_conf, "hostname x\n", None, "router bgp"),
])
def test_garbled_input_names_source_and_line(fn, text, line, words):
    with pytest.raises(ParseError) as e:
        fn(text, "rr")
    assert e.value.source == "rr" and e.value.line == line
    assert words in str(e.value)


JSON_PARSERS = [parse_gobgp_neighbors, parse_gobgp_rib, parse_frr_bgp_routes, parse_frr_bgp_summary,
                parse_frr_bgp_neighbors, parse_frr_ip_route]


@FUZZ
@given(st.sampled_from(JSON_PARSERS),
       mutations(GOBGP_NEIGHBORS, GOBGP_OLD, GOBGP_RIB, FRR_ROUTES, FRR_DETAIL, FRR_SUMMARY, FRR_NEIGHBORS,
                 FRR_IP_ROUTE, alphabet='[]{}":,0123456789.truefalsn-_'))
def test_fuzz_json(fn, text):
    only_parse_error(fn, text)


@FUZZ
@given(st.sampled_from(JSON_PARSERS), st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12) | st.sampled_from(["10.0.0.1", "10.1.1.0/24"]),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.sampled_from(
        ["state", "conf", "session_state", "neighbor_address", "attrs", "type", "nexthop", "value", "routes",
         "paths", "prefix", "peers", "bgpState", "nexthops", "ip", "10.1.1.0/24", "10.0.0.109", "local_cap",
         "type_url", "addPath", "ipv4Unicast", "neighborCapabilities", "bestpath", "clusterList", "list"]), c,
        max_size=5), max_leaves=25))
def test_fuzz_json_shapes(fn, doc):
    only_parse_error(fn, json.dumps(doc))


@FUZZ
@given(mutations(EXA_SEED, EXA4, alphabet=' \n{};#"neighbor route next-hop0123456789./'))
def test_fuzz_exabgp(text):
    only_parse_error(parse_exabgp_config, text)


@FUZZ
@given(st.sampled_from([None, "toml", "yaml"]),
       mutations(RR_SEED, RR_TOML, ROUTER_SEED, alphabet=' \n[]-:="#.0123456789abcdefghiklmnoprstuvy'))
def test_fuzz_gobgpd_config(fmt, text):
    only_parse_error(parse_gobgpd_config, text, fmt)


@FUZZ
@given(mutations(BGPD_CONF, alphabet=" \n!neighbor remote-as router bgp maximum-paths ibgp 0123456789."))
def test_fuzz_frr_bgpd_conf(text):
    only_parse_error(parse_frr_bgpd_conf, text)
