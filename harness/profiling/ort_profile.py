"""ONNX Runtime's profiled window: a second session of the same file, and its JSON parsed.

ORT fixes session options when a session is created, so the timed session cannot start
profiling; a second session on the same file, with the same options plus `enable_profiling`,
runs its own warm-up and then the same K steps as a torch profile, each timed with the device
synchronised. `end_profiling()` writes a JSON list of trace events:

- `cat == "Session"`: `model_loading_uri`, `session_initialization` (before any run) and one
  `model_run` per `run()` call;
- `cat == "Node"`: per graph node `<node>_fence_before`, `<node>_kernel_time` and
  `<node>_fence_after`; only `_kernel_time` is the node's work, and `args` holds its `op_name`
  (the op type: Conv, FusedConv, MatMulInteger, ...) and `provider`.

`parse_profile` keeps the kernel-time events from the first profiled run on (session start-up
and the warm-up runs are dropped) and sums them per (op type, provider): an ORT node runs no
other node, so its duration is its self time.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.profiling.op_table import OpTiming
from harness.profiling.request import Profile, ProfileRequest
from harness.profiling.traces import write_trace

WARMUP_RUNS = 3
PROVIDER_DEVICE = {"CUDAExecutionProvider": "cuda", "TensorrtExecutionProvider": "cuda"}


def profile_ort(step: Callable[[], object], sync: Callable[[], None], end_profiling:
                Callable[[], str], request: ProfileRequest) -> Profile:
    """Warm up, time and profile K runs of `step` (a run of the profiling session), write its
    trace and parse it."""
    for _ in range(WARMUP_RUNS):
        step()
        sync()
    step_s = []
    for _ in range(request.steps):
        start = time.perf_counter()
        step()
        sync()
        step_s.append(time.perf_counter() - start)
    raw = Path(end_profiling())
    try:
        timings = parse_profile(json.loads(raw.read_text()), skip_runs=WARMUP_RUNS)
        trace_bytes = write_trace(raw, request.trace_path)
    finally:
        raw.unlink(missing_ok=True)
    return Profile(timings, statistics.median(step_s) * 1e3, request.steps, trace_bytes)


def parse_profile(events: list[dict[str, Any]], skip_runs: int) -> list[OpTiming]:
    """Self time and calls per (op type, provider) of the node kernels after the first
    `skip_runs` runs (see the module docstring); ValueError when those runs are not there."""
    events = sorted(events, key=lambda e: e.get("ts", 0))
    runs = [e for e in events if e.get("cat") == "Session" and e.get("name") == "model_run"]
    if len(runs) <= skip_runs:
        raise ValueError(f"the ORT profile holds {len(runs)} runs; expected more than the "
                         f"{skip_runs} warm-up runs")
    start = runs[skip_runs]["ts"]
    timings: dict[tuple[str, str], OpTiming] = {}
    for event in events:
        if not (event.get("cat") == "Node" and event.get("name", "").endswith("_kernel_time")
                and event["ts"] >= start):
            continue
        args = event.get("args", {})
        op, provider = args.get("op_name", event["name"]), args.get("provider", "")
        timing = timings.setdefault((op, provider), OpTiming(
            op, PROVIDER_DEVICE.get(provider, "cpu"), provider=provider,
            input_shapes=_shapes(args)))
        timing.self_us += event.get("dur", 0)
        timing.calls += 1
    return list(timings.values())


def _shapes(args: dict[str, Any]) -> str:
    shapes = args.get("input_type_shape")
    return json.dumps(shapes, separators=(",", ":"))[:200] if shapes else ""
