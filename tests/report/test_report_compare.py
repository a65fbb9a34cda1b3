"""Run comparison: the statistics as pure functions on crafted samples, then whole runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fake_runs import BATCH, case_id

from harness.errors import UsageError
from harness.report import compare_runs
from harness.report.compare import compare_samples, environment_warnings, verdict

RNG = np.random.default_rng(1234)


def lognormal(median: float, sigma: float, n: int) -> np.ndarray:
    return median * RNG.lognormal(0.0, sigma, n)


# --- pure statistics ---------------------------------------------------------------------------


def test_identical_samples_are_the_same():
    samples = lognormal(10.0, 0.05, 60)
    result = compare_samples(samples, samples.copy(), threshold=0.10)
    assert result.verdict == "same"
    assert result.ratio == 1.0
    assert result.p_value == pytest.approx(1.0)
    assert result.ci_low <= 1.0 <= result.ci_high


def test_clearly_slower_is_slower_with_an_interval_around_the_ratio():
    result = compare_samples(lognormal(10.0, 0.03, 80), lognormal(15.0, 0.03, 80), 0.10)
    assert result.verdict == "slower"
    assert result.ratio == pytest.approx(1.5, rel=0.03)
    assert 1.0 < result.ci_low <= result.ratio <= result.ci_high
    assert result.p_value < 1e-10


def test_clearly_faster_is_faster():
    result = compare_samples(lognormal(10.0, 0.03, 80), lognormal(7.0, 0.03, 80), 0.10)
    assert result.verdict == "faster"
    assert result.ci_high < 1.0


def test_noisy_with_a_large_shift_but_few_samples_is_same():
    # +20% in the median, but with sigma 0.6 and 6 samples each no test can tell.
    rng = np.random.default_rng(7)
    base, new = 10.0 * rng.lognormal(0, 0.6, 6), 12.0 * rng.lognormal(0, 0.6, 6)
    result = compare_samples(base, new, 0.10)
    assert result.p_value > 0.01
    assert result.verdict == "same"


def test_significant_but_below_threshold_is_same():
    # A real 4% shift measured very precisely: significant, but not worth failing CI over.
    result = compare_samples(lognormal(10.0, 0.005, 500), lognormal(10.4, 0.005, 500), 0.10)
    assert result.p_value < 1e-10
    assert result.verdict == "same"
    # ... and the threshold is configurable: at 2% the same data is a regression.
    assert compare_samples(lognormal(10.0, 0.005, 500), lognormal(10.4, 0.005, 500),
                           0.02).verdict == "slower"


@pytest.mark.parametrize(("ratio", "p_value", "threshold", "expected"), [
    (1.20, 1e-6, 0.10, "slower"),
    (0.80, 1e-6, 0.10, "faster"),
    (1.20, 0.05, 0.10, "same"),       # not significant at 1%
    (1.05, 1e-9, 0.10, "same"),       # significant but small
    (1.20, 1e-9, 0.25, "same"),       # below a larger threshold
    (1.20, float("nan"), 0.10, "same"),  # no test possible
])
def test_verdict_needs_both_significance_and_size(ratio, p_value, threshold, expected):
    assert verdict(ratio, p_value, threshold) == expected


def test_environment_warnings_name_what_differs():
    env = {"hostname": "a", "cpu_model": "X", "gpu_name": "", "torch_version": "2.4.0",
           "onnxruntime_version": "1.18.0", "python_version": "3.11.9"}
    assert environment_warnings(env, dict(env)) == []
    machine = environment_warnings(env, {**env, "hostname": "b"})
    assert len(machine) == 1 and "machines" in machine[0] and "hostname 'a' vs 'b'" in machine[0]
    libraries = environment_warnings(env, {**env, "torch_version": "2.5.0"})
    assert len(libraries) == 1 and "library versions" in libraries[0]
    assert "torch_version '2.4.0' vs '2.5.0'" in libraries[0]


# --- whole runs ---------------------------------------------------------------------------------


def test_same_runs_compare_as_same_and_exit_zero(fake_run):
    base, new = fake_run("base", seed=1), fake_run("new", seed=2)
    comparison = compare_runs(base, new)
    judged = comparison.table[comparison.table["verdict"].notna()]
    assert len(judged) > 20
    assert set(judged["verdict"]) == {"same"}
    assert not comparison.has_regression
    assert comparison.exit_code == 0
    assert comparison.warnings == []


def test_a_slower_case_is_a_regression_and_exits_one(fake_run):
    slow = case_id("cnn", "small", "cpu-eager", "infer")
    fast = case_id("rnn", "tiny", "cpu-compile", "train")
    comparison = compare_runs(fake_run("base", seed=1),
                              fake_run("new", seed=2, slowdown={slow: 1.5, fast: 0.7}))
    verdicts = comparison.table.set_index(["suite", "size", "backend", "phase"])["verdict"]
    assert verdicts[("cnn", "small", "cpu-eager", "infer")] == "slower"
    assert verdicts[("rnn", "tiny", "cpu-compile", "train")] == "faster"
    assert (verdicts == "slower").sum() == 1
    assert comparison.has_regression and comparison.exit_code == 1
    text = comparison.format_text()
    assert "cnn · small · cpu-eager · infer" in text
    assert "1 slower, 1 faster" in text and "exit 1" in text


def test_only_faster_is_not_a_regression(fake_run):
    fast = case_id("cnn", "small", "cpu-eager", "infer")
    comparison = compare_runs(fake_run("base", seed=1),
                              fake_run("new", seed=2, slowdown={fast: 0.5}))
    assert (comparison.table["verdict"] == "faster").sum() == 1
    assert comparison.exit_code == 0


def test_cases_in_one_run_only_are_listed(fake_run):
    gone = case_id("cnn", "tiny", "cpu-eager", "infer")
    added = case_id("rnn", "small", "ort-cpu-int8", "infer")
    comparison = compare_runs(fake_run("base", seed=1, drop={added}),
                              fake_run("new", seed=2, drop={gone}))
    assert list(comparison.only_in_base["case_id"]) == [gone]
    assert list(comparison.only_in_new["case_id"]) == [added]
    keys = set(zip(comparison.table["suite"], comparison.table["size"],
                   comparison.table["backend"], comparison.table["phase"], strict=True))
    assert ("cnn", "tiny", "cpu-eager", "infer") not in keys
    text = comparison.format_text()
    assert "Only in base (1)" in text and "Only in new (1)" in text
    assert "cnn · tiny · cpu-eager · infer" in text


def test_cases_not_ok_are_listed_with_status_and_no_verdict(fake_run):
    comparison = compare_runs(fake_run("base", seed=1), fake_run("new", seed=2))
    table = comparison.table.set_index(["suite", "size", "backend", "phase", "batch_size"])
    error = table.loc[("transformer", "small", "cpu-compile", "train", BATCH)]
    assert (error["base_status"], error["new_status"]) == ("error", "error")
    assert pd.isna(error["verdict"]) and pd.isna(error["ratio"])
    assert "compile failed" in error["note"]
    skipped = table.loc[("cnn", "tiny", "ort-cpu-int8", "train", BATCH)]
    assert skipped["base_status"] == "skipped" and pd.isna(skipped["verdict"])
    assert "transformer · small · cpu-compile · train · bs 16: base error, new error" in (
        comparison.format_text())


def test_a_case_that_stopped_finishing_is_listed_not_judged(fake_run):
    broken = case_id("cnn", "tiny", "cpu-eager", "infer")
    comparison = compare_runs(fake_run("base", seed=1),
                              fake_run("new", seed=2, errors={broken: "CUDA out of memory"}))
    row = comparison.table.set_index(["suite", "size", "backend", "phase"]).loc[
        ("cnn", "tiny", "cpu-eager", "infer")]
    assert (row["base_status"], row["new_status"]) == ("ok", "error")
    assert pd.isna(row["verdict"]) and row["note"] == "new: CUDA out of memory"
    assert comparison.exit_code == 0


def test_different_machine_warns_and_strict_refuses(fake_run):
    base = fake_run("base", seed=1)
    new = fake_run("new", seed=2, environment={"hostname": "bench-2", "torch_version": "2.5.0"})
    comparison = compare_runs(base, new)
    assert len(comparison.warnings) == 2
    assert any("hostname 'bench-1' vs 'bench-2'" in w for w in comparison.warnings)
    assert "warning: the runs come from different machines" in comparison.format_text()
    with pytest.raises(UsageError, match="refusing to compare.*hostname"):
        compare_runs(base, new, strict=True)


def test_strict_accepts_runs_from_the_same_environment(fake_run):
    comparison = compare_runs(fake_run("base", seed=1), fake_run("new", seed=2), strict=True)
    assert comparison.exit_code == 0


def test_threshold_must_be_a_fraction(fake_run):
    base, new = fake_run("base", seed=1), fake_run("new", seed=2)
    with pytest.raises(UsageError, match="threshold"):
        compare_runs(base, new, threshold=10)
