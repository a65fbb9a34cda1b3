"""Statistics of a case's timed samples, within one process and between processes: pure
functions, no I/O.

## Within one process

Why a median with an order-statistic interval: iteration times are skewed (a few slow
iterations from scheduling, page faults, allocator growth), so the mean and a normal-theory
interval mislead. The interval used here is distribution-free: for n samples, the number of
samples below the true median is Binomial(n, 1/2), so a pair of order statistics chosen from
that distribution covers the median with at least the stated probability, whatever the shape
of the distribution. Below n = 8 no pair reaches 99%, and the interval is NaN rather than a
made-up number.

## Between processes

Why processes at all: on a shared VM, fresh processes of one case differ by 30-50% (memory
layout, ASLR, which cores the threads land on, what the other tenants do), while the iterations
of one process differ by a few percent. Iterations of one process are therefore not independent
samples of "the speed of this case": they share their process's luck. Treating them as
independent gives intervals far too narrow and comparisons that call "slower, p = 1e-129" for
two identical runs. The unit of replication is the process (pyperf and asv do the same).

**The model.** Take the logarithm of each process's median iteration time:

    y_p = log m_p = mu + b_p + e_p,    p = 1..P

where ``b_p`` is the process's own offset (between-process spread, variance tau^2) and ``e_p``
is the error of estimating that process's median from its n_p iterations (variance about
omega^2 / n_p). Logarithms because the effects are multiplicative (a bad memory layout slows
every operation by a factor), because times are positive and right-skewed, and because the
quantity compared is a ratio: a difference of logs is the log of a ratio, and an interval on
the log scale becomes an interval on the ratio scale, asymmetric as it should be.

**Why one level is enough (cluster means).** The y_p are independent, each with variance
tau^2 + omega^2 / n_p, so their sample variance s^2 estimates the whole variance of a process
median, *its own estimation error included*. A t interval on the mean of the y_p therefore has
its stated coverage without estimating tau^2 and omega^2 separately: this is the analysis of
cluster means, exact for the mean of a balanced nested design. (The stopping rule gives processes
somewhat different n_p, but omega^2 / n_p is a fraction of a percent against a tau of several
percent, so the imbalance does not matter.) Pooling the iterations instead uses
omega / sqrt(sum n_p) as the standard error and leaves tau out altogether: the too-narrow
intervals and the p = 1e-129 above. The per-process median (not mean) keeps a process's few
descheduled iterations from moving its value.

**The interval of the center.** The center is the geometric mean of the process medians,
exp(mean y_p): the median of the log-normal distribution of process medians, i.e. the time of a
typical process. Its interval is the Student t interval on the mean of the y_p,
``mean y +- t_{(1+level)/2, P-1} s / sqrt(P)``, exponentiated. The alternatives fail at the
P = 2..5 processes a sweep can afford:

* a bootstrap over processes is degenerate: P = 3 medians have C(5, 3) = 10 distinct
  resamples, so the "distribution" of the resampled center is 10 points, and its percentile
  interval undercovers badly;
* a distribution-free interval of the median (order statistics, as for iterations above) is
  at best [min, max], which covers the median with probability
  1 - 2 * 2^-P = 1 - 2^(1-P): 75% at P = 3, 94% at P = 5; 95% needs P = 6.

So the price of an interval at P = 3 is a model, and the log-normal one is the natural model of
positive, multiplicative noise; the t interval is robust to mild non-normality of the logs. With
P = 1 there is no spread to estimate: the center is that median and the interval and the spread
are NaN (the row then keeps the within-process order-statistic interval).

**Between-process spread.** ``between_cv`` is s, the sample standard deviation of the log
medians. For a log-normal the coefficient of variation is sqrt(exp(s^2) - 1) = s (1 + s^2 / 4
+ ...), so s *is* the CV to within 0.3% of itself below s = 0.1: "3%" means processes differ by
about 3%.

**Comparing two variants** (`log_ratio_test`): the log of the ratio of centers is
``d = mean y_new - mean y_base``. Unpaired, its standard error is
``sqrt(s_b^2 / P_b + s_n^2 / P_n)`` with Welch-Satterthwaite degrees of freedom (the two runs
may have different spreads: a change can make a case more memory-bound). Paired (an A/B
experiment that timed base process r and new process r back to back, sharing the machine's
state of that round), ``z_r = y_new,r - y_base,r`` and the test is a one-sample t test on the
z_r with P - 1 degrees of freedom: the round's shared drift cancels in each z_r, at the price of
half the degrees of freedom. It wins when rounds share a good part of the spread, which is the
point of interleaving on a noisy machine.

scipy is imported inside the functions that need it: ``scipy.stats`` takes 0.5-1 s to
import, and the timing loop, which imports this module in every case's process, needs only
`relative_iqr`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

NOISE_THRESHOLD = 0.10  # IQR / median, or between-process CV, above this marks a number noisy
CONFIDENCE = 0.99
#: Quantiles per sample variance in `detectable_change`'s expectation (midpoint rule).
_GRID = 256


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
    from scipy.stats import binom

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


@dataclass(frozen=True)
class ProcessLevel:
    """A case's time across its processes: center with its interval, and the spread."""

    #: geometric mean of the process medians (the one median when processes == 1)
    center: float
    #: interval of the center at `level` (NaN with one process)
    ci_low: float
    ci_high: float
    level: float
    #: sample std of the log process medians, about their coefficient of variation (NaN at P=1)
    between_cv: float
    processes: int


