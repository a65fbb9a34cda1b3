"""The history page: what it shows, that it is self-contained, that commit text is escaped, and
that its filters have what they need."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
from page_reading import strings_in
from plotly.offline import get_plotlyjs

from harness.report.history_figures import CommitAxis, short_subject, step_label
from harness.report.history_page import render_history_page, write_history_report
from tests.fake_runs import XSS

MACHINE_A, MACHINE_B = "aaaa1111bbbb", "cccc2222dddd"
MACHINES = {MACHINE_A: "AMD EPYC 7B13, 2 CPUs, 24 GiB, torch 2.13.0",
            MACHINE_B: "Intel Xeon <Gold>, 4 CPUs, 16 GiB, torch 2.13.0"}
#: (suite, size, backend, phase, scenario, batch size, base ms)
CASES = [("cnn", "small", "cpu-eager", "infer", "throughput", 32, 10.0),
         ("cnn", "small", "ort-cpu", "infer", "throughput", 32, 6.0),
         ("transformer", "tiny", "cpu-eager", "train", "latency", 8, 40.0)]
COMMITS = 8
XSS_COMMIT = 5  # the commit whose subject is markup, and where cnn/cpu-eager on A got slower
POINT_COLUMNS = ["fingerprint_id", "case", "suite", "size", "backend", "phase", "scenario",
                 "batch_size", "order", "commit", "commit_short", "subject", "commit_time",
                 "branch", "dirty", "runs", "processes", "center", "ci_low", "ci_high", "unit"]
STEP_COLUMNS = ["fingerprint_id", "case", "order", "commit", "commit_short",
                "before_commit_short", "before", "after", "unit", "ratio", "direction", "worse"]


def sha(order: int) -> str:
    return f"{order + 1:x}{'0123456789abcdef' * 3}"[:40].ljust(40, "e")


def name(suite: str, size: str, backend: str, phase: str, scenario: str, batch: int) -> str:
    return f"{suite} · {size} · {backend} · {phase} · {scenario} · bs {batch}"


SLOW_CASE = name(*CASES[0][:6])
TRAIN_CASE = name(*CASES[2][:6])


def history_input() -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """Two machine kinds, three cases, eight commits: A has every case at every commit, B has
    two cases from commit 4 on; cnn/cpu-eager on A is 31% slower from commit 5 (whose subject
    is an XSS payload), the transformer on B 20% faster from commit 6 (steps given faster
    first); one point on A was measured by one process (no interval)."""
    rows = []
    for machine, first in ((MACHINE_A, 0), (MACHINE_B, 4)):
        for suite, size, backend, phase, scenario, batch, base in CASES:
            if machine == MACHINE_B and backend == "ort-cpu":
                continue
            case = name(suite, size, backend, phase, scenario, batch)
            for order in range(first, COMMITS):
                centre = base * (1 + 0.01 * (order % 3))
                if machine == MACHINE_A and case == SLOW_CASE and order >= XSS_COMMIT:
                    centre *= 1.31
                if machine == MACHINE_B and case == TRAIN_CASE and order >= 6:
                    centre *= 0.8
                one = machine == MACHINE_A and case == TRAIN_CASE and order == 2
                rows.append({
                    "fingerprint_id": machine, "case": case, "suite": suite, "size": size,
                    "backend": backend, "phase": phase, "scenario": scenario,
                    "batch_size": batch, "order": order, "commit": sha(order),
                    "commit_short": sha(order)[:10],
                    "subject": XSS if order == XSS_COMMIT else f"commit {order}: tune things",
                    "commit_time": f"2025-03-{order + 1:02d}T10:00:00+00:00", "branch": "main",
                    "dirty": False, "runs": 2, "processes": 1 if one else 6,
                    "center": centre, "ci_low": np.nan if one else centre * 0.97,
                    "ci_high": np.nan if one else centre * 1.03, "unit": "ms"})
    points = pd.DataFrame(rows, columns=POINT_COLUMNS).astype({"batch_size": "Int64"})
    steps = pd.DataFrame([
        {"fingerprint_id": MACHINE_B, "case": TRAIN_CASE, "order": 6, "commit": sha(6),
         "commit_short": sha(6)[:10], "before_commit_short": sha(5)[:10], "before": 40.4,
         "after": 32.3, "unit": "ms", "ratio": 0.8, "direction": "faster", "worse": False},
        {"fingerprint_id": MACHINE_A, "case": SLOW_CASE, "order": XSS_COMMIT,
         "commit": sha(XSS_COMMIT), "commit_short": sha(XSS_COMMIT)[:10],
         "before_commit_short": sha(XSS_COMMIT - 1)[:10], "before": 10.1,
         "after": 13.2, "unit": "ms", "ratio": 1.31, "direction": "slower", "worse": True},
    ], columns=STEP_COLUMNS)
    return points, steps, dict(MACHINES)


def plotted_figures(page: str) -> dict[str, tuple[list, dict]]:
    """Every timeline's figure (the JSON the page's script draws when it scrolls into view)."""
    specs = re.findall(r'<script type="application/json" id="(fig-\d+)-spec">(.*?)</script>',
                       page, re.S)
    return {div: (json.loads(spec)["data"], json.loads(spec)["layout"]) for div, spec in specs}


def written_page(tmp_path: Path) -> str:
    return write_history_report(*history_input(), tmp_path / "history").read_text()


def figure_of(page: str, case: str, machine: str) -> tuple[list, dict]:
    """The figure of one timeline block, found through the block's data attributes."""
    blocks = re.findall(r'<div class="timeline" data-machine="(\w+)"[^>]*>'
                        r'<p class="case-name">([^<]*)</p>.*?<div id="(fig-\d+)"', page, re.S)
    ids = [div for found, text, div in blocks if found == machine and text == case]
    assert len(ids) == 1, (case, machine)
    return plotted_figures(page)[ids[0]]


