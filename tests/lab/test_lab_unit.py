"""Lab self-tests that need no VM: cache key, qemu command line, errors, helpers."""
from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from lbconformance.lab import cli, image
from lbconformance.lab.errors import LabError, log_tail
from lbconformance.lab.vm import LabVM, qemu_command, remote_command

pytestmark = pytest.mark.lab

PKGS = ["iproute2", "ipvsadm", "linux-image-amd64"]


def test_cache_key_is_stable_and_order_insensitive():
    assert image.cache_key(PKGS, "6.1.0-50-amd64") == image.cache_key(list(reversed(PKGS)) + ["ipvsadm"],
                                                                        "6.1.0-50-amd64")
    assert len(image.cache_key(PKGS, "6.1.0-50-amd64")) == 16


@pytest.mark.parametrize("change", [
    lambda: image.cache_key(PKGS + ["frr"], "6.1.0-50-amd64"),
    lambda: image.cache_key(PKGS, "6.1.0-51-amd64"),
    lambda: image.cache_key(PKGS, "6.1.0-50-amd64", recipe="other"),
])
def test_cache_key_changes_with_packages_kernel_recipe(change):
    assert change() != image.cache_key(PKGS, "6.1.0-50-amd64")


def test_guest_packages_cover_the_lab():
    pkgs = image.guest_packages()
    for p in ("linux-image-amd64", "ipvsadm", "keepalived", "exabgp", "gobgpd", "frr", "openssh-server",
              "python3-pyroute2", "iptables", "nginx-light"):
        assert p in pkgs


def test_read_list_drops_comments(tmp_path):
    f = tmp_path / "l.txt"
    f.write_text("# head\na\n\n b # trailing\n#c\n")
    assert image.read_list(f) == ["a", "b"]


def _fake_image(tmp_path: Path) -> image.Image:
    d = tmp_path / "img"
    d.mkdir()
    return image.Image(d, "k", "6.1.0-50-amd64")


def test_qemu_command_is_tcg_restricted_loopback_bounded(tmp_path):
    img = _fake_image(tmp_path)
    cmd = qemu_command(img, img.dir / "initrd.img", 40022, tmp_path / "state", tmp_path / "share")
    line = " ".join(cmd)
    assert "kvm" not in line and "-enable-kvm" not in cmd
    accel = cmd[cmd.index("-accel") + 1]
    assert accel.startswith("tcg,") and "tb-size=256" in accel
    netdev = cmd[cmd.index("-netdev") + 1].split(",")
    assert netdev[0] == "user" and "restrict=on" in netdev
    assert "hostfwd=tcp:127.0.0.1:40022-:22" in netdev
    assert [a for a in netdev if a.startswith("hostfwd")] == ["hostfwd=tcp:127.0.0.1:40022-:22"]
    assert cmd[cmd.index("-smp") + 1] == "2"
    assert "snapshot=on" in cmd[cmd.index("-drive") + 1]
    assert "readonly=on" in cmd[cmd.index("-fsdev") + 1]
    assert cmd[cmd.index("-pidfile") + 1] == str(tmp_path / "state" / "qemu.pid")
    assert cmd[cmd.index("-serial") + 1] == f"file:{tmp_path / 'state' / 'console.log'}"
    assert "-daemonize" in cmd


def test_error_is_one_line_naming_the_phase_plus_tail(tmp_path):
    log = tmp_path / "console.log"
    log.write_text("".join(f"line {i}\n" for i in range(50)) + "Kernel panic - not syncing\r\n\n")
    err = LabError("boot", "qemu exited during boot", log_tail(log, 5), log)
    assert str(err) == "lab boot failed: qemu exited during boot"
    text = err.format().splitlines()
    assert text[0] == str(err)
    assert text[-1] == "  Kernel panic - not syncing"
    assert len(text) == 2 + 5


def test_log_tail_of_missing_file_is_empty(tmp_path):
    assert log_tail(tmp_path / "nope") == []


