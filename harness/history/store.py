"""The history store: every run added to one embedded DuckDB file, queryable without loading
every run's parquet files into pandas.

**Why DuckDB.** A history grows by one run per commit per machine kind: a thousand runs of two
hundred cases is 200,000 rows and, at three processes, 600,000 process medians. Reading that
back from a thousand run folders means a thousand parquet reads per question; a columnar,
embedded database answers "the series of every case on this machine kind, by commit" in one
query over compressed columns, needs no server, and is one file a CI job can cache. DuckDB is
that (SQLite would store the same rows, but row-wise and without the columnar aggregation the
trends are made of).

**What it holds** (schema `SCHEMA_VERSION`):

* ``runs``: one row per run: its id, a digest of its content, the commit it measured (with its
  position in git's history, subject, time, branch, dirty), when it ran, the machine's stable
  fingerprint (`harness.machine.fingerprint`) and its id, the manifest as JSON, and the folder
  it was read from;
* ``cases``: each case's row, every column of `harness.results.schema` typed as in the run's
  results table (a column added by a later archbench is added to the table when a run first
  brings it);
* ``process_medians``: per case and process, the median of its iteration times: the unit of
  replication the trends and the rolling baseline work on (`harness.analysis.compare`);
* ``process_energy``: per case and process, its energy reading in joules per sample, where
  the hardware counted it (`harness.measure.energy`): trended as time is;
* ``meta``: the schema version, and the archbench commit that created the store.

**Adding is idempotent.** A run is keyed by its id. Adding a run whose content digest (its
manifest and case files) is already stored changes nothing; a run whose content changed (resumed
since, or re-imported) replaces its rows in one transaction, and says so. A folder that is not
an archbench run, or whose tables cannot be read, or whose commit is unknown (and no
``--commit`` given) is refused with one line and left out; the other runs are added.

**A store from a newer archbench** (a higher schema version) is refused with one line: an older
reader cannot know what the newer columns mean. An older store is migrated forward when one
exists; today there is only version 1.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from harness.errors import UsageError
from harness.machine.environment import archbench_commit
from harness.machine.fingerprint import ENVIRONMENT_FIELDS, FIELDS, Fingerprint, fingerprint_id
from harness.machine.provenance import Commit, branch_name, resolve_commit
from harness.measure.energy import ENERGY_METRIC
from harness.results.schema import to_frame
from harness.results.store import (
    CASES_DIR,
    TABLE,
    load_manifest,
    load_results,
    load_samples,
)

SCHEMA_VERSION = 1
#: What a run's fingerprint says of a field it never recorded (runs from before fingerprints).
NOT_RECORDED = "not recorded"
#: Manifest entries that say where a copy of the run was made, not what it holds: an imported
#: file imported again from another scratch folder is the same run.
_LOCAL_KEYS = ("imported_from",)

_DDL = """
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY, digest VARCHAR, "commit" VARCHAR, position BIGINT,
    subject VARCHAR, commit_time VARCHAR, branch VARCHAR, dirty BOOLEAN, started VARCHAR,
    finished VARCHAR, fingerprint_id VARCHAR, fingerprint VARCHAR, manifest VARCHAR,
    folder VARCHAR, added VARCHAR);
CREATE TABLE IF NOT EXISTS cases (run_id VARCHAR, case_id VARCHAR);
CREATE TABLE IF NOT EXISTS process_medians (
    run_id VARCHAR, case_id VARCHAR, process INTEGER, median_ms DOUBLE);
CREATE TABLE IF NOT EXISTS process_energy (
    run_id VARCHAR, case_id VARCHAR, process INTEGER, j_per_sample DOUBLE);
