"""The timing protocol's rules, driven by a fake clock so that every outcome is exact.

Durations are multiples of 1/64 s, which binary floating point adds without rounding, so the
tests can state exactly at which iteration a rule fires.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator

import pytest

from harness.measure.timing import QUICK_POLICY, TimingPolicy, time_loop

TICK = 1 / 64


class FakeDevice:
    """A clock plus a step that advances it by scripted durations (and a sync that can too)."""

    def __init__(self, durations: Iterable[float], sync_cost: float = 0.0) -> None:
        self.now = 100.0
        self.durations: Iterator[float] = iter(durations)
        self.sync_cost = sync_cost
        self.steps = 0
        self.syncs = 0
        self.gc_enabled_during_step: list[bool] = []

    def clock(self) -> float:
        return self.now

    def step(self) -> None:
        self.now += next(self.durations)
        self.steps += 1
        self.gc_enabled_during_step.append(gc.isenabled())

    def sync(self) -> None:
        self.now += self.sync_cost
        self.syncs += 1

    def run(self, policy: TimingPolicy):
        return time_loop(self.step, self.sync, policy, clock=self.clock)


def constant(duration: float) -> Iterator[float]:
    while True:
        yield duration


def test_warmup_needs_both_enough_iterations_and_enough_seconds() -> None:
    # Seconds dominate: 0.5 s of 1/64 s steps is 32 iterations, more than the 10 required.
    device = FakeDevice(constant(TICK))
    result = device.run(TimingPolicy(warmup_iters=10, warmup_s=0.5, n_min=1, t_min=0.01,
                                     t_max=1.0))
    assert result.warmup_iters == 32
    assert result.warmup_s == 0.5
    # Iterations dominate: 10 iterations take 10/64 s, longer than the 0.05 s required.
    device = FakeDevice(constant(TICK))
    result = device.run(TimingPolicy(warmup_iters=10, warmup_s=0.05, n_min=1, t_min=0.01,
                                     t_max=1.0))
    assert result.warmup_iters == 10
    assert result.warmup_s == 10 * TICK


def test_no_warmup_when_both_minimums_are_zero() -> None:
    device = FakeDevice([TICK] * 5 + [1.0])
    result = device.run(TimingPolicy(warmup_iters=0, warmup_s=0.0, n_min=1, t_min=0.01,
                                     t_max=1.0))
    assert result.warmup_iters == 0 and result.warmup_s == 0.0
    assert result.samples_s[0] == TICK


def test_samples_are_recorded_exactly_and_warmup_is_not_among_them() -> None:
    warmup = [1.0, 0.5]  # slow first calls: must not appear in the samples
    timed = [3 * TICK, 2 * TICK, 2 * TICK, 3 * TICK, 2 * TICK, 64.0]
    device = FakeDevice(warmup + timed)
    result = device.run(TimingPolicy(warmup_iters=2, warmup_s=0.0, n_min=100, t_min=1.0,
                                     t_max=10.0))
    assert result.warmup_iters == 2 and result.warmup_s == 1.5
    assert result.samples_s == timed  # the 64 s sample crosses t_max and ends the loop
    assert result.samples_ms == [t * 1e3 for t in timed]
    assert result.timed_s == sum(timed)
    assert result.stop_reason == "t_max"


def test_stops_converged_as_soon_as_n_min_t_min_and_spread_allow() -> None:
    # Constant durations: IQR = 0 from the start, so only n_min and t_min hold the loop back.
    device = FakeDevice(constant(TICK))
    result = device.run(TimingPolicy(warmup_iters=0, warmup_s=0.0, n_min=20, t_min=1.0,
                                     t_max=5.0, rel_iqr_target=0.05))
    assert result.stop_reason == "converged"
    assert len(result.samples_s) == 64  # t_min = 1 s is reached at the 64th 1/64 s sample
    assert result.timed_s == 1.0
    # ... and when n_min is the later of the two, it decides.
    device = FakeDevice(constant(TICK))
    result = device.run(TimingPolicy(warmup_iters=0, warmup_s=0.0, n_min=100, t_min=1.0,
                                     t_max=5.0))
    assert result.stop_reason == "converged"
    assert len(result.samples_s) == 100


def test_stops_at_t_max_when_the_spread_never_settles() -> None:
    def alternating() -> Iterator[float]:  # IQR / median far above any target
        while True:
            yield TICK
            yield 4 * TICK

    device = FakeDevice(alternating())
    result = device.run(TimingPolicy(warmup_iters=0, warmup_s=0.0, n_min=5, t_min=0.5,
                                     t_max=5.0, rel_iqr_target=0.05))
    assert result.stop_reason == "t_max"
    assert result.timed_s == 5.0  # 64 pairs of (1 + 4) / 64 s
    assert len(result.samples_s) == 128


def test_converges_once_a_noisy_start_is_outweighed() -> None:
    """A noisy start followed by a steady run converges soon after the spread allows it.

    50 fast and 50 slow samples, then steady ones: the IQR is 0 once the 50 on each side lie
    outside the quartiles, i.e. from n = 201 on. The spread is checked at geometric intervals
    (every ~5%), so the loop may stop a little later, never earlier.
    """
    durations = [TICK, 8 * TICK] * 50 + [2 * TICK] * 1000
    device = FakeDevice(durations)
    result = device.run(TimingPolicy(warmup_iters=0, warmup_s=0.0, n_min=10, t_min=0.1,
                                     t_max=100.0, rel_iqr_target=0.05))
    assert result.stop_reason == "converged"
    assert 201 <= len(result.samples_s) <= 201 * 1.05 + 1


def test_sync_is_called_once_per_iteration_inside_the_timed_interval() -> None:
    device = FakeDevice(constant(TICK), sync_cost=TICK)  # the device finishes at sync time
    result = device.run(TimingPolicy(warmup_iters=3, warmup_s=0.0, n_min=5, t_min=0.1,
                                     t_max=1.0))
    assert device.syncs == device.steps == result.warmup_iters + len(result.samples_s)
    assert set(result.samples_s) == {2 * TICK}  # step + sync: the sync is inside each sample


def test_gc_is_paused_while_sampling_and_restored_after() -> None:
    assert gc.isenabled()
    device = FakeDevice(constant(TICK))
    result = device.run(TimingPolicy(warmup_iters=2, warmup_s=0.0, n_min=3, t_min=0.01,
                                     t_max=1.0))
    n_warmup = result.warmup_iters
    assert all(device.gc_enabled_during_step[:n_warmup])
    assert not any(device.gc_enabled_during_step[n_warmup:])
    assert gc.isenabled()


def test_gc_is_restored_when_the_step_raises() -> None:
    calls = iter(range(100))

    def step() -> None:
        if next(calls) == 5:
            raise RuntimeError("step failed")

    with pytest.raises(RuntimeError, match="step failed"):
        time_loop(step, lambda: None, QUICK_POLICY)
    assert gc.isenabled()


@pytest.mark.parametrize("kwargs", [
    {"t_min": 2.0, "t_max": 1.0}, {"t_min": 0.0}, {"n_min": 0}, {"warmup_iters": -1},
])
def test_policy_rejects_impossible_budgets(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        TimingPolicy(**kwargs)


def test_real_clock_times_real_work() -> None:
    result = time_loop(lambda: sum(range(1000)), lambda: None, QUICK_POLICY)
    assert result.stop_reason in ("converged", "t_max")
    assert len(result.samples_s) >= QUICK_POLICY.n_min or result.stop_reason == "t_max"
    assert all(s > 0 for s in result.samples_s)


def test_the_monitor_brackets_sampling_only() -> None:
    """Contention is read over the timed samples, not the warm-up."""
    device = FakeDevice(constant(TICK))
    marks: list[tuple[str, int]] = []

    class Monitor:
        def start(self) -> None:
            marks.append(("start", device.steps))

        def stop(self) -> None:
            marks.append(("stop", device.steps))

    result = time_loop(device.step, device.sync,
                       TimingPolicy(warmup_iters=4, warmup_s=0.0, n_min=5, t_min=0.1,
                                    t_max=1.0), clock=device.clock, monitor=Monitor())
    assert marks == [("start", result.warmup_iters),
                     ("stop", result.warmup_iters + len(result.samples_s))]
