"""Serving under load: MLPerf LoadGen's four scenarios on a backend behind a dynamic batcher.

A step-time answers "how long does one step take"; a serving engineer asks what latency a load
of R random requests a second gets, with dynamic batching, and the highest R a latency target
allows. Queueing decides that, so it is measured, not derived: LoadGen issues the queries
(`harness.serving.loadgen`), the batcher serves them with the bound steps of the case's
backend (`harness.serving.batching`), and LoadGen counts each query from its scheduled time.

- `server`: Poisson arrivals. Without a rate (`--server-qps`), the highest rate whose p99
  meets the target (`--slo-ms`), by the search of `harness.serving.peak`, with the curve of
  rates tried. The case's batch size is the batcher's largest batch.
- `single-stream`: one query of one sample at a time, the next issued when the last
  completes: latency at batch 1 through the serving path (its p90 is MLPerf's metric).
- `multi-stream`: queries of N samples (the case's batch size, MLPerf's default 8) back to
  back: the latency of a frame of N streams.
- `offline`: every sample in one query, served in the largest batches: throughput through the
  serving path, to set beside the `throughput` scenario's.

**The number of a row** (what `compare`, `ab` and `selftest` judge, lower is better, one per
process so that the row's interval is between processes): `server` searching a peak,
``1000 / peak_qps`` (ms of capacity a query; its reciprocal is the row's `peak_qps` with its
interval); `server` at a fixed rate, LoadGen's p99 at that rate; `single-stream` and
`multi-stream`, each query's latency; `offline`, the time from one step's end to the next's
at the largest batch (so `throughput_sps` means what it means for `throughput`, and with
batches in flight it counts their overlap, which a step's own service time would not).
`serving_metric` names it per row.

**Defaults** (`harness.serving.options.ServingOptions` holds what the user set): a target of 10
batch-1 step times, at least 5 ms (a p99 target below a few ms is the VM's scheduler's, not
the model's), stated per row in `slo_source`; a batch may wait for more requests up to a
fifth of the target, so that waiting leaves most of the target to queueing and service.
Points of 4 s (1 s under `--quick`) and a search budget of 60 s (15 s) per process. Where the
backend's steps run on a device queue (CUDA), two batches in flight (`--in-flight`): one runs
while the next is launched; elsewhere one, since a step has finished when it returns (OpenVINO
runs `--in-flight N` requests side by side on its streams when asked: `harness.backends.ov`).
"""

from __future__ import annotations

import contextlib
import math
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from harness.measure.contention import ContentionMonitor
from harness.measure.timing import TimingPolicy, time_loop
from harness.scenarios.base import (
    Binding,
    Scenario,
    ScenarioOutcome,
    ScenarioRequest,
    bind_within_memory,
)
from harness.serving.batching import BatchPolicy, RequestLog, Step
from harness.serving.loadgen import SERVER_MIN_QUERIES, LoadResult, LoadSettings, run_load
from harness.serving.peak import (
    CAPACITY_MARGIN,
    KEEP_UP,
    START_UTILISATION,
    LoadPoint,
    PeakSearch,
)

#: The default latency target: this many batch-1 step times, and at least MIN_DEFAULT_SLO_MS.
SLO_STEPS = 10
MIN_DEFAULT_SLO_MS = 5.0
#: The default longest wait for a batch to fill, as a share of the target.
WAIT_SHARE = 0.2
#: Seconds per load point, and per search, by --quick.
POINT_S = {True: 1.0, False: 4.0}
SEARCH_BUDGET_S = {True: 15.0, False: 60.0}
#: The short timing of each bound batch's step: how fast the batcher can serve, which bounds
#: the rates worth trying.
STEP_POLICY = TimingPolicy(warmup_iters=3, warmup_s=0.05, n_min=5, t_min=0.1, t_max=0.4)
#: Batches launched before the oldest has finished, where a backend's steps run on a device
#: queue: one on the device, the next launched behind it (`harness.serving.batching`).
IN_FLIGHT = 2
#: Percentiles of archbench's own account of each request (nearest rank, as LoadGen's).
OWN_PERCENTILES = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p999": 99.9}


def nearest_rank(values: np.ndarray, percent: float) -> float:
    """The nearest-rank percentile (LoadGen's definition), NaN of nothing."""
    if not len(values):
        return math.nan
    return float(np.percentile(values, percent, method="inverted_cdf"))


def request_columns(log: RequestLog, prefix: str = "serve") -> dict[str, Any]:
    """archbench's account of a point's requests: latency percentiles, queueing and service
    apart, and the batches."""
    latency = log.latency_ms()
    batches, _, _ = log.steps()
    columns: dict[str, Any] = {f"{prefix}_{name}_ms": nearest_rank(latency, percent)
                               for name, percent in OWN_PERCENTILES.items()}
    columns.update(queue_p50_ms=nearest_rank(log.queue_ms(), 50.0),
                   queue_p99_ms=nearest_rank(log.queue_ms(), 99.0),
                   service_p50_ms=nearest_rank(log.service_ms(), 50.0),
                   mean_batch=float(np.mean(batches)) if len(batches) else math.nan,
                   padded_share=(1 - float(np.sum(log.batch) / np.sum(log.bucket)))
                   if len(log) else math.nan, requests=len(log))
    return columns


