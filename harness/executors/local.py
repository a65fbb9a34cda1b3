"""The local executor: one case process at a time on this machine, in interleaved rounds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.executors.base import Executor

if TYPE_CHECKING:
    from tqdm import tqdm

    from harness.sweep import Sweep


class LocalExecutor(Executor):
    """Each case's first process, then each case's second, and so on, so that a slow phase of
    the machine touches every case a little rather than one case entirely. One at a time: a
    case has the machine to itself while it is timed."""

    def run(self, sweep: Sweep, bar: tqdm) -> set[str]:
        touched: set[str] = set()
        for round_ in range(sweep.config.processes):
            for planned, result in sweep.cases:
                bar.set_postfix_str(f"{planned.case.case_id} #{result.next_process() or 0}")
                if sweep.advance(planned, result, round_):
                    touched.add(planned.case.case_id)
                    bar.update()
        return touched
