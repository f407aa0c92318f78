"""The real-server probe list the collectors write (docs/snapshot.md): `ADDRESS:PORT up|down [(reason)]`."""
from __future__ import annotations

from .errors import ParseError


def parse_probes(text: str, source: str) -> dict[tuple[str, int], bool]:
    """Map (address, port) -> True when a TCP connect from the LB pod succeeded."""
    out: dict[tuple[str, int], bool] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        words = line.split(None, 2)
        if len(words) < 2 or words[1] not in ("up", "down") or ":" not in words[0]:
            raise ParseError(source, n, f"expected 'ADDRESS:PORT up|down', got {line[:60]!r}")
        address, _, port = words[0].rpartition(":")
        if not port.isdigit() or not 0 < int(port) < 65536 or not address:
            raise ParseError(source, n, f"bad ADDRESS:PORT {words[0][:60]!r}")
        out[(address, int(port))] = words[1] == "up"
    return out
