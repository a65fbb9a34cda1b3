"""How a run is stored on disk, and how its tables are loaded back (the columns: `schema`).

A run is a folder::

    <results>/<run_id>/
        manifest.json       the sweep's configuration and the run-level environment
        cases/<case>.json   one finished case: its row and its raw samples (written the moment
                            the case ends, so a killed sweep keeps what it finished)
        results.parquet     one row per case, derived from cases/
        samples.parquet     the raw samples, long format: case_id, metric, idx, value
        ops.parquet         the op table of profiled cases: one row per (case, op)
        traces/<case>.trace.json.gz   a profiled case's trace (`harness.profiling`)

The case files are the durable record; the tables are derived from them, never the other
way round, and each table says which state of cases/ it was derived from: its parquet metadata
holds a digest of every case file's name, size and modification time (ns). A load compares that
digest with cases/ as it is now and rebuilds both tables on any difference: a case added,
re-run, or deleted so that `--resume` runs it again (deleting makes nothing newer, so a
comparison of modification times alone would keep the deleted case). A table that cannot be
read is rebuilt too; it is never the only copy of anything. A table with no such metadata and no
cases/ folder was written by another tool and is read as it is.

Every file is written to a temporary name in the same folder and renamed over the real one, so
a reader, a crash or a full disk never leaves half a file under the real name; a write the disk
refuses is a `StorageError` naming the file. A case file that still cannot be read (cut short by
a copy, edited by hand) hides no other case: it is left out of the tables with one warning that
names it, and counts as unfinished, so that `--resume` runs that case again and overwrites it.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from harness.errors import UsageError
from harness.results.case_result import CaseResult
from harness.results.schema import OPS_SCHEMA, SCHEMA, ops_frame, samples_frame, to_frame
from harness.results.storage import write_atomic, write_json_atomic

MANIFEST = "manifest.json"
CASES_DIR = "cases"
TABLE = "results.parquet"
SAMPLES = "samples.parquet"
OPS = "ops.parquet"
#: Parquet metadata key of a derived table: the digest of the case files it was built from,
#: and which of them could not be read.
DERIVED_FROM = b"archbench.derived_from"


class UnreadableCaseWarning(UserWarning):
    """Case files of a run could not be read; the tables were built without them."""


@dataclass(frozen=True)
class CaseFiles:
    """What a run's cases/ folder holds: readable records (by case id) and unreadable files."""

    records: list[dict[str, Any]]
    unreadable: list[str]


def case_path(folder: Path, case_id: str, suffix: str) -> Path:
    """`folder/<case_id><suffix>`, for an id that can only name a direct child of `folder`.

    Case ids are made of suite, size and backend names, which are checked where they are
    defined; this is the second line, where an id becomes a path: a '/' or '..' would write
    outside the run, a leading '.' would hide the file from a listing of the run."""
    if not case_id or case_id.startswith(".") or any(c in case_id for c in "/\\\0"):
        raise UsageError(f"case id {case_id!r} cannot be a file name in {folder}: a case id "
                         "must not be empty, start with '.', or contain '/', '\\' or NUL")
    return folder / f"{case_id}{suffix}"


def save_case(run_dir: Path, row: Mapping[str, Any], samples: Mapping[str, list[float]]) -> None:
    """Persist a case measured once (an import, a single record), then refresh the tables."""
    write_records(run_dir, [{"row": dict(row),
                             "samples": {k: list(v) for k, v in samples.items()}}])


def save_record(run_dir: Path, record: Mapping[str, Any]) -> None:
    """Persist a case file (`CaseResult.to_json()`: its row, samples per process and every
    process) the moment it changes. The tables are not rewritten here: a sweep rebuilds them
    once at its end, and any load that finds them stale rebuilds them first (module
    docstring), so a sweep no longer rewrites three tables of every case after each process."""
    write_json_atomic(case_path(run_dir / CASES_DIR, record["row"]["case_id"], ".json"),
                      dict(record))


def write_records(run_dir: Path, records: Iterable[Mapping[str, Any]]) -> None:
    """Persist many case files at once (an import), then build the tables once."""
    for record in records:
        save_record(run_dir, record)
    rebuild_tables(run_dir)


def read_cases(run_dir: Path) -> CaseFiles:
    """The run's case records, sorted by case id, and the names of the files that are not."""
    records, unreadable = [], []
    for path in sorted((run_dir / CASES_DIR).glob("*.json")):
        record = _read_case(path)
        if record is None:
            unreadable.append(path.name)
        else:
            records.append(record)
    return CaseFiles(records, unreadable)


def _read_case(path: Path) -> dict[str, Any] | None:
    """The record in a case file, or None when it is not one that the tables can hold."""
    try:
        record = json.loads(path.read_bytes())
    except (OSError, ValueError):  # unreadable, cut short, not JSON, not UTF-8
        return None
    if not (isinstance(record, dict) and isinstance(record.get("row"), dict)
            and isinstance(record.get("samples"), dict)):
        return None
    row, samples = record["row"], record["samples"]
    processes, ops = record.get("processes", []), record.get("ops", [])
    return record if (row.get("case_id") == path.stem and set(row) <= set(SCHEMA)
                      and all(_sample_lists(values) for values in samples.values())
                      and isinstance(ops, list)
                      and all(isinstance(op, dict) and set(op) <= set(OPS_SCHEMA) for op in ops)
                      and isinstance(processes, list)
                      and all(_process_entry(entry) for entry in processes)) else None


def _sample_lists(values: object) -> bool:
    """A metric's samples: numbers (one process, as written before processes were kept), or
    one list of numbers per process."""
    def numbers(items: object) -> bool:
        return isinstance(items, list) and all(isinstance(v, (int, float)) for v in items)
    return numbers(values) or (isinstance(values, list) and all(numbers(v) for v in values))


