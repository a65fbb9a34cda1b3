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

Why the worker is the calling thread (`run` starts the load on another one): torch's OpenMP
team belongs to the thread that started it, and the same step called from a second thread ran
4.5x slower at 2 threads on a 2-core VM (transformer/small at batch 1: 0.41 ms on the main
thread, 1.81 ms on another; ONNX Runtime, with its own pool, was not affected). So the steps run
where they were bound and timed, and LoadGen waits on a thread of its own.

Each request's record says where its time went: `queue_ms` (arrival to the start of the step
that served it: waiting for the batch to fill and for the previous step), `service_ms` (that
step) and the batch it was in (real samples, and the bucket it was padded to). Times are
`time.perf_counter_ns`, the monotonic clock LoadGen's own timestamps use.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from harness.errors import UsageError

#: Completes the requests of a batch: their ids, in the order they were taken.
Complete = Callable[[Sequence[int]], None]
Step = Callable[[], object]


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


class DynamicBatcher:
    """Queues requests and serves them in batches on the calling thread (module docstring).

    `steps` maps each bucket of `policy` to the bound step of that batch size; `sync` waits for
    the device; `complete` is called with the ids of each batch once its step has finished.
    `run(load)` starts `load` (which submits requests, e.g. LoadGen's test) on another thread
    and serves until it has returned and every request is answered, so no thread outlives a
    load point.
    """

    def __init__(self, policy: BatchPolicy, steps: dict[int, Step], sync: Callable[[], None],
                 complete: Complete, clock: Callable[[], int] = time.perf_counter_ns) -> None:
        missing = [size for size in policy.buckets if size not in steps]
        if missing:
            raise ValueError(f"no bound step for the batch sizes {missing}")
        self.policy, self.steps, self.sync, self.complete = policy, steps, sync, complete
        self.clock = clock
        self.log = RequestLog()
        self._queue: collections.deque[tuple[int, int]] = collections.deque()
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

    def _take(self) -> list[tuple[int, int]]:
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
        while batch := self._take():
            ids = [request_id for request_id, _ in batch]
            if self._error is not None:  # after a failed step: answer, unserved
                self.complete(ids)
                continue
            bucket = self.policy.bucket(len(batch))
            start = self.clock()
            try:
                self.steps[bucket]()
                self.sync()
            except Exception as exc:  # raised by run(); the load still needs its answers
                self._error = exc
                self.complete(ids)
                continue
            done = self.clock()
            log = self.log
            for request_id, arrival in batch:
                log.ids.append(request_id)
                log.arrival_ns.append(arrival)
                log.start_ns.append(start)
                log.done_ns.append(done)
                log.batch.append(len(batch))
                log.bucket.append(bucket)
            self.complete(ids)
