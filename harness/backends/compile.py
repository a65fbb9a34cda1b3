"""torch.compile (inductor) on the CPU and CUDA, for inference and training.

Compilation happens on the first call; `TorchInference`/`TorchTrainer.bind` time that call
as `compile_s` and read dynamo's counters, so compile time never enters the steady state.
"""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Callable

import torch
from torch import nn

from harness.backends.torch_runtime import TorchBackend
from harness.machine.environment import cpu_count

#: Below this many CPUs, compiled training (and the deployment runtimes: `small_machine_reason`)
#: are left out of default sweeps (see below).
COMPILE_TRAIN_MIN_CPUS = 8


def small_machine_reason(backend: str, cost: str) -> str | None:
    """Why a default sweep leaves `backend` out on this machine, or None on one with at least
    `COMPILE_TRAIN_MIN_CPUS` CPUs: on a few cores the default sweep already spends its
    8-minute budget (docs/measurements.md), and `cost` says what the backend would add."""
    cpus = cpu_count()
    if cpus >= COMPILE_TRAIN_MIN_CPUS:
        return None
    return (f"{cost} with {cpus} CPUs; left out of default sweeps below "
            f"{COMPILE_TRAIN_MIN_CPUS} CPUs, runs when named (--backend {backend})")


def compiler_missing_reason(device: str) -> str | None:
    """Why inductor cannot generate code for `device` here (torch.compile and AOTInductor
    alike), or None."""
    if device == "cpu" and not (shutil.which("g++") or shutil.which("c++")):
        return "inductor needs a C++ compiler on the CPU (no g++ or c++ on PATH)"
    if device == "cuda" and importlib.util.find_spec("triton") is None:
        return "inductor needs triton on CUDA (not installed)"
    return None


class CompileBackend(TorchBackend):
    """torch.compile with inductor, in one of its modes: the default, "reduce-overhead" (CUDA
    graphs: one launch replays a whole step, which removes the launch overhead that dominates
    small and medium models on a modern GPU) or "max-autotune" (benchmarks kernel variants
    while compiling; that time is in compile_s too)."""

    def __init__(self, name: str, device: str, precision: str, description: str,
                 mode: str | None = None) -> None:
        super().__init__(name, device, precision, description)
        self.mode = mode

    @property
    def compiles(self) -> bool:
        return True

    def wrap(self, module: nn.Module) -> Callable[..., torch.Tensor]:
        return torch.compile(module, backend="inductor", mode=self.mode)

    def unavailable_reason(self) -> str | None:
        return super().unavailable_reason() or compiler_missing_reason(self.device)

    def default_skip_reason(self, phase: str) -> str | None:
        """Compiling a training step (forward, backward and optimizer graphs) with inductor
        on the CPU took 15 to 45 s per model on 2 CPUs, and every process of the case compiles
        again (from the cache, 5 to 8 s): a third of the default sweep's time for one
        backend-phase. It is left out of default sweeps on small machines, and runs when named.
        """
        if self.device == "cpu" and phase == "train":
            return small_machine_reason(self.name, "compiling a training step takes 15-45 s "
                                        "per model, in every process")
        return None


CPU_COMPILE = CompileBackend("cpu-compile", "cpu", "fp32", "torch.compile (inductor), fp32, CPU")
CUDA_COMPILE = CompileBackend("cuda-compile", "cuda", "fp32",
                              "torch.compile (inductor), fp32 (TF32 off), CUDA")
CUDA_COMPILE_CUDAGRAPHS = CompileBackend(
    "cuda-compile-cudagraphs", "cuda", "fp32",
    "torch.compile mode reduce-overhead (CUDA graphs), fp32 (TF32 off), CUDA",
    mode="reduce-overhead")
CUDA_COMPILE_MAX_AUTOTUNE = CompileBackend(
    "cuda-compile-max-autotune", "cuda", "fp32",
    "torch.compile mode max-autotune, fp32 (TF32 off), CUDA", mode="max-autotune")
