"""The highest arrival rate whose p99 latency meets the target: a bracketing search over rates.

**Why our own search, not LoadGen's FindPeakPerformance.** LoadGen's mode finds the peak too
(Server only), but it runs every candidate for the full minimum duration of a valid MLPerf run
and reports the peak alone, in its detail log. A user choosing a backend wants the curve (the
rates tried, with p50 and p99 at each: what the latency costs as the load rises) and a search
that fits a stated budget. So each rate is one LoadGen Server test (LoadGen still schedules
and accounts every query), and the search is ours:

1. **Bounds from the bound steps.** At batch 1 the server can serve at most ``1 / s1`` queries
   a second (`s1`: a batch-1 step); with dynamic batching at most ``B / sB`` (the largest
   batch B, its step `sB`). The search starts at half the first (a load every system meant to
   serve should meet; if it does not, the search halves downward) and never tries beyond the
   second (`CAPACITY_MARGIN` over it): no rate can be served there, so trying it would only
   build a queue that takes a point's length again to drain.
2. **Bisection on the log of the rate** between the highest rate that met the target and the
   lowest that did not, until they are within `RESOLUTION` (5%) of each other or the budget
   is spent. Each point is a noisy measurement (a p99 from a few hundred queries), so the
   bracket is what one process found, not a law: the case's processes each search, and the row's
   peak is their centre with a between-process interval, as every number of archbench's.

A rate **meets** the target when LoadGen's observed p99 is within the target and the completed
rate kept up with the rate LoadGen scheduled (`KEEP_UP`, which says why 0.9; the scheduled
rate, not the target: a Poisson run of a few seconds has its own): a point where queries
complete more slowly than they arrive has an unbounded queue, whatever its p99 over a short
window says.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

#: The search stops when the bracket's high end is within this fraction above its low end.
RESOLUTION = 0.05
#: The rate tried first, as a share of what batch-1 steps can serve.
START_UTILISATION = 0.5
#: Rates are never tried beyond this multiple of what the largest batch can serve.
CAPACITY_MARGIN = 1.1
#: A point keeps up when it completes at least this share of the rate LoadGen scheduled. Not
#: closer to 1: the completed rate of a point of D seconds is over D plus its last query's
#: latency, so a server that keeps up reads about D / (D + p99) of the scheduled rate (0.93 for
#: a 0.5 s point with a 40 ms tail). An overload shows in p99 besides: counted from the
#: scheduled time, the queue of an overload e (a share of capacity) adds about e x D to the last
#: queries' latency, so a 4 s point at 5% over capacity misses any target below 200 ms.
KEEP_UP = 0.9
#: The search halves downward at most this many times from its first rate.
MAX_HALVINGS = 8


@dataclass(frozen=True)
class LoadPoint:
    """One rate tried: LoadGen's p50 and p99 (ms), the rate completed, and whether it met."""

    rate_qps: float
    p50_ms: float
    p99_ms: float
    achieved_qps: float
    met: bool


@dataclass
class PeakSearch:
    """The search (module docstring): `measure(rate)` runs one point; it starts at `start_qps`
    and never tries above `ceiling_qps`; the clock and `deadline` bound its time."""

    measure: Callable[[float], LoadPoint]
    start_qps: float
    ceiling_qps: float
    deadline: float
    clock: Callable[[], float] = time.monotonic
    points: list[LoadPoint] = field(default_factory=list)
    out_of_time: bool = False

    @property
    def met(self) -> float | None:
        """The highest rate that met the target so far."""
        rates = [p.rate_qps for p in self.points if p.met]
        return max(rates) if rates else None

    @property
    def missed(self) -> float | None:
        """The lowest rate above `met` that did not (None: none above it failed)."""
        best = self.met or 0.0
        rates = [p.rate_qps for p in self.points if not p.met and p.rate_qps > best]
        return min(rates) if rates else None

    def run(self) -> PeakSearch:
        rate = min(self.start_qps, self.ceiling_qps)
        for _ in range(MAX_HALVINGS + 1):  # down until a rate meets the target
            if not self._try(rate):
                return self
            if self.met is not None:
                break
            rate /= 2
        if self.met is None:
            return self
        while not self.resolved():
            if self.missed is None:  # nothing above has failed yet: double, up to the ceiling
                rate = min(self.met * 2, self.ceiling_qps)
            else:
                rate = math.sqrt(self.met * self.missed)
            if not self._try(rate):
                return self
        return self

    def resolved(self) -> bool:
        """The bracket is within RESOLUTION, or the ceiling itself met the target."""
        met, missed = self.met, self.missed
        if met is None:
            return False
        if missed is None:
            return met >= self.ceiling_qps
        return missed <= met * (1 + RESOLUTION)

    def _try(self, rate: float) -> bool:
        """Measure one rate; False (nothing measured) once the budget is spent."""
        if self.clock() >= self.deadline:
            self.out_of_time = True
            return False
        self.points.append(self.measure(rate))
        return True

    def note(self, budget_s: float) -> str:
        """Why the bracket is not within RESOLUTION, or nothing when it is."""
        if self.met is None:
            lowest = min(p.rate_qps for p in self.points) if self.points else math.nan
            return f"no rate met the target, down to {lowest:.3g} queries/s"
        if self.missed is None and self.met >= self.ceiling_qps:
            return (f"the ceiling {self.ceiling_qps:.4g} queries/s (what the largest batch "
                    "can serve) met the target: the peak is at or above it")
        if self.out_of_time:
            above = f"{self.missed:.4g} did not" if self.missed is not None else "none above"
            return (f"search stopped by its {budget_s:.0f} s budget: {self.met:.4g} queries/s "
                    f"met the target, {above}")
        return ""
