"""One process of a case, start to finish (see `harness.case.worker`).

A case is timed in several fresh processes (`CaseConfig.processes`), because one process's
speed is not the machine's: memory layout, address randomisation and thread placement make
fresh processes of the same case differ far more than the iterations of one process do. The
first process of a case (`process == 0`) does everything; the others only what varies from
process to process, the timing, so that a repeat costs little more than its timed seconds:

============================  ==========  =========
work                          first       repeats
============================  ==========  =========
threads, seeds, environment   yes         yes
model facts (params, FLOPs)   yes         no
fp64 parity reference         yes         no
preparation, cold call        yes         yes (own cold-start facts are not kept)
timing protocol, memory       yes         yes
profile (``--profile``)       yes         no
accuracy, parity              yes         no
training budget               yes         no
============================  ==========  =========

Order of work within a process, and why:
1. Threads and seeds are set first, explicitly, and recorded.
2. Data, the synthetic batch and (for inference) the weights, trained or as built, and their
   fp64 parity reference are obtained before the memory baseline, so the baseline is the
   process before the measured model exists. The model's forward is checked against the
   declared inputs first, so a misspelt input is one line, not a traceback from inside it.
3. The case's scenario (`harness.scenarios`) binds an input batch (export, session,
   compilation: cold-start facts), makes a cold call and one more call (first steady
   latency), then times it by the scenario's protocol. The peak resident memory is read right
   after, so it covers preparation and the timed region, not the evaluation and training
   budget that follow. With `--profile`, the first process then profiles K more steps
   (`harness.profiling`): after the timing and the memory reading, so that neither sees it.
5. Accuracy and parity are measured after timing, on real held-out data, outside every timed
   region. For training, the weights are reset to their initial values after timing and the
   stated budget is trained through the same backend.

A suite without a task (`suites.inputs`) has no held-out data: parity is measured on a fixed
synthetic batch (`PARITY_SAMPLES` samples, from the seed), accuracy is left empty with the
reason in `accuracy_note`, and a train case times its steps on synthetic targets without a
budget to train (there is nothing to evaluate it on).
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from harness.backends import get_backend
from harness.backends.base import Backend, BackendUnavailable, CaseContext, no_cuda_reason
from harness.case.training import final_loss, predict_in_batches, run_budget
from harness.case.weights import (
    built_state,
    model_key,
    reference_backend,
    store_state,
    trained_state,
)
from harness.cases import CaseConfig
from harness.errors import one_line
from harness.machine.environment import collect_environment, cpu_count
from harness.machine.process_age import process_age_s
from harness.measure import memory
from harness.measure.model_facts import count_params, flops_per_sample
from harness.measure.parity import PARITY_SAMPLES, parity
from harness.model_io import call, check_accepts, select_output, take, to_device, to_double
from harness.profiling.case_profile import ProfileTarget, profile_case
from harness.protocol import Case
from harness.results.storage import write_json_atomic
from harness.scenarios import Binding, ScenarioRequest, get_scenario
from suites.base import NO_TASK, Suite, TaskData, top1_accuracy
from suites.inputs import Batch
from suites.registry import get_suite

QUICK_TRAIN_STEPS = 30


@dataclass
class CaseOutput:
    """What a process of a case hands back: row fields (a subset of the schema), raw
    samples (`iter_ms` always; `train_loss` from the first process of a train case) and,
    from a profiled first process, the op table (`harness.results.schema.OPS_SCHEMA` rows
    without the run and case ids; its trace is already written to the run folder)."""

    row: dict[str, Any] = field(default_factory=dict)
    samples: dict[str, list[float]] = field(default_factory=dict)
    ops: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class CaseRun:
    """Everything one process of a case works with, so the steps below take one argument."""

    case: Case
    config: CaseConfig
    suite: Suite
    backend: Backend
    data: TaskData | None  # None: a suite without a task
    ctx: CaseContext
    steps: int
    process: int  # 0-based; the first does accuracy, parity, budget and model facts too
    out: CaseOutput = field(default_factory=CaseOutput)
    baseline_mb: float = math.nan
    peak_was_reset: bool = False
    run_dir: Path | None = None  # the run's folder, where a profile's trace goes

    @property
    def first(self) -> bool:
        """The case's first process: accuracy, parity, budget and model facts too."""
        return self.process == 0

    @property
    def profiling(self) -> bool:
        """`--profile`, in the case's first process (the profile is of the case, not of each
        process)."""
        return self.config.profile and self.first

    def peak_columns(self) -> dict[str, float]:
        """Read right after the timed region: preparation and timing, not evaluation."""
        peak = memory.peak_rss_mb()
        return {"peak_rss_mb": peak, "rss_increase_mb": peak - self.baseline_mb
                if self.peak_was_reset else math.nan}

    def measure(self, binding: Binding) -> None:
        """The case's scenario on `binding`; what it measured goes into the output."""
        case = self.case
        profiler = (functools.partial(profile_case, ProfileTarget(
            self.suite, case.size, self.data, case.phase, self.config.seed, case.case_id,
            self.run_dir)) if self.profiling else None)
        log_dir = (self.run_dir / "loadgen" / case.case_id / f"process-{self.process + 1}"
                   if self.run_dir is not None else None)
        outcome = get_scenario(case.scenario).measure(ScenarioRequest(
            case.batch_size, self.config.timing_policy, bool(self.config.quick),
            self.peak_columns, profiler, self.config.serving, self.config.seed, log_dir,
            self.config.energy),
            binding)
        self.out.row.update(outcome.columns)
        if log_dir is not None and log_dir.exists():  # a serving scenario kept LoadGen's logs
            self.out.row["loadgen_log_dir"] = str(log_dir.relative_to(self.run_dir))
        self.out.samples.update(outcome.samples)
        self.out.ops = outcome.ops


