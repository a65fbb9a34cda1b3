"""Calling a model with a batch, and reducing what it returns to the tensor a case compares.

A batch is one tensor (the built-in suites) or named tensors passed as keyword arguments
(`input_ids`, `attention_mask`, ...). A model may return a tensor, a tuple, a dict or a
dataclass such as a Hugging Face `ModelOutput`: the timed step computes and keeps all of it,
and only accuracy and parity reduce it to the one tensor the suite names (`Suite.output`),
because an fp64 reference is compared with a backend's output one tensor at a time.

Every helper takes either kind of batch, so that no caller has to ask which it holds.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import torch

from suites.inputs import Batch

#: The names a lone tensor input and a lone tensor output have (and their ONNX names).
LONE_INPUT, LONE_OUTPUT = "input", "logits"


class ModelInputError(Exception):
    """The model's forward does not take the declared inputs (a one-line `error` row)."""


def call(model: Callable[..., Any], batch: Batch) -> Any:
    """`model(batch)` for one tensor, `model(**batch)` for named inputs."""
    return model(**batch) if isinstance(batch, Mapping) else model(batch)


def apply(batch: Batch, fn: Callable[[torch.Tensor], torch.Tensor]) -> Batch:
    """`fn` applied to every tensor of the batch, keeping its form."""
    if isinstance(batch, Mapping):
        return {name: fn(tensor) for name, tensor in batch.items()}
    return fn(batch)


def tensors(batch: Batch) -> dict[str, torch.Tensor]:
    """The batch's tensors by input name (a lone tensor is `input`)."""
    return dict(batch) if isinstance(batch, Mapping) else {LONE_INPUT: batch}


def input_text(batch: Batch) -> str:
    """A sample's shapes for people: `(1, 8, 8)`, or `input_ids (128), attention_mask (128)`."""
    if isinstance(batch, Mapping):
        return ", ".join(f"{name} {tuple(t.shape[1:])}" for name, t in batch.items())
    return str(tuple(batch.shape[1:]))


def batch_len(batch: Batch) -> int:
    return len(next(iter(tensors(batch).values())))


def batch_bytes(batch: Batch) -> int:
    return sum(t.numel() * t.element_size() for t in tensors(batch).values())


def to_device(batch: Batch, device: str | torch.device) -> Batch:
    return apply(batch, lambda t: t.to(device))


def to_double(batch: Batch) -> Batch:
    """Floating inputs in fp64 (for the fp64 reference); token ids and masks unchanged."""
    return apply(batch, lambda t: t.double() if t.is_floating_point() else t)


def take(batch: Batch, start: int, stop: int) -> Batch:
    return apply(batch, lambda t: t[start:stop])


def pad_to(batch: Batch, size: int) -> Batch:
    """The batch filled up to `size` samples by repeating its first one."""
    def pad(t: torch.Tensor) -> torch.Tensor:
        return torch.cat([t, t[:1].expand(size - len(t), *t.shape[1:])])
    return apply(batch, pad) if batch_len(batch) < size else batch


def check_accepts(model: torch.nn.Module, batch: Batch) -> None:
    """Refuse, in one line, a batch the model's forward cannot take (a misspelt or missing
    input name), before anything is timed: the TypeError from deep inside a forward call
    would not say which declared input is at fault."""
    signature = inspect.signature(model.forward)
    try:
        if isinstance(batch, Mapping):
            signature.bind(**batch)
        else:
            signature.bind(batch)
    except TypeError as exc:
        names = ", ".join(tensors(batch))
        takes = ", ".join(signature.parameters)
        raise ModelInputError(f"the model's forward rejects the declared inputs ({names}): "
                              f"{exc}; it takes ({takes})") from None


def named_outputs(output: Any, prefix: str = "") -> dict[str, torch.Tensor]:
    """Every tensor of an output, by a dotted path: `logits` (dict key or dataclass field),
    `0` (tuple position), `encoder.0` (nested). A lone tensor is `logits`; None fields (a
    `ModelOutput`'s absent loss) are left out."""
    if isinstance(output, torch.Tensor):
        return {prefix or LONE_OUTPUT: output}
    if isinstance(output, Mapping):  # dicts, and ModelOutput (an OrderedDict of non-None)
        items = list(output.items())
    elif dataclasses.is_dataclass(output) and not isinstance(output, type):
        items = [(f.name, getattr(output, f.name)) for f in dataclasses.fields(output)]
    elif isinstance(output, (tuple, list)):
        items = list(enumerate(output))
    else:
        return {}
    found: dict[str, torch.Tensor] = {}
    for key, value in items:
        found.update(named_outputs(value, f"{prefix}.{key}" if prefix else str(key)))
    return found


def select_output(output: Any, name: str | None) -> torch.Tensor:
    """The tensor `name` of the output; with no name, the output if it is a tensor, or its
    only tensor. Anything else is a one-line error naming the tensors there are."""
    found = named_outputs(output)
    if name is None and len(found) == 1:
        return next(iter(found.values()))
    if name is not None and name in found:
        return found[name]
    have = ", ".join(found) or f"no tensor (a {type(output).__name__})"
    if name is None:
        raise ValueError(f"the model returns several tensors ({have}); name the one to "
                         "compare with the suite's output= (or --output)")
    raise ValueError(f"the model's output has no tensor '{name}'; it has: {have}")
