"""A case's series across commits, and the steps found in it.

A **series** is one case (`harness.results.runs.CASE_KEY`) on one machine kind (its fingerprint
id): timings of different machine kinds never share a series. A **point** is one commit of it:
the process medians of every run of that commit, pooled (two runs of one commit are more
processes of the same code, not two commits), its centre (geometric mean) and the 95% interval
between processes (`harness.measure.stats`: log-normal process medians). Only ``ok`` cases
have points. A run of uncommitted code (dirty) is its own point, after its commit's.

Points are ordered by the commit's position in git's history (`harness.machine.provenance`),
never by when they ran; commits git could not place follow the placed ones, by their time.

Steps come from `harness.history.steps` on each series' process medians: a step is a level
change beyond the threshold that lasted at least ``min_persistence`` commits.

A series follows one **quantity**: the step time (`TIME`: process medians of iteration times,
ms) or, where the hardware counted it, the energy per sample (`ENERGY`: one reading per
process, J/sample; `harness.measure.energy`). Energy is treated as time is, lower is better:
the same points, intervals and step detector (its noise is one-sided too: a contended process
takes longer, and its idle power with it), only the unit and the words differ.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import stdtrit

from harness.history import MIN_PERSISTENCE, STEP_THRESHOLD
from harness.history.steps import detect_steps
from harness.history.store import HistoryStore
from harness.results.runs import CASE_KEY, case_name


@dataclass(frozen=True)
class Quantity:
    """What a series follows: the store's per-process table and column, the unit, and the
    words for a step up (worse) and down."""

    name: str
    table: str
    column: str
    unit: str
    worse: str
    better: str


TIME = Quantity("time", "process_medians", "median_ms", "ms", "slower", "faster")
ENERGY = Quantity("energy", "process_energy", "j_per_sample", "J/sample", "more energy",
                  "less energy")
QUANTITIES = {quantity.name: quantity for quantity in (TIME, ENERGY)}

#: One series: a case on a machine kind.
SERIES_KEY = ["fingerprint_id", *CASE_KEY]
#: The level of a point's interval.
LEVEL = 0.95
STEP_COLUMNS = ["fingerprint_id", *CASE_KEY, "case", "order", "commit", "commit_short",
                "subject", "before_commit", "before_commit_short", "before", "after", "unit",
                "ratio", "direction", "worse", "persistence"]
#: What a selection may filter on, and the column each filters.
_FILTERS = {"suites": "suite", "sizes": "size", "backends": "backend", "phases": "phase",
            "scenarios": "scenario"}


@dataclass(frozen=True)
class Selection:
    """Which series to read: each tuple empty = all; `machines`: fingerprint ids or their
    prefixes; `branch`: only runs recorded on this branch (or on none, as a run made outside
    a branch checkout is), None = every branch."""

    suites: tuple[str, ...] = ()
    sizes: tuple[str, ...] = ()
    backends: tuple[str, ...] = ()
    phases: tuple[str, ...] = ()
    scenarios: tuple[str, ...] = ()
    machines: tuple[str, ...] = ()
    branch: str | None = None
    exclude_runs: tuple[str, ...] = field(default=())

    def where(self) -> tuple[str, list[object]]:
        """The SQL condition on cases c and runs r, with its parameters."""
        clauses, parameters = ["c.status = 'ok'"], []
        for name, column in _FILTERS.items():
            values = getattr(self, name)
            if values:
                clauses.append(f"c.{column} IN ({', '.join('?' for _ in values)})")
                parameters += list(values)
        if self.machines:
            clauses.append("(" + " OR ".join("starts_with(r.fingerprint_id, ?)"
                                             for _ in self.machines) + ")")
            parameters += list(self.machines)
        if self.branch is not None:
            clauses.append("(r.branch = ? OR r.branch = '')")
            parameters.append(self.branch)
        if self.exclude_runs:
            clauses.append(f"r.run_id NOT IN ({', '.join('?' for _ in self.exclude_runs)})")
            parameters += list(self.exclude_runs)
        return " AND ".join(clauses), parameters


def load_points(store: HistoryStore, selection: Selection = Selection(),
                quantity: Quantity = TIME) -> pd.DataFrame:
    """Every point of the selected series of `quantity`, in series then commit order (module
    docstring), with its process values as a list (``medians``) for the step detector."""
    where, parameters = selection.where()
    # a store from before the quantity was kept, read without adding to it, has none of it
    values = (f'SELECT run_id, case_id, process, "{quantity.column}" AS value '
              f'FROM {quantity.table}' if store.has_table(quantity.table) else
              "SELECT NULL::VARCHAR AS run_id, NULL::VARCHAR AS case_id, "
              "NULL::INTEGER AS process, NULL::DOUBLE AS value WHERE false")
    points = store.query(f"""
        SELECT r.fingerprint_id, c.suite, c.size, c.backend, c.phase, c.scenario,
               c.batch_size, coalesce(c.hardware, '') AS hardware, r."commit", r.dirty,
               min(r.position) AS position, min(r.commit_time) AS commit_time,
               any_value(r.subject) AS subject, string_agg(DISTINCT r.branch, ',') AS branch,
               min(r.started) AS started, count(DISTINCT r.run_id) AS runs,
               count(*) AS processes, list(p.value ORDER BY r.run_id, p.process) AS medians,
               exp(avg(ln(p.value))) AS center, stddev_samp(ln(p.value)) AS log_sd
        FROM ({values}) p JOIN cases c USING (run_id, case_id) JOIN runs r USING (run_id)
        WHERE {where}
        GROUP BY ALL
        ORDER BY r.fingerprint_id, c.suite, c.size, c.backend, c.phase, c.scenario,
                 c.batch_size, hardware, position NULLS LAST, commit_time, r.dirty, started
    """, parameters)
    if not points.empty:
        points = points.astype({"batch_size": "Int64", "runs": int, "processes": int})
    return _with_point_columns(points).assign(unit=quantity.unit)


def count_runs(store: HistoryStore, selection: Selection = Selection(),
               quantity: Quantity = TIME) -> int:
    """How many runs hold a point of the selected series of `quantity`."""
    if not store.has_table(quantity.table):
        return 0
    where, parameters = selection.where()
    return int(store.query(f"SELECT count(DISTINCT r.run_id) AS n FROM {quantity.table} p "
                           f"JOIN cases c USING (run_id, case_id) JOIN runs r USING (run_id) "
                           f"WHERE {where}", parameters)["n"].iloc[0])


def _with_point_columns(points: pd.DataFrame) -> pd.DataFrame:
    """The derived columns of each point: interval, order, short hash, case name."""
    points = points.copy()
    n = points["processes"].to_numpy(dtype=float) if len(points) else np.array([])
    half = np.full(len(points), np.nan)
    several = n > 1
    half[several] = (stdtrit(n[several] - 1, 0.5 + LEVEL / 2)
                     * points["log_sd"].to_numpy(dtype=float)[several] / np.sqrt(n[several]))
    center = points["center"].to_numpy(dtype=float) if len(points) else np.array([])
    points["ci_low"] = center * np.exp(-half)
    points["ci_high"] = center * np.exp(half)
    points["order"] = _commit_order(points)
    points["commit_short"] = points["commit"].astype(str).str[:10]
    points["case"] = _case_names(points)
    return points


def _case_names(points: pd.DataFrame) -> list[str]:
    """Each point's case name, built once per case: a history holds hundreds of points per
    case, and naming each row alone took seconds on 200,000 points."""
    if points.empty:
        return []
    series = points.groupby(CASE_KEY, sort=False, dropna=False)
    names = [case_name(row) for row in series.head(1)[CASE_KEY].itertuples()]
    return [names[code] for code in series.ngroup()]


def _commit_order(points: pd.DataFrame) -> pd.Series:
    """A commit's place among every commit of the selection (the x axis every series shares):
    placed commits by position, then unplaced ones by time; a dirty run after its commit."""
    if points.empty:
        return pd.Series(dtype=int)
    commits = points[["commit", "dirty", "position", "commit_time", "started"]] \
        .groupby(["commit", "dirty"], as_index=False) \
        .agg(position=("position", "min"), commit_time=("commit_time", "min"),
             started=("started", "min"))
    commits = commits.sort_values(["position", "commit_time", "dirty", "started"],
                                  na_position="last", kind="stable")
    commits["order"] = range(len(commits))
    ranked = points[["commit", "dirty"]].merge(commits[["commit", "dirty", "order"]],
                                               on=["commit", "dirty"], how="left")
    return pd.Series(ranked["order"].to_numpy(), index=points.index)


def find_steps(points: pd.DataFrame, threshold: float = STEP_THRESHOLD,
               min_persistence: int = MIN_PERSISTENCE, quantity: Quantity = TIME
               ) -> pd.DataFrame:
    """The steps of every series of `points` (columns `STEP_COLUMNS`; direction in
    `quantity`'s words), worse first (slower, more energy), then by size."""
    rows = []
    for _, series in points.groupby(SERIES_KEY, dropna=False, sort=False):
        series = series.reset_index(drop=True)
        for step in detect_steps(list(series["medians"]), threshold, min_persistence):
            first, last = series.iloc[step.index], series.iloc[step.index - 1]
            rows.append({**{column: first[column] for column in SERIES_KEY},
                         "case": first["case"], "order": int(first["order"]),
                         "commit": first["commit"], "commit_short": first["commit_short"],
                         "subject": first["subject"], "before_commit": last["commit"],
                         "before_commit_short": last["commit_short"],
                         "before": step.before, "after": step.after, "unit": quantity.unit,
                         "ratio": step.ratio,
                         "direction": quantity.worse if step.ratio > 1 else quantity.better,
                         "worse": step.ratio > 1,
                         "persistence": step.persistence})
    return worse_first(pd.DataFrame(rows, columns=STEP_COLUMNS))


def worse_first(steps: pd.DataFrame) -> pd.DataFrame:
    """Steps to worse first (slower, more energy), each direction by size (a halving is as
    large as a doubling)."""
    if steps.empty:
        return steps
    order = pd.DataFrame({"better": (~steps["worse"].astype(bool)).astype(int),
                          "smaller": -np.log(steps["ratio"].astype(float)).abs()})
    return steps.loc[order.sort_values(["better", "smaller"], kind="stable").index] \
        .reset_index(drop=True)
