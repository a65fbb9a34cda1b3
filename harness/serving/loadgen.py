"""One load point: MLPerf LoadGen issues the queries, the dynamic batcher serves them.

LoadGen (`mlcommons-loadgen`, the C++ library of MLPerf Inference with Python bindings) is the
load generator and the latency accountant: it schedules queries (Poisson arrivals at a target
rate for Server; one at a time for SingleStream; N samples a query, back to back, for
MultiStream; everything at once for Offline), counts each query's latency from its *scheduled*
issue time, so a system that falls behind cannot hide its queue (no coordinated omission),
applies its minimum duration and query count and its early-stopping estimate of the percentile,
and writes its summary and detail logs. archbench supplies the system under test: the bound
steps of a backend behind `harness.serving.batching.DynamicBatcher`.

Two accounts of the same queries are kept, and the row shows both: LoadGen's percentiles (from
the scheduled time; its detail log, parsed here) and archbench's (from the moment LoadGen
called `issue`, with queueing and service apart, from the batcher's log). They agree when
LoadGen's issue thread keeps to its schedule; where they do not, LoadGen's is the one that
counts, and the gap is the issue thread running late (a busy host, the GIL).

Every point ends: LoadGen stops issuing at `max_duration_ms` (the point's duration plus
`OVERRUN`), and the search never asks for a rate beyond what the bound steps can serve at the
largest batch (`harness.serving.peak`), so the queue a point builds drains within about its own
length again.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.serving.batching import BatchPolicy, DynamicBatcher, FenceOf, RequestLog, Step

#: LoadGen's scenario for each of archbench's.
LOADGEN_SCENARIOS = {"server": "Server", "single-stream": "SingleStream",
                     "multi-stream": "MultiStream", "offline": "Offline"}
#: Samples in LoadGen's query sample library. The step runs on its bound batch whatever the
#: sample, so the library is indices only; enough that LoadGen does not repeat a tiny set.
LIBRARY_SAMPLES = 1024
#: A point may issue for its duration times this before LoadGen stops it.
OVERRUN = 1.5
#: The percentile the latency target applies to (MLPerf's Server scenario: p99).
TARGET_PERCENTILE = 0.99
#: Server points issue at least this many queries (if their time allows): a p99 of fewer is
#: their maximum.
SERVER_MIN_QUERIES = 100
#: Percentiles reported per point (LoadGen's detail log has these keys).
PERCENTILES = {"p50": "50.00", "p90": "90.00", "p99": "99.00", "p999": "99.90"}


@dataclass(frozen=True)
class LoadSettings:
    """One LoadGen test: the scenario, how long, and the scenario's own parameters."""

    scenario: str  # a key of LOADGEN_SCENARIOS
    duration_s: float
    min_queries: int = 1
    target_qps: float = 0.0  # server: the arrival rate
    slo_ms: float = 0.0  # server: the p99 target LoadGen judges validity by
    samples_per_query: int = 1  # multi-stream
    expected_ms: float = 1.0  # single/multi-stream: a query's expected latency
    expected_sps: float = 1.0  # offline: samples per second expected (sizes the one query)
    seed: int = 0  # LoadGen's schedule and sample order

    def test_settings(self) -> Any:
        import mlperf_loadgen as lg

        settings = lg.TestSettings()
        settings.scenario = getattr(lg.TestScenario, LOADGEN_SCENARIOS[self.scenario])
        settings.mode = lg.TestMode.PerformanceOnly
        settings.min_duration_ms = int(self.duration_s * 1e3)
        settings.max_duration_ms = int(self.duration_s * OVERRUN * 1e3)
        settings.min_query_count = self.min_queries
        settings.schedule_rng_seed = settings.sample_index_rng_seed = 1 + self.seed
        settings.qsl_rng_seed = 1 + self.seed
        if self.scenario == "server":
            settings.server_target_qps = self.target_qps
            settings.server_target_latency_ns = int(self.slo_ms * 1e6)
            settings.server_target_latency_percentile = TARGET_PERCENTILE
        elif self.scenario == "single-stream":
            settings.single_stream_expected_latency_ns = max(1, int(self.expected_ms * 1e6))
        elif self.scenario == "multi-stream":
            settings.multi_stream_samples_per_query = self.samples_per_query
            settings.multi_stream_expected_latency_ns = max(1, int(self.expected_ms * 1e6))
        else:
            settings.offline_expected_qps = self.expected_sps
        return settings