@dataclass(frozen=True)
class RatioTest:
    """The change new / base of two cases' centers, with its interval and two-sided p-value."""

    ratio: float
    ci_low: float
    ci_high: float
    level: float
    p_value: float
    #: degrees of freedom of the t statistic (NaN when neither side has any spread)
    df: float


def process_level(process_medians: Sequence[float], level: float = 0.95,
                  first_stage: int | None = None) -> ProcessLevel:
    """Center, interval and between-process spread of one case's process medians (see the
    module docstring for why a log-normal t interval). `first_stage`: how many of them a
    precision budget planned the rest from (`harness.measure.precision`); the interval then
    takes its t quantile at their degrees of freedom, not all the processes'."""
    logs = _logs(process_medians)
    processes = len(logs)
    if processes == 1:
        return ProcessLevel(center=float(process_medians[0]), ci_low=math.nan,
                            ci_high=math.nan, level=level, between_cv=math.nan, processes=1)
    spread = float(logs.std(ddof=1))
    half = _t_quantile(_df(processes, first_stage), level) * spread / math.sqrt(processes)
    return ProcessLevel(center=float(np.exp(logs.mean())), ci_low=float(np.exp(logs.mean() - half)),
                        ci_high=float(np.exp(logs.mean() + half)), level=level,
                        between_cv=spread, processes=processes)


def noisy(within_rel_iqr: float, between_cv: float) -> bool:
    """Whether a row's number is noisy at either level: the iterations of its processes spread
    by more than `NOISE_THRESHOLD` (median of the processes' IQR / median), or its processes
    differ by more than that (`between_cv`). NaN at a level (e.g. between_cv with one process)
    says nothing, so it does not flag the row."""
    return bool(within_rel_iqr > NOISE_THRESHOLD or between_cv > NOISE_THRESHOLD)


def log_ratio_test(base_medians: Sequence[float], new_medians: Sequence[float], level: float,
                   paired: bool = False,
                   first_stages: tuple[int | None, int | None] = (None, None)) -> RatioTest:
    """Ratio of centers new / base, its `level` interval and the two-sided p-value of "no
    change", from the log process medians: Welch's t test, or with `paired` a one-sample t test
    on log(new_r / base_r) of the medians at the same position r (module docstring).

    The interval at ``level = 1 - alpha`` excludes 1 exactly when p < alpha, so a verdict and
    the interval it shows never disagree. `first_stages`, per side: how many processes a
    precision budget planned that side's others from; Welch's degrees of freedom then count
    those, not all (`process_level`). With no spread on either side the change is exact:
    p = 1 when the centers agree, 0 when they differ.
    """
    base, new = _logs(base_medians), _logs(new_medians)
    if len(base) < 2 or len(new) < 2:
        raise ValueError("a test between processes needs at least two processes per side")
    if paired:
        if len(base) != len(new):
            raise ValueError(f"paired processes must match: {len(base)} base, {len(new)} new")
        diffs = new - base
        shift = float(diffs.mean())
        se, df = float(diffs.std(ddof=1)) / math.sqrt(len(diffs)), float(len(diffs) - 1)
    else:
        shift = float(new.mean() - base.mean())
        welch_se, welch_df = _welch(base.var(ddof=1), new.var(ddof=1), len(base), len(new),
                                    _df(len(base), first_stages[0]),
                                    _df(len(new), first_stages[1]))
        se, df = float(welch_se), float(welch_df)
    ratio = math.exp(shift)
    if se == 0:
        return RatioTest(ratio=ratio, ci_low=ratio, ci_high=ratio, level=level,
                         p_value=1.0 if shift == 0 else 0.0, df=math.nan)
    from scipy.special import stdtr

    half = _t_quantile(df, level) * se
    return RatioTest(ratio=ratio, ci_low=math.exp(shift - half), ci_high=math.exp(shift + half),
                     level=level, p_value=float(2 * stdtr(df, -abs(shift) / se)), df=df)


