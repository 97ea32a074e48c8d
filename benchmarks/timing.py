"""The one way the benchmarks summarise timings: nearest-rank percentiles and medians.

A nearest-rank percentile is always a value that was measured (the p95 of three turns is the
slowest of them), so a small sample never reports a latency nobody waited.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile, q in 0..100 (NaN for no values)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return float(ordered[min(len(ordered), rank) - 1])


def median(values: Sequence[float]) -> float:
    """The median (NaN for no values)."""
    return float(statistics.median(values)) if values else float("nan")


def summary(values: Sequence[float], digits: int = 1) -> dict[str, float]:
    """Median, p95 and count, rounded."""
    return {"median": round(median(values), digits), "p95": round(percentile(values, 95), digits),
            "n": len(values)}
