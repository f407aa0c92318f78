"""The data-plane benchmarks against the reference lab, as a short smoke (marker `lab`; issue 13).

It reuses the session's VM (no second boot) and runs two of suites/test_benchmarks.py: the distribution
check and one 5-second shaped-link point. The samples must land in results.json, the shaped point must
sit within the stated tolerance of the bandwidth model, and the lab must be left as it was found (no
qdisc, no extra LB flavour, same placement, healthy).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.lab
def test_benchmark_smoke_distribution_and_one_shaped_point(reference_lab, tmp_path):
    before = reference_lab.state()
    assert reference_lab.health() == []
    env = dict(os.environ, LBCONFORMANCE_STATE=str(reference_lab.vm.state), LBC_BENCH_SECONDS="5",
               LBC_BENCH_SHAPED_POINTS="1")
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--lab", "-m", "benchmark",
                           "--allow-disruptive", "--report-dir", str(tmp_path),
                           "-k", "distribution or shaped_link", str(ROOT / "suites" / "test_benchmarks.py")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    took = time.monotonic() - started
    out = proc.stdout + proc.stderr
    [run] = list(tmp_path.iterdir())
    doc = json.loads((run / "results.json").read_text())
    by_name = {r["nodeid"].rsplit("::", 1)[-1]: r for r in doc["results"]}
    dist = by_name["test_distribution_over_web_pods"]
    shaped = by_name["test_shaped_link_saturates_at_the_bandwidth_model"]
    assert dist["outcome"] == "passed", out[-3000:]
    assert shaped["outcome"] == "passed", out[-3000:]
    assert len(dist["samples"]["backend-share"]["values"]) == before["web"]["web1"]
    assert len(shaped["samples"]["shaped-link-ratio"]["values"]) == 1
    assert {p[2] for p in shaped["samples"]["shaped-link"]["values"]} == {"measured", "model"}
    assert "shaped " in out and "model" in out                           # progress lines
    assert reference_lab.state() == before and reference_lab.health() == []   # left as it was found
    print(f"benchmark smoke: {took:.0f} s; ratio {shaped['samples']['shaped-link-ratio']['values']}")
