"""OpenVINO's profiled window: its per-layer performance counters over K synchronous runs.

OpenVINO fixes `PERF_COUNT` when a model is compiled, so the timed model cannot start
counting; a second compiled model of the same IR, with the same properties plus `PERF_COUNT`,
runs its own warm-up and then the same K steps as a torch profile, each timed. After each run,
`InferRequest.profiling_info` lists every layer of the runtime graph with its status, type
(`node_type`: FullyConnected, MVN, Subgraph, ...), kernel (`exec_type`: `brgemm_avx512_f32`)
and `real_time`; layers that did not run (`NOT_RUN`: inputs, constants, in-place reshapes) are
dropped. The table sums them per (layer type, kernel): a layer's real time is its own, so it is
its self time. The counters run one request at a time, so a pipelined case's profile is of
its synchronous step.

No trace comes with the counters, so the trace file is drawn from them: each profiled run's
layers laid end to end in execution order, on one track (a reading aid: layers that ran in
parallel inside OpenVINO appear one after another).
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from harness.profiling.op_table import OpTiming
from harness.profiling.request import Profile, ProfileRequest
from harness.profiling.traces import write_trace

WARMUP_RUNS = 3
EXECUTED = "EXECUTED"
PROVIDER = "OpenVINO CPU"


def profile_openvino(step: Callable[[], object], counters: Callable[[], Iterable[Any]],
                     request: ProfileRequest) -> Profile:
    """Warm up, time and profile K synchronous runs of `step`, reading `counters()` (the
    request's `profiling_info`) after each; write the trace drawn from them."""
    for _ in range(WARMUP_RUNS):
        step()
    step_s, runs = [], []
    for _ in range(request.steps):
        start = time.perf_counter()
        step()
        step_s.append(time.perf_counter() - start)
        runs.append([_layer(info) for info in counters()])
    timings = layer_timings(runs)
    with tempfile.TemporaryDirectory() as folder:
        raw = Path(folder) / "trace.json"
        raw.write_text(json.dumps(trace_events(runs)))
        trace_bytes = write_trace(raw, request.trace_path)
    return Profile(timings, statistics.median(step_s) * 1e3, request.steps, trace_bytes)


def _layer(info: Any) -> dict[str, Any]:
    """One `ProfilingInfo` as plain data: name, type, kernel, status, real time (µs)."""
    return {"name": info.node_name, "type": info.node_type, "kernel": info.exec_type,
            "status": str(info.status).rsplit(".", 1)[-1],
            "us": info.real_time.total_seconds() * 1e6}


def layer_timings(runs: list[list[dict[str, Any]]]) -> list[OpTiming]:
    """Self time and calls per (layer type, kernel) over the runs, executed layers only."""
    timings: dict[tuple[str, str], OpTiming] = {}
    for layers in runs:
        for layer in layers:
            if layer["status"] != EXECUTED:
                continue
            timing = timings.setdefault((layer["type"], layer["kernel"]), OpTiming(
                layer["type"], "cpu", provider=PROVIDER, input_shapes=layer["kernel"]))
            timing.self_us += layer["us"]
            timing.calls += 1
    return list(timings.values())


def trace_events(runs: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Complete events, each run's executed layers end to end (module docstring)."""
    events, clock = [], 0.0
    for index, layers in enumerate(runs):
        for layer in layers:
            if layer["status"] != EXECUTED:
                continue
            events.append({"name": layer["type"], "cat": "Node", "ph": "X", "ts": clock,
                           "dur": layer["us"], "pid": 0, "tid": 0,
                           "args": {"layer": layer["name"], "kernel": layer["kernel"],
                                    "run": index}})
            clock += layer["us"]
    return events
