"""Benchmark plots: bars (LB comparison) and named series in one curve (measured vs model, per flavour)."""
import base64
from types import SimpleNamespace

import pytest

from lbconformance.report import plots
from lbconformance.report.measure import record_samples, samples_of
from lbconformance.report.results import CheckResult


def fake_request():
    node = SimpleNamespace(stash=_Stash())
    return SimpleNamespace(node=node)


class _Stash(dict):
    def setdefault(self, key, default=None):
        return super().setdefault(key, default)


def test_record_bars_and_series_points():
    req = fake_request()
    record_samples(req, "lb-comparison", [("ipvs", 900), ("iptables DNAT", 880)], "req/s", kind="bar")
    record_samples(req, "lb-comparison", [("nginx", 300.5)], "req/s", kind="bar")
    record_samples(req, "shaped", [(1, 200, "measured"), (1, 210, "model")], "LB pods|req/s", kind="curve")
    got = samples_of(req.node)
    assert got["lb-comparison"]["values"] == [["ipvs", 900.0], ["iptables DNAT", 880.0], ["nginx", 300.5]]
    assert got["shaped"]["values"] == [[1.0, 200.0, "measured"], [1.0, 210.0, "model"]]
    with pytest.raises(ValueError, match="finite"):
        record_samples(req, "x", [("a", float("nan"))], "req/s", kind="bar")
    with pytest.raises(ValueError, match="kind must be one of"):
        record_samples(req, "x", [1], "s", kind="pie")


def test_bar_and_series_figures():
    results = [
        CheckResult(nodeid="c", requirement="DATA-001", samples={"lb-comparison": {
            "unit": "req/s", "kind": "bar", "sla": None, "label": "LB comparison (TCG: functional evidence)",
            "values": [["ipvs", 900], ["iptables DNAT", 880], ["nginx", 300], ["ipvs", 1000]]}}),
        CheckResult(nodeid="e", requirement="ECMP-002", samples={"ecmp-scaling": {
            "unit": "LB pods|req/s", "kind": "curve", "sla": None, "label": "",
            "values": [[1, 200, "measured"], [2, 390, "measured"], [1, 210, "k x model"], [2, 420, "k x model"]]}}),
    ]
    figs = {f["name"]: f for f in plots.render_all(results)}
    assert figs["lb-comparison"]["caption"] == "ipvs 950 req/s (n=2); iptables DNAT 880 req/s; nginx 300 req/s"
    assert figs["lb-comparison"]["title"].startswith("LB comparison")
    assert figs["ecmp-scaling"]["caption"] == "4 points in 1 curve(s)"
    for f in figs.values():
        assert base64.b64decode(f["png"].split(",", 1)[1])[:4] == b"\x89PNG"
