"""The sweep: every case timed in fresh processes, each result persisted as soon as it exists.

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
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tqdm import tqdm

from harness.backends import get_backend
from harness.case_result import CaseResult, ProcessResult
from harness.cases import Case, PlannedCase, SweepConfig, expand
from harness.environment import PROJECT_ROOT, collect_environment, cpu_count
from harness.errors import UsageError
from harness.profiling.roofline import ceiling_columns, efficiency_columns
from harness.results import (
    MANIFEST,
    case_path,
    case_records,
    load_manifest,
    resolve_run,
    save_record,
)
from harness.schema import OPS_SCHEMA, SCHEMA
from harness.storage import write_json_atomic, writing

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
    write_json_atomic(run_dir / MANIFEST, {"run_id": run_id, "config": config.to_dict(),
                                           "timing_policy": dataclasses.asdict(
                                               config.timing_policy),
                                           "threads": config.threads or cpu_count(),
                                           "environment": collect_environment(),
                                           **({"ceilings": measure_ceilings(config)}
                                              if config.profile else {}),
                                           "started": _now()})
    return run_dir


def measure_ceilings(config: SweepConfig) -> dict[str, Any]:
    """The machine's ceilings for a profiled run, per device (`harness.profiling.ceilings`),
    each measured in a fresh process with the cases' thread count; a device whose measurement
    fails is left out with its reason, and its cases get no % of peak."""
    from harness.backends.base import no_cuda_reason

    threads = config.threads or cpu_count()
    ceilings: dict[str, Any] = {}
    for device in ("cpu",) + (("cuda",) if no_cuda_reason() is None else ()):
        done = subprocess.run([sys.executable, "-m", "harness.profiling.ceilings", "--device",
                               device, "--threads", str(threads)], capture_output=True,
                              text=True, env=_worker_env(), timeout=120, check=False)
        if done.returncode == 0:
            ceilings[device] = json.loads(done.stdout)
        else:
            lines = done.stderr.strip().splitlines()
            ceilings[f"{device}_error"] = lines[-1] if lines else f"exit {done.returncode}"
    return ceilings


def resume_config(run: str, results_dir: Path) -> tuple[Path, SweepConfig]:
    run_dir = resolve_run(run, results_dir)
    manifest = load_manifest(run_dir)
    if "source" in manifest:
        raise UsageError(f"run '{run_dir.name}' was imported ({manifest['source']}); "
                         "there is nothing to resume")
    if "scenarios" not in manifest["config"]:
        # its cases have no scenario in their ids: resuming would run every case again under
        # new ids, beside the old ones
        raise UsageError(f"run '{run_dir.name}' was made before cases had scenarios and cannot "
                         "be resumed; start a new run")
    return run_dir, SweepConfig.from_dict(manifest["config"])


@dataclass
class Sweep:
    """A run being measured: its folder, its configuration, the Python that runs its cases,
    and every planned case with its result so far (read back from disk when resuming)."""

    run_dir: Path
    config: SweepConfig
    python: str = sys.executable
    cases: list[tuple[PlannedCase, CaseResult]] = field(default_factory=list)
    environment: dict[str, Any] = field(default_factory=dict)
    ceilings: dict[str, Any] = field(default_factory=dict)  # a profiled run's (manifest)

    @classmethod
    def open(cls, run_dir: Path, config: SweepConfig, python: str = sys.executable) -> Sweep:
        records = case_records(run_dir)
        cases = []
        for planned in expand(config):
            identity = _identity(planned.case, config, run_dir.name)
            record = records.get(planned.case.case_id)
            cases.append((planned, CaseResult.from_json(record, identity) if record
                          else CaseResult(identity, config.processes)))
        return cls(run_dir, config, python, cases, collect_environment(),
                   load_manifest(run_dir).get("ceilings", {}))

    def remaining(self) -> int:
        """Processes still to run (a skipped case counts as one: its row is still unwritten)."""
        return sum(result.planned - len(result.processes)
                   for _, result in self.cases if not result.finished)

    def advance(self, planned: PlannedCase, result: CaseResult, round_: int) -> bool:
        """Run the case's next process if it is due in this round (a resumed case that fell
        behind catches up); persist the case at once. True when a process ran."""
        index = result.next_process()
        if index is None or index > round_:
            return False
        if planned.skip_reason:
            result.processes.append(ProcessResult(0, "skipped", planned.skip_reason))
        else:
            log = case_path(self.run_dir / LOGS_DIR, planned.case.case_id,
                            ".log" if index == 0 else f".p{index}.log")
            result.processes.append(run_process(planned.case, self.config, index,
                                                self.run_dir.parent / CACHE_DIR, log,
                                                self.python, run_dir=self.run_dir))
        # The case's own processes know their environment best (the ISA their libraries
        # dispatch to, the GPU they saw); the sweep's fills in for a case that never ran.
        row = {**self.environment, **result.row(), "run_id": self.run_dir.name,
               "timestamp": _now()}
        if self.ceilings:
            row.update(ceiling_columns(self.ceilings, row["device"], row["precision"]))
            row.update(efficiency_columns(row))
        save_record(self.run_dir, {**result.to_json(), "row": row})
        return True


def run_sweep(run_dir: Path, config: SweepConfig, progress: bool | None = None
              ) -> list[dict[str, Any]]:
    """Run every process not yet run, in rounds: each case's first process, then each case's
    second, and so on, so that a slow phase of the machine touches every case a little rather
    than one case entirely. Return the rows of the cases that ran now."""
    sweep = Sweep.open(run_dir, config)
    touched: set[str] = set()
    with tqdm(total=sweep.remaining(), unit="process", dynamic_ncols=True,
              disable=None if progress is None else not progress) as bar:
        for round_ in range(config.processes):
            for planned, result in sweep.cases:
                bar.set_postfix_str(f"{planned.case.case_id} #{result.next_process() or 0}")
                if sweep.advance(planned, result, round_):
                    touched.add(planned.case.case_id)
                    bar.update()
    records = case_records(run_dir)
    return [records[planned.case.case_id]["row"] for planned, _ in sweep.cases
            if planned.case.case_id in touched]


def _identity(case: Case, config: SweepConfig, run_id: str) -> dict[str, Any]:
    backend = get_backend(case.backend)
    return {"run_id": run_id, "case_id": case.case_id, "suite": case.suite, "size": case.size,
            "backend": case.backend, "device": backend.device, "precision": backend.precision,
            "phase": case.phase, "scenario": case.scenario, "batch_size": case.batch_size,
            "seed": config.seed}


def run_process(case: Case, config: SweepConfig, process: int, cache_dir: Path,
                log_path: Path, python: str = sys.executable, *,
                run_dir: Path | None = None) -> ProcessResult:
    """Process `process` of `case` in a fresh interpreter; never raises for the case's sake."""
    result = run_isolated(case, config, cache_dir, log_path, process, python, run_dir=run_dir)
    unknown = sorted(set(result["row"]).union(*map(set, result.get("ops", [])))
                     - set(SCHEMA) - set(OPS_SCHEMA))
    if unknown:  # checked before anything is written: a bad file would break every later load
        result = {**_failure("error", f"the case returned columns not in the schema: "
                                      f"{', '.join(unknown)}"), "wall_s": result["wall_s"]}
    return ProcessResult(process, result["status"], result["reason"], result["wall_s"],
                         result["row"], result["samples"], result.get("ops", []))


