"""Write a snapshot folder (docs/snapshot.md): facts verbatim, failures recorded in meta.json."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from lbconformance import __version__
from lbconformance.snapshot import INVENTORY, META


class SnapshotWriter:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.errors: dict[str, str] = {}

    def fact(self, host: str, name: str, text: str) -> None:
        base = self.root if host.startswith("services/") else self.root / "hosts"
        path = base / host / name.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def error(self, host: str, name: str, message: str) -> None:
        """A fact that could not be collected; checks that need it report this as an error."""
        self.errors[f"{host}/{name}"] = message

    def finish(self, inventory_text: str, profile: str, target: str, extra: dict | None = None) -> None:
        (self.root / INVENTORY).write_text(inventory_text)
        meta = {"profile": profile, "collected_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "tool_version": __version__, "target": target, "absent": {}, "errors": self.errors}
        meta.update(extra or {})
        (self.root / META).write_text(json.dumps(meta, indent=2) + "\n")
