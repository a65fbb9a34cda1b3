"""The figures of the report's profile sections: where the time goes, and the roofline.

Like `figures`, every function takes a table (`profile_tables`) and returns a plotly Figure,
escaping the run text it shows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from harness.profiling.categories import CATEGORIES, OTHER
from harness.profiling.roofline import attainable, ridge
from harness.report.markup import esc, escape_text_columns
from harness.report.plotting import (
    RUN_DASHES,
    SYMBOLS,
    add_shape_legend,
    backend_color,
    finish,
    fmt_num,
    fmt_si,
    no_data,
)
from harness.report.profile_tables import UNATTRIBUTED
from harness.results.runs import backend_rank

_NO_HOVER_NAME = "<extra></extra>"
#: Categories in the table's order, then "other", then the time no op owns (grey).
_CATEGORY_ORDER = [category for category, _ in CATEGORIES] + [OTHER, UNATTRIBUTED]
_CATEGORY_COLORS = dict(zip(_CATEGORY_ORDER, [*qualitative.Plotly, *qualitative.Set2],
                            strict=False)) | {UNATTRIBUTED: "#c7c7c7"}
_PANEL_PX = 300


def _case_label(row: pd.Series, multi_run: bool) -> str:
    """The bar's label within its panel: backend, and what else differs between cases."""
    label = f"{row['backend']}<br>{row['phase']} · {row['scenario']} · bs{row['batch_size']}"
    return f"{row['run_id']}<br>{label}" if multi_run else label


def category_figure(categories: pd.DataFrame) -> go.Figure:
    """Per suite and size, a stacked bar per case: ms per step by op category."""
    title = "Where the time goes (ms per profiled step, by op category)"
    if categories.empty:
        return no_data(title, "no profiled case")
    table = escape_text_columns(categories)
    multi_run = table["run_id"].nunique() > 1
    table["label"] = table.apply(lambda row: _case_label(row, multi_run), axis=1)
    panels = list(dict.fromkeys(zip(table["suite"], table["size"], strict=True)))
    fig = make_subplots(rows=len(panels), cols=1, vertical_spacing=0.12 / max(1, len(panels)),
                        subplot_titles=[f"{suite} · {size}" for suite, size in panels])
    shown: set[str] = set()
    for index, (suite, size) in enumerate(panels, start=1):
        panel = table[(table["suite"] == suite) & (table["size"] == size)]
        order = (panel.drop_duplicates("case_id")
                 .sort_values("backend", key=lambda s: s.map(backend_rank))["label"].tolist())
        for category in [c for c in _CATEGORY_ORDER if c in set(panel["category"])]:
            bars = panel[panel["category"] == category].set_index("label").reindex(order)
            hover = [f"<b>{esc(category)}</b><br>{label}<br>{fmt_num(ms, '.3g', ' ms')} per "
                     f"step ({fmt_num(100 * share, '.1f', '%')})"
                     for label, ms, share in zip(order, bars["ms_per_step"], bars["share"],
                                                 strict=True)]
            fig.add_trace(go.Bar(x=order, y=bars["ms_per_step"], name=category,
                                 legendgroup=category, showlegend=category not in shown,
                                 marker_color=_CATEGORY_COLORS.get(category, "#888"),
                                 customdata=hover, hovertemplate="%{customdata}" + _NO_HOVER_NAME),
                          row=index, col=1)
            shown.add(category)
        fig.update_yaxes(title_text="ms per step", row=index, col=1)
    fig.update_layout(barmode="stack")
    return finish(fig, title, _PANEL_PX * len(panels))


def roofline_figure(points: pd.DataFrame, ceilings: pd.DataFrame) -> go.Figure:
    """Achieved FLOP/s against arithmetic intensity, log-log, under the measured roofs."""
    title = "Roofline: achieved FLOP/s against arithmetic intensity"
    if points.empty or ceilings.empty:
        return no_data(title, "no profiled case with FLOPs and measured ceilings")
    table = escape_text_columns(points)
    multi_run = table["run_id"].nunique() > 1
    low = float(table["arithmetic_intensity"].min()) / 4
    high = max(float(table["arithmetic_intensity"].max()) * 4,
               float(ridge(ceilings["peak_flops"], ceilings["bandwidth_bytes_s"]).max()) * 4)
    grid = np.logspace(np.log10(low), np.log10(high), 200)
    fig = go.Figure()
    runs = list(dict.fromkeys(ceilings["run_id"]))
    for roof in ceilings.itertuples():
        name = (f"{roof.run_id}: " if multi_run else "") + f"roof {roof.device} {roof.precision}"
        hover = (f"<b>{esc(name)}</b><br>peak {fmt_si(roof.peak_flops, 'FLOP/s')} "
                 f"(matmul {roof.matmul_n}³)<br>bandwidth {fmt_si(roof.bandwidth_bytes_s, 'B/s')}"
                 f" (copy {roof.copy_mib} MiB)<br>{roof.threads} threads, {esc(roof.timer)}")
        fig.add_trace(go.Scatter(
            x=grid, y=[attainable(x, roof.peak_flops, roof.bandwidth_bytes_s) for x in grid],
            mode="lines", name=esc(name), hovertemplate=hover + _NO_HOVER_NAME,
            line={"color": "#555", "width": 1.5,
                  "dash": RUN_DASHES[runs.index(roof.run_id) % len(RUN_DASHES)]}))
    suites = list(dict.fromkeys(table["suite"]))
    for backend in sorted(table["backend"].unique(), key=backend_rank):
        mine = table[table["backend"] == backend]
        hover = [f"<b>{r.case_id}</b><br>achieved {fmt_si(r.achieved_flops, 'FLOP/s')}, "
                 f"{fmt_num(r.pct_of_peak, '.2g', '%')} of the {r.precision} peak<br>"
                 f"intensity {fmt_num(r.arithmetic_intensity, '.3g')} FLOP/byte<br>"
                 f"{fmt_si(r.step_flops, 'FLOP')} per step" for r in mine.itertuples()]
        fig.add_trace(go.Scatter(
            x=mine["arithmetic_intensity"], y=mine["achieved_flops"], mode="markers",
            name=esc(backend), customdata=hover, hovertemplate="%{customdata}" + _NO_HOVER_NAME,
            marker={"color": backend_color(backend), "size": 10,
                    "symbol": [SYMBOLS[suites.index(s) % len(SYMBOLS)] for s in mine["suite"]]}))
    add_shape_legend(fig, suites)
    fig.update_xaxes(type="log", title_text="arithmetic intensity (FLOP per byte, log scale)")
    fig.update_yaxes(type="log", title_text="achieved FLOP/s (log scale)")
    return finish(fig, title, 460)
