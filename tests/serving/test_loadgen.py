"""LoadGen against the batcher, with a service of known length (it sleeps, releasing the GIL,
as torch's operators do): the queueing sanity check of issue 19, which can fail.

At batch size 1 and Poisson arrivals, a server with a deterministic service time s is M/D/1:
its mean latency is s + rho s / (2 (1 - rho)) at utilisation rho = rate x s. The service's
real length is measured (a sleep overshoots by a few percent), so the check is of the load and
the accounting, not of the sleep. At rho 0.5 the mean must be within 10% of the formula; near
rho 1 the p99 must climb steeply (queueing, not service, decides the tail).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from harness.serving.batching import BatchPolicy
from harness.serving.loadgen import LoadSettings, run_load

#: 10 ms: a request's fixed cost outside the service (LoadGen's issue thread, the batcher's
#: wake-up on this VM: ~0.5 ms, `benchmarks/serving_md1.py`) is then ~3% of the latency
SERVICE_S = 0.010


def _serve(tmp_path: Path, rate: float, seconds: float, name: str):
    steps = {1: lambda: time.sleep(SERVICE_S)}
    settings = LoadSettings("server", seconds, target_qps=rate, slo_ms=1000.0, seed=1)
    return run_load(settings, BatchPolicy(1, 0.0), steps, lambda: None, tmp_path / name)


def test_mean_latency_at_half_load_is_md1s_and_p99_climbs_near_full_load(tmp_path) -> None:
    half = _serve(tmp_path, 0.5 / SERVICE_S, 8.0, "half")
    service_s = float(np.mean(half.requests.service_ms())) / 1e3
    rho = 0.5 / SERVICE_S * service_s
    expected_ms = (service_s + rho * service_s / (2 * (1 - rho))) * 1e3
    mean_ms = half.detail["result_mean_latency_ns"] / 1e6
    assert abs(mean_ms / expected_ms - 1) < 0.10, (mean_ms, expected_ms, rho)
    # archbench's own account (from LoadGen's call to issue) agrees with LoadGen's
    assert abs(np.mean(half.requests.latency_ms()) - mean_ms) < 0.1 * mean_ms
    assert len(half.requests) >= 350 and (half.log_dir / "mlperf_log_summary.txt").exists()
    busy = _serve(tmp_path, 0.92 / service_s, 4.0, "busy")
    assert busy.loadgen_ms("p99") > 3 * half.loadgen_ms("p99"), (
        busy.loadgen_ms("p99"), half.loadgen_ms("p99"))
