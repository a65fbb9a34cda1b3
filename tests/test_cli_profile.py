"""`archbench ops` and `archbench trace` on a profiled run, and their one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

import harness
from tests.test_cli import assert_usage_error, run_cli


def test_ops_prints_each_case_like_key_averages(profiled_run: Path) -> None:
    result = run_cli("ops", profiled_run, "--top", "3")
    assert result.code == 0, result.err
    for case_id in harness.load_results(profiled_run)["case_id"]:
        assert f"{case_id}: profiled step" in result.out
    assert "Self ms" in result.out and "Self %" in result.out and "coverage" in result.out


def test_ops_of_one_case_by_category(profiled_run: Path) -> None:
    case_id = "cnn-tiny-ort-cpu-infer-latency-bs1"
    result = run_cli("ops", profiled_run, "--case", case_id, "--by", "category")
    assert result.code == 0, result.err
    assert result.out.count("profiled step") == 1 and "convolution" in result.out


def test_trace_prints_the_path_and_how_to_open_it(profiled_run: Path) -> None:
    case_id = "cnn-tiny-cpu-eager-infer-latency-bs1"
    result = run_cli("trace", profiled_run, case_id)
    assert result.code == 0, result.err
    path = Path(result.out.splitlines()[0])
    assert path.is_file() and path.name.startswith(case_id)
    assert "ui.perfetto.dev" in result.out


@pytest.mark.parametrize(("argv", "expected"), [
    (["ops", "{run}", "--case", "nope"], ["unknown case 'nope'",
                                           "cnn-tiny-cpu-eager-infer-latency-bs1"]),
    (["ops", "{run}", "--by", "kernel"], ["unknown grouping 'kernel'", "op, category"]),
    (["ops", "{run}", "--top", "0"], ["--top must be a positive"]),
    (["trace", "{run}", "nope"], ["unknown case 'nope'", "cnn-tiny-ort-cpu-infer-latency-bs1"]),
    (["ops", "no-such-run"], ["no archbench run at 'no-such-run'"]),
])
def test_bad_input_is_one_line(argv: list[str], expected: list[str], profiled_run: Path) -> None:
    assert_usage_error(run_cli(*[arg.format(run=profiled_run) for arg in argv]), *expected)


def test_a_run_without_profile_says_how_to_get_one(results_dir: Path) -> None:
    from harness.cases import SweepConfig
    from harness.sweep.run import start_run

    run_dir = start_run(SweepConfig(suites=("cnn",), sizes=("tiny",)), results_dir, "plain")
    assert_usage_error(run_cli("ops", run_dir), "no op table", "--profile")
    assert_usage_error(run_cli("trace", run_dir, "x"), "no traces", "--profile")
