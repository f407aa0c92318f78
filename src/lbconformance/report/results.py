"""Per-check results and the overall verdict (design.md §3)."""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lbconformance.verdict import SCOPE_PREFIX

OUTCOMES = ("passed", "failed", "error", "skipped", "waived", "warning")
EXIT_CODES = {"PASS": 0, "FAIL": 1, "INCOMPLETE": 6}
EXIT_USAGE = 4


@dataclass
class CheckResult:
    """One check on one target."""

    nodeid: str
    requirement: str
    area: str = ""
    target: str = ""
    outcome: str = "passed"
    message: str = ""
    expected: str = ""
    observed: str = ""
    where: str = ""
    evidence: list[str] = field(default_factory=list)
    duration: float = 0.0
    waiver: dict | None = None
    samples: dict = field(default_factory=dict)  # name -> {unit, kind, sla, label, values} (report/measure.py)

    @property
    def scope_skip(self) -> bool:
        return self.outcome == "skipped" and self.message.startswith(SCOPE_PREFIX)


def verdict(results: list[CheckResult]) -> str:
    """FAIL if any required check failed; INCOMPLETE if any errored or was skipped for a reason
    other than scope; otherwise PASS. Waived and advisory (warning) results never change it."""
    if any(r.outcome == "failed" for r in results):
        return "FAIL"
    if any(r.outcome == "error" or (r.outcome == "skipped" and not r.scope_skip) for r in results):
        return "INCOMPLETE"
    return "PASS"


def write_results(run_dir: Path, meta: dict, results: list[CheckResult]) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    counts = {o: sum(1 for r in results if r.outcome == o) for o in OUTCOMES}
    counts["skipped_scope"] = sum(1 for r in results if r.scope_skip)
    doc = dict(meta, verdict=verdict(results), counts=counts, written=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               results=[asdict(r) for r in sorted(results, key=lambda r: (r.requirement, r.target, r.nodeid))])
    path = run_dir / "results.json"
    path.write_text(json.dumps(doc, indent=2, sort_keys=False) + "\n")
    return path


def read_results(run_dir: Path) -> tuple[dict, list[CheckResult]]:
    doc = json.loads((Path(run_dir) / "results.json").read_text())
    known = set(CheckResult.__dataclass_fields__)
    results = [CheckResult(**{k: v for k, v in r.items() if k in known}) for r in doc.pop("results")]
    return doc, results
