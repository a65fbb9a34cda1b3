"""The environment columns every row carries."""

from __future__ import annotations

import platform
import sys

import pynvml
import pytest
import torch

from harness.machine import cpu_features
from harness.machine.environment import (
    _cpu_ranges,
    archbench_commit,
    collect_environment,
    cpu_count,
    gpu_name,
    process_controls,
)
from harness.results.schema import SCHEMA


def test_environment_fills_schema_columns() -> None:
    env = collect_environment()
    assert set(env) <= set(SCHEMA)
    assert env["torch_version"] == torch.__version__
    assert env["python_version"] == platform.python_version()
    assert env["cpu_cores"] == cpu_count() >= 1
    assert env["hostname"] and env["cpu_model"]


def test_commit_is_a_short_hash_possibly_dirty() -> None:
    commit = archbench_commit()
    if commit:  # empty outside a git checkout
        head = commit.removesuffix("-dirty")
        assert len(head) == 12 and all(c in "0123456789abcdef" for c in head)


def test_cpu_count_is_capped_by_a_cgroup_quota(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.machine import environment

    monkeypatch.setattr(environment.os, "sched_getaffinity", lambda pid: set(range(64)))
    monkeypatch.setattr(environment, "_cgroup_cpu_quota", lambda: 2)
    assert environment.cpu_count() == 2
    monkeypatch.setattr(environment, "_cgroup_cpu_quota", lambda: None)
    assert environment.cpu_count() == 64


def test_environment_records_what_the_cpu_can_do() -> None:
    env = collect_environment()
    assert env["cpu_isa"] == torch.backends.cpu.get_cpu_capability()
    assert set(env["cpu_flags"].split()) <= set(cpu_features.RELEVANT_FLAGS)


class _FakeNvml:
    """Just enough of pynvml to drive `gpu_name` down each of its paths."""

    NVMLError = pynvml.NVMLError
    NVMLError_LibraryNotFound = pynvml.NVMLError_LibraryNotFound
    NVMLError_DriverNotLoaded = pynvml.NVMLError_DriverNotLoaded
    NVMLError_NoPermission = pynvml.NVMLError_NoPermission
    NVMLError_NotFound = pynvml.NVMLError_NotFound
    NVMLError_InvalidArgument = pynvml.NVMLError_InvalidArgument

    def __init__(self, init_error: Exception | None = None,
                 name_error: Exception | None = None) -> None:
        self.init_error, self.name_error = init_error, name_error
        self.asked: list[object] = []

    def nvmlInit(self) -> None:
        if self.init_error:
            raise self.init_error

    def nvmlShutdown(self) -> None:
        pass

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        self.asked.append(index)
        return index

    def nvmlDeviceGetHandleByUUID(self, uuid: str) -> str:
        self.asked.append(uuid)
        return uuid

    def nvmlDeviceGetName(self, handle: object) -> bytes:
        if self.name_error:
            raise self.name_error
        return b"NVIDIA H100 80GB HBM3"


@pytest.mark.parametrize(("visible", "fake", "expected"), [
    (None, _FakeNvml(), "NVIDIA H100 80GB HBM3"),
    ("GPU-1234,0", _FakeNvml(), "NVIDIA H100 80GB HBM3"),
    ("", _FakeNvml(), ""),  # CUDA_VISIBLE_DEVICES="" hides every device
    ("-1", _FakeNvml(), ""),
    (None, _FakeNvml(init_error=pynvml.NVMLError_DriverNotLoaded()), ""),
    (None, _FakeNvml(name_error=pynvml.NVMLError_NotFound()), ""),
    (None, _FakeNvml(init_error=pynvml.NVMLError_Unknown()), "unknown GPU (NVML: Unknown Error)"),
    (None, _FakeNvml(name_error=pynvml.NVMLError_GpuIsLost()), "unknown GPU (NVML: GPU is lost)"),
])
def test_gpu_name_is_empty_only_when_there_is_no_gpu(
        monkeypatch: pytest.MonkeyPatch, visible: str | None, fake: _FakeNvml,
        expected: str) -> None:
    """Only "no GPU" reads as ""; any other NVML failure says so, since the name decides
    whether two runs come from the same machine."""
    if visible is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    assert gpu_name() == expected
    if visible == "GPU-1234,0":
        assert fake.asked == ["GPU-1234"]


def test_process_controls_say_where_threads_run_and_what_was_set(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_PROC_BIND", "close")
    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    controls = process_controls()
    assert controls.startswith("affinity=") and " aslr=" in controls and " thp=" in controls
    assert "OMP_PROC_BIND=close" in controls and "GLIBC_TUNABLES" not in controls
    assert _cpu_ranges([0, 1, 2, 5, 7, 8]) == "0-2,5,7-8"
