"""The report's "which backend to ship" reading: fastest at kept accuracy (ties named), the
smallest artifact, the fastest cold start, per comparable group."""

from __future__ import annotations

import pandas as pd
import pytest

from harness.report.ship_tables import ship_table
from harness.results.schema import to_frame

BASE = {"run_id": "r", "suite": "cnn", "size": "small", "phase": "infer",
        "scenario": "throughput", "batch_size": 32, "status": "ok", "parity_ok": True}


def test_each_question_gets_its_own_answer_among_backends_that_kept_parity() -> None:
    frame = to_frame([
        {**BASE, "case_id": "1", "backend": "cpu-eager", "median_ms": 10.0, "ci_low_ms": 9.0,
         "ci_high_ms": 11.0, "first_call_s": 0.01},
        {**BASE, "case_id": "2", "backend": "ort-cpu", "median_ms": 4.0, "ci_low_ms": 3.8,
         "ci_high_ms": 4.4, "load_s": 0.05, "first_call_s": 0.002, "artifact_bytes": 2000},
        {**BASE, "case_id": "3", "backend": "ov-cpu", "median_ms": 4.2, "ci_low_ms": 4.1,
         "ci_high_ms": 4.6, "load_s": 0.3, "first_call_s": 0.004, "artifact_bytes": 1500},
        {**BASE, "case_id": "4", "backend": "cpu-aoti", "median_ms": 3.0, "ci_low_ms": 2.9,
         "ci_high_ms": 3.1, "load_s": 2.0, "first_call_s": 0.001, "artifact_bytes": 900,
         "parity_ok": False},  # fastest and smallest, but it did not keep the model's output
        {**BASE, "case_id": "5", "backend": "cpu-compile", "status": "error"},
        {**BASE, "case_id": "6", "size": "medium", "backend": "cpu-eager", "median_ms": 50.0,
         "ci_low_ms": 49.0, "ci_high_ms": 51.0, "first_call_s": 0.05},
    ])
    table = ship_table(frame).set_index("size")
    small = table.loc["small"]
    assert small["candidates"] == 3 and small["failed_parity"] == "cpu-aoti"
    assert small["fastest"] == "ort-cpu" and small["fastest_ci_ms"] == "[3.8, 4.4]"
    assert small["tied"] == "ov-cpu"  # its interval overlaps the winner's; eager's does not
    assert small["smallest_artifact"] == "ov-cpu" and small["artifact_bytes"] == 1500
    assert small["fastest_cold_start"] == "cpu-eager"  # no artifact to load: its first call
    assert small["cold_start_s"] == pytest.approx(0.01)
    medium = table.loc["medium"]
    assert medium["fastest"] == "cpu-eager" and medium["tied"] == ""
    assert pd.isna(medium["smallest_artifact"])  # nothing in that group ships an artifact


def test_no_finished_case_gives_an_empty_table_with_its_columns() -> None:
    table = ship_table(to_frame([{**BASE, "case_id": "1", "backend": "ort-cpu",
                                  "status": "error"}]))
    assert table.empty and "fastest" in table.columns
