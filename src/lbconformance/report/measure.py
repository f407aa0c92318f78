"""The API dynamic checks use to hand measurements and progress to the reports.

    from lbconformance.report.measure import progress, record_samples

    def test_scale_out_within_sla(request, router, sla_seconds):
        delays = []
        for trial in range(20):
            delays.append(measure_one())
            progress(request, f"ECMP-004 trial {trial + 1}/20: {delays[-1]:.2f} s")
        record_samples(request, "ecmp-update-delay", delays, "s", sla=sla_seconds)
        require(max(delays) <= sla_seconds, ...)

`record_samples` stores the values on the test item; the plugin copies them into the check's
CheckResult.samples and results.json (`samples: {name: {unit, kind, sla, values}}`), and the
sign-off page plots them (plots.py). Samples recorded before a failing `require` are kept.
"""
from __future__ import annotations

import math
import sys

import pytest

SAMPLES = pytest.StashKey[dict]()
KINDS = ("delay", "curve", "bar")


def record_samples(request, name: str, values, unit: str, *, sla: float | None = None, kind: str = "delay",
                   label: str = "") -> None:
    """Record measurement samples for the running check.

    - kind="delay": `values` are durations in `unit` (e.g. "s"); the page draws a histogram and a CDF,
      with a vertical SLA line at `sla` (same unit) when given. Samples of the same `name` from several
      checks are plotted together (e.g. "ecmp-update-delay", "resync-delay", "health-check-delay").
    - kind="curve": `values` are (x, y) pairs (a data-plane curve, e.g. offered load vs. throughput);
      `unit` names both axes as "X-UNIT|Y-UNIT" (e.g. "kpps|Mbit/s"). A point may carry a third item,
      its series name (x, y, "ipvs"): the page then draws one line per series instead of one per check.
    - kind="bar": `values` are (label, value) pairs in `unit` (e.g. req/s of ipvs, iptables, nginx); bars
      of one label from several calls are averaged and drawn with their min-max range.
    Calling it again with the same name appends.
    """
    if kind not in KINDS:
        raise ValueError(f"record_samples: kind must be one of {KINDS}, not {kind!r}")
    if kind == "delay":
        vals = [float(v) for v in values]
        nums = vals
    elif kind == "curve":
        vals = [[float(p[0]), float(p[1])] + ([str(p[2])] if len(p) > 2 else []) for p in values]
        nums = [c for p in vals for c in p[:2]]
    else:
        vals = [[str(label), float(v)] for label, v in values]
        nums = [p[1] for p in vals]
    if any(not math.isfinite(v) for v in nums):
        raise ValueError(f"record_samples({name!r}): values must be finite numbers")
    node = request.node
    store = node.stash.setdefault(SAMPLES, {})
    entry = store.setdefault(name, {"unit": unit, "kind": kind, "sla": sla, "label": label, "values": []})
    if entry["unit"] != unit or entry["kind"] != kind:
        raise ValueError(f"record_samples({name!r}): unit/kind differ from the earlier call")
    if sla is not None:
        entry["sla"] = float(sla)
    entry["values"].extend(vals)


def samples_of(item) -> dict:
    """The samples recorded on a test item (for the plugin)."""
    return item.stash.get(SAMPLES, {})


def progress(request, text: str) -> None:
    """One progress line during a long check (one per trial), shown even under output capture."""
    config = request.config
    tr = config.pluginmanager.get_plugin("terminalreporter")
    line = f"[lbconformance] {text}"
    if tr is None:  # xdist worker or -p no:terminal: stderr is the best we have
        print(line, file=sys.stderr, flush=True)
        return
    capman = config.pluginmanager.get_plugin("capturemanager")
    if capman is not None:
        with capman.global_and_fixture_disabled():
            tr.ensure_newline()
            tr.write_line(line)
    else:
        tr.ensure_newline()
        tr.write_line(line)
