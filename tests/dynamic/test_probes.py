"""The dynamic checks' small helpers: keepalived's worst case, IPVS comparisons, shares, percentiles, and
the plugin's xdist scheduling choice."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from lbconformance.dynamic.orchestrator import IpvsRead, Request
from lbconformance.dynamic.probes import (
    every_pod_has,
    failures_between,
    health_check_worst_case,
    mismatches,
    shares,
)
from lbconformance.dynamic.stats import percentile, summary
from lbconformance.models import ConfigRealServer, ConfigVirtualServer, HealthChecker, KeepalivedConfig


def test_keepalived_worst_case_from_the_config_and_defaults():
    rs = ConfigRealServer("172.16.105.10", 80, checkers=(HealthChecker("TCP_CHECK", connect_timeout=1, retry=2,
                                                                         delay_before_retry=0.5),))
    cfg = KeepalivedConfig(virtual_servers=(ConfigVirtualServer(fwmark=1, delay_loop=3, real_servers=(rs,)),))
    worst, how = health_check_worst_case(cfg, "172.16.105.10", 80)
    assert worst == 3 + 1 + 2 * (0.5 + 1) and "delay_loop 3" in how
    # a server the config does not name: keepalived's defaults (60 + 5 + 1 x (1 + 5))
    assert health_check_worst_case(cfg, "172.16.107.10", 80)[0] == 71


def test_every_pod_must_match_on_every_virtual_service():
    want = {"a:80", "b:80"}
    read = IpvsRead(1.0, {"p1": {"FWM 1": {"a:80", "b:80"}, "TCP 10.1.1.1:80": {"a:80", "b:80"}},
                          "p2": {"FWM 1": {"a:80"}}})
    assert not every_pod_has(read, ["p1", "p2"], want)
    assert every_pod_has(read, ["p1"], want)
    assert not every_pod_has(read, ["p3"], want)  # a pod without a table never matches
    assert mismatches(read, ["p1", "p2", "p3"], want) == ["p2 FWM 1: missing ['b:80'], extra []",
                                                          "p3: no virtual service"]


def test_shares_and_failures():
    reqs = [Request(1, True, "a"), Request(2, True, "a"), Request(3, True, "b"), Request(4, False, "curl-exit-7"),
            Request(5, True, "b")]
    assert shares(reqs) == {"a": 0.5, "b": 0.5}
    assert failures_between(reqs, 3.5, 10) == 1 and failures_between(reqs, 0, 3) == 0
    assert shares([]) == {}


def test_nearest_rank_percentiles():
    vals = [0.5, 1.0, 2.0, 9.0, 12.0]
    assert percentile(vals, 50) == 2.0 and percentile(vals, 99) == 12.0 and percentile([3.0], 99) == 3.0
    assert summary(vals) == "n=5 p50=2.00 p99=12.00 max=12.00 s"
    with pytest.raises(ValueError):
        percentile([], 50)


@pytest.mark.parametrize("dist, live, want", [("load", True, "loadgroup"), ("worksteal", True, "loadgroup"),
                                              ("no", True, "no"), ("load", False, "load")])
def test_dynamic_checks_go_to_one_xdist_worker(dist, live, want):
    from lbconformance import plugin

    config = SimpleNamespace(option=SimpleNamespace(dist=dist), stash={plugin.STATE: SimpleNamespace(live=live)})
    plugin._xdist_serial_dynamic(config)
    assert config.option.dist == want
