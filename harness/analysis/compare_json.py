"""A comparison as JSON, for a script or a bot that posts its own summary.

The same content as the markdown (`harness.analysis.compare_markdown`), as data: the outcome
and exit code, the rule, the warnings, every compared case with its verdict and evidence
(slower first, then faster, then unchanged), the cases that broke, were skipped or are only on
one side. NaN is written as null, so any JSON reader takes it.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

from harness.analysis.compare import Comparison, describe_rule


def comparison_json(comparison: Comparison, report_url: str = "") -> str:
    """The comparison as an indented JSON document (module docstring)."""
    return json.dumps({
        "outcome": comparison.outcome(), "exit_code": comparison.exit_code,
        "base": comparison.base_id, "new": comparison.new_id,
        "threshold": comparison.threshold, "family_wise": comparison.family_wise,
        "rule": describe_rule(comparison.threshold, comparison.family_wise),
        "report": report_url or None, "warnings": list(comparison.warnings),
        "cases": records(comparison.table),
        "newly_broken": records(comparison.newly_broken),
        "now_skipped": records(comparison.now_skipped),
        "only_in_base": records(comparison.only_in_base),
        "only_in_new": records(comparison.only_in_new)}, indent=1) + "\n"


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A frame's rows as plain JSON values (numpy scalars unwrapped, NA and NaN as null)."""
    return [{str(key): _plain(value) for key, value in row.items()}
            for row in frame.to_dict("records")]


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if hasattr(value, "item"):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