"""
#: The tables holding a run's rows, all replaced together when it is added again.
_RUN_TABLES = ("runs", "cases", "process_medians", "process_energy")


@dataclass(frozen=True)
class Added:
    """What adding one run did: ``added``, ``replaced``, ``unchanged`` or ``refused``, and the
    line that says so."""

    run_id: str
    outcome: str
    line: str


class HistoryStore:
    """One history file. Use as a context manager.

    `create=True` opens it for adding (creating it when missing); `create=False` opens an
    existing store read-only: DuckDB lets one process write a file, but any number read it at
    once, so `history show`, a report and a CI gate never wait on (or fail at) each other's
    lock, and reading never changes the file."""

    def __init__(self, path: Path, create: bool = True) -> None:
        path = Path(path)
        if not path.exists() and not create:
            raise UsageError(f"no history store at {path}; create one with "
                             f"`archbench history add --history {path} RUN...`")
        if path.exists() and path.is_dir():
            raise UsageError(f"history store {path} is a folder; name a file, e.g. "
                             f"{path / 'history.duckdb'}")
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.connection = duckdb.connect(str(path), read_only=not create)
        except duckdb.Error as exc:
            raise UsageError(f"cannot open history store {path}: {_first_line(exc)}") from exc
        self.path = path
        self._check_version(create)
        if create:
            self._create_tables()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.connection.close()

    def _check_version(self, create: bool) -> None:
        tables = {row[0] for row in self.connection.execute("SHOW TABLES").fetchall()}
        if "meta" in tables:
            found = self.connection.execute(
                "SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            version = int(found[0]) if found else 0
            if version > SCHEMA_VERSION:
                self.close()
                raise UsageError(f"history store {self.path} has schema version {version}, "
                                 f"newer than this archbench's {SCHEMA_VERSION}: read it with "
                                 "the archbench that wrote it, or upgrade")
        elif tables or not create:
            self.close()
            raise UsageError(f"{self.path} is not an archbench history (a DuckDB file "
                             "without its meta table, or not a DuckDB file); name another file")

    def _create_tables(self) -> None:
        """The tables, ``cases`` with every column of the results schema from the start: a
        store whose every run was refused still answers every query (with nothing)."""
        self.connection.execute(_DDL)
        self.connection.execute(
            "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?), ('created_by', ?)",
            [str(SCHEMA_VERSION), archbench_commit()])
        self._add_missing_columns(to_frame([]))

    # -- adding ---------------------------------------------------------------------------------

    def add_run(self, run_dir: Path, commit: str | None = None, branch: str | None = None,
                folder: Path | None = None) -> Added:
        """Add one run folder (module docstring); `commit`/`branch` override what the run
        recorded; `folder`: where the run came from, when not `run_dir` (an imported file).
        Never raises for a bad run: it is refused with its line."""
        run_id = run_dir.name
        try:
            manifest = load_manifest(run_dir)
            run_id = str(manifest.get("run_id") or run_dir.name)
            measured = _commit_of(manifest, commit, branch)
            if measured is None:
                return Added(run_id, "refused", f"{run_dir}: the run records no commit; give "
                                                "--commit REV (and --branch NAME)")
            digest = _digest(run_dir, manifest, commit, branch)
            stored = self.connection.execute(
                "SELECT digest, \"commit\", position, subject, commit_time FROM runs "
                "WHERE run_id = ?", [run_id]).fetchone()
            if stored is not None and stored[0] == digest:
                return Added(run_id, "unchanged", f"{run_id}: already in the history")
            measured = _keep_placement(measured, stored)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                results = load_results(run_dir)
                samples = load_samples(run_dir)
        except (UsageError, OSError, ValueError, KeyError) as exc:
            return Added(run_id, "refused", f"{run_dir}: not a readable archbench run "
                                            f"({_first_line(exc)}); left out")
        except Exception as exc:  # pyarrow's and pandas' own errors on a foreign file
            return Added(run_id, "refused", f"{run_dir}: not a readable archbench run "
                                            f"({type(exc).__name__}: {_first_line(exc)}); left "
                                            "out")
        runs_row = _runs_row(run_id, digest, measured, manifest, folder or run_dir)
        cases = results.assign(run_id=run_id)
        per_process = {"process_medians": _per_process(samples, run_id, "iter_ms", "median_ms"),
                       "process_energy": _per_process(samples, run_id, ENERGY_METRIC,
                                                      "j_per_sample")}
        try:
            self._write(run_id, runs_row, cases, per_process)
        except duckdb.Error as exc:
            return Added(run_id, "refused", f"{run_dir}: the store refused its rows "
                                            f"({_first_line(exc)}); left out")
        outcome = "replaced" if stored is not None else "added"
        unplaced = "" if measured.position is not None else (
            "; its commit is not in a git repository here, so it sorts by time after the "
            "placed commits")
        skipped = f"; {len(caught)} warning(s) reading it" if caught else ""
        return Added(run_id, outcome, f"{run_id}: {outcome} ({len(cases)} cases, commit "
                                      f"{measured.short}{' dirty' if measured.dirty else ''}, "
                                      f"machine {runs_row['fingerprint_id']}){unplaced}"
                                      f"{skipped}")

    def _write(self, run_id: str, runs_row: Mapping[str, Any], cases: pd.DataFrame,
               per_process: Mapping[str, pd.DataFrame]) -> None:
        """Replace the run's rows in one transaction: a reader never sees half a run."""
        con = self.connection
        con.execute("BEGIN TRANSACTION")
        try:
            for table in _RUN_TABLES:
                con.execute(f"DELETE FROM {table} WHERE run_id = ?", [run_id])
            self._add_missing_columns(cases)
            for table, frame in (("runs", pd.DataFrame([runs_row])), ("cases", cases),
                                 *per_process.items()):
                con.register("incoming", frame)
                con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming")
                con.unregister("incoming")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def _add_missing_columns(self, cases: pd.DataFrame) -> None:
        """Columns a run brings that the ``cases`` table lacks (a newer schema), typed as
        DuckDB reads them from the frame."""
        have = {row[0] for row in self.connection.execute("DESCRIBE cases").fetchall()}
        missing = [column for column in cases.columns if column not in have]
        if not missing:
            return
        self.connection.register("new_columns", cases[missing].head(0))
        types = dict(self.connection.execute("SELECT column_name, column_type FROM "
                                             "(DESCRIBE new_columns)").fetchall())
        self.connection.unregister("new_columns")
        for column in missing:
            self.connection.execute(f'ALTER TABLE cases ADD COLUMN "{column}" '
                                    f'{_column_type(types[column])}')

    # -- reading --------------------------------------------------------------------------------

    def runs(self) -> pd.DataFrame:
        """One row per stored run, oldest commit first."""
        return self.connection.execute(
            "SELECT run_id, \"commit\", position, subject, commit_time, branch, dirty, started, "
            "finished, fingerprint_id, folder, added FROM runs "
            "ORDER BY position NULLS LAST, commit_time, started").df()

    def has_table(self, name: str) -> bool:
        """Whether the store has table `name` (a store from an older archbench, read without
        being added to, may lack a later one)."""
        return name in {row[0] for row in self.connection.execute("SHOW TABLES").fetchall()}

    def fingerprints(self) -> dict[str, Fingerprint]:
        """Each machine kind's fingerprint by its id."""
        return {fid: json.loads(text) for fid, text in self.connection.execute(
            "SELECT DISTINCT fingerprint_id, fingerprint FROM runs").fetchall()}

    def query(self, sql: str, parameters: list[Any] | None = None) -> pd.DataFrame:
        """A read-only query's result as a frame (the trends and the baseline build on it)."""
        return self.connection.execute(sql, parameters or []).df()


