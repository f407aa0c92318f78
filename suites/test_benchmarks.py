"""Data-plane benchmarks: the seed's performance findings as acceptance measurements (seed §6.1, §7.1).

Opt-in: `pytest --lab -m benchmark --allow-disruptive`. Live targets only. Every figure is recorded as a
sample for the sign-off page. Timings are samples, not verdicts. What a check requires is that traffic
flows: every backend answers, errors stay under 1 %, and the shaped link saturates where the bandwidth
model says it should.

- distribution: N fresh connections to the VIP, each backend's share within the `lc` tolerance
  (dynamic/distribution.py says why).
- throughput and latency against the number of web pods (Fig 6.2, 6.4; the CDF is at fixed concurrency,
  since wrk is closed-loop, unlike the seed's constant-rate Fig 6.5).
- the bandwidth model (§6.1.5): one LB pod, its veth shaped with htb in both directions, bytes per
  request from a capture of its eth0, saturation within BANDWIDTH_TOLERANCE of rate/8/bytes.
- comparison IPVS / iptables DNAT / nginx proxy in one LB pod (Fig 6.4). Under TCG these ratios are
  functional evidence, not hardware claims.
- ECMP scaling 1..k LB pods, each link shaped so the links are the bottleneck, with 64 client flows
  (Fig 7.3), and throughput over time while the LB count changes (Fig 7.4).

Every change (qdiscs, the DNAT chain, the nginx proxy, the scaling) is removed in a finalizer, which
then checks the target's health.

Environment knobs: LBC_BENCH_SECONDS (wrk duration per point, default 5), LBC_BENCH_CONNECTIONS
(default 32), LBC_BENCH_MAX_WEB (web pods at the top of the curves, default 4), LBC_BENCH_SHAPED_POINTS
(shaped rates r, r/2, ...; default 2).
"""
import os
import re
import time

import pytest

from lbconformance.dynamic import bandwidth as bw
from lbconformance.dynamic.bench import BURST, Bench
from lbconformance.dynamic.distribution import deviations, tolerance
from lbconformance.dynamic.probes import every_pod_has, wait_ipvs
from lbconformance.dynamic.trial import restoring
from lbconformance.report.measure import progress, record_samples
from lbconformance.verdict import require

pytestmark = [pytest.mark.benchmark, pytest.mark.live_only]

TCG = "functional evidence under TCG, not hardware claims"
SECONDS = float(os.environ.get("LBC_BENCH_SECONDS", "5"))
CONNECTIONS = int(os.environ.get("LBC_BENCH_CONNECTIONS", "32"))
MAX_WEB = int(os.environ.get("LBC_BENCH_MAX_WEB", "4"))
SHAPED_POINTS = int(os.environ.get("LBC_BENCH_SHAPED_POINTS", "2"))   # rates: r, r/2, ...
ECMP_CONNECTIONS = 64
# A shaped link stays busy only while requests queue on it. Under TCG one connection carries ~15-20
# req/s (each request crosses client, router, node, LB and web pod on 2 vCPUs), so the link needs
# several times model/15 connections; 64 keep it queued at the rates picked below, yet the queue stays
# far under TCP's RTO (64 x ~370 B at >= 16 kbit/s... drain in < 1 s at the usual 0.3-1 Mbit/s).
SHAPED_CONNECTIONS = 64
MAX_ERROR_RATE = 0.01
# measured/model must sit in [1 - LOW, 1 + HIGH + burst share]. Above: htb lets one burst (bench.BURST
# bytes) through above the rate in a run, i.e. BURST / (rate/8 x seconds) of the window, plus rate-table
# rounding and wrk counting requests whose bytes straddle the window's ends (3 %). Below: wrk is
# closed-loop, so the link idles whenever every connection waits on the TCG-scheduled client or LB (most
# of all when connections reopen every 100 requests, keepalive_requests), plus the run's first RTTs.
BANDWIDTH_TOLERANCE = (0.15, 0.03)
EST_BYTES = 600.0   # bytes/request used only to pick a rate; the model uses the captured figure


@pytest.fixture(scope="module")
def bench_service(inventory):
    return inventory.services[0]


@pytest.fixture
def bench(orchestrator, inventory, bench_service):
    """A Bench whose every change is removed at teardown; teardown fails if anything of ours is left."""
    b = Bench(orchestrator)
    yield b
    b.cleanup()
    pods = _pods(orchestrator, inventory, bench_service)
    left = b.leftovers(pods)
    require(not left, expected="no benchmark change left on the target", observed="; ".join(left),
            where="LB pods' veths (tc), their nat table, the client's processes")


