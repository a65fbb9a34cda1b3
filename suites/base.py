"""What a suite is: a declarative description of one architecture family and its task.

A suite names its sizes (hyper-parameter dicts), knows how to build a model for a size, and
how to load its task's data for a size. Everything else (timing, backends, accuracy) lives in
`harness/` and only talks to suites through this object, which is why a user's own model is
a suite too: write a `Suite(...)` in a Python file and pass it with `--suite-file`.

A user's model often has no task: a pretrained model whose question is which backend to ship
it on. Such a suite declares its `inputs` (`suites.inputs`) or a `synthetic` batch maker
instead; timing, memory, FLOPs, parity against fp64 and the profile need nothing else, and
accuracy is left empty with the reason. `weights="as built"` says that `build` already
returns the weights to benchmark (pretrained, or loaded from a checkpoint), so inference runs
them untouched instead of the reference training of the built-in suites.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from harness.errors import UsageError, unknown_choice
from suites.inputs import Batch, InputSpec, dynamic_axes, make_batch, parse_input, parse_inputs


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
    load: Callable[[Mapping[str, Any]], TaskData] | None  # None: synthetic targets, no data
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


#: What a suite's `weights` may say: trained by the reference backend for the task's budget
#: (the built-in suites: it is what makes their accuracy mean something), or as `build` returns
#: them (a pretrained model or a user's checkpoint, benchmarked untouched).
TRAINED, AS_BUILT = "trained", "as built"
#: Why a suite without a task has no accuracy (the row's `accuracy_note`).
NO_TASK = "no task"


@dataclass(frozen=True)
class Suite:
    """One architecture family at several named sizes, with its task or its declared inputs.

    `inputs` (specs or their one-line forms, `suites.inputs`) or `synthetic(batch_size,
    generator)` make the batches of a suite without a task; `output` names the tensor of a
    structured output (dict, tuple, dataclass) that accuracy and parity compare. Training
    without a task needs `train_loss` (a loss module factory, called as loss(output, targets))
    and `targets` (a spec of the synthetic targets); without them train cases are skipped.
    """

    name: str
    description: str
    sizes: Mapping[str, Mapping[str, Any]]
    build: Callable[[Mapping[str, Any], TaskData | None], nn.Module]
    task: Task | None = None
    default_sizes: tuple[str, ...] = ("small", "medium")
    #: The sizes a sweep runs on a machine with a CUDA device (None: `default_sizes`): a GPU
    #: runs the small models at launch-overhead speed, which says little about the GPU.
    gpu_default_sizes: tuple[str, ...] | None = None
    inputs: tuple[InputSpec | str, ...] = ()
    synthetic: Callable[[int, torch.Generator], Batch] | None = None
    output: str | None = None
    weights: str | None = None  # TRAINED or AS_BUILT; None: TRAINED with a task, else AS_BUILT
    train_loss: Callable[[], nn.Module] | None = None
    targets: InputSpec | str | None = None
    source: str = field(default="builtin", compare=False)

    def __post_init__(self) -> None:
        """Check what can be checked without building anything, so that a suite file with a
        mistake fails on import with one line (`suites.registry`)."""
        where = f"suite '{self.name}'"
        if self.task is None and not self.inputs and self.synthetic is None:
            raise UsageError(f"{where} has no task: declare its inputs=, e.g. "
                             "inputs=['input_ids:int64[B,128]<30522'], or synthetic=")
        if self.inputs and self.synthetic is not None:
            raise UsageError(f"{where}: give inputs= or synthetic=, not both")
        object.__setattr__(self, "inputs", parse_inputs(self.inputs))
        weights = self.weights or (TRAINED if self.task is not None else AS_BUILT)
        if weights not in (TRAINED, AS_BUILT):
            raise unknown_choice("weights", weights, (TRAINED, AS_BUILT), f"of {where}")
        if weights == TRAINED and self.task is None:
            raise UsageError(f"{where}: weights='{TRAINED}' needs a task to train on; "
                             f"without one the weights are '{AS_BUILT}'")
        object.__setattr__(self, "weights", weights)
        if (self.train_loss is None) != (self.targets is None):
            raise UsageError(f"{where}: train_loss= and targets= go together (the loss of "
                             "the output against synthetic targets)")
        if isinstance(self.targets, str):
            object.__setattr__(self, "targets", parse_input(self.targets))

    @property
    def as_built(self) -> bool:
        """Inference runs the weights `build` returns, untouched (no reference training)."""
        return self.weights == AS_BUILT

    def defaults(self, cuda: bool) -> tuple[str, ...]:
        """The sizes a sweep that names none runs, on a machine with or without CUDA."""
        return (self.gpu_default_sizes or self.default_sizes) if cuda else self.default_sizes

    def config(self, size: str) -> Mapping[str, Any]:
        if size not in self.sizes:
            raise unknown_choice("size", size, list(self.sizes), f"for suite '{self.name}'")
        return self.sizes[size]

    def data(self, size: str) -> TaskData | None:
        """The task's data, or None for a suite without a task."""
        return self.task.load(self.config(size)) if self.task is not None else None

    def model(self, size: str, data: TaskData | None, seed: int) -> nn.Module:
        """A freshly initialised model; the seed makes the initial weights reproducible."""
        torch.manual_seed(seed)
        return self.build(self.config(size), data)

    def objective(self) -> Task | None:
        """Loss and optimizer of a training step: the task's, or the declared loss on
        synthetic targets; None when the suite cannot train (`train_skip_reason`)."""
        if self.task is not None:
            return self.task
        if self.train_loss is not None:
            return Task(name="synthetic targets", load=None, loss=self.train_loss)
        return None

    def train_skip_reason(self) -> str | None:
        """Why train cases of this suite are skipped, or None when it can train."""
        if self.objective() is None:
            return (f"suite '{self.name}' has no task and no declared loss; training needs "
                    "train_loss= and targets= (synthetic targets)")
        return None

    def dynamic_axes(self) -> dict[str, dict[int, str]]:
        """Symbolic axes of the declared inputs beyond the batch ({}: the batch only)."""
        return dynamic_axes(self.inputs) if self.inputs else {}

    def synthetic_batch(self, data: TaskData | None, batch_size: int,
                        seed: int) -> tuple[Batch, torch.Tensor | None]:
        """Random inputs of the task's (or the declared) shape, dtype and value range, for
        timing, and targets for a training step (None where the suite cannot train).

        Task inputs: token inputs draw from the observed token range, so an embedding lookup
        never goes out of bounds; float inputs are standard normal like the (standardised)
        real data.
        """
        generator = torch.Generator().manual_seed(seed)
        if self.synthetic is not None:
            x: Batch = self.synthetic(batch_size, generator)
        elif self.inputs:
            x = make_batch(self.inputs, batch_size, generator)
        else:
            x = _like(_task_data(data, self.name).x_train, batch_size, generator)
        if self.task is not None:
            num_classes = _task_data(data, self.name).num_classes
            return x, torch.randint(0, num_classes, (batch_size,), generator=generator)
        if isinstance(self.targets, InputSpec):
            return x, self.targets.make(batch_size, generator)
        return x, None


def _task_data(data: TaskData | None, suite: str) -> TaskData:
    if data is None:
        raise ValueError(f"suite '{suite}' has a task, but no task data was given")
    return data


def _like(x_train: torch.Tensor, batch_size: int, generator: torch.Generator) -> torch.Tensor:
    shape = (batch_size, *x_train.shape[1:])
    if x_train.dtype.is_floating_point:
        return torch.randn(shape, generator=generator, dtype=x_train.dtype)
    high = int(x_train.max()) + 1
    return torch.randint(0, high, shape, generator=generator, dtype=x_train.dtype)
