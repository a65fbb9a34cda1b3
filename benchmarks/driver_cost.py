"""The driver's cost per process: what a sweep spends outside its case processes.

A sweep of a trivial model (one linear layer, weights as built, so nothing trains) at 10 batch
sizes x 4 processes = 40 processes, quick timing, cpu-eager, on this machine's local executor.
Each process's `wall_s` is measured by the driver from launch to exit; the driver's own cost is
the sweep's wall time less their sum, per process: planning, recording each case, rewriting
tables, the progress bar.

    .venv/bin/python benchmarks/driver_cost.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from torch import nn

from harness.cases import SweepConfig
from harness.results.store import case_records
from harness.sweep.run import run_sweep, start_run

BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
PROCESSES = 4


def make() -> nn.Module:
    """The trivial model (`--model benchmarks/driver_cost.py:make`)."""
    return nn.Linear(8, 2)


def driver_cost(results: Path, run_id: str) -> tuple[float, float, int]:
    """One sweep: its wall time, the sum of its processes' wall times, and their count."""
    config = SweepConfig(model=f"{Path(__file__).resolve()}:make", inputs=("input:float32[B,8]",),
                         backends=("cpu-eager",), phases=("infer",), scenarios=("latency",),
                         batch_sizes=BATCHES, processes=PROCESSES, quick=True)
    run_dir = start_run(config, results, run_id)
    start = time.perf_counter()
    run_sweep(run_dir, config, progress=False)
    wall = time.perf_counter() - start
    records = case_records(run_dir).values()
    failed = [r["row"]["reason"] for r in records if r["row"]["status"] != "ok"]
    if failed:
        raise SystemExit(f"the trivial sweep did not run: {failed[0]}")
    processes = [p for record in records for p in record["processes"]]
    return wall, sum(p["wall_s"] for p in processes), len(processes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    per_process = []
    with tempfile.TemporaryDirectory() as folder:
        for repeat in range(args.repeats):
            wall, in_processes, count = driver_cost(Path(folder), f"driver-{repeat}")
            per_process.append((wall - in_processes) / count)
            print(f"sweep {repeat + 1}: {count} processes, {wall:.1f} s wall, "
                  f"{in_processes:.1f} s in the processes, driver "
                  f"{per_process[-1] * 1e3:.0f} ms per process")
    print(f"driver cost per process: median {statistics.median(per_process) * 1e3:.0f} ms "
          f"over {args.repeats} sweeps")


if __name__ == "__main__":
    main()
