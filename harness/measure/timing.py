"""The timing protocol: warm up untimed, then sample single iterations until the median is sound.

Protocol (also in the README):
1. Warm-up, untimed: at least `warmup_iters` iterations AND at least `warmup_s` seconds, so that
   lazy initialisation, allocator growth, caches and CPU frequency settle before anything counts.
2. Sampling: time every iteration on its own (the device is synchronised before each clock
   read, so asynchronous GPU work is inside the interval it belongs to). Keep every sample.
3. Stop once n >= `n_min` and the timed total >= `t_min`, as soon as IQR / median <=
   `rel_iqr_target` (the spread is small enough that the median is pinned down), or when the
   timed total reaches `t_max` (the case is noisy; the row's noise flag will say so).

Per-iteration timing (rather than timing blocks of iterations, as `torch.utils.benchmark` does)
keeps the distribution, which the report and the comparison need; on the CPU the cost is one
clock read (~50 ns) per iteration, negligible at the >= 10 us iterations measured here. On CUDA
each iteration ends in a device synchronisation, so the host cannot queue the next step while
the GPU finishes this one: a sample is the latency of one step, launch overhead included, and
throughput derived from it is unpipelined throughput. For the small models here that is the
honest figure for a request-at-a-time server and an underestimate for a pipelined training loop.
Garbage collection is paused while sampling, as `timeit` does, so a collection does not land in
one random sample.

The clock is injectable: tests drive the loop with a deterministic fake clock.
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from harness.measure.stats import relative_iqr

Clock = Callable[[], float]


class SamplingMonitor(Protocol):
    """Told when sampling starts and stops, e.g. to read what else the machine did meanwhile."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class TimingPolicy:
    warmup_iters: int = 10
    warmup_s: float = 0.5
    n_min: int = 20
    t_min: float = 1.0
    t_max: float = 5.0
    rel_iqr_target: float = 0.05

    def __post_init__(self) -> None:
        if not 0 < self.t_min <= self.t_max:
            raise ValueError("need 0 < t_min <= t_max")
        if self.n_min < 1 or self.warmup_iters < 0:
            raise ValueError("need n_min >= 1 and warmup_iters >= 0")


DEFAULT_POLICY = TimingPolicy()
#: Fresh processes that time every case (see `harness.case.process`); chosen from measurements,
#: README "How well the harness measures".
DEFAULT_PROCESSES = 3
#: For each of several processes of a case: the row's number comes from the spread between
#: processes, which dominates on shared machines (5-25% between fresh processes on a 2-core
#: VM, against ~1% for the median of one process's 300+ iterations), so each process needs
#: only enough iterations to pin down its own median, and the budget goes to processes.
PROCESS_POLICY = TimingPolicy(warmup_iters=10, warmup_s=0.2, n_min=10, t_min=0.3, t_max=1.0)
#: For tests and `--quick`: the same rules, with budgets small enough for a CI machine.
QUICK_POLICY = TimingPolicy(warmup_iters=2, warmup_s=0.0, n_min=5, t_min=0.05, t_max=0.3)


@dataclass
class TimingResult:
    samples_s: list[float] = field(default_factory=list)
    warmup_iters: int = 0
    warmup_s: float = 0.0
    stop_reason: str = ""
    block: int = 1  # iterations per sample; each sample is the block's time / block
    warmup_samples_s: list[float] = field(default_factory=list)  # each synchronised

    @property
    def timed_s(self) -> float:
        return math.fsum(self.samples_s) * self.block

    @property
    def samples_ms(self) -> list[float]:
        return [s * 1e3 for s in self.samples_s]

    @property
    def synced_ms(self) -> float:
        """Median of the warm-up's later half, each iteration synchronised on its own: one
        step's latency, measured before any block sampling (NaN without a warm-up)."""
        later = self.warmup_samples_s[len(self.warmup_samples_s) // 2:]
        return statistics.median(later) * 1e3 if later else math.nan


#: How many iterations a block holds, given the warm-up's synchronised iteration times.
BlockRule = Callable[[Sequence[float]], int]


def time_loop(step: Callable[[], object], sync: Callable[[], None],
              policy: TimingPolicy = DEFAULT_POLICY, clock: Clock = time.perf_counter,
              monitor: SamplingMonitor | None = None, block: int | BlockRule = 1
              ) -> TimingResult:
    """Run the protocol above on `step` and return every timed sample (seconds).

    Warm-up iterations are synchronised one by one (and their times kept: a latency reference,
    and what a `BlockRule` sizes blocks from). Each sample is then `block` iterations with a
    single synchronisation after the last, divided by `block`: with a block of 1 that is the
    latency protocol above; with more, the host queues iterations while the device runs (the
    throughput scenario). The stopping rule counts samples (blocks). `monitor` brackets the
    sampling phase only.
    """
    result = TimingResult()
    start = clock()
    while result.warmup_iters < policy.warmup_iters or clock() - start < policy.warmup_s:
        begin = clock()
        step()
        sync()
        result.warmup_samples_s.append(clock() - begin)
        result.warmup_iters += 1
    result.warmup_s = clock() - start
    result.block = block if isinstance(block, int) else block(result.warmup_samples_s)
    if result.block < 1:
        raise ValueError(f"a block holds at least one iteration, got {result.block}")

    samples = result.samples_s
    total = 0.0
    next_check = policy.n_min  # the IQR check is O(n log n): do it at geometric intervals
    gc_was_enabled = gc.isenabled()
    gc.disable()
    if monitor is not None:
        monitor.start()
    try:
        while True:
            begin = clock()
            for _ in range(result.block):
                step()
            sync()
            elapsed = clock() - begin
            samples.append(elapsed / result.block)
            total += elapsed
            if total >= policy.t_max:
                result.stop_reason = "t_max"
                break
            if len(samples) >= next_check and total >= policy.t_min:
                next_check = max(len(samples) + 1, math.ceil(len(samples) * 1.05))
                if relative_iqr(samples) <= policy.rel_iqr_target:
                    result.stop_reason = "converged"
                    break
    finally:
        if monitor is not None:
            monitor.stop()
        if gc_was_enabled:
            gc.enable()
    return result
