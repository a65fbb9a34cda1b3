"""The tables behind the figures: pure functions of the results table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from harness.errors import UsageError
from harness.report import tables
from harness.results.runs import group_label, groups, in_group, load_runs, order_cases
from tests.fake_runs import BATCH, ERROR_CASE, TIMEOUT_CASE, case_id


@pytest.fixture
def runs(fake_run):
    return load_runs([fake_run("run-a", seed=1)])


@pytest.fixture
def two_scenarios(fake_run):
    """Every case measured twice: pipelined (throughput) and one step at a time (latency)."""
    return load_runs([fake_run("run-s", seed=1, scenarios=("latency", "throughput"))])


def test_summary_marks_exactly_one_best_per_row_among_finished_cases(runs):
    summary = tables.summary_table(runs.results)
    best = summary[summary["best"]]
    rows = summary.groupby(["run_id", "suite", "size", "phase", "scenario", "batch_size"])
    assert len(best) == rows.ngroups
    assert (best["status"] == "ok").all()
    for _, row in rows:
        finished = row[row["status"] == "ok"]
        assert row.loc[row["best"], "throughput_sps"].item() == finished["throughput_sps"].max()
    # ort-cpu-int8 is the fastest backend in the fixture wherever it ran (inference).
    assert set(best.loc[best["phase"] == "infer", "backend"]) == {"ort-cpu-int8"}


def test_summary_keeps_failed_cases_with_their_reason(runs):
    summary = tables.summary_table(runs.results).set_index("case_id")
    assert summary.loc[ERROR_CASE, "status"] == "error"
    assert "compile failed" in summary.loc[ERROR_CASE, "reason"]
    assert summary.loc[TIMEOUT_CASE, "status"] == "timeout"
    assert not summary.loc[ERROR_CASE, "best"]


def test_box_stats_on_known_values():
    values = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 100.0])
    stats = tables.box_stats(values)
    assert (stats["n"], stats["median_ms"], stats["q1_ms"], stats["q3_ms"]) == (9, 5.0, 3.0, 7.0)
    # 100 lies beyond q3 + 1.5 IQR = 13: the whisker stops at 8, the maximum stays 100.
    assert (stats["upper_whisker_ms"], stats["max_ms"]) == (8.0, 100.0)
    assert stats["lower_whisker_ms"] == 1.0


def test_latency_table_has_one_row_per_finished_case_from_raw_samples(runs):
    latency = tables.latency_table(runs.results, runs.samples)
    finished = runs.results[runs.results["status"] == "ok"]
    assert len(latency) == len(finished)
    assert (latency["n"] == 80).all()  # iter_ms only, not the train_loss curve
    merged = latency.merge(finished[["case_id", "median_ms"]], on="case_id",
                           suffixes=("", "_table"))
    np.testing.assert_allclose(merged["median_ms"], merged["median_ms_table"])


def test_speedup_is_relative_to_the_baseline_on_the_same_row(runs):
    speedup = tables.speedup_table(runs.results, "cpu-eager")
    eager = speedup[speedup["backend"] == "cpu-eager"]
    np.testing.assert_allclose(eager["speedup"], 1.0)
    compiled = speedup[(speedup["backend"] == "cpu-compile") & speedup["speedup"].notna()]
    np.testing.assert_allclose(compiled["speedup"], 1 / 0.6, rtol=0.05)  # fixture factor 0.6


def test_speedup_is_missing_where_the_baseline_did_not_finish(runs):
    speedup = tables.speedup_table(runs.results, "cpu-compile")
    row = speedup[(speedup["suite"] == "transformer") & (speedup["size"] == "small")
                  & (speedup["phase"] == "train")]
    assert len(row) == 1 and row["backend"].item() == "cpu-eager"  # compile errored there
    assert np.isnan(row["speedup"].item())


def test_tradeoff_reports_accuracy_change_in_points(runs):
    tradeoff = tables.tradeoff_table(runs.results, "cpu-eager")
    int8 = tradeoff[tradeoff["backend"] == "ort-cpu-int8"]
    np.testing.assert_allclose(int8["accuracy_delta_pp"], -4.0)  # 0.91 vs 0.95
    assert (int8["speedup"] > 2).all()


def test_cold_start_total_adds_export_session_and_first_call(runs):
    cold = tables.cold_start_table(runs.results).set_index("case_id")
    int8 = case_id("cnn", "tiny", "ort-cpu-int8", "infer")
    assert cold.loc[int8, "cold_total_s"] == pytest.approx(1.5 + 0.3 + 0.05)
    # the compiling call and the first call after it are separate stages, both counted
    assert cold.loc[case_id("cnn", "tiny", "cpu-compile", "infer"), "cold_total_s"] == 12.0


def test_memory_prefers_nvml_and_falls_back_to_the_allocator():
    results = pd.DataFrame({"run_id": ["r"] * 2, "case_id": ["a", "b"], "suite": ["s"] * 2,
                            "size": ["z"] * 2,
                            "backend": ["cuda-eager", "ort-cuda"], "phase": ["infer"] * 2,
                            "scenario": ["latency"] * 2, "batch_size": [1, 1],
                            "hardware": [""] * 2, "status": ["ok", "ok"],
                            "peak_rss_mb": [1.0, 1.0], "rss_increase_mb": [0.5, 0.5],
                            "cuda_peak_allocated_mb": [90.0, np.nan],
                            "cuda_peak_reserved_mb": [100.0, np.nan],
                            "device_mem_used_mb": [np.nan, 300.0]})
    assert tables.memory_table(results)["device_mb"].tolist() == [100.0, 300.0]


def test_failures_table_lists_every_unfinished_case(runs):
    failures = tables.failures_table(runs.results)
    assert set(failures["status"]) == {"error", "timeout", "skipped"}
    assert len(failures) == 6 + 2  # ORT skips training for 6 models; one error, one timeout
    assert (failures["reason"].str.len() > 0).all()


def test_environment_table_flags_fields_that_differ(fake_run):
    both = load_runs([fake_run("a"), fake_run("b", environment={"torch_version": "2.5.0"})])
    env = tables.environment_table(both.manifests).set_index("field")
    assert env.loc["torch_version", "differs"]
    assert not env.loc["hostname", "differs"]
    assert env.loc["config.batch_sizes", "a"] == "[16]"
    assert (env.loc["torch_version", "a"], env.loc["torch_version", "b"]) == ("2.4.0", "2.5.0")


def test_cases_sort_by_model_size_then_backend_order(runs):
    shuffled = runs.results.sample(frac=1.0, random_state=0)
    ordered = order_cases(shuffled, runs.run_ids)
    cnn_infer = ordered[(ordered["suite"] == "cnn") & (ordered["phase"] == "infer")]
    assert cnn_infer["size"].tolist()[:3] == ["tiny"] * 3
    assert cnn_infer["backend"].tolist()[:3] == ["cpu-eager", "cpu-compile", "ort-cpu-int8"]
    assert ordered["suite"].drop_duplicates().tolist() == list(
        shuffled["suite"].drop_duplicates())


def test_a_run_given_twice_is_refused(fake_run):
    run = fake_run("a")
    with pytest.raises(UsageError, match="given twice"):
        load_runs([run, run])


def test_each_scenario_of_a_case_is_a_figure_group_of_its_own(two_scenarios):
    """A throughput number and a latency number of one model answer different questions: the
    selector offers them apart, labelled with the scenario, pipelined first."""
    results = two_scenarios.results
    found = groups(results)
    assert found == [("infer", "throughput", BATCH), ("infer", "latency", BATCH),
                     ("train", "throughput", BATCH), ("train", "latency", BATCH)]
    assert [group_label(group) for group in found[:2]] == [
        f"infer, throughput, batch size {BATCH}", f"infer, latency, batch size {BATCH}"]
    for phase, scenario, batch in found:
        rows = in_group(results, (phase, scenario, batch))
        assert len(rows) == 3 * 2 * 3  # suites x sizes x backends
        assert set(rows["scenario"]) == {scenario} and set(rows["phase"]) == {phase}


def test_best_and_speedup_compare_backends_within_one_scenario(two_scenarios):
    """Throughput cases run twice as fast as latency ones in the fixture: were the scenarios
    one row, every best would be a throughput case and every speedup off by two."""
    summary = tables.summary_table(two_scenarios.results)
    best = summary[summary["best"]]
    assert best.groupby("scenario").size().to_dict() == {"latency": 12, "throughput": 12}
    speedup = tables.speedup_table(two_scenarios.results, "cpu-eager")
    assert len(speedup) == (two_scenarios.results["status"] == "ok").sum()  # no row doubled
    np.testing.assert_allclose(speedup.loc[speedup["backend"] == "cpu-eager", "speedup"], 1.0)


def test_backends_that_ran_nowhere_are_lines_grouped_by_reason_not_columns():
    from harness.results.schema import to_frame

    cuda, base = "no CUDA device visible to torch", {"run_id": "r", "suite": "cnn",
                                                     "phase": "infer", "scenario": "throughput",
                                                     "batch_size": 32}
    rows = [{**base, "size": size, "backend": backend, "case_id": f"{backend}-{size}",
             "status": status, "reason": reason}
            for size in ("tiny", "small")
            for backend, status, reason in (
                ("cpu-eager", "ok", ""), ("ort-cpu", "error", "boom"),
                ("cuda-eager", "skipped", cuda), ("cuda-compile", "skipped", cuda),
                ("ov-cpu", "skipped", "left out of default sweeps"))]
    rows.append({**base, "size": "tiny", "backend": "cpu-amp-bf16", "case_id": "bf16",
                 "status": "skipped", "reason": "emulated"})
    rows.append({**base, "size": "small", "backend": "cpu-amp-bf16", "case_id": "bf16-s",
                 "status": "ok"})  # skipped once but ran once: a column
    never = tables.never_ran(tables.summary_table(to_frame(rows)))
    assert never["backends"].tolist() == [["cuda-eager", "cuda-compile"], ["ov-cpu"]]
    assert never["cases"].tolist() == [4, 2]
    assert never["reason"].tolist() == [cuda, "left out of default sweeps"]
