"""The lab VM image: a Debian bookworm rootfs (debootstrap minbase + the lab packages + Debian's kernel),
an ext4 image of it made with `mke2fs -d` (no mounting), our own small initramfs, and an ssh key.

Everything is cached under `<cache>/images/<key>/`. The key hashes the package list, the kernel
version the host's apt lists announce for `linux-image-amd64`, and RECIPE (bump it when the build
changes). A rebuild happens only when the key changes. The initramfs is cheap and keyed separately
by the content of the boot scripts, so editing the PID 1 script needs no debootstrap.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from lbconformance.lab.errors import LabError, log_tail

RECIPE = "1"
SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
LAB_DIR = Path(__file__).resolve().parent
GUEST_DIR = LAB_DIR / "guest"
# The 9p share: the package source tree, so the VM runs the lab deployment and the controller from it
# (PYTHONPATH=/lab) and edits need no image rebuild.
SHARE_DIR = LAB_DIR.parent.parent
PACKAGES_FILE = LAB_DIR / "guest-packages.txt"
INITRD_INIT = LAB_DIR / "boot" / "initrd-init"
PID1 = GUEST_DIR / "init"
HOSTKEY_ALIAS = "lbconformance-lab"

# Timeouts (seconds) of the build phases.
DEBOOTSTRAP_TIMEOUT = 1200
MKE2FS_TIMEOUT = 300

# Modules for the initramfs; their dependencies come from modules.dep.
INITRD_MODULES = ["virtio_pci", "virtio_blk", "virtio_net", "crc32c_generic", "ext4", "9pnet_virtio", "9p"]
# Module trees not needed in a VM (keeps the image small and mke2fs fast).
PRUNE_MODULES = [
    "kernel/sound", "kernel/drivers/gpu", "kernel/drivers/media", "kernel/drivers/net/wireless",
    "kernel/drivers/infiniband", "kernel/drivers/staging", "kernel/drivers/bluetooth", "kernel/drivers/iio",
    "kernel/drivers/isdn", "kernel/drivers/usb", "kernel/drivers/input/touchscreen", "kernel/drivers/hwmon",
    "kernel/net/bluetooth", "kernel/net/wireless", "kernel/net/mac80211",
]
PRUNE_PATHS = ["usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "var/cache/apt",
               "var/lib/apt/lists", "boot"]

Progress = Callable[[str], None]


def cache_dir() -> Path:
    return Path(os.environ.get("LBCONFORMANCE_CACHE") or Path.home() / ".cache" / "lbconformance")


def read_list(path: Path) -> list[str]:
    """Entries of a one-per-line file, `#` comments and blanks dropped."""
    out = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out.append(line)
    return out


def guest_packages() -> list[str]:
    return read_list(PACKAGES_FILE)


def host_mirror(sources: list[Path] | None = None) -> str:
    """The Debian mirror the host's apt uses for `main` (deb822 .sources or one-line .list)."""
    if os.environ.get("LBCONFORMANCE_MIRROR"):
        return os.environ["LBCONFORMANCE_MIRROR"].rstrip("/")
    if sources is None:
        d = Path("/etc/apt/sources.list.d")
        sources = [Path("/etc/apt/sources.list")] + (sorted(d.glob("*")) if d.is_dir() else [])
    for path in sources:
        try:
            text = path.read_text()
        except OSError:
            continue
        for uri, suites in _source_entries(path, text):
            if re.match(r"https?://", uri) and SUITE in suites and "security" not in uri:
                return uri.rstrip("/")
    return DEFAULT_MIRROR


def _source_entries(path: Path, text: str) -> list[tuple[str, list[str]]]:
    entries = []
    if path.suffix == ".sources":
        for stanza in re.split(r"\n\s*\n", text):
            fields = {}
            for line in stanza.splitlines():
                m = re.match(r"^([A-Za-z-]+):\s*(.*)$", line)
                if m and not line.startswith("#"):
                    fields[m.group(1).lower()] = m.group(2).split()
            if "deb" in fields.get("types", []) and "main" in fields.get("components", []):
                entries += [(u, fields.get("suites", [])) for u in fields.get("uris", [])]
    else:
        for line in text.splitlines():
            parts = re.sub(r"\[[^]]*\]", "", line).split()
            if len(parts) >= 4 and parts[0] == "deb" and "main" in parts[3:]:
                entries.append((parts[1], [parts[2]]))
    return entries


