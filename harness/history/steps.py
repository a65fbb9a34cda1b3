r"""Steps in a case's series across commits: where its time moved to a new level that lasted.

A point of the series is one commit: the process medians of every run of that commit
(`harness.history.trends` pools them). A step is reported when the level of the points moved
by at least ``threshold`` (either way), the move is significant against the series' own noise,
and the new level lasted at least ``min_persistence`` points. The method is asv's
(``asv/step_detect.py``): a penalised piecewise-constant fit of the series, each point weighted
by how well it is known, then only the changes that are large and lasting are reported. What
differs is said below, with the reason and the number that decided it (measured by
``benchmarks/history_detection.py``: histories resampled from real process medians of six
cases on the 2-core VM, 200 commits, P = 3 processes per commit; the results are in
``benchmarks/results/history-detection.md``).

**The centre of a commit: its fastest process, in logs.** Logs, because changes are ratios:
a difference of logs is the log of a ratio, so one threshold fits a 50 us and a 5 s case, and
multiplicative noise becomes additive. Fastest, because the noise of a shared machine is one
sided. Of ten fresh processes of one case, most agree within a few percent and the others are
40% to 3x slower, whenever another tenant took the cores; contention never makes a process
faster. The geometric mean of P = 3 medians (`harness.measure.stats`' centre) moves with
every slow process; their median moves when two of three are slow, which a contended run does
often; the fastest moves only when all three are. On the benchmark's histories (this method
with each centre in turn; P = 3, threshold 10%, 1,080 planted steps of each size, false steps
per 100 commit-case points):

    =============================  =========  =========  ===========
    centre of a commit             25% found  50% found  false steps
    =============================  =========  =========  ===========
    mean of log process medians    77%        97%        0.63
    median                         87%        96%        1.95
    minimum (this module)          99.7%      99.6%      0.03
    =============================  =========  =========  ===========

A code change scales every process, so the fastest moves by the same ratio as the others: the
ratio a step reports is the code's. Its levels (``before``, ``after``) are levels of
fastest processes, and so a little below the geometric centres a trend shows for the same
points. With one process per commit the centre is that process's median.

**The model.** Let y_i be the centre of point i and P_i its number of processes. Between the
change points, the level mu is constant and

    y_i = mu_{seg(i)} + e_i,    Var e_i = s_i^2 = sigma^2 v(P_i) + tau^2.

sigma^2 is the variance of one process's log median around its commit's level (between
processes), and v(P) the variance of the minimum of P standard normals (1, 0.68, 0.56, 0.45,
0.34 for P = 1, 2, 3, 5, 10): the fastest of more processes is better known. tau^2 is what
moves whole commits: run-to-run drift of the machine, and what v(P) does not capture of the
heavy tails. Both come from the series itself, robustly, so that neither the steps nor the
slow processes inflate them:

* the total, at the series' typical P: successive differences d_i = y_i - y_{i-1} have
  variance s_i^2 + s_{i-1}^2 whatever the levels, except at a change, which moves a single
  difference. So s^2 = MAD(d)^2 / 2 (MAD x 1.4826, the normal's MAD-to-sd factor), robust to
  the few differences a step or an outlier makes. It measures the centres themselves, so it is
  the one estimate of their noise that the fit trusts.
* its split, which matters only where P changes along the series: sigma from the MAD of every
  process's deviation from its commit's mean log, each scaled by sqrt(P_i / (P_i - 1)) so
  that it has variance sigma^2 whatever P_i (commits with one process say nothing about it;
  none with more: sigma = 0). tau^2 = s^2 - sigma^2 median v(P_i), and where that would be
  negative sigma^2 is cut to s^2 / median v(P_i): on a contended machine half the commits hold
  a slow process, the deviations from their means are all large, and sigma so estimated can
  exceed the spread of the fastest processes many times over.

A floor of 0.1% on s_i keeps a series of identical values finite: no timing repeats better.

**Outliers.** The fastest of three is still slow when a whole commit was contended, and one
such commit alone would pull a short segment around it beyond the threshold. Each y_i is
therefore clipped to within 3 s_i of the running median of its 2 m - 1 neighbours (m =
``min_persistence``; a Hampel filter). A running median of that width keeps every level that
lasts m points and every edge between levels, so the clip removes single commits without
bending any step the detector may report; without it, false steps were five times as many
(0.15 per 100 points) and 25% steps were found a little less often (97%). Segment levels are
fitted to the clipped centres.

**The fit.** With weights w_i = 1 / s_i^2, the segmentation minimises

    sum over segments S of  sum_{i in S} w_i (y_i - ybar_S)^2   +   beta * (number of changes),

ybar_S the weighted mean of S: maximum likelihood for normal e_i, penalised by Schwarz's
criterion (BIC). The weighted residual sum is -2 log L up to a constant, and each change adds
two parameters (its place and the new level), so beta = 2 ln n for n points. asv fudges the
same criterion's factor. Here the factor hardly matters, as the threshold and the clip do most
of the work: 3 ln n gave the same rates at the default threshold, and at a 5% threshold the
same 96% of 10% steps with 0.18 false steps per 100 points instead of 0.22. So the textbook
value stays. Every segment must hold at least m points: a
new level must persist m points to be reported, a step in the last m - 1 points is not one
yet, and the first level too must last m points before anything can step from it (a lone first
commit is no level).

Merging two adjacent segments of weights W_1, W_2 and means differing by D raises the residual
sum by exactly W_1 W_2 / (W_1 + W_2) D^2 = z^2, z = D / sqrt(1/W_1 + 1/W_2) being the normal
test statistic of "same level" between them. At the optimum no merge pays, so every change
it keeps has z^2 >= beta: significance needs no second test. (beta = 2 ln 200 = 10.6 is
|z| > 3.3, a two-sided p of 0.001 for one comparison; the threshold and the persistence do the
rest.) ``Step.z`` is that statistic.

**Solving it.** The exact optimum (optimal partitioning, or PELT pruning it) is a loop over
commits, each taking a minimum over earlier change points. With that minimum in numpy it took
10 ms for 1,000 commits here, growing as n^2 (PELT's pruning shortens the minimum, not the
Python loop): 2 s for the 200 series of ``history show`` alone, its whole budget.
Instead, candidate positions are screened on seeded intervals (Kovacs, Li, Haubner, Munk,
Buehlmann, "Seeded binary segmentation", Biometrika 110, 2023): at each scale n, n/2, n/4, ...
down to 2 m points, intervals of that length overlapping by half, O(n log n) in all, each
evaluated for its best single split in one vectorised pass over cumulative sums. Every split
whose gain exceeds beta, with the m positions either side, is a candidate; the exact optimal
partition over the candidates is then a dynamic programme over a few dozen positions. Seeded
intervals give every change an interval of about its neighbours' distance that holds it well
inside and holds no other (the property their localisation guarantees rest on), so a change
the optimum keeps normally beats the penalty there too; the neighbourhood catches it where a
shorter interval that held it near its edge placed it a little off. The result is the exact optimum
whenever the optimum's changes are among the candidates, which can fail only for changes too
crowded for any interval to show one alone. About 1.5 ms for 1,000 points with a few steps, 13
ms with fifty levels.

**Reported steps.** Changes smaller than the threshold are real level changes but not steps to
report; they are merged away, smallest shortfall first (a change that clears every bar is
kept, a change that falls short of one merges by how far short), each remaining change being
re-placed at its best position between its neighbours, until every change is beyond the
threshold and still has z^2 >= beta. A last bar: the change, placed where it fits best with
no limit on segment lengths, must still leave m points each side. The fit's own limit can
otherwise report a level two points old at the end of the series as a step one commit early,
its m-point segment borrowing a point of the old level.

What the method does not model: noise correlated between consecutive commits (asv's AR(1)
term), and a series whose number of processes per commit changes (the fastest of ten is about
3.5% faster than the fastest of three at a 5% spread between processes, below the threshold).
And a slow creep is no step: two 6% moves 30 commits apart are each below the threshold, and
merged they make no 10% step either.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain

import numpy as np

#: Smallest step reported: |ratio - 1| (the history's default, `harness.history`).
DEFAULT_THRESHOLD = 0.10
#: Points a new level must last to be reported.
DEFAULT_MIN_PERSISTENCE = 3
#: Schwarz's criterion: ln n per parameter, two parameters per change (module docstring).
PENALTY_PER_LN_N = 2.0
#: Centres further than this many standard deviations from their running median are clipped.
CLIP_SD = 3.0
#: Smallest standard deviation of a point's log centre: 0.1%.
FLOOR_SD = 1e-3
#: MAD x this = the standard deviation, for normal data.
_MAD_TO_SD = 1.482602218505602
#: A ratio this close to the threshold counts as at it (a planted 0.9 is 0.0999999...).
_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Step:
    """A change of level between two commits of a series that was large and lasted."""

    #: index of the first point of the new level (0-based, into the series)
    index: int
    #: level of the segment before the step: geometric mean of its points' fastest process
    before: float
    #: level of the segment after the step, the same way
    after: float
    #: after / before (> 1: slower)
    ratio: float
    #: points the new level lasts (>= min_persistence): up to the next change or the end
    persistence: int
    #: log(ratio) over its standard error under the fitted noise: z^2 >= 2 ln n (docstring)
    z: float = math.nan


def detect_steps(process_medians: Sequence[Sequence[float]], threshold: float = DEFAULT_THRESHOLD,
                 min_persistence: int = DEFAULT_MIN_PERSISTENCE) -> list[Step]:
    """Steps in one case's series. process_medians[i]: the per-process median step times (ms,
    > 0) measured at the i-th commit in commit order (1 to ~20 values per point; several runs of
    one commit are pooled by the caller). Returns steps ordered by index: only steps whose size
    |ratio - 1| >= threshold (either direction) and whose new level persists for at least
    min_persistence points (so a step in the last min_persistence-1 points is not reported yet).
    The level before a step must last min_persistence points too, so a series shorter than
    twice that has no steps. Raises ValueError for a point with no value or a value that is not
    positive and finite."""
    points = len(process_medians)
    span = max(1, int(min_persistence))
    centres, sd = _centres(process_medians)
    if points < 2 * span:
        return []
    centres = _clip(centres, sd, span)
    offset = float(np.median(centres))  # levels near 0: the sums of squares keep their digits
    sums = _Sums(centres - offset, 1.0 / sd ** 2)
    penalty = PENALTY_PER_LN_N * math.log(points)
    changes = _partition(sums, _candidates(sums, points, span, penalty), points, span, penalty)
    changes = _reportable(sums, changes, points, span, penalty, threshold)
    return [_step(sums, before, change, after, offset)
            for before, change, after in _neighbours(changes, points)]


class _Sums:
    """Cumulative weighted sums of the centres: any segment's weight, mean and residual sum of
    squares in O(1), for many segments at once."""

    def __init__(self, centres: np.ndarray, weights: np.ndarray) -> None:
        self.w = np.concatenate(([0.0], np.cumsum(weights)))
        self.wy = np.concatenate(([0.0], np.cumsum(weights * centres)))
        self.wyy = np.concatenate(([0.0], np.cumsum(weights * centres * centres)))

    def level(self, start: int, stop: int) -> tuple[float, float]:
        """Weighted mean of points start..stop-1, and their total weight."""
        weight = float(self.w[stop] - self.w[start])
        return float(self.wy[stop] - self.wy[start]) / weight, weight


def _centres(process_medians: Sequence[Sequence[float]]) -> tuple[np.ndarray, np.ndarray]:
    """Each point's log centre (its fastest process) and the standard deviation of that
    centre under the model, sqrt(sigma^2 v(P_i) + tau^2) (module docstring)."""
    counts = np.fromiter(map(len, process_medians), dtype=np.int64, count=len(process_medians))
    if (counts < 1).any():
        raise ValueError("every point needs at least one process median")
    values = np.fromiter(chain.from_iterable(process_medians), dtype=float,
                         count=int(counts.sum()))
    if not (np.isfinite(values) & (values > 0)).all():
        raise ValueError("process medians must be positive and finite")
    if not len(counts):
        return np.zeros(0), np.zeros(0)
    logs = np.log(values)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    centres = np.minimum.reduceat(logs, starts)
    several = counts > 1
    sigma2 = 0.0
    if several.any():
        means = np.add.reduceat(logs, starts) / counts
        scale = np.sqrt(counts / np.maximum(counts - 1, 1))
        deviations = (logs - np.repeat(means, counts)) * np.repeat(scale, counts)
        sigma2 = (_MAD_TO_SD * float(np.median(np.abs(deviations[np.repeat(several, counts)])))
                  ) ** 2
    shrinking = _min_variance(counts)
    total = 0.0
    if len(centres) > 1:
        steps = np.diff(centres)
        total = (_MAD_TO_SD * float(np.median(np.abs(steps - np.median(steps))))) ** 2 / 2
    typical = float(np.median(shrinking))
    sigma2 = min(sigma2, total / typical)
    tau2 = total - sigma2 * typical
    return centres, np.sqrt(np.maximum(sigma2 * shrinking + tau2, FLOOR_SD ** 2))


def _min_variance(counts: np.ndarray) -> np.ndarray:
    """v(P): the variance of the minimum of P independent standard normals, per point."""
    sizes = np.unique(counts)
    if len(sizes) == 1:
        return np.full(len(counts), _min_variance_of(int(sizes[0])))
    table = np.array([_min_variance_of(int(size)) for size in sizes])
    return table[np.searchsorted(sizes, counts)]


@lru_cache(maxsize=64)
def _min_variance_of(count: int) -> float:
    """v(P) by quadrature of the minimum's density P phi(x) (1 - Phi(x))^(P-1)."""
    if count <= 1:
        return 1.0
    x = np.linspace(-9.0, 9.0, 3601)
    upper = np.array([0.5 * math.erfc(v / math.sqrt(2.0)) for v in x])
    density = count * np.exp(-x * x / 2) / math.sqrt(2 * math.pi) * upper ** (count - 1)
    mean = float(np.trapezoid(x * density, x))
    return float(np.trapezoid(x * x * density, x)) - mean * mean


