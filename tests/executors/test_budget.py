"""The precision budget: more processes for the case whose interval is wide, none for the
quiet one, and every case short of the target says why."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

from harness.executors import launch as launch_module
from harness.protocol import ProcessResult
from harness.results.store import load_results
from harness.sweep.run import run_sweep, start_run
from tests.sweep.test_run import ROUNDS, ROUNDS_CASES

NOISY, QUIET = ROUNDS_CASES
#: Each process's iteration time: the noisy case's processes disagree by tens of percent, the
#: quiet one's by 0.1%.
SPEEDS = {NOISY: [1.0, 1.5, 0.7, 1.3, 0.8, 1.2, 0.9, 1.4], QUIET: [1.0, 1.001, 0.999, 1.0]}


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """The worker replaced: (case id, process) of each launch, each process 2 s of wall."""
    made: list[tuple[str, int]] = []

    def launch_case_process(case, config, cache_dir, log_path, process=0, python=None, **_):
        made.append((case.case_id, process))
        speed = SPEEDS[case.case_id][process % len(SPEEDS[case.case_id])]
        return ProcessResult(process, "ok", "", 2.0, {}, {"iter_ms": [speed] * 5})

    monkeypatch.setattr(launch_module, "launch_case_process", launch_case_process)
    return made


def _sweep(results_dir: Path, **settings: object):
    config = dataclasses.replace(ROUNDS, **settings)
    run_dir = start_run(config, results_dir, "budget")
    run_sweep(run_dir, config, progress=False)
    return load_results(run_dir).set_index("case_id")


def test_the_budget_goes_to_the_noisy_case_up_to_its_maximum(calls, results_dir: Path) -> None:
    rows = _sweep(results_dir, budget_min=10.0, max_processes=6)
    assert rows.loc[NOISY, "processes"] == 6 and rows.loc[QUIET, "processes"] == 3
    assert calls[6:] == [(NOISY, p) for p in range(3, 6)]  # after the three rounds
    assert not rows.loc[NOISY, "ci_met"] and rows.loc[QUIET, "ci_met"]
    assert rows.loc[NOISY, "ci_note"] == "6 processes, the most a case gets (--max-processes)"
    assert rows.loc[NOISY, "ci_rel_half_width"] > 0.05 > rows.loc[QUIET, "ci_rel_half_width"]
    assert pd.isna(rows.loc[QUIET, "ci_note"]) or rows.loc[QUIET, "ci_note"] == ""
    # the interval of a budgeted run takes the first stage's quantile, as its plan did
    assert rows.loc[NOISY, "ci_first_stage"] == 3


def test_a_budget_too_small_for_one_more_process_says_it_was_spent(calls,
                                                                   results_dir: Path) -> None:
    rows = _sweep(results_dir, budget_min=1 / 60)  # 1 s: a process costs 2
    assert len(calls) == 6
    assert rows.loc[NOISY, "ci_note"] == "the budget (0.0166667 min, --budget-min) was spent"


def test_without_a_budget_the_rows_still_state_their_precision(calls, results_dir: Path) -> None:
    rows = _sweep(results_dir)
    assert len(calls) == 6
    assert rows.loc[NOISY, "ci_note"] == "3 processes and no budget for more (--budget-min)"
    assert rows.loc[QUIET, "ci_met"] and rows.loc[QUIET, "ci_target"] == 0.05


def test_a_case_whose_later_processes_spread_more_than_its_first_says_so(
        calls, results_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Planned from three close processes (1.0, 1.03, 1.06: 7 of them for 5%), it met later
    ones far apart: the plan stands, and the row says why it fell short."""
    monkeypatch.setitem(SPEEDS, NOISY, [1.0, 1.03, 1.06, 1.3, 0.8, 1.25, 0.85])
    rows = _sweep(results_dir, budget_min=10.0)
    assert rows.loc[NOISY, "processes"] == 7
    assert rows.loc[NOISY, "ci_note"] == ("7 processes, planned from the first 3, whose spread "
                                          "the later ones exceeded")
