"""The statistics of a case's samples, checked against numpy and exact binomial arithmetic."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from harness.measure.stats import (
    CONFIDENCE,
    NOISE_THRESHOLD,
    Summary,
    median_ci,
    median_ci_ranks,
    summarize,
)

KNOWN = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0, 5.0]


@pytest.mark.parametrize("samples", [
    KNOWN,
    list(np.random.default_rng(0).lognormal(0.0, 1.0, size=101)),
    list(np.random.default_rng(1).normal(10.0, 2.0, size=1000)),
])
def test_summary_matches_numpy(samples: list[float]) -> None:
    values = np.asarray(samples)
    s = summarize(samples)
    p25, p50, p75, p90, p99 = np.percentile(values, [25, 50, 75, 90, 99])
    assert s.n == len(values)
    assert s.median == pytest.approx(np.median(values)) == pytest.approx(p50)
    assert s.mean == pytest.approx(values.mean())
    assert s.std == pytest.approx(values.std(ddof=1))  # sample, not population, deviation
    assert (s.min, s.max) == (values.min(), values.max())
    assert s.iqr == pytest.approx(p75 - p25)
    assert s.p90 == pytest.approx(p90)
    assert s.p99 == pytest.approx(p99)
    assert s.ci_low <= s.median <= s.ci_high


def test_summary_of_known_values_by_hand() -> None:
    s = summarize(KNOWN)  # sorted: 1 1 2 3 3 4 5 5 5 6 9
    assert s.median == 4.0
    assert s.mean == pytest.approx(44 / 11)
    assert s.iqr == pytest.approx(5.0 - 2.5)  # linear interpolation: p25 = 2.5, p75 = 5
    assert (s.ci_low, s.ci_high) == (1.0, 9.0)  # n = 11: the 99% interval is (x(1), x(11))


def test_one_sample_has_no_spread_and_zero_samples_are_refused() -> None:
    s = summarize([2.5])
    assert s.median == s.min == s.max == 2.5
    assert math.isnan(s.std) and math.isnan(s.ci_low) and math.isnan(s.ci_high)
    with pytest.raises(ValueError, match="zero samples"):
        summarize([])


def _brute_force_ranks(n: int, confidence: float) -> tuple[int, int] | None:
    """Largest lo with P(Binomial(n, 1/2) <= lo - 1) <= alpha / 2, in exact arithmetic."""
    half_alpha = Fraction(1 - Fraction(confidence).limit_denominator(10**6), 2)
    best = None
    below = Fraction(0)  # P(B <= lo - 1), accumulated as lo grows
    for lo in range(1, n // 2 + 2):
        below += Fraction(math.comb(n, lo - 1), 2**n)
        if below > half_alpha:
            break
        best = (lo, n + 1 - lo)
    return best


@pytest.mark.parametrize("confidence", [CONFIDENCE, 0.95])
def test_ci_ranks_match_brute_force_binomial(confidence: float) -> None:
    for n in range(1, 201):
        assert median_ci_ranks(n, confidence) == _brute_force_ranks(n, confidence), n


def test_ci_ranks_give_at_least_the_stated_coverage() -> None:
    for n in range(8, 201):
        lo, hi = median_ci_ranks(n)
        assert hi == n + 1 - lo
        miss_one_side = sum(math.comb(n, k) for k in range(lo)) / 2**n
        assert 1 - 2 * miss_one_side >= CONFIDENCE, n


def test_ci_is_nan_below_eight_samples() -> None:
    for n in range(1, 8):
        assert median_ci_ranks(n) is None
        low, high = median_ci(list(range(n)))
        assert math.isnan(low) and math.isnan(high)
    assert median_ci([5.0, 3.0, 8.0, 1.0, 7.0, 2.0, 6.0, 4.0]) == (1.0, 8.0)


def test_ci_covers_the_median_of_a_skewed_distribution() -> None:
    """Simulated coverage agrees with the exact binomial coverage, which is >= 99%.

    Lognormal(0, 1) has median exactly 1. With 2000 trials the simulated coverage has a
    standard error of about 0.0016, so it must be within 4 of those of the exact value.
    """
    n, trials = 30, 2000
    lo, _ = median_ci_ranks(n)
    exact = 1 - 2 * sum(math.comb(n, k) for k in range(lo)) / 2**n
    assert exact >= CONFIDENCE
    rng = np.random.default_rng(12345)
    covered = 0
    for _ in range(trials):
        low, high = median_ci(rng.lognormal(0.0, 1.0, size=n))
        covered += low <= 1.0 <= high
    coverage = covered / trials
    standard_error = math.sqrt(exact * (1 - exact) / trials)
    assert abs(coverage - exact) < 4 * standard_error
    assert coverage >= 0.985


def _summary(median: float, iqr: float) -> Summary:
    return Summary(n=20, median=median, mean=median, std=0.0, min=median, max=median, iqr=iqr,
                   p90=median, p99=median, ci_low=median, ci_high=median)


def test_noise_flag_is_strictly_above_ten_percent() -> None:
    assert NOISE_THRESHOLD == 0.10
    assert not _summary(median=2.0, iqr=0.2).noisy          # exactly 10%: not noisy
    assert _summary(median=2.0, iqr=0.2 * (1 + 1e-9)).noisy  # just above: noisy
    assert not _summary(median=2.0, iqr=0.19).noisy
    assert _summary(median=2.0, iqr=0.2).rel_iqr == pytest.approx(0.1)


def test_noise_flag_from_samples() -> None:
    steady = [0.98, 0.99, 1.0, 1.01, 1.02] * 4  # IQR / median = 2%
    spread = [1.0, 2.0] * 10                     # IQR / median = 1 / 1.5
    assert not summarize(steady).noisy
    assert summarize(spread).noisy
