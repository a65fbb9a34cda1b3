"""Optional stopping, simulated: does a precision target that adds processes to noisy cases keep
the interval's coverage and compare's A/A false alarms at their stated levels?

Two rules, both starting from P0 processes a case (`--processes`) and stopping at 12 at most:

* **sequential** (not what the sweep does; shown as the reason why not): one more process at a
  time while the 95% interval's log half-width ``t_{P-1} s / sqrt(P)`` exceeds
  ``asinh(target)``; the interval and the test as for a fixed count;
* **two-stage** (the sweep's, `harness.measure.precision`): the count planned once from the
  first P0 processes' spread, ``t_{P0-1} s0 / sqrt(N) <= asinh(target)``; the interval over all
  N with the quantile at P0 - 1 degrees of freedom, and compare's Welch test with those.

(A budget only cuts a plan short at a moment set by the other cases, not by this case's later
values; the simulation leaves it out.) A case's log process medians are drawn two ways:

* **log-normal**: normal logs with spread sigma, the model the interval assumes;
* **two speeds**: what this VM shows for transformer/small cpu-eager, processes that run at one
  of two speeds (half at each, the modes 0.9 sigma either side) with a little spread around each:
  the same sigma, bimodal, far from normal at small P.

For each, it reports how often the interval holds the true centre (what a 95% interval claims),
how often it holds an independent re-run's centre under the same rule (what a user reading "a
re-run lands here" relies on; below 95% even at a fixed P, since the re-run has its own noise:
the fixed-P0 figure is shown beside it), and how often `compare`'s test calls two such runs of
the same case different (p < 0.05; and with the verdict's 10% threshold too).

    .venv/bin/python benchmarks/precision_simulation.py --cases 40000
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import stdtr, stdtrit

from harness.analysis.compare import ALPHA
from harness.measure.precision import DEFAULT_MAX_PROCESSES, DEFAULT_PRECISION, log_half_width
from harness.measure.timing import DEFAULT_PROCESSES
from harness.results.markdown import markdown_table

SHAPES = ("log-normal", "two speeds")
SPREADS = (0.01, 0.02, 0.04, 0.08, 0.15, 0.3)
THRESHOLD = 0.10  # compare's default threshold of a verdict


@dataclass(frozen=True)
class Outcome:
    """One rule, shape and spread (shares of simulated cases)."""

    rule: str
    shape: str
    spread: float
    mean_processes: float
    met: float  # reached the target
    coverage: float  # interval holds the true centre
    rerun_coverage: float  # interval holds a re-run's centre
    rerun_coverage_fixed: float  # the same at a fixed P0, without the rule
    aa_p: float  # A/A pairs with p < alpha
    aa_verdict: float  # ... and a ratio beyond the threshold


def draw(shape: str, spread: float, shape_rows: tuple[int, int],
         rng: np.random.Generator) -> np.ndarray:
    """Log process medians around a true centre of 0, each with the given spread."""
    if shape == "log-normal":
        return rng.normal(0.0, spread, shape_rows)
    mode, within = 0.9 * spread, math.sqrt(1 - 0.9 ** 2) * spread
    sides = np.where(rng.random(shape_rows) < 0.5, -mode, mode)
    return sides + rng.normal(0.0, within, shape_rows)


Stopped = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def sequential(logs: np.ndarray, target: float, first: int, most: int) -> Stopped:
    """The sequential rule on each row of `logs` (its processes in order): the mean, the
    variance, the half-width at the stop, and the number of processes."""
    cases = logs.shape[0]
    goal = math.asinh(target)
    done = np.zeros(cases, bool)
    mean, var, half = np.empty(cases), np.empty(cases), np.empty(cases)
    processes = np.full(cases, most)
    for count in range(first, most + 1):
        head = logs[:, :count]
        m, s = head.mean(1), head.std(1, ddof=1)
        h = log_half_width(1.0, count) * s
        stop = ~done & ((h <= goal) | (count == most))
        mean[stop], var[stop], half[stop], processes[stop] = m[stop], s[stop] ** 2, h[stop], count
        done |= stop
    return mean, var, half, processes


def two_stage(logs: np.ndarray, target: float, first: int, most: int) -> Stopped:
    """The sweep's rule (`harness.measure.precision.planned_processes`, vectorised)."""
    goal = math.asinh(target)
    first_spread = logs[:, :first].std(1, ddof=1)
    processes = np.full(logs.shape[0], most)
    for count in range(most, first - 1, -1):
        processes[log_half_width(1.0, count, first) * first_spread <= goal] = count
    used = np.arange(logs.shape[1])[None, :] < processes[:, None]
    mean = (logs * used).sum(1) / processes
    var = (((logs - mean[:, None]) ** 2) * used).sum(1) / (processes - 1)
    factor = np.array([log_half_width(1.0, n, first) for n in range(most + 1)])
    return mean, var, factor[processes] * np.sqrt(var), processes


