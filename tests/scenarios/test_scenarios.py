"""The scenarios: block timing, the throughput rule, the batch sweep's search, and `oom`."""

from __future__ import annotations

import math
import statistics
import time
from pathlib import Path

import pytest
import torch

from harness.backends.base import CaseContext, Profiled
from harness.backends.eager import CPU_EAGER
from harness.cases import SCENARIOS, SweepConfig
from harness.measure.energy import EnergyResult
from harness.measure.timing import TimingPolicy, time_loop
from harness.scenarios import IMPLEMENTED, Binding, OutOfMemory, ScenarioRequest
from harness.scenarios import base as scenario_base
from harness.scenarios.base import is_out_of_memory
from harness.scenarios.batch_sweep import (
    BATCH_SWEEP,
    KNEE_GAIN,
    MAX_BATCH,
    MAX_BATCH_RESOLUTION,
    Curve,
    LimitSearch,
)
from harness.scenarios.latency import LATENCY
from harness.scenarios.throughput import MAX_BLOCK, THROUGHPUT, block_size
from harness.sweep.run import run_sweep, start_run
from suites.registry import BUILTIN
from tests.conftest import ran_rows

OOM_SUITE = Path(__file__).parent / "oom_suite.py"


def test_every_planned_scenario_is_implemented() -> None:
    assert tuple(IMPLEMENTED) == SCENARIOS


@pytest.mark.parametrize(("step_s", "device", "expected"), [
    (0.001, "cpu", 10), (0.0001, "cpu", 100), (0.02, "cpu", 1), (0.02, "cuda", 5),
    (1e-7, "cuda", MAX_BLOCK), (0.0005, "cuda", 20)])
def test_a_block_lasts_about_ten_milliseconds(step_s: float, device: str,
                                              expected: int) -> None:
    assert block_size([1.0] * 3 + [step_s] * 3, device) == expected  # the later half counts


class Device:
    """A fake clock and device: a step queues `step_s` of work, a sync waits for it."""

    def __init__(self, step_s: float, launch_s: float = 0.0) -> None:
        self.now, self.step_s, self.launch_s = 0.0, step_s, launch_s
        self.queued = 0.0
        self.syncs = 0

    def clock(self) -> float:
        return self.now

    def step(self) -> None:
        self.now += self.launch_s  # the host's launch work, overlapped with queued device work
        self.queued = max(self.queued - self.launch_s, 0.0) + self.step_s

    def sync(self) -> None:
        self.now += self.queued
        self.queued = 0.0
        self.syncs += 1


POLICY = TimingPolicy(warmup_iters=4, warmup_s=0.0, n_min=5, t_min=0.01, t_max=1.0)


def test_blocks_synchronise_once_and_report_the_time_per_step() -> None:
    device = Device(step_s=0.001)
    result = time_loop(device.step, device.sync, POLICY, clock=device.clock, block=8)
    assert result.block == 8
    assert device.syncs == result.warmup_iters + len(result.samples_s)  # one per block
    assert result.samples_s == pytest.approx([0.001] * len(result.samples_s))
    assert result.timed_s == pytest.approx(0.008 * len(result.samples_s))
    assert result.synced_ms == pytest.approx(1.0)


def test_pipelining_hides_the_launch_overhead_the_latency_protocol_pays() -> None:
    """A step whose host launch (0.3 ms) overlaps the device's work (1 ms): synchronised
    steps pay both, a block pays the device's time alone (plus one launch per block)."""
    device = Device(0.001, 0.0003)
    latency = time_loop(device.step, device.sync, POLICY, clock=device.clock, block=1)
    device = Device(0.001, 0.0003)
    throughput = time_loop(device.step, device.sync, POLICY, clock=device.clock,
                           block=lambda warmup: block_size(warmup, "cuda"))
    assert statistics.median(latency.samples_s) == pytest.approx(0.0013)
    assert statistics.median(throughput.samples_s) < 0.00105
    assert throughput.synced_ms / 1e3 == pytest.approx(0.0013)


