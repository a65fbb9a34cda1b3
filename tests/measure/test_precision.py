"""Precision of a row's number, the allocation rule, and its coverage under optional stopping."""

from __future__ import annotations

import itertools
import math

import pytest

from benchmarks.precision_simulation import simulate
from harness.measure.precision import (
    Candidate,
    allocation,
    log_half_width,
    next_round,
    planned_processes,
    precision,
)
from harness.measure.stats import process_level


def test_precision_is_the_half_width_of_process_levels_interval_over_its_centre() -> None:
    medians = [4.1, 4.4, 4.2, 4.6]
    level = process_level(medians)
    reached = precision(level.center, level.ci_low, level.ci_high)
    assert reached == pytest.approx(math.sinh(log_half_width(level.between_cv, 4)))
    assert math.isnan(precision(4.0, math.nan, math.nan))


def test_a_budgeted_rows_interval_takes_the_first_stages_quantile() -> None:
    """Stein's rule: five processes planned from three have the interval of five with the
    quantile of three (t_2 = 4.30, not t_4 = 2.78)."""
    medians = [4.1, 4.4, 4.2, 4.6, 4.3]
    plain, planned = process_level(medians), process_level(medians, first_stage=3)
    ratio = math.log(planned.ci_high / planned.center) / math.log(plain.ci_high / plain.center)
    assert ratio == pytest.approx(4.3027 / 2.7764, rel=1e-3)
    assert planned.center == plain.center


def test_the_plan_is_the_fewest_processes_within_the_target() -> None:
    # t_2 * 0.02 / sqrt(P) <= asinh(0.05) from P = 3.0: three; at 0.04, 12
    assert planned_processes(0.02, 3, 0.05, 12) == 3
    assert planned_processes(0.03, 3, 0.05, 12) == 7
    assert planned_processes(0.5, 3, 0.05, 12) == 12
    assert all(log_half_width(0.03, p, 3) > math.asinh(0.05) for p in range(3, 7))


def _case(key: str = "a", processes: int = 3, spread: float = 0.1, cost_s: float = 10.0,
          planned: int = 12) -> Candidate:
    return Candidate(key, processes, spread, 3, cost_s, planned)


def test_a_process_gains_nothing_past_its_plan() -> None:
    assert _case(planned=3).gain(0.05) == 0.0
    assert _case(processes=12).gain(0.05) == 0.0
    assert _case(spread=0.1).gain(0.05) > 0


def test_each_process_of_a_case_gains_less_than_the_one_before() -> None:
    gains = [_case(processes=p, spread=0.3).gain(0.01) for p in range(3, 12)]
    assert all(a > b > 0 for a, b in itertools.pairwise(gains))


def test_a_gain_stops_at_the_target_it_crosses() -> None:
    """The gain down to the target counts, not the part below it."""
    spread = 0.03
    above, below = log_half_width(spread, 6, 3), log_half_width(spread, 7, 3)
    assert below < math.asinh(0.05) < above
    assert _case(processes=6, spread=spread).gain(0.05) == pytest.approx(
        above - math.asinh(0.05))


def test_the_budget_goes_where_a_process_gains_most_not_around_every_case() -> None:
    """One case spreads 30%, five spread 3%: a process of the noisy one shrinks its excess ten
    times more, so five processes' worth of budget goes to it, none to the others."""
    noisy = _case("noisy", spread=0.3)
    marginal = [_case(f"m{i}", spread=0.03, planned=7) for i in range(5)]
    extra = allocation([noisy, *marginal], 0.05, 50)
    assert extra == {"noisy": 5, **{f"m{i}": 0 for i in range(5)}}
    assert next_round([noisy, *marginal], 0.05, 50) == ["noisy"]


def test_a_round_ranks_by_gain_per_second_and_fits_the_budget() -> None:
    cheap_noisy, dear_noisy, quiet = (_case("cheap", spread=0.2, cost_s=5),
                                      _case("dear", spread=0.2, cost_s=50),
                                      _case("quiet", spread=0.001, planned=3))
    assert next_round([quiet, dear_noisy, cheap_noisy], 0.05, 100) == ["cheap", "dear"]
    assert next_round([quiet, dear_noisy, cheap_noisy], 0.05, 30) == ["cheap"]
    assert next_round([quiet], 0.05, 100) == []


@pytest.mark.parametrize("spread", [0.02, 0.04, 0.08, 0.3])
def test_the_two_stage_rule_keeps_coverage_and_aa_false_alarms(spread: float) -> None:
    """At the sweep's defaults, log-normal processes: the interval holds the true centre in
    95% of cases or more, and compare's test calls A/A pairs different at about its 5%
    (benchmarks/precision_simulation.py prints the full table)."""
    outcome = simulate("two-stage", "log-normal", spread, cases=6000, seed=1)
    assert outcome.coverage > 0.94, outcome
    assert outcome.aa_p < 0.075, outcome
    assert outcome.aa_verdict < 0.03, outcome


def test_the_simulation_sees_what_stopping_when_it_looks_precise_costs() -> None:
    """The check can fail: the sequential rule, stopping as soon as the interval looks
    narrow, loses coverage and raises false alarms at a spread of 8%."""
    outcome = simulate("sequential", "log-normal", 0.08, cases=6000, seed=1)
    assert outcome.coverage < 0.93 and outcome.aa_p > 0.09, outcome
