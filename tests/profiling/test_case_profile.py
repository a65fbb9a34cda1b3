"""A case with `--profile` times exactly what it times without: same protocol path, same
samples (a deterministic clock makes them comparable); the profile comes after the timing and
the peak-memory reading; and a failing profile leaves the timed result whole."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from torch.autograd import _profiler_enabled

from harness.case import process as execute
from harness.case.process import CaseRun, run_case
from harness.cases import Case, SweepConfig
from harness.profiling import case_profile
from harness.scenarios import base

CASE = Case("cnn", "tiny", "cpu-eager", "infer", 2, "latency")


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache of trained weights and exports for every case here."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """torch's inter-op pool can be sized once per process; these cases share pytest's."""
    monkeypatch.setattr(execute, "configure_threads", lambda config: 1)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What a case does, in order: the timing loop (with a clock that ticks 1 ms a read), the
    peak-memory reading and the profile; and each step, with whether torch's profiler was on
    while it ran ("timed step, profiler on"), so that a profiler left running over the timed
    loop shows, whatever the clock."""
    events: list[str] = []
    real_loop, real_peak = base.time_loop, CaseRun.peak_columns
    real_profile = execute.profile_case

    def watched(step, name):
        def call():
            if _profiler_enabled():
                events.append(f"{name}, profiler on")
            return step()
        return call

    def loop(step, sync, policy, clock=None, monitor=None, block=1):
        events.append("time_loop")
        ticks = itertools.count()
        return real_loop(watched(step, "timed step"), sync, policy,
                         clock=lambda: next(ticks) * 1e-3, monitor=monitor, block=block)

    def peak(self: CaseRun) -> dict[str, float]:
        events.append("peak memory")
        return real_peak(self)

    def profile(target, runner, device, step, *args, **kwargs) -> case_profile.ProfileOutcome:
        events.append("profile")
        return real_profile(target, runner, device, watched(step, "profiled step"), *args,
                            **kwargs)

    monkeypatch.setattr(base, "time_loop", loop)
    monkeypatch.setattr(CaseRun, "peak_columns", peak)
    monkeypatch.setattr(execute, "profile_case", profile)
    return events


def test_profile_leaves_the_timed_samples_unchanged(calls: list[str], cache: Path,
                                                    tmp_path: Path) -> None:
    plain = run_case(CASE, SweepConfig(quick=True), cache, 0, tmp_path / "run")
    plain_calls = list(calls)
    calls.clear()
    profiled = run_case(CASE, SweepConfig(quick=True, profile=True), cache, 0,
                        tmp_path / "run")
    assert plain_calls == ["time_loop", "peak memory"]
    assert calls[:3] == ["time_loop", "peak memory", "profile"]
    assert set(calls[3:]) == {"profiled step, profiler on"}  # on there, and only there
    assert profiled.samples["iter_ms"] == plain.samples["iter_ms"]
    assert "median_ms" not in plain.row  # statistics are derived on the driver
    assert profiled.row["warmup_iters"] == plain.row["warmup_iters"]
    assert profiled.row["stop_reason"] == plain.row["stop_reason"]
    assert not plain.ops and "profile_ms" not in plain.row
    assert profiled.ops and profiled.row["profile_steps"] == case_profile.PROFILE_STEPS
    assert (tmp_path / "run" / profiled.row["trace_file"]).is_file()


def test_a_repeat_process_is_not_profiled(calls: list[str], cache: Path,
                                          tmp_path: Path) -> None:
    output = run_case(CASE, SweepConfig(quick=True, profile=True), cache, 1,
                      tmp_path / "run")
    assert calls == ["time_loop", "peak memory"] and not output.ops


def test_a_failing_profile_keeps_the_timed_result(monkeypatch: pytest.MonkeyPatch,
                                                  cache: Path, tmp_path: Path) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("profiler exploded\nsecond line")

    monkeypatch.setattr(case_profile, "step_cost", broken)
    output = run_case(CASE, SweepConfig(quick=True, profile=True), cache, 0,
                      tmp_path / "run")
    assert output.row["profile_error"] == "RuntimeError: profiler exploded"
    assert output.samples["iter_ms"] and output.row["stop_reason"]
    assert output.row["accuracy"] > 0  # the case went on after the profile
    assert not output.ops


def test_a_case_run_by_hand_has_no_folder_for_its_trace(cache: Path) -> None:
    output = run_case(CASE, SweepConfig(quick=True, profile=True), cache, 0)
    assert "no run folder" in output.row["profile_error"]
    assert output.samples["iter_ms"]
