"""Self-tests of the plugin: target selection, outcomes, verdict, exit codes, JUnit properties."""
import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def make_snapshot(root: Path, absent=None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "docs" / "inventory.example.yaml", root / "inventory.yaml")
    (root / "meta.json").write_text(json.dumps({"profile": "any", "absent": absent or {}}))
    host = root / "hosts" / "router"
    host.mkdir(parents=True)
    (host / "sysctl.txt").write_text("net.ipv4.fib_multipath_hash_policy = 1\n")
    return root


CHECKS = '''
import pytest
from lbconformance.verdict import require

@pytest.mark.requirement("ECMP-002")
def test_hash_policy(router, snapshot):
    text = snapshot.text(router.name, "sysctl.txt")
    value = text.split("=")[1].strip()
    require(value == "{want}", expected="policy {want}", observed="policy " + value,
            where=router.name + " " + snapshot.evidence(router.name, "sysctl.txt"))
'''


def results(pytester):
    runs = sorted((pytester.path / "reports").glob("*/results.json"))
    return json.loads(runs[-1].read_text())


def test_no_target_prints_one_line_hint(pytester):
    pytester.makepyfile(test_x=CHECKS.replace("{want}", "1"))
    r = pytester.runpytest_subprocess()
    assert r.ret == 4
    hint = [ln for ln in r.outlines + r.errlines if "no target" in ln]
    assert hint == ["Exit: lbconformance: no target; choose one: --lab (the reference lab), --snapshot DIR, "
                    "--inventory FILE or --cluster KUBECONFIG"] or len(hint) == 1


def test_pass_and_fail_carry_expected_observed_where(pytester):
    snap = make_snapshot(pytester.path / "snap")
    pytester.makepyfile(test_x=CHECKS.replace("{want}", "1"))
    assert pytester.runpytest_subprocess("--snapshot", snap).ret == 0
    assert results(pytester)["verdict"] == "PASS"
    shutil.rmtree(pytester.path / "reports")
    pytester.makepyfile(test_x=CHECKS.replace("{want}", "2"))
    r = pytester.runpytest_subprocess("--snapshot", snap)
    assert r.ret == 1
    doc = results(pytester)
    assert doc["verdict"] == "FAIL"
    (res,) = doc["results"]
    assert res["outcome"] == "failed" and res["requirement"] == "ECMP-002" and res["target"] == "router"
    assert res["expected"] == "policy 2" and res["observed"] == "policy 1"
    assert "router hosts/router/sysctl.txt" in res["where"]


def test_a_crashing_check_is_an_error_never_a_pass(pytester):
    snap = make_snapshot(pytester.path / "snap")
    pytester.makepyfile(test_x='''
import pytest
@pytest.mark.requirement("ECMP-002")
def test_crash(router):
    raise KeyError("boom")
''')
    r = pytester.runpytest_subprocess("--snapshot", snap)
    assert r.ret == 6  # INCOMPLETE
    (res,) = results(pytester)["results"]
    assert res["outcome"] == "error" and "KeyError" in res["message"]


def test_missing_fact_is_an_error_naming_the_file(pytester):
    snap = make_snapshot(pytester.path / "snap")
    (snap / "hosts" / "router" / "sysctl.txt").unlink()
    pytester.makepyfile(test_x=CHECKS.replace("{want}", "1"))
    r = pytester.runpytest_subprocess("--snapshot", snap)
    assert r.ret == 6
    (res,) = results(pytester)["results"]
    assert res["outcome"] == "error" and "hosts/router/sysctl.txt" in res["message"]


def test_declared_absent_fact_is_a_scope_skip(pytester):
    snap = make_snapshot(pytester.path / "snap", absent={"sysctl.txt": "not in seed"})
    (snap / "hosts" / "router" / "sysctl.txt").unlink()
    pytester.makepyfile(test_x=CHECKS.replace("{want}", "1"))
    r = pytester.runpytest_subprocess("--snapshot", snap)
    assert r.ret == 0
    (res,) = results(pytester)["results"]
    assert res["outcome"] == "skipped" and res["message"].startswith("out of scope: not in seed")