def test_page_is_one_self_contained_file_with_a_figure_per_timeline(tmp_path):
    path = write_history_report(*history_input(), tmp_path / "history")
    assert path == tmp_path / "history" / "index.html"
    page = path.read_text()
    assert page.count("plotly.js v") == 1
    ours = page.replace(get_plotlyjs(), "")
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=|@import|url\(|https?:", ours)
    # 3 cases on A + 2 on B, one figure each, each drawn
    assert sorted(plotted_figures(page)) == [f"fig-{index}" for index in range(5)]
    assert ours.count('<div class="timeline" ') == 5
    assert all(f'<div id="fig-{index}" class="plotly-graph-div"' in ours for index in range(5))
    assert ours.count("Plotly.newPlot(") == 1  # drawn by the page's one script, lazily
    assert ours.count('<div class="machine" ') == 2
    assert '<section id="steps">' in page and '<section id="timelines">' in page
    # the timelines come after the steps, inside the last section
    assert page.index('id="steps"') < page.index('id="timelines"') < page.index('id="fig-0"')
    assert page.index('id="fig-4"') < page.rindex("</section>") < page.index("</main>")


def test_header_says_how_much_history_and_how_to_read_it(tmp_path):
    page = written_page(tmp_path)
    # runs: 2 per machine and commit (8 commits on A, 4 on B); commits are shared
    assert "24 runs over 8 commits: 3 cases on 2 machine kinds, 32 points." in page
    assert f"Commits {sha(0)[:10]} (2025-03-01) .. {sha(7)[:10]} (2025-03-08)." in page
    assert "2 steps detected, 1 of them slower." in page
    assert f"Machine {MACHINE_A}: AMD EPYC 7B13, 2 CPUs, 24 GiB, torch 2.13.0" in page
    assert "Intel Xeon &lt;Gold&gt;" in page and "<Gold>" not in page
    assert "commits in git order, evenly spaced" in page
    assert "95% interval between processes" in page


def test_commit_subject_with_markup_is_text_in_the_page_and_in_hover(tmp_path):
    page = written_page(tmp_path)
    assert XSS not in page and "<script>alert" not in page
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;"
    assert escaped in page  # in the steps table: the subject of the step's commit
    data, layout = figure_of(page, SLOW_CASE, MACHINE_A)
    hovers = data[-1]["customdata"]
    assert escaped in hovers[XSS_COMMIT] and sha(XSS_COMMIT)[:10] in hovers[XSS_COMMIT]
    strings = [s for data, layout in plotted_figures(page).values()
               for s in strings_in(data) + strings_in(layout)]
    assert not any("<script" in s or "<img" in s for s in strings)


def test_timeline_draws_centre_band_commit_ticks_and_the_step(tmp_path):
    page = written_page(tmp_path)
    data, layout = figure_of(page, SLOW_CASE, MACHINE_A)
    band, centre = data
    assert band["fill"] == "toself" and band["hoverinfo"] == "skip"
    assert centre["x"] == list(range(COMMITS))  # evenly spaced, in git order
    assert math.isclose(centre["y"][XSS_COMMIT], 10.0 * 1.31 * 1.02)
    assert max(v for v in band["y"] if v is not None) > max(centre["y"])
    assert layout["xaxis"]["ticktext"] == [sha(order)[:10] for order in range(COMMITS)]
    hover = centre["customdata"][0]
    assert "branch main" in hover and "2 runs, 6 processes" in hover
    assert "commit 0: tune things" in hover and "95% interval 9.7–10.3 ms" in hover
    # the step: a red dashed line between commits 4 and 5, labelled with size and range
    [line] = layout["shapes"]
    assert line["x0"] == line["x1"] == XSS_COMMIT - 0.5
    assert line["line"]["color"] == "#d62728" and line["line"]["dash"] == "dash"
    [label] = layout["annotations"]
    assert label["text"] == f"+31% ({sha(4)[:10]}..{sha(5)[:10]})"


def test_machines_have_their_own_commit_axis_and_faster_steps_are_green(tmp_path):
    page = written_page(tmp_path)
    data, layout = figure_of(page, TRAIN_CASE, MACHINE_B)
    assert data[-1]["x"] == [0, 1, 2, 3]  # B ran from commit 4 on
    assert layout["xaxis"]["ticktext"] == [sha(order)[:10] for order in range(4, COMMITS)]
    [line] = layout["shapes"]
    assert line["x0"] == 1.5 and line["line"]["color"] == "#2ca02c"
    assert layout["annotations"][0]["text"].startswith("-20% (")
    assert "shapes" not in figure_of(page, name(*CASES[1][:6]), MACHINE_A)[1]


def test_a_point_without_interval_breaks_the_band(tmp_path):
    page = written_page(tmp_path)
    data, _ = figure_of(page, TRAIN_CASE, MACHINE_A)
    band, centre = data
    assert band["x"].count(None) == 1  # two parts: commits 0-1 and 3-7
    assert 2 not in band["x"]
    assert "interval n/a (one process)" in centre["customdata"][2]


def test_filters_list_every_value_and_every_block_carries_them(tmp_path):
    page = written_page(tmp_path)
    for filter_name, values in (("machine", [MACHINE_A, MACHINE_B]),
                                ("backend", ["cpu-eager", "ort-cpu"]),
                                ("suite", ["cnn", "transformer"])):
        select = re.search(f'<select id="filter-{filter_name}">(.*?)</select>', page).group(1)
        assert re.findall(r'<option value="([^"]*)"', select) == ["", *values]
    blocks = re.findall(r'<div class="timeline" data-machine="(\w+)" data-backend="([\w-]+)" '
                        r'data-suite="(\w+)">', page)
    assert sorted(blocks) == sorted([
        (MACHINE_A, "cpu-eager", "cnn"), (MACHINE_A, "ort-cpu", "cnn"),
        (MACHINE_A, "cpu-eager", "transformer"), (MACHINE_B, "cpu-eager", "cnn"),
        (MACHINE_B, "cpu-eager", "transformer")])
    assert "document.getElementById('filter-' + name)" in page
    assert 'const names = ["machine", "backend", "suite"];' in page


def test_run_text_in_filter_attributes_is_escaped_with_quotes(tmp_path):
    points, steps, machines = history_input()
    points["backend"] = points["backend"].replace("ort-cpu", 'ort"<i>x</i>')
    page = render_history_page(points, steps, machines)
    assert '<i>' not in page.replace(get_plotlyjs(), "")
    assert 'data-backend="ort&quot;&lt;i&gt;x&lt;/i&gt;"' in page
    assert '<option value="ort&quot;&lt;i&gt;x&lt;/i&gt;">ort"&lt;i&gt;x&lt;/i&gt;</option>' in page


def test_steps_table_lists_slower_first_and_highlights_them(tmp_path):
    page = written_page(tmp_path)
    assert "2 steps detected, 1 of them slower." in page
    table = re.search(r"<caption>detected steps, worse first</caption>(.*?)</table>",
                      page, re.S).group(1)
    rows = re.findall(r"<tr( class=\"highlight\")?>(.*?)</tr>", table, re.S)
    header, slower, faster = rows
    assert re.findall(r"<th>([^<]*)</th>", header[1]) == [
        "machine", "case", "commits", "before ms (fastest)", "after ms (fastest)", "change",
        "subject", "direction"]
    assert slower[0] and not faster[0]
    assert f"<td>{MACHINE_A[:8]}</td>" in slower[1]
    assert f"{sha(4)[:10]}..{sha(5)[:10]}" in slower[1] and "<td>+31%</td>" in slower[1]
    assert '<td class="num">10.1</td><td class="num">13.2</td>' in slower[1]
    assert "&lt;script&gt;alert(1)" in slower[1]
    assert "<td>-20%</td>" in faster[1] and "commit 6: tune things" in faster[1]


def test_without_steps_the_page_says_so(tmp_path):
    points, steps, machines = history_input()
    page = render_history_page(points, steps.iloc[0:0], machines)
    assert "No step beyond the threshold in any timeline." in page
    assert "0 steps detected, 0 of them worse." in page
    assert "<caption>detected steps" not in page
    assert all("shapes" not in layout for _, layout in plotted_figures(page).values())


def test_empty_history_is_a_page_that_says_so(tmp_path):
    points = pd.DataFrame(columns=POINT_COLUMNS)
    steps = pd.DataFrame(columns=STEP_COLUMNS)
    page = write_history_report(points, steps, {}, tmp_path / "empty").read_text()
    assert "There is no history yet." in page and "archbench history add" in page
    assert not plotted_figures(page) and 'class="filters"' not in page


def test_commit_axis_marks_uncommitted_runs_and_thins_its_ticks():
    many = pd.DataFrame({"order": range(90), "commit_short": [f"c{i:09d}" for i in range(90)],
                         "dirty": [i == 89 for i in range(90)]})
    axis = CommitAxis.of(many.sample(frac=1, random_state=0))  # order, not row order, counts
    assert axis.orders == tuple(range(90)) and axis.labels[-1] == "c000000089*"
    ticks = axis.ticks()
    assert ticks["tickvals"] == list(range(0, 90, 3)) and len(ticks["ticktext"]) == 30
    assert axis.x([89, 0]) == [89, 0]


def test_step_label_and_subject_cut():
    step = pd.Series({"ratio": 1.31, "before_commit_short": "a1b2c3d", "commit_short": "e4f5a6b"})
    assert step_label(step) == "+31% (a1b2c3d..e4f5a6b)"
    cut = short_subject("x" * 200)
    assert len(cut) == 80 and cut.endswith("…")
    assert short_subject(None) == "" and short_subject("a\nb") == "a b"