def test_latency_and_throughput_agree_on_the_cpu() -> None:
    """Execution on the CPU is synchronous: nothing to pipeline, so the two protocols time the
    same steps. Interleaved rounds; each protocol's best round against the other's, within
    noise. The best round, because another process only ever adds time, and it adds more to a
    10 ms block (which a preemption always lands in) than to the median of single steps
    (which drops the preempted ones): under `-n 2` on 2 cores a median-of-ratios check failed.
    One thread: with two on a 2-core machine that another process keeps busy, each step
    waits for a descheduled thread (0.2 ms became 48 ms), and the ratio is of the host."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        latency, throughput = _latency_and_throughput_medians(rounds=7)
    finally:
        torch.set_num_threads(threads)
    assert 0.67 < min(throughput) / min(latency) < 1.5, (latency, throughput)


def _latency_and_throughput_medians(rounds: int) -> tuple[list[float], list[float]]:
    """Each round's median step time (ms) under the latency and the throughput protocol."""
    suite = BUILTIN["cnn"]
    data = suite.data("tiny")
    runner = CPU_EAGER.inference(suite.model("tiny", data, seed=0),
                                 CaseContext(Path("."), 1, "k"))
    binding = Binding(runner, lambda b: runner.bind(suite.synthetic_batch(data, b, 0)[0]),
                      "cpu")
    policy = TimingPolicy(warmup_iters=5, warmup_s=0.02, n_min=20, t_min=0.1, t_max=0.2)
    medians: tuple[list[float], list[float]] = ([], [])
    for _ in range(rounds):
        for scenario, found in zip((LATENCY, THROUGHPUT), medians, strict=True):
            outcome = scenario.measure(ScenarioRequest(32, policy), binding)
            found.append(statistics.median(outcome.samples["iter_ms"]))
    return medians


#: A short timing policy for the fake runners.
SHORT = TimingPolicy(warmup_iters=2, warmup_s=0.0, n_min=3, t_min=0.01, t_max=0.05)


class SweepRunner(Profiled):
    """A fake model whose step takes longer with the batch and that runs out of memory above
    `limit`: throughput grows up to `saturation` samples per step, then flattens."""

    facts: dict = {}

    def __init__(self, limit: int, saturation: int) -> None:
        self.limit, self.saturation = limit, saturation
        self.bound: list[int] = []

    def bind(self, batch: int):
        self.bound.append(batch)
        if batch > self.limit:
            raise torch.cuda.OutOfMemoryError(f"CUDA out of memory. Tried to allocate "
                                              f"{batch} MiB")
        seconds = 1e-4 * max(1, batch / self.saturation)
        return lambda: sum(range(int(seconds * 2e6)))

    def counters(self) -> dict:
        return {}


def sweep_binding(limit: int, saturation: int, device: str = "cuda") -> Binding:
    runner = SweepRunner(limit, saturation)
    return Binding(runner, runner.bind, device)