def kernel_hint(mirror: str | None = None) -> str:
    """The kernel ABI (e.g. 6.1.0-50-amd64) that `linux-image-amd64` of SUITE itself (not -security or
    -updates, which debootstrap does not use) depends on, from the host's apt lists; 'unknown' if none."""
    try:
        madison = subprocess.run(["apt-cache", "madison", "linux-image-amd64"], capture_output=True,
                                 text=True, timeout=30).stdout
        for line in madison.splitlines():
            parts = [p.strip() for p in line.split("|")]
            if len(parts) == 3 and re.search(rf"\s{SUITE}/main\s", " " + parts[2] + " "):
                show = subprocess.run(["apt-cache", "show", f"linux-image-amd64={parts[1]}"],
                                      capture_output=True, text=True, timeout=30).stdout
                m = re.search(r"^Depends:.*?linux-image-(\d[\w.+-]*?-amd64)\b", show, re.M)
                if m:
                    return m.group(1)
    except (OSError, subprocess.TimeoutExpired):
        pass
    return "unknown"


def cache_key(packages: list[str], kernel: str, recipe: str = RECIPE) -> str:
    """Stable key of an image: the sorted package set, the kernel version and the recipe version."""
    blob = json.dumps({"recipe": recipe, "suite": SUITE, "packages": sorted(set(packages)), "kernel": kernel},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def initrd_key(kernel: str) -> str:
    h = hashlib.sha256(kernel.encode())
    for path in (INITRD_INIT, PID1):
        h.update(path.read_bytes())
    h.update(" ".join(INITRD_MODULES).encode())
    return h.hexdigest()[:12]


@dataclass
class Image:
    """A built image in the cache."""

    dir: Path
    key: str
    kernel: str

    @property
    def rootfs(self) -> Path:
        return self.dir / "rootfs.ext4"

    @property
    def vmlinuz(self) -> Path:
        return self.dir / "vmlinuz"

    @property
    def vmlinux(self) -> Path:
        return self.dir / "vmlinux"

    @property
    def boot_kernel(self) -> Path:
        """The uncompressed ELF kernel when extracted (qemu boots it via PVH: no decompression under
        TCG, about 3 s faster), else the bzImage."""
        return self.vmlinux if self.vmlinux.exists() else self.vmlinuz

    @property
    def ssh_key(self) -> Path:
        return self.dir / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.dir / "known_hosts"

    @property
    def initrd(self) -> Path:
        return self.dir / f"initrd-{initrd_key(self.kernel)}.img"

    @classmethod
    def load(cls, path: Path) -> Image | None:
        try:
            meta = json.loads((path / "meta.json").read_text())
        except (OSError, ValueError):
            return None
        img = cls(path, meta["key"], meta["kernel"])
        needed = [img.rootfs, img.vmlinuz, img.ssh_key, img.known_hosts]
        return img if all(p.exists() for p in needed) else None


def _run(phase: str, cmd: list[str], log: Path, timeout: float, **kw) -> None:
    """Run a build command, output appended to `log`; LabError(phase) on failure or timeout."""
    with open(log, "ab") as fh:
        fh.write(("\n$ " + " ".join(cmd) + "\n").encode())
        fh.flush()
        try:
            proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                  timeout=timeout, **kw)
        except subprocess.TimeoutExpired:
            raise LabError(phase, f"{cmd[0]} timed out after {timeout:.0f} s", log_tail(log), log) from None
        except FileNotFoundError:
            raise LabError(phase, f"{cmd[0]} not found on the host; run `make host-deps`") from None
    if proc.returncode != 0:
        tail = log_tail(log)
        missing = [line for line in tail if "Couldn't find these debs" in line]
        if missing:
            pkgs = missing[-1].split("debs:", 1)[-1].strip()
            raise LabError(phase, f"apt package(s) not found in Debian {SUITE}: {pkgs}", tail, log)
        raise LabError(phase, f"{cmd[0]} exited {proc.returncode}", tail, log)


