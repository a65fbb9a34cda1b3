"""The local executor: one case process at a time on this machine, in interleaved rounds, then
the precision budget's rounds (`harness.executors.budget`) when the sweep has one."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from harness.executors import budget, launch
from harness.executors.base import Executor
from harness.protocol import ProcessResult

if TYPE_CHECKING:
    from tqdm import tqdm

    from harness.cases import PlannedCase
    from harness.executors.base import SweepView
    from harness.results.case_result import CaseResult

#: How the local executor places a process: alone on this machine, with the thread settings
#: the case sets itself and whatever OMP_NUM_THREADS the user gave the sweep.
LOCAL_PLACEMENT = {"executor": "local", "cases_per_node": 1,
                   "omp_num_threads": os.environ.get("OMP_NUM_THREADS", "")}


def run_next_process(sweep: SweepView, planned: PlannedCase, result: CaseResult,
                     round_: int | None = None) -> bool:
    """Run the case's next process on this machine if it is due in this round (a resumed case
    that fell behind catches up; None: whatever its round); the sweep persists it at once. True
    when one ran."""
    index = result.next_process()
    if index is None or (round_ is not None and index > round_):
        return False
    if planned.skip_reason:
        finished = ProcessResult.failure(0, "skipped", planned.skip_reason)
    else:
        finished = launch.run_one_process(planned.case, sweep.config, index, sweep.cache_dir,
                                          sweep.log_path(planned, index), sweep.python,
                                          run_dir=sweep.run_dir).placed(LOCAL_PLACEMENT)
    sweep.record(planned, result, finished)
    return True


class LocalExecutor(Executor):
    """Each case's first process, then each case's second, and so on, so that a slow phase of
    the machine touches every case a little rather than one case entirely. One at a time: a
    case has the machine to itself while it is timed. With a budget (`--budget-min`, counted
    from here), the rounds after go to the cases furthest from the precision target."""

    def run(self, sweep: SweepView, bar: tqdm) -> set[str]:
        started = time.monotonic()
        touched: set[str] = set()
        for round_ in range(sweep.config.processes):
            for planned, result in sweep.cases:
                bar.set_postfix_str(f"{planned.case.case_id} #{result.next_process() or 0}")
                if run_next_process(sweep, planned, result, round_):
                    touched.add(planned.case.case_id)
                    bar.update()
        if sweep.config.budget_min:
            touched |= budget.spend(sweep, bar, started + 60 * sweep.config.budget_min,
                                    lambda planned, result: run_next_process(sweep, planned,
                                                                             result))
        return touched