def detectable_change(between_cv_base: float, between_cv_new: float, processes_base: int,
                      processes_new: int, alpha: float, power: float = 0.9,
                      paired: bool = False, correlation: float = 0.0,
                      threshold: float = 0.0) -> float:
    """The smallest slowdown (relative: 0.18 = 18%) that `log_ratio_test` calls at p < alpha,
    with the ratio beyond `threshold`, in a share `power` of comparisons, for runs whose
    processes spread by these CVs: what a machine can detect, and so the threshold it supports.

    Derivation, for a true log ratio delta. The estimate d of delta is normal with standard
    deviation sd: sqrt(cv_b^2 / P_b + cv_n^2 / P_n) unpaired; paired, sqrt(var_z / P) with
    var_z = cv_b^2 + cv_n^2 - 2 correlation cv_b cv_n, the spread of z_r = log(new_r / base_r).
    For normal log medians d is independent of the sample variances, and given those the test
    fixes its estimated standard error se and its critical value c = t_{1 - alpha/2, df}
    (Welch's df is itself estimated from them; paired, df = P - 1). A slowdown is called when
    d > bar = max(c se, log(1 + threshold)) (a significant d of the other sign calls "faster"),
    so

        power(delta) = E[ Phi((delta - bar) / sd) ],

    the expectation over the sample variances, which are scaled chi-squares with P - 1 degrees
    of freedom. It is taken on a grid of their quantiles (midpoints of 256 equal slices of
    probability per side), and power(delta) = `power` is solved for delta. This is the power of
    the test as it runs, estimated df included: the textbook noncentral-t formula, with the
    expected Welch df, overstates Welch's power at P = 3 by up to 7 points.

    `correlation` is that of base and new process medians of one round (a shared drift), what
    pairing gains; left at 0, pairing only costs degrees of freedom, and the paired figure is
    the pessimistic one. NaN with fewer than two processes on a side (no spread to test
    against); the threshold itself when the processes do not spread at all.
    """
    if not 0 < alpha < power < 1:
        raise ValueError(f"need 0 < alpha < power < 1; got alpha={alpha}, power={power}")
    if min(processes_base, processes_new) < 2:
        return math.nan
    if paired and processes_base != processes_new:
        raise ValueError(f"paired processes must match: {processes_base} base, "
                         f"{processes_new} new")
    from scipy.optimize import brentq
    from scipy.special import chdtri, ndtr, stdtrit

    quantiles = (np.arange(_GRID) + 0.5) / _GRID
    if paired:
        variance = (between_cv_base ** 2 + between_cv_new ** 2
                    - 2 * correlation * between_cv_base * between_cv_new)
        sd = math.sqrt(max(variance, 0.0) / processes_base)
        se = sd * np.sqrt(chdtri(processes_base - 1, quantiles) / (processes_base - 1))
        critical = stdtrit(processes_base - 1, 1 - alpha / 2)
    else:
        sd = float(_welch(between_cv_base ** 2, between_cv_new ** 2, processes_base,
                          processes_new)[0])
        draws = [cv ** 2 * chdtri(n - 1, quantiles) / (n - 1)
                 for cv, n in ((between_cv_base, processes_base), (between_cv_new, processes_new))]
        var_base, var_new = np.meshgrid(*draws, indexing="ij")
        se, df = _welch(var_base.ravel(), var_new.ravel(), processes_base, processes_new)
        critical = stdtrit(df, 1 - alpha / 2)
    if sd == 0:
        return threshold
    bar = np.maximum(critical * se, math.log1p(threshold))

    def shortfall(delta: float) -> float:
        return float(ndtr((delta - bar) / sd).mean() - power)

    delta = brentq(shortfall, 0.0, 2 * float(bar.max()) + 10 * sd)  # power(upper) ~ 1
    # exp overflows beyond 709.78: e.g. P = 2 with CVs of 50%, where nothing is detectable
    return math.expm1(delta) if delta < 709 else math.inf


def _logs(medians: Sequence[float]) -> np.ndarray:
    values = np.asarray(medians, dtype=float)
    if values.size == 0 or not (np.isfinite(values) & (values > 0)).all():
        raise ValueError("process medians must be positive and finite, at least one")
    return np.log(values)


def _t_quantile(df: float, level: float) -> float:
    """Half-width factor of a two-sided `level` t interval: t_{(1 + level) / 2, df}."""
    from scipy.special import stdtrit

    return float(stdtrit(df, (1 + level) / 2))


def _df(processes: int, first_stage: int | None) -> int:
    """Degrees of freedom of a spread over `processes`, or over the `first_stage` a precision
    budget planned them from (`harness.measure.precision`: Stein's two-stage rule)."""
    return processes - 1 if first_stage is None else min(first_stage, processes) - 1


def _welch(var_base: ArrayLike, var_new: ArrayLike, n_base: int, n_new: int,
           df_base: int | None = None, df_new: int | None = None
           ) -> tuple[np.ndarray, np.ndarray]:
    """Standard error of a difference of two means from their samples' variances and sizes, and
    its Welch-Satterthwaite degrees of freedom (NaN where neither variance is positive), each
    variance with n - 1 degrees of freedom unless given; elementwise, so that
    `detectable_change` can evaluate a grid of variances at once."""
    share_base, share_new = np.divide(var_base, n_base), np.divide(var_new, n_new)
    total = share_base + share_new
    df_base = n_base - 1 if df_base is None else df_base
    df_new = n_new - 1 if df_new is None else df_new
    with np.errstate(invalid="ignore"):
        df = total ** 2 / (share_base ** 2 / df_base + share_new ** 2 / df_new)
    return np.sqrt(total), df
