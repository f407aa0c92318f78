"""The sign-off page in a real browser: headless Debian chromium, over the DevTools protocol."""
import base64
import json

import pytest

from lbconformance.report import plots
from lbconformance.report.results import CheckResult

from ..framework.test_plugin import make_snapshot
from . import browser
from .test_run_folder import MEASURING, run_dir


def test_plots_from_synthetic_samples():
    import random

    rnd = random.Random(1)
    results = [CheckResult(nodeid=f"t[{n}]", requirement="ECMP-004", target=n, samples={
        "ecmp-update-delay": {"unit": "s", "kind": "delay", "sla": 10.0, "label": "", "values": [
            rnd.expovariate(0.4) for _ in range(50)]}}) for n in ("web1", "web2")]
    results.append(CheckResult(nodeid="r", requirement="IPVS-009", samples={
        "resync-delay": {"unit": "ms", "kind": "delay", "sla": None, "label": "keepalived resync", "values": [3, 4, 5]}}))
    results.append(CheckResult(nodeid="d", requirement="DATA-001", target="web1", samples={
        "throughput": {"unit": "kpps|Mbit/s", "kind": "curve", "sla": None, "label": "", "values": [[1, 2], [2, 3]]}}))
    results.append(CheckResult(nodeid="none", requirement="CAP-001"))
    figs = plots.render_all(results)
    assert [f["name"] for f in figs] == ["throughput", "ecmp-update-delay", "resync-delay"]
    merged = next(f for f in figs if f["name"] == "ecmp-update-delay")
    assert merged["caption"].startswith("n=100,") and "over the SLA 10" in merged["caption"]
    for f in figs:
        assert f["png"].startswith("data:image/png;base64,")
        assert base64.b64decode(f["png"].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert plots.render_all([CheckResult(nodeid="x", requirement="CAP-001")]) == []


@pytest.mark.skipif(browser.CHROMIUM is None, reason="needs Debian's chromium (tests/host-packages.txt)")
def test_report_html_in_headless_chromium(pytester):
    snap = make_snapshot(pytester.path / "snap")
    pytester.makepyfile(test_x=MEASURING)
    assert pytester.runpytest_subprocess("--snapshot", snap).ret == 0
    d = run_dir(pytester.path)
    page = d / "report.html"
    got = browser.load(page.resolve().as_uri(), d / "report.png")
    assert got["console_errors"] == []
    foreign = [u for u in got["requests"] if u != page.resolve().as_uri() and not u.startswith("data:")]
    assert foreign == [], foreign  # nothing fetched: no network, no other file
    ev = got["eval"]
    assert ev["verdict"] == "PASS" and ev["matrixTables"] >= 1 and ev["matrixRows"] >= 2
    assert ev["plots"] == 2 and not ev["noMeasurements"]
    assert ev["signoff"] and ev["environment"]
    shot = (d / "report.png").read_bytes()
    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 10_000
    assert json.loads((d / "results.json").read_text())["verdict"] == "PASS"
