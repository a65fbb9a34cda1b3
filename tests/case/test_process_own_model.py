"""A user's model as it is, through real sweeps: two named inputs, a dict output, no task.

One `archbench run` per scenario below (one process a case, `--quick`), read back from its
results: every backend times and profiles the model and checks its parity against fp64,
accuracy is empty with its reason, training without a loss is skipped with why, and with a
declared loss it trains on synthetic targets. Nothing here depends on speed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from harness.results.store import load_results
from tests.conftest import FIXTURES

OWN_MODEL_FILE = FIXTURES / "own_model_suites.py"
BACKENDS = ("cpu-eager", "cpu-compile", "ort-cpu", "ort-cpu-int8")


def sweep(results: Path, run_id: str, *argv: str) -> pd.DataFrame:
    """`archbench run ... --quick` in its own process (as a user runs it); its results."""
    done = subprocess.run([sys.executable, "-m", "harness.cli", "run", *argv, "--quick",
                           "--threads", "1", "--no-progress", "--run-id", run_id,
                           "--results", str(results)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return load_results(results / run_id).set_index("case_id")


@pytest.fixture(scope="module")
def own_model_run(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    return sweep(tmp_path_factory.mktemp("own") / "results", "own",
                 "--suite-file", str(OWN_MODEL_FILE), "--suite", "masked", "--profile",
                 "--backend", *BACKENDS, "--scenario", "latency", "--batch-size", "4")


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_model_without_a_task_is_timed_and_checked_against_fp64(
        own_model_run: pd.DataFrame, backend: str) -> None:
    row = own_model_run.loc[f"masked-tiny-{backend}-infer-latency-bs4"]
    assert row["status"] == "ok", row["reason"]
    assert row["median_ms"] > 0 and row["n"] > 0
    assert row["parity_ok"] and row["parity_rel_err"] <= row["parity_tol"]
    assert row["parity_top1_agree"] > 0.9
    assert pd.isna(row["accuracy"]) and row["accuracy_note"] == "no task"
    assert row["weights"] == "as built" and row["train_steps"] == 0
    assert row["flops_per_sample"] > 0 and row["params"] > 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_model_of_named_inputs_is_profiled(own_model_run: pd.DataFrame, backend: str) -> None:
    row = own_model_run.loc[f"masked-tiny-{backend}-infer-latency-bs4"]
    assert pd.isna(row["profile_error"]), row["profile_error"]
    assert row["profile_steps"] > 0 and row["step_flops"] > 0 and row["step_bytes"] > 0
    assert isinstance(row["trace_file"], str)


def test_training_without_a_declared_loss_is_skipped_with_the_reason(
        own_model_run: pd.DataFrame) -> None:
    row = own_model_run.loc["masked-tiny-cpu-eager-train-latency-bs4"]
    assert row["status"] == "skipped"
    assert "no task and no declared loss" in row["reason"]


def test_a_declared_loss_trains_on_synthetic_targets(tmp_path: Path) -> None:
    frame = sweep(tmp_path / "results", "train", "--suite-file", str(OWN_MODEL_FILE),
                  "--suite", "masked-train", "--backend", "cpu-eager", "--phase", "train",
                  "--scenario", "latency", "--batch-size", "4")
    row = frame.loc["masked-train-tiny-cpu-eager-train-latency-bs4"]
    assert row["status"] == "ok", row["reason"]
    assert row["median_ms"] > 0
    assert pd.isna(row["accuracy"]) and row["accuracy_note"] == "no task"
