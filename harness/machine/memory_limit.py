"""A limit on a case process's host memory: chosen, enforced, and read back as an `oom` row.

A harness that runs users' models on shared machines must not let one case push the machine's
other processes out, or be ended by the kernel's OOM killer with nothing said. Every case
process runs under a limit (`--max-memory GB`; by default `DEFAULT_SHARE` of the machine's
memory divided among the cases that run on it at once), enforced with the best means the
platform offers, and the row says which (`memory_limit_gb`, `memory_limit_by`):

1. **cgroup-v2**: a cgroup of its own with `memory.max` (and no swap), created beside the
   launcher's own cgroup where the launcher may create one (its parent folder is writable and
   hands the memory controller down). The whole process tree counts against one limit,
   resident memory is what counts, and the kernel says when it acted (`memory.events`'s
   `oom_kill`) and how high the case went (`memory.peak`). The launcher moves the worker into
   it as soon as it starts.
   Not beside the launcher's cgroup when that is the root of a cgroup namespace (a container):
   there is no parent folder to create a sibling in, and a child would need the launcher's own
   processes moved out of its cgroup first (cgroup v2's rule that only leaves hold processes).
2. **rlimit-data**: `RLIMIT_DATA` on the worker process: its private writable memory
   (malloc, mmap, the heap; not shared libraries' code) cannot grow past the limit, so an
   allocation beyond it fails at once, in the case (torch: "can't allocate memory", numpy and
   Python: MemoryError), before the kernel's OOM killer would act. Not `RLIMIT_AS`: address
   space counts reservations never touched (glibc's malloc arenas, thread stacks, CUDA's
   unified address range), which ends cases that use little memory. What it counts is what the
   process *asked for*, touched or not, per process (a child it starts has its own). Not
   applied to a CUDA case: the CUDA driver maps device memory and pinned host memory into the
   process, and a limit on them is not a limit on host memory; such a row says `none` and why.
3. **none**, with the reason.

A case that hits the limit is an `oom` row (never `error` or `crashed`): what it asked for
(parsed from the allocator's message where it says), the limit and how it is enforced, and the
peak it reached. That holds for an allocation the case sees fail (the worker reports it), and
for a process killed outright: by the kernel at the cgroup's limit (`oom_kill`), or by a signal
while its peak resident memory was within `NEAR_LIMIT` of the limit (an allocation failure in
native code that aborts).

This module imports nothing heavy (a Ray worker launches cases through it).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import resource
import signal
from collections.abc import Iterator
from pathlib import Path

from harness.protocol import CGROUP_V2, RLIMIT_DATA, GiB, MemoryLimit

#: The share of a machine's memory its cases may use by default, divided among the cases that
#: run at once: the rest is the launcher's, the OS's and the page cache's.
DEFAULT_SHARE = 0.8
#: A process killed by a signal whose peak resident memory reached this share of its limit is
#: taken to have run out of memory.
NEAR_LIMIT = 0.9
_CUDA_REASON = ("none: not applied to a CUDA case (the CUDA driver maps device and pinned "
                "memory into the process, so a process limit would not be one on host memory)")
_ASKED = (re.compile(r"tried to allocate (\d+) bytes", re.IGNORECASE),
          re.compile(r"tried to allocate ([\d.]+) (GiB|MiB|KiB|B)\b", re.IGNORECASE),
          re.compile(r"unable to allocate ([\d.]+) (GiB|MiB|KiB|B)\b", re.IGNORECASE))
_ENFORCE = re.compile(r"^\[enforce fail at [^\]]*\]\s*(err == 0\.\s*)?")
_UNITS = {"gib": GiB, "mib": 2**20, "kib": 2**10, "b": 1}
_serial = itertools.count()


def machine_memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def limit_bytes(max_memory_gb: float, shared_by: int) -> int:
    """The limit for one case process: `max_memory_gb` if given (> 0), else `DEFAULT_SHARE` of
    this machine's memory divided among the `shared_by` cases that run on it at once."""
    if max_memory_gb > 0:
        return int(max_memory_gb * GiB)
    return int(machine_memory_bytes() * DEFAULT_SHARE / max(1, shared_by))


@contextlib.contextmanager
def memory_limit(max_memory_gb: float, shared_by: int) -> Iterator[MemoryLimit]:
    """The limit a case process launched inside this block runs under (module docstring): a
    cgroup made for it and removed after, else `RLIMIT_DATA` for the worker to set."""
    size = limit_bytes(max_memory_gb, shared_by)
    parent = cgroup_parent(_read("/proc/self/cgroup"), _read("/proc/self/mounts"))
    folder = _make_cgroup(parent, size) if parent is not None else None
    if folder is None:
        yield MemoryLimit(size, RLIMIT_DATA)
        return
    try:
        yield MemoryLimit(size, CGROUP_V2, str(folder))
    finally:
        with contextlib.suppress(OSError):  # still holds a process only if one escaped the kill
            folder.rmdir()


