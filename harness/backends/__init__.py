"""Every backend archbench knows, by name. One module per backend family:

- `eager.py`    PyTorch eager fp32 (cpu-eager, cuda-eager)
- `compile.py`  torch.compile / inductor (cpu-compile, cuda-compile, and its CUDA-graph and
                max-autotune modes)
- `amp.py`      autocast bf16/fp16 (cpu-amp-bf16, cuda-amp-bf16, cuda-amp-fp16)
- `ort.py`      ONNX Runtime (ort-cpu, ort-cpu-int8, ort-cuda, ort-cuda-fp16)
- `ov.py`       OpenVINO (ov-cpu, ov-cpu-bf16; the `openvino` extra)
- `aoti.py`     AOTInductor packages (cpu-aoti, cuda-aoti)

`export_program.py` is the exported form every artifact starts from, `artifacts.py` their
cache, `onnx_export.py` the ONNX files (ORT's, and OpenVINO's source).

`base.py` defines the interface they implement; `torch_runtime.py` the runner the PyTorch ones
share. Adding a backend = a module defining instances, plus one line in `BACKENDS` (and, if it
should not get a spare colour in reports, one in `COLORS`). The report reads both, so it needs
no change for a new backend.

May import: `measure`, `model_io`, `machine`, `suites`, `errors`, and `profiling` lazily (a
runner's profile hook).
"""

from __future__ import annotations

from harness.backends import amp, aoti, compile, eager, ort, ov
from harness.backends.base import Backend, BackendUnavailable, CaseContext
from harness.errors import unknown_choice

#: The registry, in the order a reader expects backends side by side (reports, `archbench
#: list`, a default sweep): torch on the CPU, torch on CUDA, then the deployment runtimes
#: (ONNX Runtime, OpenVINO); within each, plain before compiled before reduced precision.
BACKENDS: dict[str, Backend] = {
    backend.name: backend
    for backend in (
        eager.CPU_EAGER, compile.CPU_COMPILE, aoti.CPU_AOTI, amp.CPU_AMP_BF16,
        eager.CUDA_EAGER, compile.CUDA_COMPILE, compile.CUDA_COMPILE_CUDAGRAPHS,
        compile.CUDA_COMPILE_MAX_AUTOTUNE, aoti.CUDA_AOTI, amp.CUDA_AMP_BF16,
        amp.CUDA_AMP_FP16,
        ort.ORT_CPU, ort.ORT_CPU_INT8, ort.ORT_CUDA, ort.ORT_CUDA_FP16,
        ov.OV_CPU, ov.OV_CPU_BF16,
    )
}

#: Report colour of each backend. A family shares a hue so that a glance groups it: torch on
#: the CPU blue, torch on CUDA green, ONNX Runtime on the CPU orange, on CUDA red, OpenVINO
#: purple; the variants are lighter or darker shades. A backend missing here gets a spare
#: colour in reports.
COLORS: dict[str, str] = {
    "cpu-eager": "#1f77b4", "cpu-compile": "#74a9cf", "cpu-aoti": "#3182bd",
    "cpu-amp-bf16": "#08306b",
    "cuda-eager": "#2ca02c", "cuda-compile": "#98df8a", "cuda-compile-cudagraphs": "#238b45",
    "cuda-compile-max-autotune": "#c7e9c0", "cuda-amp-bf16": "#00441b",
    "cuda-amp-fp16": "#41ab5d", "cuda-aoti": "#74c476",
    "ort-cpu": "#ff7f0e", "ort-cpu-int8": "#fdae6b", "ort-cuda": "#d62728",
    "ort-cuda-fp16": "#fc9272", "ov-cpu": "#6a51a3", "ov-cpu-bf16": "#9e9ac8",
}


def get_backend(name: str) -> Backend:
    if name not in BACKENDS:
        raise unknown_choice("backend", name, list(BACKENDS))
    return BACKENDS[name]


def available_backends() -> list[str]:
    """Backends this machine can run, in registry order."""
    return [name for name, backend in BACKENDS.items() if backend.unavailable_reason() is None]


__all__ = ["BACKENDS", "COLORS", "Backend", "BackendUnavailable", "CaseContext",
           "available_backends", "get_backend"]