def _pods(orch, inventory, svc) -> dict:
    """{LB pod: its node's host name}."""
    names = {n.address: n.name for n in inventory.nodes}
    return {pod: names.get(addr, addr) for pod, addr in orch.lb_pods(svc.name).items()}


def _url(svc) -> str:
    return f"http://{svc.vip}:{svc.port}/"


def _restoring(orch, label):
    return restoring(orch.capture, orch.restore, orch.verify, label=label)


def _router(inventory) -> str:
    return inventory.routers[0].name if inventory.routers else "router"


def wait_next_hops(orch, router: str, prefix: str, want: set, timeout: float = 90) -> set:
    """Poll the router's FIB until the prefix's next hops are exactly `want` (node addresses)."""
    end = time.monotonic() + timeout
    while True:
        _, out, _ = orch.run(router, f"ip route show {prefix}", timeout=30)
        got = set(re.findall(r"via (\d+\.\d+\.\d+\.\d+)", out))
        if got == want or time.monotonic() > end:
            return got
        time.sleep(1)


def scale_lb_and_wait(orch, inventory, svc, count: int) -> dict:
    orch.scale_lb(svc.name, count)
    want = set(orch.lb_nodes(svc.name))
    got = wait_next_hops(orch, _router(inventory), svc.prefix, want)
    require(got == want, expected=f"{svc.prefix} via {sorted(want)} after scaling to {count} LB pods",
            observed=f"via {sorted(got)}", where=f"{_router(inventory)}: ip route show {svc.prefix}")
    return _pods(orch, inventory, svc)


def scale_web_and_wait(orch, svc, count: int, pods) -> list[str]:
    orch.scale_web(svc.name, count)
    want = set(orch.web_servers(svc.name))
    read, ok = wait_ipvs(orch, list(pods), lambda r: every_pod_has(r, list(pods), want), timeout=90, interval=1)
    require(ok, expected=f"every LB pod's IPVS table has the {count} web pods {sorted(want)}",
            observed=f"{read.tables}", where="LB pods: ipvsadm -Ln")
    return sorted(want)


def require_traffic(res, what: str, where: str) -> None:
    rate = res.error_count / max(1, res.requests)
    require(res.requests > 0 and rate <= MAX_ERROR_RATE,
            expected=f"{what}: responses, errors <= {MAX_ERROR_RATE:.0%}",
            observed=f"{res.requests} requests, {res.error_count} errors ({res.errors}, non-2xx {res.non2xx})",
            where=where)


# -- distribution ---------------------------------------------------------------------------------------

@pytest.mark.requirement("DATA-001")
def test_distribution_over_web_pods(request, orchestrator, facts, inventory, bench_service):
    """20 x B sequential fresh connections (curl, Connection: close) from the client; every web pod answers
    with its pod IP; each one's count is within the scheduler's tolerance of n/B. Runs first: lc's choice
    depends on the connections of the last 2 minutes."""
    svc = bench_service
    backends = [s.rsplit(":", 1)[0] for s in orchestrator.web_servers(svc.name)]
    pods = list(orchestrator.lb_pods(svc.name))
    if not backends or not pods:
        pytest.skip(f"{svc.name}: no web pod or no LB pod")
    sched = _scheduler(facts, pods[0]) or "lc"
    n = 20 * len(backends)
    reqs = orchestrator.fetch(svc.vip, n, port=svc.port)
    counts: dict = {}
    for r in reqs:
        if r.ok:
            counts[r.answer] = counts.get(r.answer, 0) + 1
    tol = tolerance(n, len(backends), sched, len(pods))
    dev = deviations(counts, backends)
    record_samples(request, "backend-share", [(b, counts.get(b, 0) / n) for b in backends], "share of requests",
                   kind="bar", label=f"{svc.name}: share per web pod, {n} fresh connections ({sched}, "
                                     f"{len(pods)} LB pods; tolerance +-{tol.share(n):.3f})")
    progress(request, f"distribution {svc.name}: " + ", ".join(f"{b} {counts.get(b, 0)}" for b in backends)
             + f" of {n}; tolerance +-{tol.requests:g} ({sched}, {len(pods)} LB pods)")
    request.node.user_properties.append(("backend_counts", ", ".join(f"{b}={counts.get(b, 0)}" for b in backends)))
    request.node.user_properties.append(("share_tolerance", tol.why))
    failed = [r.answer for r in reqs if not r.ok]
    unknown = sorted(set(counts) - set(backends))
    require(not failed and not unknown and all(abs(d) <= tol.requests for d in dev.values()),
            expected=f"{n} answers, each of {backends} within +-{tol.requests:g} of {n / len(backends):.1f} "
                     f"({tol.why})",
            observed=f"counts {counts}; failed {len(failed)}; unknown answers {unknown}",
            where=f"client: curl http://{svc.vip}:{svc.port}/ x {n}")


