"""A case's row from its processes: facts from the first, the number from all of them."""

from __future__ import annotations

import math

import pytest

from harness.measure.stats import process_level
from harness.results.case_result import CaseResult, ProcessResult

IDENTITY = {"run_id": "r", "case_id": "cnn-tiny-cpu-eager-infer-latency-bs8", "suite": "cnn",
            "size": "tiny", "backend": "cpu-eager", "phase": "infer", "scenario": "latency",
            "batch_size": 8}


def process(index: int, median: float, status: str = "ok", **row: object) -> ProcessResult:
    """A process whose iterations are median ± 1%, with per-process row fields."""
    iters = [median * f for f in (0.99, 1.0, 1.0, 1.01)]
    base = {"median_ms": median, "timed_s": 0.5, "warmup_s": 0.1, "warmup_iters": 5,
            "stop_reason": "converged", "peak_rss_mb": 100.0 + index,
            "other_cpu_pct": 1.0 + index, "steal_pct": 0.0, "load_avg_1m": 0.5}
    return ProcessResult(index, status, "" if status == "ok" else "boom", 2.0,
                         {**base, **row} if status == "ok" else {},
                         {"iter_ms": iters} if status == "ok" else {})


def test_the_number_comes_from_the_process_medians() -> None:
    result = CaseResult(IDENTITY, 3, [process(0, 1.0, accuracy=0.9, params=10),
                                      process(1, 1.3), process(2, 1.15)])
    row = result.row()
    level = process_level([1.0, 1.3, 1.15])
    assert row["median_ms"] == pytest.approx(level.center)
    assert (row["ci_low_ms"], row["ci_high_ms"]) == pytest.approx((level.ci_low, level.ci_high))
    assert row["ci_level"] == 0.95 and row["processes"] == 3
    assert row["between_cv"] == pytest.approx(level.between_cv)
    assert row["throughput_sps"] == pytest.approx(8 / (level.center / 1e3))
    assert row["n"] == 12 and row["min_ms"] == pytest.approx(0.99)  # pooled iterations
    assert row["noisy"] is True  # processes 1.0 to 1.3 apart: between_cv > 10%
    assert row["accuracy"] == 0.9 and row["params"] == 10  # the first process's facts
    assert row["timed_s"] == pytest.approx(1.5) and row["wall_s"] == pytest.approx(6.0)
    assert row["peak_rss_mb"] == 102.0 and row["other_cpu_pct"] == 3.0  # the worst process
    assert row["stop_reason"] == "converged, converged, converged"
    assert row["status"] == "ok" and row["reason"] == ""
    assert "fresh processes differ" in row["contention_note"]


def test_one_process_keeps_the_single_process_row() -> None:
    result = CaseResult(IDENTITY, 1, [process(0, 1.0)])
    row = result.row()
    assert row["median_ms"] == pytest.approx(1.0) and row["processes"] == 1
    assert row["ci_level"] == 0.99 and math.isnan(row["between_cv"])
    assert result.finished and result.next_process() is None


def test_processes_run_in_order_until_planned_or_failed() -> None:
    result = CaseResult(IDENTITY, 3, [process(0, 1.0)])
    assert not result.finished and result.next_process() == 1
    result.processes.append(process(1, 1.0, status="crashed"))
    assert result.finished and result.next_process() is None
    row = result.row()
    assert row["status"] == "crashed" and row["reason"] == "process 2 of 3: boom"
    assert row["median_ms"] == pytest.approx(1.0) and row["processes"] == 1  # kept


def test_a_failed_first_process_is_the_row() -> None:
    result = CaseResult(IDENTITY, 3, [process(0, 1.0, status="error")])
    row = result.row()
    assert result.finished
    assert row["status"] == "error" and row["reason"] == "boom" and "median_ms" not in row


def test_a_case_file_round_trips_every_process() -> None:
    result = CaseResult(IDENTITY, 3, [process(0, 1.0, accuracy=0.9), process(1, 1.2)])
    again = CaseResult.from_json(result.to_json(), IDENTITY)
    assert again.planned == 3 and [p.process for p in again.processes] == [0, 1]
    assert again.processes[1].samples == result.processes[1].samples
    assert again.row() == result.row()


