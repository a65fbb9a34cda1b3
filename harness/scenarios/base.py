"""What every scenario shares: the binding it measures, the timed run, and out-of-memory.

`timed_run` is the one place a step is timed: cold call, first steady call, the timing
protocol (`harness.measure.timing.time_loop`) with the machine's other activity read over the
timed region, then peak memory and the runner's own facts, and last, with `--profile`, the
profiled window (`harness.profiling.case_profile`). A scenario chooses the block size
(1: latency; more: pipelined throughput) and the batch sizes; nothing else differs.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import psutil
import torch

from harness.backends.base import InferenceRunner, TrainRunner
from harness.measure import memory
from harness.measure.contention import ContentionMonitor
from harness.measure.contention import note as contention_note
from harness.measure.stats import summarize, timing_columns
from harness.measure.timing import BlockRule, TimingPolicy, TimingResult, time_loop

if TYPE_CHECKING:
    from harness.execute import CaseRun

Step = Callable[[], object]


@dataclass(frozen=True)
class Binding:
    """A prepared model and a way to bind an input batch of any size to it (returns the step
    to time; binding is where one-off work such as compilation or IO binding happens)."""

    runner: InferenceRunner | TrainRunner
    bind: Callable[[int], Step]
    device: str


class OutOfMemory(Exception):
    """The case's only batch size does not fit in memory: an `oom` row, not an error."""


class Scenario(ABC):
    """How one case is measured (see the package docstring)."""

    name: str

    @abstractmethod
    def measure(self, run: CaseRun, binding: Binding) -> None:
        """Time the case, writing its timing columns and samples into `run.out`."""


def is_out_of_memory(exc: BaseException) -> bool:
    """torch's CUDA OOM, or an allocator's 'out of memory' from the CPU or ONNX Runtime."""
    if isinstance(exc, (torch.cuda.OutOfMemoryError, MemoryError)):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and any(
        marker in text for marker in ("out of memory", "can't allocate memory",
                                      "failed to allocate memory"))


def free_device_memory() -> None:
    """Release the allocator's cached blocks: after an out-of-memory, so that smaller batches
    can go on, and before timing a batch smaller than the largest one bound."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.empty_cache()


def oom_reason(batch_size: int, exc: BaseException, device: str) -> str:
    """One line: the batch that did not fit, what was asked for, free and total memory."""
    asked = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if device == "cuda" and torch.cuda.is_available():
        free, total = torch.cuda.mem_get_info()
        where = f"device: {free / 2**30:.1f} GiB free of {total / 2**30:.1f} GiB"
    else:
        available = psutil.virtual_memory()
        where = (f"host: {available.available / 2**30:.1f} GiB available of "
                 f"{available.total / 2**30:.1f} GiB")
    return f"out of memory at batch size {batch_size} ({asked[:160]}); {where}"


def bind_within_memory(binding: Binding, batch_size: int) -> Step:
    """`binding.bind(batch_size)` and one call of the step; an OOM becomes `OutOfMemory`."""
    try:
        step = binding.bind(batch_size)
        step()
        binding.runner.sync()
        return step
    except Exception as exc:
        if not is_out_of_memory(exc):
            raise
        free_device_memory()
        raise OutOfMemory(oom_reason(batch_size, exc, binding.device)) from exc


def timed_run(run: CaseRun, binding: Binding, batch_size: int, block: int | BlockRule,
              policy: TimingPolicy | None = None) -> TimingResult:
    """Bind a batch and time it; write the timing, memory and contention columns.

    The cold call (`cold_call_s`) is the bind plus the first call: compilation, export and
    session creation happen there, once, outside the steady state. A scenario that bound the
    model before (the batch sweep) has set it from its own first bind already.
    """
    row, device = run.out.row, binding.device
    start = time.perf_counter()
    step = bind_within_memory(binding, batch_size)
    row.setdefault("cold_call_s", time.perf_counter() - start)
    start = time.perf_counter()
    step()
    binding.runner.sync()
    row["first_iter_ms"] = (time.perf_counter() - start) * 1e3
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    row["startup_s"] = time.time() - psutil.Process().create_time()
    monitor = ContentionMonitor()
    timing = time_loop(step, binding.runner.sync, policy or run.config.timing_policy,
                       monitor=monitor, block=block)
    run.record_peak()
    if device == "cuda":
        row["cuda_peak_allocated_mb"] = torch.cuda.max_memory_allocated() / memory.MB
        row["cuda_peak_reserved_mb"] = torch.cuda.max_memory_reserved() / memory.MB
        row["device_mem_used_mb"] = memory.nvml_process_memory_mb(
            memory.torch_device_uuid(torch.cuda.current_device()))
    run.out.samples["iter_ms"] = timing.samples_ms
    stats = summarize(timing.samples_ms)
    row.update(timing_columns(stats, batch_size))
    row.update(timed_s=timing.timed_s, warmup_iters=timing.warmup_iters,
               warmup_s=timing.warmup_s, stop_reason=timing.stop_reason)
    if monitor.result is not None:
        row.update(monitor.result.columns())
    row["contention_note"] = contention_note(monitor.result, stats.noisy, stats.rel_iqr)
    row.update(binding.runner.facts)
    row.update(binding.runner.counters())
    if run.profiling:  # after the timing and the memory readings: neither sees the profiler
        from harness.profiling.case_profile import profile_case

        profile_case(run, binding, step, batch_size,
                     row["median_ms"] if timing.block == 1 else timing.synced_ms)
    return timing
