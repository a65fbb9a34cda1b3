"""The op categories: one documented table for every backend's op names.

A profile of torch eager names aten ops (`aten::addmm`), one of torch.compile adds inductor's
kernels (`triton_poi_fused_add_relu_0`, `cpp_fused_...`) and the compiled graph's call, one on
CUDA adds the kernels themselves (`ampere_sgemm_128x64_tn`), ONNX Runtime names its graph
nodes' op types, fused ones included (`FusedConv`, `SkipLayerNormalization`, `MatMulInteger`),
and OpenVINO its runtime graph's layer types (`FullyConnected`, `MVN`, and `Subgraph`: a region
its Snippets code generator fused and compiled, counted as a compiled region).
`CATEGORIES` maps them all to the same few categories, so that two backends' bars compare.

Rules are tried in order and the first pattern that matches (a case-insensitive regular
expression searched in the name) wins, so specific rules come before general ones (a fused
attention kernel before "matmul", a quantised matmul before "data movement"). A name no rule
matches is "other", and `unmapped` lists it: the report and `archbench ops` show it, so a new
op is seen and added here rather than hidden. docs/profiling.md shows this table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

OTHER = "other"

#: (category, patterns). Order matters: first match wins (see the module docstring).
CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("optimizer", (r"optimizer", r"_foreach_", r"\badam", r"\bsgd", r"_fused_adam",
                   r"addcdiv", r"addcmul", r"lerp")),
    ("attention", (r"attention", r"multi_head", r"\bsdpa", r"flash", r"_efficient_attention",
                   r"transform_bias_rescale_qkv", r"transformer_encoder_layer", r"fmha",
                   r"(?<!log_)softmax", r"masked_fill")),
    ("recurrent", (r"lstm", r"\bgru", r"\brnn", r"mkldnn_rnn")),
    ("convolution", (r"conv(?!ert)", r"cudnn_convolution", r"implicit_gemm", r"winograd",
                     r"\bfprop", r"dgrad", r"wgrad")),
    ("matmul/linear", (r"\bmm\b", r"::mm$", r"addmm", r"bmm", r"matmul",
                       r"(?<!quantize)(?<!q)linear", r"gemm",
                       r"gemv", r"\bdot\b", r"baddbmm", r"_int_mm", r"cutlass", r"xmma",
                       r"FullyConnected", r"MatMulInteger", r"QLinearMatMul", r"QAttention",
                       r"DynamicQuantizeMatMul",
                       r"\bGemm\b", r"FusedMatMul", r"MatMulNBits", r"mkldnn_linear", r"sgemm")),
    ("normalisation", (r"norm", r"\bMVN\b", r"SkipLayerNormalization", r"LayerNormalization",
                       r"BatchNormalization", r"InstanceNormalization")),
    ("embedding", (r"embedding", r"\bGather\b", r"index_select", r"EmbedLayerNormalization")),
    ("reduction/pooling", (r"pool", r"\bmean\b", r"::mean", r"\bsum\b", r"::sum", r"reduce",
                           r"\bmax\b", r"::max$", r"::amax", r"argmax", r"logsumexp",
                           r"triton_red", r"triton_per", r"GlobalAveragePool", r"ReduceMean")),
    # the CUDA/HIP runtime and driver API calls on the host: cudaLaunchKernel, cuLaunchKernel,
    # cudaDeviceSynchronize (case-sensitive: "custom_op" is no driver call)
    ("runtime (launch/sync)", (r"(?-i:^cuda[A-Z])", r"(?-i:^cu[A-Z])", r"(?-i:^hip[A-Z])")),
    ("data movement", (r"copy", r"cast", r"\bto\b", r"::to$", r"_to_copy", r"contiguous",
                       r"reshape", r"view", r"transpose", r"permute", r"::t$", r"expand",
                       r"flatten", r"squeeze", r"unsqueeze", r"cat\b", r"::cat", r"stack",
                       r"slice", r"select", r"split", r"chunk", r"narrow", r"clone", r"empty",
                       r"zeros", r"ones", r"fill", r"resize", r"as_strided", r"memcpy", r"memset",
                       r"QuantizeLinear", r"DequantizeLinear", r"DynamicQuantizeLinear",
                       r"\bShape\b", r"Unsqueeze", r"Squeeze", r"Concat", r"Reshape", r"Transpose",
                       r"Flatten", r"\bCast\b", r"\bConvert\b", r"\bSlice\b", r"\bSplit\b",
                       r"Identity", r"Expand",
                       r"detach", r"alias", r"lift_fresh", r"_unsafe_view", r"set_",
                       r"Reorder", r"resolve_conj", r"resolve_neg")),
    ("elementwise/activation", (r"relu", r"gelu", r"silu", r"tanh", r"sigmoid", r"clamp",
                                r"\badd", r"::add", r"\bsub(?!graph)", r"::sub", r"\bmul", r"::mul",
                                r"\bdiv", r"::div", r"\bexp", r"\blog", r"sqrt", r"rsqrt",
                                r"\bpow", r"where", r"dropout", r"neg", r"abs", r"elementwise",
                                r"vectorized", r"triton_poi", r"cpp_fused", r"\bErf\b", r"epilogue",
                                r"BiasGelu", r"FastGelu", r"QLinear(Add|Mul)", r"QuickGelu",
                                r"\bBiasAdd\b", r"\bEltwise\b", r"PowerStatic",
                                r"threshold", r"hardtanh", r"\beq\b", r"::eq", r"\bne\b",
                                r"::ne", r"\bgt\b", r"::gt", r"\blt\b", r"::lt", r"bitwise",
                                r"nll_loss", r"cross_entropy", r"log_softmax")),
    ("compiled region", (r"CompiledFxGraph", r"Torch-Compiled Region", r"TorchDynamo",
                         r"CompiledFunction", r"cudagraph", r"CUDAGraph", r"AOTDispatcher",
                         r"bytecode", r"^Subgraph$")),
)

_COMPILED = tuple((category, re.compile("|".join(patterns), re.IGNORECASE))
                  for category, patterns in CATEGORIES)


def categorize(name: str) -> str:
    """The category of an op or kernel name; "other" when no rule matches."""
    for category, pattern in _COMPILED:
        if pattern.search(name):
            return category
    return OTHER


def unmapped(names: Iterable[str]) -> list[str]:
    """The names that fall to "other", sorted and once each (to be listed, never hidden)."""
    return sorted({name for name in names if categorize(name) == OTHER})
