"""The restore finalizer of disruptive trials: it restores on success, on failure, on SIGINT and on
SIGTERM (in a real subprocess), verifies, and is loud when the restore does not hold."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from lbconformance.dynamic.trial import RestoreFailed, restoring


class FakeLab:
    """An orchestrator's capture/restore/verify over a pod count."""

    def __init__(self, pods=3, break_restore=False):
        self.pods, self.break_restore, self.calls = pods, break_restore, []

    def capture(self):
        self.calls.append("capture")
        return {"pods": self.pods}

    def restore(self, original):
        self.calls.append("restore")
        if not self.break_restore:
            self.pods = original["pods"]

    def verify(self, original):
        self.calls.append("verify")
        return [] if self.pods == original["pods"] else [f"pods {self.pods}, expected {original['pods']}"]


def test_restores_and_verifies_after_a_passing_trial():
    lab = FakeLab()
    with restoring(lab.capture, lab.restore, lab.verify) as original:
        assert original == {"pods": 3}
        lab.pods = 4
    assert lab.pods == 3 and lab.calls == ["capture", "restore", "verify"]


def test_restores_after_a_failing_trial_and_keeps_its_failure():
    lab = FakeLab()
    with pytest.raises(AssertionError, match="trial failed"):
        with restoring(lab.capture, lab.restore, lab.verify):
            lab.pods = 1
            raise AssertionError("trial failed")
    assert lab.pods == 3


def test_a_restore_that_does_not_hold_is_loud():
    lab = FakeLab(break_restore=True)
    with pytest.raises(RestoreFailed, match=r"NOT restored .*pods 5, expected 3"):
        with restoring(lab.capture, lab.restore, lab.verify, label="ECMP-004 web1"):
            lab.pods = 5
    assert not isinstance(RestoreFailed("x"), AssertionError)  # the plugin reports it as an error


def test_a_restore_that_raises_is_loud_and_chained_to_the_trial_failure():
    def boom(_):
        raise OSError("ssh: connection lost")
    lab = FakeLab()
    with pytest.raises(RestoreFailed, match="restore raised OSError: ssh: connection lost") as info:
        with restoring(lab.capture, boom, lab.verify):
            raise ValueError("the trial's own error")
    assert isinstance(info.value.__context__, ValueError)


def test_signal_handlers_are_put_back():
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    lab = FakeLab()
    with restoring(lab.capture, lab.restore, lab.verify):
        pass
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


CHILD = textwrap.dedent("""
    import json, sys, time
    from lbconformance.dynamic.trial import restoring

    state_file, log = sys.argv[1], sys.argv[2]
    def put(n):
        open(state_file, "w").write(json.dumps({"pods": n}))
    def get():
        return json.load(open(state_file))["pods"]
    def restore(orig):
        open(log, "a").write("restore start\\n")
        time.sleep(float(sys.argv[3]))         # a slow restore: a second signal must not cut it short
        put(orig["pods"])
        open(log, "a").write("restore done\\n")
    put(3)
    try:
        with restoring(lambda: {"pods": get()}, restore, lambda o: [] if get() == o["pods"] else ["not back"]):
            for trial in range(1000):                       # the SLA loop: scale up, scale down, ...
                put(4 if trial % 2 == 0 else 3)
                if trial == 0:
                    print("looping", flush=True)
                time.sleep(0.05)
    except KeyboardInterrupt:
        open(log, "a").write("KeyboardInterrupt\\n")
        sys.exit(130)
    except SystemExit as e:
        open(log, "a").write(f"SystemExit {e.code}\\n")
        raise
""")


def _child(tmp_path: Path, slow: float = 0.0):
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2] / "src"))
    state, log = tmp_path / "state.json", tmp_path / "log"
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(state), str(log), str(slow)], stdout=subprocess.PIPE,
                            text=True, env=env)  # SIGINT at its default there: tests/conftest.py
    assert proc.stdout.readline().strip() == "looping"
    time.sleep(0.1)
    return proc, state, log


@pytest.mark.parametrize("sig, rc, how", [(signal.SIGINT, 130, ["KeyboardInterrupt"]),
                                          # after the restore, SIGTERM's default action ends the process
                                          (signal.SIGTERM, -signal.SIGTERM, [])])
def test_interrupting_the_sla_loop_restores_the_pod_count(tmp_path, sig, rc, how):
    proc, state, log = _child(tmp_path)
    proc.send_signal(sig)
    assert proc.wait(timeout=30) == rc
    assert json.loads(state.read_text()) == {"pods": 3}
    assert log.read_text().splitlines() == ["restore start", "restore done", *how]


def test_a_second_ctrl_c_during_the_restore_waits_for_it(tmp_path):
    proc, state, log = _child(tmp_path, slow=1.0)
    proc.send_signal(signal.SIGINT)
    for _ in range(100):
        if log.exists() and "restore start" in log.read_text():
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)  # while restoring
    assert proc.wait(timeout=30) == 130
    assert json.loads(state.read_text()) == {"pods": 3}
    assert log.read_text().splitlines() == ["restore start", "restore done", "KeyboardInterrupt"]