@dataclass
class LoadResult:
    """What one point measured: LoadGen's detail log as key -> value, the batcher's request
    log, the point's wall time, where LoadGen's logs are, and a step's error if one failed."""

    settings: LoadSettings
    detail: dict[str, Any]
    requests: RequestLog
    wall_s: float
    log_dir: Path
    error: BaseException | None = None

    @property
    def valid(self) -> bool:
        return self.detail.get("result_validity") == "VALID"

    def loadgen_ms(self, name: str) -> float:
        """LoadGen's percentile `name` (a key of PERCENTILES) of query latency, in ms."""
        value = self.detail.get(f"result_{PERCENTILES[name]}_percentile_latency_ns")
        return float(value) / 1e6 if value is not None else float("nan")

    @property
    def achieved_qps(self) -> float:
        """Queries completed per second (Server: LoadGen's completed rate; otherwise the
        samples per second it reports, divided by the samples a query)."""
        if self.settings.scenario == "server":
            value = self.detail.get("result_completed_samples_per_sec")
        else:
            value = self.detail.get("result_samples_per_second")
            value = value / self.settings.samples_per_query if value is not None else None
        return float(value) if value is not None else float("nan")

    @property
    def scheduled_qps(self) -> float:
        """Server: the rate LoadGen actually scheduled (a short Poisson run's own rate, not
        quite the target's)."""
        value = self.detail.get("result_scheduled_samples_per_sec")
        return float(value) if value is not None else float("nan")

    @property
    def samples_per_s(self) -> float:
        value = self.detail.get("result_samples_per_second",
                                self.detail.get("result_completed_samples_per_sec"))
        return float(value) if value is not None else float("nan")

    @property
    def early_stopping(self) -> str:
        """LoadGen's early-stopping verdict, one line (empty where the scenario has none)."""
        value = self.detail.get("early_stopping_result", "")
        return " ".join(str(value).split()) if value else ""


def run_load(settings: LoadSettings, policy: BatchPolicy, steps: dict[int, Step],
             sync: Any, log_dir: Path, fence: FenceOf | None = None,
             in_flight: int = 1) -> LoadResult:
    """Run one LoadGen test against the batcher (`fence` and `in_flight`: its batches in
    flight on a device); LoadGen's logs go to `log_dir`."""
    import mlperf_loadgen as lg

    log_dir.mkdir(parents=True, exist_ok=True)

    def complete(ids: list[int]) -> None:
        lg.QuerySamplesComplete([lg.QuerySampleResponse(i, 0, 0) for i in ids])

    batcher = DynamicBatcher(policy, steps, sync, complete, fence=fence, in_flight=in_flight)

    def issue(query_samples: list[Any]) -> None:
        batcher.submit([sample.id for sample in query_samples])

    sut = lg.ConstructSUT(issue, lambda: None)
    qsl = lg.ConstructQSL(LIBRARY_SAMPLES, LIBRARY_SAMPLES, lambda indices: None,
                          lambda indices: None)
    output = lg.LogOutputSettings()
    output.outdir = str(log_dir)
    output.copy_summary_to_stdout = False
    log_settings = lg.LogSettings()
    log_settings.log_output = output
    # no trace: ~0.5 KB a query (tens of MB a point at thousands of queries a second); the
    # batcher's own log has every request
    log_settings.enable_trace = False
    start = time.perf_counter()
    error: BaseException | None = None
    try:
        batcher.run(lambda: lg.StartTestWithLogSettings(sut, qsl, settings.test_settings(),
                                                        log_settings))
    except Exception as exc:  # a failed step: the point is reported failed
        error = exc
    finally:
        lg.DestroyQSL(qsl)
        lg.DestroySUT(sut)
    wall_s = time.perf_counter() - start
    return LoadResult(settings, read_detail(log_dir / "mlperf_log_detail.txt"), batcher.log,
                      wall_s, log_dir, error)


def read_detail(path: Path) -> dict[str, Any]:
    """LoadGen's detail log (`:::MLLOG {json}` lines) as key -> value, the last of each key."""
    detail: dict[str, Any] = {}
    if not path.exists():
        return detail
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith(":::MLLOG "):
            try:
                entry = json.loads(line.removeprefix(":::MLLOG "))
            except json.JSONDecodeError:
                continue
            detail[entry.get("key", "")] = entry.get("value")
    return detail
