"""SIGTERM and SIGHUP raise KeyboardInterrupt inside a sweep, and only there."""

from __future__ import annotations

import os
import signal

import pytest

from harness.executors.termination import TERMINATIONS, termination_as_interrupt


@pytest.mark.parametrize("number", TERMINATIONS)
def test_a_termination_signal_is_an_interrupt_within_the_block(number: int) -> None:
    with pytest.raises(KeyboardInterrupt, match=f"signal {number}"), \
            termination_as_interrupt():
        os.kill(os.getpid(), number)  # handled at the next bytecode, inside the block


def test_the_handler_that_was_there_is_back_after_the_block() -> None:
    seen: list[int] = []

    def ours(signum: int, frame: object) -> None:
        seen.append(signum)

    default = signal.signal(signal.SIGHUP, ours)
    try:
        with termination_as_interrupt():
            assert signal.getsignal(signal.SIGHUP) is not ours
        assert signal.getsignal(signal.SIGHUP) is ours
        os.kill(os.getpid(), signal.SIGHUP)
        assert seen == [signal.SIGHUP]
    finally:
        signal.signal(signal.SIGHUP, default)
