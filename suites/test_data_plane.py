"""DATA: traffic really flows through the load balancer to every web pod (seed §6.1.1)."""
import pytest

from lbconformance.dynamic.probes import shares
from lbconformance.report.measure import progress
from lbconformance.verdict import require


@pytest.mark.requirement("DATA-001")
@pytest.mark.live_only
def test_every_web_pod_answers_through_the_vip(request, service, facts, orchestrator):
    """N fresh connections from the client to the VIP: every ready web pod answers (each returns its
    pod IP), none fails. Each backend's share is reported. Not disruptive."""
    ready = sorted(a for a, _ in facts.endpoints(service.name))
    if not ready:
        pytest.skip(f"{service.name} has no ready endpoint")
    n = max(12, 6 * len(ready))
    requests = orchestrator.fetch(service.vip, n, port=service.port)
    share = shares(requests)
    failed = [r.answer for r in requests if not r.ok]
    progress(request, f"DATA-001 {service.name}: {len(requests)} requests to {service.vip}; shares "
                      + ", ".join(f"{a} {s:.0%}" for a, s in share.items()) + (f"; {len(failed)} failed" if failed else ""))
    request.node.user_properties.append(("backend_shares", ", ".join(f"{a}={s:.3f}" for a, s in share.items())))
    missing = [a for a in ready if a not in share]
    unknown = [a for a in share if a not in ready]
    require(not missing and not failed and len(requests) == n,
            expected=f"all {len(ready)} ready web pods {ready} answer {n} requests to {service.vip}:{service.port}",
            observed=(f"answers {dict((a, round(s, 3)) for a, s in share.items())}; silent {missing}; "
                      f"failed {len(failed)} ({', '.join(sorted(set(failed))[:3])}); {len(requests)} requests ran"
                      + (f"; answers from non-endpoints {unknown}" if unknown else "")),
            where=f"client: curl http://{service.vip}:{service.port}/ (fresh connections)")
