"""A case's process dies with its sweep: a parent-death signal, a watchdog, and a deadline.

The sweep starts each case in a session of its own, so that a timeout can kill the case and
everything it started (torch.compile's compiler workers) as one process group. The price is
that nothing ties the group to the sweep: a sweep killed with SIGKILL (`kill -9`, the OOM
killer, a CI runner tearing down) runs no handler, and its case would run on as an orphan with
no timeout, competing for the cores with whatever is measured next (a `--resume` started at
once). So the case's process holds a lifeline, three independent ways to end its group:

1. Parent-death signal (Linux `prctl(PR_SET_PDEATHSIG)`): the kernel sends SIGTERM when the
   parent dies, and the handler kills the group. It is armed only once the worker runs, so
   the parent pid is checked right after: a sweep that died in between is noticed too.
2. Watchdog: a daemon thread blocks on a pipe whose write end only the sweep holds. EOF means
   the sweep is gone, on any OS and even if the signal's handler cannot run; blocking rather
   than polling, it costs the measurement nothing.
3. Deadline: the same thread ends the case a grace after the sweep's own timeout, for a sweep
   that is alive but stuck (stopped, or blocked on a dead disk).

Each kills the whole group, never only the worker: the kernel's signal reaches the worker
alone, and what the worker started would outlive it.

"The sweep" is whichever process launched the case (`harness.executors.isolation`): the
sweep's own process locally; with the Ray executor, the Ray worker that runs the case's task
on its node, which Ray kills when the task is cancelled, its node is lost or its driver dies.
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def hold(parent_pid: int, fd: int, deadline_s: float) -> None:
    """Tie this process's group to `parent_pid` (and the pipe `fd` it holds open) and to a
    deadline `deadline_s` from now. Call it from the main thread, first thing."""
    if os.getpgrp() != os.getpid():
        raise RuntimeError("the lifeline kills the process group of the case, so the case must "
                           "lead its own (start it with start_new_session=True)")
    signal.signal(signal.SIGTERM, lambda signum, frame: _kill_group("got SIGTERM"))
    if sys.platform.startswith("linux"):  # elsewhere the watchdog alone notices
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent_pid:
        _kill_group("the sweep is gone (before the case started)")
    threading.Thread(target=_watch, args=(fd, time.monotonic() + deadline_s),
                     name="archbench-lifeline", daemon=True).start()


def _watch(fd: int, deadline: float) -> None:
    """Wait for EOF on the sweep's pipe (nothing is ever written to it) or the deadline."""
    readable, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
    _kill_group("the sweep is gone" if readable else "past the case's deadline")


def _kill_group(why: str) -> None:
    # os.write, not print: this may run in a signal handler, in the middle of another print
    os.write(2, f"archbench worker: {why}; killing the case's process group\n".encode())
    os.killpg(os.getpgrp(), signal.SIGKILL)
