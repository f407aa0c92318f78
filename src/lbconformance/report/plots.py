"""Plots for the sign-off page, rendered with matplotlib (Agg) into base64 PNG data URIs.

Samples come from results (CheckResult.samples, recorded with report/measure.record_samples):
- kind "delay": a histogram and a CDF side by side, with the SLA as a vertical line (seed Fig 7.2);
  samples of one name are merged across checks and targets.
- kind "curve": (x, y) points, one line per check/target (data-plane curves), or one line per series
  when the points carry a series name (x, y, series);
- kind "bar": (label, value) pairs, one bar per label (mean, with the min-max range when repeated).
"""
from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field

from lbconformance.report.results import CheckResult


@dataclass
class Series:
    name: str
    kind: str
    unit: str
    sla: float | None = None
    label: str = ""
    requirements: list[str] = field(default_factory=list)
    values: list = field(default_factory=list)  # delay: floats; curve: [(label, [[x, y], ...]), ...]


def collect_series(results: list[CheckResult]) -> list[Series]:
    out: dict[str, Series] = {}
    for r in sorted(results, key=lambda r: (r.requirement, r.target, r.nodeid)):
        for name, s in (r.samples or {}).items():
            kind = s.get("kind", "delay")
            ser = out.setdefault(name, Series(name=name, kind=kind, unit=s.get("unit", ""), label=s.get("label", "")))
            if s.get("sla") is not None:
                ser.sla = float(s["sla"])
            if r.requirement not in ser.requirements:
                ser.requirements.append(r.requirement)
            if kind == "delay":
                ser.values.extend(float(v) for v in s.get("values", []))
            elif kind == "bar":
                ser.values.extend((str(label), float(v)) for label, v in s.get("values", []))
            else:
                ser.values.append((f"{r.requirement} {r.target}".strip(), s.get("values", [])))
    return [s for s in out.values() if s.values]


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _summary(values: list[float], sla: float | None) -> str:
    vs = sorted(values)
    n = len(vs)

    def q(p: float) -> float:
        return vs[min(n - 1, int(round(p * (n - 1))))]

    text = f"n={n}, min {vs[0]:.3g}, median {q(0.5):.3g}, p95 {q(0.95):.3g}, max {vs[-1]:.3g}"
    if sla is not None:
        over = sum(1 for v in vs if v > sla)
        text += f"; {over} of {n} over the SLA {sla:g}"
    return text


def render(series: Series) -> dict:
    """{'title', 'caption', 'png'}: one figure for one named series."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    title = series.label or series.name
    reqs = ", ".join(series.requirements)
    if series.kind == "delay":
        vals = series.values
        fig, (h, c) = plt.subplots(1, 2, figsize=(9, 3.2))
        h.hist(vals, bins=min(30, max(5, len(vals) // 3)), color="#4a78b5", edgecolor="white")
        h.set_xlabel(f"delay ({series.unit})")
        h.set_ylabel("count")
        h.set_title("histogram")
        xs = sorted(vals)
        ys = [(i + 1) / len(xs) for i in range(len(xs))]
        c.step(xs, ys, where="post", color="#4a78b5")
        c.set_xlabel(f"delay ({series.unit})")
        c.set_ylabel("fraction ≤ x")
        c.set_ylim(0, 1.02)
        c.set_title("CDF")
        if series.sla is not None:
            for ax in (h, c):
                ax.axvline(series.sla, color="#c0392b", linestyle="--", label=f"SLA {series.sla:g} {series.unit}")
            c.legend(loc="lower right", fontsize=8)
        fig.suptitle(f"{title} ({reqs})", fontsize=10)
        caption = _summary(vals, series.sla)
    elif series.kind == "bar":
        labels: list[str] = []
        by: dict[str, list[float]] = {}
        for label, v in series.values:
            if label not in by:
                labels.append(label)
            by.setdefault(label, []).append(v)
        means = [sum(by[lb]) / len(by[lb]) for lb in labels]
        lo = [m - min(by[lb]) for m, lb in zip(means, labels, strict=True)]
        hi = [max(by[lb]) - m for m, lb in zip(means, labels, strict=True)]
        fig, ax = plt.subplots(figsize=(6, 3.2))
        ax.bar(labels, means, yerr=[lo, hi], color="#4a78b5", capsize=4)
        ax.set_ylabel(series.unit)
        ax.grid(alpha=0.3, axis="y")
        fig.suptitle(f"{title} ({reqs})", fontsize=10)
        caption = "; ".join(f"{lb} {m:.4g} {series.unit}" + (f" (n={len(by[lb])})" if len(by[lb]) > 1 else "")
                            for lb, m in zip(labels, means, strict=True))
    else:
        xunit, _, yunit = series.unit.partition("|")
        fig, ax = plt.subplots(figsize=(6, 3.2))
        lines: list[tuple[str, list]] = []
        for label, pts in series.values:
            named: dict[str, list] = {}
            for p in pts:
                named.setdefault(str(p[2]) if len(p) > 2 else label, []).append((p[0], p[1]))
            lines += list(named.items())
        for label, pts in lines:
            pts = sorted(pts)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", markersize=3, label=label)
        ax.set_xlabel(xunit)
        ax.set_ylabel(yunit or xunit)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        fig.suptitle(f"{title} ({reqs})", fontsize=10)
        caption = f"{sum(len(p) for _, p in series.values)} points in {len(series.values)} curve(s)"
    return {"name": series.name, "title": title, "caption": caption, "png": _png(fig)}


def render_all(results: list[CheckResult]) -> list[dict]:
    """One figure per named series. Without matplotlib, a caption-only entry says so (the samples stay
    in results.json; install matplotlib and run `lbconformance report DIR` to draw them)."""
    series = collect_series(results)
    try:
        import matplotlib  # noqa: F401
    except ImportError as e:
        return [{"name": s.name, "title": s.label or s.name, "png": "",
                 "caption": f"not drawn: matplotlib cannot be imported ({e}); the samples are in results.json"}
                for s in series]
    return [render(s) for s in series]
