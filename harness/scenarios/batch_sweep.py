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
  the first that did not. An out-of-memory error ends the curve: `torch.cuda.OutOfMemoryError`
  is caught, the cache emptied, and the search goes on below. On the CPU the search stops at
  the knee: the host's memory is shared with everything else and swapping is no limit to
  report.
* Batch 1 not fitting at all is an `oom` row, with what was asked for and what was free.

Each process of the case measures the whole curve; the samples keep every process's curve
(`sweep_batch`, `sweep_ms`: the pipelined step time, `sweep_p50_ms`: the synchronised one), and
the row's number is the knee's, from the processes' step times there (`harness.case_result`).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from harness.measure.timing import TimingPolicy, time_loop
from harness.scenarios.base import (
    Binding,
    OutOfMemory,
    Scenario,
    bind_within_memory,
    free_device_memory,
    timed_run,
)
from harness.scenarios.throughput import block_size

if TYPE_CHECKING:
    from harness.execute import CaseRun

KNEE_GAIN = 0.10
KNEE_PATIENCE = 2
MAX_BATCH = 65536
#: Each point of the curve: enough to rank batch sizes, not to publish.
POINT_POLICY = TimingPolicy(warmup_iters=3, warmup_s=0.05, n_min=3, t_min=0.1, t_max=0.4)


@dataclass
class Curve:
    """The points measured so far: batch size, pipelined and synchronised step time (ms)."""

    batches: list[int] = field(default_factory=list)
    step_ms: list[float] = field(default_factory=list)
    p50_ms: list[float] = field(default_factory=list)

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


def largest_fitting(fits: Callable[[int], bool], low: int, high: int) -> int:
    """Bisect between `low` (fits) and `high` (does not) for the largest batch that fits."""
    while high - low > 1:
        middle = (low + high) // 2
        if fits(middle):
            low = middle
        else:
            high = middle
    return low


class BatchSweep(Scenario):
    name = "batch-sweep"

    def measure(self, run: CaseRun, binding: Binding) -> None:
        curve, first_oom = self.curve(binding)
        if not curve.batches:
            raise OutOfMemory(first_oom or "out of memory at batch size 1")
        knee = curve.knee()
        row = run.out.row
        row["knee_batch"] = knee
        if binding.device == "cuda" and first_oom is None:
            row["max_batch"] = self.max_batch(binding, curve.batches[-1])
        elif first_oom is not None:
            row["max_batch"] = curve.batches[-1]
        # the knee, timed like a throughput case: the row's memory, contention and samples;
        # the largest batch's cached blocks freed first, or they would count as the knee's
        free_device_memory()
        timed_run(run, binding, knee, block=lambda w: block_size(w, binding.device))
        run.out.samples.update(sweep_batch=[float(b) for b in curve.batches],
                               sweep_ms=curve.step_ms, sweep_p50_ms=curve.p50_ms)

    def curve(self, binding: Binding) -> tuple[Curve, str | None]:
        """Doubling from 1 until the curve flattens, memory runs out or MAX_BATCH."""
        curve, batch = Curve(), 1
        while batch <= MAX_BATCH:
            try:
                step = bind_within_memory(binding, batch)
            except OutOfMemory as exc:
                return curve, str(exc)
            timing = time_loop(step, binding.runner.sync, POINT_POLICY,
                               block=lambda w: block_size(w, binding.device))
            curve.batches.append(batch)
            curve.step_ms.append(statistics.median(timing.samples_ms))
            curve.p50_ms.append(timing.synced_ms)
            if curve.flattened():
                break
            batch *= 2
        return curve, None

    def max_batch(self, binding: Binding, start: int) -> int:
        """The largest batch that fits: doubling single steps from `start`, then bisecting."""
        def fits(batch: int) -> bool:
            try:
                bind_within_memory(binding, batch)
                return True
            except OutOfMemory:
                return False

        low, high = start, start * 2
        while high <= MAX_BATCH and fits(high):
            low, high = high, high * 2
        if high > MAX_BATCH:
            return low
        return largest_fitting(fits, low, high)


BATCH_SWEEP = BatchSweep()
