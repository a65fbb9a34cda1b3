"""Batch sweep: throughput and latency against batch size, to the knee and the memory limit.

Batch sizes double from 1. At each, a short timed run gives the pipelined step time (blocks,
as in `throughput`) and the synchronised one (p50 latency of one step of that batch).

* **The knee**: doubling stops once throughput has risen by less than `KNEE_GAIN` (10%) in
  `KNEE_PATIENCE` (2) doublings in a row: beyond it, a larger batch buys latency, not
  throughput. One flat doubling is not enough: a point is timed for 0.1 to 0.4 s, short enough
  for a slow moment of a shared machine to flatten it, and kernels change blocking at some
  sizes; a second doubling costs one more short point. The knee is the smallest batch measured
  whose throughput is within 10% of the best measured.
* **The largest batch** (CUDA): past the knee, doubling goes on with single steps only (does
  it fit?) until one runs out of memory, then bisects between the last batch that fitted and
  the first that did not, to within 1/16 of the batch (`max_batch` fits, `max_batch_oom` did
  not). An out-of-memory error ends the curve: `torch.cuda.OutOfMemoryError` is caught, the
  cache emptied, and the search bisects below it. A probe is a whole step, and near the limit of
  an 80 GB GPU a step of BERT-base's size takes 10-40 s: a search exact to one sample ran past
  a case's minutes, so it is bracketed to 6% and has a time budget (`SEARCH_BUDGET_S`); a
  search the budget stopped says so in `max_batch_note`, with the bracket it reached. On the
  CPU the search stops at the knee: the host's memory is shared with everything else and
  swapping is no limit to report.
* Batch 1 not fitting at all is an `oom` row, with what was asked for and what was free.

Each process of the case measures the whole curve; the samples keep every process's curve
(`sweep_batch`, `sweep_ms`: the pipelined step time, `sweep_p50_ms`: the synchronised one), and
the row's number is the knee's, from the processes' step times there
(`harness.results.case_result`).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from harness.measure.timing import TimingPolicy, time_loop
from harness.scenarios.base import (
    Binding,
    OutOfMemory,
    Scenario,
    ScenarioOutcome,
    ScenarioRequest,
    bind_within_memory,
    free_device_memory,
    timed_run,
)
from harness.scenarios.throughput import pipelined_block

KNEE_GAIN = 0.10
KNEE_PATIENCE = 2
MAX_BATCH = 65536
#: The largest batch is bracketed to within 1/MAX_BATCH_RESOLUTION of itself.
MAX_BATCH_RESOLUTION = 16
#: Seconds the largest-batch search may start probes for, under --quick and not (a probe
#: started runs to its end).
SEARCH_BUDGET_S = {True: 30.0, False: 180.0}
#: Each point of the curve: enough to rank batch sizes, not to publish.
POINT_POLICY = TimingPolicy(warmup_iters=3, warmup_s=0.05, n_min=3, t_min=0.1, t_max=0.4)


@dataclass
class Curve:
    """The points measured so far: batch size, pipelined and synchronised step time (ms)."""

    batches: list[int] = field(default_factory=list)
    step_ms: list[float] = field(default_factory=list)
    p50_ms: list[float] = field(default_factory=list)
    #: the first bind and call (batch 1): where compilation, export and sessions happen
    cold_call_s: float | None = None
    first_call_s: float | None = None

    def throughput(self, index: int) -> float:
        return self.batches[index] / self.step_ms[index] * 1e3

    def flattened(self) -> bool:
        """Each of the last KNEE_PATIENCE doublings raised throughput by less than KNEE_GAIN."""
        return len(self.batches) > KNEE_PATIENCE and all(
            self.throughput(-i) < (1 + KNEE_GAIN) * self.throughput(-i - 1)
            for i in range(1, KNEE_PATIENCE + 1))

    def knee(self) -> int:
        """The smallest batch whose throughput is within KNEE_GAIN of the best measured."""
        best = max(self.throughput(i) for i in range(len(self.batches)))
        return next(batch for i, batch in enumerate(self.batches)
                    if self.throughput(i) * (1 + KNEE_GAIN) >= best)


@dataclass
class LimitSearch:
    """The largest batch that fits, bracketed: `fits` did, `fails` (None: none found) did not.

    Doubling from a batch known to fit until one does not, then bisecting until the bracket
    is within 1/MAX_BATCH_RESOLUTION of `fits`, as long as the clock is before `deadline`.
    """

    probe: Callable[[int], bool]
    fits: int
    deadline: float
    clock: Callable[[], float] = time.monotonic
    fails: int | None = None
    out_of_time: bool = False

    def run(self) -> LimitSearch:
        while self.fails is None and self.fits * 2 <= MAX_BATCH:
            if not self.try_batch(self.fits * 2):
                return self
        while self.fails is not None and not self.resolved():
            if not self.try_batch((self.fits + self.fails) // 2):
                return self
        return self

    def resolved(self) -> bool:
        return self.fails is not None and (
            self.fails - self.fits <= max(1, self.fits // MAX_BATCH_RESOLUTION))

    def try_batch(self, batch: int) -> bool:
        """Probe one batch; False (and nothing probed) once the budget is spent."""
        if self.clock() >= self.deadline:
            self.out_of_time = True
            return False
        if self.probe(batch):
            self.fits = batch
        else:
            self.fails = batch
        return True

    def note(self, budget_s: float) -> str:
        """Why the bracket is wider than the resolution, or nothing when it is not."""
        if self.out_of_time:
            beyond = (f"{self.fails} did not" if self.fails is not None
                      else f"{self.fits * 2} was not tried")
            return (f"search stopped by its {budget_s:.0f} s budget: {self.fits} fits, "
                    f"{beyond}")
        if self.fails is None:
            return f"{MAX_BATCH} fits, the search's cap: more may"
        return ""


def progress(line: str) -> None:
    """A line in the case's log as the sweep goes: a sweep cut short shows how far it got."""
    print(f"batch-sweep: {line}", file=sys.stderr, flush=True)


