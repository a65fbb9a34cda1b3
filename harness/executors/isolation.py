"""One process of one case, isolated: a fresh interpreter, a timeout, and a kill of its group.

Isolation is a subprocess per case process (`python -m harness.case.worker`), not a fork: a fresh
interpreter shares no allocator state, thread pools, compiled graphs or CUDA context with the
cases before it, and a case that aborts or hangs cannot take the sweep with it. The parent
blocks in `wait(timeout)` while a case runs (it does not poll, so it does not compete with
the case for a core). The case runs in a process group of its own, so that a timeout kills
what it started too; and it holds a lifeline to its parent (`harness.case.lifeline`), so that it
also dies when the parent is killed outright.

Both executors launch cases through `launch`: the local one from the sweep's own process, the
Ray one from a Ray task on the node that was given the case (`harness.executors.node`), so a
case never runs inside a Ray worker, whose process Ray reuses for other tasks. This module
imports nothing heavy (no torch, no pandas): a Ray worker loads it for every task.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from harness.machine.memory_limit import join, killed_by_limit, memory_limit
from harness.protocol import Lifeline, ProcessResult, WorkerSpec
from harness.results.storage import writing

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
#: How long a case's process outlives its timeout before it ends itself: the parent kills it
#: at the timeout; the worker's own deadline is only for a parent that is alive but stuck.
WORKER_GRACE_S = 30.0


def launch(spec: WorkerSpec, timeout_s: float, log_path: Path, python: str,
           env: Mapping[str, str] | None = None, *, max_memory_gb: float = 0.0,
           shared_by: int = 1) -> ProcessResult:
    """Run the worker on `spec` in a fresh interpreter, its output in `log_path`, killed with
    its group after `timeout_s`, its host memory limited (`harness.machine.memory_limit`: to
    `max_memory_gb`, or by default to its share of the machine among the `shared_by` cases
    that run on it at once); never raises for the case's sake. `env` overrides variables of
    the worker's environment."""
    with writing(log_path):
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = log_path.open("w")
    with (log, _lifeline() as lifeline, _exchange_folder(log_path) as folder,
          memory_limit(max_memory_gb, shared_by) as limit):
        spec_path, out_path = folder / "spec.json", folder / "out.json"
        spec_path.write_text(json.dumps(spec.held_by(Lifeline(
            os.getpid(), lifeline, timeout_s + WORKER_GRACE_S), limit).to_json()))
        start = time.perf_counter()
        child = subprocess.Popen(
            [python, "-m", "harness.case.worker", str(spec_path), str(out_path)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            pass_fds=(lifeline,), env=worker_env(env))
        reaper = _Reaper(child)
        try:
            join(limit, child.pid)
            timed_out = not reaper.done.wait(timeout_s)
        except BaseException:  # Ctrl-C, SIGTERM (see cli): the case has its own session
            _kill_group(child, reaper)
            raise
        _kill_group(child, reaper)  # what the case started and left behind (compiler workers)
        wall_s = time.perf_counter() - start
        if out_path.exists():
            result = ProcessResult.from_json(json.loads(out_path.read_text()))
        elif timed_out:
            result = ProcessResult.failure(spec.process, "timeout",
                                           f"no result after {timeout_s:g} s; killed")
        elif oom := killed_by_limit(limit, child.returncode, reaper.peak_bytes):
            result = ProcessResult(spec.process, "oom", oom,
                                   row={"peak_rss_mb": reaper.peak_bytes / 2**20})
        else:
            result = ProcessResult.failure(spec.process, "crashed",
                                           _crash_reason(child.returncode, log_path))
    # the worker's own columns say the limit in force (none for a CUDA case on an rlimit)
    return result.timed(wall_s).placed({**limit.columns(), **result.row})


class _Reaper:
    """Waits for the case's process in a thread of its own, with `os.wait4`: unlike
    `Popen.wait` it keeps the dead process's resource usage, whose peak resident memory tells a
    process killed at its memory limit from any other crash. The launcher waits on `done`
    (with the case's timeout, and interruptible by Ctrl-C), never on the `Popen` itself, so
    that only this thread reaps the process."""

    def __init__(self, child: subprocess.Popen) -> None:
        self.child = child
        self.peak_bytes = 0.0
        self.done = threading.Event()
        threading.Thread(target=self._reap, name=f"reap-{child.pid}", daemon=True).start()

    def _reap(self) -> None:
        _, status, usage = os.wait4(self.child.pid, 0)
        self.peak_bytes = usage.ru_maxrss * 1024.0  # kilobytes on Linux
        self.child.returncode = os.waitstatus_to_exitcode(status)
        self.done.set()


@contextlib.contextmanager
def _exchange_folder(log_path: Path) -> Iterator[Path]:
    """Where the spec and the result pass between the parent and the worker: beside the case's
    log, removed after. Not the system's temporary folder: a driver killed outright (kill -9)
    cannot remove anything, and its last spec then stays in the run it belongs to, not in /tmp
    (where `make test`'s killed sweeps left dozens)."""
    folder = log_path.with_name(f"{log_path.name}.exchange")
    folder.mkdir(parents=True, exist_ok=True)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


#: glibc's malloc as a case's process runs it, unless the user set GLIBC_TUNABLES (even empty):
#: a fixed mmap threshold at glibc's largest (32 MiB) and no trimming, so that the tensors of
#: each step reuse the memory of the step before. By default glibc serves a large allocation
#: with mmap and returns it on free, page faults on every step, until its threshold adapts to
#: the sizes freed, at a moment that differs from process to process: fresh processes of
#: transformer/small cpu-eager ran at two speeds, 2.5 or 4-5 ms (a spread of 13%), with these
#: settings all at 2.5 ms (1.2%), measured interleaved (benchmarks/process_noise.py,
#: docs/measurements.md). What a process ran with is in its row (`process_controls`).
STEADY_MALLOC = {"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=33554432:"
                                   "glibc.malloc.trim_threshold=4294967296"}


def worker_env(overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """The parent's environment, unbuffered, with this checkout importable (a case may run in
    another interpreter, an A/B variant, that does not have archbench installed), glibc's
    malloc steady (`STEADY_MALLOC`) unless the user chose its settings, and the caller's
    overrides on top."""
    path = os.pathsep.join(p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH")) if p)
    return {**STEADY_MALLOC, **os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": path,
            **(overrides or {})}


@contextlib.contextmanager
def _lifeline() -> Iterator[int]:
    """A pipe for the worker to inherit the read end of. Nothing is written to it: the worker
    reads EOF once the write end closes, after the case, or when this process dies however."""
    read_end, write_end = os.pipe()  # neither is inherited by anything else this process starts
    try:
        yield read_end
    finally:
        os.close(read_end)
        os.close(write_end)


def _kill_group(child: subprocess.Popen, reaper: _Reaper) -> None:
    """Kill the case and anything it started (compiler workers), then see it reaped."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)
    reaper.done.wait()


def _crash_reason(returncode: int, log_path: Path) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        reason = f"worker killed by {name}"
    else:
        reason = f"worker exited with code {returncode} without a result"
    lines = [line for line in log_path.read_text(errors="replace").splitlines() if line.strip()]
    return f"{reason} (last output: {lines[-1][:200]})" if lines else reason
