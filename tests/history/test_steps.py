"""The step detector on series whose steps are known: found where planted and at their size,
nothing where only noise, an outlier or a contended commit moved the time."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from harness.history.steps import (
    DEFAULT_MIN_PERSISTENCE,
    DEFAULT_THRESHOLD,
    Step,
    detect_steps,
)


def series(levels: list[float] | np.ndarray, seed: int = 0, processes: int = 3,
           cv: float = 0.02) -> list[list[float]]:
    """Process medians around each point's level, log-normal with spread `cv`."""
    rng = np.random.default_rng(seed)
    return [list(level * np.exp(rng.normal(0, cv, processes))) for level in levels]


def step_levels(points: int, at: int, ratio: float, base: float = 10.0) -> np.ndarray:
    return np.where(np.arange(points) < at, base, base * ratio)


def test_the_defaults_are_the_histories() -> None:
    from harness.history import MIN_PERSISTENCE, STEP_THRESHOLD

    assert (DEFAULT_THRESHOLD, DEFAULT_MIN_PERSISTENCE) == (STEP_THRESHOLD, MIN_PERSISTENCE)


@pytest.mark.parametrize("seed", range(3))
def test_a_planted_step_is_found_at_its_index_with_its_ratio(seed: int) -> None:
    found = detect_steps(series(step_levels(40, 17, 1.3), seed))
    assert len(found) == 1
    step = found[0]
    assert isinstance(step, Step)
    assert step.index == 17 and step.persistence == 23
    assert step.ratio == pytest.approx(1.3, rel=0.03)
    assert step.after / step.before == pytest.approx(step.ratio)
    # levels are of each commit's fastest process: a little below the planted 10 and 13 ms
    assert 9.5 < step.before < 10.0 and 12.4 < step.after < 13.0
    assert step.z > math.sqrt(2 * math.log(40))


def test_a_faster_step_has_a_ratio_below_one() -> None:
    found = detect_steps(series(step_levels(60, 31, 0.7), seed=4))
    assert [step.index for step in found] == [31]
    assert found[0].ratio == pytest.approx(0.7, rel=0.03) and found[0].z < 0


def test_a_step_below_the_threshold_is_not_reported_though_it_is_seen() -> None:
    values = series(step_levels(80, 40, 1.05), seed=5, cv=0.01)
    assert detect_steps(values) == []
    smaller = detect_steps(values, threshold=0.03)
    assert [step.index for step in smaller] == [40]
    assert smaller[0].ratio == pytest.approx(1.05, rel=0.01)


def test_a_step_exactly_at_the_threshold_is_reported_either_way() -> None:
    for ratio in (1.1, 0.9):
        found = detect_steps([[10.0]] * 10 + [[10.0 * ratio]] * 10)
        assert [step.index for step in found] == [10]


def test_a_step_in_the_last_points_waits_until_it_has_lasted() -> None:
    levels = step_levels(50, 47, 1.5)
    values = series(levels, seed=6)
    assert detect_steps(values[:49]) == []  # the new level is 2 points old
    found = detect_steps(values)  # 3 points: reported, with its persistence
    assert [(step.index, step.persistence) for step in found] == [(47, 3)]
    assert detect_steps(values, min_persistence=4) == []


def test_the_level_before_a_step_must_last_too() -> None:
    assert detect_steps(series(step_levels(30, 2, 1.5), seed=7)) == []
    assert [step.index for step in detect_steps(series(step_levels(30, 3, 1.5), seed=7))] == [3]


@pytest.mark.parametrize("seed", range(5))
def test_a_flat_noisy_series_has_no_steps(seed: int) -> None:
    assert detect_steps(series(np.full(200, 10.0), seed, cv=0.05)) == []


def test_one_slow_commit_is_not_a_step() -> None:
    values = series(np.full(60, 10.0), seed=8)
    values[30] = [v * 1.6 for v in values[30]]  # every process of one commit 60% slower
    assert detect_steps(values) == []
    values[31] = [v * 1.6 for v in values[31]]  # two in a row: still no level that lasted
    assert detect_steps(values) == []


