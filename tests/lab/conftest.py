"""The lab VM for self-tests: booted once per session, in its own state folder, always downed at the end
(unless LBCONFORMANCE_SELFTEST_KEEP is set: then a developer can point LBCONFORMANCE_SELFTEST_STATE at
a running lab and iterate).

It shares the image cache (~/.cache/lbconformance or $LBCONFORMANCE_CACHE) with `lbconformance lab`,
so only the first run on a machine builds the image. Its state folder is separate, so a self-test
run never stops a developer's own lab.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from lbconformance.lab import image
from lbconformance.lab.vm import LabVM


def selftest_state() -> Path:
    return Path(os.environ.get("LBCONFORMANCE_SELFTEST_STATE") or image.cache_dir() / "state-selftest")


def _host_view() -> dict:
    return {
        "links": sorted(os.listdir("/sys/class/net")),
        "mounts": sorted(line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()),
    }


@pytest.fixture(scope="session")
def lab_session():
    """(vm, host view before the boot). Downs the VM at teardown whatever happened."""
    before = _host_view()
    vm = LabVM(selftest_state(), progress=lambda msg: print(f"[lab] {msg}"))
    try:
        vm.up()
        yield vm, before
    finally:
        if not os.environ.get("LBCONFORMANCE_SELFTEST_KEEP"):  # a developer's iteration: keep it running
            vm.down()


@pytest.fixture
def lab_vm(lab_session):
    """The session's VM, brought (back) up if a test downed it; `up` is a no-op when it runs."""
    vm, _ = lab_session
    vm.up()
    return vm


@pytest.fixture
def host_view_before(lab_session):
    return lab_session[1]


@pytest.fixture
def host_view():
    return _host_view


@pytest.fixture
def reference_lab(lab_vm, monkeypatch):
    """The reference deployment in the session's VM (built once; `up` is a no-op when it runs).
    LBCONFORMANCE_STATE points at the self-test VM, so `--lab` runs and collection use it too."""
    from lbconformance.lab.reference import ReferenceLab

    monkeypatch.setenv("LBCONFORMANCE_STATE", str(lab_vm.state))
    lab = ReferenceLab(lab_vm)
    lab.up()
    return lab


def pytest_collection_modifyitems(config, items):
    """The test that downs the VM runs last, so the whole session needs one lab boot (design.md §7)."""
    last = [i for i in items if i.name == "test_down_leaves_nothing_behind"]
    items[:] = [i for i in items if i not in last] + last