def budget_steps(suite: Suite, quick: bool) -> int:
    """The training budget; 0 for a suite without a task (nothing to train on)."""
    if suite.task is None:
        return 0
    return min(suite.task.train_steps, QUICK_TRAIN_STEPS) if quick else suite.task.train_steps


def configure_threads(config: CaseConfig) -> int:
    """Set torch's thread pools explicitly: intra-op to the cores, inter-op to 1 (these models
    have no independent ops to overlap, so more inter-op threads only compete for cores).

    torch lets a process set its inter-op pool once, before any parallel work: a case's own
    process always can; a process that measures many cases (pytest-benchmark's) keeps what
    it set first, and every row records the pools as they are."""
    threads = config.threads or cpu_count()
    torch.set_num_threads(threads)
    if torch.get_num_interop_threads() != 1:
        with contextlib.suppress(RuntimeError):
            torch.set_num_interop_threads(1)
    return threads


@dataclass(frozen=True)
class CaseSetup:
    """What every measurement of a case starts from, whoever takes it (a sweep's case process,
    the pytest-benchmark suite, benchmarks/fidelity.py): the same thread pools and backend
    settings, suite, data and cache context, so that their numbers are of the same thing."""

    suite: Suite
    backend: Backend
    data: TaskData | None  # None: a suite without a task
    ctx: CaseContext
    steps: int  # the training budget
    settings: dict[str, Any]  # the backend's numeric settings, as applied


def set_up_case(case: Case, config: CaseConfig, cache_dir: Path) -> CaseSetup:
    """Threads, the suite and backend, the data, the model's cache key and the backend's
    settings, in that order."""
    threads = configure_threads(config)
    suite = get_suite(case.suite, config.suite_files, config.model_target)
    backend = get_backend(case.backend)
    data = suite.data(case.size)
    steps = budget_steps(suite, config.quick)
    key = model_key(suite, case.size, steps, config.seed, data)
    ctx = CaseContext(cache_dir, threads, key, config.seed, suite.output, suite.dynamic_axes(),
                      case.scenario, config.in_flight)
    return CaseSetup(suite, backend, data, ctx, steps, backend.settings())


