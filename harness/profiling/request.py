"""What a runner's profiling hook is asked for, and what it hands back.

`InferenceRunner.profile` and `TrainRunner.profile` take a `ProfileRequest` and return a
`Profile`: the PyTorch runners share `torch_profile.profile_torch`, the ONNX Runtime runner
overrides it with `ort_profile.profile_ort`. Both write the trace file they are asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from harness.profiling.op_table import OpTiming


@dataclass(frozen=True)
class ProfileRequest:
    steps: int  # K: the profiled (active) steps
    trace_path: Path  # where the gzipped trace goes
    device: str
    op_flops: Mapping[str, float] = field(default_factory=dict)  # aten op -> FLOPs per step


@dataclass(frozen=True)
class Profile:
    timings: list[OpTiming]  # summed over the K steps
    step_ms: float  # median wall time of one profiled step, device synchronised
    steps: int
    trace_bytes: int
