"""The dynamic checks against the reference lab, end to end (one short smoke; marker `lab`).

It reuses the session's VM (conftest.lab_session: one boot for every lab self-test), builds the
reference deployment in it (idempotent), and runs the conformance suite with --allow-disruptive and
2 trials, for the ECMP SLA and the IPVS resync of one service. The samples must land in results.json,
and the lab must be left as it was found.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lbconformance.lab.reference import ReferenceLab

ROOT = Path(__file__).resolve().parents[2]


def _suite(lab_vm, tmp_path, *args: str) -> tuple[list[str], dict]:
    """argv and env of `pytest --lab --allow-disruptive ARGS suites` against this lab, reports in tmp_path."""
    # `--report-dir=DIR` in one word and `suites` given: pytest picks its rootdir from path-like arguments
    # before the plugin's options are known, so a separate `--report-dir DIR` would make DIR the rootdir
    # (no ini file, no testpaths: the whole tree would be collected).
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--lab", "--allow-disruptive",
            f"--report-dir={tmp_path}", *args, "suites"]
    return argv, dict(os.environ, LBCONFORMANCE_STATE=str(lab_vm.state), PYTHONUNBUFFERED="1")


@pytest.mark.lab
def test_disruptive_smoke_records_samples_and_restores_the_lab(lab_vm, tmp_path):
    lab = ReferenceLab(lab_vm)
    lab.up()
    before = lab.state()
    assert lab.health() == []
    argv, env = _suite(lab_vm, tmp_path, "--trials", "2", "-k", "web2 and (scale_events or resyncs)")
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
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


@pytest.mark.lab
def test_ctrl_c_in_the_sla_loop_restores_the_lab(lab_vm, tmp_path):
    """Ctrl-C (SIGINT) while ECMP-004 scales LB pods: the run stops, and the LB placement is put back."""
    lab = ReferenceLab(lab_vm)
    lab.up()
    before = lab.state()
    assert lab.health() == []
    argv, env = _suite(lab_vm, tmp_path, "--trials", "5", "-k", "web2 and scale_events")
    # SIGINT is at its default in the child even under a background runner: tests/conftest.py
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen, t0, when = [], time.monotonic(), {}
    try:
        for line in proc.stdout:                        # wait for trial 1, then interrupt trial 2 mid-scale
            seen.append(f"[+{time.monotonic() - t0:.1f} s] {line}")
            if "ECMP-004 web2 trial 1/5" in line:
                when["trial 1 seen"] = time.monotonic() - t0
                time.sleep(3)
                proc.send_signal(signal.SIGINT)
                when["SIGINT sent"] = time.monotonic() - t0
                break
        rest, _ = proc.communicate(timeout=900)
        when["exited"] = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
    out = "".join(seen) + rest
    print(f"[lab] ctrl-c timeline (s since start): {when}")
    assert "ECMP-004 web2 trial 1/5" in out, out[-3000:]
    assert proc.returncode == 2, f"timeline {when}, exit {proc.returncode}\n" + "".join(seen)[-2000:] + rest[-2500:]
    assert "restored and verified" in out or lab.state() == before, out[-3000:]
    assert "trial 5/5" not in out                       # it really stopped
    assert lab.state() == before, out[-3000:]           # the pod placement is back
    assert lab.health() == []