def _umount_under(root: Path) -> None:
    """Unmount anything left mounted below `root` (debootstrap mounts proc/sys in its chroot)."""
    prefix = str(root.resolve()) + "/"
    for _ in range(3):
        mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
        left = sorted((m for m in mounts if (m + "/").startswith(prefix)), key=len, reverse=True)
        if not left:
            return
        for m in left:
            subprocess.run(["umount", "-l", m], capture_output=True, timeout=30)


def ensure(progress: Progress = print, rebuild: bool = False) -> Image:
    """The cached image for the current key; built first if missing."""
    packages = guest_packages()
    kernel = kernel_hint()
    key = cache_key(packages, kernel)
    images = cache_dir() / "images"
    img = None if rebuild else Image.load(images / key)
    if img is None:
        progress(f"image: building {key} ({len(packages)} packages, kernel {kernel}); takes 1-3 min")
        img = build(key, packages, progress)
    else:
        progress(f"image: cached {key} (kernel {img.kernel})")
    if not img.initrd.exists():
        make_initrd(img)
    if not img.vmlinux.exists():
        extract_vmlinux(img)
    return img


def extract_vmlinux(img: Image) -> Path | None:
    """Unpack the ELF vmlinux from Debian's xz-compressed bzImage; None (bzImage used) if not possible."""
    import lzma

    data = img.vmlinuz.read_bytes()
    i = data.find(b"\xfd7zXZ\x00")
    if i < 0:
        return None
    try:
        elf = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data[i:])
    except lzma.LZMAError:
        return None
    if not elf.startswith(b"\x7fELF"):
        return None
    tmp = img.vmlinux.with_suffix(".tmp")
    tmp.write_bytes(elf)
    tmp.rename(img.vmlinux)
    return img.vmlinux


