"""The history page's figure: one case's timeline on one machine kind, across commits.

The x axis is the commit's place in git's history, not the time it ran: a slow day on the machine
must not look like a change in the code, and commits made minutes apart deserve as much room as
commits made weeks apart. Every timeline of one machine shares one `CommitAxis`, so that a commit
that moved several cases sits at the same x in each of them.

The page holds one of these per case, so each figure is kept lean: no plotly template (a template
is copied into every figure, ~6 KB each, which over a hundred cases would outweigh the data), and
the hover text is built once per point here, escaped, because commit subjects are user text.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from harness.report.markup import esc
from harness.report.plotting import backend_color, fmt_num

SLOWER_COLOR = "#d62728"
FASTER_COLOR = "#2ca02c"
#: Beyond this many commits only every k-th one gets a tick label; hover still names each.
MAX_TICKS = 30
SUBJECT_CHARS = 80
HEIGHT_PX = 300
_GRID = "#e8ecf2"
_NO_HOVER_NAME = "<extra></extra>"
_BAND_HALF_WIDTH = 0.25  # an interval with no neighbour is drawn as a box this wide each side


@dataclass(frozen=True)
class CommitAxis:
    """Evenly spaced commits: each commit order's x position and the tick labels.

    `orders` are the commit orders in git order; position i on the axis is ``orders[i]``.
    """

    orders: tuple[int, ...]
    labels: tuple[str, ...]

    @classmethod
    def of(cls, points: pd.DataFrame) -> CommitAxis:
        """The commits of `points` in order, labelled by short hash (a trailing ``*``: a run of
        uncommitted changes on top of that commit)."""
        commits = points.drop_duplicates("order").sort_values("order")
        labels = [f"{short}*" if _true(dirty) else str(short)
                  for short, dirty in zip(commits["commit_short"], commits["dirty"], strict=True)]
        return cls(tuple(int(order) for order in commits["order"]), tuple(labels))

    def x(self, orders: Sequence[int] | pd.Series) -> list[int]:
        position = {order: index for index, order in enumerate(self.orders)}
        return [position[int(order)] for order in orders]

    def ticks(self) -> dict[str, object]:
        """Tick settings: every commit up to `MAX_TICKS`, then every k-th."""
        every = max(1, math.ceil(len(self.orders) / MAX_TICKS))
        shown = range(0, len(self.orders), every)
        return {"tickvals": list(shown), "ticktext": [esc(self.labels[i]) for i in shown],
                "range": [-0.5, max(len(self.orders) - 0.5, 0.5)]}


def timeline_figure(series: pd.DataFrame, steps: pd.DataFrame, axis: CommitAxis) -> go.Figure:
    """One case on one machine: centre per commit (line and markers), the between-process 95%
    interval as a band, and a dashed vertical line with its size at each detected step.

    `series` holds the points of one case on one machine (page input columns), `steps` that
    series' steps. A point whose interval is unknown (one process) has no band, so the band is
    never narrower than what was measured.
    """
    series = series.sort_values("order")
    x = axis.x(series["order"])
    color = backend_color(str(series["backend"].iloc[0]))
    fig = go.Figure()
    band_x, band_y = _band(x, series["ci_low"].tolist(), series["ci_high"].tolist())
    if band_x:
        fig.add_trace(go.Scatter(
            x=band_x, y=band_y, mode="lines", fill="toself", fillcolor=_translucent(color),
            line={"width": 0}, hoverinfo="skip", showlegend=False, name="95% interval"))
    fig.add_trace(go.Scatter(
        x=x, y=series["center"].astype(float).tolist(), mode="lines+markers",
        line={"color": color, "width": 1.5}, marker={"color": color, "size": 7},
        customdata=[_hover(point) for point in series.itertuples()],
        hovertemplate="%{customdata}" + _NO_HOVER_NAME, showlegend=False, name="centre"))
    for index, step in enumerate(steps.sort_values("order").itertuples()):
        _mark_step(fig, axis.x([step.order])[0] - 0.5, step, index)
    fig.update_layout(
        template="none", height=HEIGHT_PX, margin={"t": 34, "l": 10, "r": 10, "b": 50},
        showlegend=False, hovermode="closest", hoverlabel={"align": "left"}, plot_bgcolor="white",
        paper_bgcolor="white", font={"size": 12})
    fig.update_xaxes(title_text="commit (git order)", showgrid=False, zeroline=False,
                     linecolor="#999", **axis.ticks())
    fig.update_yaxes(title_text=f"{series['unit'].iloc[0]} (centre, 95% interval)",
                     gridcolor=_GRID, zeroline=False, automargin=True)
    return fig


def step_label(step: Any) -> str:
    """A step in words: its size and commit range, e.g. ``+31% (a1b2c3d..e4f5a6b)``."""
    return f"{float(step.ratio) - 1:+.0%} ({step.before_commit_short}..{step.commit_short})"


def short_subject(subject: object) -> str:
    """A commit subject cut to `SUBJECT_CHARS` (cut before escaping, so no entity is split)."""
    text = "" if subject is None or pd.isna(subject) else str(subject).replace("\n", " ")
    return text if len(text) <= SUBJECT_CHARS else text[:SUBJECT_CHARS - 1] + "…"


def _hover(p: Any) -> str:
    """What hovering a point shows: the commit, its subject, branch, counts, the numbers."""
    interval = ("interval n/a (one process)" if pd.isna(p.ci_low)
                else f"95% interval {fmt_num(p.ci_low, '.4g')}–"
                     f"{fmt_num(p.ci_high, '.4g')} {p.unit}")
    dirty = " + uncommitted changes" if _true(p.dirty) else ""
    when = esc(str(p.commit_time)[:16].replace("T", " "))  # ISO to the minute
    return (f"<b>{esc(p.commit_short)}</b>{dirty} {esc(short_subject(p.subject))}<br>"
            f"branch {esc(p.branch) or 'n/a'} · {when}<br>"
            f"{p.runs} runs, {p.processes} processes<br>"
            f"centre {fmt_num(p.center, '.4g')} {p.unit}, {interval}")


def _band(x: list[int], low: list[float], high: list[float]) -> tuple[list, list]:
    """The interval band as one trace: a closed outline per run of consecutive points with a
    known interval, separated by gaps (plotly fills each gap-separated part of a ``toself``
    trace on its own); a lone point's interval becomes a narrow box."""
    band_x: list = []
    band_y: list = []
    run: list[int] = []
    for index in [*range(len(x)), None]:
        if index is not None and not (pd.isna(low[index]) or pd.isna(high[index])):
            run.append(index)
            continue
        if run:
            xs = [x[i] for i in run]
            tops, bottoms = [high[i] for i in run], [low[i] for i in run]
            if len(run) == 1:
                xs = [xs[0] - _BAND_HALF_WIDTH, xs[0] + _BAND_HALF_WIDTH]
                tops, bottoms = tops * 2, bottoms * 2
            if band_x:
                band_x.append(None)
                band_y.append(None)
            band_x += xs + xs[::-1]
            band_y += tops + bottoms[::-1]
            run = []
    return band_x, band_y


