"""The figure of the report's cost section: the time of a step against what it costs, per
backend and kind of machine, with the Pareto front marked. It takes `cost_tables.cost_table`."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from harness.report.cost_tables import COSTS
from harness.report.markup import escape_text_columns
from harness.report.plotting import SYMBOLS, backend_color, finish, fmt_num, no_data

_LABELS = {"usd_per_million_samples": "dollars per million samples",
           "energy_j_per_sample": "joules per sample"}
_NO_HOVER_NAME = "<extra></extra>"


def cost_figure(table: pd.DataFrame) -> go.Figure:
    """Median step time against each cost the run has (dollars, joules), one panel per cost;
    colour is the backend, marker shape the model. A ring marks a case on its Pareto front:
    among cases of the same model, phase, scenario and batch size, none is both cheaper and
    faster. Both axes are logarithmic: costs and times span decades across backends."""
    title = "What a step costs: time against dollars and energy per sample"
    costs = [cost for cost in COSTS if not table.empty and table[cost].notna().any()]
    if not costs:
        return no_data(title, "no case with a price or an energy reading (archbench run "
                              "--price USD_PER_HOUR; energy where the hardware counts it)")
    table = escape_text_columns(table)
    models = list(dict.fromkeys(f"{r.suite} · {r.size}" for r in table.itertuples()))
    fig = make_subplots(rows=1, cols=len(costs), horizontal_spacing=0.08,
                        subplot_titles=[_LABELS[cost] for cost in costs])
    for column, cost in enumerate(costs, start=1):
        for backend, cases in table[table[cost].notna()].groupby("backend", sort=True):
            model = [f"{r.suite} · {r.size}" for r in cases.itertuples()]
            hover = [_hover(r, cost) for r in cases.itertuples()]
            fig.add_trace(go.Scatter(
                x=cases[cost], y=cases["median_ms"], mode="markers", name=str(backend),
                legendgroup=str(backend), showlegend=column == 1,
                marker={"color": backend_color(str(backend)), "size": 10,
                        "symbol": [SYMBOLS[models.index(m) % len(SYMBOLS)] for m in model],
                        "line": {"width": [3 if f else 0 for f in cases[f"front_{cost}"]],
                                 "color": "#222"}},
                customdata=hover, hovertemplate="%{customdata}" + _NO_HOVER_NAME),
                row=1, col=column)
        fig.update_xaxes(type="log", title_text=_LABELS[cost], row=1, col=column)
        fig.update_yaxes(type="log", title_text="median step, ms" if column == 1 else None,
                         row=1, col=column)
    return finish(fig, title, 420, clearance=24)


def _hover(case: tuple, cost: str) -> str:
    """One case's hover text: what it is, its cost and time, and whether it is on the front."""
    where = f", {case.hardware}" if isinstance(case.hardware, str) and case.hardware else ""
    front = "<br>on the Pareto front" if getattr(case, f"front_{cost}") else ""
    return (f"<b>{case.suite} · {case.size} · {case.backend}</b> ({case.phase}, {case.scenario},"
            f" bs{case.batch_size}{where})<br>{fmt_num(getattr(case, cost))} {_LABELS[cost]}, "
            f"median step {fmt_num(case.median_ms)} ms{front}")
