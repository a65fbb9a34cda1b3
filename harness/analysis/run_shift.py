"""How far a whole run moved against its baseline: the machine, or a change to everything.

Each benchmark's test compares its own processes, so a shift that moves every benchmark of a
run alike (another tenant on the host for the run's whole length, a slower host of the same
kind) looks to each of them like a change of its own. On this project's 2-core VM, two runs of
identical code an hour apart differed by a median of 1.17x over 48 benchmarks, and the gate
called 9 of them slower. A code change rarely moves every benchmark alike, so the median ratio
over all compared benchmarks is the run's shift; the gate prints it and warns when it alone is
beyond the threshold, so that a reader can tell a slow machine from a slow change. It is a
diagnostic, not part of the verdict: a change that does slow everything must still fail. The
cure for the machine's part is to measure the base in the same job (`archbench ci --base`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def run_shift_line(table: pd.DataFrame, threshold: float, interleaved: bool = False) -> str:
    """One line on the median ratio over the compared cases of a comparison's table, with a
    warning when it is beyond the threshold; empty with fewer than 3 compared cases.
    `interleaved`: base and new ran in the same rounds, so the machine is not the cause."""
    ratios = table["ratio"].dropna().astype(float)
    if len(ratios) < 3:
        return ""
    median = float(np.median(ratios))
    beyond = int(((ratios > 1 + threshold) | (ratios < 1 - threshold)).sum())
    line = (f"run shift: the median benchmark moved {median:.3f}x over {len(ratios)} compared "
            f"benchmarks ({beyond} beyond ±{threshold:.0%})")
    if abs(np.log(median)) > np.log1p(threshold):
        line += ("; base and new ran in the same rounds, so a change touched every benchmark"
                 if interleaved else
                 "; warning: the whole run moved beyond the threshold, as when the machine was "
                 "slower or faster than at the baseline's time (or a change touched every "
                 "benchmark): the verdicts below include that shift; measure the base in the "
                 "same job (archbench ci --base) to tell the two apart")
    return line