def _clip(centres: np.ndarray, sd: np.ndarray, span: int) -> np.ndarray:
    """Each centre clipped to within `CLIP_SD` sd of the running median of its 2 span - 1
    neighbours (mirrored at the ends), which keeps every level lasting `span` points."""
    if span < 2:
        return centres
    padded = np.pad(centres, span - 1, mode="reflect")
    running = np.median(np.lib.stride_tricks.sliding_window_view(padded, 2 * span - 1), axis=1)
    return running + np.clip(centres - running, -CLIP_SD * sd, CLIP_SD * sd)


def _seeded_intervals(points: int, span: int) -> list[tuple[np.ndarray, int]]:
    """(starts, length) per scale: lengths points, points/2, ... down to 2 span, each scale's
    intervals overlapping by half; a last scale of length 2 span every span points."""
    scales = []
    depth = 0
    while (length := math.ceil(points / 2 ** depth)) >= 2 * span:
        starts = np.round(np.linspace(0, points - length, 2 ** (depth + 1) - 1))
        scales.append((np.unique(starts.astype(np.int64)), length))
        depth += 1
    if scales[-1][1] > 2 * span:
        scales.append((np.arange(0, points - 2 * span + 1, span), 2 * span))
    return scales


def _best_splits(sums: _Sums, starts: np.ndarray, length: int,
                 span: int) -> tuple[np.ndarray, np.ndarray]:
    """For each interval [start, start + length): the split leaving >= span points each side
    that most reduces the weighted residual sum, and that reduction (its z^2)."""
    offsets = np.arange(span, length - span + 1)
    first = starts[:, None]
    split = first + offsets[None, :]
    last = first + length
    w_before = sums.w[split] - sums.w[first]
    w_after = sums.w[last] - sums.w[split]
    gap = ((sums.wy[split] - sums.wy[first]) / w_before
           - (sums.wy[last] - sums.wy[split]) / w_after)
    gain = w_before * w_after / (w_before + w_after) * gap * gap
    best = np.argmax(gain, axis=1)
    return starts + offsets[best], gain[np.arange(len(starts)), best]


