"""The op table: one row per (case, op), the same columns for every backend.

Both profilers (`torch_profile`, `ort_profile`) hand back `OpTiming`s summed over the K
profiled steps; `op_rows` turns them into per-step rows with their category, share of the
profiled step and, where the op's FLOPs are known, achieved FLOP/s. Shares are of the profiled
step's wall time, so their sum is the profile's coverage (`coverage`): what the op list
explains of the step. The rest is time between ops (Python, the framework's dispatch) that no
op owns.

On CUDA the table holds two kinds of rows, told apart by `device`: kernels (device time) and
the CPU-side ops that launched them (dispatch time). They are never added together: coverage
and shares of a CUDA case count its device rows, the CPU rows say what the host spent.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.profiling.categories import categorize

#: A profile to read with care: its ops explain less of the step than this, or the profiler
#: slowed the step by more than this factor (the report and `archbench ops` flag both).
MIN_COVERAGE, MAX_OVERHEAD = 0.80, 1.25


@dataclass
class OpTiming:
    """One op (or kernel) over the profiled window: summed self time and calls."""

    op: str
    device: str  # where `self_us` was spent: cpu, or cuda for kernels
    self_us: float = 0.0
    calls: int = 0
    provider: str = ""  # ONNX Runtime's execution provider; "" for torch
    input_shapes: str = ""
    flops: float = math.nan  # per step, where known


def op_rows(timings: Iterable[OpTiming], steps: int, step_ms: float) -> list[dict[str, Any]]:
    """Per-step rows of the op table (schema: `harness.results.schema.OPS_SCHEMA`), largest
    first."""
    rows = []
    for timing in timings:
        self_ms = timing.self_us / 1e3 / steps
        flops = timing.flops
        rows.append({
            "op": timing.op, "category": categorize(timing.op), "device": timing.device,
            "provider": timing.provider, "calls_per_step": timing.calls / steps,
            "self_ms": self_ms, "share": self_ms / step_ms if step_ms > 0 else math.nan,
            "input_shapes": timing.input_shapes, "flops": flops,
            "achieved_flops": flops / (self_ms / 1e3) if self_ms > 0 and flops > 0 else math.nan,
        })
    return sorted(rows, key=lambda row: -row["self_ms"])


def coverage(rows: Iterable[Mapping[str, Any]], device: str) -> float:
    """The share of the profiled step the ops on `device` account for (see module docstring)."""
    return math.fsum(row["share"] for row in rows if row["device"] == device)


def profile_flags(coverage: float, overhead: float) -> list[str]:
    """Why a case's profile should be read with care (NaN: not judged)."""
    flags = []
    if coverage < MIN_COVERAGE:
        flags.append(f"coverage {coverage:.0%} < {MIN_COVERAGE:.0%}: the ops explain little of "
                     "the step (the rest is time between ops: Python, dispatch, the runtime)")
    if overhead > MAX_OVERHEAD:
        flags.append(f"overhead {overhead:.2f}x > {MAX_OVERHEAD:.2f}x: the profiler slowed the "
                     "step; shares are of the slowed step")
    return flags