def _scheduler(facts, pod):
    try:
        table = facts.ipvs_table(pod)
    except Exception:  # noqa: BLE001 - an unreadable table leaves the default (lc, the seed's)
        return None
    scheds = {vs.scheduler for vs in table.services if vs.scheduler}
    return scheds.pop() if len(scheds) == 1 else None


# -- throughput against web pods ------------------------------------------------------------------------

@pytest.mark.requirement("DATA-001")
@pytest.mark.disruptive
def test_throughput_against_web_pods(request, orchestrator, inventory, bench_service, bench):
    """wrk -c CONNECTIONS for SECONDS at 1..MAX_WEB web pods (Fig 6.2): req/s, p50/p90/p99, and the latency
    CDF at the largest count. The LB pods stay as they are (ECMP over all of them)."""
    svc = bench_service
    with _restoring(orchestrator, f"benchmark web pods {svc.name}"):
        pods = _pods(orchestrator, inventory, svc)
        for n in range(1, MAX_WEB + 1):
            scale_web_and_wait(orchestrator, svc, n, pods)
            res = bench.wrk(_url(svc), CONNECTIONS, SECONDS)
            progress(request, f"throughput {svc.name} {n} web pods: {res.describe()}")
            record_samples(request, "throughput-vs-web-pods", [(n, res.rps, f"ipvs, {len(pods)} LB pods")],
                           "web pods|req/s", kind="curve",
                           label=f"Throughput against web pods, wrk -c{CONNECTIONS} (Fig 6.2); {TCG}")
            record_samples(request, "latency-vs-web-pods",
                           [(n, res.latency[p] * 1000, f"p{p}") for p in (50, 90, 99) if p in res.latency],
                           "web pods|latency (ms)", kind="curve",
                           label=f"Latency percentiles at {CONNECTIONS} connections (closed loop); {TCG}")
            require_traffic(res, f"{n} web pods", f"client: wrk {_url(svc)}")
        record_samples(request, "latency-cdf", [(x, y, f"ipvs, {MAX_WEB} web pods") for x, y in res.cdf()],
                       "latency (ms)|fraction <= x", kind="curve",
                       label=f"Latency CDF at fixed concurrency ({CONNECTIONS} connections; wrk is closed-loop, "
                             f"the seed's Fig 6.5 is at constant rate); {TCG}")


# -- the bandwidth model --------------------------------------------------------------------------------

def shaped_point(request, bench, svc, pod, node_host, rate_bps, seconds):
    """One shaped-link measurement: (wrk result, per-request bytes from the capture, model req/s)."""
    bench.shape(pod, node_host, rate_bps)
    mac = bench.mac(pod)
    bench.capture_start(pod)
    res = bench.wrk(_url(svc), SHAPED_CONNECTIONS, seconds)
    pr = bench.capture_stop(pod, mac)
    model = bw.ceiling(rate_bps, pr.tc_bytes)
    progress(request, f"shaped {rate_bps / 1e6:g} Mbit/s: {res.describe()}; model {model:.0f} req/s "
                      f"(ratio {res.rps / model:.3f}); {pr.describe()}")
    return res, pr, model


