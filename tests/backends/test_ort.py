"""The ONNX Runtime backends against eager PyTorch, and their honesty about availability.

CPU cases run everywhere; the CUDA ones skip, with the backend's own reason, where onnxruntime
has no CUDA provider or torch sees no GPU. One export cache serves the whole module, so each
tiny model is exported once and the int8 files derive from the cached fp32 ones.
"""

from __future__ import annotations

from pathlib import Path

import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import numpy_helper

from harness.backends.base import BackendUnavailable, CaseContext
from harness.backends.eager import CPU_EAGER
from harness.backends.onnx_export import Int8Settings, cache_path
from harness.backends.ort import ORT_CPU, ORT_CPU_INT8, ORT_CUDA, ORT_CUDA_FP16, OrtBackend
from harness.measure.parity import TOLERANCES
from suites.registry import BUILTIN

SUITES = ("cnn", "rnn", "transformer")
FACTS = {"export_s", "export_cached", "load_s", "artifact_bytes", "ort_threads"}


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


def _case(suite_name: str, cache_dir: Path) -> tuple[torch.nn.Module, CaseContext, dict]:
    """A tiny model of the suite, its context, and batches of 5 and 3."""
    suite = BUILTIN[suite_name]
    data = suite.data("tiny")
    model = suite.model("tiny", data, seed=0)
    ctx = CaseContext(cache_dir=cache_dir, threads=1, model_key=f"{suite_name}-tiny-seed0")
    batches = {n: suite.synthetic_batch(data, n, seed=n)[0] for n in (5, 3)}
    return model, ctx, batches


def _rel_err(out: torch.Tensor, ref: torch.Tensor) -> float:
    return float((out - ref).norm() / ref.norm())


def _check_against_eager(backend: OrtBackend, suite_name: str, cache_dir: Path) -> None:
    """Within the product's own parity tolerance for the backend's precision."""
    tol = TOLERANCES[backend.precision]
    model, ctx, batches = _case(suite_name, cache_dir)
    eager = CPU_EAGER.inference(model, ctx)
    runner = backend.inference(model, ctx)

    logits = runner.predict(batches[5])
    assert logits.dtype == torch.float32 and logits.device.type == "cpu"
    assert _rel_err(logits, eager.predict(batches[5])) < tol
    int8_facts = ({"quantized_ops", "float_weight_ops", "quantization"}
                  if backend.precision == "int8" else set())
    assert set(runner.facts) == FACTS | int8_facts
    assert runner.facts["ort_threads"] == ctx.threads

    step = runner.bind(batches[3])  # another batch size on the same session: dynamic batch
    out = step()
    runner.sync()
    assert _rel_err(torch.from_numpy(out[0]), eager.predict(batches[3])) < tol


@pytest.mark.parametrize("suite_name", SUITES)
def test_ort_cpu_matches_eager(suite_name: str, cache_dir: Path) -> None:
    _check_against_eager(ORT_CPU, suite_name, cache_dir)


@pytest.mark.parametrize("suite_name", SUITES)
def test_ort_cpu_int8_is_close_to_eager(suite_name: str, cache_dir: Path) -> None:
    _check_against_eager(ORT_CPU_INT8, suite_name, cache_dir)


@pytest.mark.parametrize(("vnni", "reduce_range"), [(True, False), (False, True)])
def test_int8_settings_fit_the_cpu(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                   vnni: bool, reduce_range: bool) -> None:
    """Without VNNI, 7-bit weights (reduce_range) keep U8S8 products from saturating."""
    monkeypatch.setattr("harness.backends.onnx_export.has_vnni", lambda: vnni)
    settings = Int8Settings.for_this_cpu()
    assert settings == Int8Settings(per_channel=True, reduce_range=reduce_range)
    assert ("7-bit" in settings.description) is reduce_range
    assert ("no VNNI" in settings.description) is reduce_range
    key = cache_path(tmp_path, "m", "int8")
    monkeypatch.setattr("harness.backends.onnx_export.has_vnni", lambda: not vnni)
    assert cache_path(tmp_path, "m", "int8") != key  # other settings, another file


