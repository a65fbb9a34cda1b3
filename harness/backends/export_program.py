"""The model in the form an exported graph has, and `torch.export` of it.

Every artifact archbench ships a model as (an ONNX file, an AOTInductor package) starts from
the same graph: the model in eval mode, fp32, taking positional tensors (one per named input,
or the lone tensor) and returning a flat tuple of named output tensors (`harness.model_io`),
with the batch dimension and the declared sequence axes dynamic. One definition of that form
keeps the artifacts of one model interchangeable: their inputs and outputs are named alike.

torch.export specialises a dimension whose example size is 1 to the constant 1, so a batch of
one is doubled for the export.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn
from torch.export.dynamic_shapes import refine_dynamic_shapes_from_suggested_fixes

from harness.errors import one_line
from harness.model_io import call, named_outputs, pad_to, tensors, to_device
from suites.inputs import Batch

#: {input name: {axis: symbolic name}} beyond the batch axis (`suites.inputs.dynamic_axes`).
Axes = Mapping[str, Mapping[int, str]]
BATCH_AXIS = "batch"


class FlatModel(nn.Module):
    """The model with positional tensor inputs and a flat tuple of named output tensors."""

    def __init__(self, model: nn.Module, input_names: list[str] | None,
                 output_names: list[str]) -> None:
        super().__init__()
        self.model = model
        self.input_names = input_names  # None: the model takes one tensor
        self.output_names = output_names

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        batch = dict(zip(self.input_names, inputs, strict=True)) if self.input_names \
            else inputs[0]
        found = named_outputs(call(self.model, batch))
        return tuple(found[name] for name in self.output_names)


@dataclass(frozen=True)
class ExportForm:
    """What an exporter is given: the flat model, its example inputs and their dynamic shapes
    (for `torch.export.export(..., dynamic_shapes=...)`, nested once for the varargs)."""

    flat: FlatModel
    inputs: dict[str, torch.Tensor]
    output_names: list[str]
    dynamic_shapes: tuple[tuple[dict[int, torch.export.Dim], ...]] | None
    axes: dict[str, dict[int, str]]  # {input: {axis: name}} kept dynamic (empty: all static)

    @property
    def args(self) -> tuple[torch.Tensor, ...]:
        return tuple(self.inputs.values())


def export_form(model: nn.Module, example: Batch, dynamic_axes: Axes | None,
                device: str = "cpu", dynamic_batch: bool = True) -> ExportForm:
    """The model on `device` in fp32 and eval mode, in its flat form, with the batch axis
    (unless `dynamic_batch` is False) and the declared axes dynamic."""
    model = model.to(device, torch.float32).eval()
    example = to_device(pad_to(example, 2) if dynamic_batch else example, device)
    inputs = tensors(example)
    with torch.no_grad():
        output_names = list(named_outputs(call(model, example)))
    flat = FlatModel(model, list(inputs) if isinstance(example, Mapping) else None,
                     output_names)
    axes = {name: {**({0: BATCH_AXIS} if dynamic_batch else {}),
                   **(dynamic_axes or {}).get(name, {})} for name in inputs}
    dims: dict[str, torch.export.Dim] = {}
    shapes = tuple({axis: dims.setdefault(symbol, torch.export.Dim(symbol))
                    for axis, symbol in axes[name].items()} for name in inputs)
    dynamic = any(axes.values())
    return ExportForm(flat, inputs, output_names, (shapes,) if dynamic else None,
                      {name: dict(found) for name, found in axes.items() if found})


class AxisFixed(Exception):
    """torch.export made an axis that was asked to stay dynamic static: the model fixes its
    size (a reshape to the example's batch, a positional table of the example's length)."""

    def __init__(self, symbol: str, input_name: str, size: int) -> None:
        super().__init__(f"torch.export fixed the dynamic axis {symbol} of input "
                         f"'{input_name}' to {size}: the model fixes its size")
        self.symbol = symbol


def export_program(form: ExportForm) -> torch.export.ExportedProgram:
    """`torch.export.export` of the flat model with its dynamic shapes, refined once by
    torch.export's own suggested fixes where it asks for them (a range the model needs, e.g.
    a sequence no longer than its position table: `S = Dim('S', max=512)` for BERT);
    `AxisFixed` when an axis asked to stay dynamic came out static."""
    with torch.no_grad():
        try:
            program = torch.export.export(form.flat, form.args,
                                          dynamic_shapes=form.dynamic_shapes)
        except torch._dynamo.exc.UserError as exc:
            fixes = _suggested_fixes(str(exc))
            if form.dynamic_shapes is None or fixes is None:
                raise
            refined = refine_dynamic_shapes_from_suggested_fixes(fixes, form.dynamic_shapes)
            program = torch.export.export(form.flat, form.args, dynamic_shapes=refined)
    _check_dynamic(program, form)
    return program


def _suggested_fixes(message: str) -> str | None:
    """The "Suggested fixes:" block of a constraint violation, in the form
    `refine_dynamic_shapes_from_suggested_fixes` parses (it chokes on the text after it)."""
    if "Suggested fixes:" not in message:
        return None
    block = message.split("Suggested fixes:", 1)[1].strip().split("\n\n")[0]
    lines = [line.strip() for line in block.splitlines() if " = " in line]
    return "Suggested fixes:\n" + "\n".join(f"  {line}" for line in lines) if lines else None


def _check_dynamic(program: torch.export.ExportedProgram, form: ExportForm) -> None:
    user_inputs = set(program.graph_signature.user_inputs)
    shapes = [node.meta["val"].shape for node in program.graph.nodes
              if node.op == "placeholder" and node.name in user_inputs]
    for (name, _), shape in zip(form.inputs.items(), shapes, strict=True):
        for axis, symbol in form.axes.get(name, {}).items():
            if not isinstance(shape[axis], torch.SymInt):
                raise AxisFixed(symbol, name, int(shape[axis]))


def export_reason(exc: BaseException) -> str:
    """The exporter's own first line: an exporter that wraps torch.export's error (constraint
    violations name the axis) in its own, whose first line only says that the export failed,
    is unwrapped to it."""
    while exc.__cause__ is not None and "export" in str(exc).splitlines()[0].lower():
        exc = exc.__cause__
    return one_line(exc)
