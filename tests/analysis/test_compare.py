"""Run comparison: the statistics as pure functions on crafted samples, their error rates by
seeded simulation, frames with a ``process`` column built here, then whole (fake) runs.

The fake runs of `fake_runs` time each case in one process, so they are compared by today's
iteration method and carry the one-process warning; the tests of several processes build their
runs here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest

from harness.analysis.compare import (
    ALPHA,
    ITERATIONS_ALPHA,
    adjust_family_wise,
    compare,
    compare_medians,
    compare_processes,
    compare_runs,
    compare_samples,
    verdict,
)
from harness.errors import UsageError
from harness.results.runs import RunSet
from tests.fake_runs import BACKENDS, BATCH, SUITES, case_id

RNG = np.random.default_rng(1234)
#: How the comparison's warning about one-process cases starts to read.
ONE_PROCESS = "timed in one process in a run"


def lognormal(median: float, sigma: float, n: int) -> np.ndarray:
    return median * RNG.lognormal(0.0, sigma, n)


# --- pure statistics ---------------------------------------------------------------------------


def test_identical_samples_are_the_same():
    samples = lognormal(10.0, 0.05, 60)
    result = compare_samples(samples, samples.copy(), threshold=0.10)
    assert result.verdict == "same" and result.method == "iterations"
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
    (1.20, 0.05, 0.10, "same"),       # p must be below alpha (5%), not at it
    (1.05, 1e-9, 0.10, "same"),       # significant but small
    (1.20, 1e-9, 0.25, "same"),       # below a larger threshold
    (1.20, float("nan"), 0.10, "same"),  # no test possible
])
def test_verdict_needs_both_significance_and_size(ratio, p_value, threshold, expected):
    assert verdict(ratio, p_value, threshold) == expected


def test_process_tests_use_alpha_and_the_iteration_method_keeps_its_own():
    assert (ALPHA, ITERATIONS_ALPHA) == (0.05, 0.01)
    assert verdict(1.20, 0.03, 0.10) == "slower"
    assert verdict(1.20, 0.03, 0.10, alpha=ITERATIONS_ALPHA) == "same"


# --- between processes: method, pairing, and error rates by simulation -------------------------


def process_medians(rng: np.random.Generator, trials: int, processes: int, cv: float,
                    shift: float = 1.0, shared: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Base and new process medians of `trials` comparisons (rows): log-normal with CV `cv`, of
    whose variance the share `shared` is a drift of round r common to base and new process r;
    new is `shift` times slower."""
    drift = rng.normal(0.0, cv * np.sqrt(shared), (trials, processes))
    own = cv * np.sqrt(1 - shared)
    base = 10.0 * np.exp(drift + rng.normal(0.0, own, (trials, processes)))
    new = 10.0 * shift * np.exp(drift + rng.normal(0.0, own, (trials, processes)))
    return base, new


def called(base: np.ndarray, new: np.ndarray, threshold: float = 0.10, paired: bool = False,
           verdicts: tuple[str, ...] = ("slower", "faster")) -> float:
    """Share of the comparisons whose verdict is one of `verdicts`."""
    return float(np.mean([compare_medians(b, n, threshold, paired=paired).verdict in verdicts
                          for b, n in zip(base, new, strict=True)]))


@pytest.mark.parametrize(("cv", "threshold", "at_most"), [
    (0.05, 0.10, 0.02),   # the threshold does most of the work: 0.5% simulated (docstring)
    (0.08, 0.10, ALPHA),  # 2.2% simulated
    (0.08, 0.0, ALPHA),   # alpha alone bounds the false alarms: 3.6% simulated
])
def test_identical_runs_rarely_differ(cv, threshold, at_most):
    """A/A, 3 processes a side, 4000 comparisons (standard error of a 4% rate: 0.3%)."""
    base, new = process_medians(np.random.default_rng(int(cv * 100) + 7), 4000, 3, cv)
    assert called(base, new, threshold) <= at_most


def test_a_quarter_slower_is_called_slower_nine_times_in_ten():
    """P = 3, CV 5%: 93.6% simulated over 20,000 comparisons; 2000 here (standard error 0.6%)."""
    base, new = process_medians(np.random.default_rng(25), 2000, 3, 0.05, shift=1.25)
    assert called(base, new, verdicts=("slower",)) >= 0.90