def loadgen_columns(result: LoadResult) -> dict[str, Any]:
    """LoadGen's account of a point: its percentiles, validity and early-stopping verdict."""
    columns: dict[str, Any] = {f"loadgen_{name}_ms": result.loadgen_ms(name)
                               for name in ("p50", "p90", "p99", "p999")}
    columns.update(loadgen_valid=result.valid, loadgen_early_stopping=result.early_stopping,
                   achieved_qps=result.achieved_qps, loadgen_samples_per_s=result.samples_per_s)
    return columns


class Serving(Scenario):
    """What the four scenarios share: binding a step per bucket, timing them, the batch
    policy, running a point and checking it."""

    def __init__(self, name: str) -> None:
        self.name = name

    def policy(self, request: ScenarioRequest, target_ms: float) -> BatchPolicy:
        """The batcher's policy: the case's batch is the largest; `offline` and the streams
        never wait (their samples arrive together)."""
        if self.name == "single-stream":
            return BatchPolicy(1, 0.0)
        if self.name != "server":
            return BatchPolicy(request.batch_size, 0.0)
        wait = request.serving.max_wait_ms
        return BatchPolicy(request.batch_size, WAIT_SHARE * target_ms if wait is None else wait)

    def measure(self, request: ScenarioRequest, binding: Binding) -> ScenarioOutcome:
        outcome = ScenarioOutcome()
        row = outcome.columns
        largest = 1 if self.name == "single-stream" else request.batch_size
        buckets = BatchPolicy(largest, 0.0).buckets
        start = time.perf_counter()
        steps: dict[int, Step] = {}
        for size in sorted(buckets, reverse=True):  # the largest first: it may not fit
            steps[size], first_call_s = bind_within_memory(binding, size)
            row.setdefault("cold_call_s", time.perf_counter() - start)
            row.setdefault("first_call_s", first_call_s)
        step_ms = {size: self._step_ms(steps[size], binding) for size in (1, largest)}
        target, source = self._target(request, step_ms[1])
        policy = self.policy(request, target)
        in_flight, in_flight_note = self._in_flight(request, binding)
        row.update(serving_max_batch=policy.max_batch, serving_max_wait_ms=policy.max_wait_ms,
                   serving_buckets=",".join(map(str, policy.buckets)), step1_ms=step_ms[1],
                   step_max_ms=step_ms[largest], serving_in_flight=in_flight)
        if in_flight_note:
            row["serving_in_flight_note"] = in_flight_note
        if self.name == "server":
            row.update(slo_ms=target, slo_source=source)
        monitor = ContentionMonitor()
        with contextlib.ExitStack() as cleanup:
            log_root = request.log_dir or Path(cleanup.enter_context(
                tempfile.TemporaryDirectory(prefix="archbench-loadgen-")))
            monitor.start()
            try:
                self._run(request, binding, steps, policy, step_ms, target, log_root, outcome,
                          in_flight)
            finally:
                monitor.stop()
        row.update(request.after_timing())
        if monitor.result is not None:
            row.update(monitor.result.columns())
        row.update(binding.runner.facts)
        if request.profiler is not None:
            row["profile_error"] = ("a serving scenario is not profiled (its steps run as "
                                    "LoadGen's queries arrive): profile the case's latency or "
                                    "throughput scenario")
        return outcome

    def _run(self, request: ScenarioRequest, binding: Binding, steps: dict[int, Step],
             policy: BatchPolicy, step_ms: dict[int, float], target: float, log_root: Path,
             outcome: ScenarioOutcome, in_flight: int) -> None:
        quick, row = request.quick, outcome.columns
        duration = POINT_S[quick]
        seed = request.seed
        runner = binding.runner

        def point(settings: LoadSettings, folder: str) -> LoadResult:
            result = run_load(settings, policy, steps, runner.sync, log_root / folder,
                              runner.fence, in_flight)
            if result.error is not None:
                raise result.error
            return result

        if self.name == "server" and request.serving.server_qps:
            rate = request.serving.server_qps
            result = point(LoadSettings("server", duration, SERVER_MIN_QUERIES, rate, target,
                                        seed=seed), f"server-{rate:g}qps")
            row.update(serving_metric=f"LoadGen's p99 (ms) at {rate:g} queries/s",
                       server_qps=rate, **loadgen_columns(result),
                       **request_columns(result.requests))
            outcome.samples.update(iter_ms=[result.loadgen_ms("p99")],
                                   request_ms=list(result.requests.latency_ms()))
            return
        if self.name == "server":
            self._find_peak(request, binding, point, policy, step_ms, target, outcome)
            return
        if self.name == "single-stream":
            settings = LoadSettings("single-stream", duration, expected_ms=step_ms[1], seed=seed)
        elif self.name == "multi-stream":
            settings = LoadSettings("multi-stream", duration, samples_per_query=policy.max_batch,
                                    expected_ms=step_ms[policy.max_batch], seed=seed)
        else:
            settings = LoadSettings("offline", duration, seed=seed,
                                    expected_sps=policy.max_batch / step_ms[policy.max_batch]
                                    * 1e3)
        result = point(settings, self.name)
        row.update(**loadgen_columns(result), **request_columns(result.requests))
        log = result.requests
        if self.name == "offline":
            batches, gaps = log.completion_gaps_ms(span=in_flight)
            full = gaps[batches == policy.max_batch]
            row["serving_metric"] = (f"the time (ms) from one step's end to the next's, at "
                                     f"batch {policy.max_batch}")
            outcome.samples["iter_ms"] = list(full if len(full) else log.steps()[1])
        else:
            row["serving_metric"] = "each query's latency (ms), from its issue"
            outcome.samples["iter_ms"] = list(log.steps()[2])

    def _find_peak(self, request: ScenarioRequest, binding: Binding, point: Any,
                   policy: BatchPolicy, step_ms: dict[int, float], target: float,
                   outcome: ScenarioOutcome) -> None:
        """The peak rate under the target, its curve, and the peak point's accounts."""
        quick, row = request.quick, outcome.columns
        results: dict[float, LoadResult] = {}

        def measure(rate: float) -> LoadPoint:
            result = point(LoadSettings("server", POINT_S[quick], SERVER_MIN_QUERIES, rate,
                                        target, seed=request.seed),
                           f"server-{len(results) + 1:02d}-{rate:.4g}qps")
            results[rate] = result
            p99 = result.loadgen_ms("p99")
            met = bool(p99 <= target and result.achieved_qps >= KEEP_UP * result.scheduled_qps)
            return LoadPoint(rate, result.loadgen_ms("p50"), p99, result.achieved_qps, met)

        one = 1e3 / step_ms[1]
        ceiling = policy.max_batch / step_ms[policy.max_batch] * 1e3 * CAPACITY_MARGIN
        budget = SEARCH_BUDGET_S[quick]
        began = time.monotonic()
        search = PeakSearch(measure, START_UTILISATION * one, ceiling, began + budget).run()
        row.update(peak_search_s=time.monotonic() - began, peak_points=len(search.points),
                   peak_note=search.note(budget), peak_missed_qps=search.missed,
                   serving_metric="1000 / the peak rate (ms of capacity a query)")
        curve = sorted(search.points, key=lambda p: p.rate_qps)
        outcome.samples.update(load_qps=[p.rate_qps for p in curve],
                               load_p50_ms=[p.p50_ms for p in curve],
                               load_p99_ms=[p.p99_ms for p in curve],
                               load_achieved_qps=[p.achieved_qps for p in curve],
                               load_met=[float(p.met) for p in curve])
        peak = search.met
        if peak is None:
            outcome.samples["iter_ms"] = []
            return
        best = results[peak]
        row.update(peak_qps=peak, **loadgen_columns(best), **request_columns(best.requests))
        outcome.samples.update(iter_ms=[1e3 / peak],
                               request_ms=list(best.requests.latency_ms()))

    def _in_flight(self, request: ScenarioRequest, binding: Binding) -> tuple[int, str]:
        """Batches the batcher keeps launched at once (`harness.serving.batching`): where the
        runner fences its steps, `--in-flight` or IN_FLIGHT (or the runner's own requests
        where it has more: OpenVINO's streams); else 1, and why fewer than asked."""
        asked = request.serving.in_flight
        if binding.runner.fence() is not None:
            return asked or max(IN_FLIGHT, binding.runner.in_flight()), ""
        if asked and asked > 1:
            return 1, (f"--in-flight {asked} asked, 1 run: this backend's steps give "
                       f"nothing to wait on apart (a step has finished when it returns, or "
                       f"runs on a stream of its own), so none can overlap")
        return 1, ""

    def _step_ms(self, step: Step, binding: Binding) -> float:
        """A bound step's synchronised time (ms), briefly timed."""
        timing = time_loop(step, binding.runner.sync, STEP_POLICY, block=1)
        return statistics.median(timing.samples_ms)

    def _target(self, request: ScenarioRequest, step1_ms: float) -> tuple[float, str]:
        """The latency target and where it came from."""
        if request.serving.slo_ms:
            return request.serving.slo_ms, "--slo-ms"
        target = max(SLO_STEPS * step1_ms, MIN_DEFAULT_SLO_MS)
        return target, (f"default: {SLO_STEPS} batch-1 steps ({step1_ms:.3g} ms each), at "
                        f"least {MIN_DEFAULT_SLO_MS:g} ms")


SERVER = Serving("server")
SINGLE_STREAM = Serving("single-stream")
MULTI_STREAM = Serving("multi-stream")
OFFLINE = Serving("offline")
