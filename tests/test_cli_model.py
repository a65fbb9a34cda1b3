"""The short path: `archbench run --model MODULE:FACTORY --input SPEC ... --output NAME`.

Mistakes in what is typed end at the CLI (exit 2, one line naming what is valid); mistakes
only the model can reveal (a forward that rejects the inputs, an output without the named
tensor) are one-line `error` rows, and the sweep goes on.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from harness.results.store import load_results
from tests.conftest import FIXTURES
from tests.test_cli import assert_usage_error, run_cli

MODEL = f"{FIXTURES / 'own_model_suites.py'}:MaskedTokenClassifier"
INPUTS = ("--input", "input_ids:int64[B,S=8]<50", "--input", "attention_mask:int64[B,S=8]=1")


@pytest.mark.parametrize(("argv", "expected"), [
    (["--model", MODEL, "--input", "input_ids:int64[B,8]"], ["input 'input_ids' is int64",
                                                             "give its range"]),
    (["--model", MODEL, "--input", "input_ids=int64[B,8]<5"], ["does not parse",
                                                               "NAME:DTYPE[B,DIM,...]"]),
    (["--model", MODEL], ["needs its inputs", "--input"]),
    (["--input", "x:float32[B,4]"], ["--input and --output describe a --model"]),
    (["--model", "no_colon", *INPUTS], ["does not name a callable", "package.module:factory"]),
    (["--model", f"{FIXTURES / 'own_model_suites.py'}:Nope", *INPUTS], ["has no 'Nope'"]),
    (["--model", "no_such_package.models:make", *INPUTS], ["failed to import",
                                                           "ModuleNotFoundError"]),
    (["--model", "missing.py:make", *INPUTS], ["missing.py' does not exist"]),
])
def test_what_is_typed_wrong_is_one_line_at_the_cli(argv: list[str], expected: list[str],
                                                    results_dir: Path) -> None:
    assert_usage_error(run_cli("run", *argv, "--results", results_dir), *expected)


def short_path(results: Path, run_id: str, *argv: str) -> pd.Series:
    """`archbench run --model ...` of one cpu-eager latency case; its one row."""
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", *argv, "--backend", "cpu-eager",
         "--phase", "infer", "--scenario", "latency", "--batch-size", "2", "--quick",
         "--threads", "1", "--no-progress", "--run-id", run_id, "--results", str(results)],
        capture_output=True, text=True, timeout=600, cwd=Path(__file__).parent.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    (row,) = (row for _, row in load_results(results / run_id).iterrows())
    return row


def test_the_short_path_runs_a_model_from_a_module(results_dir: Path) -> None:
    row = short_path(results_dir, "module", "--model",
                     "tests.fixtures.own_model_suites:MaskedTokenClassifier", *INPUTS,
                     "--output", "logits")
    assert row["suite"] == "own_model_suites.MaskedTokenClassifier"
    assert row["size"] == "default"
    assert row["status"] == "ok", row["reason"]
    assert row["median_ms"] > 0 and row["parity_ok"]
    assert pd.isna(row["accuracy"]) and row["accuracy_note"] == "no task"
    assert row["weights"] == "as built"


def test_a_forward_that_rejects_the_inputs_is_an_error_row(results_dir: Path) -> None:
    row = short_path(results_dir, "rejects", "--model", MODEL, "--input",
                     "input_ids:int64[B,8]<50", "--input", "mask:int64[B,8]=1",
                     "--output", "logits")
    assert row["status"] == "error"
    assert "rejects the declared inputs (input_ids, mask)" in row["reason"]
    assert "it takes (input_ids, attention_mask)" in row["reason"]


def test_an_output_without_the_named_tensor_is_an_error_row(results_dir: Path) -> None:
    row = short_path(results_dir, "no-key", "--model", MODEL, *INPUTS, "--output", "scores")
    assert row["status"] == "error"
    assert "no tensor 'scores'; it has: pooled, logits" in row["reason"]


def test_a_model_is_served_under_load_from_the_cli(results_dir: Path) -> None:
    """`--scenario server --slo-ms` on `--model`: a peak under the target, its curve, and
    LoadGen's logs kept in the run folder (about 15 s under --quick)."""
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", "--model", MODEL, *INPUTS, "--output",
         "logits", "--backend", "cpu-eager", "--phase", "infer", "--scenario", "server",
         "--slo-ms", "50", "--batch-size", "4", "--quick", "--threads", "1", "--no-progress",
         "--run-id", "served", "--results", str(results_dir)],
        capture_output=True, text=True, timeout=600, cwd=Path(__file__).parent.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "peak q/s [CI] @ p99 target" in done.stdout
    (row,) = (row for _, row in load_results(results_dir / "served").iterrows())
    assert row["status"] == "ok", row["reason"]
    assert row["peak_qps"] > 0 and row["loadgen_p99_ms"] <= 50 and row["slo_ms"] == 50
    assert row["median_ms"] == pytest.approx(1e3 / row["peak_qps"])
    logs = results_dir / "served" / row["loadgen_log_dir"]
    assert row["loadgen_log_dir"].startswith("loadgen/") and list(
        logs.glob("server-*/mlperf_log_summary.txt"))