def test_pairing_by_round_finds_what_welch_misses_under_a_shared_drift():
    """Three quarters of an 8% CV is a drift of the round, shared by base and new: it cancels
    in the paired differences (90% called, docstring) but widens Welch's test (71%)."""
    base, new = process_medians(np.random.default_rng(8), 1000, 3, 0.08, shift=1.25,
                                shared=0.75)
    paired, welch = (called(base, new, paired=p, verdicts=("slower",)) for p in (True, False))
    assert paired >= welch + 0.10, (paired, welch)
    base, new = process_medians(np.random.default_rng(9), 1000, 3, 0.08, shared=0.75)
    assert called(base, new, paired=True) <= ALPHA


def test_iterations_of_one_process_call_false_alarms_that_processes_do_not():
    """Why processes: with fresh processes 10% apart, iterations pooled as independent samples
    find a 'significant' change between identical runs in a large share of comparisons."""
    rng = np.random.default_rng(10)
    iteration_alarms = process_alarms = 0
    trials = 200
    for _ in range(trials):
        runs = [{r: m * np.exp(rng.normal(0.0, 0.02, 40)) for r, m in enumerate(row)}
                for row in 10.0 * np.exp(rng.normal(0.0, 0.10, (2, 3)))]
        pooled = [np.concatenate(list(run.values())) for run in runs]
        iteration_alarms += compare_samples(*pooled, 0.10).verdict != "same"
        process_alarms += compare_processes(*runs, 0.10)[0].verdict != "same"
    assert iteration_alarms / trials > 0.15  # 30% with this seed
    # at most alpha in expectation; 10%: a binomial(200, 5%) count exceeds 20 once in 1000
    assert process_alarms / trials <= 0.10


def test_compare_processes_chooses_its_method():
    rng = np.random.default_rng(4)

    def run(*medians: float) -> dict[int, np.ndarray]:
        return {r: m * np.exp(rng.normal(0.0, 0.01, 30)) for r, m in enumerate(medians)}

    three = run(10.0, 10.3, 9.8)
    welch, note = compare_processes(three, run(13.0, 13.3, 12.8), 0.10)
    assert (welch.method, welch.verdict, note) == ("welch", "slower", "")
    medians = [float(np.median(times)) for times in three.values()]
    assert welch.base_median == pytest.approx(float(np.exp(np.mean(np.log(medians)))))
    assert welch.ci_low < welch.ratio < welch.ci_high
    paired, note = compare_processes(three, run(13.0, 13.3, 12.8), 0.10, paired=True)
    assert (paired.method, note) == ("paired", "")
    one, note = compare_processes(run(10.0), three, 0.10)
    assert one.method == "iterations" and note.startswith("one process in base:")
    assert "false alarm" in note
    unmatched, note = compare_processes(three, run(13.0, 13.3), 0.10, paired=True)
    assert unmatched.method == "welch"
    assert note == "ab runs, but base timed processes [0, 1, 2] and new [0, 1]: unpaired"


def test_pairs_are_matched_by_process_index_not_by_order():
    # a large drift between rounds, and new 5% slower than base in every round
    base = {0: np.array([10.0]), 1: np.array([14.0]), 2: np.array([8.0])}
    new = {2: np.array([8.4]), 0: np.array([10.5]), 1: np.array([14.7])}
    paired, _ = compare_processes(base, new, 0.02, paired=True)
    assert paired.ratio == pytest.approx(1.05)
    assert paired.p_value < 1e-6 and paired.verdict == "slower"
    welch, _ = compare_processes(base, new, 0.02)
    assert welch.ratio == pytest.approx(1.05) and welch.verdict == "same"


# --- frames with a process column ----------------------------------------------------------------


def make_run(run_id: str, cases: Mapping[str, Sequence[np.ndarray]],
             manifest: Mapping[str, Any] | None = None, with_process: bool = True) -> RunSet:
    """A run whose case (named by its suite) was timed in one process per array given; without
    `with_process` its samples lack the column, as runs from before processes were kept."""
    results = pd.DataFrame([
        {"run_id": run_id, "case_id": case_id(name, "small", "cpu-eager", "infer"),
         "suite": name, "size": "small", "backend": "cpu-eager", "phase": "infer",
         "scenario": "latency", "batch_size": BATCH, "hardware": "", "status": "ok",
         "reason": ""}
        for name in cases])
    samples = pd.DataFrame([
        {"run_id": run_id, "case_id": case_id(name, "small", "cpu-eager", "infer"),
         "metric": "iter_ms", "process": process, "idx": idx, "value": value}
        for name, processes in cases.items() for process, times in enumerate(processes)
        for idx, value in enumerate(times)])
    if not with_process:
        samples = samples.drop(columns="process")
    return RunSet(results=results, samples=samples,
                  manifests={run_id: {"run_id": run_id, **(manifest or {})}})