@pytest.mark.requirement("DATA-001")
@pytest.mark.disruptive
def test_shaped_link_saturates_at_the_bandwidth_model(request, orchestrator, inventory, profile, bench_service,
                                                      bench):
    """One LB pod; its veth shaped with htb in both directions at a rate well below what the CPU carries
    unshaped; bytes per request from a capture of its eth0 (what tc counts: the skb, no preamble/FCS/gap).
    Saturation must be within BANDWIDTH_TOLERANCE of rate/8 / bytes per request, at two rates."""
    svc = bench_service
    low, high = BANDWIDTH_TOLERANCE
    with _restoring(orchestrator, f"benchmark shaped link {svc.name}"):
        pods = scale_lb_and_wait(orchestrator, inventory, svc, 1)
        pod, node_host = next(iter(pods.items()))
        free = bench.wrk(_url(svc), CONNECTIONS, min(SECONDS, 3))
        require_traffic(free, "unshaped", f"client: wrk {_url(svc)}")
        # the link must be the bottleneck: its ceiling at most a quarter of what the CPU carries unshaped
        # (a loaded TCG host may carry only tens of req/s: then tens of kbit/s)
        rate = max(16e3, min(4e6, round(free.rps / 4 * EST_BYTES * 8 / 8e3) * 8e3))
        progress(request, f"unshaped {svc.name} via {pod}: {free.describe()}; shaping at {rate / 1e6:g} Mbit/s")
        points = []
        for r in [rate / 2 ** i for i in range(max(1, SHAPED_POINTS))]:
            res, pr, model = shaped_point(request, bench, svc, pod, node_host, r, SECONDS)
            require_traffic(res, f"shaped at {r / 1e6:g} Mbit/s", f"client: wrk {_url(svc)}")
            points.append((r, res, pr, model))
            record_samples(request, "shaped-link", [(r / 1e6, res.rps, "measured"), (r / 1e6, model, "model")],
                           "htb rate (Mbit/s)|req/s", kind="curve",
                           label=f"Saturation of one shaped LB pod vs rate/8/(bytes per request) (§6.1.5); "
                                 f"tolerance -{low:.0%}/+{high:.0%} + htb burst")
            record_samples(request, "shaped-link-ratio", [res.rps / model], "measured/model")
        pr0 = points[0][2]
        request.node.user_properties.append(("bytes_per_request", pr0.describe()))
        request.node.user_properties.append(("unshaped_rps", f"{free.rps:.0f}"))
        seed_like = bw.ceiling(1e9, pr0.wire_bytes)
        request.node.user_properties.append(
            ("model_1gbps", f"{seed_like:.0f} req/s on 1 Gbps for {pr0.wire_bytes:.1f} wire bytes/request "
                            f"(the seed: {bw.seed_ceiling(12):.0f} for data=12)"))
        bad = [(r, res.rps, model) for r, res, pr, model in points
               if not bw.within(res.rps, model, low, high + BURST / (r / 8 * res.duration_s))]
        cpu = [r for r, res, pr, model in points if model > free.rps / 2]
        require(not bad and not cpu,
                expected=f"saturation within -{low:.0%}/+({high:.0%} + burst share) of rate/8/tc-bytes-per-request, with the "
                         f"link (not the CPU: unshaped {free.rps:.0f} req/s) the bottleneck",
                observed="; ".join(f"{r / 1e6:g} Mbit/s: {rps:.0f} req/s vs model {m:.0f} ({rps / m:.3f})"
                                   for r, rps, m in [(r, res.rps, m) for r, res, pr, m in points])
                         + (f"; CPU-bound rates {cpu}" if cpu else ""),
                where=f"{pod}: htb on eth0 and its peer in {node_host}; client: wrk; tcpdump on {pod} eth0")
        gbps = profile.get("link_gbps") if isinstance(profile, dict) else None
        if gbps:
            pct = free.rps / bw.ceiling(gbps * 1e9, pr0.wire_bytes)
            request.node.user_properties.append(("saturation_of_ceiling", f"{pct:.1%} of {gbps:g} Gbps"))
            floor = (profile.get("benchmark") or {}).get("min_saturation")
            if floor is not None:
                require(pct >= float(floor), expected=f"unshaped saturation >= {float(floor):.0%} of the "
                                                      f"{gbps:g} Gbps ceiling", observed=f"{pct:.1%}",
                        where=f"client: wrk {_url(svc)} through {pod}")


# -- comparison -----------------------------------------------------------------------------------------