RULES = {"sequential": (sequential, False), "two-stage": (two_stage, True)}


def welch_p(a: Stopped, b: Stopped, first: int | None) -> np.ndarray:
    """`harness.measure.stats.log_ratio_test`'s unpaired p-value, vectorised; with `first`,
    each side's variance at the first stage's degrees of freedom."""
    (mean_a, var_a, _, n_a), (mean_b, var_b, _, n_b) = a, b
    df_a = n_a - 1 if first is None else first - 1
    df_b = n_b - 1 if first is None else first - 1
    share_a, share_b = var_a / n_a, var_b / n_b
    df = (share_a + share_b) ** 2 / (share_a ** 2 / df_a + share_b ** 2 / df_b)
    return 2 * stdtr(df, -np.abs(mean_b - mean_a) / np.sqrt(share_a + share_b))


def simulate(rule: str, shape: str, spread: float, cases: int,
             target: float = DEFAULT_PRECISION, first: int = DEFAULT_PROCESSES,
             most: int = DEFAULT_MAX_PROCESSES, seed: int = 0) -> Outcome:
    rng = np.random.default_rng(seed)
    stop, planned = RULES[rule]
    run = stop(draw(shape, spread, (cases, most), rng), target, first, most)
    rerun = stop(draw(shape, spread, (cases, most), rng), target, first, most)
    mean, _, half, processes = run
    fixed = draw(shape, spread, (cases, 2 * first), rng)
    fixed_half = log_half_width(1.0, first) * fixed[:, :first].std(1, ddof=1)
    p = welch_p(run, rerun, first if planned else None)
    return Outcome(
        rule, shape, spread, mean_processes=float(processes.mean()),
        met=float(np.mean(half <= math.asinh(target))),
        coverage=float(np.mean(np.abs(mean) <= half)),
        rerun_coverage=float(np.mean(np.abs(rerun[0] - mean) <= half)),
        rerun_coverage_fixed=float(np.mean(
            np.abs(fixed[:, first:].mean(1) - fixed[:, :first].mean(1)) <= fixed_half)),
        aa_p=float(np.mean(p < ALPHA)),
        aa_verdict=float(np.mean((p < ALPHA) & (np.abs(rerun[0] - mean) > math.log1p(THRESHOLD)))))


def table(outcomes: list[Outcome]) -> str:
    return markdown_table(pd.DataFrame({
        "rule": [o.rule for o in outcomes], "shape": [o.shape for o in outcomes],
        "spread": [f"{o.spread:.0%}" for o in outcomes],
        "mean P": [f"{o.mean_processes:.1f}" for o in outcomes],
        "met": [f"{o.met:.0%}" for o in outcomes],
        "covers centre": [f"{o.coverage:.3f}" for o in outcomes],
        "covers re-run (fixed P0)": [f"{o.rerun_coverage:.3f} ({o.rerun_coverage_fixed:.3f})"
                                     for o in outcomes],
        "A/A p<0.05": [f"{o.aa_p:.3f}" for o in outcomes],
        "A/A verdict": [f"{o.aa_verdict:.3f}" for o in outcomes]}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=40000, help="simulated cases per cell")
    parser.add_argument("--target", type=float, default=DEFAULT_PRECISION)
    args = parser.parse_args()
    outcomes = [simulate(rule, shape, spread, args.cases, args.target)
                for rule in RULES for shape in SHAPES for spread in SPREADS]
    print(f"target +-{args.target:.0%}, {DEFAULT_PROCESSES} processes first, at most "
          f"{DEFAULT_MAX_PROCESSES}; t quantile at P0: {stdtrit(DEFAULT_PROCESSES - 1, 0.975):.2f}")
    print(table(outcomes))


if __name__ == "__main__":
    main()
