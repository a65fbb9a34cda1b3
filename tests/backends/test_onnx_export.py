"""The ONNX export cache: one export per model key, derived variants from the cached file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import helper, numpy_helper

from harness.backends.onnx_export import OPSET, _derive, cache_path, onnx_file
from suites.registry import BUILTIN


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def model_and_batch() -> tuple[torch.nn.Module, torch.Tensor]:
    suite = BUILTIN["cnn"]
    data = suite.data("tiny")
    return suite.model("tiny", data, seed=0), suite.synthetic_batch(data, 4, seed=0)[0]


def test_second_export_is_a_cache_hit(cache_dir: Path, model_and_batch, capfd) -> None:
    model, x = model_and_batch
    first = onnx_file(model, x, cache_dir, "cnn-a")
    assert not first.cached and first.export_s > 0 and first.size_bytes > 0
    assert first.path.parent == cache_dir / "onnx"
    assert capfd.readouterr().out == ""  # the exporter's progress lines are kept out
    written = first.path.stat().st_mtime_ns

    again = onnx_file(model, x, cache_dir, "cnn-a")
    assert again.cached and again.export_s == 0 and again.path == first.path
    assert again.path.stat().st_mtime_ns == written

    other = onnx_file(model, x, cache_dir, "cnn-b")
    assert not other.cached and other.path != first.path
    assert [p.name for p in (cache_dir / "onnx").iterdir() if p.name.startswith(".")] == []


def test_file_has_fixed_opset_names_and_dynamic_batch(cache_dir: Path, model_and_batch) -> None:
    """Exported from a batch of one, which torch.export would otherwise freeze to size 1."""
    model, x = model_and_batch
    path = onnx_file(model, x[:1], cache_dir, "cnn-batch-of-one").path
    proto = onnx.load(path)
    assert [op.version for op in proto.opset_import if op.domain in ("", "ai.onnx")] == [OPSET]
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    (inp,), (out,) = session.get_inputs(), session.get_outputs()
    assert (inp.name, out.name) == ("input", "logits")
    assert isinstance(inp.shape[0], str)
    (logits,) = session.run(None, {"input": x[:3].numpy()})
    assert logits.shape[0] == 3


def _quantized(proto: onnx.ModelProto) -> bool:
    return "DynamicQuantizeLinear" in {node.op_type for node in proto.graph.node}


def _half(proto: onnx.ModelProto) -> bool:
    return all(t.data_type == onnx.TensorProto.FLOAT16 for t in proto.graph.initializer
               if t.data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16))


@pytest.mark.parametrize("variant,converted", [("int8", _quantized), ("fp16", _half)])
def test_variants_derive_from_the_cached_fp32_file(cache_dir: Path, model_and_batch,
                                                   variant: str, converted) -> None:
    model, x = model_and_batch
    fp32 = onnx_file(model, x, cache_dir, "cnn-a")
    written = fp32.path.stat().st_mtime_ns

    derived = onnx_file(model, x, cache_dir, "cnn-a", variant)
    assert not derived.cached and derived.path != fp32.path
    assert fp32.path.stat().st_mtime_ns == written  # not exported again
    assert converted(onnx.load(derived.path)) and not converted(onnx.load(fp32.path))
    assert onnx_file(model, x, cache_dir, "cnn-a", variant).cached


def test_cache_key_separates_variants_and_rejects_unknown_ones(tmp_path: Path) -> None:
    paths = {cache_path(tmp_path, "m", v) for v in ("fp32", "fp16", "int8")}
    assert len(paths) == 3
    with pytest.raises(ValueError, match="valid variants"):
        cache_path(tmp_path, "m", "bf16")


def test_int8_quantises_a_gemm_whose_weight_shape_is_recorded(tmp_path: Path) -> None:
    """torch 2.11 exports Linear as Gemm and records each weight's shape in value_info;
    onnxruntime 1.30's quantizer transposed the weight and then failed on the stale shape
    (every int8 case on the first lent H100). Fails there without the fix; 1.32 copes."""
    weight = np.random.default_rng(0).standard_normal((16, 64)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1)], "linear",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["batch", 64])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["batch", 16])],
        [numpy_helper.from_array(weight, "w"),
         numpy_helper.from_array(np.zeros(16, np.float32), "b")],
        value_info=[helper.make_tensor_value_info("w", onnx.TensorProto.FLOAT, [16, 64])])
    source = tmp_path / "linear.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                 ir_version=10), source)  # as torch writes it
    _derive("int8", source, tmp_path / "linear.int8.onnx")

    x = np.random.default_rng(1).standard_normal((8, 64)).astype(np.float32)
    session = ort.InferenceSession(tmp_path / "linear.int8.onnx",
                                   providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {"x": x})
    assert _quantized(onnx.load(tmp_path / "linear.int8.onnx"))
    assert np.abs(y - x @ weight.T).max() < 0.05 * np.abs(x @ weight.T).max()
