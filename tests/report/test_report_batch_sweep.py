"""The batch sweep's table and figure: each process's curve, merged point by point."""

from __future__ import annotations

import pandas as pd
import pytest

from harness.report import figures, tables
from harness.report.build import _sections
from harness.results.runs import RunSet
from harness.results.schema import samples_frame, to_frame

CASE = "transformer-small-cpu-eager-infer-batch-sweep-bs1"
ROW = {"run_id": "r", "case_id": CASE, "suite": "transformer", "size": "small",
       "backend": "cpu-eager", "phase": "infer", "scenario": "batch-sweep", "batch_size": 1,
       "status": "ok", "knee_batch": 4, "max_batch": 8}


def sweep_samples(curves: dict[int, list[tuple[int, float, float]]]) -> pd.DataFrame:
    """Long samples of (batch, step ms, p50 ms) points, per process."""
    records = []
    for process, points in curves.items():
        for idx, (batch, step, p50) in enumerate(points):
            for metric, value in (("sweep_batch", batch), ("sweep_ms", step),
                                  ("sweep_p50_ms", p50)):
                records.append({"run_id": "r", "case_id": CASE, "metric": metric,
                                "process": process, "idx": idx, "value": value})
    return samples_frame(records)


def test_points_are_the_median_over_the_processes_that_reached_them() -> None:
    samples = sweep_samples({0: [(1, 1.0, 1.1), (2, 1.2, 1.3), (4, 2.0, 2.1)],
                             1: [(1, 3.0, 3.1), (2, 1.4, 1.5)]})
    table = tables.batch_sweep_table(to_frame([ROW]), samples)
    assert table["batch"].tolist() == [1, 2, 4]
    assert table["step_ms"].tolist() == pytest.approx([2.0, 1.3, 2.0])
    assert table["processes"].tolist() == [2, 2, 1]
    assert table["throughput_sps"].tolist() == pytest.approx([500.0, 2 / 1.3e-3, 2000.0])
    assert set(table["knee_batch"]) == {4} and set(table["max_batch"]) == {8}


def test_the_figure_marks_the_knee_and_the_largest_batch() -> None:
    samples = sweep_samples({0: [(1, 1.0, 1.1), (2, 1.2, 1.3), (4, 2.0, 2.1), (8, 4.0, 4.0)]})
    fig = figures.batch_sweep_figure(tables.batch_sweep_table(to_frame([ROW]), samples))
    symbols = [trace.marker.symbol for trace in fig.data if trace.mode == "markers"]
    assert symbols == ["star", "x"]
    (star,) = [t for t in fig.data if t.mode == "markers" and t.marker.symbol == "star"]
    assert list(star.x) == [4]


def test_the_largest_batch_says_what_did_not_fit_and_why_the_search_stopped() -> None:
    samples = sweep_samples({0: [(1, 1.0, 1.1), (2, 1.2, 1.3)]})
    note = "search stopped by its 30 s budget: 8 fits, 12 did not"
    row = {**ROW, "max_batch_oom": 12, "max_batch_note": note}
    fig = figures.batch_sweep_figure(tables.batch_sweep_table(to_frame([row]), samples))
    (cross,) = [t for t in fig.data if t.mode == "markers" and t.marker.symbol == "x"]
    assert "(batch 12 did not)" in cross.hovertemplate and note in cross.hovertemplate


def test_no_sweep_is_an_empty_table_and_a_figure_that_says_why() -> None:
    table = tables.batch_sweep_table(to_frame([{**ROW, "scenario": "latency"}]),
                                     samples_frame([]))
    assert table.empty
    fig = figures.batch_sweep_figure(table)
    assert "no finished batch sweep" in str(fig.layout.annotations[0].text)


def test_the_page_has_a_batch_sweep_section_only_where_a_run_swept() -> None:
    swept = RunSet(to_frame([ROW]), sweep_samples({0: [(1, 1.0, 1.1), (2, 1.2, 1.3)]}),
                   {"r": {}})
    plain = RunSet(to_frame([{**ROW, "scenario": "latency"}]), samples_frame([]), {"r": {}})
    ids = {name: [section.id for section in _sections(run, "cpu-eager", None, [])[0]]
           for name, run in (("swept", swept), ("plain", plain))}
    assert ids["swept"][ids["swept"].index("throughput") + 1] == "batch-sweep"
    assert "batch-sweep" not in ids["plain"]
