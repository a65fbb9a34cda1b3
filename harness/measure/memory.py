"""Memory of the case's own process: host peak RSS, torch's CUDA allocator, and NVML.

Peak host memory is the kernel's high-water mark of resident memory (VmHWM), not a sampled
RSS reading, which would miss short spikes between samples. Because each case runs in a fresh
process, that mark belongs to the case alone; it is reset (Linux `clear_refs`, value 5) once the
baseline is taken, so the peak does not include import-time transients of libraries.

ONNX Runtime allocates GPU memory behind torch's back, so device memory is also read from NVML,
per process where the driver exposes it.
"""

from __future__ import annotations

import contextlib
import os
import resource
from pathlib import Path

import psutil

MB = 1024 * 1024


def current_rss_mb() -> float:
    return psutil.Process().memory_info().rss / MB


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark to the current RSS; False where the kernel refuses."""
    try:
        Path(f"/proc/{os.getpid()}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    """The process's peak resident memory since start (or since `reset_peak_rss`)."""
    try:
        for line in Path(f"/proc/{os.getpid()}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    # ru_maxrss is in kB on Linux and bytes on macOS; it cannot be reset, so it is the
    # lifetime peak: an upper bound, used only where /proc is unavailable.
    scale = 1 if os.uname().sysname == "Darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / MB


def torch_device_uuid(index: int) -> str:
    """NVML's UUID string ('GPU-...') of torch's CUDA device `index`."""
    import torch

    uuid = str(torch.cuda.get_device_properties(index).uuid)
    return uuid if uuid.startswith("GPU-") else f"GPU-{uuid}"


def nvml_process_memory_mb(device_uuid: str) -> float | None:
    """GPU memory the driver attributes to this process on the device with this UUID.

    None without NVML, or where the driver lists no usage for this pid (common in containers,
    whose pids NVML does not see): the whole device's usage would include other processes,
    and a number that claims to be this case's must not. The device is found by UUID because
    NVML ignores CUDA_VISIBLE_DEVICES: torch's index 0 may be NVML's index 3.
    """
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
        handle = pynvml.nvmlDeviceGetHandleByUUID(device_uuid)
        processes = pynvml.nvmlDeviceGetComputeRunningProcesses(handle)
        mine = [p.usedGpuMemory for p in processes
                if p.pid == os.getpid() and p.usedGpuMemory is not None]
        return sum(mine) / MB if mine else None
    except pynvml.NVMLError:
        return None
    finally:
        with contextlib.suppress(pynvml.NVMLError):
            pynvml.nvmlShutdown()