def test_missing_apt_package_is_named(tmp_path):
    script = "echo 'I: Retrieving foo'; echo \"E: Couldn't find these debs: nosuchpkg\"; exit 1"
    with pytest.raises(LabError) as ei:
        image._run("debootstrap", ["sh", "-c", script], tmp_path / "b.log", 10)
    assert ei.value.phase == "debootstrap"
    assert "nosuchpkg" in str(ei.value) and "not found" in str(ei.value)
    assert any("nosuchpkg" in line for line in ei.value.tail)


def test_phase_timeout_never_hangs(tmp_path):
    with pytest.raises(LabError) as ei:
        image._run("debootstrap", ["sleep", "30"], tmp_path / "b.log", 0.5)
    assert "timed out" in str(ei.value)


def test_missing_host_tool_says_host_deps(tmp_path):
    with pytest.raises(LabError) as ei:
        image._run("image", ["lbc-no-such-tool"], tmp_path / "b.log", 5)
    assert "make host-deps" in str(ei.value)


def test_modules_closure_orders_dependencies_first(tmp_path):
    dep = (
        "kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko\n"
        "kernel/lib/crc16.ko:\nkernel/fs/mbcache.ko:\nkernel/fs/jbd2/jbd2.ko:\n"
        "kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko\n"
        "kernel/drivers/virtio/virtio_ring.ko: kernel/drivers/virtio/virtio.ko\n"
        "kernel/drivers/virtio/virtio.ko:\n")
    order = [Path(p).stem for p in image.modules_closure(dep, ["virtio_pci", "ext4"])]
    assert order.index("virtio") < order.index("virtio_ring") < order.index("virtio_pci")
    assert order[-1] == "ext4" and set(order) == {"virtio", "virtio_ring", "virtio_pci", "crc16", "mbcache",
                                                  "jbd2", "ext4"}
    with pytest.raises(LabError):
        image.modules_closure(dep, ["nosuch"])


def test_host_mirror_from_deb822_and_one_line(tmp_path):
    s = tmp_path / "debian.sources"
    s.write_text("Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n"
                 "Components: main\n\nTypes: deb\nURIs: http://mirror.example/debian\n"
                 "Suites: bookworm bookworm-updates\nComponents: main\n")
    assert image.host_mirror([s]) == "http://mirror.example/debian"
    ll = tmp_path / "sources.list"
    ll.write_text("# c\ndeb [arch=amd64] http://other.example/debian/ bookworm main contrib\n")
    assert image.host_mirror([ll]) == "http://other.example/debian"
    assert image.host_mirror([tmp_path / "none"]) == image.DEFAULT_MIRROR


def test_remote_command_quoting_and_netns():
    assert shlex.split(remote_command("a && b")) == ["sh", "-c", "a && b"]
    assert shlex.split(remote_command(["echo", "a b"], host="node105", timeout=7)) == [
        "timeout", "-k", "3", "7", "ip", "netns", "exec", "node105", "sh", "-c", "echo 'a b'"]


def test_boot_failure_names_phase_and_leaves_nothing(tmp_path):
    """qemu refusing a bogus kernel: one 'boot' error line, no qemu and no runtime files left."""
    img = _fake_image(tmp_path)
    for f in ("vmlinuz", "rootfs.ext4", "initrd.img"):
        (img.dir / f).write_bytes(b"not a kernel")
    vm = LabVM(tmp_path / "state", progress=None)
    vm.state.mkdir()
    with pytest.raises(LabError) as ei:
        vm._boot(img, img.dir / "initrd.img")
    assert ei.value.phase == "boot"
    assert vm.pid() is None
    assert vm.leftovers() == []


def test_down_when_not_up_is_a_noop(tmp_path):
    vm = LabVM(tmp_path / "state", progress=None)
    assert vm.down() == 0.0
    assert not vm.status()["running"]


