"""ECMP: the router's FIB spreads each service prefix over the nodes running its LB pods (Table 7.2, Fig 7.2)."""
import pytest

from lbconformance.dynamic.probes import failures_between
from lbconformance.dynamic.stats import summary
from lbconformance.dynamic.trial import restoring
from lbconformance.report.measure import progress, record_samples
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


def _watch_where(inventory):
    router = inventory.routers[0].name if inventory.routers else "router"
    return f"{router}: kernel FIB (router watcher: netlink route + nexthop events, nhid groups expanded)"


def _restoring(orch, label):
    return restoring(orch.capture, orch.restore, orch.verify, label=label)


@pytest.mark.requirement("ECMP-004")
@pytest.mark.live_only
@pytest.mark.disruptive
def test_scale_events_reach_the_fib_within_sla(request, service, inventory, orchestrator, sla_seconds, trials):
    """K trials of scale-up and scale-down of one service's LB pods (one pod per node). Scale-up delay =
    the first FIB event with the expected next-hop set - the new pod running; scale-down delay = that
    event - the delete request. Both timestamps are the target's clock (the watcher runs there)."""
    orch, prefix, name = orchestrator, service.prefix, service.name
    give_up = max(6 * sla_seconds, 60.0)  # a miss, not a sample, after this long
    delays, misses = [], []
    with _restoring(orch, f"ECMP-004 {name}"), orch.watch_router([prefix]) as w:
        base = orch.lb_count(name)
        nodes = set(orch.lb_nodes(name))
        grow = base < orch.max_lb(name)
        if not grow and base == 0:
            pytest.skip(f"{name}: no node can take an LB pod")
        for k in range(1, trials + 1):
            line = []
            moved = None  # the node the first step adds (or removes); the second step undoes exactly that
            for step in (("up", "down") if grow else ("down", "up")):
                if moved is None:
                    events = orch.scale_lb(name, base + 1 if grow else base - 1)
                    moved = events[0].node
                else:
                    events = orch.remove_lb(name, moved) if step == "down" else orch.add_lb(name, moved)
                for ev in events:
                    nodes = nodes | {ev.node} if ev.action == "start" else nodes - {ev.node}
                count = len(nodes)
                ev = events[0]
                seen = w.watch.wait_for(prefix, nodes, since=ev.requested, timeout=give_up)
                kind = "scale-up" if ev.action == "start" else "scale-down"
                if seen is None:
                    misses.append(f"trial {k} {kind} to {count}: {sorted(nodes)} not in the FIB after {give_up:g} s "
                                  f"(last: {sorted(w.watch.current(prefix) or [])})")
                    line.append(f"{kind} MISSED")
                    break
                start = ev.running if ev.action == "start" else ev.requested
                delay, from_request = seen.t - start, seen.t - ev.requested
                delays.append(delay)
                record_samples(request, "ecmp-update-delay", [delay], "s", sla=sla_seconds,
                               label="ECMP update delay: FIB has the expected next hops (up: from pod running; "
                                     "down: from delete request)")
                record_samples(request, "ecmp-delay-from-request", [from_request], "s", sla=sla_seconds,
                               label="ECMP update delay from the scale request")
                line.append(f"{kind} to {count}: {delay:.2f} s ({from_request:.2f} s from request)")
            progress(request, f"ECMP-004 {name} trial {k}/{trials}: " + "; ".join(line))
            if misses:
                break
    worst = max(delays) if delays else None
    require(not misses and worst is not None and worst <= sla_seconds,
            expected=f"every scale event of {name} in the router's FIB within {sla_seconds:g} s "
                     f"(expected next hops = the nodes of its LB pods)",
            observed=(f"{summary(delays)}" + (f"; over the SLA: {[round(d, 2) for d in delays if d > sla_seconds]}"
                                              if delays else "") + (f"; {'; '.join(misses)}" if misses else "")),
            where=_watch_where(inventory))


