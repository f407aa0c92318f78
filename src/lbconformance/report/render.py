"""Write every format of a run folder, and re-render them from a saved run.

    reports/<UTC>-<run id>/
      results.json   the machine-readable verdict (report/results.py)
      junit.xml      xunit1 JUnit (report/junit.py)
      report.html    the sign-off page (report/html.py, plots from report/plots.py)
      summary.md     a page of Markdown (report/summary.py)
      evidence/      the raw facts the verdicts used, redacted (report/evidence.py)

Everything written goes through report/redact.py. Target-agnostic: the inputs are the results, the
run's metadata, the catalog and (when there is one) a folder laid out as a snapshot.
"""
from __future__ import annotations

import json
from pathlib import Path

from lbconformance.report import evidence, html, junit, plots, summary
from lbconformance.report.environment import fingerprint
from lbconformance.report.redact import redact, redact_obj
from lbconformance.report.results import CheckResult, read_results, write_results

FORMATS = ("results.json", "junit.xml", "report.html", "summary.md")


def requirement_info(catalog: dict, results: list[CheckResult]) -> dict:
    """The catalog entries a run's results name, as plain data (for re-rendering without the catalog)."""
    out = {}
    for rid in sorted({r.requirement for r in results}):
        req = catalog.get(rid)
        if req is not None:
            out[rid] = dict(area=req.area, must=req.must, seed=req.seed, scope=list(req.scope), kind=req.kind,
                            severity=req.severity, remediation=req.remediation)
    return out


def write_run(run_dir: str | Path, meta: dict, results: list[CheckResult], *, catalog: dict | None = None,
              snapshot_root: str | Path | None = None, snapshot_meta: dict | None = None) -> Path:
    """At the end of a run: copy evidence, fingerprint the environment, write every format."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    meta = dict(meta)
    if catalog is not None:
        meta["requirements"] = requirement_info(catalog, results)
    if snapshot_root is not None and Path(snapshot_root).is_dir():
        ev = evidence.copy_evidence(snapshot_root, run_dir, results)
        meta["environment"] = fingerprint(ev)
    else:
        meta.setdefault("environment", {})
    if snapshot_meta:
        meta["snapshot_meta"] = {k: snapshot_meta.get(k) for k in ("collected_at", "tool_version", "target", "profile")}
    meta = redact_obj(meta)
    results = [CheckResult(**redact_obj(r.__dict__)) for r in results]
    write_results(run_dir, meta, results)
    return render_run(run_dir)


def render_run(run_dir: str | Path) -> Path:
    """Re-render junit.xml, report.html and summary.md from results.json (no target needed)."""
    run_dir = Path(run_dir)
    meta, results = read_results(run_dir)
    if not meta.get("environment") and (run_dir / evidence.EVIDENCE).is_dir():
        meta["environment"] = fingerprint(run_dir / evidence.EVIDENCE)
    junit.write_junit(run_dir / "junit.xml", meta, results)
    (run_dir / "summary.md").write_text(redact(summary.render(meta, results)))
    page = html.render(meta, results, run_dir, plots.render_all(results))
    (run_dir / "report.html").write_text(redact(page))
    return run_dir


def write_setup_failure(run_dir: str | Path, meta: dict, reason: str, junitxml: str | None = None) -> Path:
    """Target setup or collection failed: every format still exists, with a failing 'setup' case."""
    results = [junit.setup_failure(reason)]
    run_dir = write_run(run_dir, meta, results)
    if junitxml:
        junit.write_junit(junitxml, json.loads((run_dir / "results.json").read_text()), results)
    return run_dir
