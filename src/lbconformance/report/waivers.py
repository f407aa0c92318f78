"""Waivers: a signed-off acceptance of a known deviation, with an approver and an expiry."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from lbconformance import yamlfile
from lbconformance.yamlfile import InputError, field


@dataclass(frozen=True)
class Waiver:
    requirement: str
    target: str | None
    justification: str
    approver: str
    expires: dt.date
    source: str

    def expired(self, today: dt.date | None = None) -> bool:
        return (today or dt.date.today()) > self.expires

    def matches(self, requirement: str, target: str) -> bool:
        return self.requirement == requirement and (self.target is None or self.target == target)


def load_waivers(path: str | Path, known_ids: set[str] | None = None) -> list[Waiver]:
    """Load a waivers file; a malformed file stops the run with file and line."""
    doc = yamlfile.load(path)
    items = doc.get("waivers") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise InputError(path, yamlfile.line_of(doc) or 1, "expected a list of waivers (or a mapping with 'waivers:')")
    out = []
    for i, w in enumerate(items):
        where = f"waivers[{i}]"
        rid = field(path, w, "requirement", str, where=where)
        if known_ids is not None and rid not in known_ids:
            raise InputError(path, yamlfile.line_of(w, "requirement"), f"{where}.requirement: unknown requirement {rid!r}")
        expires = field(path, w, "expires", (dt.date, str), where=where)
        if isinstance(expires, str):
            try:
                expires = dt.date.fromisoformat(expires)
            except ValueError:
                raise InputError(path, yamlfile.line_of(w, "expires"),
                                 f"{where}.expires: {expires!r} is not a date (YYYY-MM-DD)") from None
        for key in ("justification", "approver"):
            if not str(field(path, w, key, str, where=where)).strip():
                raise InputError(path, yamlfile.line_of(w, key), f"{where}.{key}: must not be empty")
        out.append(Waiver(requirement=rid, target=field(path, w, "target", str, required=False, where=where),
                          justification=w["justification"], approver=w["approver"], expires=expires,
                          source=f"{path}:{yamlfile.line_of(w)}"))
    return out
