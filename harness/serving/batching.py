"""Dynamic batching: the system under test that LoadGen's queries go to.

Requests (one sample each) are queued as they arrive; one worker (the calling thread) takes
the oldest and then waits, at most `max_wait_ms` from that request's arrival, for more, up to
`max_batch`;
the batch is padded to the smallest bucket the backend was bound for (`BatchPolicy.buckets`:
powers of two up to `max_batch`, and `max_batch` itself), run as one step, and every request
in it completed together. This is the policy of Triton's dynamic batcher and TorchServe's
(`max_batch_size`, `max_queue_delay` / `max_batch_delay`).

Why one worker: the backends spend the machine's cores inside one step (intra-op threads, a
CUDA stream); a second worker would run a second step on the same cores or stream, so the two
would take turns while each looked twice as slow. The worker holds the GIL only between steps
(the queue, the completion call): torch's operators and ONNX Runtime's `run` release it, so
LoadGen's issue thread (which needs the GIL to call `issue`) is not held up by a step.

**Batches in flight** (`in_flight`, where the runner can `fence` its steps: a CUDA stream, or
OpenVINO's requests started asynchronously). A CUDA step returns once its kernels are queued;
waiting there for the device before taking the next batch would leave the device idle while
the host forms and launches that batch (for eager PyTorch, as long as the launches
themselves). So the worker launches a batch, records a fence behind it and goes on to the next,
and a completer thread waits on each fence in order (`torch.cuda.Event.synchronize` releases
the GIL) and completes its requests the moment the device has finished them; at most
`in_flight` batches are launched and unfinished, so a queue never builds on the device where
the batcher cannot see it. Two is double buffering: one batch runs while the next is launched
behind it; more would only move queueing from the batcher's queue, where it can still grow the
batch, to the device's. Where a step has finished when it returns (the CPU, ONNX Runtime,
OpenVINO's synchronous requests) there is nothing to overlap and the worker completes each
batch itself.

Why the worker is the calling thread (`run` starts the load on another one): torch's OpenMP
team belongs to the thread that started it, and the same step called from a second thread ran
4.5x slower at 2 threads on a 2-core VM (transformer/small at batch 1: 0.41 ms on the main
thread, 1.81 ms on another; ONNX Runtime, with its own pool, was not affected). So the steps run
where they were bound and timed, and LoadGen waits on a thread of its own.

Each request's record says where its time went: `queue_ms` (arrival to the start of the step
that served it: waiting for the batch to fill and for the previous step), `service_ms` (that
step: from its launch to its end, so with batches in flight it includes the device finishing
the batch before) and the batch it was in (real samples, and the bucket it was padded to). Times are
`time.perf_counter_ns`, the monotonic clock LoadGen's own timestamps use.
"""

from __future__ import annotations

import collections
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from harness.errors import UsageError

if TYPE_CHECKING:  # a protocol: the batcher needs no torch
    from harness.backends.base import Fence

#: Completes the requests of a batch: their ids, in the order they were taken.
Complete = Callable[[Sequence[int]], None]
Step = Callable[[], object]
#: A mark on the step launched last (`InferenceRunner.fence`), None: it has finished.
FenceOf = Callable[[], "Fence | None"]
#: A request taken from the queue: its id and arrival time (ns).
Request = tuple[int, int]


@dataclass(frozen=True)
class BatchPolicy:
    """How the batcher forms batches: at most `max_batch` requests, waiting at most
    `max_wait_ms` after the oldest one arrived for the batch to fill."""

    max_batch: int
    max_wait_ms: float

    def __post_init__(self) -> None:
        if not isinstance(self.max_batch, int) or self.max_batch < 1:
            raise UsageError(f"the largest batch must be a positive integer, got "
                             f"{self.max_batch}")
        if not self.max_wait_ms >= 0:
            raise UsageError(f"the longest wait for a batch must be a number of ms >= 0, "
                             f"got {self.max_wait_ms}")

    @property
    def buckets(self) -> tuple[int, ...]:
        """The batch sizes the backend is bound for: powers of two below `max_batch`, and it."""
        sizes = [1 << k for k in range(self.max_batch.bit_length()) if 1 << k < self.max_batch]
        return (*sizes, self.max_batch)

    def bucket(self, requests: int) -> int:
        """The smallest bound batch that holds `requests`."""
        return next(size for size in self.buckets if size >= requests)

    def describe(self) -> str:
        return (f"max batch {self.max_batch}, max wait {self.max_wait_ms:g} ms, buckets "
                f"{','.join(map(str, self.buckets))}")


