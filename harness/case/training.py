"""The training budget and held-out evaluation, shared by train cases and the weights cache.

The budget is stated in optimizer steps over shuffled real training data (seeded), in batches
of the task's fixed `train_batch`; the last partial batch of an epoch is dropped so that a
compiled model only ever sees one shape.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from harness.model_io import batch_len, pad_to, take
from suites.base import TaskData
from suites.inputs import Batch


def train_batches(data: TaskData, batch_size: int, steps: int, seed: int
                  ) -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(seed)
    batches: list[tuple[torch.Tensor, torch.Tensor]] = []
    per_epoch = len(data.y_train) // batch_size
    if per_epoch == 0:
        raise ValueError(f"training set ({len(data.y_train)}) is smaller than one batch "
                         f"({batch_size})")
    while len(batches) < steps:
        order = torch.randperm(len(data.y_train), generator=generator)
        for i in range(min(per_epoch, steps - len(batches))):
            index = order[i * batch_size:(i + 1) * batch_size]
            batches.append((data.x_train[index], data.y_train[index]))
    return batches


def run_budget(step: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], data: TaskData,
               batch_size: int, steps: int, seed: int) -> list[float]:
    """Train for `steps` optimizer steps; return the loss of every step (the loss curve).

    The global RNG is reseeded first: dropout draws from it, and whatever ran before (the
    timing loop of a train case) must not change the masks. So the same initial weights,
    seed and backend always give the same trained weights.
    """
    batches = train_batches(data, batch_size, steps, seed)
    torch.manual_seed(seed)
    return [float(step(x, y)) for x, y in batches]


def final_loss(losses: list[float]) -> float:
    """Mean loss over the last 10% of the budget: one step's loss is too noisy to report."""
    tail = losses[-max(1, len(losses) // 10):]
    return sum(tail) / len(tail)


def predict_in_batches(predict: Callable[[Batch], torch.Tensor], x: Batch,
                       batch_size: int) -> torch.Tensor:
    """Run `predict` over `x` (one tensor or named inputs) in batches of exactly `batch_size`
    (the last one padded by repeating its first sample, outputs dropped), so compiled models
    and fixed-shape sessions see the shape they were prepared for."""
    outputs = []
    for start in range(0, batch_len(x), batch_size):
        chunk = take(x, start, start + batch_size)
        real = batch_len(chunk)
        outputs.append(predict(pad_to(chunk, batch_size))[:real])
    return torch.cat(outputs)