def test_profile_scope_and_live_only_skips_do_not_make_incomplete(pytester):
    snap = make_snapshot(pytester.path / "snap")
    pytester.makepyfile(test_x='''
import pytest
@pytest.mark.requirement("RPS-002")
def test_driver(node):
    raise AssertionError("must not run under profile any")

@pytest.mark.requirement("ECMP-004")
def test_sla(router):
    raise AssertionError("must not run offline")
''')
    r = pytester.runpytest_subprocess("--snapshot", snap)
    assert r.ret == 0, r.outlines
    doc = results(pytester)
    assert doc["verdict"] == "PASS"
    reasons = {x["requirement"]: x["message"] for x in doc["results"]}
    assert reasons["RPS-002"].startswith("out of scope: profile any")
    assert reasons["ECMP-004"] == "out of scope: needs a live target"


def test_other_skips_make_incomplete(pytester):
    snap = make_snapshot(pytester.path / "snap")
    pytester.makepyfile(test_x='''
import pytest
@pytest.mark.requirement("ECMP-002")
def test_x(router):
    pytest.skip("router unreachable")
''')
    assert pytester.runpytest_subprocess("--snapshot", snap).ret == 6
    assert results(pytester)["verdict"] == "INCOMPLETE"


def test_unknown_or_missing_requirement_marker_errors(pytester):
    snap = make_snapshot(pytester.path / "snap")
    pytester.makepyfile(test_x='''
import pytest
@pytest.mark.requirement("NOPE-001")
def test_x(router):
    pass
''')
    assert pytester.runpytest_subprocess("--snapshot", snap).ret == 6
    (res,) = results(pytester)["results"]
    assert res["outcome"] == "error" and "NOPE-001" in res["message"]


def test_junit_xunit1_carries_requirement_and_seed(pytester):
    snap = make_snapshot(pytester.path / "snap")
    pytester.makepyfile(test_x=CHECKS.replace("{want}", "2"))
    pytester.runpytest_subprocess("--snapshot", snap, "--junitxml", "j.xml", "-o", "junit_family=xunit1")
    case = ET.parse(pytester.path / "j.xml").getroot().find(".//testcase")
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props["requirement"] == "ECMP-002" and props["seed"].startswith("§5.1")
    assert props["expected"] == "policy 2" and props["observed"] == "policy 1"
    assert "expected policy 2; observed policy 1" in case.find("failure").get("message")


@pytest.mark.parametrize("body, where", [
    ("- requirement: CAP-005\n  justification: lab\n", "missing field 'waivers[0].expires'"),
    ("- requirement: CAP-005\n  justification: x\n  approver: y\n  expires: soon\n", ":4: waivers[0].expires"),
    ("- requirement: [\n", "invalid YAML"),
])
def test_malformed_waivers_stop_the_run_with_file_and_line(pytester, body, where):
    snap = make_snapshot(pytester.path / "snap")
    pytester.makepyfile(test_x=CHECKS.replace("{want}", "1"))
    (pytester.path / "w.yaml").write_text(body)
    r = pytester.runpytest_subprocess("--snapshot", snap, "--waivers", "w.yaml")
    assert r.ret == 4
    assert any("w.yaml" in ln and where in ln for ln in r.outlines + r.errlines), r.outlines + r.errlines


def test_waiver_turns_failure_into_waived_and_expired_waiver_fails(pytester):
    snap = make_snapshot(pytester.path / "snap")
    pytester.makepyfile(test_x=CHECKS.replace("{want}", "2"))
    (pytester.path / "w.yaml").write_text(
        "- {requirement: ECMP-002, target: router, justification: vendor default, approver: ops, expires: 2999-01-01}\n")
    assert pytester.runpytest_subprocess("--snapshot", snap, "--waivers", "w.yaml").ret == 0
    (res,) = results(pytester)["results"]
    assert res["outcome"] == "waived" and res["waiver"]["justification"] == "vendor default"
    shutil.rmtree(pytester.path / "reports")
    (pytester.path / "w.yaml").write_text(
        "- {requirement: ECMP-002, justification: old, approver: ops, expires: 2001-01-01}\n")
    assert pytester.runpytest_subprocess("--snapshot", snap, "--waivers", "w.yaml").ret == 1
    (res,) = results(pytester)["results"]
    assert res["outcome"] == "failed" and "waiver expired" in res["message"]
