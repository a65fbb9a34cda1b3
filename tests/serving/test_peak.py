"""The peak search on a fake server whose p99 crosses the target at a known rate."""

from __future__ import annotations

import math

import pytest

from harness.serving.peak import RESOLUTION, LoadPoint, PeakSearch


def _server(limit: float, tried: list[float]):
    def measure(rate: float) -> LoadPoint:
        tried.append(rate)
        met = rate <= limit
        return LoadPoint(rate, 1.0, 5.0 if met else 50.0, rate, met)
    return measure


@pytest.mark.parametrize("limit", [37.0, 80.0, 3.0, 199.0])
def test_the_peak_is_bracketed_within_the_resolution(limit: float) -> None:
    tried: list[float] = []
    search = PeakSearch(_server(limit, tried), start_qps=50.0, ceiling_qps=200.0,
                        deadline=math.inf).run()
    assert search.met is not None and search.met <= limit
    assert search.missed is not None and search.missed > limit
    assert search.missed <= search.met * (1 + RESOLUTION) and search.note(60) == ""
    assert max(tried) <= 200.0


def test_a_ceiling_that_meets_the_target_ends_the_search_and_says_so() -> None:
    search = PeakSearch(_server(1e9, []), 50.0, 120.0, math.inf).run()
    assert search.met == 120.0 and search.missed is None
    assert "the peak is at or above it" in search.note(60)


def test_no_rate_meets_the_target() -> None:
    tried: list[float] = []
    search = PeakSearch(_server(0.001, tried), 50.0, 120.0, math.inf).run()
    assert search.met is None and len(tried) == 9  # the first rate and 8 halvings
    assert search.note(60).startswith("no rate met the target, down to 0.195")


def test_the_budget_stops_the_search_with_its_bracket() -> None:
    ticks = iter(range(100))
    search = PeakSearch(_server(37.0, []), 50.0, 200.0, deadline=3,
                        clock=lambda: next(ticks)).run()
    assert len(search.points) == 3 and search.out_of_time
    assert search.note(3).startswith("search stopped by its 3 s budget: 35.36 queries/s met")
