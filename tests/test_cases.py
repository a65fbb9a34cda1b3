"""The case matrix: how a sweep configuration expands, and what bad names say."""

from __future__ import annotations

import pytest
import torch

from harness import cases
from harness.backends import BACKENDS, amp, get_backend
from harness.backends import compile as compile_backends
from harness.backends.base import Backend
from harness.cases import Case, SweepConfig, expand, scenario_batches
from harness.errors import UsageError
from harness.machine.cpu_features import Bf16Support
from suites.registry import BUILTIN
from tests.conftest import MLP_SUITE_FILE

needs_no_cuda = pytest.mark.skipif(torch.cuda.is_available(),
                                   reason="CUDA is available: cuda-* backends are not skipped")


def test_case_id_names_every_coordinate() -> None:
    case = Case("cnn", "tiny", "cpu-eager", "infer", 32, "throughput")
    assert case.case_id == "cnn-tiny-cpu-eager-infer-throughput-bs32"
    # a case made without a scenario (an older caller) is the one-step-at-a-time measurement
    assert Case("cnn", "tiny", "cpu-eager", "infer", 1).case_id == (
        "cnn-tiny-cpu-eager-infer-latency-bs1")


def test_expansion_is_the_full_product_in_a_stable_order() -> None:
    config = SweepConfig(suites=("rnn", "cnn"), sizes=("tiny", "small"),
                         backends=("cpu-eager", "cpu-amp-bf16"), phases=("infer", "train"),
                         scenarios=("latency", "throughput"), batch_sizes=(1, 32, 64))
    planned = expand(config)
    assert len(planned) == 2 * 2 * 2 * 2 * 2 * 3
    assert len({p.case.case_id for p in planned}) == len(planned)
    assert all(p.skip_reason is None for p in planned)
    # selection order: suite, size, backend, phase, scenario, batch size
    assert [p.case for p in planned[:4]] == [
        Case("rnn", "tiny", "cpu-eager", "infer", 1, "latency"),
        Case("rnn", "tiny", "cpu-eager", "infer", 32, "latency"),
        Case("rnn", "tiny", "cpu-eager", "infer", 64, "latency"),
        Case("rnn", "tiny", "cpu-eager", "infer", 1, "throughput")]
    assert planned[-1].case == Case("cnn", "small", "cpu-amp-bf16", "train", 64, "throughput")
    assert [p.case for p in expand(config)] == [p.case for p in planned]


