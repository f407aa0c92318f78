"""The run folder: every format from a run, JUnit valid against the xunit1 XSD, waivers shown
everywhere, setup failures still reported, re-rendering without a target, --rerun-failed, samples."""
import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from lbconformance.report.cli import main as report_main

from ..framework.test_plugin import CHECKS, make_snapshot

REPO = Path(__file__).resolve().parents[2]
XSD = xmlschema.XMLSchema(str(Path(__file__).with_name("junit-xunit1.xsd")))
FORMATS = ("results.json", "junit.xml", "report.html", "summary.md")


def run_dir(base: Path) -> Path:
    runs = sorted((base / "reports").glob("*/results.json"))
    assert runs, f"no run folder under {base}"
    return runs[-1].parent


def cases(junit: Path) -> list[ET.Element]:
    return list(ET.parse(junit).getroot().iter("testcase"))


def props(case: ET.Element) -> dict:
    return {p.get("name"): p.get("value") for p in case.iter("property")}


def assert_all_formats(d: Path) -> None:
    for f in FORMATS:
        assert (d / f).is_file(), f
    XSD.validate(str(d / "junit.xml"))


@pytest.fixture(scope="module")
def fixture_runs(tmp_path_factory):
    """The seed fixture and a complete fixture, run through the real suite (2 subprocesses in parallel)."""
    base = tmp_path_factory.mktemp("fixture-runs")
    procs = {name: subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                     "--snapshot", str(REPO / "fixtures" / name), "--profile", "bcm5720",
                                     "--report-dir", str(base / name / "reports"), str(REPO / "suites")],
                                    cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for name in ("seed-2019", "complete-bcm5720")}
    out = {}
    for name, p in procs.items():
        text, _ = p.communicate(timeout=120)
        out[name] = (p.returncode, text, run_dir(base / name))
    return out


@pytest.mark.parametrize("name", ["seed-2019", "complete-bcm5720"])
def test_snapshot_runs_write_every_format_and_valid_junit(fixture_runs, name):
    rc, text, d = fixture_runs[name]
    assert rc == 0, text[-2000:]
    assert_all_formats(d)
    doc = json.loads((d / "results.json").read_text())
    assert doc["verdict"] == "PASS"
    assert doc["requirements"]["ECMP-001"]["seed"]
    for case in cases(d / "junit.xml"):
        p = props(case)
        assert p["requirement"] in doc["requirements"] and p["seed"]
    html = (d / "report.html").read_text()
    assert "PASS" in html and "table class='matrix'" in html and "No measurements in this run." in html
    assert (d / "evidence" / "meta.json").is_file()
    assert "reports:" in text and "verdict: PASS" in text


def test_environment_fingerprint_and_not_collected(fixture_runs):
    doc = json.loads((fixture_runs["complete-bcm5720"][2] / "results.json").read_text())
    node = doc["environment"]["node105"]
    assert node["kernel"] == "6.1.0-27-amd64" and node["nic_driver"].startswith("tg3")
    assert node["nic_queues"] == "eth0: rx 4, tx 1" and node["cpus"] == "16"
    assert node["versions"]["keepalived"] == "not collected"
    seed = json.loads((fixture_runs["seed-2019"][2] / "results.json").read_text())
    assert seed["environment"]["node105"]["kernel"] == "not collected"
    assert "not collected" in (fixture_runs["seed-2019"][2] / "report.html").read_text()


def test_versions_txt_is_shown(pytester):
    snap = make_snapshot(pytester.path / "snap")
    (snap / "hosts" / "router" / "versions.txt").write_text("# name version\nfrr 8.4.4\ngobgp 3.10.0\n")
    pytester.makepyfile(test_x=CHECKS.replace("{want}", "1"))
    assert pytester.runpytest_subprocess("--snapshot", snap).ret == 0
    d = run_dir(pytester.path)
    env = json.loads((d / "results.json").read_text())["environment"]["router"]
    assert env["versions"]["frr"] == "8.4.4" and env["versions"]["gobgp"] == "3.10.0"
    assert env["versions"]["exabgp"] == "not collected"
    assert "8.4.4" in (d / "report.html").read_text()