def times(rng: np.random.Generator, *medians: float, n: int = 40) -> list[np.ndarray]:
    """Iteration times of one process per median given (2% noise within a process)."""
    return [m * np.exp(rng.normal(0.0, 0.02, n)) for m in medians]


def test_cases_timed_in_processes_are_compared_between_processes():
    rng = np.random.default_rng(5)
    base = make_run("base", {"cnn": times(rng, 10.0, 10.4, 9.7),
                             "rnn": times(rng, 5.0, 5.2, 4.9)})
    new = make_run("new", {"cnn": times(rng, 10.1, 10.3, 9.9),
                           "rnn": times(rng, 6.5, 6.7, 6.4)})
    comparison = compare(base, new)
    table = comparison.table
    assert list(table["suite"]) == ["rnn", "cnn"]  # slower first, as before
    assert list(table["verdict"]) == ["slower", "same"]
    assert set(table["method"]) == {"welch"} and set(table["note"]) == {""}
    assert (list(table["base_processes"]), list(table["new_processes"])) == ([3, 3], [3, 3])
    assert list(table["base_n"]) == [120, 120]
    rnn = table.iloc[0]
    assert rnn["ratio"] == pytest.approx(rnn["new_median_ms"] / rnn["base_median_ms"])
    assert rnn["ci_low"] < rnn["ratio"] < rnn["ci_high"] and rnn["p_value"] < ALPHA
    assert comparison.warnings == [] and comparison.exit_code == 1
    text = comparison.format_text()
    assert "Welch's t test on the log process medians" in text and " welch " in text


def test_samples_without_a_process_column_are_one_process_with_a_warning():
    rng = np.random.default_rng(6)
    base = make_run("base", {"cnn": times(rng, 10.0)}, with_process=False)
    new = make_run("new", {"cnn": times(rng, 10.0)}, with_process=False)
    comparison = compare(base, new, strict=True)  # too few processes is no reason to refuse
    row = comparison.table.iloc[0]
    assert (row["method"], row["base_processes"], row["new_processes"]) == ("iterations", 1, 1)
    assert row["note"].startswith("one process in base and new:")
    (warning,) = comparison.warnings
    assert warning.startswith(f"1 of 1 compared cases were {ONE_PROCESS}")
    assert f"warning: {warning}" in comparison.format_text()


def test_one_process_on_one_side_is_compared_by_iterations():
    rng = np.random.default_rng(7)
    comparison = compare(make_run("base", {"cnn": times(rng, 10.0)}),
                         make_run("new", {"cnn": times(rng, 10.0, 10.2, 9.9)}))
    row = comparison.table.iloc[0]
    assert (row["method"], row["base_processes"], row["new_processes"]) == ("iterations", 1, 3)
    assert row["note"].startswith("one process in base:")
    assert len(comparison.warnings) == 1


AB = {"base": {"ab": {"variant": "base", "pair": "new"}},
      "new": {"ab": {"variant": "new", "pair": "base"}}}


def test_the_two_runs_of_an_ab_experiment_are_paired_by_round():
    # rounds 0, 1, 2 ran at different speeds; new is 15% slower than base within each round
    rng = np.random.default_rng(8)
    rounds = (10.0, 13.0, 8.5)
    cases = {"base": {"cnn": times(rng, *rounds)},
             "new": {"cnn": times(rng, *(1.15 * r for r in rounds))}}
    paired = compare(*(make_run(name, cases[name], AB[name]) for name in ("base", "new")))
    assert paired.table.loc[0, ["method", "verdict"]].tolist() == ["paired", "slower"]
    unpaired = compare(*(make_run(name, cases[name]) for name in ("base", "new")))
    assert unpaired.table.loc[0, ["method", "verdict"]].tolist() == ["welch", "same"]
    # an ab manifest must name the other run: a third run is not the pair
    stranger = compare(make_run("base", cases["base"], AB["base"]),
                       make_run("other", cases["new"], AB["new"]))
    assert stranger.table.loc[0, "method"] == "welch"


def test_ab_runs_whose_processes_differ_are_compared_unpaired_with_a_note():
    rng = np.random.default_rng(9)
    comparison = compare(make_run("base", {"cnn": times(rng, 10.0, 13.0, 8.5)}, AB["base"]),
                         make_run("new", {"cnn": times(rng, 10.0, 13.0)}, AB["new"]))
    row = comparison.table.iloc[0]
    assert row["method"] == "welch"
    assert row["note"] == "ab runs, but base timed processes [0, 1, 2] and new [0, 1]: unpaired"


