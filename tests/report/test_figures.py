"""The summary heatmap's hover says how precisely each number is known, against the target."""

from __future__ import annotations

import pytest

from harness.report import figures, tables
from harness.results.runs import load_runs


@pytest.fixture
def summary(fake_run):
    return tables.summary_table(load_runs([fake_run("run-p", seed=1)]).results)


def _hovers(figure) -> list[str]:
    return [str(text) for trace in figure.data for row in trace.customdata for text in row
            if text]


def test_a_hover_says_the_precision_reached_and_whether_it_met_the_target(summary) -> None:
    ok = summary.index[summary["status"] == "ok"]
    summary.loc[ok, ["ci_rel_half_width", "ci_target"]] = [0.046, 0.05]
    summary.loc[ok, "ci_met"] = True
    short = ok[0]
    summary.loc[short, ["ci_rel_half_width", "ci_met", "ci_note"]] = [
        0.12, False, "the budget (6.5 min, --budget-min) was spent"]
    hovers = _hovers(figures.summary_figure(summary))
    assert sum("known to ±4.6% (target ±5%: met)" in h for h in hovers) == len(ok) - 1
    assert sum("known to ±12.0% (target ±5%: not met: the budget (6.5 min" in h
               for h in hovers) == 1


def test_a_run_from_before_targets_shows_no_precision_line(summary) -> None:
    assert not any("known to" in h for h in _hovers(figures.summary_figure(summary)))
