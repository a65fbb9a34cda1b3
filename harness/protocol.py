"""What crosses the boundary of a case's own process, typed: the case, the spec the process is
given, and the result it hands back.

A case runs in a fresh interpreter (`harness.executors.isolation`), launched by the driver or
by a Ray task on another node, so what it is told and what it reports travel as JSON files.
They are dataclasses here with ``to_json`` / ``from_json``, so that every side reads the same
fields by name and a misspelt one fails where it is written, not three hops later. A failure
is the same type as a success (as pyperf's runs and asv's failed results are): a
`ProcessResult` whose status is not ``ok``, with its reason, whoever found it (the case, its
launcher after a timeout or crash, the driver refusing an unknown column).

This module imports nothing heavy (no torch, numpy or pandas): a Ray worker loads it for every
task, and a case's process reads its spec before it imports torch.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class Case:
    """One cell of the matrix: suite x size x backend x phase x scenario x batch size, and with
    --per-hardware the kind of node it runs on."""

    suite: str
    size: str
    backend: str
    phase: str
    batch_size: int
    scenario: str = "latency"
    hardware: str = ""  # the kind of node it runs on, with --per-hardware (else any)

    @property
    def case_id(self) -> str:
        return (f"{self.suite}-{self.size}-{self.backend}-{self.phase}-{self.scenario}-"
                f"bs{self.batch_size}" + (f"-on-{self.hardware}" if self.hardware else ""))


@dataclass(frozen=True)
class Lifeline:
    """How a case's process knows its parent is gone (`harness.case.lifeline`): the parent's pid,
    the read end of a pipe it inherited, and the time after which it ends itself."""

    parent_pid: int
    fd: int
    deadline_s: float


GiB = 2**30
CGROUP_V2 = "cgroup-v2"
RLIMIT_DATA = "rlimit-data"


@dataclass(frozen=True)
class MemoryLimit:
    """A case process's host memory limit (`harness.machine.memory_limit`): its size, how it is
    enforced (`CGROUP_V2`, `RLIMIT_DATA`, or 'none: why'), and the cgroup folder the worker
    joins (cgroup-v2 only)."""

    limit_bytes: int
    method: str
    cgroup: str = ""

    def columns(self) -> dict[str, Any]:
        """The row's columns that say what limit the case ran under."""
        return {"memory_limit_gb": round(self.limit_bytes / GiB, 3) if self.limit_bytes
                else None, "memory_limit_by": self.method}

    @property
    def enforced(self) -> bool:
        return self.limit_bytes > 0 and self.method in (CGROUP_V2, RLIMIT_DATA)

    def describe(self) -> str:
        """The limit in a few words, for an `oom` row's reason (the row's columns say more)."""
        if not self.enforced:
            return "no host memory limit"
        return f"limit {self.limit_bytes / GiB:.3g} GiB ({self.method})"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MemoryLimit:
        return cls(int(data["limit_bytes"]), str(data["method"]), str(data.get("cgroup", "")))


@dataclass(frozen=True)
class WorkerSpec:
    """What a case's process is told: the case, the part of the sweep's configuration a case
    needs (`harness.cases.CaseConfig.to_dict`: where its model comes from and how to measure;
    not the rest of the selection, nor the placement), the cache folder, its process index,
    where a profile's trace goes, and its lifeline (None when a spec is run by hand, outside a
    sweep)."""

    case: Case
    config: dict[str, Any]
    cache_dir: str
    process: int = 0
    run_dir: str | None = None
    lifeline: Lifeline | None = None
    memory: MemoryLimit | None = None  # set by its launcher (`harness.executors.isolation`)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WorkerSpec:
        lifeline, memory = data.get("lifeline"), data.get("memory")
        return cls(Case(**data["case"]), dict(data["config"]), str(data["cache_dir"]),
                   int(data.get("process", 0)), data.get("run_dir"),
                   Lifeline(**lifeline) if lifeline else None,
                   MemoryLimit.from_json(memory) if memory else None)

    def held_by(self, lifeline: Lifeline, memory: MemoryLimit | None = None) -> WorkerSpec:
        """This spec with the lifeline of the process that launches it, and the memory limit
        it runs under."""
        return replace(self, lifeline=lifeline, memory=memory)

    def cached_in(self, cache_dir: str) -> WorkerSpec:
        """This spec with another cache folder (a Ray node's own)."""
        return replace(self, cache_dir=cache_dir)


@dataclass(frozen=True)
class ProcessResult:
    """What one process of a case reported: its status and reason, its wall time (set by the
    launcher), its row (the schema's per-process fields), raw samples by metric, and the op
    table of a profile."""

    process: int
    status: str
    reason: str = ""
    wall_s: float = math.nan
    row: dict[str, Any] = field(default_factory=dict)
    samples: dict[str, list[float]] = field(default_factory=dict)
    ops: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @classmethod
    def failure(cls, process: int, status: str, reason: str,
                wall_s: float = math.nan) -> ProcessResult:
        """A process that measured nothing: skipped, out of memory, error, crash, timeout."""
        return cls(process, status, reason, wall_s)

    def timed(self, wall_s: float) -> ProcessResult:
        """This result with the wall time its launcher measured."""
        return replace(self, wall_s=wall_s)

    def placed(self, placement: dict[str, Any]) -> ProcessResult:
        """This result with the columns of where its executor placed it (executor, node,
        cases per node, OMP threads): the executor knows them, the case does not."""
        return replace(self, row={**self.row, **placement})

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if isinstance(self.wall_s, float) and math.isnan(self.wall_s):
            data["wall_s"] = None  # JSON has no NaN
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProcessResult:
        wall_s = data.get("wall_s")
        return cls(int(data.get("process", 0)), str(data["status"]), str(data.get("reason", "")),
                   math.nan if wall_s is None else float(wall_s), dict(data.get("row", {})),
                   {metric: list(values) for metric, values in data.get("samples", {}).items()},
                   list(data.get("ops", [])))
