"""report.html: the acceptance sign-off page. One self-contained file: inline CSS, PNG plots as data
URIs, no script, nothing fetched. Evidence links are relative (`evidence/...`) and only followed on click.
"""
from __future__ import annotations

from html import escape
from pathlib import Path

from lbconformance.report.environment import COMPONENTS, NOT_COLLECTED
from lbconformance.report.evidence import evidence_links
from lbconformance.report.junit import failure_message, waiver_text
from lbconformance.report.results import CheckResult, verdict

CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#222;max-width:1400px}
h1{margin:0 0 8px}h2{margin-top:28px;border-bottom:1px solid #ccc;padding-bottom:4px}
table{border-collapse:collapse;width:100%;margin:8px 0}
th,td{border:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.num{text-align:right}
.verdict{display:inline-block;padding:6px 18px;font-size:22px;font-weight:bold;border-radius:4px;color:#fff}
.PASS{background:#2e7d32}.FAIL{background:#c62828}.INCOMPLETE{background:#ef6c00}
.o{font-weight:bold;white-space:nowrap}
.o-passed{color:#2e7d32}.o-failed{color:#c62828}.o-error{color:#c62828}.o-skipped{color:#777}
.o-waived{color:#6a1b9a}.o-warning{color:#ef6c00}
tr.scope td{color:#888}
.small{font-size:12px;color:#555}.mono{font-family:ui-monospace,monospace;font-size:12px}
.signoff td{height:34px;width:75%}
figure{margin:12px 0}figure img{max-width:100%;border:1px solid #ddd}
"""


def _e(x) -> str:
    return escape(str(x if x is not None else ""))


def _meta_table(meta: dict) -> str:
    rows = [("verdict", meta.get("verdict", "")), ("run id", meta.get("run_id", "")),
            ("started (UTC)", meta.get("started", "")), ("duration", f"{meta.get('duration_s', '')} s"),
            ("tool version", meta.get("tool_version", "")), ("profile", meta.get("profile", "")),
            ("target", f"{meta.get('target_kind', '')}: {meta.get('target', '')}")]
    if meta.get("snapshot_meta"):
        sm = meta["snapshot_meta"]
        parts = [f"collected {sm['collected_at']}" if sm.get("collected_at") else "",
                 f"by {sm['tool_version']}" if sm.get("tool_version") else "", sm.get("target") or ""]
        if any(parts):
            rows.append(("snapshot", "; ".join(p for p in parts if p)))
    if meta.get("rerun_of"):
        rows.append(("rerun of", meta["rerun_of"]))
    return "<table id='run'>" + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows) + "</table>"


def _environment(env: dict) -> str:
    if not env:
        return "<p>No host facts in this run: every fingerprint field is <em>not collected</em>.</p>"
    extra = sorted({k for fp in env.values() for k in fp.get("versions", {}) if k not in COMPONENTS})
    comps = list(COMPONENTS) + extra
    head = "".join(f"<th>{_e(c)}</th>" for c in ["host", "kernel", *comps, "NIC driver", "NIC queues", "CPUs"])
    rows = []
    for host, fp in env.items():
        vals = [fp.get("kernel"), *[fp.get("versions", {}).get(c, NOT_COLLECTED) for c in comps],
                fp.get("nic_driver"), fp.get("nic_queues"), fp.get("cpus")]
        rows.append(f"<tr><td>{_e(host)}</td>" + "".join(
            f"<td class='{'small' if v == NOT_COLLECTED else 'mono'}'>{_e(v)}</td>" for v in vals) + "</tr>")
    return f"<table id='environment'><tr>{head}</tr>{''.join(rows)}</table>"


def _matrix(meta: dict, results: list[CheckResult], run_dir: Path) -> str:
    reqs = meta.get("requirements", {})
    ev_root = run_dir / "evidence"
    out = []
    for area in sorted({r.area for r in results}):
        rs = sorted((r for r in results if r.area == area), key=lambda r: (r.requirement, r.target, r.nodeid))
        out.append(f"<h3 id='area-{_e(area)}'>{_e(area)}</h3><table class='matrix' data-area='{_e(area)}'>"
                   "<tr><th>requirement</th><th>seed</th><th>scope</th><th>target</th><th>outcome</th>"
                   "<th>expected</th><th>observed</th><th>detail</th><th>evidence</th></tr>")
        for r in rs:
            req = reqs.get(r.requirement, {})
            detail = r.where if r.outcome in ("failed", "waived", "warning") and r.where else r.message
            if r.outcome == "waived":
                detail = f"{waiver_text(r.waiver)} — finding: {failure_message(r)}"
            links = " ".join(f"<a href='{_e(link)}'>{_e(link.removeprefix('evidence/'))}</a>"
                             for link in evidence_links(r, ev_root))
            scope = ", ".join(req.get("scope", [])) or ""
            out.append(
                f"<tr class='{'scope' if r.scope_skip else ''}'>"
                f"<td title='{_e(req.get('must', ''))}'><b>{_e(r.requirement)}</b>"
                f"<div class='small'>{_e(req.get('must', ''))}</div></td>"
                f"<td>{_e(req.get('seed', ''))}</td><td>{_e(scope)}</td><td>{_e(r.target)}</td>"
                f"<td class='o o-{_e(r.outcome)}'>{_e(r.outcome.upper())}</td>"
                f"<td class='mono'>{_e(r.expected)}</td><td class='mono'>{_e(r.observed)}</td>"
                f"<td class='small'>{_e(detail)}</td><td class='small'>{links}</td></tr>")
        out.append("</table>")
    return "".join(out) or "<p>No checks ran.</p>"


def _waivers(meta: dict, results: list[CheckResult]) -> str:
    ws = meta.get("waivers", [])
    if not ws:
        return "<p>No waivers in this run.</p>"
    rows = []
    for w in ws:
        used = [r for r in results if r.outcome == "waived" and r.waiver and r.waiver.get("source") == w.get("source")]
        state = "EXPIRED (counts as a failure)" if w.get("expired") else f"applied to {len(used)} check(s)"
        rows.append("<tr>" + "".join(f"<td>{_e(v)}</td>" for v in (
            w.get("requirement"), w.get("target") or "all targets", w.get("justification"), w.get("approver"),
            w.get("expires"), w.get("source"), state)) + "</tr>")
    return ("<table id='waivers'><tr><th>requirement</th><th>target</th><th>justification</th><th>approver</th>"
            "<th>expires</th><th>source</th><th>state</th></tr>" + "".join(rows) + "</table>")


def _plots(plots: list[dict]) -> str:
    if not plots:
        return "<p id='no-measurements'>No measurements in this run.</p>"
    out = []
    for p in plots:
        img = (f"<img alt='{_e(p['title'])}' src='{p['png']}'>"
               if p["png"].startswith("data:image/png;base64,") else "")
        out.append(f"<figure class='plot' data-name='{_e(p['name'])}'>{img}"
                   f"<figcaption class='small'>{_e(p['title'])}: {_e(p['caption'])}</figcaption></figure>")
    return "".join(out)


def _counts(results: list[CheckResult]) -> str:
    cols = ("passed", "failed", "error", "skipped", "waived", "warning")
    rows = []
    for area in sorted({r.area for r in results}):
        rs = [r for r in results if r.area == area]
        rows.append(f"<tr><td><a href='#area-{_e(area)}'>{_e(area)}</a></td>" + "".join(
            f"<td class='num'>{sum(1 for r in rs if r.outcome == c)}</td>" for c in cols) + "</tr>")
    return ("<table id='counts'><tr><th>area</th>" + "".join(f"<th>{c}</th>" for c in cols) + "</tr>"
            + "".join(rows) + "</table>")


def render(meta: dict, results: list[CheckResult], run_dir: Path, plots: list[dict]) -> str:
    v = verdict(results)
    meta = dict(meta, verdict=v)
    scope = sorted({(r.requirement, r.message) for r in results if r.scope_skip})
    scope_html = ("<ul class='small'>" + "".join(f"<li>{_e(rid)}: {_e(m.removeprefix('out of scope: '))}</li>"
                                                  for rid, m in scope) + "</ul>") if scope else "<p>None.</p>"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>lbconformance sign-off: {_e(v)} ({_e(meta.get('run_id', ''))})</title>
<style>{CSS}</style></head><body>
<h1>Portable load balancer: conformance sign-off</h1>
<p><span class="verdict {_e(v)}" id="verdict">{_e(v)}</span></p>
<h2>Run</h2>{_meta_table(meta)}
{_counts(results)}
<h2>Requirement matrix</h2>{_matrix(meta, results, run_dir)}
<h2>Measurements</h2>{_plots(plots)}
<h2>Environment</h2>{_environment(meta.get('environment', {}))}
<h2>Waivers</h2>{_waivers(meta, results)}
<h2>Out of scope</h2>{scope_html}
<h2>Sign-off</h2>
<table class="signoff" id="signoff"><tr><th>name</th><td></td></tr><tr><th>role</th><td></td></tr>
<tr><th>date</th><td></td></tr><tr><th>decision (accept / reject / accept with waivers)</th><td></td></tr>
<tr><th>signature</th><td></td></tr></table>
</body></html>
"""
