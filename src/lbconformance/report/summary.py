"""summary.md: the run in a page of Markdown (for a CI job summary or a ticket)."""
from __future__ import annotations

from lbconformance.report.junit import failure_message, waiver_text
from lbconformance.report.results import OUTCOMES, CheckResult, verdict

COLS = ("passed", "failed", "error", "skipped", "waived", "warning")


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render(meta: dict, results: list[CheckResult]) -> str:
    v = verdict(results)
    out = [f"# lbconformance: {v}", "",
           f"- run: `{meta.get('run_id', '')}`, started {meta.get('started', '')}, "
           f"{meta.get('duration_s', '')} s, tool {meta.get('tool_version', '')}",
           f"- target ({meta.get('target_kind', '')}): {meta.get('target', '')}",
           f"- profile: {meta.get('profile', '')}", ""]
    if meta.get("rerun_of"):
        out += [f"- rerun of the failures of `{meta['rerun_of']}`", ""]
    out += ["| area | " + " | ".join(COLS) + " |", "|---|" + "---:|" * len(COLS)]
    for area in sorted({r.area for r in results}):
        rs = [r for r in results if r.area == area]
        out.append(f"| {area} | " + " | ".join(str(sum(1 for r in rs if r.outcome == c)) for c in COLS) + " |")
    out.append("")
    bad = [r for r in results if r.outcome in ("failed", "error") or (r.outcome == "skipped" and not r.scope_skip)]
    if bad:
        out += ["## Not passed", "", "| requirement | target | outcome | detail |", "|---|---|---|---|"]
        for r in sorted(bad, key=lambda r: (r.requirement, r.target)):
            out.append(f"| {r.requirement} | {_cell(r.target)} | {r.outcome} | {_cell(failure_message(r))} |")
        out.append("")
    waived = [r for r in results if r.outcome == "waived"]
    if waived:
        out += ["## Waived", "", "| requirement | target | waiver | finding |", "|---|---|---|---|"]
        for r in sorted(waived, key=lambda r: (r.requirement, r.target)):
            out.append(f"| {r.requirement} | {_cell(r.target)} | {_cell(waiver_text(r.waiver))} | "
                       f"{_cell(failure_message(r))} |")
        out.append("")
    warn = [r for r in results if r.outcome == "warning"]
    if warn:
        out += ["## Advisory findings", ""] + [f"- {r.requirement} [{r.target}]: {failure_message(r)}" for r in warn] + [""]
    scope = sorted({(r.requirement, r.message) for r in results if r.scope_skip})
    if scope:
        out += [f"## Out of scope ({len(scope)})", ""] + [f"- {rid}: {msg.removeprefix('out of scope: ')}"
                                                          for rid, msg in scope] + [""]
    counts = ", ".join(f"{sum(1 for r in results if r.outcome == o)} {o}" for o in OUTCOMES)
    out += [f"Totals: {counts}.", ""]
    return "\n".join(out)