def test_a_case_file_from_before_processes_is_one_process() -> None:
    record = {"row": {**IDENTITY, "status": "ok", "median_ms": 1.0, "wall_s": 3.0},
              "samples": {"iter_ms": [1.0, 1.0]}}
    result = CaseResult.from_json(record, IDENTITY)
    assert result.planned == 1 and result.finished
    assert result.processes[0].samples == {"iter_ms": [1.0, 1.0]}


def test_a_server_row_has_the_peak_with_its_interval_and_the_requests_distribution() -> None:
    """The number is 1000 / each process's peak; the peak's interval is its reciprocal's, and
    the distribution columns are of the requests served, not of the one value a process gave."""
    identity = {**IDENTITY, "scenario": "server", "batch_size": 32}
    peaks = [400.0, 500.0, 450.0]
    processes = [ProcessResult(i, "ok", "", 2.0, {"peak_qps": peak, "slo_ms": 20.0},
                               {"iter_ms": [1e3 / peak], "request_ms": [5.0, 6.0, 7.0, 30.0]})
                 for i, peak in enumerate(peaks)]
    row = CaseResult(identity, 3, processes).row()
    level = process_level([1e3 / peak for peak in peaks])
    assert row["median_ms"] == pytest.approx(level.center)
    assert row["peak_qps"] == pytest.approx(1e3 / level.center)
    assert row["throughput_sps"] == pytest.approx(row["peak_qps"])  # not 32 x it
    assert (row["peak_ci_low_qps"], row["peak_ci_high_qps"]) == pytest.approx(
        (1e3 / level.ci_high, 1e3 / level.ci_low))
    assert row["peak_ci_low_qps"] < row["peak_qps"] < row["peak_ci_high_qps"]
    assert row["n"] == 12 and row["max_ms"] == 30.0 and row["min_ms"] == 5.0


def test_energy_per_sample_has_a_between_process_interval_like_time() -> None:
    joules = [0.020, 0.024, 0.022]
    result = CaseResult(IDENTITY, 3, [
        process(i, 1.0, energy_j_per_sample=j, energy_net_j_per_sample=j - 0.01,
                idle_w=10.0 + i, avg_w=30.0, energy_source="rapl: package-0+dram")
        for i, j in enumerate(joules)])
    row = result.row()
    level = process_level(joules)
    assert row["energy_j_per_sample"] == pytest.approx(level.center)
    assert (row["energy_ci_low_j_per_sample"], row["energy_ci_high_j_per_sample"]) == \
        pytest.approx((level.ci_low, level.ci_high))
    assert row["energy_net_j_per_sample"] == pytest.approx(0.012)  # median, may be near 0
    assert row["idle_w"] == 11.0 and row["energy_source"] == "rapl: package-0+dram"


def test_a_run_given_a_price_gets_the_cost_of_a_million_samples() -> None:
    row = CaseResult({**IDENTITY, "usd_per_hour": 3.6}, 1, [process(0, 1.0)]).row()
    assert row["usd_per_million_samples"] == pytest.approx(3.6 / 3600 * 1e6 / row[
        "throughput_sps"])
    assert CaseResult(IDENTITY, 1, [process(0, 1.0)]).row()["usd_per_million_samples"] is None


def test_what_a_fresh_process_pays_to_load_is_the_median_over_the_processes() -> None:
    """The first process may have built the artifact just before loading it: its load is one
    reading of three, not the case's."""
    result = CaseResult(IDENTITY, 3, [process(0, 1.0, load_s=0.01, first_call_s=0.2),
                                      process(1, 1.0, load_s=2.0, first_call_s=0.3),
                                      process(2, 1.0, load_s=2.2, first_call_s=0.1)])
    row = result.row()
    assert row["load_s"] == pytest.approx(2.0) and row["first_call_s"] == pytest.approx(0.2)
