"""ONNX files for the ONNX Runtime backends: export once, cache, derive fp16/int8 from the cache.

Export uses `torch.onnx.export` with the dynamo exporter (the default in torch 2.13), on the
CPU, in fp32, in eval mode, with a dynamic batch dimension so that one file serves every batch
size of a sweep. All three built-in suites export with it, so there is no TorchScript fallback:
a model that the dynamo exporter cannot handle fails its case with one line: the exporter's
message and the dynamic axes it was asked to keep.

Inputs and outputs are named. A model of one tensor has the input `input` and, if it returns a
tensor, the output `logits`. A model of named inputs keeps their names, and the symbolic axes
its specs declare (a sequence length shared by `input_ids` and `attention_mask`) stay dynamic.
A structured output (dict, tuple, dataclass such as a `ModelOutput`) is exported whole, one
graph output per tensor, named by its path (`logits`, `0`, `encoder.0`: `harness.model_io`),
so the session computes everything the PyTorch model does.

The opset is fixed at 20, the opset torch's ONNX function library is written in: a lower opset
would add a version-conversion pass to every export, and ONNX Runtime, its dynamic quantizer and
onnxconverter-common all handle 20.

The cache key is a hash of the model key (definition, size, weights), the opset, the torch
version and, for derived files, the variant and the version of the tool that derives it. A
file is written to a temporary name and renamed into place, so a case killed mid-export or two
cases exporting the same model at once never leave a truncated file for a later case to load.

int8 is dynamic quantisation with the settings a user would ship on *this* CPU (`Int8Settings`):
weights per channel in signed 8 bits, activations quantised per batch to unsigned 8 bits
(U8S8). Without VNNI, ONNX Runtime computes U8S8 products with VPMADDUBSW, whose 16-bit
intermediate sums saturate, and its quantization guide gives `reduce_range` (7-bit weights)
as the remedy, to be enabled with per-channel on such machines. Measured on the trained
models at small and medium (relative error against fp64, `benchmarks/results/int8-vnni.md`):
with full-range weights a CPU without VNNI was up to 11x less accurate (rnn/small 0.031 vs
0.0028); with reduce_range it matches the VNNI machine exactly. On VNNI there is no
saturation, so the weights keep all 8 bits. The settings are part of the cache key and of the
row (`quantization`).
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections import Counter
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from harness.backends.artifacts import Artifact, artifact_key, cached_artifact
from harness.backends.export_program import Axes, export_form, export_reason
from harness.machine.cpu_features import has_vnni
from harness.model_io import LONE_INPUT, tensors
from suites.inputs import Batch

if TYPE_CHECKING:
    import onnx

# `onnx` (with its ml_dtypes, 0.5 s), the fp16 converter and the quantizer are imported where
# a file is made or read, not here: a case's later processes load the cached file into a
# session and need none of them, and every case process imports this module.

OPSET = 20
INPUT_NAME = LONE_INPUT
#: How inputs and outputs are laid out (above); part of the cache key, as a file of another
#: layout would not be fed or read right.
LAYOUT = "named inputs, flat named outputs"

#: What produces each variant; its version is part of the cache key.
PRODUCERS = {
    "fp32": f"torch {torch.__version__}",
    "fp16": f"onnxconverter-common {version('onnxconverter-common')}",
    "int8": f"onnxruntime {ort.__version__}",
}
VARIANTS = tuple(PRODUCERS)


@dataclass(frozen=True)
class Int8Settings:
    """How `quantize_dynamic` is asked to quantise (see the module docstring for the why)."""

    per_channel: bool
    reduce_range: bool

    @classmethod
    def for_this_cpu(cls) -> Int8Settings:
        return cls(per_channel=True, reduce_range=not has_vnni())

    @property
    def description(self) -> str:
        """What a row's `quantization` column says."""
        weights = "7-bit (reduce_range)" if self.reduce_range else "8-bit"
        granularity = "per channel" if self.per_channel else "per tensor"
        why = ("no VNNI: full-range U8S8 would saturate" if self.reduce_range
               else "VNNI: no U8S8 saturation")
        return (f"dynamic U8S8: uint8 activations per batch, int8 weights {granularity}, "
                f"{weights}; {why}")


