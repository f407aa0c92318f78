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


def test_commands_share_one_persistent_connection(lab_vm):
    """Every command rides the ControlMaster: while one runs, the guest's sshd holds exactly one TCP
    connection. Counting connections, not timing, so a slow CI machine cannot fail it."""
    master = lab_vm._master_pid()
    assert master is not None, f"no ssh master process for {lab_vm.control_path}"
    counts = []
    t0 = time.monotonic()
    for _ in range(3):
        res = lab_vm.run("ss -Htn state established '( sport = :22 )' | wc -l")
        assert res.rc == 0, res.stderr
        counts.append(int(res.stdout.strip()))
    print(f"[lab] {(time.monotonic() - t0) / 3:.2f} s per command over the master (pid {master})")
    assert counts == [1, 1, 1], (f"expected 1 established ssh connection in the guest per command "
                                 f"(the ControlMaster's), observed {counts}: commands open their own connections")
    assert lab_vm._master_pid() == master, "the ssh master was replaced while commands ran"


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
    assert lab_vm.up() is False
    assert lab_vm.pid() == pid
    res = _cli(lab_vm, "up", "--bare")  # the VM only: a deployment may or may not be built yet
    assert res.returncode == 0 and "nothing to do" in res.stdout and lab_vm.pid() == pid


def test_down_leaves_nothing_behind(lab_vm, host_view_before, host_view):
    pid = lab_vm.pid()
    assert pid is not None
    t0 = time.monotonic()
    res = _cli(lab_vm, "down")
    assert res.returncode == 0, res.stderr
    print(f"[lab] down took {time.monotonic() - t0:.1f} s")
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
