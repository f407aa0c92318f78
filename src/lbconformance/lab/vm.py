"""The lab VM: boot Debian's kernel under qemu TCG, reach it over ssh, stop it by PID.

State (pidfile, console log, ssh port, ssh control socket, lock) lives in `state_dir()`:
`$LBCONFORMANCE_STATE`, else `~/.cache/lbconformance/state/`. Commands go through one persistent
ssh connection (ControlMaster): a fresh ssh round trip costs about 0.9 s under TCG.

    vm = LabVM()
    vm.up()                                   # idempotent
    rc, out, err = vm.run("cat /proc/net/ip_vs")
    rc, out, err = vm.run(["ip", "-j", "route"], host="router", timeout=10)
    vm.down()
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import shlex
import shutil
import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, NamedTuple, Sequence

from lbconformance.lab import image as image_mod
from lbconformance.lab.errors import LabError, log_tail

QEMU = "qemu-system-x86_64"
VM_NAME = "lbconformance-lab"
MEMORY_MB = 1024
CPUS = 2
TB_SIZE_MB = 256
GUEST_SSH_PORT = 22

# Phase timeouts (seconds).
QEMU_START_TIMEOUT = 60
BOOT_TIMEOUT = 240
SILENT_GUEST_TIMEOUT = 120  # no console byte at all by then: the guest never started (seen once here); boot again
SSH_TIMEOUT = 60
STOP_TIMEOUT = 4
LOCK_TIMEOUT = 600


class Result(NamedTuple):
    rc: int
    stdout: str
    stderr: str


def state_dir() -> Path:
    return Path(os.environ.get("LBCONFORMANCE_STATE") or image_mod.cache_dir() / "state")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def qemu_command(img: image_mod.Image, initrd: Path, port: int, state: Path, share: Path) -> list[str]:
    """The qemu command line: TCG only, user-mode net with restrict=on, ssh forward on 127.0.0.1 only."""
    append = "console=ttyS0 root=/dev/vda rw panic=-1 quiet loglevel=4 mitigations=off tsc=reliable"
    return [
        QEMU, "-name", VM_NAME,
        "-machine", "pc", "-accel", f"tcg,tb-size={TB_SIZE_MB}", "-cpu", "max",
        "-smp", str(CPUS), "-m", str(MEMORY_MB),
        "-nodefaults", "-no-user-config", "-display", "none", "-vga", "none", "-no-reboot",
        "-kernel", str(img.boot_kernel), "-initrd", str(initrd), "-append", append,
        # snapshot=on: the cached image is never written; the guest's writes vanish with qemu.
        "-drive", f"file={img.rootfs},format=raw,if=virtio,snapshot=on",
        "-netdev", f"user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:{port}-:{GUEST_SSH_PORT}",
        "-device", "virtio-net-pci,netdev=n0,romfile=",
        "-fsdev", f"local,id=labfs,path={share},security_model=none,readonly=on",
        "-device", "virtio-9p-pci,fsdev=labfs,mount_tag=lab",
        "-device", "virtio-rng-pci",
        "-serial", f"file:{state / 'console.log'}",
        "-pidfile", str(state / "qemu.pid"),
        "-daemonize",
    ]


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def names_state(argv: list[str], state: str, ctl: str) -> bool:
    """Whether a command line belongs to the lab whose state folder is `state` (ending in "/"), so that
    `.../state/` never matches `.../state-dyn/`."""
    return any(state in a or ctl in a for a in argv)


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def remote_command(cmd: str | Sequence[str], host: str | None = None, timeout: float | None = None) -> str:
    """The shell string run in the guest: CMD (a shell string, or argv to quote), in netns HOST,
    bounded by coreutils `timeout` so nothing lingers in the guest after a client-side timeout."""
    script = cmd if isinstance(cmd, str) else shlex.join(cmd)
    argv = ["sh", "-c", script]
    if host:
        argv = ["ip", "netns", "exec", host] + argv
    if timeout:
        argv = ["timeout", "-k", "3", f"{timeout:g}"] + argv
    return shlex.join(argv)


class LabVM:
    """The lab VM named by a state folder."""

    def __init__(self, state: Path | str | None = None, progress=print):
        self.state = Path(state) if state else state_dir()
        self.progress = progress or (lambda msg: None)

    # -- files ---------------------------------------------------------------------------------------
    @property
    def pidfile(self) -> Path:
        return self.state / "qemu.pid"

    @property
    def console(self) -> Path:
        return self.state / "console.log"

    @property
    def lockfile(self) -> Path:
        return self.state / "lock"

    @property
    def control_path(self) -> Path:
        p = self.state / "ssh.ctl"
        if len(str(p)) > 90:  # unix socket paths are short
            p = Path("/tmp") / f"lbc-{hashlib.sha256(str(p).encode()).hexdigest()[:12]}.ctl"
        return p

    def _image(self) -> image_mod.Image | None:
        try:
            return image_mod.Image.load(Path((self.state / "image").read_text().strip()))
        except OSError:
            return None

    def port(self) -> int | None:
        return _read_int(self.state / "ssh.port")

    # -- process -------------------------------------------------------------------------------------
    def _ours(self, pid: int) -> bool:
        """True when `pid` is a live qemu started with this state folder's pidfile."""
        argv = _cmdline(pid)
        return bool(argv) and Path(argv[0]).name == QEMU and str(self.pidfile) in argv and _alive(pid)

    def pid(self) -> int | None:
        """The PID of our running qemu, or None."""
        pid = _read_int(self.pidfile)
        return pid if pid and self._ours(pid) else None

    def _master_pid(self) -> int | None:
        pid = _read_int(self.state / "ssh-master.pid")
        if pid and _alive(pid):
            argv = _cmdline(pid)
            if argv and Path(argv[0]).name == "ssh" and any(str(self.control_path) in a for a in argv):
                return pid
        return None

    @contextmanager
    def _lock(self) -> Iterator[None]:
        self.state.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lockfile, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            deadline = time.monotonic() + LOCK_TIMEOUT
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise LabError("lock", f"{self.lockfile} held by another lbconformance for "
                                               f"{LOCK_TIMEOUT} s") from None
                    time.sleep(0.2)
            os.write(fd, f"{os.getpid()}\n".encode())
            yield
        finally:
            os.close(fd)

    # -- ssh -----------------------------------------------------------------------------------------
    def ssh_argv(self, img: image_mod.Image | None = None, port: int | None = None) -> list[str]:
        img = img or self._image()
        port = port or self.port()
        if img is None or port is None:
            raise LabError("ssh", "the lab is not up (run `lbconformance lab up`)")
        return [
            "ssh", "-F", "/dev/null", "-i", str(img.ssh_key), "-p", str(port),
            "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", f"UserKnownHostsFile={img.known_hosts}", "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", f"HostKeyAlias={image_mod.HOSTKEY_ALIAS}", "-o", "StrictHostKeyChecking=yes",
            "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10",
            "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=6",
            "-o", f"ControlPath={self.control_path}",
            "root@127.0.0.1",
        ]

    def _start_master(self, img: image_mod.Image, port: int) -> None:
        argv = self.ssh_argv(img, port)
        cmd = argv[:-1] + ["-M", "-N", "-f", "-o", "ControlMaster=yes", "-o", "ControlPersist=yes", argv[-1]]
        log = self.state / "ssh.log"
        with open(log, "ab") as fh:
            try:
                rc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=fh,
                                    timeout=SSH_TIMEOUT).returncode
            except subprocess.TimeoutExpired:
                rc = -1
        if rc != 0:
            raise LabError("ssh", f"could not open the ssh connection to 127.0.0.1:{port} (rc {rc})",
                           log_tail(log, 5) + ["--- console ---"] + log_tail(self.console, 15), self.console)
        check = subprocess.run(argv[:-1] + ["-O", "check", argv[-1]], capture_output=True, text=True,
                               timeout=10)
        text = check.stdout + check.stderr
        if "pid=" in text:
            (self.state / "ssh-master.pid").write_text(text.split("pid=", 1)[1].split(")")[0] + "\n")

    def run(self, cmd: str | Sequence[str], host: str | None = None, timeout: float = 60,
            input: str | None = None, check: bool = False) -> Result:
        """Run CMD in the guest (in network namespace HOST if given) over the persistent connection.

        CMD is a shell string, or an argv list that gets quoted. Returns Result(rc, stdout, stderr);
        rc 255 means ssh itself failed, 124 that `timeout` fired. check=True raises LabError on rc != 0.
        """
        argv = self.ssh_argv()
        if not self.control_path.exists() and self.pid():
            with self._lock():
                if not self.control_path.exists():
                    self._start_master(self._image(), self.port())
        argv = argv[:-1] + ["-o", "ControlMaster=no", argv[-1], remote_command(cmd, host, timeout)]
        try:
            proc = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout + 15,
                                  stdin=None if input is not None else subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise LabError("ssh", f"command timed out after {timeout:g} s: {cmd}") from None
        res = Result(proc.returncode, proc.stdout, proc.stderr)
        if check and res.rc != 0:
            raise LabError("ssh", f"command exited {res.rc}: {cmd}", res.stderr.splitlines()[-10:])
        return res

    # -- lifecycle -----------------------------------------------------------------------------------
    def up(self, rebuild: bool = False) -> bool:
        """Build (if needed) and boot the VM, wait for ssh. Returns False when it was already up."""
        t0 = time.monotonic()
        with self._lock():
            pid = self.pid()
            if pid and not rebuild:
                if self.run("true", timeout=20).rc == 0:
                    self.progress(f"up: already running (pid {pid}, ssh port {self.port()}); nothing to do")
                    return False
                self.progress(f"up: qemu pid {pid} does not answer ssh; restarting it")
            if pid or self.pidfile.exists():
                self._stop()
            if not shutil.which(QEMU):
                raise LabError("boot", f"{QEMU} not found on the host; run `make host-deps`")
            img = image_mod.ensure(self.progress, rebuild=rebuild)
            self._boot(img)
            self.progress(f"up: lab ready in {time.monotonic() - t0:.1f} s "
                          f"(pid {self.pid()}, ssh 127.0.0.1:{self.port()})")
            return True

    def _boot(self, img: image_mod.Image, initrd: Path | None = None, retry: bool = False) -> None:
        if self.console.exists():
            self.console.replace(self.state / "console.prev.log")
        qlog = self.state / "qemu.log"
        for attempt in range(3):
            port = free_port()
            cmd = qemu_command(img, initrd or img.initrd, port, self.state, image_mod.SHARE_DIR)
            self.progress(f"boot: qemu (TCG, {CPUS} vCPUs, {MEMORY_MB} MB), ssh forward 127.0.0.1:{port}")
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=QEMU_START_TIMEOUT,
                                      stdin=subprocess.DEVNULL)
            except subprocess.TimeoutExpired:
                raise LabError("boot", f"qemu did not daemonize within {QEMU_START_TIMEOUT} s") from None
            qlog.write_text(" ".join(shlex.quote(c) for c in cmd) + "\n" + proc.stdout + proc.stderr)
            if proc.returncode == 0:
                break
            if "host forwarding" in proc.stderr and attempt < 2:
                continue  # the port was taken in between; try another
            raise LabError("boot", f"qemu exited {proc.returncode}: {proc.stderr.strip().splitlines()[-1:]}",
                           log_tail(qlog), qlog)
        (self.state / "ssh.port").write_text(f"{port}\n")
        (self.state / "image").write_text(f"{img.dir}\n")
        try:
            self._wait_ssh(img, port)
        except _SilentGuest as e:
            self._stop()
            if retry:
                raise LabError("boot", f"{e} (twice)", log_tail(qlog), qlog) from None
            self.progress(f"boot: {e}; stopping it and booting once more")
            self._boot(img, initrd, retry=True)
        except BaseException:
            self._stop()
            raise

    def _wait_ssh(self, img: image_mod.Image, port: int) -> None:
        """Wait for the guest's sshd, then for its init to finish; _SilentGuest when it never started."""
        t0 = time.monotonic()
        deadline = t0 + BOOT_TIMEOUT
        pid = None
        while pid is None and time.monotonic() < t0 + 5:
            pid = self.pid()
            if pid is None:
                time.sleep(0.05)
        if pid is None:
            raise LabError("boot", "qemu daemonized but left no live PID in its pidfile",
                           log_tail(self.console), self.console)
        self.progress(f"boot: qemu pid {pid}; waiting for the guest's sshd")
        while True:
            if not _alive(pid):
                raise LabError("boot", "qemu exited during boot (kernel panic or init failure)",
                               log_tail(self.console), self.console)
            text = "\n".join(log_tail(self.console, 40))
            for bad in ("Kernel panic", "lbc-initrd: FATAL", "sshd FAILED"):
                if bad in text:
                    raise LabError("boot", f"guest reported {bad!r}", log_tail(self.console), self.console)
            if _banner(port):
                break
            if time.monotonic() > t0 + SILENT_GUEST_TIMEOUT and not _size(self.console):
                raise _SilentGuest(f"qemu pid {pid} wrote nothing to the console in {SILENT_GUEST_TIMEOUT} s")
            if time.monotonic() > deadline:
                raise LabError("boot", f"no sshd banner on 127.0.0.1:{port} after {BOOT_TIMEOUT} s",
                               log_tail(self.console), self.console)
            time.sleep(0.3)
        self.progress(f"boot: sshd answers after {time.monotonic() - t0:.1f} s; opening the persistent connection")
        self._start_master(img, port)
        res = self.run("i=0; while [ ! -e /run/lbc-ready ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; "
                       "test -e /run/lbc-ready || exit 10; grep -q ' /lab 9p ' /proc/mounts || exit 11",
                       timeout=SSH_TIMEOUT)
        if res.rc in (10, 11):
            what = "PID 1 never finished (/run/lbc-ready)" if res.rc == 10 else "the 9p share is not mounted"
            raise LabError("boot", what, log_tail(self.console), self.console)
        if res.rc != 0:
            raise LabError("ssh", f"first command over ssh exited {res.rc}: {res.stderr.strip()[:200]}",
                           log_tail(self.console), self.console)

    def _stop(self) -> None:
        """Stop the ssh master and qemu (by their PIDs) and drop the runtime files; keeps logs and lock."""
        ctl = self.control_path
        master = self._master_pid()
        if ctl.exists():
            try:
                argv = self.ssh_argv()
                subprocess.run(argv[:-1] + ["-O", "exit", argv[-1]], capture_output=True, timeout=5)
            except (LabError, subprocess.TimeoutExpired):
                pass
        pid = self.pid()
        for p, _name in ((pid, "qemu"), (master, "ssh")):
            if p is None:
                continue
            _signal(p, signal.SIGTERM)
        for p in (pid, master):
            if p is not None and not _wait_gone(p, STOP_TIMEOUT):
                _signal(p, signal.SIGKILL)
                _wait_gone(p, 2)
        for name in ("qemu.pid", "ssh.port", "ssh-master.pid", "image"):
            (self.state / name).unlink(missing_ok=True)
        ctl.unlink(missing_ok=True)

    def down(self) -> float:
        """Stop the VM and verify nothing is left behind. Returns seconds taken; LabError if leftovers."""
        t0 = time.monotonic()
        if not self.state.exists():
            self.progress("down: the lab is not running")
            return 0.0
        with self._lock():
            pid = self.pid()
            self._stop()
            left = self.leftovers()
            if left:
                raise LabError("down", "left behind: " + "; ".join(left))
            self.lockfile.unlink(missing_ok=True)
        dt = time.monotonic() - t0
        self.progress(f"down: {'stopped qemu pid ' + str(pid) if pid else 'the lab is not running'}; "
                      f"nothing left ({dt:.1f} s)")
        return dt

    def leftovers(self, include_lock: bool = False) -> list[str]:
        """What of this lab still exists: processes that name the state folder, mounts under the state
        or cache build folders, runtime files, the lock (if asked)."""
        left = []
        state = str(self.state).rstrip("/") + "/"  # with the slash: `state` must not match `state-dyn`
        ctl = str(self.control_path)
        for d in Path("/proc").iterdir():
            if not d.name.isdigit() or int(d.name) == os.getpid():
                continue
            argv = _cmdline(int(d.name))
            if argv and Path(argv[0]).name in (QEMU, "ssh") and names_state(argv, state, ctl):
                if _alive(int(d.name)):
                    left.append(f"process {d.name} ({Path(argv[0]).name})")
        roots = (state, str(image_mod.cache_dir() / "images") + "/")
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            mnt = line.split()[4] + "/"
            if mnt.startswith(roots):
                left.append(f"mount {mnt[:-1]}")
        for name in ("qemu.pid", "ssh.port", "ssh-master.pid"):
            if (self.state / name).exists():
                left.append(f"file {self.state / name}")
        if Path(ctl).exists():
            left.append(f"socket {ctl}")
        if include_lock and self.lockfile.exists():
            left.append(f"lock {self.lockfile}")
        return left

    def status(self) -> dict:
        """Whether the VM runs, and its PID, ssh port, qemu RSS, uptime, kernel and image."""
        pid = self.pid()
        st: dict = {"running": pid is not None, "state": str(self.state)}
        if pid is None:
            return st
        img = self._image()
        st.update(pid=pid, port=self.port(), image=str(img.dir) if img else None,
                  rss_mb=_rss_mb(pid), uptime_s=round(time.time() - self.pidfile.stat().st_mtime, 1))
        res = self.run("uname -r; cat /proc/uptime", timeout=20)
        if res.rc == 0 and res.stdout.split():
            st["kernel"] = res.stdout.split()[0]
            st["guest_uptime_s"] = float(res.stdout.split()[1])
        else:
            st["ssh_error"] = (res.stderr.strip() or f"rc {res.rc}")[:200]
        return st


def _banner(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.settimeout(2)
            return s.recv(8).startswith(b"SSH-")
    except OSError:
        return False


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return not _alive(pid)


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


class _SilentGuest(Exception):
    """qemu runs but the guest printed nothing: it never started (a TCG start-up hang; booting again helps)."""


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
