"""What the Ray executor costs and what it buys, on this machine.

1. Overhead per case: the tiny sweep (mlp and cnn at tiny, cpu-eager, inference and training
   at latency, --quick, one process each) with the local executor and with the Ray executor
   on a local Ray (`ray.init(num_cpus=2)`, one case at a time, as locally), alternating, R
   times each; the seconds per case of each sweep, medians. A case's own process takes
   seconds and varies by seconds on a shared machine, which would drown what Ray adds, so
   the overhead is also taken apart from it: the sweep's wall time less the wall time of
   its case processes (each row's `wall_s`), per case: dispatch, result transfer and
   bookkeeping. Ray's own start is timed apart: a sweep that starts a Ray pays it once.
2. Scaling: cases whose wall time a fixed sleep dominates (the test suite `sleepy`, building
   its model sleeps S seconds), on a `ray.cluster_utils.Cluster` with one 1-CPU node and then
   with two: N slots should give close to N x the throughput.

    .venv/bin/python benchmarks/ray_executor.py --runs 3 --sleep 8 --cases 6
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import ray
from ray.cluster_utils import Cluster

from harness.cases import SweepConfig
from harness.executors import open_executor
from harness.results.store import case_records
from harness.sweep.run import run_sweep, start_run

ROOT = Path(__file__).resolve().parent.parent
SLEEPY = str(ROOT / "tests" / "fixtures" / "sleepy_suite.py")
MLP = str(ROOT / "examples" / "mlp_suite.py")
TINY = SweepConfig(suites=("mlp", "cnn"), sizes=("tiny",), backends=("cpu-eager",),
                   phases=("infer", "train"), scenarios=("latency",), suite_files=(MLP,),
                   quick=True, processes=1)


def timed_sweep(config: SweepConfig, results: Path, run_id: str, executor: object = None
                ) -> tuple[float, float]:
    """Seconds per case of one sweep (the run folder's creation included), and of that the
    seconds per case outside the cases' own processes."""
    start = time.perf_counter()
    run_dir = start_run(config, results, run_id)
    ran = run_sweep(run_dir, config, progress=False, executor=executor)
    records = case_records(run_dir)
    rows = [records[case_id]["row"] for case_id in ran]
    wall = time.perf_counter() - start
    assert all(row["status"] == "ok" for row in rows), [row["reason"] for row in rows]
    return wall / len(rows), (wall - sum(row["wall_s"] for row in rows)) / len(rows)


def overhead(runs: int, results: Path) -> None:
    start = time.perf_counter()
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    print(f"ray.init(num_cpus=2): {time.perf_counter() - start:.1f} s")
    executor, _ = open_executor("ray", TINY)
    timed_sweep(TINY, results, "warm", executor)  # trains the weights both then reuse
    local, remote = [], []
    for i in range(runs):
        local.append(timed_sweep(TINY, results, f"local-{i}"))
        remote.append(timed_sweep(TINY, results, f"ray-{i}", executor))
    start = time.perf_counter()
    ray.shutdown()
    print(f"ray.shutdown(): {time.perf_counter() - start:.1f} s")
    for name, index in (("s/case", 0), ("s/case outside the case processes", 1)):
        mid_local = statistics.median(v[index] for v in local)
        mid_ray = statistics.median(v[index] for v in remote)
        print(f"{name}: local {', '.join(f'{v[index]:.3f}' for v in local)} "
              f"(median {mid_local:.3f}); ray {', '.join(f'{v[index]:.3f}' for v in remote)} "
              f"(median {mid_ray:.3f}); ray - local {mid_ray - mid_local:+.3f}")


def scaling(sleep_s: float, cases: int, results: Path) -> None:
    os.environ["ARCHBENCH_TEST_BUILD_SLEEP_S"] = str(sleep_s)  # inherited by Ray's nodes
    config = SweepConfig(suites=("sleepy",), sizes=("tiny",), backends=("cpu-eager",),
                         phases=("train",), scenarios=("latency",),
                         batch_sizes=tuple(range(1, cases + 1)), suite_files=(SLEEPY,),
                         quick=True, processes=1, threads=1)
    walls = {}
    for slots in (1, 2):
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0,
                                                                "include_dashboard": False})
        for _ in range(slots):
            cluster.add_node(num_cpus=1)
        ray.init(address=cluster.address, log_to_driver=False)
        cluster.wait_for_nodes()
        executor, _ = open_executor("ray", config)
        start = time.perf_counter()
        timed_sweep(config, results, f"slots-{slots}", executor)
        walls[slots] = time.perf_counter() - start
        ray.shutdown()
        cluster.shutdown()
        print(f"{slots} node(s): {cases} cases of a {sleep_s:g} s sleep in {walls[slots]:.1f} s "
              f"({cases / walls[slots] * 60:.1f} cases/min)")
    speedup = walls[1] / walls[2]
    print(f"2 slots vs 1: {speedup:.2f}x throughput, efficiency {speedup / 2:.0%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sleep", type=float, default=8.0)
    parser.add_argument("--cases", type=int, default=6)
    parser.add_argument("--only", choices=("overhead", "scaling"), help="one part only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="archbench-ray-bench-") as tmp:
        if args.only != "scaling":
            overhead(args.runs, Path(tmp) / "overhead")
        if args.only != "overhead":
            scaling(args.sleep, args.cases, Path(tmp) / "scaling")


if __name__ == "__main__":
    main()