def _candidates(sums: _Sums, points: int, span: int, penalty: float) -> np.ndarray:
    """Positions the optimal partition may use: the best split of every seeded interval whose
    gain beats the penalty, with the `span` positions either side."""
    found = np.unique(np.concatenate([
        splits[gains > penalty]
        for splits, gains in (_best_splits(sums, starts, length, span)
                              for starts, length in _seeded_intervals(points, span))]))
    near = (found[:, None] + np.arange(-span, span + 1)[None, :]).ravel()
    return np.unique(near[(near >= span) & (near <= points - span)])


def _partition(sums: _Sums, candidates: np.ndarray, points: int, span: int,
               penalty: float) -> list[int]:
    """The exact minimiser of the penalised residual sum over partitions whose changes are
    among `candidates` and whose segments hold >= span points (optimal partitioning)."""
    bounds = np.concatenate(([0], candidates, [points]))
    best = np.full(len(bounds), np.inf)
    best[0] = 0.0
    previous = np.zeros(len(bounds), dtype=np.int64)
    for end in range(1, len(bounds)):
        reachable = int(np.searchsorted(bounds, bounds[end] - span, side="right"))
        if reachable == 0:
            continue
        start = bounds[:reachable]
        stop = bounds[end]
        weight = sums.w[stop] - sums.w[start]
        weighted = sums.wy[stop] - sums.wy[start]
        cost = best[:reachable] + (sums.wyy[stop] - sums.wyy[start]) - weighted ** 2 / weight
        choice = int(np.argmin(cost))
        best[end], previous[end] = cost[choice] + penalty, choice
    changes = []
    at = int(previous[-1])
    while at > 0:
        changes.append(int(bounds[at]))
        at = int(previous[at])
    return changes[::-1]


