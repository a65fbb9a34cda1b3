"""The op categories: every backend's names land in the documented categories."""

from __future__ import annotations

import pytest

from harness.profiling.categories import CATEGORIES, OTHER, categorize, unmapped

KNOWN = {
    # torch eager / compile
    "aten::addmm": "matmul/linear", "aten::mm": "matmul/linear", "aten::linear": "matmul/linear",
    "aten::mkldnn_convolution": "convolution", "aten::mkldnn_rnn_layer": "recurrent",
    "aten::_native_multi_head_attention": "attention", "aten::_softmax": "attention",
    "aten::native_layer_norm": "normalisation", "aten::embedding": "embedding",
    "aten::max_pool2d_with_indices": "reduction/pooling",
    "aten::clamp_min": "elementwise/activation",
    "aten::log_softmax": "elementwise/activation", "aten::copy_": "data movement",
    "aten::transpose": "data movement", "aten::_foreach_add_": "optimizer",
    "triton_poi_fused_add_relu_0": "elementwise/activation",
    "triton_red_fused_sum_1": "reduction/pooling",
    "## Call CompiledFxGraph abc ##": "compiled region",
    # CUDA kernels
    "ampere_sgemm_128x64_tn": "matmul/linear", "Memcpy HtoD (Pageable -> Device)": "data movement",
    "cudaLaunchKernel": "runtime (launch/sync)", "cuLaunchKernel": "runtime (launch/sync)",
    "cudaDeviceSynchronize": "runtime (launch/sync)", "custom_op_forward": OTHER,
    "void cublasLt::epilogue::impl::globalKernel<8, 32, float>": "elementwise/activation",
    # ONNX Runtime, fused and quantised ops included
    "FusedConv": "convolution", "Conv": "convolution", "ConvInteger": "convolution",
    "QLinearConv": "convolution", "Attention": "attention", "QAttention": "attention",
    "SkipLayerNormalization": "normalisation", "LayerNormalization": "normalisation",
    "MatMulInteger": "matmul/linear", "QLinearMatMul": "matmul/linear",
    "DynamicQuantizeMatMul": "matmul/linear", "FusedGemm": "matmul/linear",
    "DynamicQuantizeLinear": "data movement", "QuantizeLinear": "data movement",
    "DequantizeLinear": "data movement", "QLinearAdd": "elementwise/activation",
    "QLinearGlobalAveragePool": "reduction/pooling", "DynamicQuantizeLSTM": "recurrent",
    "LSTM": "recurrent", "Gather": "embedding", "ReorderOutput": "data movement",
    "BiasGelu": "elementwise/activation", "MaxPool": "reduction/pooling",
    # OpenVINO's runtime graph (Convert is a cast, not a convolution; Subgraph a Snippets
    # region, not a subtraction)
    "FullyConnected": "matmul/linear", "Convolution": "convolution", "MVN": "normalisation",
    "Subgraph": "compiled region", "Convert": "data movement", "Eltwise": "elementwise/activation",
    "PowerStatic": "elementwise/activation", "RNNSeq": "recurrent", "Pooling": "reduction/pooling",
    "ScaledDotProductAttention": "attention", "Reorder": "data movement",
}


@pytest.mark.parametrize(("name", "category"), KNOWN.items())
def test_names_map_to_their_category(name: str, category: str) -> None:
    assert categorize(name) == category


def test_every_category_is_one_of_the_documented_list() -> None:
    names = [category for category, _ in CATEGORIES]
    assert len(names) == len(set(names))
    assert set(KNOWN.values()) <= {*names, OTHER}


def test_an_unmapped_name_is_other_and_listed_once() -> None:
    assert categorize("SomeNewVendorOp") == OTHER
    assert unmapped(["SomeNewVendorOp", "aten::mm", "SomeNewVendorOp"]) == ["SomeNewVendorOp"]
