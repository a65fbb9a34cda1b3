"""Statistics of a list of per-iteration times: pure functions, no I/O.

Why a median with an order-statistic interval: iteration times are skewed (a few slow
iterations from scheduling, page faults, allocator growth), so the mean and a normal-theory
interval mislead. The interval used here is distribution-free: for n samples, the number of
samples below the true median is Binomial(n, 1/2), so a pair of order statistics chosen from
that distribution covers the median with at least the stated probability, whatever the shape
of the distribution. Below n = 8 no pair reaches 99%, and the interval is NaN rather than a
made-up number.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import binom

NOISE_THRESHOLD = 0.10  # IQR / median above this marks a number as noisy
CONFIDENCE = 0.99


@dataclass(frozen=True)
class Summary:
    """Derived statistics of one case's samples (same unit as the samples)."""

    n: int
    median: float
    mean: float
    std: float
    min: float
    max: float
    iqr: float
    p90: float
    p99: float
    ci_low: float
    ci_high: float

    @property
    def rel_iqr(self) -> float:
        return self.iqr / self.median if self.median > 0 else math.nan

    @property
    def noisy(self) -> bool:
        """The warning attached to the number: its IQR is more than 10% of its median."""
        return bool(self.rel_iqr > NOISE_THRESHOLD)


def relative_iqr(samples: Sequence[float]) -> float:
    """IQR / median of raw samples, without a full `summarize`: the timing loop's stopping rule
    evaluates it many times while sampling (`Summary.rel_iqr` is the same ratio)."""
    p25, median, p75 = np.percentile(samples, [25, 50, 75])
    return float((p75 - p25) / median) if median > 0 else math.inf


def median_ci_ranks(n: int, confidence: float = CONFIDENCE) -> tuple[int, int] | None:
    """1-based ranks (lo, hi) of the order statistics bounding the median, or None if n is small.

    Chooses the largest lo with P(B <= lo - 1) <= alpha / 2, B ~ Binomial(n, 1/2); by symmetry
    hi = n + 1 - lo, and the coverage is 1 - 2 P(B <= lo - 1) >= confidence.
    """
    if n < 1:
        return None
    alpha = 1.0 - confidence
    below = int(binom.ppf(alpha / 2, n, 0.5))
    if binom.cdf(below, n, 0.5) > alpha / 2:
        below -= 1
    if below < 0:
        return None
    return below + 1, n - below


def median_ci(samples: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Distribution-free confidence interval of the median; (nan, nan) when n is too small."""
    ordered = np.sort(np.asarray(samples, dtype=float))
    ranks = median_ci_ranks(len(ordered), confidence)
    if ranks is None:
        return math.nan, math.nan
    lo, hi = ranks
    return float(ordered[lo - 1]), float(ordered[hi - 1])


def summarize(samples: Sequence[float]) -> Summary:
    """All the statistics the results table reports, from raw samples."""
    values = np.asarray(samples, dtype=float)
    if values.size == 0:
        raise ValueError("cannot summarize zero samples")
    p25, median, p75, p90, p99 = np.percentile(values, [25, 50, 75, 90, 99])
    ci_low, ci_high = median_ci(values)
    return Summary(
        n=int(values.size),
        median=float(median),
        mean=float(values.mean()),
        std=float(values.std(ddof=1)) if values.size > 1 else math.nan,
        min=float(values.min()),
        max=float(values.max()),
        iqr=float(p75 - p25),
        p90=float(p90),
        p99=float(p99),
        ci_low=ci_low,
        ci_high=ci_high,
    )


def timing_columns(stats: Summary, batch_size: int) -> dict[str, float | int | bool]:
    """The results-table columns of a Summary of per-iteration milliseconds."""
    return {"n": stats.n, "median_ms": stats.median, "mean_ms": stats.mean,
            "std_ms": stats.std, "min_ms": stats.min, "max_ms": stats.max,
            "iqr_ms": stats.iqr, "p90_ms": stats.p90, "p99_ms": stats.p99,
            "ci99_low_ms": stats.ci_low, "ci99_high_ms": stats.ci_high, "noisy": stats.noisy,
            "throughput_sps": batch_size / (stats.median / 1e3)}
