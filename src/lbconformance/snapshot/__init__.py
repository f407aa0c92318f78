"""The snapshot contract: a folder of raw facts that every static check reads (docs/snapshot.md)."""
from __future__ import annotations

import json
from pathlib import Path

from lbconformance.targets.inventory import Inventory, load_inventory

META = "meta.json"
INVENTORY = "inventory.yaml"


class MissingFact(Exception):
    """A fact the check needs is not in the snapshot: the check errors, naming the file."""

    def __init__(self, host: str, name: str, path: Path, detail: str = ""):
        self.host, self.name, self.path = host, name, path
        super().__init__(f"{host}: missing {name} ({path}){': ' + detail if detail else ''}")


class FactAbsent(Exception):
    """The snapshot declares that its source never had this fact (e.g. not printed in the seed)."""

    def __init__(self, host: str, name: str, reason: str):
        self.host, self.name, self.reason = host, name, reason
        super().__init__(f"{reason}: {name} of {host}")


class Snapshot:
    """Read access to a snapshot folder. Raw files stay raw: they are the evidence."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        meta_path = self.root / META
        try:
            self.meta = json.loads(meta_path.read_text())
        except OSError as e:
            raise MissingFact("snapshot", META, meta_path, e.strerror) from None
        except json.JSONDecodeError as e:
            raise MissingFact("snapshot", META, meta_path, f"invalid JSON at line {e.lineno}: {e.msg}") from None
        self.inventory: Inventory = load_inventory(self.root / INVENTORY)
        self.absent: dict[str, str] = self.meta.get("absent", {})
        self.errors: dict[str, str] = self.meta.get("errors", {})

    def path(self, host: str, name: str) -> Path:
        return self.root / self.evidence(host, name)

    def evidence(self, host: str, name: str) -> str:
        """The snapshot-relative path of a fact, for failure messages and reports.
        Services are pseudo-hosts named `services/<service>`."""
        return str(Path(host if host.startswith("services/") else Path("hosts") / host) / name)

    def has(self, host: str, name: str) -> bool:
        return self.path(host, name).is_file()

    def _absent_reason(self, host: str, name: str) -> str | None:
        for key in (f"{host}/{name}", name, f"{host}/*", f"{host.split('/')[0]}/*"):
            if key in self.absent:
                return self.absent[key]
        return None

    def text(self, host: str, name: str) -> str:
        """The raw text of a fact; MissingFact (an error) or FactAbsent (a declared gap) otherwise."""
        p = self.path(host, name)
        try:
            return p.read_text()
        except FileNotFoundError:
            reason = self._absent_reason(host, name)
            if reason:
                raise FactAbsent(host, name, reason) from None
            error = self.errors.get(f"{host}/{name}") or self.errors.get(f"{host}/*")
            raise MissingFact(host, name, p, f"not collected: {error}" if error else "") from None
        except OSError as e:
            raise MissingFact(host, name, p, e.strerror) from None