def cgroup_parent(proc_cgroup: str, mounts: str) -> Path | None:
    """Where a case's cgroup can be made: the parent folder of this process's cgroup-v2 folder,
    if that hands the memory controller to its children (which this cgroup then lists) and this
    process may write there; None otherwise (cgroup v1, a namespace's root, no permission)."""
    own = next((line[3:] for line in proc_cgroup.splitlines() if line.startswith("0::")), None)
    mount = next((fields[1] for fields in (line.split() for line in mounts.splitlines())
                  if len(fields) > 2 and fields[2] == "cgroup2"), None)
    if own is None or mount is None or own.strip("/") == "":
        return None
    folder = Path(mount) / own.strip("/")
    if "memory" not in _read(folder / "cgroup.controllers").split():
        return None
    return folder.parent if os.access(folder.parent, os.W_OK) else None


def _make_cgroup(parent: Path, size: int) -> Path | None:
    """A new cgroup under `parent` limited to `size` bytes without swap; None if refused."""
    folder = parent / f"archbench-{os.getpid()}-{next(_serial)}"
    try:
        folder.mkdir()
        (folder / "memory.max").write_text(str(size))
    except OSError:
        with contextlib.suppress(OSError):
            folder.rmdir()
        return None
    with contextlib.suppress(OSError):  # absent without swap accounting
        (folder / "memory.swap.max").write_text("0")
    return folder


def join(limit: MemoryLimit, pid: int) -> None:
    """Move the just-started process `pid` (and what it will start) into the limit's cgroup;
    the launcher does it, so that the worker's imports count too. Nothing for an rlimit, which
    the worker sets itself (`enter`)."""
    if limit.method == CGROUP_V2:
        Path(limit.cgroup, "cgroup.procs").write_text(str(pid))


def enter(limit: MemoryLimit | None, device: str) -> MemoryLimit | None:
    """Put this (the worker's) process under an `RLIMIT_DATA` limit before the case allocates
    (a cgroup it was put in by its launcher); the limit in force, which for a CUDA case on
    `RLIMIT_DATA` is none (module docstring)."""
    if limit is None or limit.method != RLIMIT_DATA:
        return limit
    if device == "cuda":
        return MemoryLimit(limit.limit_bytes, _CUDA_REASON)
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    size = limit.limit_bytes if hard == resource.RLIM_INFINITY else min(limit.limit_bytes, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (size, hard))
    return MemoryLimit(size, RLIMIT_DATA)


def asked_bytes(message: str) -> int | None:
    """What a failed allocation asked for, from the allocator's message (torch's CPU and CUDA
    allocators, numpy), or None where it does not say."""
    for pattern in _ASKED:
        if found := pattern.search(message):
            unit = _UNITS[found.group(2).lower()] if pattern.groups > 1 else 1
            return int(float(found.group(1)) * unit)
    return None


def oom_reason(message: str, limit: MemoryLimit | None, peak_bytes: float | None) -> str:
    """One line for an `oom` row: what ran out (`message`, without torch's source location),
    what was asked for, the limit, and the peak the process reached."""
    first = message.strip().splitlines()[0] if message.strip() else "out of memory"
    parts = [_ENFORCE.sub("", first)[:200]]
    if (asked := asked_bytes(message)) is not None:
        parts.append(f"asked for {_size(asked)}")
    if limit is not None:
        parts.append(limit.describe())
    if peak_bytes:
        parts.append(f"peak {_size(peak_bytes)}")
    return "; ".join(parts)


def _size(n_bytes: float) -> str:
    return f"{n_bytes / GiB:.3g} GiB" if n_bytes >= GiB else f"{n_bytes / 2**20:.0f} MB"


def killed_by_limit(limit: MemoryLimit, returncode: int, peak_bytes: float) -> str | None:
    """Why a process that left no result ran out of memory, or None if nothing says it did:
    its cgroup's OOM kill, or a signal with its peak near the limit (module docstring)."""
    if limit.method == CGROUP_V2:
        events = dict(line.split() for line in _read(Path(limit.cgroup, "memory.events"))
                      .splitlines() if len(line.split()) == 2)
        if int(events.get("oom_kill", 0)) > 0:
            peak = _cgroup_peak(limit) or peak_bytes
            return oom_reason("killed by the kernel's OOM killer at the case's cgroup limit",
                              limit, peak)
    if returncode < 0 and limit.enforced and peak_bytes >= NEAR_LIMIT * limit.limit_bytes:
        name = signal.Signals(-returncode).name if -returncode in signal.valid_signals() \
            else f"signal {-returncode}"
        return oom_reason(f"killed by {name} with its memory at the limit", limit, peak_bytes)
    return None


def _cgroup_peak(limit: MemoryLimit) -> int | None:
    text = _read(Path(limit.cgroup, "memory.peak")).strip()  # Linux 5.19 and later
    return int(text) if text.isdigit() else None


def _read(path: str | Path) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""
