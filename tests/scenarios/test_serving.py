"""The serving scenarios on a fake model whose step sleeps (releasing the GIL, as torch's
operators do) for a known time that grows with the batch: the search finds a peak that dynamic
batching lifts above what batch-1 steps can serve, and each scenario's number is what it says."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from harness.backends.base import Profiled
from harness.scenarios import ScenarioRequest
from harness.scenarios import serving as module
from harness.scenarios.base import Binding
from harness.serving.options import ServingOptions
from tests.scenarios.test_scenarios import SHORT

#: a step of batch b sleeps FIXED_MS + PER_SAMPLE_MS x b
FIXED_MS, PER_SAMPLE_MS = 8.0, 1.0


class SleepRunner(Profiled):
    """Synchronous, nothing in flight (`Profiled`'s sync and in_flight)."""

    facts: dict = {}

    def bind(self, batch: int):
        seconds = (FIXED_MS + PER_SAMPLE_MS * batch) / 1e3
        return lambda: time.sleep(seconds)

    def counters(self) -> dict:
        return {}


@pytest.fixture
def short_points(monkeypatch):
    monkeypatch.setitem(module.POINT_S, True, 0.5)
    monkeypatch.setitem(module.SEARCH_BUDGET_S, True, 6.0)


def _measure(scenario, batch: int, tmp_path, **options):
    runner = SleepRunner()
    request = ScenarioRequest(batch, SHORT, quick=True, serving=ServingOptions(**options),
                              log_dir=tmp_path / "loadgen")
    return scenario.measure(request, Binding(runner, runner.bind, "cpu"))


def test_server_finds_a_peak_that_batching_lifts_above_batch_one(short_points, tmp_path):
    outcome = _measure(module.SERVER, 8, tmp_path, slo_ms=100.0)
    row, samples = outcome.columns, outcome.samples
    batch_one_qps = 1e3 / (FIXED_MS + PER_SAMPLE_MS)  # 111/s
    largest_qps = 8e3 / (FIXED_MS + 8 * PER_SAMPLE_MS)  # 500/s
    assert batch_one_qps < row["peak_qps"] <= largest_qps * 1.1, row
    assert samples["iter_ms"] == [1e3 / row["peak_qps"]]
    assert row["loadgen_p99_ms"] <= 100.0 and row["mean_batch"] > 1
    assert row["slo_source"] == "--slo-ms" and row["serving_max_wait_ms"] == 20.0
    assert len(samples["load_qps"]) == row["peak_points"] >= 3
    assert sorted(samples["load_qps"]) == samples["load_qps"]
    assert len(list((tmp_path / "loadgen").glob("server-*/mlperf_log_detail.txt"))) == len(
        samples["load_qps"])  # LoadGen's logs of every point kept
    # archbench's account of the peak's requests agrees with LoadGen's
    assert abs(row["serve_p50_ms"] - row["loadgen_p50_ms"]) < 0.2 * row["loadgen_p50_ms"]


def test_server_at_a_fixed_rate_reports_its_p99(short_points, tmp_path):
    outcome = _measure(module.SERVER, 4, tmp_path, server_qps=40.0, slo_ms=50.0)
    row = outcome.columns
    assert outcome.samples["iter_ms"] == [row["loadgen_p99_ms"]]
    assert row["server_qps"] == 40.0 and row["requests"] >= 10
    assert math.isclose(row["slo_ms"], 50.0)


def test_single_stream_is_one_step_at_a_time(short_points, tmp_path):
    outcome = _measure(module.SINGLE_STREAM, 1, tmp_path)
    latency = np.asarray(outcome.samples["iter_ms"])
    assert 0.9 * (FIXED_MS + PER_SAMPLE_MS) < np.median(latency) < 3 * (FIXED_MS
                                                                       + PER_SAMPLE_MS)
    assert outcome.columns["mean_batch"] == 1 and outcome.columns["loadgen_p90_ms"] > 0


def test_multi_stream_serves_a_query_in_one_step(short_points, tmp_path):
    outcome = _measure(module.MULTI_STREAM, 4, tmp_path)
    assert outcome.columns["mean_batch"] == 4
    assert np.median(outcome.samples["iter_ms"]) >= FIXED_MS + 4 * PER_SAMPLE_MS


def test_offline_runs_full_batches(short_points, tmp_path):
    outcome = _measure(module.OFFLINE, 8, tmp_path)
    step = np.median(outcome.samples["iter_ms"])
    assert FIXED_MS + 8 * PER_SAMPLE_MS <= step < 3 * (FIXED_MS + 8 * PER_SAMPLE_MS)
    assert outcome.columns["mean_batch"] > 7


@pytest.mark.parametrize(("options", "message"), [
    ({"slo_ms": 0}, "--slo-ms must be a positive number of ms, got 0"),
    ({"server_qps": -3.0}, "--server-qps must be a positive number of queries a second"),
    ({"max_wait_ms": float("nan")}, "--max-wait-ms must be a number of ms >= 0, got nan"),
    ({"in_flight": 0}, "--in-flight must be a positive integer, got 0"),
    ({"in_flight": 1.5}, "--in-flight must be a positive integer, got 1.5")])
def test_serving_options_that_are_not_positive_are_one_line(options, message):
    from harness.errors import UsageError
    with pytest.raises(UsageError, match=message):
        ServingOptions(**options)


class DeviceQueueRunner(Profiled):
    """Steps on a device queue (as CUDA's): they return at once, the device runs them one
    after another, and `fence` marks the work launched so far."""

    facts: dict = {}

    def __init__(self) -> None:
        from tests.serving.test_batching import _DeviceQueue
        self.device = _DeviceQueue(seconds=(FIXED_MS + 8 * PER_SAMPLE_MS) / 1e3)

    def bind(self, batch: int):
        return self.device.launch

    def sync(self) -> None:
        self.device.sync()

    def fence(self):
        return self.device.fence()

    def counters(self) -> dict:
        return {}


def test_steps_on_a_device_queue_are_served_two_in_flight(short_points, tmp_path):
    runner = DeviceQueueRunner()
    request = ScenarioRequest(8, SHORT, quick=True, log_dir=tmp_path / "loadgen")
    try:
        outcome = module.OFFLINE.measure(request, Binding(runner, runner.bind, "cuda"))
    finally:
        runner.device.close()
    row = outcome.columns
    assert row["serving_in_flight"] == 2 and "serving_in_flight_note" not in row
    assert row["mean_batch"] > 7 and row["requests"] >= 8


def test_a_cpu_step_runs_one_in_flight_and_says_why_when_more_were_asked(short_points,
                                                                         tmp_path):
    row = _measure(module.OFFLINE, 4, tmp_path, in_flight=3).columns
    assert row["serving_in_flight"] == 1
    assert "--in-flight 3 asked, 1 run" in row["serving_in_flight_note"]
    assert "serving_in_flight_note" not in _measure(module.OFFLINE, 4, tmp_path).columns
