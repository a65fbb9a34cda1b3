"""What machine and versions produced a row, collected once per sweep in the parent process.

The GPU is named through NVML rather than torch so that the parent never creates a CUDA
context (which would hold device memory while the cases measure it).
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def cpu_count() -> int:
    """Logical CPUs this process may run on (respects affinity masks and container limits)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_name() -> str:
    try:
        import pynvml
        pynvml.nvmlInit()
        try:
            name = pynvml.nvmlDeviceGetName(pynvml.nvmlDeviceGetHandleByIndex(0))
        finally:
            pynvml.nvmlShutdown()
        return name.decode() if isinstance(name, bytes) else str(name)
    except Exception:  # no driver, no device, no library: all mean "no GPU name"
        return ""


@lru_cache(maxsize=1)
def archbench_commit() -> str:
    """The project's git commit, with -dirty when the working tree differs from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip()
    try:
        commit = git("rev-parse", "--short=12", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return ""
    return f"{commit}-dirty" if commit and dirty else commit


def onnxruntime_version() -> str:
    try:
        import onnxruntime
        return onnxruntime.__version__
    except ImportError:
        return ""


def collect_environment() -> dict[str, Any]:
    """The environment columns shared by every row of a run."""
    return {
        "hostname": socket.gethostname(),
        "cpu_model": cpu_model(),
        "cpu_cores": cpu_count(),
        "gpu_name": gpu_name(),
        "cuda_version": torch.version.cuda or "",
        "python_version": platform.python_version(),
        "torch_version": torch.__version__,
        "onnxruntime_version": onnxruntime_version(),
        "archbench_commit": archbench_commit(),
    }