def _process_entry(entry: object) -> bool:
    return (isinstance(entry, dict) and isinstance(entry.get("process"), int)
            and isinstance(entry.get("status"), str) and isinstance(entry.get("row"), dict)
            and set(entry["row"]) <= set(SCHEMA))


def _sample_records(record: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """The long-format rows of one case file's samples, with their process index."""
    row = record["row"]
    for metric, values in record["samples"].items():
        per_process = values if values and isinstance(values[0], list) else [values]
        for process, process_values in enumerate(per_process):
            for idx, value in enumerate(process_values):
                yield {"run_id": row["run_id"], "case_id": row["case_id"], "metric": metric,
                       "process": process, "idx": idx, "value": value}


def rebuild_tables(run_dir: Path) -> dict[str, pd.DataFrame]:
    """Regenerate results.parquet, samples.parquet and ops.parquet from the case files;
    return all three."""
    digest = _case_files_digest(run_dir)  # before reading: a case written meanwhile -> stale
    cases = read_cases(run_dir)
    _warn_unreadable(run_dir, cases.unreadable)
    tables = {
        TABLE: to_frame(record["row"] for record in cases.records),
        SAMPLES: samples_frame(sample for record in cases.records
                               for sample in _sample_records(record)),
        OPS: ops_frame({"run_id": record["row"]["run_id"], "case_id": record["row"]["case_id"],
                        **op} for record in cases.records for op in record.get("ops", [])),
    }
    derived_from = json.dumps({"case_files": digest, "unreadable": cases.unreadable}).encode()
    for name, frame in tables.items():
        table = pa.Table.from_pandas(frame, preserve_index=False)
        table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                               DERIVED_FROM: derived_from})
        write_atomic(run_dir / name, lambda tmp, table=table: pq.write_table(table, tmp))
    return tables


def _case_files_digest(run_dir: Path) -> str:
    """Digest of cases/ as it is now, from the listing alone (cheap enough for every load)."""
    digest = hashlib.sha256()
    for path in sorted((run_dir / CASES_DIR).glob("*.json")):
        stat = path.stat()
        digest.update(f"{path.name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _warn_unreadable(run_dir: Path, names: list[str]) -> None:
    """One warning per run, not per file or per load: attributed to this line whichever load
    gives it, the same text is shown once (by the default filter, and by the CLI)."""
    if names:
        warnings.warn(UnreadableCaseWarning(
            f"left out {len(names)} unreadable case file(s) of run {run_dir.name}: "
            f"{', '.join(names)} in {run_dir / CASES_DIR}; `archbench run --resume "
            f"{run_dir.name}` runs them again"), stacklevel=1)


def case_records(run_dir: Path) -> dict[str, dict[str, Any]]:
    """The readable case files of a run by case id (an unreadable one is a case still to run:
    running it overwrites the file)."""
    cases = read_cases(run_dir)
    _warn_unreadable(run_dir, cases.unreadable)
    return {record["row"]["case_id"]: record for record in cases.records}


def finished_case_ids(run_dir: Path) -> set[str]:
    """Case ids whose every planned process ran or one of them did not finish, whatever the
    status (resume skips these and continues the others)."""
    return {case_id for case_id, record in case_records(run_dir).items()
            if CaseResult.from_json(record, {}).finished}


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
    load_manifest(candidate)  # a folder whose manifest is broken is no run to show
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


def load_ops(path: str | Path, results_dir: str | Path = "results") -> pd.DataFrame:
    """The op table of a run (one row per profiled case and op, schema `OPS_SCHEMA`; empty
    for a run without `--profile`). A run with no case files and no op table (written by
    another tool, or imported) has none to derive: rebuilding would replace its other tables
    with empty ones."""
    run_dir = resolve_run(path, results_dir)
    if not (run_dir / OPS).exists() and not (run_dir / CASES_DIR).is_dir():
        return ops_frame([])
    return _load_table(run_dir, results_dir, OPS, ops_frame)


def _load_table(path: str | Path, results_dir: str | Path, name: str,
                typed: Callable[[Iterable[Mapping[str, Any]]], pd.DataFrame]) -> pd.DataFrame:
    run_dir = resolve_run(path, results_dir)
    table = _stored_table(run_dir, name)
    if table is None:
        return rebuild_tables(run_dir)[name]
    derived_from = _derived_from(table)
    if derived_from:
        _warn_unreadable(run_dir, derived_from["unreadable"])
    try:
        return typed(table.to_pandas().to_dict("records"))
    except ValueError as exc:
        raise UsageError(f"malformed table {run_dir / name}: {exc}") from exc


def _stored_table(run_dir: Path, name: str) -> pa.Table | None:
    """The table on disk if it can be used as it is; None if it must be rebuilt from cases/."""
    path, has_cases = run_dir / name, (run_dir / CASES_DIR).is_dir()
    try:
        table = pq.read_table(path)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, pa.ArrowException) as exc:
        if has_cases:
            return None
        raise UsageError(f"malformed table {path} (and no case files to rebuild it from): "
                         f"{exc}") from exc
    derived_from = _derived_from(table)
    if derived_from is None:
        return None if has_cases else table  # no metadata, no cases/: written by another tool
    return table if derived_from["case_files"] == _case_files_digest(run_dir) else None


def _derived_from(table: pa.Table) -> dict[str, Any] | None:
    """What a table written by `rebuild_tables` records about its case files (else None)."""
    raw = (table.schema.metadata or {}).get(DERIVED_FROM)
    return None if raw is None else json.loads(raw)
