"""Fidelity of the harness's timing: its median vs an independent timer on the same step.

For inference on transformer `small` and cnn `small` (freshly initialised weights: speed does
not depend on them), the harness times the runner's bound step with `time_loop` and
`DEFAULT_POLICY`. The reference is independent of that loop:
- PyTorch backends (e.g. cpu-eager): `torch.utils.benchmark.Timer.blocked_autorange` on the
  same bound step;
- ONNX Runtime backends (e.g. ort-cpu): a plain loop of `session.run` on the same session and
  input array, each call timed with `time.perf_counter` after a warm-up, as one would by hand.
- CUDA backends: two references for the two scenarios. The latency protocol (one step, then a
  synchronisation) against CUDA events recorded around each step on the device's own clock;
  the throughput protocol (blocks of steps, one synchronisation each) against `Timer`, whose
  blocks also synchronise only at their ends.
Same process, same model, inputs and thread count. The two are interleaved (harness, reference,
harness, reference, ...) and each round is a pair: the reported ratio is the median of the
per-round ratios, so a round in which the machine changed speed (a shared VM does) moves one
pair, not the result. Goal: 1.00 +- 0.03.

    .venv/bin/python benchmarks/fidelity.py [--backend cpu-eager|ort-cpu|cuda-eager] [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.benchmark import Timer

from harness.backends import BACKENDS, get_backend
from harness.backends.base import InferenceRunner
from harness.backends.onnx_export import INPUT_NAME
from harness.backends.ort import OrtInference
from harness.case.process import set_up_case
from harness.cases import Case, SweepConfig
from harness.measure.stats import summarize
from harness.measure.timing import DEFAULT_POLICY, time_loop
from harness.scenarios.throughput import block_size

CASES = (("transformer", "small"), ("cnn", "small"))
PLAIN_WARMUP_ITERS = 10
PLAIN_BUDGET_S = 2.0


def timer_median_ms(step: Callable[[], object], threads: int) -> float:
    measurement = Timer("step()", globals={"step": step},
                        num_threads=threads).blocked_autorange(min_run_time=2.0)
    return measurement.median * 1e3


def plain_session_median_ms(runner: OrtInference, x: torch.Tensor) -> float:
    """The hand-written ORT benchmark: warm up, then time single `session.run` calls."""
    session, feeds = runner.session, {INPUT_NAME: x.numpy()}
    for _ in range(PLAIN_WARMUP_ITERS):
        session.run(None, feeds)
    samples: list[float] = []
    while sum(samples) < PLAIN_BUDGET_S:
        start = time.perf_counter()
        session.run(None, feeds)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e3


def reference_median_ms(runner: InferenceRunner, step: Callable[[], object], x: torch.Tensor,
                        threads: int) -> float:
    if isinstance(runner, OrtInference):
        return plain_session_median_ms(runner, x)
    return timer_median_ms(step, threads)


def cuda_event_median_ms(step: Callable[[], object], budget_s: float = 1.0) -> float:
    """Per-step time on the device's clock: an event before and after each step."""
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    for _ in range(PLAIN_WARMUP_ITERS):
        step()
    torch.cuda.synchronize()
    samples: list[float] = []
    while sum(samples) < budget_s * 1e3:
        start.record()
        step()
        end.record()
        end.synchronize()
        samples.append(start.elapsed_time(end))
    return statistics.median(samples)


def cuda_rounds(runner: InferenceRunner, step: Callable[[], object], rounds: int,
                threads: int) -> list[tuple[float, float, float, float]]:
    """(harness latency, CUDA events, harness throughput, Timer) medians per round, in ms."""
    results = []
    for _ in range(rounds):
        latency = time_loop(step, runner.sync, DEFAULT_POLICY)
        throughput = time_loop(step, runner.sync, DEFAULT_POLICY,
                               block=lambda warmup: block_size(warmup, "cuda"))
        results.append((summarize(latency.samples_ms).median, cuda_event_median_ms(step),
                        summarize(throughput.samples_ms).median, timer_median_ms(step,
                                                                                  threads)))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="cpu-eager", choices=sorted(BACKENDS))
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    reason = get_backend(args.backend).unavailable_reason()
    if reason:  # e.g. cuda-eager without a GPU: one line, as archbench says it
        parser.exit(2, f"fidelity: {args.backend} is not available here: {reason}\n")
    config = SweepConfig()  # the sweep's defaults: every core, seed 0
    with tempfile.TemporaryDirectory() as cache_dir:
        # set up as a sweep's case process is: threads, backend settings, data, cache context
        setups = [set_up_case(Case(suite_name, size, args.backend, "infer", args.batch_size,
                                   "latency"), config, Path(cache_dir))
                  for suite_name, size in CASES]
        threads = setups[0].ctx.threads
        print(f"backend {args.backend}, batch {args.batch_size}, {threads} threads, "
              f"torch {torch.__version__}")
        print(f"{'case':20s} {'harness ms':>11s} {'ref ms':>9s} {'ratio':>6s}  per-round ratios")
        for (suite_name, size), setup in zip(CASES, setups, strict=True):
            suite, backend = setup.suite, setup.backend
            model = suite.model(size, setup.data, seed=config.seed)
            runner = backend.inference(model, setup.ctx)
            x = suite.synthetic_batch(setup.data, args.batch_size, seed=config.seed)[0]
            step = runner.bind(x)
            if backend.device == "cuda":
                report_cuda(f"{suite_name}/{size}", cuda_rounds(runner, step, args.rounds,
                                                               threads))
                continue
            harness_ms, reference_ms = [], []
            for _ in range(args.rounds):
                samples = time_loop(step, runner.sync, DEFAULT_POLICY).samples_ms
                harness_ms.append(summarize(samples).median)
                reference_ms.append(reference_median_ms(runner, step, x, threads))
            ratios = [h / r for h, r in zip(harness_ms, reference_ms, strict=True)]
            print(f"{suite_name + '/' + size:20s} {statistics.median(harness_ms):11.4f} "
                  f"{statistics.median(reference_ms):9.4f} {statistics.median(ratios):6.3f}  "
                  + " ".join(f"{r:.3f}" for r in ratios))


def report_cuda(case: str, rounds: list[tuple[float, float, float, float]]) -> None:
    latency, events, throughput, timer = (list(column) for column in zip(*rounds, strict=True))
    for name, harness, reference in (("latency vs CUDA events", latency, events),
                                     ("throughput vs Timer", throughput, timer)):
        ratios = [h / r for h, r in zip(harness, reference, strict=True)]
        print(f"{case:20s} {statistics.median(harness):11.4f} {statistics.median(reference):9.4f}"
              f" {statistics.median(ratios):6.3f}  {name}: "
              + " ".join(f"{r:.3f}" for r in ratios))


if __name__ == "__main__":
    main()