def test_failure_junit_properties_message_and_evidence_link(pytester):
    snap = make_snapshot(pytester.path / "snap")
    pytester.makepyfile(test_x=CHECKS.replace("{want}", "2"))
    assert pytester.runpytest_subprocess("--snapshot", snap).ret == 1
    d = run_dir(pytester.path)
    assert_all_formats(d)
    (case,) = cases(d / "junit.xml")
    p = props(case)
    assert p["requirement"] == "ECMP-002" and p["seed"].startswith("§5.1") and p["target"] == "router"
    msg = case.find("failure").get("message")
    assert msg == "expected policy 2; observed policy 1; at router hosts/router/sysctl.txt"
    html = (d / "report.html").read_text()
    assert "href='evidence/hosts/router/sysctl.txt'" in html
    assert (d / "evidence" / "hosts" / "router" / "sysctl.txt").is_file()
    assert "| ECMP-002 | router | failed | expected policy 2; observed policy 1" in (d / "summary.md").read_text()


def test_waived_failure_is_waived_everywhere_and_expired_waiver_fails(pytester):
    snap = make_snapshot(pytester.path / "snap")
    pytester.makepyfile(test_x=CHECKS.replace("{want}", "2"))
    (pytester.path / "w.yaml").write_text(
        "- {requirement: ECMP-002, target: router, justification: vendor default accepted, approver: ops, "
        "expires: 2999-01-01}\n")
    r = pytester.runpytest_subprocess("--snapshot", snap, "--waivers", "w.yaml")
    assert r.ret == 0
    d = run_dir(pytester.path)
    assert_all_formats(d)
    (case,) = cases(d / "junit.xml")
    sk = case.find("skipped")
    assert sk.get("type") == "waived" and "vendor default accepted" in sk.get("message")
    assert case.find("failure") is None
    assert "WAIVED" in (d / "report.html").read_text() and "vendor default accepted" in (d / "report.html").read_text()
    assert "## Waived" in (d / "summary.md").read_text() and "vendor default accepted" in (d / "summary.md").read_text()
    assert any(ln.startswith("WAIVED") and "vendor default accepted" in ln for ln in r.outlines)
    shutil.rmtree(pytester.path / "reports")
    (pytester.path / "w.yaml").write_text(
        "- {requirement: ECMP-002, justification: old, approver: ops, expires: 2001-01-01}\n")
    assert pytester.runpytest_subprocess("--snapshot", snap, "--waivers", "w.yaml").ret == 1
    d = run_dir(pytester.path)
    (case,) = cases(d / "junit.xml")
    assert "waiver expired" in case.find("failure").get("message") or "waiver expired" in (case.find("failure").text or "")
    assert "EXPIRED" in (d / "report.html").read_text()


def test_broken_target_still_writes_junit_with_failing_setup_case(pytester):
    snap = make_snapshot(pytester.path / "snap")
    (snap / "meta.json").write_text("{not json")
    pytester.makepyfile(test_x=CHECKS.replace("{want}", "1"))
    r = pytester.runpytest_subprocess("--snapshot", snap, "--junitxml", "user.xml")
    assert r.ret == 4
    d = run_dir(pytester.path)
    assert_all_formats(d)
    for junit in (d / "junit.xml", pytester.path / "user.xml"):
        XSD.validate(str(junit))
        (case,) = cases(junit)
        assert case.get("name") == "setup" and "meta.json" in case.find("error").get("message")
    assert json.loads((d / "results.json").read_text())["verdict"] == "INCOMPLETE"


