"""The PyTorch backends (eager, autocast, compile): outputs, training, honesty about CUDA.

In-process tests use the runners directly on tiny models; the one about an op that bf16 cannot
run goes through a real sweep, because that failure must become a row in a case's own process.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from harness.backends import BACKENDS, available_backends
from harness.backends.amp import CPU_AMP_BF16, CUDA_AMP_BF16, CUDA_AMP_FP16, AutocastBackend
from harness.backends.base import CaseContext
from harness.backends.compile import CPU_COMPILE, CUDA_COMPILE
from harness.backends.eager import CPU_EAGER, CUDA_EAGER
from harness.case.training import train_batches
from harness.cases import SweepConfig
from harness.machine.cpu_features import cpu_bf16_support
from harness.measure.parity import parity
from harness.sweep.run import run_sweep, start_run
from suites.registry import BUILTIN
from tests.conftest import FAULTY_SUITE_FILE, ran_rows

SUITES = ("cnn", "rnn", "transformer")
BF16 = cpu_bf16_support()
#: oneDNN builds no bf16 LSTM where it has no bf16 at all (an AVX2 CPU): the case is an error
#: row there (test_bf16_lstm_without_onednn_bf16_is_an_error_row), so these tests skip it.
NO_BF16_LSTM = pytest.mark.skipif(
    not BF16.onednn, reason=f"oneDNN has no bf16 LSTM on this CPU ({BF16.reason})")


def _bf16_params(suites: tuple[str, ...]) -> list:
    """Each suite, with the rnn marked to skip where oneDNN cannot run a bf16 LSTM."""
    return [pytest.param(s, marks=NO_BF16_LSTM) if s == "rnn" else s for s in suites]


CPU_BACKENDS = (CPU_EAGER, CPU_AMP_BF16)
CPU_CASES = [pytest.param(b, s, marks=NO_BF16_LSTM, id=f"{s}-{b.name}")
             if (b is CPU_AMP_BF16 and s == "rnn") else pytest.param(b, s, id=f"{s}-{b.name}")
             for s in SUITES for b in CPU_BACKENDS]
CUDA_BACKENDS = (CUDA_EAGER, CUDA_COMPILE, CUDA_AMP_BF16, CUDA_AMP_FP16)
no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")


@pytest.fixture
def ctx(tmp_path: Path) -> CaseContext:
    return CaseContext(cache_dir=tmp_path, threads=1, model_key="test")


def tiny(suite_name: str, batch_size: int = 8):
    suite = BUILTIN[suite_name]
    data = suite.data("tiny")
    model = suite.model("tiny", data, seed=0)
    x, y = suite.synthetic_batch(data, batch_size, seed=0)
    return suite, data, model, x, y


@pytest.mark.parametrize(("backend", "suite_name"), CPU_CASES)
def test_inference_produces_logits(backend, suite_name: str, ctx: CaseContext) -> None:
    _, _, model, x, _ = tiny(suite_name)
    runner = backend.inference(model, ctx)
    step = runner.bind(x)
    out = step()
    runner.sync()
    assert out.shape == (8, 10) and torch.isfinite(out.float()).all()
    logits = runner.predict(x)
    assert logits.dtype == torch.float32 and logits.device.type == "cpu"
    assert torch.equal(logits, out.float())  # the timed step computes what predict returns
    assert runner.facts == {} and runner.counters() == {}  # eager: no cold-start facts


@pytest.mark.parametrize("suite_name", _bf16_params(SUITES))
def test_bf16_outputs_are_close_to_fp32_within_bf16_tolerance(suite_name: str,
                                                               ctx: CaseContext) -> None:
    _, _, model, x, _ = tiny(suite_name, batch_size=64)
    fp32 = CPU_EAGER.inference(model, ctx).predict(x)
    bf16 = CPU_AMP_BF16.inference(model, ctx).predict(x)
    verdict = parity(bf16.numpy(), fp32.numpy(), "bf16")
    assert verdict.ok, verdict
    assert verdict.rel_err > 1e-6  # autocast really ran in bf16: the outputs differ
    assert not parity(bf16.numpy(), fp32.numpy(), "fp32").ok


@pytest.mark.parametrize(("backend", "suite_name"), CPU_CASES)
def test_training_steps_decrease_the_loss(backend, suite_name: str, ctx: CaseContext) -> None:
    suite, data, model, _, _ = tiny(suite_name)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = backend.training(model, suite.task, ctx)
    assert trainer.trained_module() is model and model.training
    x, y = train_batches(data, 64, steps=1, seed=0)[0]
    losses = [float(trainer.step(x, y)) for _ in range(30)]
    assert all(torch.isfinite(torch.tensor(losses)))
    assert sum(losses[-5:]) < 0.9 * sum(losses[:5]), losses
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())  # zero_grad(set_to_none=True)


def test_bound_training_step_trains(ctx: CaseContext) -> None:
    suite, data, model, _, _ = tiny("cnn")
    trainer = CPU_EAGER.training(model, suite.task, ctx)
    x, y = train_batches(data, 32, steps=1, seed=0)[0]
    step = trainer.bind(x, y)
    losses = [float(step()) for _ in range(20)]
    assert losses[-1] < losses[0]


def test_reset_optimizer_forgets_its_state(ctx: CaseContext) -> None:
    suite, data, model, x, y = tiny("cnn")
    trainer = CPU_EAGER.training(model, suite.task, ctx)
    trainer.step(x, y)
    assert trainer.optimizer.state
    trainer.reset_optimizer()
    assert not trainer.optimizer.state
    assert trainer.scaler is None  # fp32 and bf16 train without a gradient scaler


def test_fp16_training_uses_a_gradient_scaler(ctx: CaseContext) -> None:
    """The scaler logic of the fp16 trainer, run on the CPU (autocast fp16 exists there too)."""
    cpu_fp16 = AutocastBackend("test-cpu-amp-fp16", "cpu", "fp16", "test stand-in",
                               autocast_dtype=torch.float16)
    suite, data, model, _, _ = tiny("cnn")
    trainer = cpu_fp16.training(model, suite.task, ctx)
    assert isinstance(trainer.scaler, torch.amp.GradScaler)
    x, y = train_batches(data, 64, steps=1, seed=0)[0]
    losses = [float(trainer.step(x, y)) for _ in range(30)]
    assert sum(losses[-5:]) < 0.9 * sum(losses[:5])
    first = trainer.scaler
    trainer.reset_optimizer()
    assert isinstance(trainer.scaler, torch.amp.GradScaler) and trainer.scaler is not first


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA: cuda-amp-fp16's trainer "
                    "moves the model to the GPU; the scaler logic is covered on the CPU above")
def test_cuda_fp16_trainer_builds_a_gradient_scaler(ctx: CaseContext) -> None:
    suite, data, model, x, y = tiny("cnn")
    trainer = CUDA_AMP_FP16.training(model, suite.task, ctx)
    assert isinstance(trainer.scaler, torch.amp.GradScaler)
    assert torch.isfinite(trainer.step(x, y))


@no_cuda
@pytest.mark.parametrize("backend", CUDA_BACKENDS, ids=lambda b: b.name)
def test_cuda_backends_say_why_they_are_unavailable(backend) -> None:
    reason = backend.unavailable_reason()
    assert isinstance(reason, str) and "CUDA" in reason
    assert backend.name not in available_backends()


def test_cpu_backends_are_available() -> None:
    assert {"cpu-eager", "cpu-amp-bf16"} <= set(available_backends())
    for name in ("cpu-eager", "cpu-compile", "cpu-amp-bf16"):
        assert BACKENDS[name].device == "cpu"
    assert (CPU_EAGER.precision, CPU_AMP_BF16.precision, CPU_COMPILE.precision) == (
        "fp32", "bf16", "fp32")


def test_settings_keep_fp32_strict() -> None:
    settings = CPU_EAGER.settings()
    assert settings == {"cudnn_benchmark": False, "tf32_matmul": False, "tf32_cudnn": False}
    assert torch.backends.cuda.matmul.allow_tf32 is False


@pytest.mark.slow
def test_compiled_inference_compiles_once_without_graph_breaks(ctx: CaseContext) -> None:
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()
    _, _, model, x, _ = tiny("cnn")
    eager = CPU_EAGER.inference(model, ctx).predict(x)
    runner = CPU_COMPILE.inference(model, ctx)
    step = runner.bind(x)  # the compiling call happens here, outside any timed step
    assert runner.facts["compile_s"] > 0
    assert runner.facts["graph_breaks"] == 0 and runner.facts["compiled_graphs"] == 1
    for _ in range(5):
        out = step()
    runner.sync()
    assert runner.counters() == {"recompiles": 0}
    assert torch.allclose(out, eager, rtol=1e-4, atol=1e-5)
    # another batch size (as the batch sweep binds): a recompile, not a second compile time
    compile_s = runner.facts["compile_s"]
    runner.bind(torch.cat([x, x]))()
    assert runner.facts["compile_s"] == compile_s
    assert runner.counters()["recompiles"] >= 1


def test_a_model_dynamo_cannot_trace_is_reported_as_not_compiled(ctx: CaseContext) -> None:
    """dynamo declines nn.LSTM (unless allow_rnn) and runs it in eager: the row must say so
    rather than pass for a compiled model with no graph breaks."""
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()
    _, _, model, x, _ = tiny("rnn")
    runner = CPU_COMPILE.inference(model, ctx)
    runner.bind(x)
    assert runner.facts["compiled_graphs"] == 0
    assert runner.facts["graph_breaks"] >= 1


def test_op_without_bf16_support_is_an_error_row_and_the_sweep_goes_on(tmp_path: Path) -> None:
    config = SweepConfig(suites=("bf16-unsupported",), sizes=("tiny",),
                         backends=("cpu-amp-bf16", "cpu-eager"), phases=("infer",),
                         scenarios=("latency",), batch_sizes=(8,),
                         suite_files=(str(FAULTY_SUITE_FILE),), quick=True, threads=1,
                         timeout_s=120)
    run_dir = start_run(config, tmp_path / "results", "bf16")
    rows = {row["backend"]: row
            for row in ran_rows(run_dir, run_sweep(run_dir, config, progress=False))}
    assert rows["cpu-amp-bf16"]["status"] == "error"
    assert rows["cpu-amp-bf16"]["reason"].startswith(
        "RuntimeError: \"addmm_impl_cpu_\" not implemented for 'BFloat16'")
    assert rows["cpu-eager"]["status"] == "ok", rows["cpu-eager"]["reason"]
    assert rows["cpu-eager"]["parity_ok"] is True


AVX2 = {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}


def test_bf16_lstm_without_onednn_bf16_is_an_error_row(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On an AVX2 CPU (reproduced with the libraries' own caps, which the case's process
    inherits), oneDNN builds no bf16 LSTM: the named backend still runs, as an error row that
    says bf16 was emulated, and the default sweep leaves it out with the reason."""
    for name, value in AVX2.items():
        monkeypatch.setenv(name, value)
    config = SweepConfig(suites=("rnn",), sizes=("tiny",), backends=("cpu-amp-bf16",),
                         phases=("infer",), scenarios=("latency",), batch_sizes=(32,),
                         quick=True, threads=1, timeout_s=120)
    run_dir = start_run(config, tmp_path / "results", "avx2")
    (row,) = ran_rows(run_dir, run_sweep(run_dir, config, progress=False))
    assert row["status"] == "error"
    assert "LSTM" in row["reason"] and "bf16 is emulated" in row["reason"], row["reason"]


def test_emulated_bf16_rows_say_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in AVX2.items():
        monkeypatch.setenv(name, value)
    config = SweepConfig(suites=("cnn",), sizes=("tiny",), backends=("cpu-amp-bf16",),
                         phases=("infer",), scenarios=("latency",), batch_sizes=(32,),
                         quick=True, threads=1, timeout_s=120)
    run_dir = start_run(config, tmp_path / "results", "avx2")
    (row,) = ran_rows(run_dir, run_sweep(run_dir, config, progress=False))
    assert row["status"] == "ok", row["reason"]
    assert row["precision_emulated"] is True
    assert row["precision_note"].startswith("bf16 is emulated: ATen dispatches to AVX2")
    assert row["cpu_isa"] == "AVX2"
