"""The one interface of the executors: run a sweep's remaining processes, report each one."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tqdm import tqdm

    from harness.sweep import Sweep


class Executor(ABC):
    """Runs the processes a sweep still needs, each in a fresh worker process with the
    sweep's timeout, and hands every result to `Sweep.record` the moment it arrives (so a
    killed sweep keeps what finished). Executors differ only in where and how many at once."""

    @abstractmethod
    def run(self, sweep: Sweep, bar: tqdm) -> set[str]:
        """Run every process of `sweep` not yet run, advancing `bar` by one per process;
        return the ids of the cases that ran now."""

    def close(self) -> None:
        """Release what the executor holds (a cluster it started); nothing by default."""
