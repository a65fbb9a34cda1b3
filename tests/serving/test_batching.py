"""The dynamic batcher on fake steps: batches fill up to the largest, wait no longer than the
policy says, are padded to a bound bucket, and every request is completed once."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

import numpy as np
import pytest

from harness.errors import UsageError
from harness.serving.batching import BatchPolicy, DynamicBatcher, RequestLog


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


class _Done:
    """A fence: set once the device has run the steps launched before it."""

    def __init__(self, done: threading.Event, fails: bool = False) -> None:
        self.done, self.fails = done, fails

    def synchronize(self) -> None:
        self.done.wait(5)
        if self.fails:
            raise RuntimeError("the device failed the step on purpose")


class _DeviceQueue:
    """A device with a queue, as CUDA's stream: a launched step returns at once and runs on
    the device's own thread for `seconds`, after the steps launched before it."""

    def __init__(self, seconds: float, fail_fences: bool = False) -> None:
        self.seconds, self.fail_fences = seconds, fail_fences
        self.launched_ns: list[int] = []
        self.finished_ns: list[int] = []
        self._jobs: queue.SimpleQueue[threading.Event | None] = queue.SimpleQueue()
        self._last = threading.Event()
        self._last.set()
        self._thread = threading.Thread(target=self._work, daemon=True)
        self._thread.start()

    def launch(self) -> None:
        self.launched_ns.append(time.perf_counter_ns())
        self._last = threading.Event()
        self._jobs.put(self._last)

    def fence(self) -> _Done:
        return _Done(self._last, self.fail_fences)

    def sync(self) -> None:
        self._last.wait(5)

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join(5)

    def _work(self) -> None:
        while (done := self._jobs.get()) is not None:
            time.sleep(self.seconds)
            self.finished_ns.append(time.perf_counter_ns())
            done.set()


def _serve_on_device(device: _DeviceQueue, batches: int, in_flight: int, fenced: bool = True,
                     completed: list[int] | None = None) -> tuple[DynamicBatcher, list[int]]:
    """Serve `batches` full batches of 4, submitted together, on `device`; the batcher and
    the ids completed (into `completed` where given)."""
    policy, completed = BatchPolicy(4, 0.0), [] if completed is None else completed
    batcher = DynamicBatcher(policy, dict.fromkeys(policy.buckets, device.launch),
                             device.sync, completed.extend,
                             fence=device.fence if fenced else None, in_flight=in_flight)
    try:
        batcher.run(lambda: (batcher.submit(range(4 * batches)), time.sleep(0.05)))
    finally:
        device.close()
    return batcher, completed


def test_with_two_in_flight_the_next_batch_is_launched_while_the_device_runs_this_one() -> None:
    device = _DeviceQueue(seconds=0.04)
    batcher, completed = _serve_on_device(device, batches=6, in_flight=2)
    launched, finished = device.launched_ns, device.finished_ns
    assert sorted(completed) == list(range(24)) and len(launched) == len(finished) == 6
    # batch k+1 was launched before batch k had finished on the device ...
    assert all(launched[k + 1] < finished[k] for k in range(5))
    # ... but never a third before the first had finished: at most two in flight
    assert all(launched[k + 2] >= finished[k] for k in range(4))
    # each request completes once its batch has finished on the device, not before
    batches, _, _ = batcher.log.steps()
    done = sorted(set(batcher.log.done_ns))
    assert list(batches) == [4] * 6
    assert all(done[k] >= finished[k] for k in range(6))


@pytest.mark.parametrize(("in_flight", "fenced"), [(1, True), (2, False)])
def test_one_in_flight_or_no_fence_waits_for_the_device_before_the_next(
        in_flight: int, fenced: bool) -> None:
    device = _DeviceQueue(seconds=0.02)
    batcher, completed = _serve_on_device(device, batches=4, in_flight=in_flight,
                                          fenced=fenced)
    launched, finished = device.launched_ns, device.finished_ns
    assert sorted(completed) == list(range(16)) and batcher.in_flight == 1
    assert all(launched[k + 1] >= finished[k] for k in range(3))


def test_a_step_the_device_fails_answers_every_request_and_raises_after() -> None:
    device, completed = _DeviceQueue(seconds=0.01, fail_fences=True), []
    with pytest.raises(RuntimeError, match="on purpose"):
        _serve_on_device(device, batches=3, in_flight=2, completed=completed)
    assert sorted(completed) == list(range(12))


def test_in_flight_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="in_flight"):
        DynamicBatcher(BatchPolicy(1, 0.0), {1: lambda: None}, lambda: None, print,
                       fence=lambda: None, in_flight=0)


def test_with_batches_in_flight_the_gaps_between_completions_are_the_device_time() -> None:
    device = _DeviceQueue(seconds=0.03)
    batcher, _ = _serve_on_device(device, batches=5, in_flight=2)
    batches, gaps = batcher.log.completion_gaps_ms()
    _, service, _ = batcher.log.steps()
    assert list(batches) == [4] * 4
    # a launched batch waits behind the one before it, so its service is about two device
    # steps of 30 ms; the gaps between completions are one
    assert min(gaps) >= 29, gaps
    assert float(np.median(gaps)) < 0.75 * float(np.median(service)), (gaps, service)


def test_gaps_are_taken_over_as_many_steps_as_ran_side_by_side() -> None:
    log = RequestLog()
    for step, (done_ms, batch) in enumerate([(10, 4), (11, 4), (20, 4), (21, 3), (30, 4),
                                             (31, 4), (40, 4)]):
        log.ids.append(step)
        log.arrival_ns.append(0)
        log.start_ns.append(step)
        log.done_ns.append(done_ms * 1_000_000)
        log.batch.append(batch)
        log.bucket.append(4)
    batches, gaps = log.completion_gaps_ms(span=1)
    assert list(gaps) == [1, 9, 1, 9, 1, 9] and list(batches) == [4, 4, 3, 4, 4, 4]
    batches, gaps = log.completion_gaps_ms(span=2)  # two streams ending in pairs
    assert list(gaps) == [5, 5, 5] and list(batches) == [4, 3, 4]