def machine_fingerprint(manifest: Mapping[str, Any]) -> Fingerprint:
    """The fingerprint a run recorded; for a run from before runs recorded one (or an imported
    one), what its environment says, each field it never recorded marked `NOT_RECORDED`, so
    that such runs form their own kind rather than match a kind they may not be."""
    for recorded in (manifest.get("fingerprint"), (manifest.get("ci") or {}).get("fingerprint")):
        if isinstance(recorded, Mapping):
            return {name: str(recorded.get(name, "")) for name in FIELDS}
    environment = manifest.get("environment") or {}
    return {name: (str(environment[name]) if name in environment and name in ENVIRONMENT_FIELDS
                   else NOT_RECORDED) for name in FIELDS}


def _commit_of(manifest: Mapping[str, Any], commit: str | None,
               branch: str | None) -> Commit | None:
    """The commit a run measured: `commit` when given (placed by git here if it can be), else
    the one its manifest recorded, else the short one an `archbench ci` run or an older or
    imported run recorded (placed by git here if it can be). None: nothing says."""
    if commit:
        return resolve_commit(commit, branch=branch) or Commit(sha=commit, branch=branch or "")
    recorded = manifest.get("commit")
    if isinstance(recorded, Mapping) and recorded.get("sha"):
        found = Commit.from_json(recorded)
        return found if branch is None else Commit(**{**found.to_json(), "branch": branch})
    ci = manifest.get("ci") or {}
    old = str(ci.get("commit") or (manifest.get("environment") or {}).get("archbench_commit")
              or "")
    if not old:
        return None
    sha, dirty = old.removesuffix("-dirty"), old.endswith("-dirty")
    branch = branch if branch is not None else branch_name(ci.get("branch"))
    placed = resolve_commit(sha, branch=branch, dirty=dirty)
    return placed or Commit(sha=sha, branch=branch, dirty=dirty)


