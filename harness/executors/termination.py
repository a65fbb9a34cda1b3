"""SIGTERM and SIGHUP end a sweep the way Ctrl-C does.

A cancelled CI job or `timeout` sends SIGTERM, a closed terminal SIGHUP, and Python's default
for both is to die at once: the case's process, in a session of its own, would outlive the
sweep. Raised as `KeyboardInterrupt` instead, they take Ctrl-C's path: the executor kills the
running case, finished cases stay on disk, and the command says how to resume.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

TERMINATIONS = (signal.SIGTERM, signal.SIGHUP)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def termination_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise KeyboardInterrupt; after it, the handlers
    that were there before are back."""
    previous = {number: signal.signal(number, _raise_interrupt) for number in TERMINATIONS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