def test_slow_processes_of_a_contended_machine_are_not_steps() -> None:
    """Each process is 1.4x-3x slower with probability 0.3 (another tenant): the medians of
    a shared VM. The fastest of three ignores them; a real step still shows."""
    rng = np.random.default_rng(9)

    def contended(levels: np.ndarray) -> list[list[float]]:
        values = np.array(series(levels, seed=10))
        slow = rng.random(values.shape) < 0.3
        return (values * np.where(slow, rng.uniform(1.4, 3.0, values.shape), 1.0)).tolist()

    assert detect_steps(contended(np.full(200, 10.0))) == []
    found = detect_steps(contended(step_levels(200, 120, 1.25)))
    # within a commit: a contended commit just before the step reads as its first point
    assert len(found) == 1 and abs(found[0].index - 120) <= 1
    assert found[0].ratio == pytest.approx(1.25, rel=0.05)


def test_a_regression_fixed_later_is_two_steps() -> None:
    levels = step_levels(100, 40, 1.4)
    levels[48:] = 10.0
    found = detect_steps(series(levels, seed=11))
    assert [(step.index, step.ratio > 1, step.persistence) for step in found] == [
        (40, True, 8), (48, False, 52)]
    assert found[0].ratio == pytest.approx(1.4, rel=0.03)
    assert found[1].ratio == pytest.approx(1 / 1.4, rel=0.03)


def test_two_steps_the_same_way_are_both_found() -> None:
    levels = step_levels(120, 30, 1.25)
    levels[80:] *= 1.5
    found = detect_steps(series(levels, seed=12, cv=0.04))
    assert [step.index for step in found] == [30, 80]
    assert [round(step.ratio, 1) for step in found] == [1.2, 1.5]
    assert found[0].after == pytest.approx(found[1].before)


def test_degenerate_series() -> None:
    assert detect_steps([]) == []
    assert detect_steps([[3.0]]) == []
    assert detect_steps([[3.0], [6.0], [6.0], [6.0]]) == []  # shorter than two levels
    assert detect_steps([[5.0, 5.0, 5.0]] * 30) == []  # constant: no variance at all
    found = detect_steps([[5.0, 5.0, 5.0]] * 15 + [[6.0, 6.0, 6.0]] * 15)
    assert [(step.index, step.ratio) for step in found] == [(15, pytest.approx(1.2))]


def test_points_with_one_process_and_mixed_counts() -> None:
    rng = np.random.default_rng(13)
    levels = step_levels(80, 50, 1.3)
    one = [[float(level * np.exp(rng.normal(0, 0.02)))] for level in levels]
    assert [step.index for step in detect_steps(one)] == [50]
    mixed = [list(level * np.exp(rng.normal(0, 0.02, 1 + i % 6))) for i, level in
             enumerate(levels)]
    found = detect_steps(mixed)
    assert [step.index for step in found] == [50]
    assert found[0].ratio == pytest.approx(1.3, rel=0.04)


def test_any_sequence_of_sequences_is_read() -> None:
    values = series(step_levels(20, 10, 1.5), seed=14)
    as_arrays = detect_steps(tuple(np.array(point) for point in values))
    assert as_arrays == detect_steps(values) and len(as_arrays) == 1


@pytest.mark.parametrize("bad", [[[1.0], []], [[1.0], [0.0]], [[1.0], [-2.0]],
                                 [[1.0], [math.nan]], [[math.inf]]])
def test_invalid_process_medians_are_refused(bad: list[list[float]]) -> None:
    with pytest.raises(ValueError):
        detect_steps(bad)


def test_a_thousand_commits_take_milliseconds() -> None:
    """The history's show runs this for every series: 200 x 1,000 commits in < 2 s. An O(n^2)
    search in Python would take seconds here; the budget below is 10x what it takes."""
    levels = step_levels(1000, 300, 1.3)
    levels[700:] *= 0.8
    values = series(levels, seed=15, cv=0.05)
    detect_steps(values)
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        found = detect_steps(values)
        timings.append(time.perf_counter() - started)
    assert [step.index for step in found] == [300, 700]
    assert min(timings) < 0.02