def test_empty_selection_means_all_suites_default_sizes_all_backends_both_phases(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The default plan: inference and training pipelined at batch 32, and on CUDA inference
    one request at a time at batch 1 too (on a machine without CUDA, whose default sizes these
    are: its CUDA backends are skipped rows, planned as on a GPU machine)."""
    monkeypatch.setattr(cases, "no_cuda_reason", lambda: "no CUDA device (test)")
    planned = expand(SweepConfig())
    n_sizes = sum(len(suite.default_sizes) for suite in BUILTIN.values())
    n_cuda = sum(BACKENDS[name].device == "cuda" for name in BACKENDS)
    assert len(planned) == n_sizes * ((len(BACKENDS) - n_cuda) * 2 + n_cuda * 3)
    assert {p.case.size for p in planned} == {"small", "medium"}
    assert {(p.case.phase, p.case.scenario, p.case.batch_size) for p in planned} == {
        ("infer", "throughput", 32), ("infer", "latency", 1), ("train", "throughput", 32)}
    assert {p.case.backend for p in planned if p.case.scenario == "latency"} == {
        name for name in BACKENDS if BACKENDS[name].device == "cuda"}
    first = [p.case for p in planned[:2]]
    assert [(c.phase, c.scenario, c.batch_size) for c in first] == [
        ("train", "throughput", 32), ("infer", "throughput", 32)]
    assert len({c.backend for c in first}) == 1


@pytest.mark.parametrize(("overrides", "infer", "train"), [
    ({}, [("throughput", 32), ("latency", 1)], [("throughput", 32)]),
    # named scenarios replace the default plan, in both phases, each at its own batch
    ({"scenarios": ("latency",)}, [("latency", 1)], [("latency", 1)]),
    ({"scenarios": ("latency", "throughput")}, [("latency", 1), ("throughput", 32)],
     [("latency", 1), ("throughput", 32)]),
    # explicit batch sizes replace the default batch of every scenario that runs at one
    ({"batch_sizes": (8,)}, [("throughput", 8), ("latency", 8)], [("throughput", 8)]),
    ({"batch_sizes": (1, 64)}, [("throughput", 1), ("throughput", 64), ("latency", 1),
                                ("latency", 64)], [("throughput", 1), ("throughput", 64)]),
    # a batch sweep chooses its own batches, starting from its own; batch sizes do not apply
    ({"scenarios": ("batch-sweep",), "batch_sizes": (8, 16)}, [("batch-sweep", 1)],
     [("batch-sweep", 1)]),
    ({"scenarios": ("batch-sweep", "latency"), "batch_sizes": (8,)},
     [("batch-sweep", 1), ("latency", 8)], [("batch-sweep", 1), ("latency", 8)]),
    # a scenario or batch size given twice is one case, not two with the same id
    ({"scenarios": ("latency", "latency"), "batch_sizes": (4, 4)}, [("latency", 4)],
     [("latency", 4)]),
], ids=["default-plan", "latency", "two-named", "batch-8", "two-batches", "batch-sweep",
        "batch-sweep-and-latency", "repeated"])
def test_scenario_batches_per_phase(overrides: dict, infer: list, train: list) -> None:
    config = SweepConfig(**overrides)
    assert scenario_batches(config, "infer", "cuda") == infer
    assert scenario_batches(config, "train", "cuda") == train


def test_the_cpu_default_plan_leaves_latency_to_a_request() -> None:
    """Synchronous execution: no launch overhead to expose, and the budget of a small machine
    (DEFAULT_PLAN); named, latency runs on the CPU as anywhere."""
    assert scenario_batches(SweepConfig(), "infer", "cpu") == [("throughput", 32)]
    assert scenario_batches(SweepConfig(), "train", "cpu") == [("throughput", 32)]
    named = SweepConfig(scenarios=("throughput", "latency"))
    assert scenario_batches(named, "infer", "cpu") == [("throughput", 32), ("latency", 1)]
    cases = expand(SweepConfig(suites=("cnn",), sizes=("tiny",),
                               backends=("cpu-eager", "cuda-eager")))
    assert {(p.case.backend, p.case.phase, p.case.scenario) for p in cases} == {
        ("cpu-eager", "train", "throughput"), ("cpu-eager", "infer", "throughput"),
        ("cuda-eager", "train", "throughput"), ("cuda-eager", "infer", "throughput"),
        ("cuda-eager", "infer", "latency")}


def test_expand_plans_one_case_per_scenario_and_batch_of_each_phase() -> None:
    config = SweepConfig(suites=("cnn",), sizes=("tiny",), backends=("cpu-eager",),
                         batch_sizes=(8,), scenarios=("throughput", "latency"))
    assert [p.case.case_id for p in expand(config)] == [
        "cnn-tiny-cpu-eager-train-throughput-bs8", "cnn-tiny-cpu-eager-train-latency-bs8",
        "cnn-tiny-cpu-eager-infer-throughput-bs8", "cnn-tiny-cpu-eager-infer-latency-bs8"]
    sweep = SweepConfig(suites=("cnn",), sizes=("tiny",), backends=("cpu-eager",),
                        phases=("infer",), scenarios=("batch-sweep",), batch_sizes=(8, 16))
    assert [p.case.case_id for p in expand(sweep)] == ["cnn-tiny-cpu-eager-infer-batch-sweep-bs1"]


@needs_no_cuda
def test_unavailable_backends_are_planned_as_skipped_with_a_reason() -> None:
    planned = expand(SweepConfig(suites=("cnn",), sizes=("tiny",),
                                 backends=("cpu-eager", "cuda-eager", "cuda-amp-fp16")))
    reasons = {p.case.backend: p.skip_reason for p in planned}
    assert len(planned) == 2 + 2 * (1 + 2)  # training; inference in one scenario, on CUDA two
    assert reasons["cpu-eager"] is None
    for name in ("cuda-eager", "cuda-amp-fp16"):  # every scenario of the backend is skipped
        assert all(p.skip_reason for p in planned if p.case.backend == name)
    for name in ("cuda-eager", "cuda-amp-fp16"):
        assert "CUDA" in reasons[name]


class InferOnly(Backend):
    name, device, precision, description = "infer-only", "cpu", "fp32", "test backend"
    phases = ("infer",)

    def inference(self, model, ctx):
        raise NotImplementedError


def test_a_phase_the_backend_lacks_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(BACKENDS, "infer-only", InferOnly())
    planned = expand(SweepConfig(suites=("cnn",), sizes=("tiny",), backends=("infer-only",),
                                 scenarios=("latency",)))
    reasons = {p.case.phase: p.skip_reason for p in planned}
    assert reasons == {"train": "infer-only does not support train", "infer": None}
    assert len(planned) == 2


def test_user_suites_expand_like_builtins() -> None:
    config = SweepConfig(suites=("mlp",), backends=("cpu-eager",), scenarios=("latency",),
                         batch_sizes=(32,), suite_files=(str(MLP_SUITE_FILE),))
    assert [p.case.case_id for p in expand(config)] == [  # the suite's default sizes
        f"mlp-{size}-cpu-eager-{phase}-latency-bs32" for size in ("tiny", "small")
        for phase in ("train", "infer")]


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"suites": ("cnn", "resnet")}, "unknown suite 'resnet'; valid suites: cnn, rnn, transformer"),
    ({"sizes": ("tiny", "huge")}, "unknown size 'huge' for suite 'cnn'; valid sizes for suite "
                                  "'cnn': tiny, small, medium, large"),
    ({"backends": ("tpu",)}, "unknown backend 'tpu'; valid backends: cpu-eager, cpu-compile"),
    ({"phases": ("eval",)}, "unknown phase 'eval'; valid phases: train, infer"),
    ({"scenarios": ("latency", "nope")},
     "unknown scenario 'nope'; valid scenarios: latency, throughput, batch-sweep"),
    ({"batch_sizes": (0,)}, "batch size must be a positive integer, got 0"),
])
def test_unknown_names_are_usage_errors_naming_valid_choices(overrides: dict,
                                                             expected: str) -> None:
    config = SweepConfig(**{"suites": ("cnn",), **overrides})
    with pytest.raises(UsageError) as info:
        expand(config)
    assert expected in str(info.value)
    assert len(str(info.value).splitlines()) == 1


def test_every_backend_is_named_in_the_unknown_backend_error() -> None:
    with pytest.raises(UsageError) as info:
        get_backend("tpu")
    assert all(name in str(info.value) for name in BACKENDS)


def test_config_round_trips_through_a_dict_and_json_lists() -> None:
    config = SweepConfig(suites=("cnn",), sizes=("tiny",), batch_sizes=(1, 8),
                         scenarios=("throughput", "batch-sweep"), quick=True, timeout_s=30.0,
                         suite_files=(str(MLP_SUITE_FILE),))
    as_json = {k: list(v) if isinstance(v, tuple) else v for k, v in config.to_dict().items()}
    assert SweepConfig.from_dict(as_json) == config


def test_config_with_unknown_keys_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown keys \\['speed'\\]; valid keys: .*quick"):
        SweepConfig.from_dict({"suites": ["cnn"], "speed": 11})


def test_a_default_skip_reason_leaves_a_backend_out_unless_it_is_named(
        monkeypatch: pytest.MonkeyPatch) -> None:
    emulated = "bf16 is emulated: this CPU has no bf16 instructions"
    monkeypatch.setattr(amp, "cpu_bf16_support", lambda: Bf16Support(False, False, emulated))
    default = {p.case.backend: p.skip_reason
               for p in expand(SweepConfig(suites=("cnn",), sizes=("tiny",)))}
    assert default["cpu-amp-bf16"].startswith(emulated)
    assert "runs when named (--backend cpu-amp-bf16)" in default["cpu-amp-bf16"]
    assert default["cpu-eager"] is None
    named = expand(SweepConfig(suites=("cnn",), sizes=("tiny",), backends=("cpu-amp-bf16",)))
    assert len(named) == 2 and [p.skip_reason for p in named] == [None] * 2


def test_native_bf16_runs_in_the_default_sweep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(amp, "cpu_bf16_support", lambda: Bf16Support(True, True, ""))
    default = {p.case.backend: p.skip_reason
               for p in expand(SweepConfig(suites=("cnn",), sizes=("tiny",)))}
    assert default["cpu-amp-bf16"] is None


@pytest.mark.parametrize(("cpus", "skipped"), [(2, True), (8, False)])
def test_compiled_training_is_left_out_of_default_sweeps_on_few_cpus(
        monkeypatch: pytest.MonkeyPatch, cpus: int, skipped: bool) -> None:
    monkeypatch.setattr(compile_backends, "cpu_count", lambda: cpus)
    default = {(p.case.backend, p.case.phase): p.skip_reason
               for p in expand(SweepConfig(suites=("cnn",), sizes=("tiny",)))}
    assert default[("cpu-compile", "infer")] is None
    reason = default[("cpu-compile", "train")]
    assert (reason is not None) is skipped
    if skipped:
        assert f"with {cpus} CPUs" in reason and "--backend cpu-compile" in reason
    named = expand(SweepConfig(suites=("cnn",), sizes=("tiny",), backends=("cpu-compile",)))
    assert len(named) == 2 and [p.skip_reason for p in named] == [None] * 2


def test_serving_scenarios_infer_at_their_own_batches_and_skip_training_saying_why() -> None:
    planned = expand(SweepConfig(suites=("cnn",), sizes=("tiny",), backends=("cpu-eager",),
                                 scenarios=("server", "single-stream", "multi-stream",
                                            "offline")))
    found = {(p.case.phase, p.case.scenario, p.case.batch_size): p.skip_reason
             for p in planned}
    assert {key for key, reason in found.items() if reason is None} == {
        ("infer", "server", 32), ("infer", "single-stream", 1), ("infer", "multi-stream", 8),
        ("infer", "offline", 32)}
    assert found[("train", "server", 32)].startswith("serving scenarios measure inference")
    sized = expand(SweepConfig(suites=("cnn",), sizes=("tiny",), backends=("cpu-eager",),
                               phases=("infer",), scenarios=("server", "single-stream"),
                               batch_sizes=(16,)))
    assert [(p.case.scenario, p.case.batch_size) for p in sized] == [
        ("server", 16), ("single-stream", 1)]  # a stream of single samples stays at 1