def cache_path(cache_dir: Path, model_key: str, variant: str, dynamic_axes: Axes | None = None
               ) -> Path:
    """Where the `variant` file of the model `model_key` lives in the cache."""
    if variant not in PRODUCERS:
        raise ValueError(f"unknown ONNX variant '{variant}'; valid variants: "
                         f"{', '.join(VARIANTS)}")
    axes = sorted((name, sorted(dims.items())) for name, dims in (dynamic_axes or {}).items())
    parts = [model_key, f"opset {OPSET}", LAYOUT, repr(axes), PRODUCERS["fp32"], variant,
             PRODUCERS[variant]]
    if variant == "int8":
        parts.append(repr(Int8Settings.for_this_cpu()))
    return cache_dir / "onnx" / f"{artifact_key(*parts)}.{variant}.onnx"


def onnx_file(model: nn.Module, example: Batch, cache_dir: Path, model_key: str,
              variant: str = "fp32", dynamic_axes: Axes | None = None) -> Artifact:
    """The cached file of `model` in `variant`, exporting and deriving only what is missing.

    `example` is any batch of the model's input (its batch size does not matter: the batch
    dimension is exported as dynamic, and so are the `dynamic_axes` of named inputs). A
    derived variant is made from the cached fp32 file, which is exported first if it is
    missing too.
    """
    target = cache_path(cache_dir, model_key, variant, dynamic_axes)
    if variant == "fp32":
        return cached_artifact(target, lambda tmp: _export(model, example, tmp, dynamic_axes))
    if target.exists():
        return Artifact(target, 0.0, True)
    source = onnx_file(model, example, cache_dir, model_key, "fp32", dynamic_axes)
    derived = cached_artifact(target, lambda tmp: _derive(variant, source.path, tmp))
    return Artifact(derived.path, derived.export_s + source.export_s, derived.cached)


def _export(model: nn.Module, example: Batch, path: Path, dynamic_axes: Axes | None) -> None:
    """Export the flat form (`export_program`) with the batch dimension and the declared axes
    dynamic."""
    form = export_form(model, example, dynamic_axes)
    symbols = dict.fromkeys(symbol for axes in form.axes.values() for symbol in axes.values())
    try:
        with _quiet():
            torch.onnx.export(form.flat, form.args, path, dynamo=True,
                              opset_version=OPSET,
                              input_names=list(form.inputs),
                              output_names=form.output_names,
                              dynamic_shapes=form.dynamic_shapes,
                              external_data=False, verbose=False)
    except Exception as exc:
        raise RuntimeError(f"ONNX export with dynamic axes {', '.join(symbols)} failed: "
                           f"{export_reason(exc)}; make an axis static in its input spec "
                           "(e.g. [B,128]) if the model fixes its size") from exc
    _check_dynamic(path, form.axes)


def _check_dynamic(path: Path, wanted: Axes) -> None:
    """Refuse a file in which the exporter fixed an axis that was asked to stay dynamic.

    torch's exporter does that quietly where the model fixes a size (a positional table of
    the example's length): the file would then fail at run time on any other length, far from
    the cause. Raised inside the atomic write, so no such file reaches the cache.
    """
    import onnx

    for graph_input in onnx.load(path).graph.input:
        dims = graph_input.type.tensor_type.shape.dim
        for axis, name in wanted.get(graph_input.name, {}).items():
            if axis < len(dims) and not dims[axis].dim_param:
                size = dims[axis].dim_value
                raise RuntimeError(
                    f"ONNX export fixed the dynamic axis {name} of input '{graph_input.name}' "
                    f"to {size}: the model fixes its size; declare it static in the input "
                    f"spec (e.g. {size} instead of {name}={size})")


