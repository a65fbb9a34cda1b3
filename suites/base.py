"""What a suite is: a declarative description of one architecture family and its task.

A suite names its sizes (hyper-parameter dicts), knows how to build a model for a size, and
how to load its task's data for a size. Everything else (timing, backends, accuracy) lives in
`harness/` and only talks to suites through this object, which is why a user's own model is
a suite too: write a `Suite(...)` in a Python file and pass it with `--suite-file`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from harness.errors import unknown_choice


@dataclass(frozen=True)
class TaskData:
    """A fixed train/held-out split of real data, as tensors ready for the model."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])


@dataclass(frozen=True)
class Task:
    """Data, loss and metric, plus the training budget every backend gets.

    The budget is a number of optimizer steps (not epochs) so that it costs the same however
    the data set is split; `train_batch` is fixed so that a compiled model sees one shape.
    """

    name: str
    load: Callable[[Mapping[str, Any]], TaskData]
    loss: Callable[[], nn.Module] = nn.CrossEntropyLoss
    metric: str = "top-1 accuracy"
    train_steps: int = 200
    train_batch: int = 32
    lr: float = 3e-3

    def optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        return torch.optim.AdamW(model.parameters(), lr=self.lr)


def top1_accuracy(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of samples whose arg-max class is the target."""
    return float((logits.argmax(dim=-1) == targets).float().mean())


@dataclass(frozen=True)
class Suite:
    """One architecture family at several named sizes, with its task."""

    name: str
    description: str
    sizes: Mapping[str, Mapping[str, Any]]
    build: Callable[[Mapping[str, Any], TaskData], nn.Module]
    task: Task
    default_sizes: tuple[str, ...] = ("small", "medium")
    #: The sizes a sweep runs on a machine with a CUDA device (None: `default_sizes`): a GPU
    #: runs the small models at launch-overhead speed, which says little about the GPU.
    gpu_default_sizes: tuple[str, ...] | None = None
    source: str = field(default="builtin", compare=False)

    def defaults(self, cuda: bool) -> tuple[str, ...]:
        """The sizes a sweep that names none runs, on a machine with or without CUDA."""
        return (self.gpu_default_sizes or self.default_sizes) if cuda else self.default_sizes

    def config(self, size: str) -> Mapping[str, Any]:
        if size not in self.sizes:
            raise unknown_choice("size", size, list(self.sizes), f"for suite '{self.name}'")
        return self.sizes[size]

    def data(self, size: str) -> TaskData:
        return self.task.load(self.config(size))

    def model(self, size: str, data: TaskData, seed: int) -> nn.Module:
        """A freshly initialised model; the seed makes the initial weights reproducible."""
        torch.manual_seed(seed)
        return self.build(self.config(size), data)

    def synthetic_batch(self, data: TaskData, batch_size: int,
                        seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Random inputs of the task's shape, dtype and value range, for throughput cases.

        Token inputs draw from the observed token range, so an embedding lookup never goes out
        of bounds; float inputs are standard normal like the (standardised) real data.
        """
        generator = torch.Generator().manual_seed(seed)
        shape = (batch_size, *data.sample_shape)
        if data.x_train.dtype.is_floating_point:
            x = torch.randn(shape, generator=generator, dtype=data.x_train.dtype)
        else:
            high = int(data.x_train.max()) + 1
            x = torch.randint(0, high, shape, generator=generator, dtype=data.x_train.dtype)
        y = torch.randint(0, data.num_classes, (batch_size,), generator=generator)
        return x, y
