"""How a run is stored on disk, and how its tables are loaded back (the columns: `schema`).

A run is a folder::

    <results>/<run_id>/
        manifest.json       the sweep's configuration and the run-level environment
        cases/<case>.json   one finished case: its row and its raw samples (written atomically,
                            the moment the case ends, so a killed sweep keeps what it finished)
        results.parquet     one row per case (rebuilt from cases/ after every case)
        samples.parquet     the raw samples, long format: case_id, metric, idx, value

`results.parquet` is derived from `cases/`, never the other way round: the per-case files are
the durable record, and the table is a convenience that `load_results` rebuilds if it is stale.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from harness.errors import UsageError
from harness.schema import samples_frame, to_frame

MANIFEST = "manifest.json"
CASES_DIR = "cases"
TABLE = "results.parquet"
SAMPLES = "samples.parquet"


def write_json_atomic(path: Path, payload: Any) -> None:
    """Write JSON so that a reader (or a crash) never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=1, default=str, allow_nan=True))
    os.replace(tmp, path)


def save_case(run_dir: Path, row: Mapping[str, Any], samples: Mapping[str, list[float]]) -> None:
    """Persist one finished case immediately, then refresh the run's tables."""
    write_json_atomic(run_dir / CASES_DIR / f"{row['case_id']}.json",
                      {"row": dict(row), "samples": {k: list(v) for k, v in samples.items()}})
    rebuild_tables(run_dir)


def read_cases(run_dir: Path) -> list[dict[str, Any]]:
    """The per-case records of a run, sorted by case id; a malformed file is a UsageError."""
    records = []
    for path in sorted((run_dir / CASES_DIR).glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise UsageError(f"malformed case file {path}: {exc}") from exc
        if not (isinstance(record, dict) and isinstance(record.get("row"), dict)
                and isinstance(record.get("samples"), dict)):
            raise UsageError(f"malformed case file {path}: expected an object with 'row' and "
                             "'samples' objects")
        records.append(record)
    return records


def rebuild_tables(run_dir: Path) -> None:
    """Regenerate results.parquet and samples.parquet from the per-case files."""
    records = read_cases(run_dir)
    table = to_frame(record["row"] for record in records)
    samples = samples_frame(
        {"run_id": record["row"]["run_id"], "case_id": record["row"]["case_id"],
         "metric": metric, "idx": idx, "value": value}
        for record in records
        for metric, values in record["samples"].items()
        for idx, value in enumerate(values)
    )
    table.to_parquet(run_dir / TABLE, index=False)
    samples.to_parquet(run_dir / SAMPLES, index=False)


def finished_case_ids(run_dir: Path) -> set[str]:
    """Case ids that already have a record, whatever their status (resume skips these)."""
    return {path.stem for path in (run_dir / CASES_DIR).glob("*.json")}


def resolve_run(path: str | Path, results_dir: str | Path = "results") -> Path:
    """Accept a run folder, its results.parquet, or a bare run id under `results_dir`."""
    candidate = Path(path)
    if candidate.is_file() and candidate.name in (TABLE, SAMPLES, MANIFEST):
        candidate = candidate.parent
    if not candidate.exists() and (Path(results_dir) / candidate).exists():
        candidate = Path(results_dir) / candidate
    if not (candidate / MANIFEST).is_file():
        runs = sorted(p.name for p in Path(results_dir).glob("*") if (p / MANIFEST).is_file())
        known = ", ".join(runs[-5:]) if runs else "none"
        raise UsageError(f"no archbench run at '{path}' (recent runs in {results_dir}/: {known})")
    return candidate


def load_manifest(run_dir: Path) -> dict[str, Any]:
    path = run_dir / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, OSError) as exc:
        raise UsageError(f"malformed run manifest {path}: {exc}") from exc
    if not (isinstance(manifest, dict) and isinstance(manifest.get("config"), dict)):
        raise UsageError(f"malformed run manifest {path}: expected an object with a 'config' "
                         "object")
    return manifest


def load_results(path: str | Path, results_dir: str | Path = "results") -> pd.DataFrame:
    """The results table of a run (one row per case, schema `SCHEMA`)."""
    return _load_table(path, results_dir, TABLE, to_frame)


def load_samples(path: str | Path, results_dir: str | Path = "results") -> pd.DataFrame:
    """The raw samples of a run (long format, see `samples_frame`)."""
    return _load_table(path, results_dir, SAMPLES, samples_frame)


def _load_table(path: str | Path, results_dir: str | Path, name: str,
                typed: Callable[[Iterable[Mapping[str, Any]]], pd.DataFrame]) -> pd.DataFrame:
    run_dir = resolve_run(path, results_dir)
    _refresh_if_stale(run_dir)
    try:
        return typed(pd.read_parquet(run_dir / name).to_dict("records"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"malformed table {run_dir / name}: {exc}") from exc


def _refresh_if_stale(run_dir: Path) -> None:
    table = run_dir / TABLE
    case_files = list((run_dir / CASES_DIR).glob("*.json"))
    newest = max((p.stat().st_mtime for p in case_files), default=0.0)
    if not table.exists() or table.stat().st_mtime < newest:
        rebuild_tables(run_dir)
