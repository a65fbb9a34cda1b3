"""One process of a case, launched: what it is told, how it runs, what comes back.

Every executor launches a case's process the same way: the worker spec (`worker_spec`) says
which case, with which configuration and caches; the process runs isolated in a fresh
interpreter with a timeout and a kill of its process group (`harness.executors.isolation`);
its result becomes a `ProcessResult`, refused as an error if its row has columns outside the
schema (`process_result`), before anything is written.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from harness.case_result import ProcessResult
from harness.cases import Case, SweepConfig
from harness.executors.isolation import failure, launch
from harness.results.schema import OPS_SCHEMA, SCHEMA


def measure_process(case: Case, config: SweepConfig, process: int, cache_dir: Path,
                    log_path: Path, python: str = sys.executable, *,
                    run_dir: Path | None = None) -> ProcessResult:
    """Process `process` of `case` in a fresh interpreter; never raises for the case's sake."""
    return process_result(launch_case_process(case, config, cache_dir, log_path, process,
                                              python, run_dir=run_dir), process)


def process_result(result: dict[str, Any], process: int) -> ProcessResult:
    """A worker's result as a `ProcessResult`, or an error if its row has columns outside the
    schema: checked before anything is written, as a bad file would break every later load."""
    unknown = sorted(set(result["row"]).union(*map(set, result.get("ops", [])))
                     - set(SCHEMA) - set(OPS_SCHEMA))
    if unknown:
        result = {**failure("error", f"the case returned columns not in the schema: "
                                     f"{', '.join(unknown)}"), "wall_s": result["wall_s"]}
    return ProcessResult(process, result["status"], result["reason"], result["wall_s"],
                         result["row"], result["samples"], result.get("ops", []))


def worker_spec(case: Case, config: SweepConfig, cache_dir: Path, process: int,
                run_dir: Path | None) -> dict[str, Any]:
    """What a case's process is told (`harness.worker`); `run_dir` is where a profiled case
    writes its trace."""
    return {"case": case.__dict__, "config": config.to_dict(), "cache_dir": str(cache_dir),
            "process": process, "run_dir": str(run_dir) if run_dir else None}


def launch_case_process(case: Case, config: SweepConfig, cache_dir: Path, log_path: Path,
                        process: int = 0, python: str = sys.executable, *,
                        run_dir: Path | None = None) -> dict[str, Any]:
    """Run one process of a case on this machine (`harness.executors.isolation`)."""
    return launch(worker_spec(case, config, cache_dir, process, run_dir), config.timeout_s,
                  log_path, python)