def host_feeds(x: Batch, names: Collection[str]) -> dict[str, np.ndarray]:
    """Host arrays of the inputs a graph takes, by name (the exporter drops unused ones)."""
    return {name: np.ascontiguousarray(tensor.detach().cpu().numpy())
            for name, tensor in tensors(x).items() if name in names}


def _derive(variant: str, source: Path, path: Path) -> None:
    """fp16: every float tensor in half precision, inputs and outputs kept fp32 so that the
    runner feeds and reads the same dtypes for every variant. int8: dynamic quantisation
    (int8 weights, activations quantised per batch at run time), which needs no calibration,
    with this CPU's `Int8Settings`."""
    import onnx
    from onnxconverter_common import float16
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _quiet():
        if variant == "fp16":
            half = float16.convert_float_to_float16(onnx.load(source), keep_io_types=True)
            onnx.save(half, path)
        else:
            settings = Int8Settings.for_this_cpu()
            quantize_dynamic(_without_initializer_shapes(onnx.load(source)), path,
                             weight_type=QuantType.QInt8,
                             per_channel=settings.per_channel,
                             reduce_range=settings.reduce_range)


def _without_initializer_shapes(proto: onnx.ModelProto) -> onnx.ModelProto:
    """The model without `value_info` entries for its initializers (weights).

    torch 2.11's exporter records the shape of every weight in `value_info`, and writes Linear
    as Gemm. onnxruntime 1.30's dynamic quantizer turns each Gemm into a MatMul with the weight
    transposed in place, then re-infers shapes; the stale entry contradicts the transposed
    weight and quantisation fails ("Inferred shape and existing shape differ in dimension 0:
    (64) vs (16)", every int8 case on the first lent H100). A weight's shape is its
    initializer's, so the entry says nothing that is lost; onnxruntime 1.32 copes either way.
    """
    weights = {init.name for init in proto.graph.initializer}
    kept = [info for info in proto.graph.value_info if info.name not in weights]
    del proto.graph.value_info[:]
    proto.graph.value_info.extend(kept)
    return proto


#: Ops through which a dynamically quantised graph computes in integers.
INTEGER_OPS = frozenset({"MatMulInteger", "ConvInteger", "DynamicQuantizeLSTM",
                         "DynamicQuantizeMatMul", "QAttention", "QLinearMatMul", "QLinearConv"})
#: Weighted ops that quantize_dynamic could have turned into one of those.
FLOAT_WEIGHT_OPS = frozenset({"MatMul", "Gemm", "Conv", "LSTM", "GRU", "RNN", "Attention"})


def op_census(path: Path, *groups: frozenset[str]) -> list[str]:
    """For each group of op types, 'Op:count' of its nodes in the file, e.g. 'ConvInteger:2
    MatMulInteger:3' (the file is loaded once, whatever the number of groups).

    `quantize_dynamic` quietly leaves alone what it cannot quantise (the exported nn.LSTM at
    some sizes, for one), so what an "int8" file really computes in integers is a fact to
    record, not an assumption.
    """
    import onnx

    counts = Counter(node.op_type for node in onnx.load(path).graph.node)
    return [" ".join(f"{op}:{counts[op]}" for op in sorted(group) if counts[op])
            for group in groups]


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Keep the tools' chatter out of the sweep's output.

    The exporter prints progress lines to stdout and logs registry warnings through the
    `torch.onnx` logger; it and the quantizer raise Python warnings (deprecations, unregistered
    LSTM weights) and the quantizer logs advice through the root logger. None of it says
    anything about the measurement; real failures still arrive as exceptions.
    """
    loggers = [logging.getLogger(), logging.getLogger("torch.onnx")]
    levels = [logger.level for logger in loggers]
    try:
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