@pytest.mark.parametrize(("limit", "start"), [(700, 64), (512, 64), (1, 1), (37_000, 2)])
def test_the_largest_batch_is_bracketed_to_a_sixteenth(limit: int, start: int) -> None:
    probed: list[int] = []
    search = LimitSearch(lambda b: probed.append(b) or b <= limit, start, math.inf).run()
    assert search.fits <= limit < search.fails
    assert search.fails - search.fits <= max(1, search.fits // MAX_BATCH_RESOLUTION)
    assert search.note(30) == ""
    assert len(probed) == len(set(probed)) <= 2 * math.log2(limit / start + 1) + 6


def test_a_search_out_of_time_keeps_its_bracket_and_says_so() -> None:
    clock = iter(range(100)).__next__  # one second a probe
    search = LimitSearch(lambda b: b <= 5000, 64, deadline=3, clock=clock).run()
    assert (search.fits, search.fails) == (512, None)  # 128, 256, 512 probed, then out of time
    assert search.out_of_time
    assert search.note(3) == "search stopped by its 3 s budget: 512 fits, 1024 was not tried"


def test_a_search_that_reaches_its_cap_says_more_may_fit() -> None:
    search = LimitSearch(lambda b: True, MAX_BATCH // 4, math.inf).run()
    assert (search.fits, search.fails) == (MAX_BATCH, None)
    assert "cap" in search.note(30)


def test_the_sweep_doubles_to_the_knee_then_the_largest_batch_is_bisected() -> None:
    binding = sweep_binding(limit=700, saturation=64)
    curve, oom = BATCH_SWEEP.curve(binding)
    assert oom is None
    assert curve.batches[0] == 1
    assert all(b == 2 * a for a, b in zip(curve.batches, curve.batches[1:], strict=False))
    assert curve.flattened()  # why it stopped: two doublings in a row gained under 10%
    assert curve.throughput(-2) < (1 + KNEE_GAIN) * curve.throughput(-3)
    assert 64 <= curve.batches[-1] <= 512  # throughput flattens near 64 samples a step
    # doubled single steps to 1024 (out of memory), then bisected back towards the limit
    search = BATCH_SWEEP.max_batch(binding, curve.batches[-1], budget_s=60)
    assert (search.fits, search.fails) == (672, 704)  # within 1/16 of 672, around 700
    assert 1024 in binding.runner.bound


def test_one_flat_doubling_does_not_end_the_curve() -> None:
    """A plateau (a kernel's blocking threshold, or noise) then a rise: the curve goes on,
    and the knee is the smallest batch within 10% of the best, not the plateau's start."""
    curve = Curve()
    for batch, throughput in ((1, 100), (2, 200), (4, 205), (8, 400), (16, 420), (32, 430)):
        curve.batches.append(batch)
        curve.step_ms.append(batch / throughput * 1e3)
        curve.p50_ms.append(batch / throughput * 1e3)
        if batch == 4:
            assert not curve.flattened()  # one flat doubling
    assert curve.flattened()  # 8 -> 16 -> 32: two in a row
    assert curve.knee() == 8  # 400 is within 10% of 430; 205 is not


def test_a_cpu_sweep_stops_at_the_knee_and_times_it() -> None:
    binding = sweep_binding(limit=10**6, saturation=16, device="cpu")
    outcome = BATCH_SWEEP.measure(ScenarioRequest(1, SHORT, quick=True), binding)
    row, samples = outcome.columns, outcome.samples
    assert row["knee_batch"] == Curve(samples["sweep_batch"], samples["sweep_ms"],
                                      samples["sweep_p50_ms"]).knee()
    assert "max_batch" not in row  # no memory limit searched on the CPU
    assert min(samples["iter_ms"]) > 0 and len(samples["sweep_ms"]) >= 2


def test_the_cold_call_of_a_sweep_is_its_first_bind_not_the_knee_s() -> None:
    """Compilation, export and sessions happen at the first bind (batch 1); the knee is bound
    again later, warm, and must not pass for the cold call."""
    binding = sweep_binding(limit=10**6, saturation=16, device="cpu")
    bind = binding.runner.bind

    def slow_first_bind(batch: int):
        if not binding.runner.bound:
            time.sleep(0.2)
        return bind(batch)

    binding = Binding(binding.runner, slow_first_bind, "cpu")
    outcome = BATCH_SWEEP.measure(ScenarioRequest(1, SHORT, quick=True), binding)
    assert outcome.columns["cold_call_s"] >= 0.2


@pytest.mark.parametrize("scenario", [LATENCY, THROUGHPUT, BATCH_SWEEP], ids=lambda s: s.name)
def test_the_first_call_is_timed_apart_from_the_bind_that_prepared_it(scenario) -> None:
    """`cold_call_s` is the bind and the first call (export, load, compile); `first_call_s`
    the call alone: what a fresh server pays on its first request once loaded."""
    runner = SweepRunner(limit=10**6, saturation=16)

    def bind(batch: int):
        time.sleep(0.2 if not runner.bound else 0.0)  # the preparation of the first bind
        step = runner.bind(batch)
        calls = []

        def first_slow():
            if not calls:
                time.sleep(0.05)
            calls.append(1)
            return step()

        return first_slow

    outcome = scenario.measure(ScenarioRequest(1, SHORT, quick=True), Binding(runner, bind,
                                                                              "cpu"))
    row = outcome.columns
    assert 0.05 <= row["first_call_s"] < 0.2 <= row["cold_call_s"]


def test_out_of_memory_ends_the_curve_not_the_case() -> None:
    binding = sweep_binding(limit=8, saturation=1000, device="cpu")
    outcome = BATCH_SWEEP.measure(ScenarioRequest(1, SHORT, quick=True), binding)
    assert [int(b) for b in outcome.samples["sweep_batch"]] == [1, 2, 4, 8]
    assert (outcome.columns["max_batch"], outcome.columns["max_batch_oom"]) == (8, 16)
    assert "not bisected on the CPU" in outcome.columns["max_batch_note"]


def test_on_cuda_a_curve_ended_by_out_of_memory_is_bisected_below_it() -> None:
    binding = sweep_binding(limit=700, saturation=10**6)  # rising until memory runs out
    curve, oom = BATCH_SWEEP.curve(binding)
    assert oom is not None and curve.batches[-1] == 512
    search = BATCH_SWEEP.max_batch(binding, 512, budget_s=60, failed=1024)
    assert (search.fits, search.fails) == (672, 704)
    assert 1024 not in binding.runner.bound[len(curve.batches) + 1:]  # not probed again


def test_a_batch_of_one_that_does_not_fit_is_out_of_memory() -> None:
    with pytest.raises(OutOfMemory, match="out of memory at batch size 1 .*Tried to allocate"):
        BATCH_SWEEP.measure(ScenarioRequest(1, TimingPolicy()),
                            sweep_binding(limit=0, saturation=1, device="cpu"))
    with pytest.raises(OutOfMemory, match="at batch size 32"):
        THROUGHPUT.measure(ScenarioRequest(32, TimingPolicy()),
                           sweep_binding(limit=16, saturation=1, device="cpu"))


@pytest.mark.parametrize(("exc", "expected"), [
    (torch.cuda.OutOfMemoryError("CUDA out of memory"), True),
    (MemoryError(), True),
    (RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 8 GB"),
     True),
    (RuntimeError("shape mismatch"), False), (ValueError("out of memory"), False)])
def test_what_counts_as_out_of_memory(exc: BaseException, expected: bool) -> None:
    assert is_out_of_memory(exc) is expected


def test_a_case_that_does_not_fit_is_an_oom_row_and_the_sweep_goes_on(tmp_path: Path) -> None:
    config = SweepConfig(suites=("oom",), sizes=("tiny",), backends=("cpu-eager",),
                         phases=("infer",), scenarios=("throughput",), batch_sizes=(4, 128),
                         suite_files=(str(OOM_SUITE),), quick=True, threads=1)
    run_dir = start_run(config, tmp_path / "results", "oom")
    rows = {row["batch_size"]: row
            for row in ran_rows(run_dir, run_sweep(run_dir, config, progress=False))}
    assert rows[4]["status"] == "ok"
    assert rows[128]["status"] == "oom"
    assert rows[128]["reason"].startswith("out of memory at batch size 128 (")
    assert "GiB available of" in rows[128]["reason"]


class FakeMeter:
    name, domains, note = "rapl", "package-0+dram", ""

    def __init__(self) -> None:
        self.closed = False

    def read_j(self) -> float:
        return 0.0

    def close(self) -> None:
        self.closed = True


def test_energy_is_measured_after_the_timing_where_the_device_has_a_meter(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The wiring: the case's device picks the meter, the bound step and batch size are
    measured with it, the meter is closed, and its columns land in the row (the arithmetic
    is `tests/measure/test_energy.py`'s)."""
    meter, calls = FakeMeter(), []

    def measure(step, sync, samples_per_step, got):
        calls.append((samples_per_step, got))
        return EnergyResult("rapl: package-0+dram", "", 10.0, 30.0, 0.02, 0.013, 1.0, 1.0)

    monkeypatch.setattr(scenario_base, "open_meter", lambda device, gpu: meter)
    monkeypatch.setattr(scenario_base, "measure_energy", measure)
    binding = sweep_binding(limit=10**6, saturation=16, device="cpu")
    outcome = LATENCY.measure(ScenarioRequest(4, SHORT, quick=True), binding)
    row = outcome.columns
    assert calls == [(4, meter)] and meter.closed
    assert (row["energy_source"], row["energy_j_per_sample"]) == ("rapl: package-0+dram", 0.02)
    # the process's reading, as a sample: what compare and the history judge energy on
    assert outcome.samples["energy_j_per_sample"] == [0.02]


def test_a_row_without_energy_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    binding = sweep_binding(limit=10**6, saturation=16, device="cpu")
    off = LATENCY.measure(ScenarioRequest(4, SHORT, quick=True, energy=False), binding).columns
    assert off["energy_note"] == "not measured (--no-energy)"
    assert off["energy_j_per_sample"] is None
    monkeypatch.setattr(scenario_base, "open_meter",
                        lambda device, gpu: "no RAPL in /sys/class/powercap (a VM ...)")
    outcome = LATENCY.measure(ScenarioRequest(4, SHORT, quick=True), binding)
    row = outcome.columns
    assert row["energy_note"].startswith("no RAPL") and row["energy_source"] is None
    assert "energy_j_per_sample" not in outcome.samples


def test_a_block_keeps_every_request_in_flight_busy() -> None:
    """A slow step (no block needed for the 10 ms) still gets twice the runner's requests in
    flight per block, or its streams would idle between synchronisations."""
    assert block_size([0.04] * 4, "cpu") == 1
    assert block_size([0.04] * 4, "cpu", in_flight=2) == 4
    assert block_size([1e-4] * 4, "cpu", in_flight=2) == 100  # the 10 ms rule is larger
