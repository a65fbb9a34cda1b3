"""The `archbench history` commands as functions: the CLI parses, these do the work and say
what they did, one line per run.

Where a history lives: ``--history FILE``, by default ``<results>/history.duckdb`` beside the
runs it was made from (`default_path`).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from harness.errors import UsageError
from harness.history.store import HistoryStore
from harness.history.summary import Regressions, render_show, show_table
from harness.history.trends import (
    TIME,
    Quantity,
    Selection,
    count_runs,
    find_steps,
    load_points,
)
from harness.machine.provenance import Commit, branch_name, in_utc, resolve_commit
from harness.results.pytest_benchmark import BenchmarkProcess, import_processes

STORE_NAME = "history.duckdb"


def default_path(results_dir: Path) -> Path:
    return results_dir / STORE_NAME


def add_runs(store_path: Path, run_dirs: Sequence[Path], commit: str | None = None,
             branch: str | None = None, say: Callable[[str], None] = print) -> int:
    """Add runs to the history (created if missing); a run that cannot be added is a warning
    line and left out. 0, or 1 when no run given could be added."""
    if commit and len(run_dirs) > 1:
        raise UsageError("--commit names the commit of one run; add runs of other commits "
                         "one at a time")
    refused = 0
    with HistoryStore(store_path, create=True) as store:
        for run_dir in run_dirs:
            added = store.add_run(Path(run_dir), commit, branch)
            refused += added.outcome == "refused"
            say(("warning: " if added.outcome == "refused" else "") + added.line)
    say(f"history: {store_path}")
    return 1 if run_dirs and refused == len(run_dirs) else 0


def import_benchmarks(store_path: Path, folder: Path, branch: str | None = None,
                      say: Callable[[str], None] = print) -> int:
    """Add every pytest-benchmark file under `folder` (a ``.benchmarks/`` of autosaves: one
    file per session, i.e. one process) as one run each, its commit from the file's
    ``commit_info``. A file that cannot be read is a warning line and left out."""
    files = sorted(Path(folder).rglob("*.json"))
    if not files:
        raise UsageError(f"no pytest-benchmark JSON file under {folder}")
    refused = 0
    with HistoryStore(store_path, create=True) as store, \
            tempfile.TemporaryDirectory(prefix="archbench-import-") as scratch:
        for path in files:
            run_id = f"pytest-benchmark-{path.parent.name}-{path.stem}"
            try:
                commit = _commit_info(path, branch)
                run_dir = import_processes([BenchmarkProcess(path)], Path(scratch), run_id,
                                           manifest={"commit": commit.to_json()}
                                           if commit else {})
            except (UsageError, OSError, ValueError, KeyError, TypeError) as exc:
                refused += 1
                say(f"warning: {path}: not a pytest-benchmark file archbench can read "
                    f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); "
                    "left out")
                continue
            added = store.add_run(run_dir, folder=path)
            refused += added.outcome == "refused"
            say(("warning: " if added.outcome == "refused" else "") + added.line)
    say(f"history: {store_path}")
    return 1 if refused == len(files) else 0


def show(store_path: Path, selection: Selection, threshold: float, min_persistence: int,
         form: str, quantity: Quantity = TIME) -> str:
    with HistoryStore(store_path, create=False) as store:
        points = load_points(store, selection, quantity)
        runs = count_runs(store, selection, quantity)
    steps = find_steps(points, threshold, min_persistence, quantity)
    table = show_table(points, steps, quantity.unit)
    commits = points["order"].nunique() if len(points) else 0
    header = (f"History {store_path} ({quantity.name}, {quantity.unit}): {runs} runs, "
              f"{commits} commits, {len(table)} series (case x machine kind); steps beyond "
              f"{threshold:.0%} lasting >= {min_persistence} commits")
    return render_show(table, form, header)


def regressions(store_path: Path, selection: Selection, since: str, threshold: float,
                min_persistence: int, quantity: Quantity = TIME) -> Regressions:
    """The steps for the worse (slower, more energy) of the selected series, after commit
    `since` when given."""
    with HistoryStore(store_path, create=False) as store:
        points = load_points(store, selection, quantity)
    steps = find_steps(points, threshold, min_persistence, quantity)
    worse = steps[steps["worse"].astype(bool)]
    if since:
        worse = worse[worse["order"] > _order_of(points, since)]
    series = points.groupby(["fingerprint_id", "case"]).ngroups if len(points) else 0
    return Regressions(worse.reset_index(drop=True), since, threshold, min_persistence,
                       series, quantity)


def history_frames(store_path: Path, selection: Selection, threshold: float,
                   min_persistence: int, quantity: Quantity = TIME
                   ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """What the history page draws: the points, their steps, and each machine kind in words."""
    with HistoryStore(store_path, create=False) as store:
        points = load_points(store, selection, quantity)
        machines = {kind: describe_machine(fingerprint)
                    for kind, fingerprint in store.fingerprints().items()}
    return points, find_steps(points, threshold, min_persistence, quantity), machines


def describe_machine(fingerprint: Mapping[str, str]) -> str:
    """A machine kind in one line: CPU, cores, memory, GPU, torch."""
    parts = [fingerprint.get("cpu_model") or "unknown CPU",
             f"{fingerprint.get('cpu_cores', '?')} CPUs",
             f"{fingerprint.get('memory_gib', '?')} GiB",
             *([f"{fingerprint['gpu_name']} (driver {fingerprint.get('gpu_driver', '?')})"]
               if fingerprint.get("gpu_name") else []),
             f"torch {fingerprint.get('torch_version') or '?'}"]
    return ", ".join(parts)


def _order_of(points: pd.DataFrame, rev: str) -> int:
    """The commit order of `rev` (a commit of the history, by sha or a prefix of it; a name
    git resolves here, such as origin/main, is resolved first)."""
    resolved = resolve_commit(rev)
    wanted = resolved.sha if resolved else rev
    found = points[points["commit"].str.startswith(wanted)] if len(points) else points
    if found.empty:
        raise UsageError(f"commit '{rev}' is not in the history; its commits run from "
                         + (f"{points.loc[points['order'].idxmin(), 'commit_short']} to "
                            f"{points.loc[points['order'].idxmax(), 'commit_short']}"
                            if len(points) else "nothing (it is empty)"))
    return int(found["order"].min())


def _commit_info(path: Path, branch: str | None) -> Commit | None:
    """The commit a pytest-benchmark file records, placed by git here when it can be."""
    document = json.loads(path.read_text())
    info = document.get("commit_info") if isinstance(document, dict) else None
    if not isinstance(document, dict) or not isinstance(info, (dict, type(None))):
        raise ValueError("not a pytest-benchmark JSON object (no commit_info mapping)")
    info = info or {}
    sha = str(info.get("id") or "")
    if not sha:
        return None
    branch = branch if branch is not None else branch_name(info.get("branch"))
    dirty = bool(info.get("dirty"))
    return resolve_commit(sha, branch=branch, dirty=dirty) or Commit(
        sha=sha, time=in_utc(info.get("time")), branch=branch, dirty=dirty)
