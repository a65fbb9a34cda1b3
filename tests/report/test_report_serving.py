"""The serving section: each process's latency-against-load curve, the target and the peak,
and the table of the highest load under the target."""

from __future__ import annotations

from harness.report import serving_figures, serving_tables
from harness.report.build import _sections
from harness.results.runs import RunSet
from harness.results.schema import samples_frame, to_frame

CASE = "cnn-small-cpu-eager-infer-server-bs32"
ROW = {"run_id": "r", "case_id": CASE, "suite": "cnn", "size": "small", "backend": "cpu-eager",
       "phase": "infer", "scenario": "server", "batch_size": 32, "status": "ok",
       "slo_ms": 20.0, "peak_qps": 300.0, "peak_ci_low_qps": 280.0, "peak_ci_high_qps": 320.0,
       "median_ms": 1e3 / 300, "processes": 2}


def curve_samples(curves: dict[int, list[tuple[float, float, float, bool]]]):
    """Long samples of (rate, p50, p99, met) points per process."""
    records = []
    for process, points in curves.items():
        for idx, (rate, p50, p99, met) in enumerate(points):
            for metric, value in (("load_qps", rate), ("load_p50_ms", p50),
                                  ("load_p99_ms", p99), ("load_achieved_qps", rate),
                                  ("load_met", float(met))):
                records.append({"run_id": "r", "case_id": CASE, "metric": metric,
                                "process": process, "idx": idx, "value": value})
    return samples_frame(records)


SAMPLES = curve_samples({0: [(100.0, 5.0, 8.0, True), (400.0, 9.0, 40.0, False),
                             (300.0, 7.0, 15.0, True)],
                         1: [(100.0, 5.5, 9.0, True), (350.0, 8.0, 25.0, False)]})


def test_the_curve_keeps_each_process_s_points_in_rate_order() -> None:
    table = serving_tables.load_curve_table(to_frame([ROW]), SAMPLES)
    first = table[table["process"] == 0]
    assert first["rate_qps"].tolist() == [100.0, 300.0, 400.0]
    assert first["met"].tolist() == [True, True, False]
    assert len(table) == 5 and set(table["slo_ms"]) == {20.0}


def test_the_figure_draws_a_line_per_process_the_target_and_the_peak() -> None:
    fig = serving_figures.load_curve_figure(
        serving_tables.load_curve_table(to_frame([ROW]), SAMPLES))
    lines = [t for t in fig.data if t.mode == "lines+markers"]
    assert len(lines) == 2 and list(lines[0].marker.symbol) == ["circle", "circle", "x"]
    (star,) = [t for t in fig.data if t.mode == "markers"]
    assert list(star.x) == [300.0] and list(star.y) == [20.0]
    assert "[280, 320]" in star.hovertemplate
    (target,) = [t for t in fig.data if t.mode == "lines"]
    assert list(target.y) == [20.0, 20.0]


def test_the_page_has_a_serving_section_only_where_a_run_searched_a_peak() -> None:
    served = RunSet(to_frame([ROW]), SAMPLES, {"r": {}})
    plain = RunSet(to_frame([{**ROW, "scenario": "latency", "peak_qps": None}]),
                   samples_frame([]), {"r": {}})
    ids = {name: [section.id for section in _sections(run, "cpu-eager", None, [])[0]]
           for name, run in (("served", served), ("plain", plain))}
    assert "serving" in ids["served"] and "serving" not in ids["plain"]
    peaks = serving_tables.peak_load_table(to_frame([ROW]))
    assert peaks["peak_qps"].tolist() == [300.0]