def _reportable(sums: _Sums, changes: list[int], points: int, span: int, penalty: float,
                threshold: float) -> list[int]:
    """The changes left when those below the threshold, no longer significant once their
    neighbours merged, or not yet lasting, are merged away, smallest shortfall first (module
    docstring)."""
    changes = list(changes)
    while changes:
        changes = _replace(sums, changes, points, span)
        worst, shortfall = -1, 1.0
        for k, (before, change, after) in enumerate(_neighbours(changes, points)):
            z = _z(sums, before, change, after)
            size = abs(math.expm1(_log_ratio(sums, before, change, after)))
            reached = min(z * z / penalty,
                          size / threshold + _TOLERANCE if threshold > 0 else math.inf,
                          1.0 if _lasting(sums, before, after, span) else 0.0)
            if reached < shortfall:
                worst, shortfall = k, reached
        if worst < 0:
            break
        del changes[worst]
    return changes


def _lasting(sums: _Sums, before: int, after: int, span: int) -> bool:
    """Whether the change between these neighbours, placed where it fits best with no limit
    on the segments' lengths, still leaves `span` points each side. A level two points old at
    the end of the series fits best as a two-point segment: the span-long one the fit had to
    use borrowed a point of the old level, and the step is not one yet."""
    split, _ = _best_splits(sums, np.array([before]), after - before, 1)
    return span <= int(split[0]) - before and span <= after - int(split[0])


