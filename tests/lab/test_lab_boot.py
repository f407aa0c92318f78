"""Boots the lab VM (once per session, see conftest.py): IPVS works, `up` is idempotent, `down` is clean."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from lbconformance.lab.vm import _alive

pytestmark = pytest.mark.lab


def test_ipvs_module_loads_in_the_guest(lab_vm):
    rc, out, err = lab_vm.run("modprobe ip_vs && cat /proc/net/ip_vs", timeout=60)
    assert rc == 0, err
    assert out.startswith("IP Virtual Server version")


def test_guest_runs_debian_kernel_and_lab_packages(lab_vm):
    rc, out, err = lab_vm.run("uname -r; command -v ipvsadm keepalived gobgpd exabgp nginx; "
                              "test -x /usr/lib/frr/zebra && echo frr; python3 -c 'import pyroute2; print(1)'")
    assert rc == 0, err
    lines = out.split()
    assert lines[0].endswith("-amd64")
    assert "/usr/sbin/ipvsadm" in lines and "frr" in lines and lines[-1] == "1"


def test_guest_is_isolated_and_sees_the_share(lab_vm):
    rc, out, err = lab_vm.run("ip -o -4 route; echo ---; grep ' /lab ' /proc/mounts; test -x /lab/lbconformance/lab/guest/init && echo init")
    assert rc == 0, err
    routes, mounts = out.split("---")
    assert "default" not in routes and "10.0.2.0/24" in routes
    assert " 9p " in mounts and "ro," in mounts and mounts.strip().endswith("init")


def test_one_persistent_connection_is_fast(lab_vm):
    lab_vm.run("true")
    t0 = time.monotonic()
    for _ in range(5):
        assert lab_vm.run("true").rc == 0
    per_call = (time.monotonic() - t0) / 5
    assert per_call < 0.8, f"{per_call:.2f} s per command: is the ControlMaster connection used?"


def test_timeout_is_enforced(lab_vm):
    t0 = time.monotonic()
    rc, _, _ = lab_vm.run("sleep 30", timeout=2)
    assert rc == 124 and time.monotonic() - t0 < 10


def _cli(vm, *args, timeout=120):
    env = dict(os.environ, LBCONFORMANCE_STATE=str(vm.state))
    return subprocess.run([sys.executable, "-m", "lbconformance.cli", "lab", *args], capture_output=True,
                          text=True, env=env, timeout=timeout)


def test_cli_ssh_and_status(lab_vm):
    res = _cli(lab_vm, "ssh", "--", "modprobe ip_vs && cat /proc/net/ip_vs")
    assert res.returncode == 0, res.stderr
    assert "IP Virtual Server" in res.stdout
    res = _cli(lab_vm, "status")
    assert res.returncode == 0 and f"pid      {lab_vm.pid()}" in res.stdout and "amd64" in res.stdout


def test_cli_ssh_into_a_namespace(lab_vm):
    lab_vm.run("ip netns add lbc-selftest", check=True)
    try:
        res = _cli(lab_vm, "ssh", "lbc-selftest", "--", "ip", "-o", "link")
        assert res.returncode == 0, res.stderr
        assert [line.split(":")[1].strip() for line in res.stdout.splitlines()] == ["lo"]
    finally:
        lab_vm.run("ip netns del lbc-selftest")


def test_second_up_is_a_noop(lab_vm):
    pid = lab_vm.pid()
    t0 = time.monotonic()
    assert lab_vm.up() is False
    assert time.monotonic() - t0 < 5
    assert lab_vm.pid() == pid
    res = _cli(lab_vm, "up")
    assert res.returncode == 0 and "nothing to do" in res.stdout and lab_vm.pid() == pid


def test_down_leaves_nothing_behind(lab_vm, host_view_before, host_view):
    pid = lab_vm.pid()
    assert pid is not None
    t0 = time.monotonic()
    res = _cli(lab_vm, "down")
    assert res.returncode == 0, res.stderr
    assert time.monotonic() - t0 < 5
    assert not _alive(pid), f"qemu pid {pid} still runs"
    assert lab_vm.pid() is None
    assert lab_vm.leftovers(include_lock=True) == []
    assert not lab_vm.lockfile.exists()
    after = host_view()
    # only what appeared since the lab came up counts: other self-tests may remove their own meanwhile
    assert sorted(set(after["links"]) - set(host_view_before["links"])) == [], "a network interface was left behind"
    assert sorted(set(after["mounts"]) - set(host_view_before["mounts"])) == [], "a mount was left behind"
    # A second down is harmless.
    assert _cli(lab_vm, "down").returncode == 0
