"""How precisely a case's number is known, and where a sweep's next processes buy the most.

## Precision

A row's precision is the half-width of its between-process interval as a share of its centre,
``(ci_high - ci_low) / (2 * centre)``: 0.05 reads "known to about +-5%". The interval is
`harness.measure.stats.process_level`'s, a t interval on the log process medians, whose
half-width on the log scale is ``h = t_{0.975, P-1} s / sqrt(P)``; on the ratio scale the
interval is ``[e^-h, e^h]`` times the centre, so the precision is ``sinh(h)``, and a target
``q`` is met when ``h <= asinh(q)``.

## Why two stages, not "more until it looks precise"

Adding processes to a case until its interval looks narrow enough is optional stopping: the
case stops when its sample spread happens to be small, so its final spread is too small and
its interval too narrow, and `compare` between two such runs cries wolf. Simulated under that
rule (3 processes first, at most 12, target 5%; `benchmarks/precision_simulation.py`), the
interval of log-normal processes covered the true centre in 90.8% of cases at a spread of 8%
instead of 95%, and `compare`'s Welch test called 11.4% of A/A pairs different at p < 0.05.

So the sweep plans once, as Stein's two-stage procedure (1945) does: the first rounds (P0
processes, `--processes`) are the first stage; from their spread ``s0`` alone, each case gets a
planned count, the fewest processes N for which ``t_{P0-1} s0 / sqrt(N)`` is within the target
(at most `max_processes`); the plan is never revised from the later processes. Its interval is
then the t interval of all N processes' log medians with the quantile at the first stage's
P0 - 1 degrees of freedom (`harness.measure.stats.process_level`'s ``first_stage``), and
`compare` uses the same degrees of freedom in Welch's test. With N a function of ``s0`` only
(and of the budget, which depends on the other cases), the later processes are independent of
the decision (Stein's interval, with the first stage's spread, is exact for normal logs; this one
takes the spread of all N, which the simulation shows conservative). Simulated at spreads from
1% to 30%: coverage of the true centre 95.0-99.5% for log-normal processes, A/A pairs at
p < 0.05 1.0-6.1% and A/A verdicts (beyond compare's 10% too) at most 1.4%. For processes at
two speeds (bimodal, as this VM's transformer/small cpu-eager), coverage is 87.5% at small
spreads, as with three processes and no rule at all (the t interval assumes normal logs), and
rises with the processes the plan adds; the table is in docs/measurements.md. The price is
the first stage's quantile (4.30 at P0 = 3 against 2.20 at 12 processes): an honest interval
from a plan made on three processes is wider than a lucky one.

## The allocation rule, derived

A budget of wall time pays for the planned processes, not all of them if it is short. What one
more process of case i buys is predicted from its plan: with P_i processes its planned
half-width is ``h_i(P) = t_{P0-1} s0_i / sqrt(P)``. The quantity the sweep reduces is every
case's excess over the target, ``sum_i max(h_i - h*, 0)`` with ``h* = asinh(q)``: in log units,
so that halving a 4x interval counts for more than trimming a 6% one to 5%, and nothing for
narrowing a case already within the target. One process of case i reduces the excess by

    gain_i = max(h_i(P_i), h*) - max(h_i(P_i + 1), h*)

and costs ``c_i`` seconds, that case's typical process wall time (launch to result, its
repeats': the first process does more). Spending a budget B to reduce the total excess most is a
knapsack over processes; ``1 / sqrt(P)`` is convex and decreasing, so each case's gains shrink
with every process it gets, and for such separable, diminishing gains the greedy rule "next
process to the largest gain per second, ``gain_i / c_i``" is optimal for the budget it spends,
up to the last process that does not fit. The sweep allocates what is left of its budget that
way, then runs the allocation in rounds, each case with processes to come at most once a round
(highest priority first), so that a slow phase of the machine still touches several cases
rather than one case's consecutive processes; after each round it allocates again from the
time actually left.

A case stops when it has its planned count, or when the budget cannot pay for its next
process; its row says why it fell short (`ci_note`).
"""

from __future__ import annotations

import dataclasses
import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass

