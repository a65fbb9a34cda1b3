"""The statistics of a case's samples: within a process against numpy and exact binomial
arithmetic; between processes against hand-computed t intervals, scipy's t tests and
seeded simulations of the model they assume."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from harness.measure.stats import (
    CONFIDENCE,
    NOISE_THRESHOLD,
    Summary,
    detectable_change,
    log_ratio_test,
    median_ci,
    median_ci_ranks,
    noisy,
    process_level,
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


# --- between processes -------------------------------------------------------------------------

#: t_{0.975, 2} and t_{0.975, 4}, from a printed table of Student's t.
T975_DF2, T975_DF4 = 4.302653, 2.776445


def test_process_level_interval_from_a_known_spread_by_hand() -> None:
    # log medians ln 10 - s, ln 10, ln 10 + s: mean ln 10, sample std exactly s
    s = 0.05
    level = process_level([10 * math.exp(-s), 10.0, 10 * math.exp(s)])
    assert level.processes == 3 and level.level == 0.95
    assert level.center == pytest.approx(10.0)  # geometric mean
    assert level.between_cv == pytest.approx(s)
    half = T975_DF2 * s / math.sqrt(3)
    assert level.ci_low == pytest.approx(10 * math.exp(-half), rel=1e-6)
    assert level.ci_high == pytest.approx(10 * math.exp(half), rel=1e-6)
    # twice the spread, twice the log width; five processes at the same spread: narrower
    assert math.log(process_level([10 * math.exp(-2 * s), 10.0, 10 * math.exp(2 * s)]).ci_high
                    / 10) == pytest.approx(2 * half, rel=1e-6)
    five = process_level([10 * math.exp(k * s) for k in (-1, -1, 0, 1, 1)])  # std(logs) = s
    assert math.log(five.ci_high / 10) == pytest.approx(T975_DF4 * s / math.sqrt(5), rel=1e-6)


def test_process_level_is_geometric_not_arithmetic() -> None:
    level = process_level([1.0, 4.0], level=0.9)
    assert level.center == pytest.approx(2.0)  # sqrt(1 * 4), not 2.5
    assert level.ci_low < 2.0 < level.ci_high and level.level == 0.9


def test_one_process_has_its_median_and_no_interval_or_spread() -> None:
    level = process_level([8.4])
    assert (level.center, level.processes) == (8.4, 1)
    assert math.isnan(level.ci_low) and math.isnan(level.ci_high)
    assert math.isnan(level.between_cv)
    for bad in ([], [1.0, 0.0], [1.0, -2.0], [1.0, math.nan]):
        with pytest.raises(ValueError, match="positive"):
            process_level(bad)


@pytest.mark.parametrize("processes", [3, 5])
def test_process_interval_covers_the_center_as_often_as_it_says(processes: int) -> None:
    """Simulated coverage of the 95% interval, with each process median estimated from its own
    iterations: that estimation error is part of the spread between processes, and the interval
    accounts for it without a second level (module docstring). 2000 trials: the standard error
    of the coverage is 0.5%, so it must be within 2% of 95%.

    The same data's order-statistic interval of the pooled iterations, which treats them as
    independent, covers the center in far fewer trials: why processes are the unit."""
    rng = np.random.default_rng(20 + processes)
    trials, iterations, center = 2000, 30, 10.0
    offsets = rng.normal(0.0, 0.05, (trials, processes, 1))    # between processes: CV 5%
    noise = rng.normal(0.0, 0.03, (trials, processes, iterations))  # within: 3%
    times = center * np.exp(offsets + noise)
    medians = np.median(times, axis=2)
    levels = [process_level(row) for row in medians]
    coverage = np.mean([level.ci_low <= center <= level.ci_high for level in levels])
    assert abs(coverage - 0.95) < 0.02, coverage
    # between_cv estimates the whole spread of a process median: the planted 5% between
    # processes and the median's own error, 3% * sqrt(pi / (2 * 30)) for 30 normal iterations
    expected = math.hypot(0.05, 0.03 * math.sqrt(math.pi / 60))
    rms = math.sqrt(np.mean([level.between_cv ** 2 for level in levels]))
    assert rms == pytest.approx(expected, rel=0.05)
    if processes == 3:
        pooled = [median_ci(row.ravel()) for row in times[:500]]
        assert np.mean([low <= center <= high for low, high in pooled]) < 0.6


def test_noisy_at_either_level_strictly_above_ten_percent() -> None:
    assert not noisy(0.10, 0.10)  # exactly 10% at both: not noisy
    assert noisy(0.10 * (1 + 1e-9), 0.02)
    assert noisy(0.02, 0.10 * (1 + 1e-9))
    assert not noisy(0.05, math.nan)  # one process: only the iterations can say
    assert noisy(0.15, math.nan)
    assert noisy(0.15, math.nan) == _summary(median=1.0, iqr=0.15).noisy


def test_log_ratio_test_is_welch_and_paired_t_on_the_logs() -> None:
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(3)
    for _ in range(20):
        base = 10 * np.exp(rng.normal(0, 0.05, 3))
        new = 11 * np.exp(rng.normal(0, 0.08, 4))
        welch = log_ratio_test(base, new, level=0.95)
        expected = stats.ttest_ind(np.log(new), np.log(base), equal_var=False)
        assert welch.p_value == pytest.approx(expected.pvalue, rel=1e-9)
        assert welch.df == pytest.approx(expected.df)
        assert welch.ratio == pytest.approx(
            process_level(new).center / process_level(base).center)
        assert (welch.ci_low > 1 or welch.ci_high < 1) == (welch.p_value < 0.05)
        paired = log_ratio_test(base, new[:3], level=0.99, paired=True)
        expected = stats.ttest_rel(np.log(new[:3]), np.log(base))
        assert paired.p_value == pytest.approx(expected.pvalue, rel=1e-9)
        assert paired.df == 2
        assert (paired.ci_low > 1 or paired.ci_high < 1) == (paired.p_value < 0.01)


def test_log_ratio_test_without_spread_and_with_too_few_processes() -> None:
    same = log_ratio_test([5.0, 5.0], [5.0, 5.0], level=0.95)
    assert (same.ratio, same.p_value, same.ci_low, same.ci_high) == (1.0, 1.0, 1.0, 1.0)
    shifted = log_ratio_test([5.0, 5.0], [6.0, 6.0], level=0.95)
    assert shifted.ratio == pytest.approx(1.2) and shifted.p_value == 0.0
    with pytest.raises(ValueError, match="two processes"):
        log_ratio_test([5.0], [5.0, 6.0], level=0.95)
    with pytest.raises(ValueError, match="must match"):
        log_ratio_test([5.0, 5.1], [5.0, 6.0, 5.5], level=0.95, paired=True)


def test_detectable_change_is_the_power_of_the_test_as_run() -> None:
    """At the change `detectable_change` names, the Welch test with compare's threshold calls
    "slower" in 90% of simulated comparisons (2000 trials: standard error 0.7%)."""
    cv, processes, alpha, threshold = 0.05, 3, 0.05, 0.10
    change = detectable_change(cv, cv, processes, processes, alpha, threshold=threshold)
    assert 0.15 < change < 0.35
    rng = np.random.default_rng(11)
    base = np.exp(rng.normal(0, cv, (2000, processes)))
    new = (1 + change) * np.exp(rng.normal(0, cv, (2000, processes)))
    tests = [log_ratio_test(b, n, level=1 - alpha) for b, n in zip(base, new, strict=True)]
    called = np.mean([t.p_value < alpha and t.ratio > 1 + threshold for t in tests])
    assert abs(called - 0.90) < 0.025, called


def test_detectable_change_paired_matches_the_noncentral_t() -> None:
    """Paired, the df is fixed, so the power is exactly noncentral t: the quadrature agrees."""
    nct = pytest.importorskip("scipy.stats").nct
    t = pytest.importorskip("scipy.stats").t
    cv, processes, alpha, correlation = 0.06, 4, 0.05, 0.5
    change = detectable_change(cv, cv, processes, processes, alpha, paired=True,
                               correlation=correlation)
    sd = math.sqrt((2 * cv**2 - 2 * correlation * cv**2) / processes)
    power = nct.sf(t.ppf(1 - alpha / 2, processes - 1), processes - 1, math.log1p(change) / sd)
    assert power == pytest.approx(0.9, abs=2e-3)


def test_detectable_change_follows_spread_processes_and_pairing() -> None:
    welch3 = detectable_change(0.05, 0.05, 3, 3, 0.05)
    assert detectable_change(0.08, 0.08, 3, 3, 0.05) > welch3  # noisier: larger
    assert detectable_change(0.05, 0.05, 5, 5, 0.05) < welch3  # more processes: smaller
    assert detectable_change(0.05, 0.05, 3, 3, 0.01) > welch3  # stricter alpha: larger
    # pairing costs degrees of freedom unless the rounds share the spread
    assert detectable_change(0.05, 0.05, 3, 3, 0.05, paired=True) > welch3
    assert detectable_change(0.05, 0.05, 3, 3, 0.05, paired=True, correlation=0.8) < welch3
    # a threshold above what the test can see is the limit
    assert detectable_change(0.01, 0.01, 5, 5, 0.05, threshold=0.10) == pytest.approx(
        0.10, abs=0.02)
    assert detectable_change(0.0, 0.0, 3, 3, 0.05, threshold=0.10) == 0.10
    assert math.isnan(detectable_change(0.05, 0.05, 1, 3, 0.05))
    assert detectable_change(0.5, 0.5, 2, 2, 0.001, power=0.999, paired=True) == math.inf
    with pytest.raises(ValueError, match="alpha"):
        detectable_change(0.05, 0.05, 3, 3, alpha=0.95)
    with pytest.raises(ValueError, match="must match"):
        detectable_change(0.05, 0.05, 3, 4, 0.05, paired=True)


def test_a_budgeted_sides_welch_test_counts_its_first_stages_degrees_of_freedom():
    """Eight processes planned from three: the test may not claim the certainty of eight
    independent spreads (`harness.measure.precision`), so its p-value is larger and its
    interval wider than the same medians tested as a fixed count; the centres do not move."""
    base = [10.0, 10.6, 9.5, 10.2, 9.9, 10.4, 9.7, 10.1]
    new = [10.9, 11.5, 10.4, 11.1, 10.8, 11.3, 10.6, 11.0]
    fixed = log_ratio_test(base, new, 0.95)
    planned = log_ratio_test(base, new, 0.95, first_stages=(3, 3))
    assert planned.ratio == fixed.ratio
    assert 2 < planned.df <= 4 < 13 < fixed.df <= 14  # Welch: at most the sum of the sides
    assert planned.p_value > fixed.p_value
    assert planned.ci_low < fixed.ci_low and planned.ci_high > fixed.ci_high
