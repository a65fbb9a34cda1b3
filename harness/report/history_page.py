"""The history page: per case a timeline across commits, the detected steps, and filters.

It reads nothing and computes no statistics: `harness.history` hands it the points (one per
machine kind, case and commit), the steps it found and each machine kind in words, and this
module lays them out. The page is built by `page.render_page` like the run report (one file,
plotly.js inlined once, the same styles), the timelines being the last section's markup.

One figure per case rather than one per suite with cases as traces: cases differ by orders of
magnitude in milliseconds and their bands would cover each other, a step belongs to one case,
and the filters show and hide whole case blocks. What keeps many cases usable: each figure is
lean (`history_figures`: no template), and it is drawn only when its block scrolls near the
viewport, from JSON beside its div, so opening a page of 200 cases draws the few on screen, not
200. The file grows with cases x commits (each point carries its hover text: about 0.3 KB).

Run text (case names, backend and suite names, commit subjects) is escaped like everywhere in
the report; here some of it also goes into ``data-`` attributes and ``<option>`` values for the
filters, which are escaped with quotes too (`_attr`), as `markup.esc` is for text only.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from harness.history.trends import worse_first
from harness.report.history_figures import (
    HEIGHT_PX,
    CommitAxis,
    short_subject,
    step_label,
    timeline_figure,
)
from harness.report.markup import esc
from harness.report.page import Section, Table, render_page
from harness.results.runs import backend_rank

#: The filters, as (data attribute, label): each case block carries all three.
FILTERS = (("machine", "machine"), ("backend", "backend"), ("suite", "suite"))

HOW_TO_READ = (
    "x: commits in git order, evenly spaced (not time; a * after a hash: uncommitted changes on "
    "top of it). Line: the centre (geometric mean) of the process medians at that commit. Band: "
    "the 95% interval between processes (none where one process ran). A dashed line marks each "
    "detected step between two commits, labelled with its size and range, e.g. +31% "
    "(a1b2c3d..e4f5a6b): red worse (slower, more energy), green better. Hover a point for its "
    "commit and message.")

_STYLE = """<style>
.filters { display: flex; gap: 18px; align-items: center; flex-wrap: wrap; padding: 8px 0;
           position: sticky; top: 0; z-index: 10; background: #fff; }
.filters select { max-width: 520px; }
.machine h3 { margin: 18px 0 2px; }
.group h4 { margin: 14px 0 4px; color: #333; }
.timeline { border-top: 1px solid #eee; padding-top: 6px; }
.case-name { font-weight: 600; margin: 4px 0 0; }
.slower { color: #d62728; } .faster { color: #2ca02c; }
[hidden] { display: none !important; }
</style>"""

#: Draws each figure when its block comes near the viewport (a page of a few hundred timelines
#: would otherwise spend seconds drawing what nobody scrolled to), and filters: shows the case
#: blocks whose data attributes match every chosen filter ("" = any), hides the groups and
#: machines left with nothing shown, and resizes the drawn figures it shows again.
_SCRIPT = """<script>
(function () {
  const config = {displaylogo: false, responsive: true};
  const draw = new IntersectionObserver(entries => entries.forEach(entry => {
    if (!entry.isIntersecting) return;
    const div = entry.target;
    draw.unobserve(div);
    const spec = JSON.parse(document.getElementById(div.id + '-spec').textContent);
    Plotly.newPlot(div, spec.data, spec.layout, config);
  }), {rootMargin: '800px 0px'});
  document.querySelectorAll('.timeline .plotly-graph-div').forEach(div => draw.observe(div));

  const names = %s;
  const selects = names.map(name => document.getElementById('filter-' + name));
  function apply() {
    let shown = 0;
    const blocks = document.querySelectorAll('.timeline');
    blocks.forEach(block => {
      const match = names.every((name, i) =>
        selects[i].value === '' || block.dataset[name] === selects[i].value);
      const appears = match && block.hidden;
      block.hidden = !match;
      if (match) shown += 1;
      if (appears) {
        block.querySelectorAll('.js-plotly-plot').forEach(div => Plotly.Plots.resize(div));
      }
    });
    document.querySelectorAll('.group, .machine').forEach(box => {
      box.hidden = !box.querySelector('.timeline:not([hidden])');
    });
    document.getElementById('filter-count').textContent =
      'showing ' + shown + ' of ' + blocks.length + ' timelines';
  }
  selects.forEach(select => select.addEventListener('change', apply));
  apply();
})();
</script>"""


def write_history_report(points: pd.DataFrame, steps: pd.DataFrame, machines: Mapping[str, str],
                         out_dir: Path, title: str = "archbench history") -> Path:
    """Write out_dir/index.html and return its path (written whole, then moved into place, so
    that a reader never opens half a page)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    page = out_dir / "index.html"
    tmp = page.with_suffix(".html.tmp")
    tmp.write_text(render_history_page(points, steps, machines, title), encoding="utf-8")
    os.replace(tmp, page)
    return page


def render_history_page(points: pd.DataFrame, steps: pd.DataFrame,
                        machines: Mapping[str, str], title: str = "archbench history") -> str:
    """The whole page as one string; with no points, a page that says there is no history."""
    if points.empty:
        return render_page(title, ["There is no history yet."], [Section(
            "timelines", "No history yet", "Add runs to the history store "
            "(archbench history add RUN..., or archbench run --history DB) and write this "
            "page again: each case then gets a timeline across commits.")])
    steps = worse_first(steps)
    sections = [_steps_section(points, steps),
                Section("timelines", "Timelines", HOW_TO_READ,
                        markup=_timelines(points, steps, machines))]
    return render_page(title, _meta(points, steps, machines), sections)


def _counted(count: int, noun: str) -> str:
    """'1 run', '2 runs'."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _meta(points: pd.DataFrame, steps: pd.DataFrame, machines: Mapping[str, str]) -> list[str]:
    """The header lines: how much history, which commits, how many steps."""
    commits = points.drop_duplicates("order").sort_values("order")
    first, last = commits.iloc[0], commits.iloc[-1]
    worse = steps.loc[steps["worse"].astype(bool), "direction"]
    return [
        f"{_counted(_run_count(points), 'run')} over {_counted(len(commits), 'commit')}: "
        f"{_counted(points['case'].nunique(), 'case')} on "
        f"{_counted(points['fingerprint_id'].nunique(), 'machine kind')}, "
        f"{_counted(len(points), 'point')}.",
        f"Commits {first['commit_short']} ({_day(first['commit_time'])}) .. "
        f"{last['commit_short']} ({_day(last['commit_time'])}).",
        f"{_counted(len(steps), 'step')} detected, {len(worse)} of them "
        f"{worse.iloc[0] if len(worse) else 'worse'}.",
        *(f"Machine {fid}: {machines.get(fid, 'not described')}"
          for fid in sorted(points["fingerprint_id"].unique())),
    ]


def _run_count(points: pd.DataFrame) -> int:
    """Runs in the history: per machine kind and commit, the most runs any case has there.

    Exact when the runs of one commit ran the same cases; the points count runs per case, and
    one run holds many cases, so summing them would count a run once per case.
    """
    return int(points.groupby(["fingerprint_id", "order"])["runs"].max().sum())


def _day(value: object) -> str:
    """The date of an ISO time, or 'time unknown' where git could not say (plain text: the
    header is escaped by `render_page`)."""
    return value[:10] if isinstance(value, str) and value else "time unknown"


def _steps_section(points: pd.DataFrame, steps: pd.DataFrame) -> Section:
    unit = points["unit"].iloc[0]
    how = ("Each row is a lasting change of level in one case's timeline: before and after are "
           f"the levels in {unit} as the step detector sees them, each the geometric mean of "
           "its commits' fastest process (robust to a slow process; a timeline's points are "
           "the centres of every process, so they read higher on a noisy machine), change is "
           "after / before - 1 (+: worse), commits are the last commit before the step and the "
           "first after it. Worse first (slower, more energy), then by size; those rows are "
           "highlighted.")
    if steps.empty:
        return Section("steps", "Detected steps", how,
                       notes=["No step beyond the threshold in any timeline."])
    subjects = points.drop_duplicates(["fingerprint_id", "order"]).set_index(
        ["fingerprint_id", "order"])["subject"]
    frame = pd.DataFrame({
        "machine": steps["fingerprint_id"].astype(str).str[:8],
        "case": steps["case"],
        "commits": steps["before_commit_short"] + ".." + steps["commit_short"],
        f"before {unit} (fastest)": steps["before"].astype(float),
        f"after {unit} (fastest)": steps["after"].astype(float),
        "change": [f"{ratio - 1:+.0%}" for ratio in steps["ratio"].astype(float)],
        "subject": [short_subject(subjects.get((fid, order)))
                    for fid, order in zip(steps["fingerprint_id"], steps["order"], strict=True)],
        "direction": steps["direction"],
        "worse": steps["worse"].astype(bool),
    })
    return Section("steps", "Detected steps", how,
                   tables=[Table(frame, "detected steps, worse first", highlight="worse")])


def _timelines(points: pd.DataFrame, steps: pd.DataFrame, machines: Mapping[str, str]) -> str:
    """The filters, one block per machine kind, group (suite, backend) and case, the script."""
    parts = [_STYLE, _filters(points, machines)]
    figure = 0
    for fid, on_machine in points.groupby("fingerprint_id", sort=True):
        axis = CommitAxis.of(on_machine)
        parts.append(f'<div class="machine" data-machine="{_attr(fid)}">'
                     f"<h3>Machine {esc(fid)}</h3>"
                     f'<p class="meta">{esc(machines.get(str(fid), "not described"))}</p>')
        for (suite, backend), group in _groups(on_machine):
            data = _data_attrs(fid, backend, suite)
            parts.append(f'<div class="group" {data}><h4>{esc(suite)} · {esc(backend)}</h4>')
            for case, series in group.groupby("case", sort=True):
                on_case = steps[(steps["fingerprint_id"] == fid) & (steps["case"] == case)]
                parts.append(_case_block(series, on_case, axis, data, f"fig-{figure}"))
                figure += 1
            parts.append("</div>")
        parts.append("</div>")
    parts.append(_SCRIPT % json.dumps([name for name, _ in FILTERS]))
    return "\n".join(parts)


def _groups(points: pd.DataFrame) -> list[tuple[tuple[str, str], pd.DataFrame]]:
    """A machine's points by (suite, backend): suites alphabetically, backends in the
    registry's order, as in the run report."""
    found = [((str(suite), str(backend)), group)
             for (suite, backend), group in points.groupby(["suite", "backend"], sort=False)]
    return sorted(found, key=lambda item: (item[0][0], backend_rank(item[0][1])))


def _case_block(series: pd.DataFrame, steps: pd.DataFrame, axis: CommitAxis, data: str,
                div_id: str) -> str:
    """One case: its name, its latest value and steps in words, and its timeline."""
    latest = series.sort_values("order").iloc[-1]
    marks = "".join(f' <span class="{_direction(step.worse)}">{esc(step_label(step))}</span>'
                    for step in steps.sort_values("order").itertuples())
    words = (f"{len(series)} commits, latest {latest['center']:.4g} {latest['unit']} at "
             f"{esc(latest['commit_short'])}" + (f"; steps:{marks}" if marks else ""))
    figure = _lazy_figure(timeline_figure(series, steps, axis), div_id)
    return (f'<div class="timeline" {data}><p class="case-name">'
            f"{esc(series['case'].iloc[0])}</p><p class=\"meta\">{words}</p>{figure}</div>")


def _direction(worse: object) -> str:
    """The CSS class of a step's direction (never a value itself inside the attribute)."""
    return "slower" if bool(worse) else "faster"


def _lazy_figure(figure: go.Figure, div_id: str) -> str:
    """An empty figure div and the figure as JSON beside it, for the page's script to draw.

    plotly's JSON spells ``<``, ``>`` and ``/`` as ``\\u003c``-style escapes, so no text in it
    can close the ``<script>`` element that holds it.
    """
    return (f'<div id="{div_id}" class="plotly-graph-div" style="height:{HEIGHT_PX}px"></div>'
            f'<script type="application/json" id="{div_id}-spec">{figure.to_json()}</script>')


def _filters(points: pd.DataFrame, machines: Mapping[str, str]) -> str:
    """One ``<select>`` per filter, each listing every value present ("" = all)."""
    values = {
        "machine": [(fid, f"{fid[:8]} · {machines.get(fid, 'not described')}")
                    for fid in sorted(points["fingerprint_id"].astype(str).unique())],
        "backend": [(name, name) for name in
                    sorted(points["backend"].astype(str).unique(), key=backend_rank)],
        "suite": [(name, name) for name in sorted(points["suite"].astype(str).unique())],
    }
    selects = []
    for name, label in FILTERS:
        options = "".join(f'<option value="{_attr(value)}">{esc(text)}</option>'
                          for value, text in values[name])
        selects.append(f'<label>{label} <select id="filter-{name}"><option value="">all '
                       f"({len(values[name])})</option>{options}</select></label>")
    return (f'<div class="filters">{"".join(selects)}'
            '<span id="filter-count" class="meta"></span></div>')


def _data_attrs(machine: object, backend: str, suite: str) -> str:
    return (f'data-machine="{_attr(machine)}" data-backend="{_attr(backend)}" '
            f'data-suite="{_attr(suite)}"')


def _attr(value: object) -> str:
    """Run text as an attribute value: ``&``, ``<``, ``>`` and both quotes escaped."""
    return html.escape(str(value), quote=True)
