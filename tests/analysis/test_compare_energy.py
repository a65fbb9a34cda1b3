"""`compare` judges energy per sample as it judges time, where both runs read it."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from harness.analysis.compare import compare
from harness.analysis.compare_json import comparison_json
from harness.analysis.compare_markdown import comparison_markdown
from harness.measure.energy import ENERGY_METRIC
from harness.results.runs import RunSet
from tests.analysis.test_compare import make_run, times
from tests.fake_runs import case_id


def with_energy(run: RunSet, joules: Mapping[str, Sequence[float]]) -> RunSet:
    """`run` with one energy reading per process of each case named (by suite)."""
    readings = pd.DataFrame([
        {"run_id": run.results["run_id"].iloc[0],
         "case_id": case_id(name, "small", "cpu-eager", "infer"), "metric": ENERGY_METRIC,
         "process": process, "idx": 0, "value": value}
        for name, values in joules.items() for process, value in enumerate(values)])
    return RunSet(results=run.results, samples=pd.concat([run.samples, readings]),
                  manifests=run.manifests)


def runs(base_joules: Mapping[str, Sequence[float]], new_joules: Mapping[str, Sequence[float]]
         ) -> tuple[RunSet, RunSet]:
    """Two runs of cnn and rnn with the same times, and the energy readings given."""
    rng = np.random.default_rng(11)
    cases = {"cnn": times(rng, 10.0, 10.2, 9.9), "rnn": times(rng, 5.0, 5.1, 4.9)}
    return (with_energy(make_run("base", cases), base_joules),
            with_energy(make_run("new", cases), new_joules))


def test_more_energy_per_sample_fails_as_a_slowdown_and_the_same_passes() -> None:
    base, new = runs({"cnn": [2.0, 2.05, 1.98], "rnn": [1.0, 1.02, 0.99]},
                     {"cnn": [2.6, 2.65, 2.58], "rnn": [1.01, 0.99, 1.0]})
    comparison = compare(base, new)
    assert set(comparison.table["verdict"]) == {"same"}  # the times did not change
    energy = comparison.energy.set_index("suite")
    assert energy.loc["cnn", "verdict"] == "more" and energy.loc["rnn", "verdict"] == "same"
    assert energy.loc["cnn", "ci_low"] < energy.loc["cnn", "ratio"] < energy.loc["cnn", "ci_high"]
    assert abs(energy.loc["cnn", "ratio"] - 1.3) < 0.02
    assert comparison.exit_code == 1 and "energy: 1 more, 0 less, 1 same" in comparison.outcome()
    text = comparison.format_text(only_changes=True)
    assert "Energy per sample (2 cases read it in both runs; 1 unchanged not listed)" in text
    assert "base J/sample" in text
    markdown = comparison_markdown(comparison)
    assert "**Energy per sample changed (1 of 2 read in both runs)**" in markdown
    assert [row["verdict"] for row in json.loads(comparison_json(comparison))["energy"]] == [
        "more", "same"]
    less = compare(new, base)
    assert less.exit_code == 0 and "energy: 0 more, 1 less, 1 same" in less.outcome()


def test_energy_read_in_one_run_or_one_process_gets_no_verdict() -> None:
    """A run on a machine without a counter has no readings: nothing to judge, no failure.
    One reading a side has no spread to test."""
    base, new = runs({"cnn": [2.0, 2.05, 1.98], "rnn": [1.0]}, {"rnn": [3.0]})
    comparison = compare(base, new)
    assert comparison.energy.empty and comparison.exit_code == 0
    assert "energy" not in comparison.outcome() and "Energy per sample" not in \
        comparison.format_text()
