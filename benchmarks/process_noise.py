"""Why fresh processes of one case differ: the same case under thread-placement and allocator
settings, interleaved, and the spread between its processes under each.

On this 2-vCPU VM, fresh processes of transformer/small cpu-eager at batch 32 read anywhere from
about 2 to 9 ms (two speeds, not a bell), and the same process can flip between them. Each
variant below is a set of environment variables for the case's process, among the causes
pyperf's system checks and PyTorch's performance guide name: where the OpenMP threads run,
huge pages for torch's tensors or for malloc, and glibc's mmap threshold. The rounds run every
case under every variant, one process each, so a slow phase of the machine touches all of them
alike. Per case and variant: the processes' centre, their spread (`between_cv`), the interval's
half-width and the ratio of the slowest to the fastest process.

What it found (docs/measurements.md): glibc's malloc is the cause. It serves a large tensor with
mmap and unmaps it on free, so each step page-faults its activations afresh, until its dynamic
threshold rises past the sizes freed, at a moment that differs between processes. A fixed
threshold and no trimming (`harness.executors.isolation.STEADY_MALLOC`, now the sweep's
default) took transformer/small from a 13% spread to 1.2%, and binding threads made every case
60-85% slower.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from harness.cases import SweepConfig
from harness.executors.isolation import launch
from harness.executors.launch import worker_spec
from harness.measure.precision import precision
from harness.measure.stats import process_level
from harness.protocol import Case
from harness.results.markdown import markdown_table

CASES = (Case("transformer", "small", "cpu-eager", "infer", 32, "throughput"),
         Case("transformer", "medium", "cpu-eager", "infer", 32, "throughput"),
         Case("cnn", "small", "cpu-eager", "infer", 32, "throughput"))
GLIBC_DEFAULT = {"GLIBC_TUNABLES": ""}  # empty: glibc's own settings, not STEADY_MALLOC
VARIANTS = {
    "malloc as glibc ships it": GLIBC_DEFAULT,
    "threads bound to cores": {**GLIBC_DEFAULT, "OMP_PROC_BIND": "close", "OMP_PLACES": "cores"},
    "torch's tensors on huge pages": {**GLIBC_DEFAULT, "THP_MEM_ALLOC_ENABLE": "1"},
    "malloc on huge pages": {"GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"},
    "steady malloc (the sweep's)": {},  # `harness.executors.isolation.STEADY_MALLOC`
}


def run(rounds: int, results: Path) -> dict[tuple[str, str], list[float]]:
    config = SweepConfig(processes=3)
    cache = results / ".cache"
    medians: dict[tuple[str, str], list[float]] = {}
    for case in CASES:  # a first process each: weights, ONNX files, data split into the cache
        launch(worker_spec(case, config, cache, 0, None), 600, results / "warm.log",
               sys.executable)
    for round_ in range(rounds):
        for case in CASES:
            for name, env in VARIANTS.items():
                result = launch(worker_spec(case, config, cache, 1, None), 600,
                                results / "noise.log", sys.executable, env=env)
                if result.ok:
                    medians.setdefault((case.case_id, name), []).append(
                        float(np.median(result.samples["iter_ms"])))
        print(f"round {round_ + 1}/{rounds} done", flush=True)
    return medians


def table(medians: dict[tuple[str, str], list[float]]) -> str:
    rows = []
    for (case_id, name), values in medians.items():
        level = process_level(values)
        rows.append({"case": case_id, "variant": name, "processes": len(values),
                     "centre ms": f"{level.center:.3g}",
                     "between-process spread": f"{level.between_cv:.1%}",
                     "±95%": f"{precision(level.center, level.ci_low, level.ci_high):.1%}",
                     "slowest / fastest": f"{max(values) / min(values):.2f}"})
    return markdown_table(pd.DataFrame(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--results", type=Path, required=True)
    args = parser.parse_args()
    medians = run(args.rounds, args.results)
    print(table(medians))


if __name__ == "__main__":
    main()
