"""The selftest's parts: the planted suite, the spread it reads, and what it expects."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.analysis.compare import ALPHA
from harness.cases import SweepConfig
from harness.measure.stats import process_level
from harness.results.store import MANIFEST, save_record, write_json_atomic
from harness.sweep.ab import Variant
from harness.sweep.selftest import (
    PLANTED_SIZES,
    PLANTED_SUITE,
    case_noise,
    expected_false_alarms,
    processes_needed,
)
from suites.registry import load_suite_file
from tests.test_cli import assert_usage_error, run_cli


def test_the_planted_suite_sleeps_its_factor_longer(tmp_path: Path) -> None:
    path = tmp_path / "planted.py"
    path.write_text(PLANTED_SUITE.format(factor=1.25, sizes={
        size: {"ms": ms} for size, ms in PLANTED_SIZES.items()}))
    (suite,) = load_suite_file(path)
    assert suite.name == "planted" and tuple(suite.sizes) == tuple(PLANTED_SIZES)
    data = suite.data("sleep-2ms")
    model = suite.model("sleep-2ms", data, seed=0)
    assert model.seconds == pytest.approx(2.0 * 1.25 / 1e3)
    assert model(data.x_test[:4]).shape == (4, 10)


def test_expected_false_alarms_stay_under_alpha() -> None:
    assert expected_false_alarms(0.0, 3, 0.10) == 0.0
    for cv in (0.03, 0.08, 0.20):
        assert expected_false_alarms(cv, 3, 0.10) <= ALPHA + 0.01


def _run_with_medians(results: Path, name: str, medians: dict[str, list[float]]) -> Variant:
    run_dir = results / name
    write_json_atomic(run_dir / MANIFEST, {"run_id": name, "config": {}})
    for case_id, values in medians.items():
        processes = [{"process": i, "status": "ok", "row": {}} for i in range(len(values))]
        save_record(run_dir, {"row": {"run_id": name, "case_id": case_id, "status": "ok"},
                              "samples": {"iter_ms": [[v, v, v] for v in values]},
                              "planned": len(values), "processes": processes})
    return Variant(name, run_dir, SweepConfig(), "python")


def test_case_noise_pools_both_sides_and_reads_the_rounds(tmp_path: Path) -> None:
    base = _run_with_medians(tmp_path, "aa-base", {"c": [1.0, 1.2, 1.1, 1.3]})
    new = _run_with_medians(tmp_path, "aa-new", {"c": [1.05, 1.25, 1.1, 1.35]})
    (noise,) = case_noise(base, new, 4, 0.10)
    assert noise.case == "c"
    assert noise.between_cv == pytest.approx(
        process_level([1.0, 1.2, 1.1, 1.3, 1.05, 1.25, 1.1, 1.35]).between_cv)
    assert noise.round_correlation > 0.9  # the rounds moved together
    assert noise.detectable_ab < noise.detectable_runs  # pairing cancels the shared drift
    assert 0 <= noise.expected_false_alarms <= ALPHA + 0.01


def test_a_case_with_one_process_a_side_has_no_spread_to_read(tmp_path: Path) -> None:
    base = _run_with_medians(tmp_path, "one-base", {"c": [1.0]})
    new = _run_with_medians(tmp_path, "one-new", {"c": [1.1]})
    assert case_noise(base, new, 1, 0.10) == []


@pytest.mark.parametrize(("args", "expected"), [
    (["--processes", "1"], "at least 2 processes"),
    (["--slowdown", "-0.5"], "--slowdown must be a fraction"),
])
def test_selftest_refuses_what_it_cannot_measure(args: list[str], expected: str,
                                                 results_dir: Path) -> None:
    assert_usage_error(run_cli("selftest", "--results", results_dir, *args), expected)
    assert not results_dir.exists()


def test_processes_needed_grow_with_the_spread() -> None:
    assert processes_needed(0.01, 0.25, 0.10) == 2
    few, many = processes_needed(0.10, 0.25, 0.10), processes_needed(0.20, 0.25, 0.10)
    assert few is not None and many is not None and few < many
    assert processes_needed(2.0, 0.25, 0.10) is None  # nothing this noisy is detectable
