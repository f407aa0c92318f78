"""Host facts: /proc/PID/status capabilities, /proc/PID/mountinfo, /proc/interrupts,
CPU masks (rps_cpus, smp_affinity), ``ethtool -i``/``-l`` and ``sysctl -a``."""
from __future__ import annotations

import re

from ..models import CAPABILITY_NAMES, ChannelCounts, CpuMask, DriverInfo, Interrupt, Mount, ProcStatus
from ._util import at, lines, parser, to_uint
from .errors import ParseError

_HEX = frozenset("0123456789abcdefABCDEF")


def capability_names(mask: int) -> frozenset[str]:
    """Names of the bits set in a capability mask (Linux numbering)."""
    return frozenset(CAPABILITY_NAMES[b] if b < len(CAPABILITY_NAMES) else f"CAP_{b}"
                     for b in range(mask.bit_length()) if mask >> b & 1)


@parser
def parse_proc_status(text: str, source: str) -> ProcStatus:
    """/proc/PID/status: the Cap* masks (hex) by name; Name, Pid, NoNewPrivs, Seccomp."""
    fields: dict[str, tuple[int, str]] = {}
    for n, line in lines(text):
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise ParseError(source, n, f"expected 'Key:\tvalue', got {line.strip()!r}")
        fields[key.strip()] = (n, value.strip())
    masks = {}
    for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        if key not in fields:
            if key == "CapAmb":  # absent before Linux 4.3
                masks[key] = 0
                continue
            raise ParseError(source, None, f"no {key} line")
        n, value = fields[key]
        if not value or not set(value) <= _HEX or len(value) > 16:
            raise ParseError(source, n, f"{key}: expected a hex mask, got {value!r}")
        masks[key] = int(value, 16)

    def opt_int(key: str) -> int | None:
        if key not in fields:
            return None
        n, value = fields[key]
        with at(source, n):
            return to_uint(value, key)

    nnp = opt_int("NoNewPrivs")
    return ProcStatus(
        name=fields["Name"][1] if "Name" in fields else None, pid=opt_int("Pid"),
        cap_inh=capability_names(masks["CapInh"]), cap_prm=capability_names(masks["CapPrm"]),
        cap_eff=capability_names(masks["CapEff"]), cap_bnd=capability_names(masks["CapBnd"]),
        cap_amb=capability_names(masks["CapAmb"]), cap_eff_mask=masks["CapEff"],
        cap_prm_mask=masks["CapPrm"], no_new_privs=None if nnp is None else bool(nnp),
        seccomp=opt_int("Seccomp"))


_OCTAL = re.compile(r"\\([0-7]{3})")


def _unescape(word: str) -> str:
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), word)


@parser
def parse_mountinfo(text: str, source: str) -> tuple[Mount, ...]:
    """/proc/PID/mountinfo (proc(5)): ``ID PARENT MAJ:MIN ROOT POINT OPTS [OPTIONAL...] -
    FSTYPE SOURCE SUPEROPTS``."""
    out = []
    for n, line in lines(text):
        if not line.strip():
            continue
        with at(source, n):
            w = line.split()
            if "-" not in w[6:]:
                raise ValueError("no ' - ' separator before the filesystem type")
            sep = w.index("-", 6)
            if len(w) < sep + 3:
                raise ValueError("expected FSTYPE SOURCE after ' - '")
            if not re.fullmatch(r"\d+:\d+", w[2]):
                raise ValueError(f"expected MAJOR:MINOR, got {w[2]!r}")
            out.append(Mount(
                mount_id=to_uint(w[0], "a mount id"), parent_id=to_uint(w[1], "a parent id"),
                device=w[2], root=_unescape(w[3]), mount_point=_unescape(w[4]),
                options=tuple(w[5].split(",")), optional_fields=tuple(w[6:sep]),
                fs_type=w[sep + 1], source=_unescape(w[sep + 2]),
                super_options=tuple(w[sep + 3].split(",")) if len(w) > sep + 3 else ()))
    return tuple(out)


@parser
def parse_interrupts(text: str, source: str) -> tuple[Interrupt, ...]:
    """/proc/interrupts: an optional ``CPU0 CPU1 ...`` header, then ``IRQ: counts... desc``.
    Also reads the seed's Fig 3.2 excerpt (``81: eth0-tx-0``, no counts, ``#`` comment)."""
    ncpu = None
    out = []
    for n, line in lines(text):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        words = s.split()
        if all(re.fullmatch(r"CPU\d+", w) for w in words):
            ncpu = len(words)
            continue
        irq, sep, rest = s.partition(":")
        if not sep or not irq or " " in irq:
            raise ParseError(source, n, f"expected 'IRQ: counts description', got {s!r}")
        words = rest.split()
        counts = []
        while words and words[0].isascii() and words[0].isdigit() and (ncpu is None or len(counts) < ncpu):
            counts.append(int(words.pop(0)))
        desc = " ".join(words)
        out.append(Interrupt(irq, tuple(counts), words[-1] if words else "", desc))
    return tuple(out)


