"""Every backend archbench knows, by name. One module per backend family:

- `eager.py`    PyTorch eager fp32 (cpu-eager, cuda-eager)
- `compile.py`  torch.compile / inductor (cpu-compile, cuda-compile)
- `amp.py`      autocast bf16/fp16 (cpu-amp-bf16, cuda-amp-bf16, cuda-amp-fp16)
- `ort.py`      ONNX Runtime (ort-cpu, ort-cpu-int8, ort-cuda, ort-cuda-fp16)

`base.py` defines the interface they implement; `torch_runtime.py` the runner the PyTorch ones
share. Adding a backend = a module defining instances, plus one line below.
"""

from __future__ import annotations

from harness.backends import amp, compile, eager, ort
from harness.backends.base import Backend, BackendUnavailable, CaseContext
from harness.errors import unknown_choice

BACKENDS: dict[str, Backend] = {
    backend.name: backend
    for backend in (
        eager.CPU_EAGER, compile.CPU_COMPILE, amp.CPU_AMP_BF16, ort.ORT_CPU, ort.ORT_CPU_INT8,
        eager.CUDA_EAGER, compile.CUDA_COMPILE, amp.CUDA_AMP_BF16, amp.CUDA_AMP_FP16,
        ort.ORT_CUDA, ort.ORT_CUDA_FP16,
    )
}


def get_backend(name: str) -> Backend:
    if name not in BACKENDS:
        raise unknown_choice("backend", name, list(BACKENDS))
    return BACKENDS[name]


def available_backends() -> list[str]:
    """Backends this machine can run, in registry order."""
    return [name for name, backend in BACKENDS.items() if backend.unavailable_reason() is None]


__all__ = ["BACKENDS", "Backend", "BackendUnavailable", "CaseContext", "available_backends",
           "get_backend"]