class BatchSweep(Scenario):
    name = "batch-sweep"

    def measure(self, request: ScenarioRequest, binding: Binding) -> ScenarioOutcome:
        curve, first_oom = self.curve(binding)
        if not curve.batches:
            raise OutOfMemory(first_oom or "out of memory at batch size 1")
        knee = curve.knee()
        outcome = ScenarioOutcome()
        row = outcome.columns
        row.update(knee_batch=knee, cold_call_s=curve.cold_call_s,
                   first_call_s=curve.first_call_s)
        last = curve.batches[-1]
        failed = last * 2 if first_oom is not None else None  # the curve doubles
        if binding.device == "cuda":
            budget_s = SEARCH_BUDGET_S[request.quick]
            search = self.max_batch(binding, last, budget_s, failed)
            row.update(max_batch=search.fits, max_batch_oom=search.fails,
                       max_batch_note=search.note(budget_s))
        elif failed is not None:
            row.update(max_batch=last, max_batch_oom=failed,
                       max_batch_note="not bisected on the CPU: the curve's first out of "
                                      "memory")
        # the knee, timed like a throughput case: the row's memory, contention and samples;
        # the largest batch's cached blocks freed first, or they would count as the knee's
        free_device_memory()
        timed_run(request, binding, knee, block=pipelined_block(binding),
                  outcome=outcome)
        outcome.samples.update(sweep_batch=[float(b) for b in curve.batches],
                               sweep_ms=curve.step_ms, sweep_p50_ms=curve.p50_ms)
        return outcome

    def curve(self, binding: Binding) -> tuple[Curve, str | None]:
        """Doubling from 1 until the curve flattens, memory runs out or MAX_BATCH."""
        curve, batch = Curve(), 1
        while batch <= MAX_BATCH:
            start = time.perf_counter()
            try:
                step, first_call_s = bind_within_memory(binding, batch)
            except OutOfMemory as exc:
                return curve, str(exc)
            if curve.cold_call_s is None:
                curve.cold_call_s = time.perf_counter() - start
                curve.first_call_s = first_call_s
            timing = time_loop(step, binding.runner.sync, POINT_POLICY,
                               block=pipelined_block(binding))
            curve.batches.append(batch)
            curve.step_ms.append(statistics.median(timing.samples_ms))
            curve.p50_ms.append(timing.synced_ms)
            progress(f"batch {batch}: {curve.step_ms[-1]:.4g} ms a step, "
                     f"{curve.throughput(-1):,.0f} samples/s")
            if curve.flattened():
                break
            batch *= 2
        return curve, None

    def max_batch(self, binding: Binding, start: int, budget_s: float,
                  failed: int | None = None) -> LimitSearch:
        """The largest batch that fits, from `start` (which does) and `failed` (which did not,
        where the curve ran out of memory), within `budget_s`."""
        def fits(batch: int) -> bool:
            began = time.perf_counter()
            try:
                bind_within_memory(binding, batch)
                fitted = True
            except OutOfMemory:
                fitted = False
            progress(f"largest batch: {batch} {'fits' if fitted else 'does not fit'} "
                     f"({time.perf_counter() - began:.1f} s)")
            return fitted

        return LimitSearch(fits, start, time.monotonic() + budget_s, fails=failed).run()


BATCH_SWEEP = BatchSweep()
