"""What change a gate over many cases can catch, at the spreads its two runs measured.

A gate that passes says "no regression beyond the threshold"; it can say so only for the cases
whose processes spread little enough. A case whose fresh processes differ by 30% cannot show a
10% slowdown in 7 processes, and a reader must know that rather than read a pass as proof. So
per case, from each run's spread between processes (`between_cv`) and process count, this is
the smallest slowdown the gate calls in 9 comparisons out of 10
(`harness.measure.stats.detectable_change`), at the significance the family-wise adjustment
leaves one changed case among K: Benjamini-Hochberg calls a lone change when its p-value is
below alpha / K, the Bonferroni level.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from harness.analysis.compare import ALPHA
from harness.measure.stats import detectable_change
from harness.results.runs import CASE_KEY

POWER = 0.9


def detectable_changes(base: pd.DataFrame, new: pd.DataFrame,
                       threshold: float) -> pd.Series:
    """Per case (by its `case_id` in `new`) finished in both runs with >= 2 processes each, the
    smallest slowdown the family-wise gate calls with probability `POWER` (pure: rows in)."""
    columns = [*CASE_KEY, "case_id", "status", "between_cv", "processes"]
    both = base[columns].merge(new[columns], on=CASE_KEY, suffixes=("_base", "_new"))
    usable = (both["status_base"].eq("ok") & both["status_new"].eq("ok")
              & both["processes_base"].ge(2) & both["processes_new"].ge(2)
              & both["between_cv_base"].notna() & both["between_cv_new"].notna())
    both = both[usable.fillna(False).astype(bool)]
    if both.empty:
        return pd.Series(dtype=float)
    alpha = ALPHA / len(both)
    return pd.Series([detectable_change(row.between_cv_base, row.between_cv_new,
                                        int(row.processes_base), int(row.processes_new), alpha,
                                        POWER, threshold=threshold)
                      for row in both.itertuples()], index=both["case_id_new"].to_numpy())


def sensitivity_line(changes: pd.Series, threshold: float) -> str:
    """The detectable changes in one line: their median, the worst cases, how many exceed
    twice the threshold."""
    if changes.empty:
        return "sensitivity: no case was timed in >= 2 processes in both runs"
    finite = changes[np.isfinite(changes)]
    worst = changes.sort_values(ascending=False).head(3)
    blunt = int((changes > 2 * threshold).sum())
    return (f"sensitivity: at these spreads the gate catches, 9 times in 10, a slowdown of "
            f"{_percent(float(finite.median()) if len(finite) else math.inf)} for the median "
            f"case; {blunt} of {len(changes)} cases need more than {2 * threshold:.0%} "
            f"(worst: {', '.join(f'{case} {_percent(value)}' for case, value in worst.items())})")


def _percent(value: float) -> str:
    return "undetectable" if not math.isfinite(value) else f"{value:.0%}"