# --- whole runs ---------------------------------------------------------------------------------


def test_same_runs_compare_as_same_and_exit_zero(fake_run):
    base, new = fake_run("base", seed=1), fake_run("new", seed=2)
    comparison = compare_runs(base, new)
    judged = comparison.table[comparison.table["verdict"].notna()]
    assert len(judged) > 20
    assert set(judged["verdict"]) == {"same"}
    assert not comparison.has_regression
    assert comparison.exit_code == 0
    assert set(judged["method"]) == {"iterations"}  # the fake runs time cases in one process
    (warning,) = comparison.warnings  # ... which is the only warning: both ran alike
    assert warning.startswith(f"{len(judged)} of {len(judged)} compared cases were {ONE_PROCESS}")


def fact_warnings(warnings: list[str]) -> list[str]:
    """The warnings about how the runs measured, without the one about one-process cases."""
    return [w for w in warnings if ONE_PROCESS not in w]


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


BOTH_SCENARIOS = ("latency", "throughput")


def test_cases_are_matched_on_their_scenario(fake_run):
    """A throughput number is compared with the throughput number of the same case, never with
    its latency number: in the fake runs the two differ twofold, so a match across scenarios
    would call half the cases faster and half slower."""
    slow = case_id("cnn", "small", "cpu-eager", "infer", "throughput")
    comparison = compare_runs(fake_run("base", seed=1, scenarios=BOTH_SCENARIOS),
                              fake_run("new", seed=2, scenarios=BOTH_SCENARIOS,
                                       slowdown={slow: 1.5}))
    table = comparison.table
    assert len(table) == 2 * 36
    assert comparison.only_in_base.empty and comparison.only_in_new.empty
    verdicts = table.set_index(["suite", "size", "backend", "phase", "scenario"])["verdict"]
    assert verdicts[("cnn", "small", "cpu-eager", "infer", "throughput")] == "slower"
    assert verdicts[("cnn", "small", "cpu-eager", "infer", "latency")] == "same"
    assert (verdicts == "slower").sum() == 1 and (verdicts == "faster").sum() == 0
    judged = table.dropna(subset=["ratio"])
    assert judged["ratio"].between(0.8, 1.6).all()  # no latency/throughput pair (2x apart)
    assert "cnn · small · cpu-eager · infer · throughput · bs 16" in comparison.format_text()


def test_a_scenario_only_one_run_measured_is_listed_not_matched(fake_run):
    latency_only = fake_run("base", seed=1)
    both = fake_run("new", seed=2, scenarios=BOTH_SCENARIOS)
    added = compare_runs(latency_only, both)
    assert len(added.table) == 36 and set(added.table["scenario"]) == {"latency"}
    assert len(added.only_in_new) == 36 and set(added.only_in_new["scenario"]) == {"throughput"}
    assert added.newly_broken.empty and added.exit_code == 0
    # measured in base and no longer in new: those that finished are newly broken
    gone = compare_runs(both, latency_only)
    assert set(gone.only_in_base["scenario"]) == {"throughput"}
    assert set(gone.newly_broken["scenario"]) == {"throughput"}
    assert (gone.newly_broken["status"] == "missing").all() and gone.exit_code == 1


def test_a_run_from_before_scenarios_matches_nothing_and_says_why(fake_run):
    every_case = {cid: {"scenario": None} for cid in _every_case()}
    old, new = fake_run("old", seed=1, rows=every_case), fake_run("new", seed=2)
    comparison = compare_runs(old, new)
    assert comparison.table.empty and len(comparison.only_in_new) == 36
    assert comparison.exit_code == 1  # what finished in old is missing from new
    (warning,) = fact_warnings(comparison.warnings)
    assert warning.startswith("run 'old' records no scenario")
    assert f"warning: {warning}" in comparison.format_text()
    with pytest.raises(UsageError, match="refusing to compare.*records no scenario"):
        compare_runs(old, new, strict=True)
    # two such runs match each other as before: neither recorded one
    both_old = compare_runs(old, fake_run("older", seed=3, rows=every_case))
    assert len(both_old.table) == 36 and not fact_warnings(both_old.warnings)
    assert both_old.exit_code == 0


