"""Small run folders for the history tests: P processes per case at known medians, a commit
and a machine fingerprint of the test's choosing.

Each process's iterations are its median times 0.98, 1.0 and 1.02, so the median the store
keeps for a process is exactly the one planted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.machine.fingerprint import FIELDS
from harness.measure.energy import ENERGY_METRIC
from harness.results.schema import samples_frame, to_frame
from harness.results.store import MANIFEST, SAMPLES, TABLE, write_json_atomic

#: A machine kind: the fields a fingerprint holds.
MACHINE = {name: "x" for name in FIELDS} | {"cpu_model": "Test CPU", "cpu_cores": "2",
                                            "memory_gib": "24", "torch_version": "2.13.0"}
OTHER_MACHINE = MACHINE | {"cpu_model": "Other CPU"}


def commit(position: int, branch: str = "main", dirty: bool = False) -> dict[str, Any]:
    """A commit record as a run's manifest keeps it: sha derived from the position."""
    return {"sha": f"{position:04d}" + "ab" * 18, "position": position,
            "subject": f"commit number {position}", "time": f"2026-01-{position % 28 + 1:02d}",
            "branch": branch, "dirty": dirty}


def case_id(backend: str, suite: str = "cnn") -> str:
    return f"{suite}-tiny-{backend}-infer-throughput-bs32"


def write_history_run(results_dir: Path, run_id: str, medians: Mapping[str, Sequence[float]],
                      commit_record: Mapping[str, Any] | None = None,
                      machine: Mapping[str, str] = MACHINE, started: str = "2026-02-01",
                      statuses: Mapping[str, str] | None = None,
                      energy: Mapping[str, Sequence[float]] | None = None) -> Path:
    """A run of cnn/tiny cases, one per backend named in `medians` (backend -> process
    medians, ms); `statuses`: backend -> a status other than ok (no samples then);
    `energy`: backend -> each process's energy reading (J/sample), where one was read."""
    rows, samples = [], []
    for backend, values in medians.items():
        cid = case_id(backend)
        status = (statuses or {}).get(backend, "ok")
        rows.append({"run_id": run_id, "case_id": cid, "suite": "cnn", "size": "tiny",
                     "backend": backend, "device": "cpu", "precision": "fp32",
                     "phase": "infer", "scenario": "throughput", "batch_size": 32,
                     "status": status, "reason": "" if status == "ok" else "it broke",
                     "processes": len(values)})
        if status != "ok":
            continue
        for process, median in enumerate(values):
            samples += [{"run_id": run_id, "case_id": cid, "metric": "iter_ms",
                         "process": process, "idx": i, "value": median * factor}
                        for i, factor in enumerate((0.98, 1.0, 1.02))]
        samples += [{"run_id": run_id, "case_id": cid, "metric": ENERGY_METRIC,
                     "process": process, "idx": 0, "value": joules}
                    for process, joules in enumerate((energy or {}).get(backend, []))]
    run_dir = results_dir / run_id
    run_dir.mkdir(parents=True)
    manifest: dict[str, Any] = {"run_id": run_id, "config": {}, "started": started,
                                "environment": {}, "fingerprint": dict(machine)}
    if commit_record is not None:
        manifest["commit"] = dict(commit_record)
    write_json_atomic(run_dir / MANIFEST, manifest)
    to_frame(rows).to_parquet(run_dir / TABLE, index=False)
    samples_frame(samples).to_parquet(run_dir / SAMPLES, index=False)
    return run_dir
