"""What `archbench history show` and `history regressions` print: a terminal table, markdown for
a pull request or job summary, or JSON for a script.

`show` answers "where does each case stand and when did it last move": per series, its latest
point with its interval, a sparkline of its recent points, and its last step with the commit
range and size. `regressions` lists the steps to worse (slower; more energy), since a commit
when given, worst first; its exit code is 1 when there is one, as `archbench compare`'s is.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.history.trends import SERIES_KEY, TIME, Quantity
from harness.results.json_rows import json_rows
from harness.results.markdown import markdown_table

#: Points a sparkline shows (the most recent).
SPARK_POINTS = 20
_BARS = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True)
class Regressions:
    """The steps to worse (slower, more energy) of a history (since a commit, when given)."""

    steps: pd.DataFrame
    since: str
    threshold: float
    min_persistence: int
    series: int
    quantity: Quantity = TIME

    @property
    def exit_code(self) -> int:
        return 1 if len(self.steps) else 0

    def outcome(self) -> str:
        since = f" since {self.since}" if self.since else ""
        found = (f"{len(self.steps)} regression(s){since} (exit 1)" if len(self.steps)
                 else f"no regression{since} (exit 0)")
        return f"{found} in {self.series} series ({self.quantity.name})"

    def rule(self) -> str:
        return (f"a step is a change of a case's level ({self.quantity.name}) beyond "
                f"{self.threshold:.0%} that lasted at least {self.min_persistence} commits "
                f"(harness.history.steps); a regression is a step to {self.quantity.worse}")

    def render(self, form: str, report_url: str = "") -> str:
        if form == "json":
            return json.dumps({"outcome": self.outcome(), "exit_code": self.exit_code,
                               "since": self.since, "threshold": self.threshold,
                               "min_persistence": self.min_persistence,
                               "report": report_url or None,
                               "regressions": json_rows(self.steps)}, indent=1) + "\n"
        rows = steps_table(self.steps, self.quantity.unit)
        if form == "markdown":
            mark = "❌" if self.exit_code else "✅"
            lines = [f"### {mark} archbench history: {self.outcome()}", ""]
            if report_url:
                lines += [f"[History report]({report_url})", ""]
            if len(rows):
                lines += [markdown_table(rows), ""]
            return "\n".join([*lines, f"<sub>{self.rule()}</sub>"]) + "\n"
        lines = [f"Regressions: {self.rule()}"]
        if len(rows):
            lines += ["", rows.to_string(index=False)]
        return "\n".join([*lines, "", self.outcome()]) + "\n"


def show_table(points: pd.DataFrame, steps: pd.DataFrame, unit: str = "ms") -> pd.DataFrame:
    """One row per series: machine, case, latest point (in `unit`), its trend and its last
    step."""
    last_step = {} if steps.empty else {
        tuple(row[SERIES_KEY]): row for _, row in steps.sort_values("order").iterrows()}
    rows = []
    for key, series in points.groupby(SERIES_KEY, dropna=False, sort=False):
        latest = series.iloc[-1]
        step = last_step.get(tuple(key))
        rows.append({
            "machine": latest["fingerprint_id"][:8], "case": latest["case"],
            f"latest {unit}": _with_interval(latest),
            "at": latest["commit_short"] + (" dirty" if latest["dirty"] else ""),
            "commits": len(series),
            "trend": sparkline(series["center"].to_numpy(dtype=float)[-SPARK_POINTS:]),
            "last step": _step_text(step) if step is not None else "none"})
    return pd.DataFrame(rows, columns=["machine", "case", f"latest {unit}", "at", "commits",
                                       "trend", "last step"])


def render_show(table: pd.DataFrame, form: str, header: str) -> str:
    if form == "json":
        return json.dumps({"header": header, "series": json_rows(table)},
                          indent=1) + "\n"
    if form == "markdown":
        return f"### {header}\n\n{markdown_table(table)}\n" if len(table) else f"{header}\n"
    return f"{header}\n\n{table.to_string(index=False)}\n" if len(table) else f"{header}\n"


def steps_table(steps: pd.DataFrame, unit: str = "ms") -> pd.DataFrame:
    """Steps as text columns: machine, case, commit range, before -> after, size. The levels
    are the step detector's (each the geometric mean of its commits' fastest process,
    `harness.history.steps`), not the points' centres, and are named so."""
    return pd.DataFrame({
        "machine": steps["fingerprint_id"].str[:8], "case": steps["case"],
        "commits": steps["before_commit_short"] + ".." + steps["commit_short"],
        f"fastest {unit}": [f"{before:.4g} -> {after:.4g}" for before, after
               in zip(steps["before"], steps["after"], strict=True)],
        "change": [f"{ratio - 1:+.0%}" for ratio in steps["ratio"]],
        "subject": [_short(text, 60) for text in steps["subject"]]},
        columns=["machine", "case", "commits", f"fastest {unit}", "change", "subject"])


def sparkline(values: Sequence[float] | np.ndarray) -> str:
    """The values as bars scaled between their minimum and maximum (flat: all the lowest)."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return ""
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    span = high - low
    if span <= 0 or not math.isfinite(span):
        return _BARS[0] * values.size
    levels = np.clip(((values - low) / span * (len(_BARS) - 1)).round(), 0, len(_BARS) - 1)
    return "".join(_BARS[int(level)] for level in levels)


def _with_interval(point: pd.Series) -> str:
    text = f"{point['center']:.4g}"
    if math.isfinite(point["ci_low"]):
        text += f" [{point['ci_low']:.4g}, {point['ci_high']:.4g}]"
    return f"{text} ×{point['processes']}"


def _step_text(step: pd.Series) -> str:
    return (f"{step['ratio'] - 1:+.0%} at {step['before_commit_short']}.."
            f"{step['commit_short']}")


def _short(text: object, width: int) -> str:
    text = "" if pd.isna(text) else str(text).replace("\n", " ")
    return text if len(text) <= width else text[:width - 1] + "…"
