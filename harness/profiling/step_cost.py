"""What one step of a case computes and moves: FLOPs (in total and per op) and bytes.

FLOPs are counted by `FlopCounterMode` on the unfused paths `flops_per_sample` uses, so they
are the math's, the same for every backend of a model. A training step is counted whole:
forward, loss and backward (the optimizer's elementwise update has no FLOP formula and counts
0), not estimated as three forwards.

**Bytes** (for arithmetic intensity): the parameters, the input batch, and every tensor an op
writes (activations, the output, and in training the gradients), each counted once at the
model's dtype (fp32). That is the traffic of a step whose every tensor is written to memory
once and read back from cache: a lower bound on what moves, so the intensity is an upper
bound, and it ignores reduced precision (a bf16 or int8 backend moves fewer bytes per value).
It places a case on the roofline, left (memory-bound) or right (compute-bound) of the ridge;
it is not a cache simulation.

Both are linear in the batch size for these models (a parameter is read once per step, an
activation scales with the batch), so a large batch is counted at batches 2 and 3 and
extrapolated: counting the real batch would run the model on the CPU at full size, which for a
large model on a GPU machine takes longer than the case. (Batch 1 is off the line in some
models, which take other paths for a single sample; batches up to 3 are counted as they are.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves
from torch.utils.flop_counter import FlopCounterMode

from harness.measure.model_facts import countable
from harness.model_io import batch_bytes, call, select_output
from suites.base import Suite, TaskData
from suites.inputs import Batch

#: The smaller of the two batches a large batch's cost is extrapolated from.
LINE_FROM = 2


@dataclass(frozen=True)
class StepCost:
    flops: float
    bytes: float
    op_flops: dict[str, float] = field(default_factory=dict)  # "aten::mm" -> FLOPs per step


class _WrittenBytes(TorchDispatchMode):
    """Sums the bytes of every tensor an op writes (views write nothing)."""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (),
                           kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        if not func.is_view:
            self.total += sum(t.numel() * t.element_size() for t in tree_leaves(out)
                              if isinstance(t, torch.Tensor))
        return out


def _count(model: nn.Module, loss: nn.Module | None, x: Batch, y: torch.Tensor | None,
           output: str | None = None) -> StepCost:
    """One step at this batch: forward, and with `loss` also the loss and backward."""
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    model.zero_grad(set_to_none=True)  # a gradient left by the last count would be added to
    with countable(), FlopCounterMode(display=False) as counter, _WrittenBytes() as written:
        out = call(model, x)
        if loss is not None:
            loss(select_output(out, output).float(), y).backward()
    op_flops = {str(op).replace(".", "::", 1): float(n)
                for op, n in counter.get_flop_counts().get("Global", {}).items()}
    return StepCost(float(counter.get_total_flops()),
                    float(params + batch_bytes(x) + written.total), op_flops)


def step_cost(suite: Suite, size: str, data: TaskData | None, phase: str, batch_size: int,
              seed: int) -> StepCost:
    """FLOPs and bytes of one step at `batch_size` (module docstring)."""
    model = suite.model(size, data, seed)
    model.train(phase == "train")
    objective = suite.objective() if phase == "train" else None
    loss = objective.loss() if objective is not None else None

    def count(batch: int) -> StepCost:
        return _count(model, loss, *suite.synthetic_batch(data, batch, seed), suite.output)

    if batch_size <= LINE_FROM + 1:
        return count(batch_size)
    low, high = count(LINE_FROM), count(LINE_FROM + 1)

    def at_batch(a: float, b: float) -> float:
        return a + (b - a) * (batch_size - LINE_FROM)

    ops = {op: at_batch(low.op_flops.get(op, 0.0), high.op_flops.get(op, 0.0))
           for op in {*low.op_flops, *high.op_flops}}
    return StepCost(at_batch(low.flops, high.flops), at_batch(low.bytes, high.bytes), ops)
