"""The run folder's junit.xml (xunit1 family), written from the results, not from pytest's reporter.

One <testsuite> per area, one <testcase> per check and target. Each testcase carries xunit1
per-test <properties>: requirement, seed, target, outcome (and waiver fields when waived).
Outcomes map to:
  failed                      -> <failure message="expected ...; observed ...; at ...">
  error, non-scope skip       -> <error>  (either makes the verdict INCOMPLETE; a CI gate must see it)
  out-of-scope skip           -> <skipped type="out-of-scope">
  waived                      -> <skipped type="waived" message="waived: <justification> ...">
  warning (advisory)          -> passes, with the finding in <system-out>
Validated by the self-tests against tests/report/junit-xunit1.xsd.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from lbconformance.report.redact import redact
from lbconformance.report.results import CheckResult, verdict

SETUP_CASE = "setup"


def failure_message(r: CheckResult) -> str:
    if r.expected or r.observed:
        return f"expected {r.expected}; observed {r.observed}; at {r.where}"
    return r.message


def waiver_text(w: dict | None) -> str:
    if not w:
        return ""
    return (f"waived: {w.get('justification', '')} (approver {w.get('approver', '')}, "
            f"expires {w.get('expires', '')}, {w.get('source', '')})")


def _case_name(r: CheckResult) -> tuple[str, str]:
    """(classname, name) in pytest's xunit1 style: the module path dotted, the function with params."""
    if "::" not in r.nodeid:
        return "lbconformance", r.nodeid
    path, _, func = r.nodeid.partition("::")
    cls = path.removesuffix(".py").replace("/", ".")
    return cls, func.replace("::", ".")


def build(meta: dict, results: list[CheckResult]) -> ET.Element:
    reqs = meta.get("requirements", {})
    root = ET.Element("testsuites", name="lbconformance", time=f"{float(meta.get('duration_s') or 0):.3f}")
    areas: dict[str, list[CheckResult]] = {}
    for r in sorted(results, key=lambda r: (r.area, r.requirement, r.target, r.nodeid)):
        areas.setdefault(r.area or "SETUP", []).append(r)
    total = dict(tests=0, failures=0, errors=0, skipped=0)
    for area, rs in areas.items():
        suite = ET.SubElement(root, "testsuite", name=f"lbconformance.{area}", tests=str(len(rs)),
                              failures="0", errors="0", skipped="0", time=f"{sum(r.duration for r in rs):.3f}",
                              timestamp=str(meta.get("started", "")))
        props = ET.SubElement(suite, "properties")
        for k in ("run_id", "profile", "target_kind", "target", "tool_version"):
            ET.SubElement(props, "property", name=k, value=str(meta.get(k, "")))
        ET.SubElement(props, "property", name="verdict", value=verdict(results))
        counts = dict(failures=0, errors=0, skipped=0)
        for r in rs:
            cls, name = _case_name(r)
            case = ET.SubElement(suite, "testcase", classname=cls, name=name, time=f"{r.duration:.3f}")
            cp = ET.SubElement(case, "properties")
            req = reqs.get(r.requirement, {})
            pairs = [("requirement", r.requirement), ("seed", req.get("seed", "")), ("target", r.target),
                     ("outcome", r.outcome)]
            if r.expected or r.observed:
                pairs += [("expected", r.expected), ("observed", r.observed), ("where", r.where)]
            pairs += [("evidence", e) for e in r.evidence]
            if r.waiver:
                pairs += [(f"waiver_{k}", str(v)) for k, v in r.waiver.items()]
            for k, v in pairs:
                ET.SubElement(cp, "property", name=k, value=str(v))
            if r.outcome == "failed":
                counts["failures"] += 1
                el = ET.SubElement(case, "failure", type="requirement", message=failure_message(r))
                el.text = "\n".join(x for x in (r.message, req.get("must", ""), "remediation: " + req["remediation"]
                                                if req.get("remediation") else "") if x)
            elif r.outcome == "error" or (r.outcome == "skipped" and not r.scope_skip):
                counts["errors"] += 1
                kind = "error" if r.outcome == "error" else "incomplete"
                msg = r.message if r.outcome == "error" else f"skipped (not out of scope): {r.message}"
                ET.SubElement(case, "error", type=kind, message=msg).text = msg
            elif r.outcome == "skipped":
                counts["skipped"] += 1
                ET.SubElement(case, "skipped", type="out-of-scope", message=r.message)
            elif r.outcome == "waived":
                counts["skipped"] += 1
                text = waiver_text(r.waiver)
                ET.SubElement(case, "skipped", type="waived",
                              message=f"{text}; was: {failure_message(r)}").text = text
            elif r.outcome == "warning":
                ET.SubElement(case, "system-out").text = f"advisory finding: {failure_message(r)}"
        for k, v in counts.items():
            suite.set(k, str(v))
            total[k] += v
        total["tests"] += len(rs)
    for k, v in total.items():
        if k != "skipped":
            root.set(k, str(v))
    return root


def write_junit(path: str | Path, meta: dict, results: list[CheckResult]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    root = build(meta, results)
    ET.indent(root)
    text = '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
    path.write_text(redact(text))
    return path


def setup_failure(reason: str) -> CheckResult:
    """The failing 'setup' case a run records when the target cannot be set up or collection fails."""
    return CheckResult(nodeid=SETUP_CASE, requirement="SETUP", area="SETUP", target="", outcome="error",
                       message=reason)
