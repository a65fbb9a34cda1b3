"""One process of a case, launched: what it is told, how it runs, what comes back.

Every executor launches a case's process the same way: the worker spec (`worker_spec`) says
which case, with which configuration and caches; the process runs isolated in a fresh
interpreter with a timeout and a kill of its process group (`harness.executors.isolation`);
its `ProcessResult` is refused as an error if its row has columns outside the schema
(`checked`), before anything is written.
"""

from __future__ import annotations

import sys
from pathlib import Path

from harness.cases import SweepConfig
from harness.executors.isolation import launch
from harness.protocol import Case, ProcessResult, WorkerSpec
from harness.results.schema import OPS_SCHEMA, SCHEMA


def run_one_process(case: Case, config: SweepConfig, process: int, cache_dir: Path,
                    log_path: Path, python: str = sys.executable, *,
                    run_dir: Path | None = None) -> ProcessResult:
    """Process `process` of `case` in a fresh interpreter; never raises for the case's sake."""
    return checked(launch_case_process(case, config, cache_dir, log_path, process, python,
                                       run_dir=run_dir))


def checked(result: ProcessResult) -> ProcessResult:
    """The worker's result, or an error if its row has columns outside the schema: checked
    before anything is written, as a bad file would break every later load."""
    unknown = sorted(set(result.row).union(*map(set, result.ops))
                     - set(SCHEMA) - set(OPS_SCHEMA))
    if unknown:
        return ProcessResult.failure(result.process, "error",
                                     f"the case returned columns not in the schema: "
                                     f"{', '.join(unknown)}", result.wall_s)
    return result


def worker_spec(case: Case, config: SweepConfig, cache_dir: Path, process: int,
                run_dir: Path | None) -> WorkerSpec:
    """What a case's process is told (`harness.case.worker`); `run_dir` is where a profiled case
    writes its trace."""
    return WorkerSpec(case, config.for_case().to_dict(), str(cache_dir), process,
                      str(run_dir) if run_dir else None)


def launch_case_process(case: Case, config: SweepConfig, cache_dir: Path, log_path: Path,
                        process: int = 0, python: str = sys.executable, *,
                        run_dir: Path | None = None) -> ProcessResult:
    """Run one process of a case on this machine (`harness.executors.isolation`)."""
    return launch(worker_spec(case, config, cache_dir, process, run_dir), config.timeout_s,
                  log_path, python, max_memory_gb=config.max_memory_gb)