def run_case(case: Case, config: CaseConfig, cache_dir: Path, process: int = 0,
             run_dir: Path | None = None) -> CaseOutput:
    """Run process `process` (0-based) of `case`; see the module docstring for what it does.
    `run_dir` is where a profiled case writes its trace."""
    import_s = process_age_s()  # the interpreter and the imports, before anything of the case
    setup = set_up_case(case, config, cache_dir)
    backend, steps = setup.backend, setup.steps
    run = CaseRun(case, config, setup.suite, backend, setup.data, setup.ctx, steps,
                  process=process, run_dir=run_dir)
    row = run.out.row
    row.update(collect_environment())
    row.update(setup.settings)
    row["import_s"] = import_s
    row.update(device=backend.device, precision=backend.precision, seed=config.seed,
               batch_size=case.batch_size, torch_threads=torch.get_num_threads(),
               torch_interop_threads=torch.get_num_interop_threads(), train_steps=steps)
    try:
        if case.phase == "infer":
            _infer(run)
        else:
            _train(run)
    except RuntimeError as exc:
        if row.get("precision_note"):  # an op emulated bf16 cannot build, say: say why
            message = one_line(exc).removeprefix(f"{type(exc).__name__}: ")
            raise RuntimeError(f"{message} ({row['precision_note']})") from exc
        raise
    return run.out


def eval_inputs(suite: Suite, data: TaskData | None, seed: int) -> Batch:
    """What accuracy and parity run on: the held-out inputs, or for a suite without a task a
    fixed synthetic batch of `PARITY_SAMPLES` (seeded, so every backend sees the same)."""
    if data is not None:
        return data.x_test
    return suite.synthetic_batch(None, PARITY_SAMPLES, seed + 1)[0]


def built_model(suite: Suite, size: str, data: TaskData | None, seed: int) -> torch.nn.Module:
    """The suite's model (fresh, seeded), its forward checked against the inputs it will be
    given."""
    model = suite.model(size, data, seed)
    check_accepts(model, take(eval_inputs(suite, data, seed), 0, 1))
    return model


def fp64_reference(suite: Suite, size: str, data: TaskData | None,
                   weights: dict[str, torch.Tensor], seed: int) -> np.ndarray:
    """The compared output of the same weights in fp64 for the parity batch: on CUDA where
    there is a device (the `xl` transformer's batch is 1.4 TFLOP, half a minute of fp64 on a
    CPU), on the CPU elsewhere; fp64 agrees with itself far below every parity tolerance."""
    device = "cuda" if no_cuda_reason() is None else "cpu"
    model = built_model(suite, size, data, seed).double().eval()
    model.load_state_dict(weights)
    model.to(device)
    parity_x = take(eval_inputs(suite, data, seed), 0, PARITY_SAMPLES)
    with torch.inference_mode():
        out = call(model, to_device(to_double(parity_x), device))
        return select_output(out, suite.output).cpu().numpy()


def model_facts(run: CaseRun, model: torch.nn.Module) -> dict[str, int]:
    """Parameters and forward FLOPs per sample, counted once per model and cached: counting
    FLOPs imports torch's tracing machinery (about 1.7 s), and every backend of a model would
    pay it again for the same number."""
    name = f"{run.case.suite}-{run.case.size}-{run.ctx.model_key}.json"
    path = run.ctx.cache_dir / "facts" / name
    if path.exists():
        return json.loads(path.read_text())
    facts = {"params": count_params(model),
             "flops_per_sample": flops_per_sample(model, take(_eval_inputs(run), 0, 1))}
    write_json_atomic(path, facts)
    return facts


def _new_model(run: CaseRun, weights: dict[str, torch.Tensor] | None) -> torch.nn.Module:
    """The memory baseline, then the model: everything before (data, weights, the fp64
    reference) predates the baseline."""
    run.baseline_mb = memory.current_rss_mb()
    run.peak_was_reset = memory.reset_peak_rss()
    model = built_model(run.suite, run.case.size, run.data, run.config.seed)
    if weights is not None:
        model.load_state_dict(weights)
    if run.first:
        run.out.row.update(model_facts(run, model))
    return model