def test_collection_error_is_a_failing_setup_case(pytester):
    snap = make_snapshot(pytester.path / "snap")
    pytester.makepyfile(test_x=CHECKS.replace("{want}", "1"), test_y="import nonexistent_module_xyz\n")
    r = pytester.runpytest_subprocess("--snapshot", snap)
    assert r.ret != 0
    d = run_dir(pytester.path)
    assert_all_formats(d)
    setup = [c for c in cases(d / "junit.xml") if c.get("name") == "setup"]
    assert setup and "nonexistent_module_xyz" in setup[0].find("error").get("message")


def test_report_command_rerenders_from_a_saved_run(pytester, capsys):
    snap = make_snapshot(pytester.path / "snap")
    pytester.makepyfile(test_x=CHECKS.replace("{want}", "2"))
    pytester.runpytest_subprocess("--snapshot", snap)
    d = run_dir(pytester.path)
    before = {f: (d / f).read_text() for f in ("junit.xml", "summary.md")}
    for f in ("junit.xml", "report.html", "summary.md"):
        (d / f).unlink()
    shutil.rmtree(snap)  # no target needed
    assert report_main([str(d)]) == 0
    assert_all_formats(d)
    assert {f: (d / f).read_text() for f in before} == before
    assert "href='evidence/hosts/router/sysctl.txt'" in (d / "report.html").read_text()
    assert report_main([str(d), "--exit-code"]) == 1
    assert report_main([str(pytester.path)]) == 4
    assert "FAIL" in capsys.readouterr().out


def test_rerun_failed_runs_only_what_failed(pytester):
    snap = make_snapshot(pytester.path / "snap")
    pytester.makepyfile(test_x=CHECKS.replace("{want}", "2") + '''
@pytest.mark.requirement("ECMP-002")
def test_other(router):
    pass
''')
    assert pytester.runpytest_subprocess("--snapshot", snap).ret == 1
    first = run_dir(pytester.path)
    r = pytester.runpytest_subprocess("--snapshot", snap, "--rerun-failed", str(first), "-v")
    assert r.ret == 1
    second = run_dir(pytester.path)
    assert second != first
    doc = json.loads((second / "results.json").read_text())
    assert [x["nodeid"].split("::")[1] for x in doc["results"]] == ["test_hash_policy[router]"]
    assert doc["rerun_of"] == str(first)
    assert pytester.runpytest_subprocess("--snapshot", snap, "--rerun-failed", "nowhere").ret == 4


MEASURING = '''
import random
import pytest
from lbconformance.report.measure import progress, record_samples

@pytest.mark.requirement("ECMP-002")
def test_measures(request, router):
    rnd = random.Random(7)
    for trial in range(3):
        progress(request, f"trial {trial + 1}/3 on {router.name}")
    record_samples(request, "ecmp-update-delay", [rnd.uniform(0.5, 12) for _ in range(60)], "s", sla=10)
    record_samples(request, "throughput", [(1, 900), (2, 1800), (4, 3500)], "kpps|Mbit/s", kind="curve")
    print("captured output stays captured")
'''


def test_samples_reach_results_and_page_and_progress_shows_under_capture(pytester):
    snap = make_snapshot(pytester.path / "snap")
    pytester.makepyfile(test_x=MEASURING)
    r = pytester.runpytest_subprocess("--snapshot", snap)
    assert r.ret == 0
    assert [ln for ln in r.outlines if "[lbconformance] trial" in ln] == [
        f"[lbconformance] trial {i}/3 on router" for i in (1, 2, 3)]
    assert not any("captured output stays captured" in ln for ln in r.outlines)
    d = run_dir(pytester.path)
    (res,) = json.loads((d / "results.json").read_text())["results"]
    s = res["samples"]["ecmp-update-delay"]
    assert s["unit"] == "s" and s["sla"] == 10 and len(s["values"]) == 60
    assert res["samples"]["throughput"]["values"] == [[1, 900], [2, 1800], [4, 3500]]
    html = (d / "report.html").read_text()
    assert html.count("<img alt=") == 2 and "over the SLA 10" in html
    assert "No measurements in this run." not in html