@parser
def parse_cpu_mask(text: str, source: str) -> CpuMask:
    """A CPU bitmap as the kernel prints it: hex, comma-separated 32-bit words with the
    most significant first ("fefe", "00000000,0000fefe"). Compared as numbers."""
    s = text.strip()
    words = s.split(",")
    if not s or any(not w or len(w) > 8 or not set(w) <= _HEX for w in words):
        raise ParseError(source, 1, f"expected a hex CPU mask like 'fefe' or '00000000,0000fefe', got {s[:40]!r}")
    if len(text.strip().splitlines()) > 1:
        raise ParseError(source, 2, "a CPU mask is a single line")
    value = 0
    for w in words:
        value = value << 32 | int(w, 16)
    return CpuMask(frozenset(b for b in range(value.bit_length()) if value >> b & 1))


@parser
def parse_cpu_list(text: str, source: str) -> CpuMask:
    """A CPU list ("0-3,8", as in smp_affinity_list)."""
    s = text.strip()
    cpus: set[int] = set()
    if s:
        for part in s.split(","):
            with at(source, 1):
                a, dash, b = part.partition("-")
                lo = to_uint(a, "a CPU number")
                hi = to_uint(b, "a CPU number") if dash else lo
                if hi < lo or hi > 1 << 16:
                    raise ValueError(f"bad CPU range {part!r}")
                cpus.update(range(lo, hi + 1))
    return CpuMask(frozenset(cpus))


def _key_values(text: str, source: str) -> list[tuple[int, str, str]]:
    out = []
    for n, line in lines(text):
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep or not key.strip():
            raise ParseError(source, n, f"expected 'key: value', got {line.strip()!r}")
        out.append((n, key.strip(), value.strip()))
    return out


@parser
def parse_ethtool_driver(text: str, source: str) -> DriverInfo:
    """``ethtool -i IFACE``: driver, version, firmware-version, bus-info, ..."""
    kv = _key_values(text, source)
    d = {k: v for _, k, v in kv}
    if not d.get("driver"):
        raise ParseError(source, None if not kv else kv[0][0], "no 'driver:' line")
    return DriverInfo(d["driver"], d.get("version") or None, d.get("firmware-version") or None,
                      d.get("bus-info") or None, tuple((k, v) for _, k, v in kv))


@parser
def parse_ethtool_channels(text: str, source: str) -> ChannelCounts:
    """``ethtool -l IFACE``: "Pre-set maximums:" and "Current hardware settings:" sections
    of RX/TX/Other/Combined (``n/a`` -> None)."""
    iface = None
    section = None
    vals: dict[tuple[str, str], int | None] = {}
    for n, line in lines(text):
        s = line.strip()
        if not s:
            continue
        m = re.fullmatch(r"Channel parameters for (\S+):", s)
        if m:
            iface = m.group(1)
            continue
        if s == "Pre-set maximums:":
            section = "max"
            continue
        if s == "Current hardware settings:":
            section = "cur"
            continue
        key, sep, value = s.partition(":")
        key = key.strip().lower()
        if not sep or key not in ("rx", "tx", "other", "combined"):
            raise ParseError(source, n, f"unexpected line {s!r}")
        if section is None:
            raise ParseError(source, n, "channel count before a section header")
        value = value.strip()
        with at(source, n):
            vals[(section, key)] = None if value == "n/a" else to_uint(value, f"a {key} count")
    if not any(k[0] == "cur" for k in vals):
        raise ParseError(source, None, "no 'Current hardware settings:' section")
    g = vals.get
    return ChannelCounts(iface, g(("max", "rx")), g(("max", "tx")), g(("max", "other")), g(("max", "combined")),
                         g(("cur", "rx")), g(("cur", "tx")), g(("cur", "other")), g(("cur", "combined")))


@parser
def parse_sysctl(text: str, source: str) -> dict[str, str]:
    """``sysctl -a`` (``key = value``; tabs inside a value are kept) or ``key=value``
    lines (sysctl.conf; ``#``/``;`` comments)."""
    out: dict[str, str] = {}
    for n, line in lines(text):
        s = line.strip()
        if not s or s[0] in "#;":
            continue
        key, sep, value = s.partition("=")
        key = key.strip()
        if not sep or not key or " " in key:
            raise ParseError(source, n, f"expected 'key = value', got {s[:60]!r}")
        out[key] = value.strip()
    return out
