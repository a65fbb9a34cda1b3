"""Series and points: a point per commit (runs of one commit pooled), ordered by the commit's
place in git's history, never by when it ran; one series per case and machine kind; the
selection's filters; the steps found in them."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.history.store import HistoryStore
from harness.history.trends import STEP_COLUMNS, Selection, find_steps, load_points
from harness.machine.fingerprint import fingerprint_id
from tests.history.history_runs import MACHINE, OTHER_MACHINE, commit, write_history_run


def _store(tmp_path: Path, runs: list[Path]) -> Path:
    path = tmp_path / "h.duckdb"
    with HistoryStore(path) as store:
        for run in runs:
            assert store.add_run(run).outcome == "added"
    return path


def _points(path: Path, selection: Selection | None = None) -> pd.DataFrame:
    with HistoryStore(path, create=False) as store:
        return load_points(store, selection or Selection())


def test_two_runs_of_one_commit_are_one_point_of_their_pooled_processes(tmp_path: Path) -> None:
    results = tmp_path / "runs"
    path = _store(tmp_path, [
        write_history_run(results, "a", {"cpu-eager": [2.0, 2.0]}, commit(1)),
        write_history_run(results, "b", {"cpu-eager": [8.0, 8.0]}, commit(1)),
    ])
    (point,) = _points(path).itertuples()
    assert (point.runs, point.processes) == (2, 4)
    assert sorted(point.medians) == pytest.approx([2.0, 2.0, 8.0, 8.0])
    assert point.center == pytest.approx(4.0)  # the geometric mean of the processes
    assert point.ci_low < 4.0 < point.ci_high
    assert point.case == "cnn · tiny · cpu-eager · infer · throughput · bs 32"


def test_points_follow_git_order_not_run_time_and_a_dirty_run_follows_its_commit(
        tmp_path: Path) -> None:
    results = tmp_path / "runs"
    unplaced = commit(99) | {"position": None, "time": "2026-01-01"}
    path = _store(tmp_path, [  # added (and started) in an order unlike the commits'
        write_history_run(results, "third", {"cpu-eager": [3.0]}, commit(3), started="2026-01"),
        write_history_run(results, "unplaced", {"cpu-eager": [9.0]}, unplaced),
        write_history_run(results, "first-dirty", {"cpu-eager": [1.5]}, commit(1, dirty=True)),
        write_history_run(results, "first", {"cpu-eager": [1.0]}, commit(1), started="2026-09"),
        write_history_run(results, "second", {"cpu-eager": [2.0]}, commit(2)),
    ])
    points = _points(path)
    assert points["center"].tolist() == pytest.approx([1.0, 1.5, 2.0, 3.0, 9.0])
    assert points["order"].tolist() == [0, 1, 2, 3, 4]
    assert points["dirty"].tolist() == [False, True, False, False, False]
    one = points.iloc[0]
    assert math.isnan(one["ci_low"])  # one process: no interval between processes


def test_each_machine_kind_is_its_own_series_and_the_selection_filters(tmp_path: Path) -> None:
    results = tmp_path / "runs"
    path = _store(tmp_path, [
        write_history_run(results, "here", {"cpu-eager": [1.0, 1.1], "ort-cpu": [0.5, 0.6]},
                          commit(1)),
        write_history_run(results, "there", {"cpu-eager": [3.0, 3.1]}, commit(1),
                          machine=OTHER_MACHINE),
        write_history_run(results, "side", {"cpu-eager": [1.0, 1.1]},
                          commit(2, branch="feature")),
        write_history_run(results, "broken", {"cpu-eager": [1.0], "ort-cpu": [1.0]}, commit(3),
                          statuses={"ort-cpu": "error"}),
    ])
    points = _points(path)
    assert points.groupby(["fingerprint_id", "backend"]).ngroups == 3
    assert len(points[points["backend"] == "ort-cpu"]) == 1  # the broken case has no point
    here = fingerprint_id(MACHINE)
    assert set(_points(path, Selection(machines=(here[:6],)))["fingerprint_id"]) == {here}
    assert set(_points(path, Selection(backends=("ort-cpu",)))["backend"]) == {"ort-cpu"}
    main_line = _points(path, Selection(branch="main"))
    assert "feature" not in set(main_line["branch"])
    assert set(_points(path, Selection(exclude_runs=("here", "there", "side")))["commit"]) \
        == {commit(3)["sha"]}


def test_a_lasting_step_is_found_between_its_commits_and_a_one_commit_blip_is_not(
        tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    results, runs = tmp_path / "runs", []
    for position in range(1, 13):
        eager = 10.0 * (1.3 if position >= 7 else 1.0)
        blip = 1.5 if position == 4 else 1.0  # one commit only: not a step
        runs.append(write_history_run(
            results, f"r{position:02d}",
            {"cpu-eager": list(eager * np.exp(rng.normal(0, 0.02, 3))),
             "ort-cpu": list(5.0 * blip * np.exp(rng.normal(0, 0.02, 3)))}, commit(position)))
    steps = find_steps(_points(_store(tmp_path, runs)))
    assert list(steps.columns) == STEP_COLUMNS
    (step,) = steps.itertuples()
    assert step.backend == "cpu-eager" and step.direction == "slower"
    assert (step.before_commit, step.commit) == (commit(6)["sha"], commit(7)["sha"])
    assert step.ratio == pytest.approx(1.3, rel=0.06) and step.persistence == 6
    assert step.subject == "commit number 7"
