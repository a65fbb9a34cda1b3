"""The profiled window of every PyTorch backend (eager, compile, AMP; CPU and CUDA).

`torch.profiler.profile` with a schedule: `WAIT` steps ignored, `WARMUP` steps traced and
dropped (the profiler's own start-up cost lands there), then K active steps, each ended by
`prof.step()`. Shapes are recorded; memory too on the CPU (on CUDA the allocator's own
statistics already cover it, and memory events swell a GPU trace). Each active step is timed
with the device synchronised, as the latency protocol does, so the profiled step time is
comparable with the case's unprofiled median (`profile_overhead`).

Times are *self* times: an op's total includes the ops it calls (aten::linear contains
aten::addmm), so totals double-count. On CUDA the kernels' device time and the CPU ops'
dispatch time are kept as separate rows (`op_table`).

Per-op FLOPs come from `FlopCounterMode` (`step_cost`), which counts at the level of the op
with a FLOP formula (aten::convolution, aten::addmm); the profiler's self time sits in what
that op calls (aten::mkldnn_convolution). Each counted op's FLOPs are therefore given to the
op of its call tree with the most self time, in proportion to its calls. Where a compiler
replaced the op (inductor's fused kernels), its FLOPs stay with the step and no op row has them.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import torch
from torch.autograd.profiler_util import FunctionEvent
from torch.profiler import ProfilerActivity, profile, schedule

from harness.profiling.op_table import OpTiming
from harness.profiling.request import Profile, ProfileRequest
from harness.profiling.traces import write_trace

WAIT, WARMUP = 1, 1
#: Rows that are the profiler's own bookkeeping, not ops: the step markers and memory events.
_NOT_OPS = ("ProfilerStep#", "ProfilerStep*", "[memory]")


def profile_torch(step: Callable[[], object], sync: Callable[[], None],
                  request: ProfileRequest) -> Profile:
    """Profile `request.steps` steps of `step` and write the trace (see module docstring)."""
    cuda = request.device == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    step_s: list[float] = []
    with tempfile.TemporaryDirectory(prefix="archbench-trace-") as tmp:
        raw = Path(tmp) / "trace.json"
        with profile(activities=activities, record_shapes=True, profile_memory=not cuda,
                     schedule=schedule(wait=WAIT, warmup=WARMUP, active=request.steps,
                                       repeat=1),
                     on_trace_ready=lambda prof: prof.export_chrome_trace(str(raw))) as prof:
            for index in range(WAIT + WARMUP + request.steps):
                start = time.perf_counter()
                step()
                sync()
                if index >= WAIT + WARMUP:
                    step_s.append(time.perf_counter() - start)
                prof.step()
        trace_bytes = write_trace(raw, request.trace_path, rank_metadata=cuda)
    events = list(prof.events())
    timings = _timings(events, cuda)
    _attribute_flops(timings, events, request.op_flops)
    return Profile(list(timings.values()), statistics.median(step_s) * 1e3, request.steps,
                   trace_bytes)


def _is_op(event: FunctionEvent) -> bool:
    return not event.name.startswith(_NOT_OPS)


def _on_device(event: FunctionEvent) -> bool:
    return event.device_type != torch.autograd.DeviceType.CPU


def _timings(events: list[FunctionEvent], cuda: bool) -> dict[tuple[str, str], OpTiming]:
    """Self time and calls per (op, device) over the window; device rows only with CUDA.

    On the device, a `record_function` range (inductor's `## Call CompiledFxGraph ##`) is
    mirrored as a GPU user annotation spanning the kernels it launched: not a kernel, and
    counting it would count those kernels twice, so it is left out there (it stays a CPU row).
    """
    timings: dict[tuple[str, str], OpTiming] = {}
    for event in events:
        if not _is_op(event):
            continue
        device = "cuda" if _on_device(event) else "cpu"
        if device == "cuda" and (not cuda or getattr(event, "is_user_annotation", False)):
            continue
        timing = timings.setdefault((event.name, device), OpTiming(
            event.name, device, input_shapes=_shapes(event)))
        timing.self_us += (event.self_device_time_total if device == "cuda"
                           else event.self_cpu_time_total)
        timing.calls += 1
    return timings


def _shapes(event: FunctionEvent) -> str:
    shapes = [shape for shape in (event.input_shapes or []) if shape]
    return str(shapes)[:200] if shapes else ""


def _subtree(event: FunctionEvent) -> Iterator[FunctionEvent]:
    yield event
    for child in event.cpu_children:
        yield from _subtree(child)


def _attribute_flops(timings: Mapping[tuple[str, str], OpTiming], events: list[FunctionEvent],
                     op_flops: Mapping[str, float]) -> None:
    """Give each counted op's FLOPs per step to the op of its call tree that holds the most
    self time (module docstring)."""
    holders: dict[str, Counter[str]] = defaultdict(Counter)
    for event in events:
        if event.name in op_flops and not _on_device(event):
            holder = max(_subtree(event), key=lambda e: e.self_cpu_time_total)
            holders[event.name][holder.name] += 1
    flops: dict[str, float] = defaultdict(float)
    for name, counts in holders.items():
        calls = sum(counts.values())
        for holder, n in counts.items():
            flops[holder] += op_flops[name] * n / calls
    for (name, device), timing in timings.items():
        if device == "cpu" and name in flops:
            timing.flops = flops[name]