def _mark_step(fig: go.Figure, x: float, step: Any, index: int) -> None:
    """A dashed line between the last commit before the step and the first after it, labelled
    with the size; labels of neighbouring steps alternate height so they do not overlap."""
    color = SLOWER_COLOR if _true(step.worse) else FASTER_COLOR
    fig.add_shape(type="line", x0=x, x1=x, y0=0, y1=1, yref="paper",
                  line={"color": color, "width": 2, "dash": "dash"})
    fig.add_annotation(
        x=x, y=1.0 if index % 2 == 0 else 0.9, yref="paper", yanchor="bottom",
        text=esc(step_label(step)), showarrow=False, font={"color": color, "size": 12},
        bgcolor="rgba(255,255,255,0.85)",
        hovertext=esc(f"{step.before:.4g} → {step.after:.4g} {step.unit} (fastest process), "
                      f"{step.direction}"))


def _translucent(color: str, alpha: float = 0.2) -> str:
    """A ``#rrggbb`` colour as rgba with `alpha`; any other spelling gets a neutral grey."""
    if len(color) == 7 and color.startswith("#"):
        red, green, blue = (int(color[i:i + 2], 16) for i in (1, 3, 5))
        return f"rgba({red},{green},{blue},{alpha})"
    return f"rgba(120,120,120,{alpha})"


def _true(value: object) -> bool:
    return value is not None and not pd.isna(value) and bool(value)