def test_cases_not_ok_are_listed_with_status_and_no_verdict(fake_run):
    comparison = compare_runs(fake_run("base", seed=1), fake_run("new", seed=2))
    table = comparison.table.set_index(["suite", "size", "backend", "phase", "batch_size"])
    error = table.loc[("transformer", "small", "cpu-compile", "train", BATCH)]
    assert (error["base_status"], error["new_status"]) == ("error", "error")
    assert pd.isna(error["verdict"]) and pd.isna(error["ratio"])
    assert "compile failed" in error["note"]
    skipped = table.loc[("cnn", "tiny", "ort-cpu-int8", "train", BATCH)]
    assert skipped["base_status"] == "skipped" and pd.isna(skipped["verdict"])
    assert "transformer · small · cpu-compile · train · latency · bs 16: base error, new error" in (
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
    assert "cnn · tiny · cpu-eager · infer · latency · bs 16: error (CUDA out of memory)" in text
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
            "  cnn · tiny · cpu-compile · infer · latency · bs 16: skipped (no CUDA device "
            "visible to torch)") in comparison.format_text()


def test_different_machine_warns_and_strict_refuses(fake_run):
    base = fake_run("base", seed=1)
    new = fake_run("new", seed=2, environment={"hostname": "bench-2", "torch_version": "2.5.0"})
    comparison = compare_runs(base, new)
    assert len(fact_warnings(comparison.warnings)) == 2
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
    assert len([w for w in fact_warnings(warnings) if "contradicts itself" not in w]) == 1
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


# --- many cases at once: family_wise --------------------------------------------------------------


def test_family_wise_keeps_a_gate_over_many_cases_from_crying_wolf():
    """36 cases, 7 processes a side, CV 12%, 300 identical runs: the per-case rule fails most
    runs somewhere (each case's ~1% adds up), the adjusted one at most alpha of them."""
    rng = np.random.default_rng(36)
    per_case = family = 0
    runs = 300
    for _ in range(runs):
        base, new = process_medians(rng, 36, 7, 0.12)
        table = pd.DataFrame([{"ratio": r.ratio, "p_value": r.p_value, "verdict": r.verdict,
                               "method": r.method, "p_adjusted": np.nan}
                              for r in map(compare_medians, base, new, [0.10] * 36)])
        per_case += (table["verdict"] != "same").any()
        family += (adjust_family_wise(table, 0.10)["verdict"] != "same").any()
    assert per_case / runs > 0.10  # 14% with this seed
    assert family / runs <= ALPHA


def test_family_wise_still_calls_a_clear_slowdown_among_many_cases():
    rng = np.random.default_rng(37)
    base, new = process_medians(rng, 36, 7, 0.05)
    new[5] *= 1.3
    rows = [compare_medians(b, n, 0.10) for b, n in zip(base, new, strict=True)]
    table = adjust_family_wise(pd.DataFrame(
        [{"ratio": r.ratio, "p_value": r.p_value, "verdict": r.verdict, "method": r.method,
          "p_adjusted": np.nan} for r in rows]), 0.10)
    assert list(table.index[table["verdict"] != "same"]) == [5]
    assert table.loc[5, "verdict"] == "slower"
    assert (table["p_adjusted"] >= table["p_value"]).all()


def test_only_changes_lists_the_changed_cases_and_counts_the_rest(fake_run):
    slow = case_id("cnn", "small", "cpu-eager", "infer")
    comparison = compare_runs(fake_run("base", seed=1),
                              fake_run("new", seed=2, slowdown={slow: 1.5}), family_wise=True)
    text = comparison.format_text(only_changes=True)
    assert "cnn · small · cpu-eager · infer" in text and "p (BH)" in text
    assert "rnn · tiny · cpu-eager" not in text
    judged = int(comparison.table["verdict"].notna().sum())
    assert f"{judged - 1} compared cases unchanged (not listed)" in text
    assert "Benjamini-Hochberg" in text


def test_runs_with_a_precision_budget_are_tested_at_their_first_stages_degrees_of_freedom():
    """The rows' ci_first_stage reaches the test: the same medians, planned from three
    processes a side, give a larger p-value than as a fixed count of eight."""
    rng = np.random.default_rng(7)
    medians = ([10.0, 10.6, 9.5, 10.2, 9.9, 10.4, 9.7, 10.1],
               [10.9, 11.5, 10.4, 11.1, 10.8, 11.3, 10.6, 11.0])
    fixed = [make_run(run_id, {"cnn": times(rng, *side)})
             for run_id, side in zip(("base", "new"), medians, strict=True)]
    planned = [RunSet(results=run.results.assign(ci_first_stage=3), samples=run.samples,
                      manifests=run.manifests) for run in fixed]
    p_fixed = compare(*fixed).table.iloc[0]["p_value"]
    p_planned = compare(*planned).table.iloc[0]["p_value"]
    assert p_planned > 2 * p_fixed
