"""What a gate can catch at the spreads it measured: quiet cases small changes, noisy ones
only large ones, and the one line that says so."""

from __future__ import annotations

import math

import pandas as pd

from harness.analysis.sensitivity import detectable_changes, sensitivity_line


def rows(cvs: dict[str, float], processes: int = 7) -> pd.DataFrame:
    return pd.DataFrame([{"suite": "s", "size": "tiny", "backend": name, "phase": "infer",
                          "scenario": "latency", "batch_size": 32, "hardware": "",
                          "case_id": f"s-tiny-{name}", "status": "ok", "between_cv": cv,
                          "processes": processes} for name, cv in cvs.items()])


def test_noisier_cases_need_larger_changes_and_the_line_names_the_worst():
    cvs = {"quiet": 0.02, "middling": 0.08, "noisy": 0.30}
    changes = detectable_changes(rows(cvs), rows(cvs), threshold=0.10)
    assert list(changes.index) == ["s-tiny-quiet", "s-tiny-middling", "s-tiny-noisy"]
    assert 0.10 <= changes["s-tiny-quiet"] < changes["s-tiny-middling"] < changes["s-tiny-noisy"]
    assert changes["s-tiny-noisy"] > 0.5
    line = sensitivity_line(changes, 0.10)
    assert line.startswith("sensitivity: at these spreads the gate catches")
    assert "of 3 cases need more than 20%" in line and "(worst: s-tiny-noisy" in line


def test_cases_with_one_process_or_not_finished_are_left_out():
    base = rows({"a": 0.05, "b": 0.05}, processes=1)
    assert detectable_changes(base, rows({"a": 0.05, "b": 0.05}), 0.10).empty
    new = rows({"a": 0.05, "b": 0.05}).assign(status=["ok", "error"])
    changes = detectable_changes(rows({"a": 0.05, "b": 0.05}), new, 0.10)
    assert list(changes.index) == ["s-tiny-a"] and math.isfinite(changes.iloc[0])
    assert sensitivity_line(pd.Series(dtype=float), 0.10).endswith("in both runs")
