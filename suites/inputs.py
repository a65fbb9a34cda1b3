"""Input specs: what a model takes, declared without data, so that a model with no task runs.

A spec names one input, its dtype, its shape with the batch dimension symbolic, and the values
a synthetic batch draws, in one line a user can write on the command line:

    input_ids:int64[B,128]<30522     token ids, uniform in [0, 30522)
    attention_mask:int64[B,128]=1    a constant (a mask of ones)
    pixels:float32[B,3,224,224]      standard normal (the default for floats)
    tokens:int64[B,S=128]<1000       S: a dynamic axis (ONNX export keeps it symbolic), 128 here

`B` is the batch; a dimension `NAME=SIZE` is symbolic with an example size, shared by every
input that names it (so the ONNX export gives `input_ids` and `attention_mask` one sequence
axis); a plain integer is fixed. Integer inputs need a range or a constant: a random token id
beyond the vocabulary would make an embedding lookup fail, so there is no default for them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import torch

from harness.errors import UsageError

BATCH = "B"
DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16,
    "float64": torch.float64, "int64": torch.int64, "int32": torch.int32, "bool": torch.bool,
}
SYNTAX = ("NAME:DTYPE[B,DIM,...] then optionally <HIGH (uniform in [0, HIGH)) or =VALUE "
          "(a constant); DIM is an integer or NAME=SIZE (a dynamic axis)")
_SPEC = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*):(?P<dtype>[a-z0-9]+)\[(?P<dims>[^\]]*)\]"
                   r"(?:(?P<op>[<=])(?P<value>[-+0-9.eE]+))?")
_DIM = re.compile(r"(?:(?P<size>[0-9]+)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:=(?P<example>[0-9]+))?)")

#: The batch of a model: one tensor, or named tensors passed as keyword arguments.
Batch = torch.Tensor | Mapping[str, torch.Tensor]


@dataclass(frozen=True)
class Dim:
    """One dimension: fixed (`name` empty), the batch, or a named dynamic axis."""

    size: int  # the example size (ignored for the batch, which the case sets)
    name: str = ""

    def __str__(self) -> str:
        if self.name == BATCH:
            return BATCH
        return f"{self.name}={self.size}" if self.name else str(self.size)


@dataclass(frozen=True)
class InputSpec:
    """One named input and the values a synthetic batch draws for it (module docstring)."""

    name: str
    dtype: torch.dtype
    dims: tuple[Dim, ...]
    high: float | None = None  # values uniform in [0, high)
    constant: float | None = None

    def __post_init__(self) -> None:
        if BATCH not in [d.name for d in self.dims[:1]]:
            raise UsageError(f"input '{self.name}': the first dimension must be the batch "
                             f"'{BATCH}'; write e.g. {self.name}:int64[B,128]")
        floating = self.dtype.is_floating_point
        if not floating and self.dtype != torch.bool and self.high is None \
                and self.constant is None:
            raise UsageError(f"input '{self.name}' is {_dtype_name(self.dtype)}: give its "
                             f"range (<HIGH, e.g. <30522) or a constant (=1)")

    def make(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        """A batch of this input, drawn from `generator` (so a seed reproduces it)."""
        shape = (batch_size, *(d.size for d in self.dims[1:]))
        if self.constant is not None:
            return torch.full(shape, self.constant, dtype=self.dtype)
        if self.dtype == torch.bool and self.high is None:
            return torch.randint(0, 2, shape, generator=generator).bool()
        if self.high is None:
            return torch.randn(shape, generator=generator).to(self.dtype)
        if self.dtype.is_floating_point:
            return (torch.rand(shape, generator=generator) * self.high).to(self.dtype)
        return torch.randint(0, int(self.high), shape, generator=generator, dtype=self.dtype)

    def __str__(self) -> str:
        values = (f"={self.constant:g}" if self.constant is not None
                  else f"<{self.high:g}" if self.high is not None else "")
        return f"{self.name}:{_dtype_name(self.dtype)}[{','.join(map(str, self.dims))}]{values}"


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def parse_input(text: str) -> InputSpec:
    """An `InputSpec` from its one-line form; a `UsageError` naming the syntax otherwise."""
    match = _SPEC.fullmatch(text.strip())
    if match is None:
        raise UsageError(f"input spec '{text}' does not parse; write {SYNTAX}, e.g. "
                         "input_ids:int64[B,128]<30522")
    name, dtype_name = match["name"], match["dtype"]
    if dtype_name not in DTYPES:
        raise UsageError(f"input spec '{text}': unknown dtype '{dtype_name}'; valid dtypes: "
                         f"{', '.join(DTYPES)}")
    dims = tuple(_parse_dim(part, text) for part in match["dims"].split(","))
    value = float(match["value"]) if match["value"] is not None else None
    if match["op"] == "<" and not (value and value > 0):
        raise UsageError(f"input spec '{text}': the range <HIGH needs a positive HIGH")
    return InputSpec(name, DTYPES[dtype_name], dims,
                     high=value if match["op"] == "<" else None,
                     constant=value if match["op"] == "=" else None)


def _parse_dim(part: str, text: str) -> Dim:
    match = _DIM.fullmatch(part.strip())
    if match is None or (match["size"] is not None and int(match["size"]) < 1):
        raise UsageError(f"input spec '{text}': dimension '{part}' is not a positive integer, "
                         f"'{BATCH}' or NAME=SIZE")
    if match["size"] is not None:
        return Dim(int(match["size"]))
    if match["name"] == BATCH:
        return Dim(0, BATCH)
    if match["example"] is None or int(match["example"]) < 1:
        raise UsageError(f"input spec '{text}': dynamic dimension '{part}' needs an example "
                         f"size, e.g. {match['name']}=128")
    return Dim(int(match["example"]), match["name"])


def parse_inputs(specs: Iterable[InputSpec | str]) -> tuple[InputSpec, ...]:
    """Specs from specs or their one-line forms; names unique, a named axis one size."""
    parsed = tuple(s if isinstance(s, InputSpec) else parse_input(s) for s in specs)
    names = [s.name for s in parsed]
    if len(set(names)) < len(names):
        raise UsageError(f"input names must be unique; got {', '.join(names)}")
    sizes: dict[str, int] = {}
    for spec in parsed:
        for dim in spec.dims[1:]:
            if dim.name and sizes.setdefault(dim.name, dim.size) != dim.size:
                raise UsageError(f"dynamic dimension '{dim.name}' has two sizes "
                                 f"({sizes[dim.name]} and {dim.size}); one axis, one size")
    return parsed


def make_batch(specs: tuple[InputSpec, ...], batch_size: int,
               generator: torch.Generator) -> dict[str, torch.Tensor]:
    """One synthetic batch of every input, keyed by name (the model's keyword arguments)."""
    return {spec.name: spec.make(batch_size, generator) for spec in specs}


def dynamic_axes(specs: tuple[InputSpec, ...]) -> dict[str, dict[int, str]]:
    """Per input, its symbolic axes by position: the batch and every named dimension."""
    return {spec.name: {i: ("batch" if d.name == BATCH else d.name)
                        for i, d in enumerate(spec.dims) if d.name}
            for spec in specs}
