"""The memory limit's choices and readings, on fake cgroup trees: where a case's cgroup can be
made, what a failed allocation asked for, and when a dead process ran out of memory. (The
limit itself, enforced, is `tests/sweep/test_run.py`'s: a real sweep of hungry models.)"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from harness.machine import memory_limit
from harness.machine.memory_limit import (
    asked_bytes,
    cgroup_parent,
    enter,
    killed_by_limit,
    limit_bytes,
    oom_reason,
)
from harness.protocol import CGROUP_V2, RLIMIT_DATA, GiB, MemoryLimit

MOUNTS = "proc /proc proc rw 0 0\ncgroup2 {root} cgroup2 rw,nosuid 0 0\n"


def fake_cgroup_tree(tmp_path: Path, own: str, controllers: str) -> Path:
    """A cgroup v2 mount at tmp_path/cgroup with this process's folder at `own`."""
    folder = tmp_path / "cgroup" / own.strip("/")
    folder.mkdir(parents=True)
    (folder / "cgroup.controllers").write_text(controllers)
    return folder


def test_a_case_cgroup_goes_beside_this_process_cgroup_where_memory_is_handed_down(
        tmp_path: Path) -> None:
    folder = fake_cgroup_tree(tmp_path, "/user.slice/session-1.scope", "cpu io memory pids\n")
    mounts = MOUNTS.format(root=tmp_path / "cgroup")
    assert cgroup_parent("0::/user.slice/session-1.scope\n", mounts) == folder.parent


def test_no_case_cgroup_without_the_memory_controller_v2_or_a_parent(tmp_path: Path) -> None:
    fake_cgroup_tree(tmp_path, "/app", "cpu pids\n")
    mounts = MOUNTS.format(root=tmp_path / "cgroup")
    assert cgroup_parent("0::/app\n", mounts) is None  # memory not handed down
    assert cgroup_parent("0::/\n", mounts) is None  # a namespace's root: no parent folder
    assert cgroup_parent("4:memory:/x\n0::/\n", "cgroup /sys/fs/cgroup/memory cgroup rw 0 0\n"
                         ) is None  # this VM: memory on cgroup v1


def test_a_case_cgroup_is_limited_to_its_size_without_swap(tmp_path: Path) -> None:
    made = memory_limit._make_cgroup(tmp_path, 3 * GiB)
    assert made is not None and made.parent == tmp_path
    assert (made / "memory.max").read_text() == str(3 * GiB)
    assert (made / "memory.swap.max").read_text() == "0"
    assert memory_limit._make_cgroup(tmp_path / "absent", GiB) is None  # refused: None


def test_the_default_limit_is_a_share_of_the_machine_among_cases_that_run_at_once() -> None:
    machine = memory_limit.machine_memory_bytes()
    assert limit_bytes(0, 1) == int(machine * memory_limit.DEFAULT_SHARE)
    assert limit_bytes(0, 4) == int(machine * memory_limit.DEFAULT_SHARE / 4)
    assert limit_bytes(2.5, 4) == int(2.5 * GiB)  # given: as given


def test_a_cuda_case_gets_no_rlimit_and_says_why() -> None:
    limit = enter(MemoryLimit(GiB, RLIMIT_DATA), "cuda")
    assert limit is not None and not limit.enforced
    assert limit.method.startswith("none: not applied to a CUDA case")
    assert limit.columns() == {"memory_limit_gb": 1.0, "memory_limit_by": limit.method}
    cgroup = MemoryLimit(GiB, CGROUP_V2, "/sys/fs/cgroup/x")
    assert enter(cgroup, "cuda") == cgroup  # a cgroup counts host memory only: kept


@pytest.mark.parametrize(("message", "asked"), [
    ("DefaultCPUAllocator: can't allocate memory: you tried to allocate 34359738368 bytes.",
     32 * GiB),
    ("CUDA out of memory. Tried to allocate 20.00 GiB. GPU 0 has a total capacity of 79 GiB",
     20 * GiB),
    ("Unable to allocate 8.00 MiB for an array with shape (1048576,)", 8 * 2**20),
    ("", None),
])
def test_what_a_failed_allocation_asked_for(message: str, asked: int | None) -> None:
    assert asked_bytes(message) == asked


def test_an_oom_reason_says_what_ran_out_what_was_asked_the_limit_and_the_peak() -> None:
    reason = oom_reason("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: "
                        "can't allocate memory: you tried to allocate 67108864 bytes.\nmore",
                        MemoryLimit(GiB, RLIMIT_DATA), 943 * 2**20)
    assert reason == ("DefaultCPUAllocator: can't allocate memory: you tried to allocate "
                      "67108864 bytes.; asked for 64 MB; limit 1 GiB (rlimit-data); peak 943 MB")


def test_a_kernel_oom_kill_in_the_case_cgroup_is_out_of_memory(tmp_path: Path) -> None:
    (tmp_path / "memory.events").write_text("low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\n")
    (tmp_path / "memory.peak").write_text(str(2 * GiB))
    limit = MemoryLimit(2 * GiB, CGROUP_V2, str(tmp_path))
    reason = killed_by_limit(limit, -signal.SIGKILL, 0.0)
    assert reason == ("killed by the kernel's OOM killer at the case's cgroup limit; "
                      "limit 2 GiB (cgroup-v2); peak 2 GiB")
    (tmp_path / "memory.events").write_text("oom 0\noom_kill 0\n")
    assert killed_by_limit(limit, -signal.SIGSEGV, 0.1 * GiB) is None  # another crash


def test_a_signal_near_the_limit_is_out_of_memory_far_from_it_a_crash() -> None:
    limit = MemoryLimit(GiB, RLIMIT_DATA)
    near = killed_by_limit(limit, -signal.SIGABRT, 0.95 * GiB)
    assert near is not None and near.startswith("killed by SIGABRT with its memory at the limit")
    assert killed_by_limit(limit, -signal.SIGABRT, 0.5 * GiB) is None
    assert killed_by_limit(limit, 1, 0.95 * GiB) is None  # an exit, not a signal
    assert killed_by_limit(MemoryLimit(GiB, "none: why"), -signal.SIGKILL, GiB) is None


def test_the_limit_crosses_into_the_worker_with_its_spec() -> None:
    from harness.protocol import Case, WorkerSpec

    spec = WorkerSpec(Case("cnn", "tiny", "cpu-eager", "infer", 1), {}, "/c", memory=MemoryLimit(
        GiB, CGROUP_V2, f"/sys/fs/cgroup/archbench-{os.getpid()}-0"))
    assert WorkerSpec.from_json(spec.to_json()) == spec
