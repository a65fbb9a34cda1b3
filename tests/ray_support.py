"""What the Ray executor's tests share: the suites' variables, and a Ray that leaves nothing.

Ray starts its raylet and workers as children of the process that starts it, and they take
their environment from it: the variables the test suites read are set before Ray starts. So are
Ray's own places, which would otherwise outlive the tests: its sessions (`RAY_TMPDIR`, else
/tmp/ray) and the token it writes to `~/.ray/auth_token` (`HOME`).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest

from harness.executors.node import NODE_CACHE_ENV
from tests.case.test_lifeline import wait_for
from tests.conftest import FIXTURES
from tests.sweep.test_run import PID_FILE_ENV

SLEEPY_SUITE_FILE = FIXTURES / "sleepy_suite.py"
HOLD_ENV = "ARCHBENCH_TEST_HOLD"  # read by sleepy_suite.py
SLEEPY_PID_ENV = "ARCHBENCH_TEST_SLEEPY_PID_FILE"


@contextlib.contextmanager
def ray_environment(folder: Path) -> Iterator[SimpleNamespace]:
    """The suites' variables pointing into `folder`, set while Ray starts and runs; on exit
    every process this one started since (Ray's included) must be gone."""
    paths = SimpleNamespace(hold=folder / "hold", sleepy_pid=folder / "sleepy.pid",
                            hang_pids=folder / "hang.pids")
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(HOLD_ENV, str(paths.hold))
        patch.setenv(SLEEPY_PID_ENV, str(paths.sleepy_pid))
        patch.setenv(PID_FILE_ENV, str(paths.hang_pids))
        patch.setenv(NODE_CACHE_ENV, str(folder / "node-cache"))  # not the user's ~/.cache
        patch.setenv("RAY_TMPDIR", ray_temp_dir())
        patch.setenv("HOME", ray_temp_dir())  # where Ray writes ~/.ray/auth_token
        yield paths
    assert wait_for(lambda: not _started_since(before), 30), (
        f"Ray left processes behind: {_started_since(before)}")


@functools.cache
def ray_temp_dir() -> str:
    """One folder for the whole test session, for Ray's sessions and as HOME (where Ray writes
    `.ray/auth_token`): a second Ray started by the same process under another HOME (one per
    test module) did not start its GCS. Removed when the interpreter exits, after Ray's own
    shutdown (registered later, so run earlier). Short: Ray's socket paths under it must stay
    within the 107 characters of a Unix socket."""
    folder = tempfile.mkdtemp(prefix="abray-")
    atexit.register(shutil.rmtree, folder, True)
    return folder


def _started_since(before: set[int]) -> list[str]:
    """This process's live descendants that were not there before: name and pid."""
    left = []
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            if child.pid not in before and child.status() != psutil.STATUS_ZOMBIE:
                left.append(f"{child.name()} {child.pid}")
    return left
