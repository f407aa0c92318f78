"""How evenly an LB spreads fresh connections over its backends, and the tolerance for it.

The tolerance depends on the scheduler and on how the requests were sent:

- `lc` (least-connection, the seed's Fig 5.3) with *sequential* fresh connections: each connection has
  closed before the next one arrives, so no backend has an active connection and IPVS's lc overhead
  (activeconns x 256 + inactconns) compares the *inactive* counts: connections in TIME_WAIT and the
  other closing states, which IPVS keeps for minutes (TIME_WAIT 120 s for TCP). lc therefore picks a
  backend with the fewest recent connections: within one LB pod, the counts of any two backends differ
  by at most 1 after every request, i.e. lc behaves like round robin. With L LB pods (ECMP spreads the
  client's flows over them, each with its own IPVS table) the per-backend totals are sums of L such
  counts, so each is within L of the mean. Connections made shortly before the run (still inactive in
  the tables) can shift each pod's starting point by up to 1 more, so we allow 2 x L requests.
  This needs no other traffic to the VIP in the 2 minutes before the run; run the distribution check
  first (suites/test_benchmarks.py does).
- `rr`: the same argument, at most L.
- anything random (`sh`, `mh`, a hash over client ports, DNAT `statistic --mode random`): binomial;
  4 standard deviations of Binomial(n, 1/B).
"""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Tolerance:
    requests: float   # allowed |count - n/B| per backend
    why: str

    def share(self, n: int) -> float:
        return self.requests / n


def tolerance(n: int, backends: int, scheduler: str = "lc", lb_pods: int = 1) -> Tolerance:
    if n <= 0 or backends <= 0 or lb_pods <= 0:
        raise ValueError(f"tolerance: n={n}, backends={backends}, lb_pods={lb_pods} must be positive")
    if scheduler == "lc":
        return Tolerance(2 * lb_pods, f"lc with sequential fresh connections acts as round robin per LB pod "
                                      f"(counts differ by <= 1), {lb_pods} LB pod(s), +1 each for connections "
                                      f"still inactive from before the run: +-{2 * lb_pods} requests")
    if scheduler in ("rr", "wrr"):
        return Tolerance(lb_pods, f"round robin: +-1 per LB pod, {lb_pods} LB pod(s)")
    p = 1 / backends
    sd = math.sqrt(n * p * (1 - p))
    return Tolerance(4 * sd, f"{scheduler}: random choice, 4 standard deviations of Binomial({n}, 1/{backends})")


def deviations(counts: dict[str, int], backends: list[str]) -> dict[str, float]:
    """count - mean for every backend (0 counts for silent ones)."""
    n = sum(counts.get(b, 0) for b in backends)
    mean = n / len(backends)
    return {b: counts.get(b, 0) - mean for b in backends}
