"""Throughput: blocks of steps with one synchronisation per block, so the host queues work.

On a GPU the host only launches kernels; if it waits for the device after every step (the
latency scenario), the device idles while the host prepares the next one. A training loop or
a batch server does not wait, so its throughput is that of a pipeline: each sample here is
the time of a block of k steps followed by a single synchronisation, divided by k.

**Block size.** Each sample carries one clock read and one synchronisation (microseconds, tens
on CUDA), and one pipeline fill: the first kernel of a block starts only when the host has
launched it, and nothing overlaps the last step's tail. Both are paid once per block, so a
block should last long against them: k = ceil(10 ms / t), t being the step's synchronised time
from the warm-up, so a block lasts at least about 10 ms (overhead well under 1%) and k steps
amortise the fill; at least 5 steps on CUDA, so that the host has steps to queue even for
slow models; at most 1,000. On the CPU execution is synchronous and there is nothing to
pipeline, so the two scenarios measure the same thing (the tests check that they agree);
except for a runner that keeps several requests in flight (OpenVINO's THROUGHPUT streams:
`InferenceRunner.in_flight`), whose block holds at least twice that many steps, so that every
stream gets work again before the block's synchronisation (with one step a block, a 40 ms
step ran on one of two streams: half the machine).

**The gap.** The row keeps the warm-up's synchronised step time (`synced_ms`, the latency
protocol at the same batch) and `pipelining_gain` = synced_ms / median_ms: how much faster
pipelining runs this case, the launch overhead a user saves by not synchronising each step.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence

from harness.scenarios.base import Binding, Scenario, ScenarioOutcome, ScenarioRequest, timed_run

BLOCK_TARGET_S = 0.010
MAX_BLOCK = 1000
MIN_BLOCK = {"cuda": 5, "cpu": 1}


def block_size(warmup_s: Sequence[float], device: str, in_flight: int = 1) -> int:
    """The rule of the module docstring, from the warm-up's synchronised step times and the
    runner's requests in flight."""
    later = list(warmup_s[len(warmup_s) // 2:]) or list(warmup_s)
    step_s = statistics.median(later) if later else BLOCK_TARGET_S
    wanted = math.ceil(BLOCK_TARGET_S / step_s) if step_s > 0 else MAX_BLOCK
    floor = max(MIN_BLOCK.get(device, 1), 2 * in_flight if in_flight > 1 else 1)
    return max(floor, min(MAX_BLOCK, wanted))


def pipelined_block(binding: Binding) -> Callable[[Sequence[float]], int]:
    """The block rule of `binding`'s device and runner, for `timed_run`."""
    return lambda warmup: block_size(warmup, binding.device, binding.runner.in_flight())


class Throughput(Scenario):
    name = "throughput"

    def measure(self, request: ScenarioRequest, binding: Binding) -> ScenarioOutcome:
        outcome = ScenarioOutcome()
        timing = timed_run(request, binding, request.batch_size,
                           block=pipelined_block(binding),
                           outcome=outcome)
        # the gain (synced_ms / the case's median) is derived with the row, on the driver
        outcome.columns.update(block=timing.block, synced_ms=timing.synced_ms)
        return outcome


THROUGHPUT = Throughput()
