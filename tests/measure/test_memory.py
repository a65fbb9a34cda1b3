"""Host peak memory of this process, and the NVML reading (with a stand-in NVML library)."""

from __future__ import annotations

import os
import sys
import types

import numpy as np
import pytest

from harness.measure import memory

BLOCK_MB = 200


def _touch_block() -> None:
    """Make the process resident in BLOCK_MB more, then give it back."""
    block = np.ones(BLOCK_MB * memory.MB, dtype=np.uint8)
    assert block.sum() == BLOCK_MB * memory.MB
    del block


def test_peak_is_at_least_the_current_rss() -> None:
    assert memory.peak_rss_mb() >= memory.current_rss_mb() - 1  # page accounting slack
    assert memory.current_rss_mb() > 10


def test_peak_remembers_a_freed_allocation() -> None:
    before = memory.current_rss_mb()
    _touch_block()
    assert memory.peak_rss_mb() >= before + 0.75 * BLOCK_MB


def test_reset_lowers_the_peak_to_the_current_level() -> None:
    _touch_block()
    high = memory.peak_rss_mb()
    if not memory.reset_peak_rss():
        pytest.skip("this kernel does not allow resetting the peak (no /proc clear_refs)")
    after = memory.peak_rss_mb()
    assert after < high - 0.5 * BLOCK_MB
    assert after >= memory.current_rss_mb() - 1


class _NVMLError(Exception):
    pass


def _fake_pynvml(processes: list[tuple[int, int | None]], used: int,
                 fail_init: bool = False) -> types.ModuleType:
    module = types.ModuleType("pynvml")
    module.NVMLError = _NVMLError
    module.shutdowns = 0

    def init() -> None:
        if fail_init:
            raise _NVMLError("driver not loaded")

    def shutdown() -> None:
        module.shutdowns += 1

    module.nvmlInit = init
    module.nvmlShutdown = shutdown
    module.nvmlDeviceGetHandleByUUID = lambda uuid: f"handle-{uuid}"
    module.nvmlDeviceGetComputeRunningProcesses = lambda handle: [
        types.SimpleNamespace(pid=pid, usedGpuMemory=mem) for pid, mem in processes]
    module.nvmlDeviceGetMemoryInfo = lambda handle: types.SimpleNamespace(used=used)
    return module


def test_nvml_reads_this_process_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _fake_pynvml([(os.getpid(), 300 * memory.MB), (1, 999 * memory.MB)],
                        used=5000 * memory.MB)
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    assert memory.nvml_process_memory_mb("GPU-0") == 300
    assert fake.shutdowns == 1


def test_nvml_is_none_when_this_process_is_not_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    """In containers NVML often cannot see our pid; the device total would include other
    processes, so no number is better than someone else's."""
    fake = _fake_pynvml([(1, 999 * memory.MB), (os.getpid(), None)], used=1234 * memory.MB)
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    assert memory.nvml_process_memory_mb("GPU-0") is None


def test_nvml_without_a_driver_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", _fake_pynvml([], 0, fail_init=True))
    assert memory.nvml_process_memory_mb("GPU-0") is None


def test_nvml_without_the_library_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml -> ImportError
    assert memory.nvml_process_memory_mb("GPU-0") is None
