"""Summary numbers of delay samples (nearest-rank percentiles: a reported value was really measured)."""
from __future__ import annotations

import math


def percentile(values, q: float) -> float:
    vals = sorted(values)
    if not vals:
        raise ValueError("percentile of no samples")
    rank = max(1, math.ceil(q / 100 * len(vals)))
    return vals[rank - 1]


def summary(values) -> str:
    vals = list(values)
    if not vals:
        return "no samples"
    return (f"n={len(vals)} p50={percentile(vals, 50):.2f} p99={percentile(vals, 99):.2f} "
            f"max={max(vals):.2f} s")