def _replace(sums: _Sums, changes: list[int], points: int, span: int) -> list[int]:
    """Each change moved, in turn, to its best position between its neighbours."""
    bounds = [0, *changes, points]
    for k in range(1, len(bounds) - 1):
        split, _ = _best_splits(sums, np.array([bounds[k - 1]]), bounds[k + 1] - bounds[k - 1],
                                span)
        bounds[k] = int(split[0])
    return bounds[1:-1]


def _neighbours(changes: list[int], points: int) -> list[tuple[int, int, int]]:
    """Each change with the start of its segment before and the end of its segment after."""
    bounds = [0, *changes, points]
    return list(zip(bounds[:-2], bounds[1:-1], bounds[2:], strict=True))


def _log_ratio(sums: _Sums, before: int, change: int, after: int) -> float:
    return sums.level(change, after)[0] - sums.level(before, change)[0]


def _z(sums: _Sums, before: int, change: int, after: int) -> float:
    """The "same level" statistic between segments [before, change) and [change, after)."""
    (level_before, w_before), (level_after, w_after) = (sums.level(before, change),
                                                        sums.level(change, after))
    return (level_after - level_before) * math.sqrt(w_before * w_after / (w_before + w_after))


def _step(sums: _Sums, before: int, change: int, after: int, offset: float) -> Step:
    level_before, level_after = sums.level(before, change)[0], sums.level(change, after)[0]
    return Step(index=change, before=math.exp(level_before + offset),
                after=math.exp(level_after + offset),
                ratio=math.exp(level_after - level_before), persistence=after - change,
                z=_z(sums, before, change, after))
