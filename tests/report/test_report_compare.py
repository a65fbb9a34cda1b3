"""Run comparison: the statistics as pure functions on crafted samples, then whole runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fake_runs import BACKENDS, BATCH, SUITES, case_id

from harness.errors import UsageError
from harness.report import compare_runs
from harness.report.compare import compare_samples, verdict

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
    # the case that finished in base and is gone from new is newly broken: the gate fails
    assert comparison.newly_broken[["case_id", "status"]].values.tolist() == [[gone, "missing"]]
    assert "Newly broken (1)" in text and comparison.exit_code == 1


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
    comparison = compare_runs(fake_run("base", seed=1), fake_run(
        "new", seed=2, failures={broken: ("error", "CUDA out of memory")}))
    row = comparison.table.set_index(["suite", "size", "backend", "phase"]).loc[
        ("cnn", "tiny", "cpu-eager", "infer")]
    assert (row["base_status"], row["new_status"]) == ("ok", "error")
    assert pd.isna(row["verdict"]) and row["note"] == "new: CUDA out of memory"


def test_cases_that_broke_fail_the_comparison_unless_allowed(fake_run):
    broke = {case_id("cnn", "tiny", "cpu-eager", "infer"): ("error", "CUDA out of memory"),
             case_id("rnn", "tiny", "cpu-eager", "train"): ("crashed", "killed by SIGSEGV"),
             case_id("cnn", "small", "cpu-compile", "infer"): ("timeout", "exceeded 60 s")}
    base, new = fake_run("base", seed=1), fake_run("new", seed=2, failures=broke)
    comparison = compare_runs(base, new)
    assert not comparison.has_regression  # no timing got worse ...
    assert comparison.exit_code == 1  # ... and yet three cases stopped working
    found = comparison.newly_broken.set_index("case_id")
    assert {cid: (found.at[cid, "status"], found.at[cid, "reason"]) for cid in found.index} == (
        broke)
    text = comparison.format_text()
    assert "Newly broken (3): ok in base, not in new" in text
    assert "cnn · tiny · cpu-eager · infer · bs 16: error (CUDA out of memory)" in text
    assert "3 newly broken: newly broken cases (exit 1)" in text
    allowed = compare_runs(base, new, allow_broken=True)
    assert allowed.exit_code == 0 and len(allowed.newly_broken) == 3
    assert "3 newly broken (allowed): no regression (exit 0)" in allowed.format_text()


def test_cases_broken_in_both_runs_or_only_in_new_are_not_newly_broken(fake_run):
    # the fake runs' error and timeout cases fail in both; a case not ok in base may go away
    gone = case_id("rnn", "small", "cpu-compile", "infer")  # a timeout in base
    comparison = compare_runs(fake_run("base", seed=1), fake_run("new", seed=2, drop={gone}))
    assert comparison.newly_broken.empty and comparison.exit_code == 0


def test_a_case_now_skipped_is_listed_but_not_broken(fake_run):
    skipped = case_id("cnn", "tiny", "cpu-compile", "infer")
    comparison = compare_runs(fake_run("base", seed=1), fake_run(
        "new", seed=2, failures={skipped: ("skipped", "no CUDA device visible to torch")}))
    assert comparison.newly_broken.empty and comparison.exit_code == 0
    assert comparison.now_skipped["case_id"].tolist() == [skipped]
    assert ("Now skipped (1): ok in base, skipped in new (not counted as broken)\n"
            "  cnn · tiny · cpu-compile · infer · bs 16: skipped (no CUDA device visible to "
            "torch)") in comparison.format_text()


def test_different_machine_warns_and_strict_refuses(fake_run):
    base = fake_run("base", seed=1)
    new = fake_run("new", seed=2, environment={"hostname": "bench-2", "torch_version": "2.5.0"})
    comparison = compare_runs(base, new)
    assert len(comparison.warnings) == 2
    assert any("hostname 'bench-1' vs 'bench-2'" in w for w in comparison.warnings)
    assert "warning: the runs come from different machines" in comparison.format_text()
    with pytest.raises(UsageError, match="refusing to compare.*hostname"):
        compare_runs(base, new, strict=True)


def test_a_resumed_run_whose_rows_name_another_machine_warns_and_strict_refuses(fake_run):
    # same manifest as base; the cases of a resumed session carry that session's environment
    resumed = {case_id("cnn", size, "cpu-eager", phase): {"hostname": "bench-2", "cpu_cores": 4}
               for size in ("tiny", "small") for phase in ("infer", "train")}
    base, new = fake_run("base", seed=1), fake_run("new", seed=2, rows=resumed)
    warnings = compare_runs(base, new).warnings
    assert any(w.startswith("run 'new' contradicts itself: hostname 'bench-1' + 'bench-2'")
               for w in warnings)
    assert any("cpu_cores '8' vs '4' + '8'" in w for w in warnings)
    with pytest.raises(UsageError, match="refusing to compare.*contradicts itself"):
        compare_runs(base, new, strict=True)


@pytest.mark.parametrize(("new_kwargs", "expected"), [
    ({"config": {"quick": True}},
     "a quick run against a full run: config.quick 'False' vs 'True'"),
    ({"config": {"threads": 2}}, "different thread counts: config.threads '0' vs '2'"),
    ({"manifest": {"threads": 2}}, "different thread counts: threads '8' vs '2'"),
    ({"rows": {case_id("cnn", "tiny", "cpu-eager", "infer"): {"torch_threads": 1}}},
     "torch_threads '8' vs '1' + '8'"),
    ({"manifest": {"timing_policy": {"t_max": 0.3}}}, "timing_policy.t_max '5' vs '0.3'"),
    ({"manifest": {"source": "pytest-benchmark 4.0.0", "config": {}}},
     "an import against a sweep: kind 'sweep' vs 'imported'"),
])
def test_runs_that_measured_differently_warn_and_strict_refuses(fake_run, new_kwargs, expected):
    settings = {"config": {"quick": False, "threads": 0},
                "rows": {cid: {"torch_threads": 8} for cid in _every_case()},
                "manifest": {"timing_policy": {"t_max": 5.0}, "threads": 8}}
    new_settings = {key: {**value, **new_kwargs.get(key, {})} for key, value in settings.items()}
    base, new = fake_run("base", seed=1, **settings), fake_run("new", seed=2, **new_settings)
    warnings = compare_runs(base, new).warnings
    assert [w for w in warnings if expected in w], warnings
    assert len([w for w in warnings if "contradicts itself" not in w]) == 1
    with pytest.raises(UsageError, match="refusing to compare"):
        compare_runs(base, new, strict=True)


def _every_case() -> list[str]:
    return [case_id(suite, size, backend, phase) for suite, sizes in SUITES.items()
            for size in sizes for backend in BACKENDS for phase in ("infer", "train")]


def test_strict_accepts_runs_from_the_same_environment(fake_run):
    comparison = compare_runs(fake_run("base", seed=1), fake_run("new", seed=2), strict=True)
    assert comparison.exit_code == 0


def test_threshold_must_be_a_fraction(fake_run):
    base, new = fake_run("base", seed=1), fake_run("new", seed=2)
    with pytest.raises(UsageError, match="threshold"):
        compare_runs(base, new, threshold=10)