@pytest.mark.parametrize("vnni", [True, False])
def test_int8_file_has_the_weights_the_settings_ask_for(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, vnni: bool) -> None:
    monkeypatch.setattr("harness.backends.onnx_export.has_vnni", lambda: vnni)
    model, ctx, batches = _case("transformer", tmp_path)
    runner = ORT_CPU_INT8.inference(model, ctx)
    runner.bind(batches[3])
    assert runner.facts["quantization"] == Int8Settings.for_this_cpu().description
    path = cache_path(tmp_path, ctx.model_key, "int8")
    weights = [numpy_helper.to_array(t) for t in onnx.load(path).graph.initializer
               if t.data_type == onnx.TensorProto.INT8 and t.dims]
    assert weights
    largest = max(int(abs(w.astype(int)).max()) for w in weights)
    assert largest <= 64 if not vnni else largest > 64


def test_int8_records_what_was_quantised_and_what_stayed_float(cache_dir: Path) -> None:
    """At `small`, quantize_dynamic quantises the rnn's head but leaves its exported LSTM in
    float: the row must say so rather than pass for an all-int8 model."""
    suite = BUILTIN["rnn"]
    data = suite.data("small")
    ctx = CaseContext(cache_dir=cache_dir, threads=1, model_key="rnn-small-seed0")
    runner = ORT_CPU_INT8.inference(suite.model("small", data, seed=0), ctx)
    runner.bind(data.x_test[:4])
    assert runner.facts["quantized_ops"] == "MatMulInteger:1"
    assert runner.facts["float_weight_ops"] == "LSTM:1"


def test_int8_file_without_integer_ops_is_unavailable(monkeypatch: pytest.MonkeyPatch,
                                                      cache_dir: Path) -> None:
    """A quantised file with no integer op would be an fp32 run under an int8 name."""
    monkeypatch.setattr("harness.backends.ort.op_census",
                        lambda path, *groups: ["", "LSTM:1"])
    model, ctx, batches = _case("rnn", cache_dir)
    with pytest.raises(BackendUnavailable, match="quantised none of this model's ops"):
        ORT_CPU_INT8.inference(model, ctx).bind(batches[3])


def test_training_is_unsupported() -> None:
    assert "training is not supported" in ORT_CPU.phase_unsupported_reason("train")
    assert ORT_CPU.phase_unsupported_reason("infer") is None


def test_missing_provider_is_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    reason = ORT_CUDA_FP16.unavailable_reason()
    assert reason is not None and "no CUDAExecutionProvider" in reason
    assert f"onnxruntime {ort.__version__}" in reason and "CPUExecutionProvider" in reason
    assert ORT_CPU.unavailable_reason() is None


def test_cuda_provider_without_a_torch_device_is_a_reason(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ort, "get_available_providers",
                        lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    reason = ORT_CUDA.unavailable_reason()
    assert reason is not None and "torch" in reason


def test_silent_cpu_fallback_raises(monkeypatch: pytest.MonkeyPatch, cache_dir: Path) -> None:
    """A listed provider that fails to load leaves a session on the CPU: never time that."""
    real_session = ort.InferenceSession

    def cpu_only_session(path: str, sess_options: ort.SessionOptions,
                         providers: list) -> ort.InferenceSession:
        assert providers[0][0] == "CUDAExecutionProvider"
        return real_session(path, sess_options=sess_options, providers=["CPUExecutionProvider"])

    monkeypatch.setattr(ort, "InferenceSession", cpu_only_session)
    model, ctx, batches = _case("cnn", cache_dir)
    with pytest.raises(BackendUnavailable, match="fell back to CPUExecutionProvider"):
        ORT_CUDA.inference(model, ctx).predict(batches[5])


CUDA_REASON = ORT_CUDA.unavailable_reason()


@pytest.mark.cuda
@pytest.mark.skipif(CUDA_REASON is not None, reason=CUDA_REASON or "")
@pytest.mark.parametrize("backend", [ORT_CUDA, ORT_CUDA_FP16], ids=["ort-cuda", "ort-cuda-fp16"])
@pytest.mark.parametrize("suite_name", SUITES)
def test_ort_cuda_matches_eager(backend: OrtBackend, suite_name: str, cache_dir: Path) -> None:
    tol = TOLERANCES[backend.precision]
    model, ctx, batches = _case(suite_name, cache_dir)
    eager = CPU_EAGER.inference(model, ctx)
    runner = backend.inference(model, ctx)
    assert _rel_err(runner.predict(batches[5]), eager.predict(batches[5])) < tol

    step = runner.bind(batches[3])
    step()
    runner.sync()
    _, logits = runner.device_buffers  # IO binding wrote the logits into the device buffer
    assert logits.device.type == "cuda"
    assert _rel_err(logits.cpu(), eager.predict(batches[3])) < tol
