"""One case, start to finish, inside its own process (see `harness.worker`).

Order of work, and why:
1. Threads and seeds are set first, explicitly, and recorded.
2. Data, the synthetic batch and (for inference) the trained weights and their fp64 parity
   reference are obtained before the memory baseline, so the baseline is the process before
   the measured model exists.
3. The backend prepares the model (export, session, compilation): cold-start facts.
4. Cold call, then one more call (first steady latency), then the timing protocol. The peak
   resident memory is read right here, so it covers preparation and the timed region, not the
   evaluation and training budget that follow.
5. Accuracy and parity are measured after timing, on real held-out data, outside every timed
   region. For training, the weights are reset to their initial values after timing and the
   stated budget is trained through the same backend.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from harness.backends import get_backend
from harness.backends.base import Backend, CaseContext, InferenceRunner, TrainRunner
from harness.cases import Case, SweepConfig
from harness.environment import collect_environment, cpu_count
from harness.errors import one_line
from harness.measure import memory
from harness.measure.contention import ContentionMonitor
from harness.measure.contention import note as contention_note
from harness.measure.model_facts import count_params, flops_per_sample
from harness.measure.parity import PARITY_SAMPLES, parity
from harness.measure.stats import Summary, summarize, timing_columns
from harness.measure.timing import (
    DEFAULT_POLICY,
    QUICK_POLICY,
    TimingPolicy,
    TimingResult,
    time_loop,
)
from harness.training import final_loss, predict_in_batches, run_budget
from harness.weights import REFERENCE_BACKEND, model_key, store_state, trained_state
from suites.base import Suite, TaskData, top1_accuracy
from suites.registry import get_suite

QUICK_TRAIN_STEPS = 30


@dataclass
class CaseOutput:
    """What a case hands back: row fields (a subset of the schema) and raw samples."""

    row: dict[str, Any] = field(default_factory=dict)
    samples: dict[str, list[float]] = field(default_factory=dict)


def budget_steps(suite: Suite, quick: bool) -> int:
    return min(suite.task.train_steps, QUICK_TRAIN_STEPS) if quick else suite.task.train_steps


def configure_threads(config: SweepConfig) -> int:
    """Set torch's thread pools explicitly: intra-op to the cores, inter-op to 1 (these models
    have no independent ops to overlap, so more inter-op threads only compete for cores)."""
    threads = config.threads or cpu_count()
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    return threads


def run_case(case: Case, config: SweepConfig, cache_dir: Path) -> CaseOutput:
    threads = configure_threads(config)
    suite = get_suite(case.suite, config.suite_files)
    backend = get_backend(case.backend)
    out = CaseOutput()
    out.row.update(collect_environment())
    out.row.update(backend.settings())
    out.row.update(device=backend.device, precision=backend.precision, seed=config.seed,
                   batch_size=case.batch_size, torch_threads=torch.get_num_threads(),
                   torch_interop_threads=torch.get_num_interop_threads())
    data = suite.data(case.size)
    steps = budget_steps(suite, config.quick)
    out.row["train_steps"] = steps
    key = model_key(suite, case.size, steps, config.seed)
    ctx = CaseContext(cache_dir, threads, key, config.seed)
    weights = reference = None
    if case.phase == "infer":
        weights = trained_state(suite, case.size, data, steps, config.seed, cache_dir, threads)
        reference = fp64_reference(suite, case.size, data, weights, config.seed)
    x, y = suite.synthetic_batch(data, case.batch_size, config.seed)
    policy = QUICK_POLICY if config.quick else DEFAULT_POLICY

    # Memory: everything above (data, weights, the fp64 reference) predates the baseline.
    baseline_mb = memory.current_rss_mb()
    peak_was_reset = memory.reset_peak_rss()
    model = suite.model(case.size, data, config.seed)
    if weights is not None:
        model.load_state_dict(weights)
    out.row["params"] = count_params(model)
    out.row["flops_per_sample"] = flops_per_sample(model, data.x_test[:1])

    def record_peak() -> None:
        """Called right after the timed region: preparation and timing, not evaluation."""
        peak = memory.peak_rss_mb()
        out.row.update(peak_rss_mb=peak,
                       rss_increase_mb=peak - baseline_mb if peak_was_reset else math.nan)

    try:
        if case.phase == "infer":
            _infer(case, backend, model, data, x, reference, policy, ctx, record_peak, out)
        else:
            _train(case, backend, suite, model, data, x, y, policy, ctx, steps, record_peak,
                   out)
    except RuntimeError as exc:
        if out.row.get("precision_note"):  # an op emulated bf16 cannot build, say: say why
            message = one_line(exc).removeprefix(f"{type(exc).__name__}: ")
            raise RuntimeError(f"{message} ({out.row['precision_note']})") from exc
        raise
    return out


def fp64_reference(suite: Suite, size: str, data: TaskData, weights: dict[str, torch.Tensor],
                   seed: int) -> np.ndarray:
    """Logits of the same weights in fp64 on the CPU, for the parity batch."""
    model = suite.model(size, data, seed).double().eval()
    model.load_state_dict(weights)
    parity_x = data.x_test[:PARITY_SAMPLES]
    with torch.inference_mode():
        return model(parity_x.double() if parity_x.is_floating_point() else parity_x).numpy()


def _measure(runner: InferenceRunner | TrainRunner, step: Callable[[], object],
             policy: TimingPolicy, device: str, record_peak: Callable[[], None],
             out: CaseOutput) -> None:
    """Cold call, first steady call, then the timing protocol; then the peak memory and what
    the runner learned while preparing (cold-start facts, compile counters)."""
    start = time.perf_counter()
    step()
    runner.sync()
    out.row["cold_call_s"] = time.perf_counter() - start
    start = time.perf_counter()
    step()
    runner.sync()
    out.row["first_iter_ms"] = (time.perf_counter() - start) * 1e3
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    monitor = ContentionMonitor()
    timing = time_loop(step, runner.sync, policy, monitor=monitor)
    record_peak()
    if device == "cuda":
        out.row["cuda_peak_allocated_mb"] = torch.cuda.max_memory_allocated() / memory.MB
        out.row["cuda_peak_reserved_mb"] = torch.cuda.max_memory_reserved() / memory.MB
        out.row["device_mem_used_mb"] = memory.nvml_process_memory_mb(
            memory.torch_device_uuid(torch.cuda.current_device()))
    stats = _record_timing(timing, out)
    if monitor.result is not None:
        out.row.update(monitor.result.columns())
    out.row["contention_note"] = contention_note(monitor.result, stats.noisy, stats.rel_iqr)
    out.row.update(runner.facts)
    out.row.update(runner.counters())


def _record_timing(timing: TimingResult, out: CaseOutput) -> Summary:
    out.samples["iter_ms"] = timing.samples_ms
    stats = summarize(timing.samples_ms)
    out.row.update(timing_columns(stats, out.row["batch_size"]))
    out.row.update(timed_s=timing.timed_s, warmup_iters=timing.warmup_iters,
                   warmup_s=timing.warmup_s, stop_reason=timing.stop_reason)
    return stats


def _infer(case: Case, backend: Backend, model: torch.nn.Module, data: TaskData,
           x: torch.Tensor, reference: np.ndarray, policy: TimingPolicy, ctx: CaseContext,
           record_peak: Callable[[], None], out: CaseOutput) -> None:
    runner = backend.inference(model, ctx)
    _measure(runner, runner.bind(x), policy, backend.device, record_peak, out)

    logits = predict_in_batches(runner.predict, data.x_test, case.batch_size)
    out.row["accuracy"] = top1_accuracy(logits, data.y_test)
    result = parity(logits[:PARITY_SAMPLES].numpy(), reference, backend.precision)
    out.row.update(parity_max_abs_err=result.max_abs_err, parity_rel_err=result.rel_err,
                   parity_top1_agree=result.top1_agree, parity_tol=result.tol,
                   parity_ok=result.ok)


def _train(case: Case, backend: Backend, suite: Suite, model: torch.nn.Module, data: TaskData,
           x: torch.Tensor, y: torch.Tensor, policy: TimingPolicy, ctx: CaseContext,
           steps: int, record_peak: Callable[[], None], out: CaseOutput) -> None:
    initial = {k: v.detach().clone() for k, v in model.state_dict().items()}
    trainer = backend.training(model, suite.task, ctx)
    _measure(trainer, trainer.bind(x, y), policy, backend.device, record_peak, out)

    # The budget starts from the same initial weights for every backend (copied in place, so a
    # compiled graph stays valid), with a fresh optimizer.
    module = trainer.trained_module()
    with torch.no_grad():
        module.load_state_dict(initial)
    trainer.reset_optimizer()
    losses = run_budget(trainer.step, data, suite.task.train_batch, steps, ctx.seed)
    out.samples["train_loss"] = losses
    out.row["final_loss"] = final_loss(losses)
    if backend is REFERENCE_BACKEND:
        store_state(suite, case.size, steps, ctx.seed, ctx.cache_dir, module)

    module.eval()
    device = next(module.parameters()).device
    with torch.inference_mode():
        logits = predict_in_batches(lambda b: module(b.to(device)).float().cpu(),
                                    data.x_test, 256)
    out.row["accuracy"] = top1_accuracy(logits, data.y_test)