def _infer(run: CaseRun) -> None:
    """Weights as built run untouched (`_new_model` loads nothing); the fp64 reference takes
    a copy of them (`built_state`), so the timed model is exactly what `build` returned."""
    case, config, suite = run.case, run.config, run.suite
    run.out.row["weights"] = suite.weights
    if suite.as_built:
        weights = None
        reference_weights = built_state(suite, case.size, run.data, config.seed)
        run.out.row["train_steps"] = 0  # not a step of ours, whatever the task's budget
    else:
        weights = reference_weights = trained_state(suite, case.size, run.data, run.steps,
                                                    config.seed, run.ctx.cache_dir,
                                                    run.ctx.threads)
    reference = (fp64_reference(suite, case.size, run.data, reference_weights, config.seed)
                 if run.first else None)
    model = _new_model(run, weights)
    if suite.as_built:
        _check_deterministic(model, reference_weights)
    runner = run.backend.inference(model, run.ctx)
    run.measure(Binding(
        runner, lambda batch: runner.bind(suite.synthetic_batch(run.data, batch,
                                                                config.seed)[0]),
        run.backend.device))
    if reference is None:
        return
    logits = predict_in_batches(runner.predict, _eval_inputs(run), case.batch_size)
    _record_accuracy(run, logits)
    result = parity(logits[:PARITY_SAMPLES].numpy(), reference, run.backend.precision)
    run.out.row.update(parity_max_abs_err=result.max_abs_err, parity_rel_err=result.rel_err,
                       parity_top1_agree=result.top1_agree, parity_tol=result.tol,
                       parity_ok=result.ok)


def _check_deterministic(model: torch.nn.Module, first: dict[str, torch.Tensor]) -> None:
    """Weights as built are built twice (the fp64 reference and the key take the first, the
    timed model is the second): both must be the same, or parity compares two models."""
    state = model.state_dict()
    if state.keys() != first.keys() or not all(torch.equal(state[k], v)
                                               for k, v in first.items()):
        raise RuntimeError("build returned other weights on a second call with the same seed; "
                           "weights as built must be reproducible (seed torch, or load them "
                           "from a checkpoint)")


def _eval_inputs(run: CaseRun) -> Batch:
    return eval_inputs(run.suite, run.data, run.config.seed)


def _record_accuracy(run: CaseRun, logits: torch.Tensor) -> None:
    """Top-1 on the held-out labels, or no accuracy and why."""
    if run.data is None:
        run.out.row["accuracy_note"] = NO_TASK
    else:
        run.out.row["accuracy"] = top1_accuracy(logits, run.data.y_test)


def _train(run: CaseRun) -> None:
    objective = run.suite.objective()
    if objective is None:  # planned as skipped (`Suite.train_skip_reason`); run by hand here
        raise BackendUnavailable(run.suite.train_skip_reason() or "")
    model = _new_model(run, None)
    initial = {k: v.detach().clone() for k, v in model.state_dict().items()}
    trainer = run.backend.training(model, objective, run.ctx)
    run.measure(Binding(
        trainer, lambda batch: trainer.bind(*run.suite.synthetic_batch(run.data, batch,
                                                                       run.config.seed)),
        run.backend.device))
    if not run.first:
        return
    if run.data is None:  # no data to train the budget on, nor to evaluate it
        run.out.row["accuracy_note"] = NO_TASK
        return

    # The budget starts from the same initial weights for every backend (copied in place, so a
    # compiled graph stays valid), with a fresh optimizer.
    module = trainer.trained_module()
    with torch.no_grad():
        module.load_state_dict(initial)
    trainer.reset_optimizer()
    losses = run_budget(trainer.step, run.data, run.suite.task.train_batch, run.steps,
                        run.ctx.seed)
    run.out.samples["train_loss"] = losses
    run.out.row["final_loss"] = final_loss(losses)
    if run.backend is reference_backend() and not run.suite.as_built:
        store_state(run.suite, run.case.size, run.ctx.model_key, run.ctx.cache_dir, module)

    module.eval()
    device = next(module.parameters()).device
    with torch.inference_mode():
        logits = predict_in_batches(
            lambda b: select_output(call(module, to_device(b, device)),
                                    run.suite.output).float().cpu(), run.data.x_test, 256)
    _record_accuracy(run, logits)
