"""The report and the comparison on real `tiny` sweeps, not synthetic tables."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from harness.analysis.compare import compare, compare_runs
from harness.cases import SweepConfig
from harness.report import write_report
from harness.results.runs import load_runs
from harness.sweep.run import run_sweep, start_run

# One scenario: what is tested here is reading and comparing real runs, whatever they measured.
CONFIG = SweepConfig(suites=("cnn",), sizes=("tiny",), backends=("cpu-eager", "ort-cpu"),
                     scenarios=("latency",), batch_sizes=(8,), quick=True, threads=1,
                     timeout_s=300, processes=2)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    results = tmp_path_factory.mktemp("results")
    runs = []
    for run_id in ("first", "second"):
        run_dir = start_run(CONFIG, results, run_id)
        run_sweep(run_dir, CONFIG, progress=False)
        runs.append(run_dir)
    return runs[0], runs[1]


def test_report_of_a_real_run_shows_its_cases_and_writes_its_tables(two_runs, tmp_path):
    index = write_report([two_runs[0]], tmp_path / "report")
    html = index.read_text()
    summary = pd.read_csv(tmp_path / "report" / "summary.csv")
    assert set(summary["case_id"]) == {
        "cnn-tiny-cpu-eager-train-latency-bs8", "cnn-tiny-cpu-eager-infer-latency-bs8",
        "cnn-tiny-ort-cpu-infer-latency-bs8", "cnn-tiny-ort-cpu-train-latency-bs8"}
    assert set(summary["scenario"]) == {"latency"}  # the runner's row carries it to the page
    # the ORT training case is skipped, and the page gives its reason
    assert "training is not supported" in html
    assert html.count("<script") >= 2 and "plotly" in html.lower()


def test_two_real_runs_compare_case_by_case(two_runs, tmp_path):
    comparison = compare_runs(*two_runs)
    judged = comparison.table.dropna(subset=["ratio"])
    assert len(judged) == 3  # the three finished cases; the skipped one gets no verdict
    assert set(judged["verdict"]) <= {"faster", "slower", "same"}
    assert comparison.only_in_base.empty and comparison.only_in_new.empty
    assert comparison.newly_broken.empty and comparison.now_skipped.empty
    # one machine, one configuration: environment, threads and timing rules all agree
    assert comparison.warnings == []
    index = write_report(list(two_runs), tmp_path / "both")
    assert (tmp_path / "both" / "comparison.csv").exists() and index.exists()


def test_a_real_run_against_itself_is_the_same_everywhere_and_passes(two_runs):
    comparison = compare_runs(two_runs[0], two_runs[0])
    judged = comparison.table.dropna(subset=["verdict"])
    assert len(judged) == 3 and set(judged["verdict"]) == {"same"}
    assert (judged["ratio"] == 1.0).all()
    assert comparison.exit_code == 0


def test_a_real_case_that_crashes_in_new_fails_the_comparison(two_runs):
    run = load_runs([two_runs[0]])
    crashed = "cnn-tiny-cpu-eager-infer-latency-bs8"
    results = run.results.copy()
    results.loc[results["case_id"] == crashed, ["status", "reason"]] = ["crashed", "SIGSEGV"]
    comparison = compare(run, replace(run, results=results))
    assert comparison.newly_broken[["case_id", "status"]].values.tolist() == [
        [crashed, "crashed"]]
    assert not comparison.has_regression and comparison.exit_code == 1
    assert compare(run, replace(run, results=results), allow_broken=True).exit_code == 0