@dataclass
class RequestLog:
    """What happened to every request served: arrival, start of its step, completion (ns) and
    its batch (real requests, and the bucket run)."""

    ids: list[int] = field(default_factory=list)
    arrival_ns: list[int] = field(default_factory=list)
    start_ns: list[int] = field(default_factory=list)
    done_ns: list[int] = field(default_factory=list)
    batch: list[int] = field(default_factory=list)
    bucket: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    def latency_ms(self) -> np.ndarray:
        """Arrival (LoadGen's call to issue the request) to completion."""
        return (np.asarray(self.done_ns) - np.asarray(self.arrival_ns)) / 1e6

    def queue_ms(self) -> np.ndarray:
        return (np.asarray(self.start_ns) - np.asarray(self.arrival_ns)) / 1e6

    def service_ms(self) -> np.ndarray:
        return (np.asarray(self.done_ns) - np.asarray(self.start_ns)) / 1e6

    def steps(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One entry per step run: its real requests, its service time (ms), and the latency
        (ms) of its first request (a query of several samples arrives together and is served
        in one step, so that is the query's latency)."""
        _, first = np.unique(np.asarray(self.start_ns), return_index=True)
        return (np.asarray(self.batch)[first], self.service_ms()[first],
                self.latency_ms()[first])

    def completion_gaps_ms(self, span: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """The step time the serving path sustains: the time (ms) from one step's end to the
        end of the step `span` later, over `span`, in consecutive windows, with the smallest
        batch of the steps that ended in each window. With batches in flight a step's service
        includes waiting behind the batch before, so it overstates the step time; and batches
        that ran side by side end close together, so the gaps are taken over as many steps as
        were in flight."""
        _, first = np.unique(np.asarray(self.start_ns), return_index=True)
        done = np.asarray(self.done_ns)[first]
        order = np.argsort(done, kind="stable")
        done, batch = done[order], np.asarray(self.batch)[first][order]
        windows = (len(done) - 1) // span
        ends = np.arange(windows + 1) * span
        smallest = [int(batch[start + 1:start + span + 1].min()) for start in ends[:-1]]
        return np.asarray(smallest, dtype=int), np.diff(done[ends]) / 1e6 / span


class _Launched(NamedTuple):
    """A batch whose step was launched at `start_ns`, and the fence behind it."""

    batch: list[Request]
    bucket: int
    start_ns: int
    fence: Fence | None


class DynamicBatcher:
    """Queues requests and serves them in batches on the calling thread (module docstring).

    `steps` maps each bucket of `policy` to the bound step of that batch size; `sync` waits for
    the device; `complete` is called with the ids of each batch once its step has finished.
    With `in_flight` > 1, `fence` marks each launched step and up to `in_flight` batches run at
    once (module docstring); without a fence one batch runs at a time.
    `run(load)` starts `load` (which submits requests, e.g. LoadGen's test) on another thread
    and serves until it has returned and every request is answered, so no thread outlives a
    load point.
    """

    def __init__(self, policy: BatchPolicy, steps: dict[int, Step], sync: Callable[[], None],
                 complete: Complete, clock: Callable[[], int] = time.perf_counter_ns,
                 fence: FenceOf | None = None, in_flight: int = 1) -> None:
        missing = [size for size in policy.buckets if size not in steps]
        if missing:
            raise ValueError(f"no bound step for the batch sizes {missing}")
        if in_flight < 1:
            raise ValueError(f"in_flight must be at least 1, got {in_flight}")
        self.policy, self.steps, self.sync, self.complete = policy, steps, sync, complete
        self.clock = clock
        self.fence = fence
        self.in_flight = in_flight if fence is not None else 1
        self.log = RequestLog()
        self._queue: collections.deque[Request] = collections.deque()
        self._ready = threading.Condition()
        self._stopping = False
        self._error: BaseException | None = None

    def run(self, load: Callable[[], None]) -> None:
        """Run `load` on another thread and serve its requests here until it returns; then
        raise what failed: a step (the requests after it were answered unserved) or `load`."""
        failures: list[BaseException] = []

        def drive() -> None:
            try:
                load()
            except BaseException as exc:  # raised below, on the caller's thread
                failures.append(exc)
            finally:
                with self._ready:
                    self._stopping = True
                    self._ready.notify()

        driver = threading.Thread(target=drive, name="archbench-load", daemon=True)
        driver.start()
        if self.in_flight > 1:
            self._serve_in_flight()
        else:
            self._serve()
        driver.join()
        if self._error is not None:
            raise self._error
        if failures:
            raise failures[0]

    def submit(self, request_ids: Sequence[int]) -> None:
        """Queue requests that arrive now (LoadGen's issue thread: keep it short)."""
        now = self.clock()
        with self._ready:
            self._queue.extend((request_id, now) for request_id in request_ids)
            self._ready.notify()

    def _take(self) -> list[Request]:
        """The next batch: the oldest request, then whatever arrives within the wait; empty
        once the load has ended and the queue is empty."""
        policy = self.policy
        with self._ready:
            while not self._queue and not self._stopping:
                self._ready.wait()
            if not self._queue:
                return []
            deadline = self._queue[0][1] + int(policy.max_wait_ms * 1e6)
            while len(self._queue) < policy.max_batch and not self._stopping:
                left = deadline - self.clock()
                if left <= 0:
                    break
                self._ready.wait(left / 1e9)
            return [self._queue.popleft()
                    for _ in range(min(policy.max_batch, len(self._queue)))]

    def _serve(self) -> None:
        """One batch at a time: run its step, wait for the device, complete it."""
        while batch := self._take():
            if self._error is not None:  # after a failed step: answer, unserved
                self._answer(batch)
                continue
            bucket = self.policy.bucket(len(batch))
            start = self.clock()
            try:
                self.steps[bucket]()
                self.sync()
            except Exception as exc:  # raised by run(); the load still needs its answers
                self._error = exc
                self._answer(batch)
                continue
            self._served(batch, bucket, start, self.clock())

    def _serve_in_flight(self) -> None:
        """Launch batches here while a completer thread finishes them (module docstring)."""
        slots = threading.BoundedSemaphore(self.in_flight)
        launched: queue.SimpleQueue[_Launched | None] = queue.SimpleQueue()
        completer = threading.Thread(target=self._finish, args=(launched, slots),
                                     name="archbench-complete", daemon=True)
        completer.start()
        try:
            while batch := self._take():
                if self._error is not None:
                    self._answer(batch)
                    continue
                bucket = self.policy.bucket(len(batch))
                slots.acquire()
                start = self.clock()
                try:
                    self.steps[bucket]()
                    fence = self.fence() if self.fence is not None else None
                except Exception as exc:
                    slots.release()
                    self._error = exc
                    self._answer(batch)
                    continue
                launched.put(_Launched(batch, bucket, start, fence))
        finally:
            launched.put(None)
            completer.join()

    def _finish(self, launched: queue.SimpleQueue[_Launched | None],
                slots: threading.BoundedSemaphore) -> None:
        """The completer: wait for each launched batch in launch order, then complete it."""
        while (item := launched.get()) is not None:
            try:
                if item.fence is not None:
                    item.fence.synchronize()
                done = self.clock()
            except Exception as exc:  # the device failed the step: raised by run()
                self._error = self._error or exc
                self._answer(item.batch)
            else:
                self._served(item.batch, item.bucket, item.start_ns, done)
            finally:
                slots.release()

    def _answer(self, batch: list[Request]) -> None:
        """Answer a batch's requests: once its step has finished, or unserved where a step
        (its own or one before it) failed."""
        self.complete([request_id for request_id, _ in batch])

    def _served(self, batch: list[Request], bucket: int, start: int, done: int) -> None:
        """Log a served batch's requests, then complete them."""
        log = self.log
        for request_id, arrival in batch:
            log.ids.append(request_id)
            log.arrival_ns.append(arrival)
            log.start_ns.append(start)
            log.done_ns.append(done)
            log.batch.append(len(batch))
            log.bucket.append(bucket)
        self._answer(batch)
