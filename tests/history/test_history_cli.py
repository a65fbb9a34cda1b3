"""`archbench history` and `archbench compare --baseline history:DB` as a user types them: what
they print, their exit codes, and one line for bad input."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pytest

from harness.cli import main
from harness.history.store import SCHEMA_VERSION
from tests.ci.synthetic import write_processes
from tests.history.history_runs import commit, write_history_run

STEP_AT = 6  # the commit position where cpu-eager gets 40% slower
COMMITS = 10


def _noise(seed: int) -> list[float]:
    return list(np.exp(np.random.default_rng(seed).normal(0, 0.03, 3)))


@pytest.fixture
def history(tmp_path: Path) -> Path:
    """Ten main-line commits of two cases; cpu-eager steps up by 40% at commit 6."""
    store = tmp_path / "h.duckdb"
    runs = []
    for position in range(1, COMMITS + 1):
        eager = 10.0 * (1.4 if position >= STEP_AT else 1.0)
        runs.append(str(write_history_run(
            tmp_path / "results", f"r{position:02d}",
            {"cpu-eager": [eager * v for v in _noise(position)],
             "ort-cpu": [4.0 * v for v in _noise(50 + position)]}, commit(position))))
    assert main(["history", "add", *runs, "--history", str(store)]) == 0
    return store


def test_add_says_a_line_per_run_and_adding_again_changes_nothing(
        history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["history", "add", "r01", "--results", str(tmp_path / "results"),
                 "--history", str(history)]) == 0
    assert "r01: already in the history" in capsys.readouterr().out
    (tmp_path / "junk").mkdir()
    assert main(["history", "add", "r02", str(tmp_path / "junk"), "--history", str(history),
                 "--results", str(tmp_path / "results")]) == 0
    out = capsys.readouterr().out
    assert "warning: " in out and "junk" in out and "left out" in out
    assert main(["history", "add", str(tmp_path / "junk"), "--history", str(history)]) == 1


def test_show_lists_each_series_with_its_latest_point_and_last_step(
        history: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["history", "show", "--history", str(history)]) == 0
    out = capsys.readouterr().out
    assert "10 runs, 10 commits, 2 series" in out
    eager = next(line for line in out.splitlines() if "cpu-eager" in line)
    assert f"{commit(STEP_AT - 1)['sha'][:10]}..{commit(STEP_AT)['sha'][:10]}" in eager
    # The planted 40%, give or take the 3% process noise on the levels either side.
    assert abs(int(re.search(r"\+(\d+)% at", eager).group(1)) - 40) <= 5
    ort = next(line for line in out.splitlines() if "ort-cpu" in line)
    assert ort.rstrip().endswith("none")
    assert main(["history", "show", "--history", str(history), "--backend", "ort-cpu",
                 "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [row["case"].split(" · ")[2] for row in shown["series"]] == ["ort-cpu"]


def test_regressions_exit_1_with_the_step_and_0_since_a_later_commit(
        history: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["history", "regressions", "--history", str(history), "--format", "markdown",
                 "--report-url", "https://ci.example/history/index.html"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("### ❌ archbench history: 1 regression(s)")
    assert "(https://ci.example/history/index.html)" in out and "cpu-eager" in out
    assert main(["history", "regressions", "--history", str(history), "--since",
                 commit(STEP_AT)["sha"][:12], "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["regressions"] == []
    assert main(["history", "regressions", "--history", str(history), "--since",
                 commit(STEP_AT - 1)["sha"][:12]]) == 1


def test_bad_input_is_one_line_and_exit_2(history: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["history", "regressions", "--history", str(history), "--since",
                 "notacommit"]) == 2
    assert main(["history", "show", "--history", str(tmp_path / "none.duckdb")]) == 2
    newer = tmp_path / "newer.duckdb"
    shutil.copy(history, newer)
    with duckdb.connect(str(newer)) as connection:
        connection.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                           [str(SCHEMA_VERSION + 1)])
    assert main(["history", "show", "--history", str(newer)]) == 2
    assert main(["compare", "r01", "r02", "--baseline", f"history:{history}",
                 "--results", str(tmp_path / "results")]) == 2
    assert main(["compare", "r01", "--baseline", str(history),
                 "--results", str(tmp_path / "results")]) == 2
    assert main(["compare", "r01", "--results", str(tmp_path / "results")]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line]
    assert len(errors) == 6 and all(line.startswith("archbench: error: ") for line in errors)
    assert "not in the history" in errors[0] and "no history store" in errors[1]
    assert "newer than this archbench" in errors[2] and "history:" in errors[4]


def test_compare_with_the_rolling_baseline_as_json_and_markdown(
        history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    new = write_history_run(tmp_path / "new", "pr", {"cpu-eager": [14.0, 14.3, 13.9],
                                                     "ort-cpu": [5.5, 5.6, 5.4]},
                            commit(COMMITS + 1, branch="feature"))
    capsys.readouterr()
    assert main(["compare", str(new), "--baseline", f"history:{history}", "--format",
                 "json", "--report-url", "https://ci.example/r"]) == 1
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["exit_code"] == 1 and verdict["report"] == "https://ci.example/r"
    assert verdict["base"].startswith("history:") and "5 runs" in verdict["base"]
    by_backend = {case["backend"]: case for case in verdict["cases"]}
    # the last five runs are after the step: cpu-eager unchanged, ort-cpu 37% slower
    assert by_backend["cpu-eager"]["verdict"] == "same"
    assert by_backend["ort-cpu"]["verdict"] == "slower"
    assert by_backend["ort-cpu"]["base_processes"] == 15
    assert verdict["cases"][0]["backend"] == "ort-cpu"  # regressions first
    assert main(["compare", str(new), "--baseline", f"history:{history}", "--format",
                 "markdown", "--report-url", "https://ci.example/r"]) == 1
    markdown = capsys.readouterr().out
    assert markdown.startswith("### ❌ archbench compare") and "[Report](https://ci.example/r)" \
        in markdown and "<summary>1 unchanged</summary>" in markdown


def test_import_a_benchmarks_folder_one_run_per_autosave(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / ".benchmarks" / "Linux-CPython-3.11-64bit"
    processes = write_processes(tmp_path / "raw", seed=1, processes=2)
    for number, process in enumerate(processes, start=1):
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(process.json_path, folder / f"000{number}_0123456789abcdef_20261204.json")
    (folder / "0003_broken.json").write_text("{not json")
    store = tmp_path / "h.duckdb"
    assert main(["history", "import", str(tmp_path / ".benchmarks"), "--history",
                 str(store)]) == 0
    out = capsys.readouterr().out
    assert out.count(": added (36 cases, commit 0123456789") == 2
    assert "warning: " in out and "0003_broken.json" in out
    assert main(["history", "import", str(tmp_path / ".benchmarks"), "--history",
                 str(store)]) == 0
    assert capsys.readouterr().out.count("already in the history") == 2


def test_show_counts_the_runs_it_shows_and_bad_step_options_are_one_line(
        history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # an eleventh run, of cpu-eager only: not a run of the ort-cpu series
    other = write_history_run(tmp_path / "results", "eager-only", {"cpu-eager": [1.0, 1.1]},
                              commit(COMMITS + 1))
    assert main(["history", "add", str(other), "--history", str(history)]) == 0
    capsys.readouterr()
    assert main(["history", "show", "--history", str(history), "--backend", "ort-cpu"]) == 0
    assert "10 runs, 10 commits, 1 series" in capsys.readouterr().out
    assert main(["history", "show", "--history", str(history), "--size", "large"]) == 0
    assert "0 runs, 0 commits, 0 series" in capsys.readouterr().out
    for bad in (["--step-threshold", "-0.1"], ["--step-threshold", "nan"],
                ["--min-persistence", "0"]):
        assert main(["history", "regressions", "--history", str(history), *bad]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line]
    assert len(errors) == 3 and all(line.startswith("archbench: error: --") for line in errors)


def test_a_history_whose_every_run_was_refused_shows_nothing_and_finds_no_regression(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "h.duckdb"
    (tmp_path / "junk").mkdir()
    assert main(["history", "add", str(tmp_path / "junk"), "--history", str(store)]) == 1
    assert store.exists()
    assert main(["history", "show", "--history", str(store)]) == 0
    assert "0 runs, 0 commits, 0 series" in capsys.readouterr().out
    assert main(["history", "regressions", "--history", str(store)]) == 0
    assert main(["report", "--history", str(store), "--out", str(tmp_path / "page")]) == 0
    assert (tmp_path / "page" / "index.html").exists()


def test_import_of_json_that_is_not_a_benchmark_file_is_a_warning_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / ".benchmarks"
    folder.mkdir()
    (folder / "0001_list.json").write_text("[1, 2]")
    (folder / "0002_text.json").write_text('"just a string"')
    (folder / "0003_info.json").write_text('{"commit_info": ["not", "a", "mapping"]}')
    assert main(["history", "import", str(folder), "--history", str(tmp_path / "h.duckdb")]) == 1
    out = capsys.readouterr().out
    assert out.count("warning: ") == 3 and "Traceback" not in out


def test_energy_per_sample_is_trended_as_time_is(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Ten commits of one case whose time holds while its energy per sample rises by 30% at
    commit 6: the time series shows no step, the energy series one, a regression."""
    store = tmp_path / "h.duckdb"
    runs = [str(write_history_run(
        tmp_path / "results", f"r{position:02d}",
        {"cpu-eager": [10.0 * v for v in _noise(position)]}, commit(position),
        energy={"cpu-eager": [0.5 * (1.3 if position >= STEP_AT else 1.0) * v
                              for v in _noise(80 + position)]}))
        for position in range(1, COMMITS + 1)]
    assert main(["history", "add", *runs, "--history", str(store)]) == 0
    capsys.readouterr()
    assert main(["history", "regressions", "--history", str(store)]) == 0
    assert "no regression (exit 0) in 1 series (time)" in capsys.readouterr().out
    assert main(["history", "regressions", "--history", str(store), "--metric", "energy",
                 "--format", "json"]) == 1
    found = json.loads(capsys.readouterr().out)
    (step,) = found["regressions"]
    assert step["direction"] == "more energy" and step["unit"] == "J/sample"
    assert step["commit"] == commit(STEP_AT)["sha"] and abs(step["ratio"] - 1.3) < 0.06
    no_counter = write_history_run(tmp_path / "results", "r11", {"cpu-eager": [10.0, 10.1]},
                                   commit(COMMITS + 1))  # a run on a machine without one
    assert main(["history", "add", str(no_counter), "--history", str(store)]) == 0
    capsys.readouterr()
    assert main(["history", "show", "--history", str(store), "--metric", "energy"]) == 0
    shown = capsys.readouterr().out
    assert "(energy, J/sample): 10 runs" in shown and "latest J/sample" in shown
    page = tmp_path / "page"
    assert main(["report", "--history", str(store), "--metric", "energy", "--out",
                 str(page)]) == 0
    html = (page / "index.html").read_text()
    assert "1 step detected, 1 of them more energy." in html
    assert "before J/sample (fastest)" in html and "latest 0.6" in html
    # the figure's axis, in plotly's JSON (which spells "/" as an escape)
    assert "J\\u002fsample (centre, 95% interval)" in html
