"""Rows as plain JSON: what every --format json writes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from harness.results.json_rows import json_rows


def test_missing_values_become_null_and_numpy_scalars_plain_values():
    frame = pd.DataFrame({"x": [np.float64(1.5), np.nan], "inf": [np.inf, 2.0],
                          "n": pd.array([3, None], dtype="Int64")})
    assert json_rows(frame) == [{"x": 1.5, "inf": None, "n": 3},
                                {"x": None, "inf": 2.0, "n": None}]
    assert json.dumps(json_rows(frame), allow_nan=False)
