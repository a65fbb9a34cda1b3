"""The report's cost table: the Pareto front of cost against time per comparable group."""

from __future__ import annotations

import pandas as pd

from harness.report.cost_figures import cost_figure
from harness.report.cost_tables import cost_table, pareto_front
from harness.results.schema import to_frame


def test_a_point_is_on_the_front_when_nothing_is_both_cheaper_and_faster() -> None:
    points = pd.DataFrame({"cost": [1.0, 2.0, 3.0, 2.5, None],
                           "time": [5.0, 2.0, 1.0, 2.5, 0.1]})
    assert pareto_front(points).tolist() == [True, True, True, False, False]


def test_the_front_is_per_model_and_measurement_and_the_figure_draws_it() -> None:
    base = {"run_id": "r", "suite": "cnn", "phase": "infer", "scenario": "throughput",
            "batch_size": 32, "status": "ok", "usd_per_hour": 1.0}
    frame = to_frame([
        {**base, "case_id": "1", "size": "small", "backend": "cpu-eager", "median_ms": 10.0,
         "usd_per_million_samples": 0.3},
        {**base, "case_id": "2", "size": "small", "backend": "ort-cpu", "median_ms": 4.0,
         "usd_per_million_samples": 0.1},
        {**base, "case_id": "3", "size": "large", "backend": "cpu-eager", "median_ms": 90.0,
         "usd_per_million_samples": 2.0},  # alone in its group: on its front
        {**base, "case_id": "4", "size": "large", "backend": "ort-cpu", "status": "error"},
    ])
    table = cost_table(frame)
    fronts = dict(zip(table["case_id"], table["front_usd_per_million_samples"], strict=True))
    assert fronts == {"1": False, "2": True, "3": True}
    assert not table["front_energy_j_per_sample"].any()  # no energy measured: no front
    figure = cost_figure(table)
    assert [trace.name for trace in figure.data] == ["cpu-eager", "ort-cpu"]
    assert list(figure.data[1].marker.line.width) == [3]  # ort-cpu small: a ring
    assert "no case with a price" in cost_figure(cost_table(frame.iloc[[3]])).layout.annotations[
        0].text