def _keep_placement(measured: Commit, stored: tuple[Any, ...] | None) -> Commit:
    """`measured`, placed where the store already placed its commit when git cannot place it
    here (a run re-added from outside the repository that placed it first): where a run is
    added from must not move its commit."""
    if measured.position is not None or stored is None or stored[2] is None \
            or not str(stored[1]).startswith(measured.sha):
        return measured
    return Commit(**{**measured.to_json(), "sha": stored[1], "position": int(stored[2]),
                     "subject": stored[3], "time": stored[4]})


def _digest(run_dir: Path, manifest: Mapping[str, Any], commit: str | None,
            branch: str | None) -> str:
    """The run's content: its manifest (less where it was read from), the commit and branch
    given by hand, and every case file (or, for a run written by another tool, its results
    table). Never what git says here: the same run added from another folder is the same."""
    portable = {key: value for key, value in manifest.items() if key not in _LOCAL_KEYS}
    digest = hashlib.sha256(json.dumps(portable, sort_keys=True, default=str).encode())
    digest.update(json.dumps([commit, branch]).encode())
    files = sorted((run_dir / CASES_DIR).glob("*.json")) or [run_dir / TABLE]
    for path in files:
        if path.exists():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _runs_row(run_id: str, digest: str, commit: Commit, manifest: Mapping[str, Any],
              run_dir: Path) -> dict[str, Any]:
    fingerprint = machine_fingerprint(manifest)
    return {"run_id": run_id, "digest": digest, "commit": commit.sha,
            "position": commit.position, "subject": commit.subject,
            "commit_time": commit.time, "branch": commit.branch, "dirty": commit.dirty,
            "started": str(manifest.get("started") or ""),
            "finished": str(manifest.get("finished") or ""),
            "fingerprint_id": fingerprint_id(fingerprint),
            "fingerprint": json.dumps(fingerprint, sort_keys=True),
            "manifest": json.dumps(manifest, sort_keys=True, default=str),
            "folder": str(run_dir.resolve()),
            "added": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}


def _per_process(samples: pd.DataFrame, run_id: str, metric: str, column: str) -> pd.DataFrame:
    """Per case and process, the median of its `metric` samples (iteration times; an energy
    reading, one per process) as `column`; samples from before processes were recorded are
    all process 0, as `harness.analysis.compare` reads them."""
    iters = samples[samples["metric"] == metric]
    process = iters["process"] if "process" in iters else pd.Series(0, index=iters.index)
    frame = pd.DataFrame({"case_id": iters["case_id"].astype(str),
                          "process": process.fillna(0).astype(int),
                          "value": iters["value"].astype(float)})
    medians = frame.groupby(["case_id", "process"], sort=True)["value"].median().reset_index()
    medians = medians[np.isfinite(medians["value"]) & (medians["value"] > 0)]
    return pd.DataFrame({"run_id": run_id, "case_id": medians["case_id"].to_numpy(),
                         "process": medians["process"].to_numpy(dtype=np.int32),
                         column: medians["value"].to_numpy(dtype=float)})


def _column_type(duckdb_type: str) -> str:
    """A type a column can be added with (a frame's all-null column reads as INTEGER/NULL)."""
    return "VARCHAR" if duckdb_type in ("NULL", '"NULL"') else duckdb_type


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