@pytest.mark.requirement("DATA-001")
@pytest.mark.disruptive
def test_lb_comparison_ipvs_dnat_nginx(request, orchestrator, inventory, bench_service, bench):
    """IPVS (VIP:port), iptables DNAT (VIP:8081) and an nginx proxy (VIP:8082) in the same single LB pod,
    over 1..MAX_WEB web pods (Fig 6.4). Functional evidence under TCG, not hardware claims."""
    svc = bench_service
    with _restoring(orchestrator, f"benchmark comparison {svc.name}"):
        pods = scale_lb_and_wait(orchestrator, inventory, svc, 1)
        pod = next(iter(pods))
        last = {}
        for n in sorted({1, max(1, MAX_WEB // 2), MAX_WEB}):
            backends = scale_web_and_wait(orchestrator, svc, n, pods)
            urls = {"ipvs": _url(svc), "iptables DNAT": bench.add_dnat(pod, svc.vip, backends),
                    "nginx": bench.add_nginx(pod, svc.vip, backends)}
            for flavour, url in urls.items():
                res = bench.wrk(url, CONNECTIONS, SECONDS)
                progress(request, f"comparison {flavour} {n} web pods: {res.describe()}")
                record_samples(request, "lb-comparison", [(n, res.rps, flavour)], "web pods|req/s", kind="curve",
                               label=f"IPVS vs iptables DNAT vs nginx, one LB pod (Fig 6.4); {TCG}")
                require_traffic(res, f"{flavour} with {n} web pods", f"client: wrk {url} via {pod}")
                last[flavour] = res
            for kind, p, vip in reversed(list(bench.flavours)):
                bench.remove_flavour(kind, p, vip)
        record_samples(request, "lb-comparison-max", [(f, r.rps) for f, r in last.items()], "req/s", kind="bar",
                       label=f"req/s at {MAX_WEB} web pods, one LB pod; {TCG}")
        record_samples(request, "latency-cdf-by-lb", [(x, y, f) for f, r in last.items() for x, y in r.cdf()],
                       "latency (ms)|fraction <= x", kind="curve",
                       label=f"Latency CDF by LB at {MAX_WEB} web pods, {CONNECTIONS} connections; {TCG}")
        request.node.user_properties.append(("label", TCG))


# -- ECMP scaling ---------------------------------------------------------------------------------------

def _shape_all(bench, pods, rate):
    for pod, node_host in pods.items():
        if pod not in bench.shaped:
            bench.shape(pod, node_host, rate)
    for gone in [p for p in bench.shaped if p not in pods]:
        bench.shaped.pop(gone)   # its netns (and qdiscs) went with the pod


def _tc_bytes_per_request(bench, pods, before, requests):
    after = {p: bench.tc_sent(p) for p in pods}
    sent = sum(after[p][0] - before.get(p, (0, 0))[0] for p in pods)
    return sent / max(1, requests)


@pytest.mark.requirement("ECMP-002")
@pytest.mark.disruptive
def test_ecmp_scaling_with_shaped_lb_links(request, orchestrator, inventory, bench_service, bench):
    """1..k LB pods, each veth shaped at the same rate so each LB's link is its bottleneck (as the seed's
    1 Gbps per LB), 64 client flows hashed over the next hops by the router (fib_multipath_hash_policy=1):
    throughput grows with k (Fig 7.3). Recorded against k x the one-LB model (tc's own byte counts)."""
    svc = bench_service
    k_max = orchestrator.max_lb(svc.name)
    with _restoring(orchestrator, f"benchmark ECMP scaling {svc.name}"):
        free = bench.wrk(_url(svc), ECMP_CONNECTIONS, min(SECONDS, 3))
        rate = max(16e3, min(4e6, round(free.rps / (2 * k_max) * EST_BYTES * 8 / 8e3) * 8e3))
        progress(request, f"ECMP {svc.name}: unshaped {free.describe()}; each LB link at {rate / 1e6:g} Mbit/s")
        got = {}
        for k in range(1, k_max + 1):
            pods = scale_lb_and_wait(orchestrator, inventory, svc, k)
            _shape_all(bench, pods, rate)
            before = {p: bench.tc_sent(p) for p in pods}
            res = bench.wrk(_url(svc), ECMP_CONNECTIONS, SECONDS)
            per = _tc_bytes_per_request(bench, pods, before, res.requests)
            model = k * bw.ceiling(rate, per) if per else 0.0
            got[k] = res.rps
            progress(request, f"ECMP {k} LB pods: {res.describe()}; k x model {model:.0f} req/s ({per:.0f} B/req)")
            record_samples(request, "ecmp-scaling", [(k, res.rps, "measured"), (k, model, "k x one-LB model")],
                           "LB pods|req/s", kind="curve",
                           label=f"Throughput with 1..{k_max} LB pods, each link {rate / 1e6:g} Mbit/s, "
                                 f"{ECMP_CONNECTIONS} flows (Fig 7.3); {TCG}")
            require_traffic(res, f"{k} LB pods", f"client: wrk {_url(svc)}")
        request.node.user_properties.append(("ecmp_rps", ", ".join(f"{k}: {v:.0f}" for k, v in got.items())))
        require(got[k_max] > 1.5 * got[1],
                expected=f"throughput grows with the LB count (k={k_max} above 1.5 x k=1) when each LB's link "
                         "is its bottleneck: the router spreads the client's flows",
                observed=", ".join(f"k={k}: {v:.0f} req/s" for k, v in got.items()),
                where=f"client: wrk -c{ECMP_CONNECTIONS} {_url(svc)}; router: ECMP over the LB nodes")


@pytest.mark.requirement("ECMP-002")
@pytest.mark.disruptive
def test_throughput_follows_the_lb_count(request, orchestrator, inventory, bench_service, bench):
    """wrk for the whole run while the LB count changes every few seconds (Fig 7.4); per-second responses
    against the LB count x the one-LB model. A sample, with one check: the busiest second with the most LB
    pods beats the quietest one with a single pod."""
    svc = bench_service
    k_max = orchestrator.max_lb(svc.name)
    plan = [k_max, 1, max(1, k_max - 1), 2 if k_max >= 2 else 1, k_max]
    step = max(8.0, 2 * SECONDS)
    with _restoring(orchestrator, f"benchmark LB count over time {svc.name}"):
        free = bench.wrk(_url(svc), ECMP_CONNECTIONS, min(SECONDS, 3))
        rate = max(16e3, min(4e6, round(free.rps / (2 * k_max) * EST_BYTES * 8 / 8e3) * 8e3))
        pods = scale_lb_and_wait(orchestrator, inventory, svc, plan[0])
        _shape_all(bench, pods, rate)
        before = {p: bench.tc_sent(p) for p in pods}
        probe = bench.wrk(_url(svc), ECMP_CONNECTIONS, min(SECONDS, 3))
        per = _tc_bytes_per_request(bench, pods, before, probe.requests)
        one = bw.ceiling(rate, per)
        # wrk is stopped (SIGINT: it still reports) after the last step; its duration is only a cap. Each
        # scale event takes seconds under TCG: a first run with a cap of (step + 15) x steps ended wrk
        # 50 s before the last two LB counts took effect.
        duration = max(600.0, (step + 60) * len(plan))
        out = bench.wrk_background(_url(svc), ECMP_CONNECTIONS, duration)
        t0 = orchestrator.now()
        counts = [(t0, plan[0])]
        for k in plan[1:]:
            time.sleep(step)
            events = orchestrator.scale_lb(svc.name, k)
            pods = _pods(orchestrator, inventory, svc)
            _shape_all(bench, pods, rate)
            counts.append((min((e.requested for e in events), default=orchestrator.now()), k))
            progress(request, f"LB count {k} at +{counts[-1][0] - t0:.1f} s")
        time.sleep(step)
        bench.wrk_stop()
        res = bench.wrk_collect(out, timeout=duration + 60)
        series = res.series()
        record_samples(request, "throughput-over-time",
                       [(sec - t0, n, "req/s") for sec, n in series]
                       + [(t - t0, k * one, "LB pods x one-LB model") for t, k in counts]
                       + [(series[-1][0] - t0 if series else duration, counts[-1][1] * one, "LB pods x one-LB model")],
                       "seconds|req/s", kind="curve",
                       label=f"Throughput while the LB count changes {plan} every {step:g} s (Fig 7.4); {TCG}")
        progress(request, f"over time: {len(series)} seconds, {res.describe()}")

        def k_at(sec):
            k = counts[0][1]
            for t, c in counts:
                if t <= sec:
                    k = c
            return k

        most = [n for sec, n in series if k_at(sec) == k_max]
        single = [n for sec, n in series if k_at(sec) == 1]
        require(bool(most) and bool(single) and max(most) > max(single),
                expected=f"more responses per second with {k_max} LB pods than with 1",
                observed=f"{k_max} pods: max {max(most, default=0)}/s; 1 pod: max {max(single, default=0)}/s",
                where=f"client: wrk -c{ECMP_CONNECTIONS} {_url(svc)} (per-second counts)")
