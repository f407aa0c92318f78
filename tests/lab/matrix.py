"""The fault matrix: every lab fault must fail exactly its requirement (plus its declared cascades).

Faults are applied in waves: faults that are not exclusive, hit different targets and whose
requirement sets (requirement + cascades) are disjoint share one collection. Each wave:
heal (it waits for the health probe) -> apply -> collect -> the suite on that snapshot (and the fault's dynamic
check against the live lab) -> compare with the healthy baseline -> heal.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from lbconformance.collect import collect_snapshot
from lbconformance.lab.faults import DYNAMIC, FAULTS, Fault

REPO = Path(__file__).resolve().parents[2]
BAD = {"failed", "error"}


@dataclass
class Outcome:
    fault: Fault
    wave: int
    caught: list[dict] = field(default_factory=list)        # results of its requirement naming its target
    unexpected: list[str] = field(default_factory=list)     # other requirements that changed
    cascaded: list[str] = field(default_factory=list)       # declared cascades that did fail
    seconds: float = 0.0
    error: str = ""
    retried: str = ""                                      # why its first try (in a wave) did not prove it

    @property
    def ok(self) -> bool:
        return bool(self.caught) and not self.unexpected and not self.error


def waves(faults=FAULTS) -> list[list[Fault]]:
    """Greedy grouping; exclusive faults and dynamic ones alone."""
    out: list[list[Fault]] = []

    def reqs_of(g: Fault) -> set[str]:  # a static wave runs no dynamic check: those cascades cannot collide
        return {g.requirement, *(c for c in g.cascades if c not in DYNAMIC)}

    for f in faults:
        reqs = reqs_of(f)
        if not (f.exclusive or f.dynamic):
            for w in out:
                if any(g.exclusive or g.dynamic for g in w):
                    continue
                if all(not (g.hosts & f.hosts) and not (reqs_of(g) & reqs) for g in w):
                    w.append(f)
                    break
            else:
                out.append([f])
        else:
            out.append([f])
    return out


def run_suite(args: list[str], report_dir: Path, env: dict | None = None, timeout: float = 1800,
              paths: tuple[str, ...] | list[str] = ("suites",)) -> dict:
    """pytest on the suite in a subprocess; returns results.json."""
    report_dir.mkdir(parents=True, exist_ok=True)
    # `--opt=PATH`: a path given as a separate word would also be taken as a test path (pytest picks the
    # rootdir from its arguments before plugins' options are known)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--report-dir={report_dir}",
           "--profile=any", *args, *paths]
    p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})
    runs = sorted(report_dir.glob("*/results.json"))
    if not runs:
        raise RuntimeError(f"no results.json from `{' '.join(cmd)}` (exit {p.returncode}): {p.stdout[-1500:]}{p.stderr[-800:]}")
    return json.loads(runs[-1].read_text())


def key(r: dict) -> tuple[str, str]:
    return r["requirement"], r["nodeid"]


def names_target(r: dict, target: str) -> bool:
    text = " ".join(str(r.get(k, "")) for k in ("target", "message", "where", "observed"))
    return target in text


def judge(wave: list[Fault], baseline: dict, results: list[dict], wave_no: int, seconds: float) -> list[Outcome]:
    base = {key(r): r["outcome"] for r in baseline["results"]}
    allowed = {req for f in wave for req in (f.requirement, *f.cascades)}
    outs = []
    # a host the fault added (a second LB pod) has no baseline: only its failures count as changes
    changed = [r for r in results if (base[key(r)] != r["outcome"] if key(r) in base else r["outcome"] in BAD)]
    for f in wave:
        o = Outcome(f, wave_no, seconds=seconds)
        bad = {"warning"} if _advisory(f.requirement, baseline) else BAD
        o.caught = [r for r in results if r["requirement"] == f.requirement and r["outcome"] in bad
                    and names_target(r, f.target)]
        o.cascaded = sorted({r["requirement"] for r in changed if r["requirement"] in f.cascades})
        outs.append(o)
    stray = sorted({f"{r['requirement']} {r['target']}: {base.get(key(r))} -> {r['outcome']} ({r['message'][:160]})"
                    for r in changed if r["requirement"] not in allowed})
    for o in outs:
        o.unexpected = stray
    return outs


def _advisory(req: str, baseline: dict) -> bool:
    meta = baseline.get("requirements", {})
    entry = meta.get(req) if isinstance(meta, dict) else None
    return bool(entry and entry.get("severity") == "advisory")


def nodeids_of(req: str, baseline: dict, target: str = "") -> list[str]:
    """The requirement's checks; only those parametrized for `target` when there are such (a dynamic
    fault on web1 need not scale web2)."""
    ids = sorted({r["nodeid"] for r in baseline["results"] if r["requirement"] == req})
    return [i for i in ids if f"[{target}]" in i] or ids


def run_matrix(lab, workdir: Path, faults=FAULTS, progress=print, dynamic_args=("--trials", "1")) -> tuple[dict, list[Outcome]]:
    """Run every wave against a healthy ReferenceLab; returns (baseline results, outcomes)."""
    lab.heal()
    snap = workdir / "baseline" / "snapshot"
    collect_snapshot("lab", None, snap, profile="any")
    baseline = run_suite([f"--snapshot={snap}"], workdir / "baseline" / "reports")
    bad = [f"{r['requirement']} {r['target']}: {r['outcome']} {r['message'][:200]}" for r in baseline["results"]
           if r["outcome"] in BAD]
    if bad:
        raise AssertionError("the healthy lab does not pass:\n" + "\n".join(bad))
    outcomes: list[Outcome] = []
    all_waves = waves(faults)
    for i, wave in enumerate(all_waves, 1):
        progress(f"[matrix] wave {i}/{len(all_waves)}: {', '.join(f.name for f in wave)}")
        outcomes += run_wave(lab, workdir / f"wave{i:02d}", wave, i, baseline, progress, dynamic_args)
    # A fault not proven in its wave gets one more try alone: a wave-mate's error (or a lab hiccup) must
    # not hide what the fault itself shows. The table says which ones needed it.
    for k, o in enumerate(list(outcomes)):
        if not o.ok:
            progress(f"[matrix] retry alone: {o.fault.name} (first try: {o.error or 'not caught or unexpected changes'})")
            [again] = run_wave(lab, workdir / f"retry-{o.fault.name}", [o.fault], o.wave, baseline, progress,
                               dynamic_args)
            again.retried = o.error or "; ".join(o.unexpected) or "not caught"
            outcomes[k] = again
    return baseline, outcomes


def run_wave(lab, d: Path, wave: list[Fault], i: int, baseline: dict, progress, dynamic_args) -> list[Outcome]:
    """Apply the wave's faults, collect, run the suite (and each dynamic fault's check live), judge, heal."""
    t0 = time.monotonic()
    phases: dict[str, float] = {}

    def phase(name: str, since: float) -> float:
        now = time.monotonic()
        phases[name] = phases.get(name, 0.0) + now - since
        return now

    try:  # healthy here: the previous heal (or the first) waited for the lab's health probe
        t = t0
        for f in wave:
            lab.apply_fault(f.name)
        t = phase("apply", t)
        collect_snapshot("lab", None, d / "snapshot", profile="any")
        t = phase("collect", t)
        res = run_suite([f"--snapshot={d / 'snapshot'}"], d / "reports")["results"]
        t = phase("suite", t)
        for f in wave:
            if f.dynamic:
                live = run_suite(["--lab", "--allow-disruptive", *dynamic_args], d / "reports-dynamic",
                                 paths=nodeids_of(f.requirement, baseline, f.target))["results"]
                res = [r for r in res if r["requirement"] != f.requirement] + live
                t = phase("dynamic", t)
        outs = judge(wave, baseline, res, i, time.monotonic() - t0)
    except Exception as e:  # noqa: BLE001 - recorded per fault, the matrix goes on
        outs = [Outcome(f, i, error=f"{type(e).__name__}: {e}"[:600], seconds=time.monotonic() - t0) for f in wave]
    t = time.monotonic()
    try:
        lab.heal()
    except Exception as e:  # the lab is broken: no later wave can be judged
        raise RuntimeError(f"heal after wave {i} ({', '.join(f.name for f in wave)}) failed: {e}") from e
    phase("heal", t)
    for o in outs:
        progress(f"[matrix]   {o.fault.name}: {'caught' if o.ok else 'NOT PROVEN'} "
                 f"({o.fault.requirement}{'; ' + o.error if o.error else ''}"
                 f"{'; unexpected ' + str(len(o.unexpected)) if o.unexpected else ''}) {o.seconds:.0f} s")
    progress("[matrix]   time: " + ", ".join(f"{k} {v:.0f} s" for k, v in phases.items()))
    return outs


def table(outcomes: list[Outcome], started: str, seconds: float, requirements: list[str] | None = None) -> str:
    lines = ["# Fault matrix", "",
             f"Generated by `tests/lab/test_reference_faults.py` on {started} in {seconds / 60:.1f} min "
             "(`pytest tests -m lab`). Each fault was applied to the running reference lab, the suite ran, "
             "and the fault's requirement had to fail naming the fault's target, with nothing else changed "
             "except the declared cascades.", "",
             "| fault | requirement | target | wave | result | cascades seen | evidence (the check's message) |",
             "|---|---|---|---|---|---|---|"]
    for o in outcomes:
        msg = (o.caught[0]["message"] if o.caught else o.error or "; ".join(o.unexpected))[:220].replace("|", "\\|")
        result = ("caught" if o.ok else "**not proven**") + (f" on its retry alone (in its wave: {o.retried[:80]})"
                                                              if o.retried else "")
        lines.append(f"| {o.fault.name} | {o.fault.requirement} | {o.fault.target} | {o.wave} | "
                     f"{result} | {', '.join(o.cascaded) or '-'} | {msg} |")
    caught: dict[str, list[str]] = {}
    for o in outcomes:
        if o.ok:
            caught.setdefault(o.fault.requirement, []).append(o.fault.name)
    lines += ["", f"## Requirements of scope `any` and the faults that catch them ({len(caught)} caught)", "",
              "| requirement | caught by |", "|---|---|"]
    for req in (requirements or sorted(caught)):
        lines.append(f"| {req} | {', '.join(caught.get(req, [])) or '**none**'} |")
    return "\n".join(lines) + "\n"