def run_isolated(case: Case, config: SweepConfig, cache_dir: Path, log_path: Path,
                 process: int = 0, python: str = sys.executable, *,
                 run_dir: Path | None = None) -> dict[str, Any]:
    """Run one process of a case in a fresh interpreter with a timeout; never raises for the
    case's sake. `run_dir` is where a profiled case writes its trace."""
    with writing(log_path):
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = log_path.open("w")
    with log, _lifeline() as lifeline, tempfile.TemporaryDirectory(prefix="archbench-") as tmp:
        spec_path, out_path = Path(tmp) / "spec.json", Path(tmp) / "out.json"
        spec_path.write_text(json.dumps({
            "case": case.__dict__, "config": config.to_dict(), "cache_dir": str(cache_dir),
            "process": process, "run_dir": str(run_dir) if run_dir else None,
            "lifeline": {"parent_pid": os.getpid(), "fd": lifeline,
                         "deadline_s": config.timeout_s + WORKER_GRACE_S}}))
        start = time.perf_counter()
        process = subprocess.Popen(
            [python, "-m", "harness.worker", str(spec_path), str(out_path)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            pass_fds=(lifeline,), env=_worker_env())
        try:
            process.wait(timeout=config.timeout_s)
            timed_out = False
            _kill_group(process)  # what the case started and left behind (compiler workers)
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


def _worker_env() -> dict[str, str]:
    """The sweep's environment, unbuffered, with this checkout importable: a case may run in
    another interpreter (an A/B variant) that does not have archbench installed."""
    path = os.pathsep.join(p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": path}


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
