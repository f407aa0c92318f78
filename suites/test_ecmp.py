"""ECMP: the router's FIB spreads each service prefix over the nodes running its LB pods (Table 7.2, Fig 7.2)."""
import pytest

from lbconformance.verdict import require


def _fib_route(facts, router, prefix):
    routes = [r for r in facts.routes(router.name) if r.dst == prefix and r.table == "main" and r.type == "unicast"]
    return routes[0] if routes else None


def _hops(route):
    return sorted(f"{h.gateway} weight {h.weight}" for h in route.paths)


@pytest.mark.requirement("ECMP-001")
def test_multipath_route_next_hops_are_the_lb_nodes(router, service, inventory, facts):
    want = sorted({inventory.node(p.node).address for p in inventory.pods_of(service.name)})
    route = _fib_route(facts, router, service.prefix)
    where = facts.where(router.name, facts.route_name(router.name))
    require(route is not None, expected=f"{service.prefix} via {want}", observed="no route", where=where)
    got = sorted({h.gateway for h in route.paths})
    weights = sorted({h.weight for h in route.paths})
    require(got == want and weights == [1] and len(route.paths) == len(want),
            expected=f"{service.prefix} next hops {want}, each weight 1", observed=f"next hops {_hops(route)}",
            where=where)


@pytest.mark.requirement("ECMP-002")
def test_multipath_hash_uses_layer4(router, facts):
    value = facts.sysctl(router.name).get("net.ipv4.fib_multipath_hash_policy")
    require(value == "1", expected="net.ipv4.fib_multipath_hash_policy = 1",
            observed=f"net.ipv4.fib_multipath_hash_policy = {value}", where=facts.where(router.name, "sysctl.txt"))


@pytest.mark.requirement("ECMP-003")
def test_every_service_has_a_route_at_the_same_time(router, inventory, facts):
    missing = [s.prefix for s in inventory.services if _fib_route(facts, router, s.prefix) is None]
    require(not missing, expected=f"routes for all {len(inventory.services)} service prefixes",
            observed=f"missing {missing}", where=facts.where(router.name, facts.route_name(router.name)))


@pytest.mark.requirement("ECMP-004")
@pytest.mark.live_only
@pytest.mark.disruptive
def test_scale_events_reach_the_fib_within_sla(service, sla_seconds):
    pytest.skip("the ECMP SLA measurement is not implemented in this version (dynamic checks)")


@pytest.mark.requirement("ECMP-005")
@pytest.mark.live_only
@pytest.mark.disruptive
def test_removed_or_crashed_lb_is_withdrawn(service, sla_seconds):
    pytest.skip("the failover measurement is not implemented in this version (dynamic checks)")
