"""Summary statistics for latencies and scores, shared by the reports, evaluations and benchmarks.

One percentile, on one scale (0-100), so a p99 in docs/benchmarks.md and one in a replay report are
computed the same way and can be compared.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], pct: float) -> float:
    """The pct-th percentile (0-100) by the nearest-rank method; raises ValueError on no values.

    Nearest rank returns a value that was observed, never an interpolation between two.
    """
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def mean(values: Sequence[float | None]) -> float | None:
    """Mean of the values that are not None; None if there are none."""
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None
