"""Fidelity of the harness's timing: its median vs `torch.utils.benchmark.Timer` on the same step.

For CPU eager inference on transformer `small` and cnn `small` (trained-weights irrelevant to
speed, so freshly initialised ones are used), the same bound step (same model, same fixed
input, same thread count) is timed in this one process by both. The two are interleaved
(harness, Timer, harness, Timer, ...) and each round is a pair: the reported ratio is the
median of the per-round ratios, so a round in which the machine changed speed (a shared VM
does) moves one pair, not the result. Goal: 1.00 +- 0.03.

    .venv/bin/python benchmarks/fidelity.py [--rounds 3] [--batch-size 32]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch
from torch.utils.benchmark import Timer

from harness.backends import get_backend
from harness.backends.base import CaseContext
from harness.environment import cpu_count
from harness.measure.stats import summarize
from harness.measure.timing import DEFAULT_POLICY, time_loop
from suites.registry import BUILTIN

CASES = (("transformer", "small"), ("cnn", "small"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--backend", default="cpu-eager")
    args = parser.parse_args()
    threads = cpu_count()
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    print(f"backend {args.backend}, batch {args.batch_size}, {threads} threads, "
          f"torch {torch.__version__}")
    print(f"{'case':20s} {'harness ms':>11s} {'Timer ms':>9s} {'ratio':>6s}  per-round ratios")
    for suite_name, size in CASES:
        suite = BUILTIN[suite_name]
        data = suite.data(size)
        model = suite.model(size, data, seed=0)
        backend = get_backend(args.backend)
        backend.settings()
        runner = backend.inference(model, CaseContext(Path("results/.cache"), threads, "fid"))
        step = runner.bind(suite.synthetic_batch(data, args.batch_size, seed=0)[0])
        harness_ms, timer_ms = [], []
        for _ in range(args.rounds):
            harness_ms.append(summarize(time_loop(step, runner.sync,
                                                  DEFAULT_POLICY).samples_ms).median)
            measurement = Timer("step()", globals={"step": step},
                                num_threads=threads).blocked_autorange(min_run_time=2.0)
            timer_ms.append(measurement.median * 1e3)
        ratios = [a / b for a, b in zip(harness_ms, timer_ms, strict=True)]
        h, t = statistics.median(harness_ms), statistics.median(timer_ms)
        rounds = " ".join(f"{r:.3f}" for r in ratios)
        print(f"{suite_name + '/' + size:20s} {h:11.4f} {t:9.4f} "
              f"{statistics.median(ratios):6.3f}  {rounds}")


if __name__ == "__main__":
    main()
