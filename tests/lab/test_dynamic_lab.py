"""The dynamic checks against the reference lab, end to end (one short smoke; marker `lab`).

It reuses the session's VM (conftest.lab_session: one boot for every lab self-test), builds the
reference deployment in it (idempotent), and runs the conformance suite with --allow-disruptive and
2 trials, for the ECMP SLA and the IPVS resync of one service. The samples must land in results.json,
and the lab must be left as it was found.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lbconformance.lab.reference import ReferenceLab

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.lab
def test_disruptive_smoke_records_samples_and_restores_the_lab(lab_vm, tmp_path):
    lab = ReferenceLab(lab_vm)
    lab.up()
    before = lab.state()
    assert lab.health() == []
    env = dict(os.environ, LBCONFORMANCE_STATE=str(lab_vm.state))
    # `--report-dir=DIR` in one word and `suites` given: pytest picks its rootdir from path-like arguments
    # before the plugin's options are known, so a separate `--report-dir DIR` would make DIR the rootdir
    # (no ini file, no testpaths: the whole tree would be collected).
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--lab", "--allow-disruptive",
                           "--trials", "2", f"--report-dir={tmp_path}", "-k", "web2 and (scale_events or resyncs)",
                           "suites"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
    out = proc.stdout + proc.stderr
    [run] = list(tmp_path.iterdir())
    doc = json.loads((run / "results.json").read_text())
    by_req = {r["requirement"]: r for r in doc["results"] if r["requirement"] in ("ECMP-004", "IPVS-009")}
    assert set(by_req) == {"ECMP-004", "IPVS-009"}, out[-3000:]
    ecmp, ipvs = by_req["ECMP-004"], by_req["IPVS-009"]
    assert ecmp["outcome"] in ("passed", "failed"), out[-3000:]   # a slow VM may miss the SLA; never an error
    delays = ecmp["samples"]["ecmp-update-delay"]
    assert len(delays["values"]) == 4 and delays["unit"] == "s" and delays["sla"] == 10.0   # 2 x (up + down)
    assert len(ecmp["samples"]["ecmp-delay-from-request"]["values"]) == 4
    assert ipvs["outcome"] == "passed", out[-3000:]
    assert len(ipvs["samples"]["resync-delay"]["values"]) == 2
    assert out.count("[lbconformance] ECMP-004 web2 trial ") == 2       # one progress line per trial
    assert lab.state() == before and lab.health() == []                 # left as it was found
