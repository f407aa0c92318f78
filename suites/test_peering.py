"""PEER: pods peer with an overlay-aware reflector without SNAT; the router sees every path (seed §4.4)."""
import ipaddress

import pytest

from lbconformance.verdict import require

ESTABLISHED = "Established"


def _router_addresses(inventory):
    return {r.address for r in inventory.routers}


@pytest.mark.requirement("PEER-001")
def test_reflector_has_one_established_session_per_pod_from_pod_ip(lb_pod, inventory, facts):
    problems = []
    for rr in inventory.reflectors:
        peers = [p for p in facts.bgp_peers(rr.name, rr.software) if p.neighbor_address == lb_pod.address]
        states = [p.state for p in peers]
        if states.count(ESTABLISHED) != 1:
            problems.append(f"{rr.name}: sessions from {lb_pod.address}: {states or 'none'}")
    node_ip = inventory.node(lb_pod.node).address
    require(not problems, expected=f"one Established session from the pod IP {lb_pod.address} at every reflector "
                                   f"(not from the node IP {node_ip})",
            observed="; ".join(problems),
            where=", ".join(facts.where(rr.name, facts.peers_name(rr.software)) for rr in inventory.reflectors))


@pytest.mark.requirement("PEER-002")
def test_no_two_pods_share_a_session(reflector, inventory, facts):
    pods = {p.address: p.name for p in inventory.lb_pods}
    routers = _router_addresses(inventory)
    nodes = {n.address: n.name for n in inventory.nodes}
    problems = []
    for peer in facts.bgp_peers(reflector.name, reflector.software):
        if peer.state != ESTABLISHED or peer.neighbor_address in routers:
            continue
        if peer.neighbor_address not in pods:
            on = nodes.get(peer.neighbor_address)
            sharing = [p.name for p in inventory.lb_pods if p.node == on] if on else []
            problems.append(f"session from {peer.neighbor_address}" + (
                f" = node {on}, shared by its pods {sharing} (SNAT)" if on else " matches no LB pod"))
    require(not problems, expected="every pod-side session belongs to exactly one LB pod's IP",
            observed="; ".join(problems), where=facts.where(reflector.name, facts.peers_name(reflector.software)))


@pytest.mark.requirement("PEER-003")
def test_dynamic_neighbors_cover_the_pod_cidr(reflector, inventory, facts):
    config = facts.gobgpd_config(reflector.name)
    prefixes = [ipaddress.ip_network(p, strict=False) for p, _ in config.dynamic_neighbors]
    want = [ipaddress.ip_network(inventory.pod_cidr)] + [ipaddress.ip_network(p.address) for p in inventory.lb_pods if p.address]
    uncovered = [str(n) for n in want if not any(n.subnet_of(p) for p in prefixes if p.version == n.version)]
    path = facts.config_path(reflector.name, "gobgpd-config-path.txt")
    require(not uncovered, expected=f"dynamic-neighbors prefixes covering {inventory.pod_cidr} and every LB pod IP",
            observed=f"prefixes {[str(p) for p in prefixes] or 'none'} leave {uncovered} uncovered",
            where=f"{reflector.name}: {path}")


@pytest.mark.requirement("PEER-004")
def test_router_peers_only_with_reflectors(router, inventory, facts):
    reflectors = {r.address for r in inventory.reflectors}
    others = sorted(p.neighbor_address for p in facts.bgp_peers(router.name, router.flavour)
                    if p.neighbor_address not in reflectors)
    require(not others, expected=f"BGP neighbors ⊆ the reflectors {sorted(reflectors)}",
            observed=f"also peers with {others}", where=facts.where(router.name, facts.peers_name(router.flavour)))


@pytest.mark.requirement("PEER-005")
def test_router_receives_one_path_per_lb_pod(router, service, inventory, facts):
    reflectors = {r.address for r in inventory.reflectors}
    sessions = [p for p in facts.bgp_peers(router.name, router.flavour) if p.neighbor_address in reflectors]
    where = facts.where(router.name, facts.peers_name(router.flavour))
    no_addpath = [p.neighbor_address for p in sessions if not p.add_path_receive]
    require(bool(sessions) and not no_addpath, expected="add-path receive negotiated on every reflector session",
            observed=f"not negotiated with {no_addpath}" if sessions else "no session with a reflector", where=where)
    paths = [p for p in facts.bgp_paths(router.name, router.flavour) if p.prefix == service.prefix]
    pods = inventory.pods_of(service.name)
    require(len(paths) == len(pods), expected=f"{len(pods)} paths for {service.prefix} (one per LB pod)",
            observed=f"{len(paths)} paths (next hops {sorted(str(p.next_hop) for p in paths)})",
            where=facts.where(router.name, facts.paths_name(router.flavour)))


@pytest.mark.requirement("PEER-006")
def test_negotiated_hold_time_is_reported(reflector, inventory, facts):
    pods = {p.address for p in inventory.lb_pods}
    unknown = [p.neighbor_address for p in facts.bgp_peers(reflector.name, reflector.software)
               if p.neighbor_address in pods and p.state == ESTABLISHED and not p.hold_time]
    require(not unknown, expected="a negotiated hold time for every pod session",
            observed=f"unknown for {unknown}", where=facts.where(reflector.name, facts.peers_name(reflector.software)))


@pytest.mark.requirement("PEER-007")
def test_exabgp_router_id_is_the_pod_address(lb_pod, facts):
    mismatched = [(n.router_id, n.local_address) for n in facts.exabgp(lb_pod.name)
                  if n.router_id and n.local_address and n.router_id != n.local_address]
    require(not mismatched, expected="router-id == local-address (the pod IP)",
            observed=f"(router-id, local-address) = {mismatched}",
            where=f"{lb_pod.name}: {facts.config_path(lb_pod.name, 'exabgp-config-path.txt')}")
