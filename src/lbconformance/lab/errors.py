"""One error type for the lab: a phase, one clear line, and the tail of the relevant log."""
from __future__ import annotations

from pathlib import Path


class LabError(Exception):
    """A lab phase failed. `str()` is one line naming the phase; `tail` holds log lines for context."""

    def __init__(self, phase: str, message: str, tail: list[str] | None = None, log: Path | None = None):
        super().__init__(f"lab {phase} failed: {message}")
        self.phase = phase
        self.message = message
        self.tail = list(tail or [])
        self.log = log

    def format(self) -> str:
        lines = [str(self)]
        if self.tail:
            where = f" ({self.log})" if self.log else ""
            lines.append(f"--- last {len(self.tail)} lines of the log{where} ---")
            lines.extend("  " + line for line in self.tail)
        return "\n".join(lines)


def log_tail(path: Path | None, lines: int = 20) -> list[str]:
    """The last `lines` lines of a text file; [] when it does not exist. Control characters are dropped."""
    if path is None:
        return []
    try:
        data = Path(path).read_bytes()[-64 * 1024:]
    except OSError:
        return []
    text = data.decode("utf-8", "replace").replace("\r", "")
    out = ["".join(ch for ch in line if ch == "\t" or ch >= " ") for line in text.split("\n")]
    while out and not out[-1].strip():
        out.pop()
    return out[-lines:]