#: The default target: the 95% interval's half-width within 5% of its centre.
DEFAULT_PRECISION = 0.05
#: The most processes a case's plan gives it: past about a dozen, the spread of a noisy case on
#: a shared VM is the machine's, and more processes only narrow it slowly (half-width ~ 1 /
#: sqrt(P)), at the other cases' expense.
DEFAULT_MAX_PROCESSES = 12
LEVEL = 0.95


def precision(center: float, ci_low: float, ci_high: float) -> float:
    """The interval's half-width as a share of its centre; NaN without an interval."""
    if not all(math.isfinite(v) for v in (center, ci_low, ci_high)) or center <= 0:
        return math.nan
    return (ci_high - ci_low) / (2 * center)


def first_stage_of(value: object) -> int | None:
    """A row's `ci_first_stage` as a count: an int in a run with a budget; None for NA."""
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):  # None, NaN, pandas' NA
        return None


def log_half_width(spread: float, processes: int, first_stage: int | None = None,
                   level: float = LEVEL) -> float:
    """``t_{(1+level)/2, df} s / sqrt(P)``: the half-width on the log scale of the interval of
    P processes spread by `spread`, df = P - 1, or P0 - 1 for a plan made from the first
    `first_stage` (the module docstring); inf below two processes."""
    df = processes - 1 if first_stage is None else first_stage - 1
    if processes < 2 or df < 1 or not math.isfinite(spread):
        return math.inf
    from scipy.special import stdtrit

    return float(stdtrit(df, (1 + level) / 2)) * spread / math.sqrt(processes)


def planned_processes(first_spread: float, first_stage: int, target: float,
                      most: int) -> int:
    """The fewest processes whose planned half-width is within `target`, from the spread of
    the first `first_stage` (at least those, at most `most`)."""
    goal = math.asinh(target)
    for processes in range(first_stage, most + 1):
        if log_half_width(first_spread, processes, first_stage) <= goal:
            return processes
    return most


@dataclass(frozen=True)
class Candidate:
    """A case as the allocation sees it: its processes so far, the spread of its first stage,
    what one more costs, and the count its plan allows."""

    key: str
    processes: int
    first_spread: float  # sample std of the first stage's log process medians
    first_stage: int
    cost_s: float
    planned: int

    def gain(self, target: float) -> float:
        """How much one more process shrinks the excess of its planned log half-width over
        the target's (module docstring); 0 once it has its planned count."""
        if self.processes >= self.planned:
            return 0.0
        goal = math.asinh(target)
        now = log_half_width(self.first_spread, self.processes, self.first_stage)
        after = log_half_width(self.first_spread, self.processes + 1, self.first_stage)
        return max(now, goal) - max(after, goal)

    def priority(self, target: float) -> float:
        """Gain per second of its next process."""
        return self.gain(target) / max(self.cost_s, 1e-3)


def allocation(candidates: Sequence[Candidate], target: float,
               seconds: float) -> dict[str, int]:
    """How many more processes each case gets from `seconds` of budget by the greedy rule: one
    at a time, the process with the largest gain per second that still fits (module
    docstring)."""
    extra = {c.key: 0 for c in candidates}
    queue = [(-c.priority(target), index, c) for index, c in enumerate(candidates)
             if c.gain(target) > 0]
    heapq.heapify(queue)
    while queue:
        _, index, candidate = heapq.heappop(queue)
        if candidate.cost_s > seconds:
            continue  # a cheaper case's process may still fit
        seconds -= candidate.cost_s
        extra[candidate.key] += 1
        after = dataclasses.replace(candidate, processes=candidate.processes + 1)
        if after.gain(target) > 0:
            heapq.heappush(queue, (-after.priority(target), index, after))
    return extra


def next_round(candidates: Sequence[Candidate], target: float,
               seconds_left: float) -> list[str]:
    """The cases that get one more process this round: those the greedy allocation of what is
    left of the budget gives any, highest gain per second first. (The sweep asks again after
    every round, with the time actually left.)"""
    extra = allocation(candidates, target, seconds_left)
    ranked = sorted((c for c in candidates if extra[c.key]), key=lambda c: c.priority(target),
                    reverse=True)
    return [c.key for c in ranked]