def build(key: str, packages: list[str], progress: Progress = print) -> Image:
    images = cache_dir() / "images"
    images.mkdir(parents=True, exist_ok=True)
    debs = cache_dir() / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    for tool in ("debootstrap", "mke2fs", "ssh-keygen", "depmod", "chroot"):
        if not shutil.which(tool) and not Path("/usr/sbin", tool).exists():
            raise LabError("image", f"{tool} not found on the host; run `make host-deps`")
    work = Path(tempfile.mkdtemp(prefix=f"build-{key}-", dir=images))
    log = work / "build.log"
    root = work / "rootfs"
    out = work / "image"
    out.mkdir()
    env = dict(os.environ, INITRD="No", DEBIAN_FRONTEND="noninteractive", LC_ALL="C.UTF-8",
               PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    mirror = host_mirror()
    t0 = time.monotonic()
    try:
        progress(f"image: debootstrap {SUITE} minbase from {mirror}")
        _run("debootstrap", ["debootstrap", "--foreign", "--variant=minbase", f"--cache-dir={debs}",
                             "--include=" + ",".join(packages), SUITE, str(root), mirror],
             log, DEBOOTSTRAP_TIMEOUT, env=env)
        (root / "etc/dpkg/dpkg.cfg.d").mkdir(parents=True, exist_ok=True)
        (root / "etc/dpkg/dpkg.cfg.d/lbc-unsafe-io").write_text("force-unsafe-io\n")
        progress(f"image: debootstrap second stage (download done in {time.monotonic() - t0:.0f} s)")
        _run("debootstrap", ["chroot", str(root), "/debootstrap/debootstrap", "--second-stage"],
             log, DEBOOTSTRAP_TIMEOUT, env=env)
        _umount_under(root)
        progress(f"image: configure rootfs (debootstrap took {time.monotonic() - t0:.0f} s)")
        kernel = _configure(root, out, log)
        progress("image: mke2fs -d")
        size_mb = _du_mb(root) * 13 // 10 + 384
        _run("mke2fs", ["mke2fs", "-q", "-t", "ext4", "-L", "lbcroot", "-E", "lazy_itable_init=1",
                        "-d", str(root), "-F", str(out / "rootfs.ext4"), f"{size_mb}M"], log, MKE2FS_TIMEOUT)
        meta = {"key": key, "kernel": kernel, "packages": packages, "mirror": mirror, "recipe": RECIPE,
                "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "build_seconds": round(time.monotonic() - t0, 1)}
        (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        shutil.copy(log, out / "build.log")
        dest = images / key
        if dest.exists():
            shutil.rmtree(dest)
        out.rename(dest)
        progress(f"image: built {key} in {time.monotonic() - t0:.0f} s")
        img = Image.load(dest)
        assert img is not None
        return img
    except LabError as e:
        # Keep the log beside the cache for a post-mortem, drop the tree.
        if log.exists():
            shutil.copy(log, images / f"failed-{key}.log")
            e.log = images / f"failed-{key}.log"
        raise
    finally:
        _umount_under(work)
        shutil.rmtree(work, ignore_errors=True)


def _du_mb(path: Path) -> int:
    out = subprocess.run(["du", "-sxm", str(path)], capture_output=True, text=True, timeout=120).stdout
    return int(out.split()[0])


def _configure(root: Path, out: Path, log: Path) -> str:
    """Post-debootstrap setup of the tree; copies kernel, modules and keys to `out`. Returns the kernel."""
    kernels = sorted((root / "lib/modules").iterdir()) if (root / "lib/modules").is_dir() else []
    if not kernels:
        raise LabError("image", "no kernel in the rootfs (linux-image-amd64 missing?)", log_tail(log), log)
    kdir = kernels[-1]
    kernel = kdir.name
    shutil.copy(root / "boot" / f"vmlinuz-{kernel}", out / "vmlinuz")
    for rel in PRUNE_MODULES:
        shutil.rmtree(kdir / rel, ignore_errors=True)
    _run("image", ["depmod", "-b", str(root), kernel], log, 120)
    for rel in PRUNE_PATHS:
        shutil.rmtree(root / rel, ignore_errors=True)
    for d in ("boot", "var/cache/apt/archives/partial", "var/lib/apt/lists/partial"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "etc/dpkg/dpkg.cfg.d/lbc-unsafe-io").unlink(missing_ok=True)
    shutil.rmtree(root / "debootstrap", ignore_errors=True)
    # Identity, ssh, the 9p mount point.
    (root / "etc/hostname").write_text("lab\n")
    (root / "etc/hosts").write_text("127.0.0.1 localhost\n127.0.1.1 lab\n")
    (root / "etc/fstab").write_text("# the lab VM's PID 1 mounts everything itself\n")
    (root / "lab").mkdir(exist_ok=True)
    _run("image", ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "lbconformance-lab",
                   "-f", str(out / "id_ed25519")], log, 60)
    ssh = root / "root/.ssh"
    ssh.mkdir(mode=0o700, parents=True, exist_ok=True)
    shutil.copy(out / "id_ed25519.pub", ssh / "authorized_keys")
    os.chmod(ssh / "authorized_keys", 0o600)
    hostkey = (root / "etc/ssh/ssh_host_ed25519_key.pub").read_text().split()
    (out / "known_hosts").write_text(f"{HOSTKEY_ALIAS} {hostkey[0]} {hostkey[1]}\n")
    (root / "etc/ssh/sshd_config.d/lbconformance.conf").write_text(
        "# lbconformance lab: key-only root login, quick logins, many multiplexed sessions\n"
        "PermitRootLogin prohibit-password\nPasswordAuthentication no\nUsePAM no\nUseDNS no\n"
        "PrintMotd no\nPrintLastLog no\nMaxSessions 128\nMaxStartups 64:30:128\nClientAliveInterval 0\n")
    (root / "etc/motd").write_text("")
    return kernel


def modules_closure(modules_dep: str, wanted: list[str]) -> list[str]:
    """Relative paths of `wanted` modules and all their dependencies, dependencies first.
    `modules_dep` is the text of the kernel's modules.dep."""
    deps: dict[str, list[str]] = {}
    by_name: dict[str, str] = {}
    for line in modules_dep.splitlines():
        if ":" not in line:
            continue
        mod, rest = line.split(":", 1)
        deps[mod] = rest.split()
        name = Path(mod).name.split(".ko")[0]
        by_name[name] = mod
        by_name[name.replace("-", "_")] = mod
    order: list[str] = []

    def visit(mod: str) -> None:
        if mod in order:
            return
        for d in reversed(deps.get(mod, [])):  # modules.dep lists dependencies nearest-first
            visit(d)
        order.append(mod)

    for name in wanted:
        if name not in by_name:
            raise LabError("image", f"kernel module {name} not in modules.dep")
        visit(by_name[name])
    return order


def _debugfs(image: Path, commands: list[str], timeout: float = 120) -> str:
    """Run debugfs requests against an ext4 image, read-only (no mount)."""
    with tempfile.NamedTemporaryFile("w", suffix=".debugfs") as f:
        f.write("\n".join(commands) + "\n")
        f.flush()
        proc = subprocess.run(["debugfs", "-f", f.name, str(image)], capture_output=True, text=True,
                              timeout=timeout)
    if proc.returncode != 0:
        raise LabError("image", f"debugfs on {image} exited {proc.returncode}", proc.stderr.splitlines()[-5:])
    return proc.stdout


def make_initrd(img: Image) -> Path:
    """Our initramfs: static busybox, the stage-1 init, the PID 1 script, and the INITRD_MODULES (with
    their modules.dep closure) read out of rootfs.ext4 by debugfs. A gzip'd newc cpio."""
    busybox = Path("/bin/busybox")
    if not busybox.exists():
        raise LabError("image", "/bin/busybox not found; run `make host-deps` (busybox-static)")
    kdir = f"/lib/modules/{img.kernel}"
    dep_text = _debugfs(img.rootfs, [f"cat {kdir}/modules.dep"])
    order = modules_closure(dep_text, INITRD_MODULES)
    with tempfile.TemporaryDirectory(prefix="initrd-", dir=img.dir) as tmp:
        t = Path(tmp)
        for d in ("bin", "dev", "proc", "sys", "newroot", "modules"):
            (t / d).mkdir()
        shutil.copy(busybox, t / "bin/busybox")
        shutil.copy(INITRD_INIT, t / "init")
        shutil.copy(PID1, t / "lbc-init")
        os.chmod(t / "init", 0o755)
        os.chmod(t / "lbc-init", 0o755)
        _debugfs(img.rootfs, [f"dump {kdir}/{rel} {t / 'modules' / Path(rel).name}" for rel in order])
        names = [Path(rel).name for rel in order]
        missing = [n for n in names if not (t / "modules" / n).is_file()]
        if missing:
            raise LabError("image", f"could not read {missing} out of {img.rootfs}")
        (t / "modules.order").write_text("".join(n[: -len(".ko")] + "\n" for n in names))
        files = subprocess.run(["find", "."], cwd=t, capture_output=True, text=True, timeout=60,
                               check=True).stdout
        tmp_out = img.dir / (img.initrd.name + ".tmp")
        with open(tmp_out, "wb") as fh:
            cpio = subprocess.Popen(["cpio", "-o", "-H", "newc", "--quiet", "-R", "0:0"], cwd=t,
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            gz = subprocess.Popen(["gzip", "-1"], stdin=cpio.stdout, stdout=fh)
            assert cpio.stdin and cpio.stdout
            cpio.stdout.close()
            cpio.stdin.write(files.encode())
            cpio.stdin.close()
            if cpio.wait(timeout=60) != 0 or gz.wait(timeout=60) != 0:
                raise LabError("image", "cpio/gzip of the initramfs failed")
        tmp_out.rename(img.initrd)
    for old in img.dir.glob("initrd-*.img"):
        if old != img.initrd:
            old.unlink(missing_ok=True)
    return img.initrd
