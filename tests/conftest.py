"""Shared fixtures: where the suite files live, a fresh results folder per test, and fake runs
(`tests.fake_runs`) for the report and analysis tests."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.machine.cpu_features import isa_caps_key
from harness.results.store import case_records
from tests.fake_runs import write_run

# Tests that compile in pytest's own process get the same per-cap inductor cache as cases do:
# a suite run once natively and once with AVX2 caps must not share compiled kernels.
os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", os.path.join(
    tempfile.gettempdir(), "archbench-tests-inductor", isa_caps_key()))

FIXTURES = Path(__file__).parent / "fixtures"
# one good user suite, "mlp": the README's example, so the documented file is what is tested
MLP_SUITE_FILE = Path(__file__).parent.parent / "examples" / "mlp_suite.py"
FAULTY_SUITE_FILE = FIXTURES / "faulty_suites.py"  # raises, aborts, hangs, bf16-unsupported


def ran_rows(run_dir: Path, case_ids: list[str]) -> list[dict[str, Any]]:
    """The rows of the cases a sweep ran (`run_sweep` returns their ids), in its order."""
    records = case_records(run_dir)
    return [records[case_id]["row"] for case_id in case_ids]


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    """An empty folder for runs (not created: the code under test must create it)."""
    return tmp_path / "results"


@pytest.fixture
def fake_run(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``fake_run("run-a", seed=1, slowdown={...})`` writes a run under tmp_path."""
    fake_results = tmp_path / "results"

    def make(run_id: str, **kwargs: Any) -> Path:
        return write_run(fake_results, run_id, **kwargs)

    return make


@pytest.fixture
def write_suite_file(tmp_path: Path):
    """Write a Python file with the given source and return its path."""
    def write(source: str, name: str = "user_suite.py") -> Path:
        path = tmp_path / name
        path.write_text(source)
        return path
    return write


@pytest.fixture(scope="session")
def profiled_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real `archbench run --profile` of the tiny CNN through cpu-eager and ort-cpu (one
    process each, --quick): the run folder, with its op table, traces and ceilings."""
    results = tmp_path_factory.mktemp("profiled") / "results"
    subprocess.run([sys.executable, "-m", "harness.cli", "run", "--profile", "--suite", "cnn",
                    "--size", "tiny", "--backend", "cpu-eager", "ort-cpu", "--phase", "infer",
                    "--scenario", "latency", "--quick", "--threads", "1", "--no-progress",
                    "--run-id", "profiled", "--results", str(results)],
                   check=True, capture_output=True, timeout=600)
    return results / "profiled"
