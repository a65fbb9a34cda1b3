"""The report page: what it contains, that it is self-contained, and that run text is escaped."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
from page_reading import FIGURE_SECTIONS, plotted_figures, strings_in
from plotly.offline import get_plotlyjs

from harness.report import figures, tables, write_report
from harness.results.runs import load_runs
from tests.fake_runs import BACKENDS, SUITES, XSS, case_id

ESCAPED_XSS = "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;"


def test_report_is_one_self_contained_page_with_csvs(fake_run, tmp_path):
    page_path = write_report([fake_run("run-a", seed=1)], tmp_path / "out")
    assert page_path == tmp_path / "out" / "index.html"
    page = page_path.read_text()
    # plotly.js inlined exactly once, nothing fetched from anywhere
    assert page.count("plotly.js v") == 1
    ours = page.replace(get_plotlyjs(), "")
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=|@import|url\(|https?:", ours)
    # every section, and a rendered figure call for each section that has one
    for section in [*FIGURE_SECTIONS, "environment"]:
        assert f'<section id="{section}">' in page
    assert sorted(plotted_figures(page)) == sorted(f"fig-{s}" for s in FIGURE_SECTIONS)
    assert '<section id="comparison">' not in page
    for data, layout in plotted_figures(page).values():
        assert layout["title"]["text"] and data
    # the CSVs beside the page are the tables it shows
    summary = pd.read_csv(tmp_path / "out" / "summary.csv")
    assert len(summary) == 36 and summary["best"].sum() == 12
    for name in ("latency", "speedup", "memory", "accuracy", "cold_start", "tradeoff",
                 "failures", "environment"):
        assert len(pd.read_csv(tmp_path / "out" / f"{name}.csv")) > 0
        assert f'href="{name}.csv"' in page
    assert pd.read_csv(tmp_path / "out" / "failures.csv")["reason"].str.contains(
        "<script>", regex=False).any()  # CSV keeps the raw text; only the page escapes


def test_error_text_with_markup_is_escaped_in_the_page_and_in_figure_json(fake_run, tmp_path):
    suite_file = "suites/<svg onload=alert(3)>.py"
    run = fake_run("<u>run</u>", seed=1, config={"suite_files": [suite_file]})
    page = write_report([run], tmp_path / "out").read_text()
    assert XSS not in page
    assert "<u>run</u>" not in page
    assert "<svg onload" not in page and "&lt;svg onload=alert(3)&gt;" in page
    assert ESCAPED_XSS in page  # the failures table, readable as text
    assert "&lt;u&gt;run&lt;/u&gt;" in page  # title, environment table header
    figure_strings = [s for data, layout in plotted_figures(page).values()
                      for s in strings_in(data) + strings_in(layout)]
    hover = [s for s in figure_strings if "compile failed" in s]
    assert hover and all("&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x" in s for s in hover)
    assert not any("<script" in s or "<img" in s or "<u>" in s for s in figure_strings)


def test_every_figure_escapes_every_string_from_the_run(fake_run):
    runs = load_runs([fake_run("run-a", seed=1)])
    results = runs.results.copy()
    for column in ("suite", "size", "backend", "phase", "run_id", "reason"):
        results[column] = "<i>" + results[column].astype(str) + "</i>"
    baseline = "<i>cpu-eager</i>"
    samples = runs.samples.assign(run_id="<i>run-a</i>")
    summary = tables.summary_table(results)
    drawn = [
        figures.summary_figure(summary), figures.throughput_figure(summary),
        figures.latency_figure(tables.latency_table(results, samples)),
        figures.speedup_figure(tables.speedup_table(results, baseline), baseline),
        figures.memory_figure(tables.memory_table(results)),
        figures.accuracy_figure(tables.accuracy_table(results)),
        figures.cold_start_figure(tables.cold_start_table(results)),
        figures.tradeoff_figure(tables.tradeoff_table(results, baseline), baseline),
        figures.failures_figure(tables.failures_table(results)),
    ]
    for fig in drawn:
        strings = strings_in(json.loads(fig.to_json()))
        assert any("&lt;i&gt;" in s for s in strings), fig.layout.title.text
        assert not any("<i>" in s for s in strings), fig.layout.title.text


def test_two_runs_are_told_apart_and_compared(fake_run, tmp_path):
    slow = case_id("cnn", "small", "cpu-eager", "infer")
    base = fake_run("run-a", seed=1)
    new = fake_run("run-b", seed=2, slowdown={slow: 1.5},
                   drop={case_id("rnn", "tiny", "cpu-eager", "infer")})
    out = tmp_path / "run-a-vs-run-b"
    page = write_report([base, new], out).read_text()
    assert '<section id="comparison">' in page
    assert "1 slower, 0 faster" in page
    shown = plotted_figures(page)
    assert "fig-comparison" in shown
    summary_rows = shown["fig-summary"][0][0]["y"]
    assert summary_rows[0].startswith("run-a · ") and any(
        row.startswith("run-b · ") for trace in shown["fig-summary"][0] for row in trace["y"])
    legend = {trace.get("name") for trace in shown["fig-throughput"][0]}
    assert {"run-a · cpu-eager", "run-b · cpu-eager"} <= legend
    comparison = pd.read_csv(out / "comparison.csv")
    assert comparison["verdict"].eq("slower").sum() == 1
    assert pd.read_csv(out / "only_in_base.csv")["case_id"].tolist() == [
        case_id("rnn", "tiny", "cpu-eager", "infer")]
    # the dropped case had finished in run-a: the page says the gate fails on it
    assert pd.read_csv(out / "newly_broken.csv")["status"].tolist() == ["missing"]
    assert "1 newly broken: a regression and newly broken cases (exit 1)" in page


def test_every_figure_offers_each_scenario_apart(fake_run, tmp_path):
    """Two scenarios of one case are two entries of every figure's selector, named by their
    scenario, and the summary draws each case once per scenario."""
    out = tmp_path / "out"
    page = write_report([fake_run("run-s", scenarios=("latency", "throughput"))], out).read_text()
    shown = plotted_figures(page)
    expected = [f"{phase}, {scenario}, batch size 16" for phase in ("infer", "train")
                for scenario in ("throughput", "latency")]
    for name in ("fig-summary", "fig-latency", "fig-speedup"):
        buttons = shown[name][1]["updatemenus"][0]["buttons"]
        assert [button["label"] for button in buttons] == expected, name
    summary = pd.read_csv(out / "summary.csv")
    assert summary.groupby("scenario").size().to_dict() == {"latency": 36, "throughput": 36}
    assert "The dropdown switches phase, scenario and batch size." in page


def test_three_runs_have_no_comparison_section(fake_run, tmp_path):
    runs = [fake_run(name, seed=i) for i, name in enumerate(("a", "b", "c"))]
    page = write_report(runs, tmp_path / "out").read_text()
    assert '<section id="comparison">' not in page
    assert not (tmp_path / "out" / "comparison.csv").exists()
    assert "archbench report: a vs b vs c" in page


def test_a_baseline_missing_from_the_runs_falls_back_visibly(fake_run, tmp_path):
    out = tmp_path / "out"
    page = write_report([fake_run("run-a")], out, baseline="cuda-eager").read_text()
    assert "baseline backend 'cuda-eager' is not in these runs" in page
    assert "Speedup over cpu-eager" in page
    speedup = pd.read_csv(out / "speedup.csv")
    assert speedup.loc[speedup["backend"] == "cpu-eager", "speedup"].eq(1.0).all()


def test_an_explicit_baseline_is_used(fake_run, tmp_path):
    out = tmp_path / "out"
    write_report([fake_run("run-a")], out, baseline="ort-cpu-int8")
    speedup = pd.read_csv(out / "speedup.csv")
    eager = speedup[(speedup["backend"] == "cpu-eager") & (speedup["phase"] == "infer")]
    np.testing.assert_allclose(eager["speedup"], 0.4, rtol=0.05)  # int8 takes 0.4× the time
    assert not (out / "index.html").read_text().count("is not in these runs")


def test_report_output_folder_is_created(fake_run, tmp_path):
    out = tmp_path / "reports" / "nested" / "run-a"
    assert write_report([Path(fake_run("run-a"))], out).is_file()


def test_a_run_where_nothing_finished_still_reports_why(fake_run, tmp_path):
    everything = {case_id(suite, size, backend, phase):
                  ("error", "ImportError: no module named torch")
                  for suite, sizes in SUITES.items() for size in sizes for backend in BACKENDS
                  for phase in ("infer", "train")}
    out = tmp_path / "out"
    page = write_report([fake_run("broken", failures=everything)], out).read_text()
    assert len(pd.read_csv(out / "failures.csv")) == len(everything)
    assert "ImportError: no module named torch" in page
    assert "no raw iteration samples in the run" in page  # latency figure says why it is empty
    assert "no finished case" in page
    assert sorted(plotted_figures(page)) == sorted(f"fig-{s}" for s in FIGURE_SECTIONS)
