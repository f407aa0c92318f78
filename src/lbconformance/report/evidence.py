"""The run folder's `evidence/`: the raw outputs each verdict used, copied (redacted) from the snapshot.

Layout mirrors the snapshot (`evidence/hosts/<host>/<fact>`), so a result's evidence path
`hosts/<host>/<fact>` links to `evidence/hosts/<host>/<fact>`. Copied: every path a result names
(its evidence list and any snapshot path in `where`), plus every fact of each host or service a
check ran on (a passing check records no paths, yet its verdict rests on those facts), plus the
snapshot's meta.json and inventory.yaml.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from lbconformance.report.redact import redact_bytes
from lbconformance.report.results import CheckResult

EVIDENCE = "evidence"
_PATH = re.compile(r"(?:hosts|services)/[\w.@:+-]+(?:/[\w.@:+,-]+)*")


def referenced_paths(result: CheckResult) -> list[str]:
    """Snapshot-relative paths a result names, in order, without duplicates."""
    seen: dict[str, None] = {}
    for p in result.evidence:
        seen.setdefault(str(p), None)
    for m in _PATH.finditer(result.where or ""):
        seen.setdefault(m.group(0), None)
    return list(seen)


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(redact_bytes(src.read_bytes()))


def copy_evidence(snapshot_root: str | Path, run_dir: str | Path, results: list[CheckResult]) -> Path:
    """Copy what the results rest on into run_dir/evidence/ (text redacted). Returns the folder."""
    src_root = Path(snapshot_root).resolve()
    out = Path(run_dir) / EVIDENCE
    out.mkdir(parents=True, exist_ok=True)
    wanted: set[str] = {"meta.json", "inventory.yaml"}
    for r in results:
        wanted.update(referenced_paths(r))
        if r.target:
            for base in (f"hosts/{r.target}", f"services/{r.target}"):
                if (src_root / base).is_dir():
                    wanted.add(base)
    for rel in sorted(wanted):
        src = (src_root / rel).resolve()
        if src_root not in src.parents and src != src_root:
            continue  # never copy outside the snapshot
        if src.is_dir():
            for f in sorted(src.rglob("*")):
                if f.is_file() and not f.is_symlink():
                    _copy(f, out / f.relative_to(src_root))
        elif src.is_file():
            _copy(src, out / rel)
    return out


def evidence_links(result: CheckResult, evidence_root: Path) -> list[str]:
    """Run-folder-relative links for a result: its named paths, else its target's folder."""
    links = [f"{EVIDENCE}/{p}" for p in referenced_paths(result) if (evidence_root / p).exists()]
    if not links and result.target:
        for base in (f"hosts/{result.target}", f"services/{result.target}"):
            if (evidence_root / base).is_dir():
                links.append(f"{EVIDENCE}/{base}/")
    return links


def remove(run_dir: Path) -> None:
    shutil.rmtree(Path(run_dir) / EVIDENCE, ignore_errors=True)
