"""The figures recorded for a series of calls: what bench.json holds per verb, floor and level.

Wall time is summarised as median and p95 (nearest-rank: an observed value, no
interpolation), CPU time as a median; the values themselves are kept, in ms, so a later
reader (or the pyperf file, see suite.py) can recompute anything else.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

from children import Sample


def p95(values: Sequence[float]) -> float:
    """Nearest-rank 95th percentile: an observed value, no interpolation."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def summary(samples: Sequence[Sample], rss: Sequence[Sample] = ()) -> dict[str, Any]:
    """Timing from the measured samples; peak RSS from the separate rss pass, when there was one."""
    walls = [s.wall for s in samples]
    cpus = [s.cpu for s in samples]
    peaks = [s.maxrss_kib for s in rss if s.maxrss_kib is not None]
    return {
        "n": len(samples),
        "median_ms": statistics.median(walls) * 1e3,
        "p95_ms": p95(walls) * 1e3,
        "min_ms": min(walls) * 1e3,
        "mean_ms": statistics.fmean(walls) * 1e3,
        "cpu_median_ms": statistics.median(cpus) * 1e3,
        "maxrss_kib": max(peaks) if peaks else None,
        "wall_ms": [round(w * 1e3, 3) for w in walls],
        "cpu_ms": [round(c * 1e3, 3) for c in cpus],
    }