def test_cli_usage_and_errors(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LBCONFORMANCE_STATE", str(tmp_path / "state"))
    assert cli.main([]) == cli.EXIT_USAGE
    assert cli.main(["bogus"]) == cli.EXIT_USAGE
    assert cli.main(["ssh", "a", "b", "--", "true"]) == cli.EXIT_USAGE
    assert cli.main(["status"]) == 3
    assert "not running" in capsys.readouterr().out
    assert cli.main(["ssh", "--", "true"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("lab ssh failed:") and "lab up" in err


def test_console_script_dispatches_lab(tmp_path):
    env = {"LBCONFORMANCE_STATE": str(tmp_path / "state"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "lbconformance.cli", "lab", "--help"], capture_output=True,
                         text=True, env=env, timeout=60)
    assert out.returncode == 0 and "lab COMMAND" in out.stdout


def test_another_labs_processes_are_not_leftovers(tmp_path):
    """A lab whose state folder is `state` must not claim the processes of `state-dyn` (a prefix of it)."""
    from lbconformance.lab.vm import names_state

    vm = LabVM(tmp_path / "state", progress=None)
    state = str(vm.state).rstrip("/") + "/"
    ctl = str(vm.control_path)
    other = ["qemu-system-x86_64", "-pidfile", str(tmp_path / "state-dyn" / "qemu.pid")]
    mine = ["qemu-system-x86_64", "-pidfile", str(tmp_path / "state" / "qemu.pid")]
    assert names_state(mine, state, ctl)
    assert not names_state(other, state, ctl)
    assert names_state(["ssh", "-S", ctl, "lab"], state, ctl)


def test_a_silent_guest_is_booted_once_more_then_named(tmp_path, monkeypatch):
    """qemu running but the guest printing nothing (a TCG start-up hang seen once here): stop it, boot once
    more, and if that is silent too, one 'boot' error; no process left behind."""
    from lbconformance.lab import vm as vm_mod
    img = _fake_image(tmp_path)
    vm = LabVM(tmp_path / "state", progress=None)
    vm.state.mkdir()
    boots = []

    def silent_qemu(img, initrd, port, state, share):  # a "daemonized qemu" that never writes its console
        boots.append(port)
        return ["bash", "-c", f"(exec -a {vm_mod.QEMU} {sys.executable} -c 'import time; time.sleep(60)' -pidfile {state / 'qemu.pid'}) "
                f">/dev/null 2>&1 </dev/null & echo $! > {state / 'qemu.pid'}"]

    monkeypatch.setattr(vm_mod, "qemu_command", silent_qemu)
    monkeypatch.setattr(vm_mod, "SILENT_GUEST_TIMEOUT", 1)
    with pytest.raises(LabError) as ei:
        vm._boot(img)
    assert ei.value.phase == "boot" and "wrote nothing to the console" in str(ei.value) and "twice" in str(ei.value)
    assert len(boots) == 2
    assert vm.pid() is None and vm.leftovers() == []


def test_a_state_read_waits_for_a_placement_change_in_flight(tmp_path, monkeypatch, capsys):
    """Ctrl-C kills the host's ssh, not the guest's scale command: the restore's state read must wait
    for that command (which holds deploy's lock) instead of seeing the placement before it lands."""
    import threading
    import time

    from lbconformance.lab import deploy as d

    monkeypatch.setattr(d, "LOCK", tmp_path / "deploy.lock")
    monkeypatch.setattr(d, "STATE", tmp_path / "state.json")
    monkeypatch.setattr(d.t, "RUN", str(tmp_path))
    d.STATE.write_text('{"lb": {"web2": [106, 107]}}')
    done, holding = [], threading.Event()

    def in_flight_scale():
        with d.deploy_lock():
            holding.set()
            time.sleep(0.5)
            d.STATE.write_text('{"lb": {"web2": [105, 106, 107]}}')
        done.append(time.monotonic())

    th = threading.Thread(target=in_flight_scale)
    th.start()
    assert holding.wait(30)
    assert d.main(["state"]) == 0
    read_at = time.monotonic()
    th.join()
    assert '"web2": [105, 106, 107]' in capsys.readouterr().out
    assert read_at >= done[0] - 0.05
