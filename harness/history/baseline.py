"""The rolling baseline: a new run compared with the last N runs of its machine kind on the
main line, not with one run.

One baseline run is one draw of the machine's mood: on the 2-core VMs a run an hour later read
1.17x slower with no change in the code (`harness.ci.gate`), and a gate against that one run
either fails the next change or lets a real slowdown pass. N runs at N commits spread over days
carry the drift between runs in their spread, so the comparison's interval widens by exactly
what the machine does between runs, and one odd run moves the centre by 1/N of its oddness.

**How.** The last N runs (by commit order, `harness.history.trends`) of the new run's
fingerprint, on the main-line branch (or on no branch), other than the new run itself. For each
case, every process median those runs hold for it while it was ``ok`` becomes one process of a
single base "run": N runs of P processes are N x P processes. The comparison is then the
ordinary one (`harness.analysis.compare`: Welch's t on log process medians, the threshold, the
family-wise adjustment), with more degrees of freedom on the base side. Pooling treats the runs'
process medians as one sample, which is conservative when runs differ: their differences count
as spread, never as a change. The base row of a case is its newest ``ok`` row (a case never
``ok`` in those runs keeps its newest row and status, so a case that was broken stays
"not compared", never "newly broken").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from harness.errors import UsageError
from harness.history import DEFAULT_BASELINE_RUNS, MAIN_BRANCH
from harness.history.store import HistoryStore, machine_fingerprint
from harness.machine.fingerprint import fingerprint_id
from harness.measure.stats import process_level
from harness.results.runs import CASE_KEY, RunSet
from harness.results.schema import samples_frame

#: How `archbench compare --baseline` names a history.
PREFIX = "history:"


class NoBaselineRun(UsageError):
    """The history holds no run of the new run's machine kind on the branch: for a CI gate,
    the first run of that kind (no verdict, not an error); for `archbench compare`, one
    line and exit 2 like any other bad input."""


def baseline_runs(store: HistoryStore, new_manifest: dict[str, Any], new_run_id: str,
                  runs: int = DEFAULT_BASELINE_RUNS, branch: str = MAIN_BRANCH) -> pd.DataFrame:
    """The runs the rolling baseline pools (run_id, commit, manifest), newest first: one cheap
    query, so a gate can ask before it spends minutes measuring. `NoBaselineRun` when none."""
    if runs < 1:
        raise UsageError(f"the rolling baseline needs at least 1 run; got {runs}")
    kind = fingerprint_id(machine_fingerprint(new_manifest))
    chosen = store.query("""
        SELECT run_id, "commit", manifest FROM runs
        WHERE fingerprint_id = ? AND (branch = ? OR branch = '') AND run_id <> ?
        ORDER BY position DESC NULLS FIRST, commit_time DESC, started DESC LIMIT ?
    """, [kind, branch, new_run_id, runs])
    if chosen.empty:
        kinds = store.query("SELECT fingerprint_id, count(*) AS n FROM runs GROUP BY ALL")
        known = ", ".join(f"{row.fingerprint_id} ({row.n} runs)" for row in kinds.itertuples())
        raise NoBaselineRun(f"history {store.path} has no run of this machine kind ({kind}) on "
                            f"branch '{branch}' to compare with; kinds there: "
                            f"{known or 'none'}")
    return chosen


def rolling_baseline(store: HistoryStore, new_manifest: dict[str, Any], new_run_id: str,
                     runs: int = DEFAULT_BASELINE_RUNS, branch: str = MAIN_BRANCH) -> RunSet:
    """The last `runs` runs of the new run's machine kind on `branch`, as one base run
    (module docstring). `NoBaselineRun` when the history has none of that kind."""
    chosen = baseline_runs(store, new_manifest, new_run_id, runs, branch)
    run_ids = list(chosen["run_id"])
    marks = ", ".join("?" for _ in run_ids)
    cases = store.query(f"SELECT * FROM cases WHERE run_id IN ({marks})", run_ids)
    medians = store.query(f"SELECT * FROM process_medians WHERE run_id IN ({marks})", run_ids)
    newest_first = {run_id: rank for rank, run_id in enumerate(run_ids)}
    rows = _base_rows(cases, newest_first)
    samples = _base_samples(cases, medians, rows, "")
    rows = _pooled_numbers(rows, samples)
    name = (f"{PREFIX}{store.path} ({len(run_ids)} runs, {chosen['commit'].iloc[-1][:10]}.."
            f"{chosen['commit'].iloc[0][:10]})")
    manifest = {**json.loads(chosen["manifest"].iloc[0]), "run_id": name,
                "history": {"store": str(store.path), "runs": run_ids, "branch": branch}}
    return RunSet(results=rows.assign(run_id=name).astype({"run_id": "string"}),
                  samples=samples.assign(run_id=name).astype({"run_id": "string"}),
                  manifests={name: manifest},
                  run_dirs={name: Path(store.path)})


def _base_rows(cases: pd.DataFrame, newest_first: dict[str, int]) -> pd.DataFrame:
    """Per case, its newest ok row, else its newest row."""
    cases = cases.assign(hardware=cases["hardware"].fillna(""),
                         _rank=cases["run_id"].map(newest_first),
                         _not_ok=(cases["status"] != "ok").astype(int))
    rows = cases.sort_values(["_not_ok", "_rank"]).drop_duplicates(CASE_KEY, keep="first")
    return rows.drop(columns=["_rank", "_not_ok"]).astype({"batch_size": "Int64"}) \
        .reset_index(drop=True)


def _pooled_numbers(rows: pd.DataFrame, samples: pd.DataFrame) -> pd.DataFrame:
    """Each base row's centre, interval, spread and process count from its pooled process
    medians (`harness.measure.stats.process_level`), so that what the comparison and its
    sensitivity line read of the base is the pool, not its newest run."""
    rows = rows.copy()
    for case_id, pooled in samples.groupby("case_id"):
        level = process_level(pooled["value"].to_numpy(dtype=float))
        at = rows["case_id"] == case_id
        rows.loc[at, ["median_ms", "ci_low_ms", "ci_high_ms", "between_cv"]] = (
            level.center, level.ci_low, level.ci_high, level.between_cv)
        rows.loc[at, "processes"] = level.processes
    return rows


def _base_samples(cases: pd.DataFrame, medians: pd.DataFrame, rows: pd.DataFrame,
                  name: str) -> pd.DataFrame:
    """Every ok process median of each case, one sample per process, under the case id of
    its base row, processes numbered 0.. across the runs."""
    ok = cases[cases["status"] == "ok"].assign(hardware=lambda f: f["hardware"].fillna(""))
    ok = ok[[*CASE_KEY, "run_id", "case_id"]].merge(
        rows[[*CASE_KEY, "case_id"]].rename(columns={"case_id": "base_case_id"}), on=CASE_KEY)
    pooled = medians.merge(ok[["run_id", "case_id", "base_case_id"]], on=["run_id", "case_id"])
    pooled = pooled.sort_values(["base_case_id", "run_id", "process"])
    pooled["slot"] = pooled.groupby("base_case_id").cumcount()
    return samples_frame({"run_id": name, "case_id": row.base_case_id, "metric": "iter_ms",
                          "process": int(row.slot), "idx": 0, "value": float(row.median_ms)}
                         for row in pooled.itertuples())
