"""Fidelity of the harness's timing on ONNX Runtime: its median vs a plain `session.run` loop.

For ort-cpu on transformer `small` and cnn `small` (freshly initialised weights: speed does not
depend on them), the harness times the runner's bound step with `time_loop` and
`DEFAULT_POLICY`; the plain loop calls `session.run` on the same session with the same input
array, timing each call with `time.perf_counter` after a warm-up, as one would by hand. Same
process, same session options, same thread count for torch and ORT (all available cores). The
two are interleaved (harness, plain, harness, plain, ...) so that slow drift of the machine
affects both alike; the ratio of their medians-of-medians is reported. Goal: 1.00 +- 0.03.

    .venv/bin/python benchmarks/fidelity_ort.py [--rounds 3] [--batch-size 32]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import onnxruntime as ort
import torch

from harness.backends.base import CaseContext
from harness.backends.onnx_export import INPUT_NAME
from harness.backends.ort import ORT_CPU
from harness.environment import cpu_count
from harness.measure.stats import summarize
from harness.measure.timing import DEFAULT_POLICY, time_loop
from suites.registry import BUILTIN

CASES = (("transformer", "small"), ("cnn", "small"))
WARMUP_ITERS = 10
PLAIN_BUDGET_S = 2.0


def plain_median_ms(session: ort.InferenceSession, feeds: dict) -> float:
    """The hand-written benchmark: warm up, then time single `session.run` calls."""
    for _ in range(WARMUP_ITERS):
        session.run(None, feeds)
    samples: list[float] = []
    while sum(samples) < PLAIN_BUDGET_S:
        start = time.perf_counter()
        session.run(None, feeds)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    threads = cpu_count()
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    print(f"{ORT_CPU.name}, batch {args.batch_size}, {threads} threads, "
          f"onnxruntime {ort.__version__}, torch {torch.__version__}")
    print(f"{'case':20s} {'harness ms':>11s} {'plain ms':>9s} {'ratio':>6s}  per round")
    with tempfile.TemporaryDirectory() as cache_dir:
        for suite_name, size in CASES:
            suite = BUILTIN[suite_name]
            data = suite.data(size)
            model = suite.model(size, data, seed=0)
            ctx = CaseContext(Path(cache_dir), threads, f"fidelity-{suite_name}-{size}")
            runner = ORT_CPU.inference(model, ctx)
            x = suite.synthetic_batch(data, args.batch_size, seed=0)[0]
            step = runner.bind(x)
            feeds = {INPUT_NAME: x.numpy()}
            harness_ms, plain_ms = [], []
            for _ in range(args.rounds):
                timing = time_loop(step, runner.sync, DEFAULT_POLICY)
                harness_ms.append(summarize(timing.samples_ms).median)
                plain_ms.append(plain_median_ms(runner.session, feeds))
            h, p = statistics.median(harness_ms), statistics.median(plain_ms)
            rounds = " ".join(f"{a / b:.3f}" for a, b in zip(harness_ms, plain_ms, strict=True))
            print(f"{suite_name + '/' + size:20s} {h:11.4f} {p:9.4f} {h / p:6.3f}  {rounds}")


if __name__ == "__main__":
    main()
