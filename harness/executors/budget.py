"""The precision budget: after the first rounds, more processes where the intervals are widest.

`harness.measure.precision` says how many processes a case's first stage plans for it, what one
more buys and in which order to buy them; this module spends a sweep's remaining wall time that
way, one round at a time, on this machine (`harness.executors.local`), and leaves in every case
short of the target the reason it got no more (`CaseResult.ci_note`). A process's cost is the
case's own: the median wall time of its processes after the first (the first also measures
accuracy and parity).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from harness.measure.precision import Candidate, next_round, planned_processes

if TYPE_CHECKING:
    from tqdm import tqdm

    from harness.cases import PlannedCase, SweepConfig
    from harness.executors.base import SweepView
    from harness.results.case_result import CaseResult

RunProcess = Callable[["PlannedCase", "CaseResult"], None]


def plan(result: CaseResult, config: SweepConfig) -> int | None:
    """The processes a case's plan gives it, from the spread of its first stage alone
    (`harness.measure.precision`); None when it has no first stage to plan from (it failed,
    or has not finished its first rounds)."""
    medians = result.process_medians()[:config.processes]
    if result.failed is not None or len(medians) < max(config.processes, 2):
        return None
    return planned_processes(first_spread(medians), config.processes, config.precision,
                             config.max_processes)


def first_spread(medians: list[float]) -> float:
    """The sample std of the log medians (a row's `between_cv`)."""
    return float(np.log(medians).std(ddof=1))


def candidate(key: str, result: CaseResult, config: SweepConfig) -> Candidate | None:
    """The case as the allocation sees it, or None when its plan cannot be made."""
    planned = plan(result, config)
    if planned is None:
        return None
    walls = [p.wall_s for p in result.processes[1:] if math.isfinite(p.wall_s)]
    return Candidate(key, len(result.processes),
                     first_spread(result.process_medians()[:config.processes]),
                     config.processes, float(np.median(walls)) if walls else math.inf,
                     planned)


def spend(sweep: SweepView, bar: tqdm, deadline: float, run_process: RunProcess) -> set[str]:
    """Rounds of one more process for the cases that gain most per second, until every case
    has its planned count or the budget (`deadline`, on `time.monotonic`) cannot pay for the
    next; the ids of the cases that got one."""
    config = sweep.config
    cases = {planned.case.case_id: (planned, result) for planned, result in sweep.cases
             if not planned.skip_reason}
    touched: set[str] = set()
    while True:
        pool = [c for key, (_, result) in cases.items()
                if (c := candidate(key, result, config)) is not None]
        costs = {c.key: c.cost_s for c in pool}
        chosen = next_round(pool, config.precision, deadline - time.monotonic())
        ran = False
        for key in chosen:
            if time.monotonic() + costs[key] > deadline:
                continue  # the round's earlier processes took longer than predicted
            planned, result = cases[key]
            if result.finished:  # else a resumed run's planned process is still to come
                result.planned += 1
            bar.total += 1
            bar.set_postfix_str(f"{key} #{len(result.processes)} (precision)")
            run_process(planned, result)
            bar.update()
            touched.add(key)
            ran = True
        if not ran:
            return touched


def settle(sweep: SweepView) -> None:
    """Say in every case short of the target why it got no more processes, and save it."""
    config = sweep.config
    for _, result in sweep.cases:
        if result.failed is not None or len(result.processes) < 2:
            continue
        if result.row().get("ci_met", True):
            note = ""
        elif not config.budget_min:
            note = f"{len(result.processes)} processes and no budget for more (--budget-min)"
        elif len(result.processes) < (plan(result, config) or 0):
            note = f"the budget ({config.budget_min:g} min, --budget-min) was spent"
        elif len(result.processes) >= config.max_processes:
            note = (f"{len(result.processes)} processes, the most a case gets "
                    f"(--max-processes)")
        else:
            note = (f"{len(result.processes)} processes, planned from the first "
                    f"{config.processes}, whose spread the later ones exceeded")
        if note != result.ci_note:
            result.ci_note = note
            sweep.save(result)
