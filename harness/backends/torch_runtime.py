"""The PyTorch runtime shared by the eager, compile and AMP backends.

They differ only in three knobs: the device, whether the module goes through `torch.compile`,
and the autocast dtype. One inference runner and one training runner serve all of them, so the
loop that is timed is the same code for every PyTorch backend.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from harness.backends.base import (
    Backend,
    CaseContext,
    Fence,
    InferenceRunner,
    TrainRunner,
    cuda_fence,
    no_cuda_reason,
)
from harness.measure import dynamo
from harness.model_io import call, select_output, to_device
from suites.base import Task
from suites.inputs import Batch


class TorchBackend(Backend):
    def __init__(self, name: str, device: str, precision: str, description: str,
                 autocast_dtype: torch.dtype | None = None) -> None:
        self.name = name
        self.device = device
        self.precision = precision
        self.description = description
        self.autocast_dtype = autocast_dtype

    # --- hooks for the backend modules ------------------------------------------------------

    def wrap(self, module: nn.Module) -> Callable[..., torch.Tensor]:
        """What calls the module: the module itself, or a compiled version of it."""
        return module

    @property
    def compiles(self) -> bool:
        return False

    def unavailable_reason(self) -> str | None:
        return no_cuda_reason() if self.device == "cuda" else None

    def settings(self) -> dict[str, Any]:
        """Strict fp32 (TF32 off) so that fp32 means fp32; cudnn autotuning on for speed."""
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = self.device == "cuda"
        return {"cudnn_benchmark": torch.backends.cudnn.benchmark,
                "tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
                "tf32_cudnn": torch.backends.cudnn.allow_tf32}

    # --- runners ----------------------------------------------------------------------------

    def inference(self, model: nn.Module, ctx: CaseContext) -> InferenceRunner:
        return TorchInference(self, model, ctx.output)

    def training(self, model: nn.Module, task: Task, ctx: CaseContext) -> TrainRunner:
        return TorchTrainer(self, model, task, ctx.output)

    def autocast(self) -> torch.autocast:
        return torch.autocast(self.device, dtype=self.autocast_dtype,
                              enabled=self.autocast_dtype is not None)

    def sync(self) -> None:
        if self.device == "cuda":
            torch.cuda.synchronize()


class _CompileTracker:
    """Times the cold (compiling) call and counts what dynamo did then and afterwards."""

    def __init__(self, backend: TorchBackend) -> None:
        self.backend = backend
        self.frames_after_compile: int | None = None
        self.graphs_after_compile = 0

    def first_call(self, call: Callable[[], object], facts: dict[str, Any]) -> None:
        """Time the runner's first call, the one that compiles. Only the first: the batch
        sweep binds every batch size, and a later bind's compilation is a recompile, counted
        from here, not a new compile time."""
        if not self.backend.compiles or self.frames_after_compile is not None:
            return
        start = time.perf_counter()
        call()
        self.backend.sync()
        facts["compile_s"] = time.perf_counter() - start
        facts["graph_breaks"] = dynamo.graph_breaks()
        facts["compiled_graphs"] = dynamo.compiled_graphs()
        self.frames_after_compile = dynamo.compiled_frames()
        self.graphs_after_compile = dynamo.cudagraph_recordings()

    def counters(self) -> dict[str, Any]:
        """Recompiles since the first call: frames dynamo compiled again, and CUDA graphs
        recorded again (mode "reduce-overhead")."""
        if self.frames_after_compile is None:
            return {}
        return {"recompiles": dynamo.compiled_frames() - self.frames_after_compile
                + dynamo.cudagraph_recordings() - self.graphs_after_compile}


class TorchInference(InferenceRunner):
    def __init__(self, backend: TorchBackend, model: nn.Module, output: str | None) -> None:
        super().__init__()
        self.backend = backend
        self.module = model.to(backend.device).eval()
        self.forward = backend.wrap(self.module)
        self.output = output
        self.tracker = _CompileTracker(backend)

    def _run(self, x: Batch) -> Any:
        with torch.inference_mode(), self.backend.autocast():
            return call(self.forward, x)

    def bind(self, x: Batch) -> Callable[[], object]:
        x = to_device(x, self.backend.device)
        self.tracker.first_call(lambda: self._run(x), self.facts)
        return lambda: self._run(x)

    def predict(self, x: Batch) -> torch.Tensor:
        out = self._run(to_device(x, self.backend.device))
        return select_output(out, self.output).float().cpu()

    def sync(self) -> None:
        self.backend.sync()

    def fence(self) -> Fence | None:
        return cuda_fence(self.backend.device)

    def counters(self) -> dict[str, Any]:
        return self.tracker.counters()


class TorchTrainer(TrainRunner):
    """forward -> loss -> backward -> optimizer step -> zero_grad(set_to_none=True).

    fp16 autocast trains with a gradient scaler (fp16's range underflows small gradients);
    bf16 has fp32's range and needs none. The loss is computed in fp32 from the output tensor
    the suite names (the logits).
    """

    def __init__(self, backend: TorchBackend, model: nn.Module, task: Task,
                 output: str | None) -> None:
        super().__init__()
        self.backend = backend
        self.task = task
        self.output = output
        self.module = model.to(backend.device).train()
        self.forward = backend.wrap(self.module)
        self.loss_fn = task.loss()
        self.tracker = _CompileTracker(backend)
        self.reset_optimizer()

    def reset_optimizer(self) -> None:
        self.optimizer = self.task.optimizer(self.module)
        fp16 = self.backend.autocast_dtype == torch.float16
        self.scaler = torch.amp.GradScaler(self.backend.device) if fp16 else None

    def step(self, x: Batch, y: torch.Tensor) -> torch.Tensor:
        x, y = to_device(x, self.backend.device), y.to(self.backend.device)
        with self.backend.autocast():
            out = select_output(call(self.forward, x), self.output)
            loss = self.loss_fn(out.float(), y)
        if self.scaler is None:
            loss.backward()
            self.optimizer.step()
        else:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        return loss.detach()

    def bind(self, x: Batch, y: torch.Tensor) -> Callable[[], object]:
        x, y = to_device(x, self.backend.device), y.to(self.backend.device)
        self.tracker.first_call(lambda: self.step(x, y), self.facts)
        return lambda: self.step(x, y)

    def trained_module(self) -> nn.Module:
        return self.module

    def sync(self) -> None:
        self.backend.sync()

    def counters(self) -> dict[str, Any]:
        return self.tracker.counters()