@pytest.mark.requirement("ECMP-005")
@pytest.mark.live_only
@pytest.mark.disruptive
def test_removed_or_crashed_lb_is_withdrawn(request, service, inventory, facts, orchestrator, sla_seconds):
    """A graceful removal (delete the pod) must be withdrawn within the SLA; a crash (the pod's BGP
    speaker frozen: its TCP session stays open) within the negotiated hold time. A client requests
    the VIP throughout; new connections after convergence must succeed."""
    orch, prefix, name = orchestrator, service.prefix, service.name
    where = _watch_where(inventory)
    problems = []
    with _restoring(orch, f"ECMP-005 {name}"), orch.watch_router([prefix]) as w:
        pods = orch.lb_pods(name)
        if not pods:
            pytest.skip(f"{name} has no LB pod to remove")
        nodes = set(pods.values())
        load = orch.client_load(service.vip)
        try:
            # graceful: delete one LB pod (the last), then put it back on the same node
            ev = orch.remove_lb(name, sorted(nodes)[-1])[0]
            gone = w.watch.wait_for(prefix, nodes - {ev.node}, since=ev.requested, timeout=max(6 * sla_seconds, 60))
            graceful = gone.t - ev.requested if gone else None
            back_ev = orch.add_lb(name, ev.node)[0]
            back = w.watch.wait_for(prefix, nodes, since=back_ev.requested, timeout=120)
            # crash: freeze the BGP speaker of the same pod; only the hold timer can notice
            pod = ev.pod
            address = next((p.address for p in inventory.lb_pods if p.name == pod), None)
            hold = orch.hold_time(address) if address else None
            if hold is None:
                hold = next((p.hold_time for r in inventory.reflectors for p in facts.bgp_peers(r.name, r.software)
                             if p.neighbor_address == address), None)
            crash_t = orch.crash_lb(name, ev.node)
            crashed = w.watch.wait_for(prefix, nodes - {ev.node}, since=crash_t, timeout=(hold or 180) + 60)
            crash = crashed.t - crash_t if crashed else None
        finally:
            requests = load.stop()
    # the failover windows and the failed requests in them
    windows = []
    if graceful is not None:
        fails = failures_between(requests, ev.requested, gone.t)
        windows.append(f"graceful: withdrawn {graceful:.2f} s after the delete, {fails} failed request(s) meanwhile")
        record_samples(request, "failover-graceful-withdrawal", [graceful], "s", sla=sla_seconds,
                       label="graceful LB removal: withdrawn from the FIB after the delete request")
    if crash is not None:
        fails = failures_between(requests, crash_t, crashed.t)
        windows.append(f"crash: withdrawn {crash:.2f} s after the freeze (negotiated hold time {hold} s), "
                       f"{fails} failed request(s) meanwhile")
        record_samples(request, "failover-crash-withdrawal", [crash], "s", sla=float(hold) if hold else None,
                       label="crashed LB (BGP speaker frozen): withdrawn from the FIB (line: hold time)")
    progress(request, f"ECMP-005 {name}: " + "; ".join(windows) + f"; {len(requests)} client requests")
    # new connections after each convergence, until the next disruption, must succeed
    settled = []
    if gone:
        settled.append((gone.t, back_ev.requested))
    if back:
        settled.append((back.t, crash_t))
    if crashed:
        settled.append((crashed.t, float("inf")))
    late = [r for r in requests if not r.ok and any(a < r.t < b for a, b in settled)]
    marks = [(t, what) for t, what in ((ev.requested, "the delete"), (gone.t if gone else None, "its withdrawal"),
                                       (back_ev.requested, "the re-add"), (back.t if back else None, "its return to the FIB"),
                                       (crash_t, "the freeze"), (crashed.t if crashed else None, "the crash withdrawal"))
             if t is not None]

    def when(t: float) -> str:  # a failure's place in the timeline, for the message
        mark_t, what = max(((m, w) for m, w in marks if m <= t), default=marks[0])
        return f"{t - mark_t:+.2f} s after {what}"
    if graceful is None:
        problems.append(f"graceful removal of {ev.pod}: {sorted(nodes - {ev.node})} never in the FIB")
    elif graceful > sla_seconds:
        problems.append(f"graceful removal withdrawn after {graceful:.2f} s > SLA {sla_seconds:g} s")
    if back is None:
        problems.append(f"{ev.pod} re-added: {sorted(nodes)} never back in the FIB")
    if hold is None:
        problems.append("the negotiated hold time of the pod's session is unknown (rr: gobgp neighbor -j)")
    if crash is None:
        problems.append(f"crash of {ev.pod}'s BGP speaker: {sorted(nodes - {ev.node})} never in the FIB")
    elif hold is not None and crash > hold + HOLD_TIMER_SLACK:
        problems.append(f"crash withdrawn after {crash:.2f} s > hold time {hold} s (+{HOLD_TIMER_SLACK:g} s)")
    if late:
        problems.append(f"{len(late)} new connection(s) failed after convergence: "
                        + ", ".join(f"{r.answer} {when(r.t)}" for r in late[:5]))
    require(not problems,
            expected=f"{name}: a removed LB pod withdrawn within {sla_seconds:g} s, a crashed one within the hold "
                     "time; new connections succeed after convergence",
            observed="; ".join(problems + windows), where=where)


# The reflector notices a frozen speaker when the hold timer fires, then the withdrawal still has to
# reach the router's FIB (about 0.2 s in the lab VM): the crash bound is the hold time plus this.
HOLD_TIMER_SLACK = 1.0
