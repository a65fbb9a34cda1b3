"""The serving path against queueing theory: LoadGen's Server scenario against the dynamic
batcher at batch size 1, with a service of known length (it sleeps, releasing the GIL).

At Poisson arrivals and a deterministic service s, the server is M/D/1: mean latency
s + rho s / (2 (1 - rho)) at utilisation rho. The service's real length is measured per point
(a sleep overshoots), so what is checked is the load and the accounting.

    .venv/bin/python benchmarks/serving_md1.py [--service-ms 5] [--seconds 6]

prints, per utilisation, LoadGen's mean against M/D/1's, archbench's own mean of the same
queries, and LoadGen's p50/p99 (the tail climbs as rho nears 1).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from harness.serving.batching import BatchPolicy
from harness.serving.loadgen import LoadSettings, run_load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--service-ms", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--rho", type=float, nargs="+", default=[0.3, 0.5, 0.7, 0.9])
    args = parser.parse_args()
    service_s = args.service_ms / 1e3
    steps = {1: lambda: time.sleep(service_s)}
    print(f"{'rho':>5} {'queries':>7} {'service':>8} {'M/D/1':>7} {'LoadGen':>8} {'ratio':>6} "
          f"{'archbench':>9} {'p50':>6} {'p99':>7}   (ms)")
    with tempfile.TemporaryDirectory() as folder:
        for rho in args.rho:
            settings = LoadSettings("server", args.seconds, target_qps=rho / service_s,
                                    slo_ms=1000.0, seed=1)
            result = run_load(settings, BatchPolicy(1, 0.0), steps, lambda: None,
                              Path(folder) / f"rho-{rho}")
            measured = float(np.mean(result.requests.service_ms())) / 1e3
            real_rho = settings.target_qps * measured
            theory = (measured + real_rho * measured / (2 * (1 - real_rho))) * 1e3
            mean = result.detail["result_mean_latency_ns"] / 1e6
            print(f"{real_rho:5.2f} {len(result.requests):7d} {measured * 1e3:8.3f} "
                  f"{theory:7.2f} {mean:8.2f} {mean / theory:6.3f} "
                  f"{np.mean(result.requests.latency_ms()):9.2f} "
                  f"{result.loadgen_ms('p50'):6.2f} {result.loadgen_ms('p99'):7.2f}")


if __name__ == "__main__":
    main()
