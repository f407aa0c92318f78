"""ROUTE: the node, the pod and the announcement route the service prefix (seed Fig 5.5)."""
import pytest

from lbconformance.verdict import require


def _route_text(r):
    via = f" via {r.gateway}" if r.gateway else ""
    return f"{r.type} {r.dst}{via} dev {r.dev}" + (f" table {r.table}" if r.table != "main" else "")


@pytest.mark.requirement("ROUTE-001")
def test_node_routes_prefix_to_pod_bridge(lb_pod, inventory, facts):
    node = inventory.node(lb_pod.node)
    prefix = inventory.service(lb_pod.service).prefix
    routes = [r for r in facts.routes(node.name) if r.dst == prefix and r.table == "main"]
    name = facts.route_name(node.name)
    ok = [r for r in routes if r.type == "unicast" and r.dev == node.bridge and r.gateway is None and not r.nexthops]
    require(bool(ok), expected=f"{prefix} dev {node.bridge} on {node.name}",
            observed=", ".join(_route_text(r) for r in routes) or f"no route for {prefix}",
            where=facts.where(node.name, name))


@pytest.mark.requirement("ROUTE-002")
def test_pod_accepts_prefix_as_local(lb_pod, inventory, facts):
    prefix = inventory.service(lb_pod.service).prefix
    routes = [r for r in facts.local_routes(lb_pod.name) if r.dst == prefix]
    ok = [r for r in routes if r.type == "local" and r.dev == lb_pod.interface]
    require(bool(ok), expected=f"local {prefix} dev {lb_pod.interface} table local",
            observed=", ".join(_route_text(r) for r in routes) or f"no local route for {prefix}",
            where=facts.where(lb_pod.name, "ip-route-local.json"))


@pytest.mark.requirement("ROUTE-003")
def test_announcement_next_hop_is_the_node_ip(lb_pod, inventory, facts):
    prefix = inventory.service(lb_pod.service).prefix
    node_ip = inventory.node(lb_pod.node).address
    neighbors = facts.exabgp(lb_pod.name)
    announced = [(p, nh) for n in neighbors for p, nh in n.routes if p == prefix]
    path = facts.config_path(lb_pod.name, "exabgp-config-path.txt")
    require(bool(announced) and all(nh == node_ip for _, nh in announced),
            expected=f"route {prefix} next-hop {node_ip} ({lb_pod.node})",
            observed=", ".join(f"route {p} next-hop {nh}" for p, nh in announced) or f"{prefix} not announced",
            where=f"{lb_pod.name}: {path}")


@pytest.mark.requirement("ROUTE-004")
def test_at_most_one_lb_pod_per_service_per_node(node, inventory, facts):
    reflector = inventory.reflectors[0] if inventory.reflectors else None
    problems = []
    for svc in inventory.services:
        pods = [p.name for p in inventory.pods_of(svc.name) if p.node == node.name]
        if len(pods) > 1:
            problems.append(f"{svc.name}: {len(pods)} LB pods {pods}")
        if reflector is not None:
            paths = [p for p in facts.bgp_paths(reflector.name, "gobgp")
                     if p.prefix == svc.prefix and p.next_hop == node.address]
            if len(paths) > 1:
                problems.append(f"{svc.prefix}: {len(paths)} paths with next hop {node.address} at {reflector.name}")
    where = f"{node.name}: inventory" + (f", {facts.where(reflector.name, 'gobgp-global-rib.json')}" if reflector else "")
    require(not problems, expected="at most one LB pod per service on this node", observed="; ".join(problems),
            where=where)
