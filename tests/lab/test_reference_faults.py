"""Lab faults and the fault matrix (issues 7 and 10): every check can fail, proven on every CI run."""
import os
import time
from pathlib import Path

import pytest

from lbconformance.catalog import load_catalog
from lbconformance.lab.faults import BY_NAME, DYNAMIC, FAULTS

from .matrix import REPO, judge, run_matrix, table, waves


def test_every_any_requirement_has_a_fault():
    cat = load_catalog()
    covered = {f.requirement for f in FAULTS}
    missing = [r.id for r in cat.values() if "any" in r.scope and r.id not in covered]
    assert not missing, f"requirements of scope any without a lab fault: {missing}"


def test_faults_name_catalog_requirements_and_unique_names():
    cat = load_catalog()
    assert len(BY_NAME) == len(FAULTS)
    for f in FAULTS:
        assert f.requirement in cat and all(c in cat for c in f.cascades), f.name
        assert f.requirement not in f.cascades and f.summary


def test_waves_never_mix_overlapping_faults():
    ws = waves()
    assert sorted(f.name for w in ws for f in w) == sorted(BY_NAME)
    for w in ws:
        if len(w) > 1:
            assert not any(f.exclusive or f.dynamic for f in w)
            seen: set = set()
            for f in w:
                reqs = {f.requirement, *(c for c in f.cascades if c not in DYNAMIC)}
                assert not reqs & seen
                seen |= reqs
            assert sum(len(f.hosts) for f in w) == len(set().union(*(f.hosts for f in w)))  # no shared host
    assert len(ws) < len(FAULTS)  # the grouping saves collections


@pytest.mark.lab
@pytest.mark.matrix
def test_fault_matrix(reference_lab, tmp_path):
    """Every fault fails its requirement naming its target; nothing else changes but declared cascades.
    LBCONFORMANCE_MATRIX_FAULTS=name,name runs a subset (a developer's iteration; docs are then not written)."""
    only = [n for n in os.environ.get("LBCONFORMANCE_MATRIX_FAULTS", "").split(",") if n]
    faults = [BY_NAME[n] for n in only] if only else list(FAULTS)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    t0 = time.monotonic()
    _, outcomes = run_matrix(reference_lab, tmp_path, faults, progress=lambda m: print(m, flush=True))
    any_reqs = sorted(r.id for r in load_catalog().values() if "any" in r.scope)
    text = table(outcomes, started, time.monotonic() - t0, any_reqs)
    print(text)
    if not only:
        (REPO / "docs" / "fault-matrix.md").write_text(text)
    failed = [f"{o.fault.name} ({o.fault.requirement} at {o.fault.target}): "
              + (o.error or ("not caught" if not o.caught else "") + ("; unexpected: " + "; ".join(o.unexpected) if o.unexpected else ""))
              for o in outcomes if not o.ok]
    assert not failed, "\n".join(failed)
    assert only or "**none**" not in text, "a requirement of scope any is caught by no fault"
    assert reference_lab.health() == []
    assert Path(REPO / "docs").is_dir()


def test_judge_counts_a_new_hosts_failures_only():
    """A fault that adds a host (a second LB pod): its passing checks are no change, its failures are."""
    f = BY_NAME["two-lb-pods-one-node"]
    base = {"results": [{"requirement": "ROUTE-004", "nodeid": "r4[node105]", "outcome": "passed", "target": "node105"}]}
    caught = {"requirement": "ROUTE-004", "nodeid": "r4[node105]", "outcome": "failed", "target": "node105",
              "message": "web1: 2 LB pods"}
    new_ok = {"requirement": "IPVS-001", "nodeid": "i1[lb-web1-node105b]", "outcome": "passed",
              "target": "lb-web1-node105b", "message": ""}
    [o] = judge([f], base, [caught, new_ok], 1, 0.0)
    assert o.ok
    new_bad = dict(new_ok, outcome="failed", message="config broken")
    [o] = judge([f], base, [caught, new_bad], 1, 0.0)
    assert not o.ok and "IPVS-001 lb-web1-node105b: None -> failed" in o.unexpected[0]
