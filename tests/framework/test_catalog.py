"""The catalog maps one-to-one onto the checks in suites/, and the mapping test cannot pass vacuously."""
import json
from pathlib import Path

import pytest

from lbconformance.catalog import CATALOG_PATH, load_catalog, mapping_problems
from lbconformance.yamlfile import InputError

from .test_plugin import make_snapshot

REPO = Path(__file__).resolve().parents[2]

DUMP = '''
import json, pytest
@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    out = {}
    for i in items:
        out[i.nodeid.split("[")[0]] = [m.args[0] if m.args else None for m in i.iter_markers("requirement")]
    open("checks.json", "w").write(json.dumps(out))
'''


def collect_checks(pytester, suites: Path) -> dict:
    # a plugin module by name (python -m pytest puts the cwd on sys.path): a conftest.py in the cwd
    # is not loaded when the collected folder lies elsewhere
    pytester.makepyfile(lbc_checks_dump=DUMP)
    snap = make_snapshot(pytester.path / "snap")
    pytester.runpytest_subprocess("--collect-only", "-q", "-p", "no:cacheprovider", "-p", "lbc_checks_dump",
                                  "--snapshot", snap,
                                  "--rootdir", str(pytester.path), str(suites))
    return json.loads((pytester.path / "checks.json").read_text())


def test_catalog_loads_and_is_complete():
    cat = load_catalog()
    assert len(cat) >= 35
    assert {r.area for r in cat.values()} >= {"CAP", "IPVS", "ROUTE", "PEER", "ECMP", "RPS", "OVERLAY"}
    for r in cat.values():
        assert r.must and r.seed and r.remediation


def test_every_check_maps_to_one_entry_and_every_entry_has_a_check(pytester):
    checks = collect_checks(pytester, REPO / "suites")
    assert checks, "no checks collected from suites/"
    assert mapping_problems(checks, load_catalog()) == []


def test_mapping_test_is_not_vacuous(pytester):
    d = pytester.path / "fake_suites"
    d.mkdir()
    (d / "test_fake.py").write_text('''
import pytest
def test_without_marker(router):
    pass
@pytest.mark.requirement("ECMP-002")
@pytest.mark.requirement("ECMP-003")
def test_two_markers(router):
    pass
''')
    checks = collect_checks(pytester, d)
    problems = mapping_problems(checks, load_catalog())
    assert any("test_without_marker: carries 0" in p for p in problems)
    assert any("test_two_markers: carries 2" in p for p in problems)
    assert any(p.startswith("CAP-001: no check") for p in problems)


def test_malformed_catalog_names_file_and_line(tmp_path):
    bad = tmp_path / "requirements.yaml"
    bad.write_text(CATALOG_PATH.read_text().replace("kind: static", "kind: sometimes", 1))
    with pytest.raises(InputError) as e:
        load_catalog(bad)
    assert str(e.value).startswith(f"{bad}:") and "kind must be static or dynamic" in str(e.value)
