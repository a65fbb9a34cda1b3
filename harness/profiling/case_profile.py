"""One case's profile: called at the end of the timed run, after the timing and the
peak-memory reading, in the case's first process only (`harness.scenarios.base.timed_run`,
through the scenario request's profiler, which the case's process binds to a `ProfileTarget`).

It counts the step's FLOPs and bytes (`step_cost`), asks the runner for a profile of K steps
(`InferenceRunner.profile` / `TrainRunner.profile`), and writes the op table and the honesty
columns: `profile_overhead` (profiled step / the unprofiled median of this process) and
`profile_coverage` (the ops' self time / the profiled step). A profile that fails, for
whatever reason, leaves the timed result as it was and says why in `profile_error`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from harness.errors import one_line
from harness.profiling.op_table import coverage, op_rows
from harness.profiling.request import Profile, ProfileRequest
from harness.profiling.step_cost import step_cost
from suites.base import Suite, TaskData

#: K, the profiled steps: enough for a median and every op of a step, few enough that a
#: trace stays small (docs/profiling.md lists sizes).
PROFILE_STEPS = 5
TRACES_DIR = "traces"


def trace_name(case_id: str) -> str:
    """The trace file of a case, relative to its run folder."""
    return f"{TRACES_DIR}/{case_id}.trace.json.gz"


class Profilable(Protocol):
    """A runner that can profile its bound step (`harness.backends.base`'s runners are)."""

    def profile(self, step: Callable[[], object], request: ProfileRequest) -> Profile: ...


@dataclass(frozen=True)
class ProfileTarget:
    """What a profile needs of its case: the model to count (suite, size, data, seed), the
    phase, and where its trace goes (`run_dir`: None for a case run by hand, no trace)."""

    suite: Suite
    size: str
    data: TaskData | None
    phase: str
    seed: int
    case_id: str
    run_dir: Path | None


@dataclass
class ProfileOutcome:
    """The row's profile columns (or `profile_error`) and the op table."""

    columns: dict[str, Any] = field(default_factory=dict)
    ops: list[dict[str, Any]] = field(default_factory=list)


def profile_case(target: ProfileTarget, runner: Profilable, device: str,
                 step: Callable[[], object], batch_size: int,
                 synced_ms: float) -> ProfileOutcome:
    """Profile the bound `step`: the row's profile columns and the op table.

    `synced_ms` is the unprofiled step timed as the profiler times one, synchronised after
    each step: a pipelined (throughput) median hides the launch gaps a profiled step pays,
    and would inflate the overhead by the pipelining gain on CUDA."""
    outcome = ProfileOutcome()
    row = outcome.columns
    try:
        if target.run_dir is None:
            raise RuntimeError("no run folder to write the trace into (a case run by hand)")
        cost = step_cost(target.suite, target.size, target.data, target.phase, batch_size,
                         target.seed)
        row.update(step_flops=cost.flops, step_bytes=cost.bytes)
        name = trace_name(target.case_id)
        profile = runner.profile(step, ProfileRequest(
            PROFILE_STEPS, Path(target.run_dir) / name, device, cost.op_flops))
        ops = op_rows(profile.timings, profile.steps, profile.step_ms)
        if not ops:
            raise RuntimeError("the profiler recorded no op in the profiled steps")
        row.update(profile_steps=profile.steps, profile_ms=profile.step_ms,
                   profile_overhead=profile.step_ms / synced_ms,
                   profile_coverage=coverage(ops, device), trace_file=name,
                   trace_kb=profile.trace_bytes / 1024)
        outcome.ops = ops
    except Exception as exc:  # the timed result stands; the row says why there is no profile
        row["profile_error"] = one_line(exc)
    return outcome

