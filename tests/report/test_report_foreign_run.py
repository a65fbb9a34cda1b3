"""The report of a run that knows nothing about models: another project's pytest-benchmark file.

Such a run has no parameter counts or FLOPs, no memory, accuracy or cold-start figures, and
names of its own for suites, sizes and backends; a hand-made or older run may even lack a
phase, a scenario (every run from before scenarios) or a batch size. Every figure must still be
drawn, or say why it has nothing to draw.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from page_reading import FIGURE_SECTIONS, plotted_figures

from harness.report import write_report
from harness.results.pytest_benchmark import import_benchmark_json
from tests.fake_runs import case_id


def _benchmark(name: str, median_s: float, raw: bool) -> dict:
    """One benchmark as pytest-benchmark writes it, with no extra_info (not an archbench one)."""
    stats = {"min": 0.9 * median_s, "max": 1.4 * median_s, "mean": 1.02 * median_s,
             "stddev": 0.05 * median_s, "rounds": 9, "median": median_s,
             "iqr": 0.04 * median_s, "q1": 0.98 * median_s, "q3": 1.02 * median_s,
             "ops": 1 / median_s, "total": 9 * median_s, "iterations": 1}
    if raw:  # --benchmark-save-data
        stats["data"] = [median_s * (1 + 0.01 * i) for i in range(-4, 5)]
    return {"group": None, "name": name, "fullname": f"tests/test_speed.py::{name}",
            "params": None, "param": None, "extra_info": {}, "stats": stats,
            "options": {"disable_gc": False, "timer": "perf_counter", "min_rounds": 5,
                        "max_time": 1.0, "min_time": 5e-06, "warmup": False}}


def test_report_of_another_projects_pytest_benchmark_file(tmp_path: Path):
    path = tmp_path / "out.json"
    path.write_text(json.dumps({
        "machine_info": {"node": "laptop", "python_version": "3.12.3",
                         "cpu": {"brand_raw": "Some CPU", "count": 8}},
        "commit_info": {"id": "0123456789abcdef", "dirty": False, "project": "other"},
        "benchmarks": [_benchmark("test_json_dumps", 2.5e-5, raw=False),
                       _benchmark("test_sha256", 1.2e-6, raw=True)],
        "datetime": "2025-01-01T00:00:00+00:00", "version": "4.0.0"}))
    run_dir = import_benchmark_json(path, tmp_path / "results")
    out = tmp_path / "report"
    page = write_report([run_dir], out).read_text()
    shown = plotted_figures(page)
    assert sorted(shown) == sorted(f"fig-{section}" for section in FIGURE_SECTIONS
                                   if section != "failures")  # every case finished
    assert shown["fig-summary"][0][0]["x"] == ["test_json_dumps", "test_sha256"]
    assert set(pd.read_csv(out / "summary.csv")["backend"]) == {"test_json_dumps",
                                                                "test_sha256"}
    # the figures with nothing to draw say why, instead of showing empty axes
    for message in ("no finished case with a parameter count",
                    "no finished case recorded its memory",
                    "no finished case recorded its accuracy or parity",
                    "no cold-start times recorded"):
        assert message in page


def test_cases_without_phase_scenario_batch_size_or_model_facts_are_still_drawn(fake_run,
                                                                                 tmp_path):
    unknown = {"params": None, "flops_per_sample": None, "precision": None, "device": None}
    no_batch = case_id("cnn", "tiny", "cpu-eager", "infer")
    no_scenario = case_id("cnn", "small", "cpu-eager", "infer")
    no_phase = case_id("rnn", "tiny", "cpu-eager", "infer")
    bare = [case_id("transformer", "tiny", backend, "infer")
            for backend in ("cpu-eager", "cpu-compile")]
    rows = {no_batch: {**unknown, "batch_size": None}, no_phase: {**unknown, "phase": None},
            no_scenario: {"scenario": None},
            **{cid: {**unknown, "phase": None, "batch_size": None} for cid in bare}}
    out = tmp_path / "report"
    page = write_report([fake_run("hand-made", rows=rows)], out).read_text()
    summary = pd.read_csv(out / "summary.csv").set_index("case_id")
    assert summary.loc[bare, "best"].tolist() == [False, True]  # compile is the faster one
    menu = plotted_figures(page)["fig-summary"][1]["updatemenus"][0]["buttons"]
    labels = [button["label"] for button in menu]
    assert labels == ["infer, latency, batch size 16", "infer, latency, batch size not recorded",
                      "infer, scenario not recorded, batch size 16",
                      "train, latency, batch size 16", "phase not recorded, latency, batch size 16",
                      "phase not recorded, latency, batch size not recorded"]
    traces = plotted_figures(page)["fig-summary"][0]
    drawn = {(row, backend) for trace in traces for row in trace["y"] for backend in trace["x"]}
    assert {("cnn · tiny", "cpu-eager"), ("rnn · tiny", "cpu-eager"),
            ("transformer · tiny", "cpu-compile")} <= drawn
    (alone,) = [trace for trace in traces
                if trace.get("name") == "infer, scenario not recorded, batch size 16"]
    assert (alone["y"], alone["x"]) == (["cnn · small"], ["cpu-eager"])
