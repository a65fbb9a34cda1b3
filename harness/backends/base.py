"""The backend interface: how a model is made ready to run on some device, in some precision.

A backend turns a model into an `InferenceRunner` or a `TrainRunner`. The runner's `bind` does
all one-off work (device copies, compilation, IO binding) and returns the step to time, which
then does nothing but the work itself. Cold-start costs measured during that one-off work go
into `facts` (compile_s, export_s, load_s, ...), never into the timed samples.

Availability is answered honestly, with a reason: `unavailable_reason()` before a case is
started (no CUDA device, provider missing from the build), or `BackendUnavailable` raised from
inside the case (a provider that is listed but fails to load). Either becomes a `skipped` row.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import torch
from torch import nn

from suites.base import Task
from suites.inputs import Batch

if TYPE_CHECKING:
    from harness.profiling.request import Profile, ProfileRequest

PHASES = ("train", "infer")


def no_cuda_reason() -> str | None:
    """Why torch sees no CUDA device here, or None when it does (creates no CUDA context)."""
    if torch.cuda.is_available():
        return None
    build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
    return f"no CUDA device visible to torch (torch {torch.__version__}, {build})"


class Fence(Protocol):
    """A mark on the step launched last (a `torch.cuda.Event` recorded after it, which also
    covers every step before it on the stream; an OpenVINO request's completion)."""

    def synchronize(self) -> None:
        """Wait until that step has finished (without holding the GIL)."""


def cuda_fence(device: str) -> Fence | None:
    """An event recorded on torch's current CUDA stream, or None off CUDA (a CPU step has
    finished when it returns)."""
    if device != "cuda":
        return None
    event = torch.cuda.Event()
    event.record()
    return event


class BackendUnavailable(Exception):
    """Raised inside a case when the backend turns out not to be runnable here (-> skipped)."""


@dataclass(frozen=True)
class CaseContext:
    """What a backend may need to know about the case beyond the model itself."""

    cache_dir: Path
    threads: int
    model_key: str  # identifies model definition + size + weights, for caches (ONNX export)
    seed: int = 0
    #: The tensor of a structured output that `predict` (accuracy, parity) and a training
    #: loss use; None: the output itself, or its only tensor (`harness.model_io`).
    output: str | None = None
    #: Symbolic axes of named inputs beyond the batch ({input: {axis: name}}), for an export
    #: that must keep a sequence length dynamic (`suites.inputs.dynamic_axes`).
    dynamic_axes: Mapping[str, Mapping[int, str]] = field(default_factory=dict)
    #: The case's scenario, for a runtime tuned to it (OpenVINO's performance hint).
    scenario: str = "latency"
    #: The serving scenarios' batches in flight as the user set them (`--in-flight`; None: the
    #: scenario's default), for a runtime that compiles for them (OpenVINO's streams).
    in_flight: int | None = None


class Profiled:
    """The profiling hook of a runner (`harness.profiling`): torch.profiler by default, which
    serves every PyTorch backend; a runner of another engine overrides it."""

    def sync(self) -> None:
        """Wait for queued device work; a no-op on the CPU."""

    def in_flight(self) -> int:
        """How many steps the runner overlaps between two `sync`s: 1 for a device queue or
        synchronous execution; OpenVINO's THROUGHPUT requests (`harness.scenarios.throughput`
        sizes a pipelined block to keep them all busy)."""
        return 1

    def fence(self) -> Fence | None:
        """A mark on the step launched last that another thread can wait on, or None
        where a step has finished when it returns (the CPU, OpenVINO's synchronous requests)
        or runs where no mark can follow it (ONNX Runtime's own CUDA stream). Where there is
        one, the serving batcher launches the next batch while this one runs on the device
        (`harness.serving.batching`)."""
        return None

    def profile(self, step: Callable[[], object], request: ProfileRequest) -> Profile:
        """Profile `request.steps` calls of the bound `step` after the timed region."""
        from harness.profiling.torch_profile import profile_torch

        return profile_torch(step, self.sync, request)


class InferenceRunner(Profiled, ABC):
    """A model prepared for inference by a backend."""

    def __init__(self) -> None:
        self.facts: dict[str, Any] = {}

    @abstractmethod
    def bind(self, x: Batch) -> Callable[[], object]:
        """Prepare the fixed input batch `x` (CPU tensors) and return the step to time; the
        step computes the model's whole output."""

    @abstractmethod
    def predict(self, x: Batch) -> torch.Tensor:
        """The output tensor `CaseContext.output` names (logits) for a CPU batch, as a float32
        CPU tensor (for accuracy and parity)."""

    def counters(self) -> dict[str, Any]:
        """Facts known only after running (graph breaks, recompiles)."""
        return {}


class TrainRunner(Profiled, ABC):
    """A model, loss and optimizer prepared for training by a backend."""

    def __init__(self) -> None:
        self.facts: dict[str, Any] = {}

    @abstractmethod
    def bind(self, x: Batch, y: torch.Tensor) -> Callable[[], object]:
        """Prepare a fixed batch and return the training step to time."""

    @abstractmethod
    def step(self, x: Batch, y: torch.Tensor) -> torch.Tensor:
        """One optimizer step on a CPU batch (moved as needed); returns the loss, unsynced."""

    @abstractmethod
    def reset_optimizer(self) -> None:
        """Fresh optimizer (and scaler) state, for the training budget after timing."""

    @abstractmethod
    def trained_module(self) -> nn.Module:
        """The underlying module, for evaluating the weights after the budget."""

    def counters(self) -> dict[str, Any]:
        return {}


class Backend(ABC):
    """One way of running models: a device, a precision and an execution engine."""

    name: str
    device: str
    precision: str
    description: str
    phases: tuple[str, ...] = PHASES

    def unavailable_reason(self) -> str | None:
        """None when this machine can run the backend, else why not (one line)."""
        return None

    def default_skip_reason(self, phase: str) -> str | None:
        """Why a sweep that does not name this backend leaves its `phase` out (a skipped row),
        or None.

        For a backend that runs here but would mislead or eat the budget of a default sweep
        (emulated bf16, compiling training steps on a few cores); a user who names it still
        gets it.
        """
        return None

    #: Why a backend without a training phase has none (the deployment runtimes), for its
    #: skipped train rows; None: the generic sentence.
    no_training: str | None = None

    def phase_unsupported_reason(self, phase: str) -> str | None:
        if phase not in self.phases:
            if phase == "train" and self.no_training:
                return self.no_training
            return f"{self.name} does not support {phase}"
        return None

    def settings(self) -> dict[str, Any]:
        """Apply and return the global settings that shape this backend's numbers."""
        return {}

    @abstractmethod
    def inference(self, model: nn.Module, ctx: CaseContext) -> InferenceRunner: ...

    def training(self, model: nn.Module, task: Task, ctx: CaseContext) -> TrainRunner:
        raise BackendUnavailable(f"{self.name} does not support training")
