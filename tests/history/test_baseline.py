"""The rolling baseline: the last N main-line runs of the machine kind, pooled, so that one odd
baseline run neither fails nor passes a change."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.analysis.compare import compare
from harness.errors import UsageError
from harness.history.baseline import rolling_baseline
from harness.history.store import HistoryStore
from harness.results.runs import load_runs
from harness.results.store import MANIFEST
from tests.history.history_runs import OTHER_MACHINE, case_id, commit, write_history_run


def _noise(seed: int, processes: int = 3, cv: float = 0.05) -> list[float]:
    return list(np.exp(np.random.default_rng(seed).normal(0, cv, processes)))


def _history(tmp_path: Path, odd_run_factor: float = 1.0) -> Path:
    """Six main-line runs at 10 ms (the newest one `odd_run_factor` off), one feature-branch run
    and one run of another machine kind, both far slower (they must not be used)."""
    path = tmp_path / "h.duckdb"
    with HistoryStore(path) as store:
        for position in range(1, 7):
            factor = odd_run_factor if position == 6 else 1.0
            store.add_run(write_history_run(
                tmp_path / "runs", f"main-{position}",
                {"cpu-eager": [10 * factor * v for v in _noise(position)],
                 "ort-cpu": [5 * v for v in _noise(100 + position)]}, commit(position)))
        store.add_run(write_history_run(tmp_path / "runs", "feature",
                                        {"cpu-eager": [40.0, 41.0, 39.0]},
                                        commit(7, branch="feature")))
        store.add_run(write_history_run(tmp_path / "runs", "elsewhere",
                                        {"cpu-eager": [80.0, 81.0, 79.0]}, commit(8),
                                        machine=OTHER_MACHINE))
    return path


def _new_run(tmp_path: Path, run_id: str, eager_ms: float, seed: int) -> Path:
    return write_history_run(tmp_path / "new", run_id,
                             {"cpu-eager": [eager_ms * v for v in _noise(seed)],
                              "ort-cpu": [5 * v for v in _noise(seed + 1)]}, commit(9))


def test_the_baseline_pools_the_last_n_main_line_runs_of_the_machine_kind(
        tmp_path: Path) -> None:
    path = _history(tmp_path)
    new = _new_run(tmp_path, "new", 10.0, seed=50)
    with HistoryStore(path, create=False) as store:
        base = rolling_baseline(store, json.loads((new / MANIFEST).read_text()), "new", runs=5)
    (name, manifest), = base.manifests.items()
    assert manifest["history"]["runs"] == [f"main-{p}" for p in (6, 5, 4, 3, 2)]
    assert "5 runs" in name
    eager = base.results[base.results["backend"] == "cpu-eager"].iloc[0]
    assert eager["processes"] == 15  # 5 runs x 3 processes, pooled
    assert 9 < eager["median_ms"] < 11  # neither the feature branch's 40 nor the other's 80
    samples = base.samples[base.samples["case_id"] == case_id("cpu-eager")]
    assert sorted(samples["process"]) == list(range(15))


def test_a_planted_slowdown_is_called_and_an_unchanged_run_is_not(tmp_path: Path) -> None:
    path = _history(tmp_path)
    verdicts = {}
    for run_id, eager_ms in (("same", 10.0), ("slower", 13.0)):
        new = _new_run(tmp_path, run_id, eager_ms, seed=60)
        with HistoryStore(path, create=False) as store:
            base = rolling_baseline(store, json.loads((new / MANIFEST).read_text()), run_id)
        table = compare(base, load_runs([new]), threshold=0.10, family_wise=True).table
        verdicts[run_id] = dict(zip(table["backend"], table["verdict"], strict=True))
    assert verdicts["same"] == {"cpu-eager": "same", "ort-cpu": "same"}
    assert verdicts["slower"] == {"cpu-eager": "slower", "ort-cpu": "same"}


def test_one_odd_baseline_run_does_not_fail_an_unchanged_run(tmp_path: Path) -> None:
    # the newest baseline run read 30% fast (a quiet hour): against it alone, an unchanged
    # run looks 1.4x slower; against the pool of five it is the same
    path = _history(tmp_path, odd_run_factor=0.7)
    new = _new_run(tmp_path, "new", 10.0, seed=70)
    with HistoryStore(path, create=False) as store:
        base = rolling_baseline(store, json.loads((new / MANIFEST).read_text()), "new", runs=5)
    pooled = compare(base, load_runs([new]), threshold=0.10, family_wise=True)
    assert set(pooled.table["verdict"]) == {"same"}
    single = compare(load_runs([tmp_path / "runs" / "main-6"]), load_runs([new]),
                     threshold=0.10, family_wise=True)
    assert "slower" in set(single.table["verdict"])


def test_a_case_never_ok_in_the_baseline_is_not_compared_and_not_newly_broken(
        tmp_path: Path) -> None:
    path = tmp_path / "h.duckdb"
    with HistoryStore(path) as store:
        store.add_run(write_history_run(tmp_path / "runs", "b1",
                                        {"cpu-eager": [10.0, 10.2], "ort-cpu": [1.0]},
                                        commit(1), statuses={"ort-cpu": "error"}))
    new = write_history_run(tmp_path / "new", "n", {"cpu-eager": [10.1, 10.0],
                                                    "ort-cpu": [1.0]}, commit(2),
                            statuses={"ort-cpu": "error"})
    with HistoryStore(path, create=False) as store:
        base = rolling_baseline(store, json.loads((new / MANIFEST).read_text()), "n")
    comparison = compare(base, load_runs([new]))
    assert comparison.newly_broken.empty
    row = comparison.table.set_index("backend").loc["ort-cpu"]
    assert row["base_status"] == "error" and pd.isna(row["verdict"])


def test_no_run_of_the_machine_kind_is_one_line_naming_the_kinds_there(tmp_path: Path) -> None:
    path = _history(tmp_path)
    new = write_history_run(tmp_path / "new", "n", {"cpu-eager": [1.0, 1.1]}, commit(9),
                            machine=OTHER_MACHINE | {"cpu_model": "Third CPU"})
    with HistoryStore(path, create=False) as store, \
            pytest.raises(UsageError, match="no run of this machine kind") as raised:
        rolling_baseline(store, json.loads((new / MANIFEST).read_text()), "n")
    assert "7 runs" in str(raised.value) and "\n" not in str(raised.value)
