"""What every scenario shares: what it is given, what it returns, the timed run, and
out-of-memory.

A scenario is given a `Binding` (the prepared model and a way to bind a batch) and a
`ScenarioRequest` (the case's batch size and timing policy, and the monitors around the timed
region: the readings taken right after it, such as peak memory, and with `--profile` the
profiler), and returns a `ScenarioOutcome`: its row columns, raw samples and op table. It never
sees the case's process (`harness.case.process`), so the process can change without the scenarios,
and a scenario can be tested with a fake binding and a plain request.

`timed_run` is the one place a step is timed: cold call, first steady call, the timing
protocol (`harness.measure.timing.time_loop`) with the machine's other activity read over the
timed region, then the request's readings after it, the runner's own facts, the step's energy
where the hardware counts it (`energy_columns`), and last, with `--profile`, the profiled
window. A scenario chooses the block size (1: latency; more:
pipelined throughput) and the batch sizes; nothing else differs.
"""

from __future__ import annotations

import math
import statistics
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import psutil
import torch

from harness.backends.base import InferenceRunner, TrainRunner
from harness.machine.process_age import process_age_s
from harness.measure import memory
from harness.measure.contention import ContentionMonitor
from harness.measure.energy import ENERGY_METRIC, measure_energy, no_energy_columns, open_meter
from harness.measure.timing import BlockRule, TimingPolicy, TimingResult, time_loop
from harness.profiling.case_profile import ProfileOutcome
from harness.serving.options import ServingOptions

Step = Callable[[], object]


class Profiler(Protocol):
    """Profiles a bound step after its timing (`harness.profiling.case_profile`)."""

    def __call__(self, runner: InferenceRunner | TrainRunner, device: str, step: Step,
                 batch_size: int, synced_ms: float) -> ProfileOutcome: ...


@dataclass(frozen=True)
class ScenarioRequest:
    """What a scenario needs besides its binding (module docstring)."""

    batch_size: int
    policy: TimingPolicy
    quick: bool = False
    #: the readings taken right after the timed region (peak memory), as row columns
    after_timing: Callable[[], dict[str, Any]] = dict
    #: with --profile, in the case's first process: profiles the step after the timing
    profiler: Profiler | None = None
    #: the serving scenarios: what the user set (target, batch wait, a fixed rate)
    serving: ServingOptions = ServingOptions()
    #: the serving scenarios: LoadGen's schedule seed (the case's seed)
    seed: int = 0
    #: where a serving scenario keeps LoadGen's logs (None: a temporary folder, not kept)
    log_dir: Path | None = None
    #: measure energy after the timed region where the hardware counts it (--no-energy: not)
    energy: bool = True


@dataclass
class ScenarioOutcome:
    """What a scenario measured: row columns (a subset of the schema), raw samples by metric
    (`iter_ms` always) and, from a profiled run, the op table."""

    columns: dict[str, Any] = field(default_factory=dict)
    samples: dict[str, list[float]] = field(default_factory=dict)
    ops: list[dict[str, Any]] = field(default_factory=list)


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
    def measure(self, request: ScenarioRequest, binding: Binding) -> ScenarioOutcome:
        """Time the case; what it measured."""


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


class Bound(NamedTuple):
    """A bound step, and how long its first call took (`first_call_s`: what a fresh server
    pays on its first request once the artifact is loaded)."""

    step: Step
    first_call_s: float


def bind_within_memory(binding: Binding, batch_size: int) -> Bound:
    """`binding.bind(batch_size)` and one call of the step; an OOM becomes `OutOfMemory`."""
    try:
        step = binding.bind(batch_size)
        start = time.perf_counter()
        step()
        binding.runner.sync()
        return Bound(step, time.perf_counter() - start)
    except Exception as exc:
        if not is_out_of_memory(exc):
            raise
        free_device_memory()
        raise OutOfMemory(oom_reason(batch_size, exc, binding.device)) from exc


def energy_columns(binding: Binding, step: Step, batch_size: int, enabled: bool
                   ) -> dict[str, Any]:
    """The energy of `step` on the case's device (`harness.measure.energy`): measured after the
    timed region, in a region of its own as long as the counter needs (seconds), so that the
    timing's stopping rule and the counter's update period do not constrain each other; or
    empty columns and why (no counter on this machine, --no-energy)."""
    if not enabled:
        return no_energy_columns("not measured (--no-energy)")
    # NVML numbers GPUs ignoring CUDA_VISIBLE_DEVICES: the case's GPU is named by its UUID
    gpu = (memory.torch_device_uuid(torch.cuda.current_device()) if binding.device == "cuda"
           else 0)
    meter = open_meter(binding.device, gpu)
    if isinstance(meter, str):
        return no_energy_columns(meter)
    try:
        return measure_energy(step, binding.runner.sync, batch_size, meter).columns()
    finally:
        meter.close()


def timed_run(request: ScenarioRequest, binding: Binding, batch_size: int,
              block: int | BlockRule, outcome: ScenarioOutcome,
              policy: TimingPolicy | None = None) -> TimingResult:
    """Bind a batch and time it; add the timing, memory and contention columns, the samples
    and any profile to `outcome`.

    The cold call (`cold_call_s`) is the bind plus the first call: compilation, export and
    session creation happen there, once, outside the steady state; `first_call_s` is the
    first call alone. A scenario that bound the model before (the batch sweep) has set both
    from its own first bind already.
    """
    row, device = outcome.columns, binding.device
    start = time.perf_counter()
    step, first_call_s = bind_within_memory(binding, batch_size)
    row.setdefault("cold_call_s", time.perf_counter() - start)
    row.setdefault("first_call_s", first_call_s)
    start = time.perf_counter()
    step()
    binding.runner.sync()
    row["first_iter_ms"] = (time.perf_counter() - start) * 1e3
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    row["startup_s"] = process_age_s()
    monitor = ContentionMonitor()
    timing = time_loop(step, binding.runner.sync, policy or request.policy,
                       monitor=monitor, block=block)
    row.update(request.after_timing())
    if device == "cuda":
        row["cuda_peak_allocated_mb"] = torch.cuda.max_memory_allocated() / memory.MB
        row["cuda_peak_reserved_mb"] = torch.cuda.max_memory_reserved() / memory.MB
        row["device_mem_used_mb"] = memory.nvml_process_memory_mb(
            memory.torch_device_uuid(torch.cuda.current_device()))
    # raw samples and facts only: the statistics of the case's row (median, interval, spread,
    # noise, contention note) are derived once, on the driver, from every process's samples
    # (`harness.results.case_result`)
    outcome.samples["iter_ms"] = timing.samples_ms
    row.update(timed_s=timing.timed_s, warmup_iters=timing.warmup_iters,
               warmup_s=timing.warmup_s, stop_reason=timing.stop_reason)
    if monitor.result is not None:
        row.update(monitor.result.columns())
    row.update(binding.runner.facts)
    row.update(binding.runner.counters())
    energy = energy_columns(binding, step, batch_size, request.energy)
    row.update(energy)
    if isinstance(energy.get(ENERGY_METRIC), float) and math.isfinite(energy[ENERGY_METRIC]):
        outcome.samples[ENERGY_METRIC] = [energy[ENERGY_METRIC]]
    if request.profiler is not None:  # after the timing, memory and energy readings
        synced_ms = (statistics.median(timing.samples_ms) if timing.block == 1
                     else timing.synced_ms)
        profile = request.profiler(binding.runner, device, step, batch_size, synced_ms)
        row.update(profile.columns)
        outcome.ops = profile.ops
    return timing
