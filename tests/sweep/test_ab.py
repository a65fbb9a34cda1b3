"""A/B on one machine: two variants alternate case by case, round by round, then compare."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from harness.analysis.compare import compare_runs
from harness.cases import SweepConfig
from harness.errors import UsageError
from harness.executors import launch as launch_module
from harness.executors.local import run_next_process
from harness.protocol import ProcessResult
from harness.results.store import load_manifest
from harness.sweep import ab
from harness.sweep import run as sweep_module
from tests.conftest import MLP_SUITE_FILE

CONFIG = SweepConfig(suites=("cnn",), sizes=("tiny",), backends=("cpu-eager", "ort-cpu"),
                     phases=("infer",), scenarios=("latency",), batch_sizes=(32,), processes=2)
A, B = "cnn-tiny-cpu-eager-infer-latency-bs32", "cnn-tiny-ort-cpu-infer-latency-bs32"


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, int]]:
    """Replace the worker: record (variant run, case, process); new is 30% slower."""
    recorded: list[tuple[str, str, int]] = []

    def launch_case_process(case, config, cache_dir, log_path, process=0, python=None, **_):
        variant = log_path.parent.parent.name.rsplit("-", 1)[1]
        recorded.append((variant, case.case_id, process))
        median = (1.3 if variant == "new" else 1.0) * (1 + 0.01 * process)
        return ProcessResult(process, "ok", "", 1.0, {"stop_reason": "converged"},
                             {"iter_ms": [median] * 5})

    monkeypatch.setattr(launch_module, "launch_case_process", launch_case_process)
    monkeypatch.setattr(ab, "check_python", lambda python: "2.13.0")
    return recorded


def test_variants_alternate_case_by_case_and_swap_order_each_round(
        calls: list, results_dir: Path) -> None:
    base, new = ab.start_ab(CONFIG, results_dir, (sys.executable, sys.executable), ((), ()),
                            "exp")
    ab.run_ab(base, new, progress=False)
    assert calls == [("base", A, 0), ("new", A, 0), ("new", B, 0), ("base", B, 0),
                     ("new", A, 1), ("base", A, 1), ("base", B, 1), ("new", B, 1)]
    assert load_manifest(base.run_dir)["ab"] == {"id": "exp", "variant": "base",
                                                 "pair": "exp-new", "python": sys.executable}
    comparison = compare_runs(base.run_dir, new.run_dir)
    assert set(comparison.table["method"]) == {"paired"}  # process r of each is a pair
    assert set(comparison.table["verdict"]) == {"slower"} and comparison.exit_code == 1


def test_an_interrupted_experiment_resumes(calls: list, results_dir: Path) -> None:
    base, new = ab.start_ab(CONFIG, results_dir, (sys.executable, sys.executable), ((), ()),
                            "exp")
    sweep = sweep_module.Sweep.open(base.run_dir, base.config)
    planned, result = sweep.cases[0]
    run_next_process(sweep, planned, result, 0)
    calls.clear()
    again = ab.resume_ab("exp", results_dir)
    assert [v.run_dir for v in again] == [base.run_dir, new.run_dir]
    ab.run_ab(*again, progress=False)
    assert len(calls) == 7 and ("base", A, 0) not in calls


def test_suite_file_variants_must_plan_the_same_cases(calls: list, results_dir: Path,
                                                      write_suite_file) -> None:
    other = write_suite_file(MLP_SUITE_FILE.read_text().replace('"small"', '"medium"'))
    config = SweepConfig(suites=("mlp",), backends=("cpu-eager",), processes=2)
    with pytest.raises(UsageError, match="plan different cases"):
        ab.start_ab(config, results_dir, (sys.executable, sys.executable),
                    ((str(MLP_SUITE_FILE),), (str(other),)))


def test_a_python_that_cannot_run_cases_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot run"):
        ab.check_python(str(tmp_path / "no-such-python"))
    with pytest.raises(UsageError, match="cannot run archbench's cases"):
        ab.check_python("/bin/false")
