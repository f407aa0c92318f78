"""The environment fingerprint on the sign-off page: per host, what the snapshot says it runs.

Read from any folder laid out as a snapshot (`hosts/<host>/<fact>`): the snapshot itself at the end
of a run, or the run folder's `evidence/` when `lbconformance report DIR` re-renders a saved run.
A fact the snapshot does not have shows as "not collected".
"""
from __future__ import annotations

from pathlib import Path

from lbconformance.parse.errors import ParseError
from lbconformance.parse.host import parse_cpu_list, parse_ethtool_channels, parse_ethtool_driver

NOT_COLLECTED = "not collected"
COMPONENTS = ("keepalived", "ipvsadm", "exabgp", "gobgp", "frr")


def parse_versions(text: str) -> dict[str, str]:
    """`versions.txt` (docs/snapshot.md): one `name version` per line; `#` comments and blanks ignored."""
    out = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, version = line.partition(" ")
        out[name.strip().lower()] = version.strip() or NOT_COLLECTED
    return out


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError):
        return None


def host_fingerprint(host_dir: Path) -> dict:
    """kernel, component versions, NIC driver and queues, CPU count of one host."""
    fp: dict = {"kernel": NOT_COLLECTED, "versions": {c: NOT_COLLECTED for c in COMPONENTS},
                "nic_driver": NOT_COLLECTED, "nic_queues": NOT_COLLECTED, "cpus": NOT_COLLECTED}
    text = _read(host_dir / "uname-r.txt")
    if text and text.strip():
        fp["kernel"] = text.strip().splitlines()[0]
    texts = [x for x in (_read(host_dir / "versions.txt"), _read(host_dir / "ipvs" / "versions.txt"),
                         _read(host_dir / "exabgp" / "versions.txt")) if x is not None]  # a pod: per container
    if texts:
        found = {}
        for text in texts:
            found.update(parse_versions(text))
        fp["versions"] = {c: found.get(c, NOT_COLLECTED) for c in COMPONENTS}
        fp["versions"].update({k: v for k, v in found.items() if k not in COMPONENTS})
    text = _read(host_dir / "ethtool-i.txt")
    if text is not None:
        try:
            d = parse_ethtool_driver(text, "ethtool-i.txt")
            fp["nic_driver"] = d.driver + (f" {d.version}" if d.version else "")
        except ParseError as e:
            fp["nic_driver"] = f"unreadable ({e})"
    text = _read(host_dir / "ethtool-l.txt")
    if text is not None:
        try:
            c = parse_ethtool_channels(text, "ethtool-l.txt")
            parts = [f"{k} {v}" for k, v in (("rx", c.rx), ("tx", c.tx), ("combined", c.combined)) if v is not None]
            fp["nic_queues"] = (f"{c.interface}: " if c.interface else "") + (", ".join(parts) or "n/a")
        except ParseError as e:
            fp["nic_queues"] = f"unreadable ({e})"
    text = _read(host_dir / "files" / "sys" / "devices" / "system" / "cpu" / "online")
    if text is not None:
        try:
            fp["cpus"] = str(len(parse_cpu_list(text, "cpu/online").cpus))
        except ParseError as e:
            fp["cpus"] = f"unreadable ({e})"
    return fp


def fingerprint(root: str | Path) -> dict[str, dict]:
    """host -> fingerprint, for every `hosts/<host>/` under `root`."""
    hosts = Path(root) / "hosts"
    if not hosts.is_dir():
        return {}
    return {d.name: host_fingerprint(d) for d in sorted(hosts.iterdir()) if d.is_dir()}
