"""The one interface of the executors, and what they may see of a sweep.

An executor runs a sweep's remaining processes and reports each one. It sees the sweep through
`SweepView` (its configuration and cases, where things go, and `record`), never through
`harness.sweep.run` itself: the sweep is above the executors, and an executor importing it made an
import circle.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from tqdm import tqdm

    from harness.cases import PlannedCase, SweepConfig
    from harness.protocol import ProcessResult
    from harness.results.case_result import CaseResult


class SweepView(Protocol):
    """What an executor uses of a sweep (`harness.sweep.Sweep` is one)."""

    run_dir: Path
    config: SweepConfig
    python: str
    cases: list[tuple[PlannedCase, CaseResult]]

    @property
    def cache_dir(self) -> Path:
        """The caches every run in the results folder shares (weights, ONNX files)."""

    def log_path(self, planned: PlannedCase, process: int) -> Path:
        """Where process `process` of a case leaves its output, on the driver."""

    def record(self, planned: PlannedCase, result: CaseResult, process: ProcessResult) -> None:
        """Add a finished process to its case and persist the case at once."""

    def save(self, result: CaseResult) -> None:
        """Persist a case as it stands (its processes, its notes)."""


class Executor(ABC):
    """Runs the processes a sweep still needs, each in a fresh worker process with the
    sweep's timeout, and hands every result to `SweepView.record` the moment it arrives (so a
    killed sweep keeps what finished). Executors differ only in where and how many at once."""

    @abstractmethod
    def run(self, sweep: SweepView, bar: tqdm) -> set[str]:
        """Run every process of `sweep` not yet run, advancing `bar` by one per process;
        return the ids of the cases that ran now."""

    def close(self) -> None:
        """Release what the executor holds (a cluster it started); nothing by default."""
