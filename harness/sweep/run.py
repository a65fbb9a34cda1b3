"""The sweep: every case timed in fresh processes, each result persisted as soon as it exists.

A sweep is its run folder, its configuration and every planned case with its result so far
(`Sweep`). Where and when the case processes run is an executor's business
(`harness.executors`): the local one runs them one at a time on this machine, in rounds; the
Ray one spreads them over a cluster. Both launch every process the same way, isolated in a
fresh interpreter with a timeout and a kill of its process group
(`harness.executors.launch`), and both hand each result to `Sweep.record`, which persists the
case the moment it arrives, so a killed sweep keeps every process that finished. Executors see
the sweep through `harness.executors.base.SweepView` and never import this module.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from harness.backends import get_backend
from harness.cases import PlannedCase, SweepConfig, expand
from harness.errors import UsageError
from harness.executors.budget import settle
from harness.executors.isolation import worker_env
from harness.machine.environment import collect_environment, cpu_count
from harness.machine.fingerprint import this_machine
from harness.machine.provenance import checked_out, measured_code_folder
from harness.profiling.roofline import ceiling_columns, efficiency_columns
from harness.protocol import Case, ProcessResult
from harness.results.case_result import CaseResult
from harness.results.cost import price_for
from harness.results.storage import write_json_atomic
from harness.results.store import (
    MANIFEST,
    case_path,
    case_records,
    load_manifest,
    rebuild_tables,
    resolve_run,
    save_record,
)

if TYPE_CHECKING:
    from harness.executors.base import Executor

LOGS_DIR = "logs"
CACHE_DIR = ".cache"


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")


def start_run(config: SweepConfig, results_dir: Path, run_id: str | None = None,
              plan: Sequence[PlannedCase] | None = None) -> Path:
    """Create the run folder and its manifest (validating the config first, unless its `plan`,
    the expanded matrix, is given: then it was valid)."""
    if plan is None:
        expand(config)  # fail on bad names before anything is written
    if results_dir.exists() and not results_dir.is_dir():
        raise UsageError(f"results folder {results_dir} is a file, not a folder; name a folder "
                         "(it is created if missing)")
    run_id = run_id or new_run_id()
    run_dir = results_dir / run_id
    if (run_dir / MANIFEST).exists():
        raise UsageError(f"run '{run_id}' already exists in {results_dir}; "
                         "use --resume to finish it")
    environment = collect_environment()
    write_json_atomic(run_dir / MANIFEST, {"run_id": run_id, "config": config.to_dict(),
                                           "timing_policy": dataclasses.asdict(
                                               config.timing_policy),
                                           "threads": config.threads or cpu_count(),
                                           "environment": environment,
                                           "fingerprint": this_machine(environment),
                                           **_measured_commit(config),
                                           **({"ceilings": measure_ceilings(config)}
                                              if config.profile else {}),
                                           "started": _now()})
    return run_dir


def _measured_commit(config: SweepConfig) -> dict[str, Any]:
    """The manifest's ``commit``: the commit of the code the run measures, with its place in
    git's history (`harness.machine.provenance`), or nothing outside a repository."""
    commit = checked_out(measured_code_folder(config.suite_files, config.model))
    return {"commit": commit.to_json()} if commit is not None else {}


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
                              text=True, env=worker_env(), timeout=120, check=False)
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
    def open(cls, run_dir: Path, config: SweepConfig, python: str = sys.executable,
             plan: Sequence[PlannedCase] | None = None) -> Sweep:
        """The sweep of a started run (`start_run`), its cases' results read back from disk;
        `plan`: the matrix of `config` when the caller expanded it already."""
        records = case_records(run_dir)
        manifest = load_manifest(run_dir)
        cases = []
        for planned in plan if plan is not None else expand(config):
            identity = _identity(planned.case, config, run_dir.name)
            record = records.get(planned.case.case_id)
            cases.append((planned, CaseResult.from_json(record, identity) if record
                          else CaseResult(identity, config.processes)))
        # the environment the run was started in (collected once, by `start_run`)
        return cls(run_dir, config, python, cases, manifest.get("environment", {}),
                   manifest.get("ceilings", {}))

    @property
    def cache_dir(self) -> Path:
        """The caches every run in the results folder shares (weights, ONNX files)."""
        return self.run_dir.parent / CACHE_DIR

    def remaining(self) -> int:
        """Processes still to run (a skipped case counts as one: its row is still unwritten)."""
        return sum(result.planned - len(result.processes)
                   for _, result in self.cases if not result.finished)

    def log_path(self, planned: PlannedCase, process: int) -> Path:
        """Where process `process` of a case leaves its output, on the driver."""
        return case_path(self.run_dir / LOGS_DIR, planned.case.case_id,
                         ".log" if process == 0 else f".p{process}.log")

    def record(self, planned: PlannedCase, result: CaseResult, process: ProcessResult) -> None:
        """Add a finished process to its case and persist the case at once."""
        result.processes.append(process)
        self.save(result)

    def save(self, result: CaseResult) -> None:
        """Persist a case as it stands (its processes, its notes)."""
        record = result.to_json()  # derives the case's row, once
        # The case's own processes know their environment best (the node and ISA they ran
        # on, the GPU they saw); the sweep's fills in for a case that never ran.
        row = {**self.environment, **record["row"], "run_id": self.run_dir.name,
               "timestamp": _now()}
        if self.ceilings:
            row.update(ceiling_columns(self.ceilings, row["device"], row["precision"]))
            row.update(efficiency_columns(row))
        save_record(self.run_dir, {**record, "row": row})


def run_sweep(run_dir: Path, config: SweepConfig, progress: bool | None = None,
              executor: Executor | None = None,
              plan: Sequence[PlannedCase] | None = None) -> list[str]:
    """Run every process not yet run with `executor` (default: the local one, in rounds on
    this machine). Return the ids of the cases that ran now, in the matrix's order (their
    rows are in the run's tables: `harness.results.store.load_results`)."""
    from harness.executors.local import LocalExecutor

    sweep = Sweep.open(run_dir, config, plan=plan)
    with tqdm(total=sweep.remaining(), unit="process", dynamic_ncols=True,
              disable=None if progress is None else not progress) as bar:
        touched = (executor or LocalExecutor()).run(sweep, bar)
    settle(sweep)  # why each case short of the precision target got no more processes
    rebuild_tables(run_dir)  # once, at the end: each process wrote its case file only
    return [planned.case.case_id for planned, _ in sweep.cases
            if planned.case.case_id in touched]


def _identity(case: Case, config: SweepConfig, run_id: str) -> dict[str, Any]:
    backend = get_backend(case.backend)
    return {"run_id": run_id, "case_id": case.case_id, "suite": case.suite, "size": case.size,
            "backend": case.backend, "device": backend.device, "precision": backend.precision,
            "phase": case.phase, "scenario": case.scenario, "batch_size": case.batch_size,
            "seed": config.seed, "ci_target": config.precision,
            **({"ci_first_stage": config.processes} if config.budget_min else {}),
            **({"hardware": case.hardware} if case.hardware else {}),
            **({"usd_per_hour": price} if (price := price_for(config.prices, case.hardware))
               is not None else {})}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
