"""The static checks against recorded snapshots: complete fixtures pass, every broken variant fails
exactly its requirement (plus declared cascades), the seed fixture passes with explained skips."""
import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest

from lbconformance.catalog import load_catalog

from .variants import FIXTURES, load_variants, materialise, outcomes, run_suite

VARIANTS = load_variants()
COMPLETE = [("complete-any", "any"), ("complete-bcm5720", "bcm5720"), ("complete-bcm5720", "any"),
            ("complete-x550", "x550"), ("complete-x550", "any")]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Run every fixture and variant once, two at a time (the suite is CPU-bound, 2 cores)."""
    base = tmp_path_factory.mktemp("runs")

    def complete(args):
        name, profile = args
        return (name, profile), run_suite(FIXTURES / name, profile, base / f"{name}-{profile}")

    def variant(v):
        snap = materialise(v, base / f"snap-{v.name}")
        return v.name, run_suite(snap, v.profile, base / f"rep-{v.name}")

    with ThreadPoolExecutor(max_workers=3) as pool:
        done = dict(pool.map(complete, COMPLETE))
        done.update(pool.map(variant, VARIANTS))
    yield done
    shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("name, profile", COMPLETE)
def test_complete_fixture_passes(runs, name, profile):
    doc = runs[(name, profile)]
    bad = [(r["requirement"], r["target"], r["outcome"], r["message"]) for r in doc["results"]
           if r["outcome"] not in ("passed",) and not (r["outcome"] == "skipped" and r["message"].startswith("out of scope"))]
    assert not bad
    assert doc["verdict"] == "PASS" and doc["exit_code"] == 0


def test_every_static_requirement_has_a_broken_variant():
    static = {r.id for r in load_catalog().values() if r.kind == "static"}
    assert static - {v.requirement for v in VARIANTS} == set()


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.name for v in VARIANTS])
def test_variant_fails_exactly_its_requirement(runs, variant):
    doc = runs[variant.name]
    base = outcomes(runs[(variant.base, variant.profile)])
    got = outcomes(doc)
    req = load_catalog()[variant.requirement]
    want = "warning" if req.advisory else "failed"
    assert want in got[variant.requirement], (variant.requirement, got[variant.requirement])
    hits = [r for r in doc["results"] if r["requirement"] == variant.requirement and r["outcome"] == want]
    assert all(r["expected"] and r["observed"] and r["where"] for r in hits), hits
    changed = {rid for rid in set(base) | set(got) if base.get(rid) != got.get(rid)} - {variant.requirement}
    assert changed <= set(variant.cascades), {rid: got.get(rid) for rid in changed - set(variant.cascades)}
    assert doc["verdict"] == ("PASS" if req.advisory and not changed else "FAIL")


def test_seed_fixture_passes_with_every_skip_explained():
    import tempfile
    from pathlib import Path
    with tempfile.TemporaryDirectory() as d:
        doc = run_suite(FIXTURES / "seed-2019", "bcm5720", Path(d))
    assert doc["verdict"] == "PASS" and doc["exit_code"] == 0
    passed = {r["requirement"] for r in doc["results"] if r["outcome"] == "passed"}
    assert {"IPVS-001", "IPVS-002", "IPVS-005", "ROUTE-003", "PEER-003", "ECMP-001", "ECMP-003",
            "RPS-001", "RPS-005"} <= passed
    skipped = [r for r in doc["results"] if r["outcome"] == "skipped"]
    assert skipped and all(r["message"].startswith("out of scope: ") for r in skipped)
    assert any("not in seed" in r["message"] for r in skipped)


def test_missing_fact_is_an_error_naming_the_file(tmp_path):
    snap = tmp_path / "snap"
    shutil.copytree(FIXTURES / "complete-any", snap)
    (snap / "hosts/lb-web1-node105/ipvsadm-Ln.txt").unlink()
    doc = run_suite(snap, "any", tmp_path / "rep")
    errors = [r for r in doc["results"] if r["outcome"] == "error"]
    assert errors and all("hosts/lb-web1-node105/ipvsadm-Ln.txt" in r["message"] for r in errors)
    assert {r["requirement"] for r in errors} == {"IPVS-002", "IPVS-003", "IPVS-004"}
    assert doc["verdict"] == "INCOMPLETE" and doc["exit_code"] == 6
