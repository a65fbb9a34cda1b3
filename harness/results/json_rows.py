"""A frame's rows as plain JSON values: what every ``--format json`` of archbench writes.

Kept apart from the comparison and the history that use it, so that reading a history does
not load the comparison's statistics (scipy.stats: most of a second) to write JSON.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd


def json_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
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
