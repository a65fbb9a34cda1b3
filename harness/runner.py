"""The sweep: every case in its own fresh process, each result persisted as soon as it exists.

Isolation is a subprocess per case (`python -m harness.worker`), not a fork: a fresh
interpreter shares no allocator state, thread pools, compiled graphs or CUDA context with the
cases before it, and a case that aborts or hangs cannot take the sweep with it. The parent
blocks in `wait(timeout)` while a case runs (it does not poll, so it does not compete with
the case for a core). The case runs in a process group of its own, so that a timeout kills
what it started too; and it holds a lifeline to the sweep (`harness.lifeline`), so that it
also dies when the sweep is killed outright.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tqdm import tqdm

from harness.backends import get_backend
from harness.cases import Case, PlannedCase, SweepConfig, expand
from harness.environment import collect_environment, cpu_count
from harness.errors import UsageError
from harness.measure.timing import DEFAULT_POLICY, QUICK_POLICY
from harness.results import (
    MANIFEST,
    case_path,
    finished_case_ids,
    load_manifest,
    resolve_run,
    save_case,
    write_json_atomic,
    writing,
)
from harness.schema import SCHEMA

LOGS_DIR = "logs"
CACHE_DIR = ".cache"
#: How long a case's process outlives its timeout before it ends itself: the sweep kills it
#: at the timeout; the worker's own deadline is only for a sweep that is alive but stuck.
WORKER_GRACE_S = 30.0


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")


def start_run(config: SweepConfig, results_dir: Path, run_id: str | None = None) -> Path:
    """Create the run folder and its manifest (validating the config first)."""
    expand(config)  # fail on bad names before anything is written
    if results_dir.exists() and not results_dir.is_dir():
        raise UsageError(f"results folder {results_dir} is a file, not a folder; name a folder "
                         "(it is created if missing)")
    run_id = run_id or new_run_id()
    run_dir = results_dir / run_id
    if (run_dir / MANIFEST).exists():
        raise UsageError(f"run '{run_id}' already exists in {results_dir}; "
                         "use --resume to finish it")
    policy = QUICK_POLICY if config.quick else DEFAULT_POLICY
    write_json_atomic(run_dir / MANIFEST, {"run_id": run_id, "config": config.to_dict(),
                                           "timing_policy": dataclasses.asdict(policy),
                                           "threads": config.threads or cpu_count(),
                                           "environment": collect_environment(),
                                           "started": _now()})
    return run_dir


def resume_config(run: str, results_dir: Path) -> tuple[Path, SweepConfig]:
    run_dir = resolve_run(run, results_dir)
    manifest = load_manifest(run_dir)
    if "source" in manifest:
        raise UsageError(f"run '{run_dir.name}' was imported ({manifest['source']}); "
                         "there is nothing to resume")
    return run_dir, SweepConfig.from_dict(manifest["config"])


def run_sweep(run_dir: Path, config: SweepConfig, progress: bool | None = None
              ) -> list[dict[str, Any]]:
    """Run every planned case that has no record yet; return the rows produced now."""
    run_id = run_dir.name
    environment = collect_environment()
    done = finished_case_ids(run_dir)
    todo = [p for p in expand(config) if p.case.case_id not in done]
    cache_dir = run_dir.parent / CACHE_DIR
    rows = []
    bar = tqdm(todo, unit="case", disable=None if progress is None else not progress,
               dynamic_ncols=True)
    for planned in bar:
        bar.set_postfix_str(planned.case.case_id)
        row, samples = run_planned(planned, config, run_dir, cache_dir)
        # The case's own process knows its environment best (the ISA its libraries dispatch
        # to, the GPU it saw); the sweep's fills in for cases that never started one.
        row = {**environment, **row, "run_id": run_id, "timestamp": _now()}
        save_case(run_dir, row, samples)
        rows.append(row)
    return rows


def run_planned(planned: PlannedCase, config: SweepConfig, run_dir: Path, cache_dir: Path
                ) -> tuple[dict[str, Any], dict[str, list[float]]]:
    case = planned.case
    backend = get_backend(case.backend)
    identity = {"case_id": case.case_id, "suite": case.suite, "size": case.size,
                "backend": case.backend, "device": backend.device,
                "precision": backend.precision, "phase": case.phase,
                "batch_size": case.batch_size, "seed": config.seed}
    if planned.skip_reason:
        return {**identity, "status": "skipped", "reason": planned.skip_reason}, {}
    log_path = case_path(run_dir / LOGS_DIR, case.case_id, ".log")
    result = run_isolated(case, config, cache_dir, log_path)
    unknown = sorted(set(result["row"]) - set(SCHEMA))
    if unknown:  # checked before anything is written: a bad file would break every later load
        result = {**_failure("error", f"the case returned columns not in the schema: "
                                      f"{', '.join(unknown)}"), "wall_s": result["wall_s"]}
    row = {**identity, **result["row"], "status": result["status"],
           "reason": result["reason"], "wall_s": result["wall_s"]}
    return row, result["samples"]


def run_isolated(case: Case, config: SweepConfig, cache_dir: Path, log_path: Path
                 ) -> dict[str, Any]:
    """Run one case in a fresh interpreter with a timeout; never raises for the case's sake."""
    with writing(log_path):
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = log_path.open("w")
    with log, _lifeline() as lifeline, tempfile.TemporaryDirectory(prefix="archbench-") as tmp:
        spec_path, out_path = Path(tmp) / "spec.json", Path(tmp) / "out.json"
        spec_path.write_text(json.dumps({
            "case": case.__dict__, "config": config.to_dict(), "cache_dir": str(cache_dir),
            "lifeline": {"parent_pid": os.getpid(), "fd": lifeline,
                         "deadline_s": config.timeout_s + WORKER_GRACE_S}}))
        start = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "harness.worker", str(spec_path), str(out_path)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            pass_fds=(lifeline,), env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            process.wait(timeout=config.timeout_s)
            timed_out = False
        except subprocess.TimeoutExpired:
            _kill_group(process)
            timed_out = True
        except BaseException:  # Ctrl-C, SIGTERM (see cli): the case has its own session
            _kill_group(process)
            raise
        wall_s = time.perf_counter() - start
        if out_path.exists():
            result = json.loads(out_path.read_text())
        elif timed_out:
            result = _failure("timeout", f"no result after {config.timeout_s:g} s; killed")
        else:
            result = _failure("crashed", _crash_reason(process.returncode, log_path))
    result["wall_s"] = wall_s
    return result


@contextlib.contextmanager
def _lifeline() -> Iterator[int]:
    """A pipe for the worker to inherit the read end of. Nothing is written to it: the worker
    reads EOF once the write end closes, after the case, or when this process dies however."""
    read_end, write_end = os.pipe()  # neither is inherited by anything else this process starts
    try:
        yield read_end
    finally:
        os.close(read_end)
        os.close(write_end)


def _failure(status: str, reason: str) -> dict[str, Any]:
    return {"status": status, "reason": reason, "row": {}, "samples": {}}


def _kill_group(process: subprocess.Popen) -> None:
    """Kill the case and anything it started (compiler workers), then reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _crash_reason(returncode: int, log_path: Path) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        reason = f"worker killed by {name}"
    else:
        reason = f"worker exited with code {returncode} without a result"
    lines = [line for line in log_path.read_text(errors="replace").splitlines() if line.strip()]
    return f"{reason} (last output: {lines[-1][:200]})" if lines else reason


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
