"""The dynamic batcher on fake steps: batches fill up to the largest, wait no longer than the
policy says, are padded to a bound bucket, and every request is completed once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from harness.errors import UsageError
from harness.serving.batching import BatchPolicy, DynamicBatcher


def _steps(policy: BatchPolicy, ran: list[int], seconds: float = 0.0) -> dict:
    def step_of(size: int):
        return lambda: (ran.append(size), time.sleep(seconds))
    return {size: step_of(size) for size in policy.buckets}


def _serve(policy: BatchPolicy, load: Callable[[DynamicBatcher], None], steps=None
           ) -> tuple[DynamicBatcher, list[int], list[int], list[str]]:
    """Serve what `load` submits; the batcher, the buckets run, the ids completed, and the
    threads the steps ran on."""
    ran: list[int] = []
    completed: list[int] = []
    threads: list[str] = []
    steps = steps or _steps(policy, ran)

    def traced(step: Callable[[], object]) -> Callable[[], object]:
        return lambda: (threads.append(threading.current_thread().name), step())

    batcher = DynamicBatcher(policy, {size: traced(step) for size, step in steps.items()},
                             lambda: None, completed.extend)
    batcher.run(lambda: load(batcher))
    return batcher, ran, completed, threads


def _together(count: int) -> Callable[[DynamicBatcher], None]:
    """Submit `count` requests at once, then give the batcher time to serve them."""
    def load(batcher: DynamicBatcher) -> None:
        batcher.submit(range(count))
        time.sleep(0.1)
    return load


def test_buckets_are_powers_of_two_and_the_largest_batch() -> None:
    assert BatchPolicy(32, 1.0).buckets == (1, 2, 4, 8, 16, 32)
    assert BatchPolicy(24, 1.0).buckets == (1, 2, 4, 8, 16, 24)
    assert BatchPolicy(1, 0.0).buckets == (1,)
    assert BatchPolicy(24, 1.0).bucket(17) == 24 and BatchPolicy(24, 1.0).bucket(3) == 4


@pytest.mark.parametrize(("batch", "wait"), [(0, 1.0), (2, -1.0), (2, float("nan"))])
def test_a_policy_that_is_not_positive_is_one_line(batch: int, wait: float) -> None:
    with pytest.raises(UsageError):
        BatchPolicy(batch, wait)


def test_requests_that_arrive_together_share_a_padded_step_on_the_calling_thread() -> None:
    batcher, ran, completed, threads = _serve(BatchPolicy(8, 50.0), _together(5))
    assert sorted(completed) == list(range(5)) and ran == [8]  # 5 padded to 8
    assert batcher.log.batch == [5] * 5 and batcher.log.bucket == [8] * 5
    assert threads == [threading.current_thread().name]  # where the steps were bound


def test_a_lone_request_waits_at_most_the_policy_then_goes_alone() -> None:
    def load(batcher: DynamicBatcher) -> None:
        batcher.submit([7])
        time.sleep(0.2)

    batcher, ran, completed, _ = _serve(BatchPolicy(8, 20.0), load)
    queue_ms = batcher.log.queue_ms()[0]
    assert completed == [7] and ran == [1]
    assert 19.0 <= queue_ms < 150.0  # waited for company, then gave up (generous on a busy VM)


def test_a_full_batch_does_not_wait() -> None:
    batcher, ran, completed, _ = _serve(BatchPolicy(4, 10_000.0), _together(4))
    assert len(completed) == 4 and ran == [4] and batcher.log.queue_ms().max() < 1000


def test_requests_queue_behind_a_running_step_and_split_at_the_largest_batch() -> None:
    policy, ran = BatchPolicy(4, 0.0), []
    started = threading.Event()
    steps = _steps(policy, ran, seconds=0.05)
    first = steps[1]
    steps[1] = lambda: (started.set(), first())

    def load(batcher: DynamicBatcher) -> None:
        batcher.submit([0])
        started.wait(5)
        batcher.submit(range(1, 7))  # arrive during the first step: 4, then 2
        time.sleep(0.3)

    batcher, _, completed, _ = _serve(policy, load, steps)
    assert ran == [1, 4, 2] and sorted(completed) == list(range(7))
    assert batcher.log.queue_ms()[1:].min() > 20  # they waited for the first step


def test_a_failing_step_still_answers_every_request_and_raises_after() -> None:
    def fails() -> None:
        raise RuntimeError("step failed on purpose")

    def load(batcher: DynamicBatcher) -> None:
        batcher.submit(range(3))
        time.sleep(0.1)
        batcher.submit([3])
        time.sleep(0.05)

    completed: list[int] = []
    batcher = DynamicBatcher(BatchPolicy(2, 0.0), {1: fails, 2: fails}, lambda: None,
                             completed.extend)
    with pytest.raises(RuntimeError, match="on purpose"):
        batcher.run(lambda: load(batcher))
    assert sorted(completed) == [0, 1, 2, 3] and len(batcher.log) == 0
