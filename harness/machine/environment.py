"""What machine and versions produced a row, collected once per sweep in the parent process.

The GPU is named through NVML rather than torch so that the parent never creates a CUDA
context (which would hold device memory while the cases measure it). torch is imported only
when the environment is collected: commands that read results (`archbench history`, `compare`)
use this module's helpers and would otherwise wait over a second for an import they never use.
"""

from __future__ import annotations

import importlib.metadata
import math
import os
import platform
import socket
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any

from harness.machine import cpu_features

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent


def cpu_count() -> int:
    """CPUs this process may use: its affinity mask, capped by a cgroup CPU quota.

    A container limited to 2 CPUs on a 64-core host still sees 64 in its affinity mask; 64
    threads would then be throttled to 2 CPUs' worth of time, slow and noisy.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    return max(1, min(cpus, quota)) if quota else cpus


def _cgroup_cpu_quota() -> int | None:
    """ceil(quota / period) from cgroup v2 (cpu.max) or v1 (cfs_quota_us); None if unlimited."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            return math.ceil(int(quota) / int(period))
        return None
    except (OSError, ValueError):
        pass
    try:
        quota = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text())
        period = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return math.ceil(quota / period) if quota > 0 else None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_name() -> str:
    """The name of the GPU the cases will use: the first one CUDA_VISIBLE_DEVICES names (NVML
    ignores that variable and counts every device).

    "" means no GPU: no NVML library or driver, no device, or CUDA_VISIBLE_DEVICES set to hide
    them all. Any other failure is not swallowed into "": the name decides whether two runs
    come from the same machine, so it says that it could not be read.
    """
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    first = visible.split(",")[0].strip() if visible is not None else "0"
    if not first or first.startswith("-"):
        return ""  # the variable hides every device from CUDA
    try:
        import pynvml
    except ImportError:
        return ""
    try:
        pynvml.nvmlInit()
    except (pynvml.NVMLError_LibraryNotFound, pynvml.NVMLError_DriverNotLoaded,
            pynvml.NVMLError_NoPermission):
        return ""
    except pynvml.NVMLError as exc:
        return f"unknown GPU (NVML: {exc})"
    try:
        handle = (pynvml.nvmlDeviceGetHandleByUUID(first) if first.startswith(("GPU-", "MIG-"))
                  else pynvml.nvmlDeviceGetHandleByIndex(int(first)))
        name = pynvml.nvmlDeviceGetName(handle)
    except (pynvml.NVMLError_NotFound, pynvml.NVMLError_InvalidArgument, ValueError):
        return ""  # no such device: CUDA will see none either
    except pynvml.NVMLError as exc:
        return f"unknown GPU (NVML: {exc})"
    finally:
        pynvml.nvmlShutdown()
    return name.decode() if isinstance(name, bytes) else str(name)


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


def openvino_version() -> str:
    """The installed OpenVINO's version ("" when it is not installed), read from its package
    metadata: importing it would cost every case's process a fraction of a second."""
    try:
        return importlib.metadata.version("openvino")
    except importlib.metadata.PackageNotFoundError:
        return ""


#: Environment variables that place a process's threads or shape its memory, recorded when set:
#: fresh processes of one case differ in both (benchmarks/process_noise.py).
CONTROL_VARIABLES = ("OMP_NUM_THREADS", "OMP_PROC_BIND", "OMP_PLACES", "OMP_WAIT_POLICY",
                     "GOMP_SPINCOUNT", "THP_MEM_ALLOC_ENABLE", "GLIBC_TUNABLES", "LD_PRELOAD",
                     "MALLOC_ARENA_MAX", "ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY")


def process_controls() -> str:
    """What pyperf's system checks look at, as this process sees it: the CPUs it may run on,
    address-space randomisation, transparent huge pages, the CPU frequency governor (none on a
    VM without cpufreq), and the control variables above that are set; e.g. 'affinity=0-1
    aslr=2 thp=madvise governor=none'."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    parts = [f"affinity={_cpu_ranges(cpus)}",
             f"aslr={_first_line('/proc/sys/kernel/randomize_va_space')}",
             f"thp={_chosen('/sys/kernel/mm/transparent_hugepage/enabled')}",
             f"governor={_first_line('/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor')}"]
    parts += [f"{name}={os.environ[name]}" for name in CONTROL_VARIABLES if name in os.environ]
    return " ".join(parts)


def _first_line(path: str) -> str:
    try:
        return Path(path).read_text().strip().splitlines()[0]
    except (OSError, IndexError):
        return "none"


def _chosen(path: str) -> str:
    """The bracketed choice of a sysfs setting ('always [madvise] never' -> 'madvise')."""
    text = _first_line(path)
    return text[text.find("[") + 1:text.find("]")] if "[" in text else text


def _cpu_ranges(cpus: list[int]) -> str:
    """[0, 1, 2, 5] -> '0-2,5'."""
    ranges: list[list[int]] = []
    for cpu in cpus:
        if ranges and cpu == ranges[-1][1] + 1:
            ranges[-1][1] = cpu
        else:
            ranges.append([cpu, cpu])
    return ",".join(f"{a}-{b}" if a != b else f"{a}" for a, b in ranges) or "unknown"


def collect_environment() -> dict[str, Any]:
    """The environment columns shared by every row of a run."""
    import torch

    return {
        "hostname": socket.gethostname(),
        "cpu_model": cpu_model(),
        "cpu_cores": cpu_count(),
        "cpu_isa": cpu_features.cpu_isa(),
        "cpu_flags": cpu_features.flags_text(),
        "gpu_name": gpu_name(),
        "cuda_version": torch.version.cuda or "",
        "python_version": platform.python_version(),
        "torch_version": torch.__version__,
        "onnxruntime_version": onnxruntime_version(),
        "openvino_version": openvino_version(),
        "archbench_commit": archbench_commit(),
        "process_controls": process_controls(),
    }
