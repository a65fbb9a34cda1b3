"""A case's process group dies with its sweep: parent-death signal, watchdog pipe, deadline.

Each test starts a stand-in for a worker (`CASE`): it holds its lifeline, starts a child (as
compiler workers would) and sleeps. The test process plays the sweep and keeps the pipe's
write end, so each of the three ways to die can be triggered on its own.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

CASE = """
import os, subprocess, sys, time
from harness.case.lifeline import hold
hold(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]))
child = subprocess.Popen(["sleep", "60"])
print(os.getpid(), child.pid, flush=True)
time.sleep(60)
"""
#: Starts the case given on its command line as its own child, then sleeps.
PARENT = """
import os, subprocess, sys, time
command = sys.argv[1:]
command[-3] = str(os.getpid())
subprocess.Popen(command, pass_fds=(int(command[-2]),), start_new_session=True)
time.sleep(60)
"""
#: Leads a new session and runs the command on its command line as its child, which is then
#: in a process group it does not lead.
LEADER = ("import subprocess, sys\n"
          "sys.exit(subprocess.call(sys.argv[2:], pass_fds=(int(sys.argv[1]),)))")
ROOT = Path(__file__).parents[2]


def alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def wait_for(condition: Callable[[], bool], timeout_s: float) -> bool:
    """Poll `condition` until it holds or `timeout_s` passes; whether it held."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def case_command(parent_pid: int | str, fd: int, deadline_s: float) -> list[str]:
    return [sys.executable, "-c", CASE, str(parent_pid), str(fd), str(deadline_s)]


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    """The lifeline: the case reads, the test (the sweep) holds the write end."""
    read_end, write_end = os.pipe()
    yield read_end, write_end
    for fd in (read_end, write_end):
        with contextlib.suppress(OSError):  # closed by the test
            os.close(fd)


def start(command: list[str], fd: int, **popen: object) -> subprocess.Popen:
    return subprocess.Popen(command, pass_fds=(fd,), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **popen)


def armed(process: subprocess.Popen) -> tuple[int, int]:
    """Wait until the case holds its lifeline and has started its child: their pids."""
    line = process.stdout.readline()
    assert line, process.stderr.read()
    worker, child = map(int, line.split())
    return worker, child


def assert_group_dies(worker: int, child: int) -> None:
    assert wait_for(lambda: not alive(worker) and not alive(child), 5)


def test_the_group_dies_when_the_sweep_closes_the_pipe(pipe: tuple[int, int]) -> None:
    """What the watchdog sees when the sweep is gone, on any OS: EOF."""
    read_end, write_end = pipe
    case = start(case_command(os.getpid(), read_end, 60), read_end, start_new_session=True)
    worker, child = armed(case)
    time.sleep(0.3)
    assert alive(worker) and alive(child)  # holding the pipe open keeps it alive
    os.close(write_end)
    assert_group_dies(worker, child)
    assert "the sweep is gone" in case.communicate(timeout=5)[1]


def test_the_group_dies_past_its_deadline(pipe: tuple[int, int]) -> None:
    """The sweep is alive but stuck: the case still ends, a grace after its timeout."""
    read_end, _ = pipe
    case = start(case_command(os.getpid(), read_end, 1.0), read_end, start_new_session=True)
    worker, child = armed(case)
    assert_group_dies(worker, child)
    assert "deadline" in case.communicate(timeout=5)[1]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux-only")
def test_the_group_dies_by_the_parent_death_signal(pipe: tuple[int, int]) -> None:
    """The pipe stays open (the test holds it), so only the kernel's signal tells the case
    that its parent, killed with SIGKILL, is gone."""
    read_end, _ = pipe
    parent = start([sys.executable, "-c", PARENT, *case_command(0, read_end, 60)], read_end)
    worker, child = armed(parent)
    parent.kill()
    parent.wait()
    assert_group_dies(worker, child)


def test_a_parent_that_died_before_the_lifeline_was_held_is_noticed(
        pipe: tuple[int, int]) -> None:
    """The worker arms the signal only after it starts; a sweep killed in between must not
    leave it running. Here it is told of a parent it never had."""
    read_end, _ = pipe
    not_the_parent = os.getppid()
    case = start(case_command(not_the_parent, read_end, 60), read_end, start_new_session=True)
    out, err = case.communicate(timeout=30)
    assert out == "" and "the sweep is gone" in err  # killed before it started its child
    assert case.returncode == -9


def test_a_process_that_does_not_lead_its_group_is_refused(pipe: tuple[int, int]) -> None:
    """Killing "its group" would otherwise kill whoever started it. (The case runs under a
    leader of a new session, so that a broken guard would not kill pytest's group.)"""
    read_end, _ = pipe
    case = start([sys.executable, "-c", LEADER, str(read_end), *case_command(0, read_end, 60)],
                 read_end, start_new_session=True)
    out, err = case.communicate(timeout=30)
    assert case.returncode == 1 and out == ""
    assert "start_new_session" in err
