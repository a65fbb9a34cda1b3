"""The figure of the report's serving section: p99 latency against the offered load.

Like `figures`, it takes a table (`serving_tables.load_curve_table`) and returns a plotly
Figure, escaping the run text it shows.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from harness.report.markup import escape_text_columns
from harness.report.plotting import backend_color, finish, fmt_num, no_data

_NO_HOVER_NAME = "<extra></extra>"


def load_curve_figure(curves: pd.DataFrame) -> go.Figure:
    """LoadGen's p99 against the arrival rate, one line per process of each server case (its
    search's points in rate order), the target as a dashed line and the case's peak (the
    centre over processes) as a star on it.

    Both axes are logarithmic: rates span decades across models, and p99 climbs by one as
    the load nears what the server can serve.
    """
    title = "Serving under load: p99 latency against arrival rate (LoadGen, Poisson arrivals)"
    if curves.empty:
        return no_data(title, "no finished server case (archbench run --scenario server)")
    table = escape_text_columns(curves)
    multi_run = table["run_id"].nunique() > 1
    fig = go.Figure()
    for (run_id, case_id), case in table.groupby(["run_id", "case_id"], sort=False):
        first = case.iloc[0]
        name = (f"{first['suite']} · {first['size']} · {first['backend']} · "
                f"bs{first['batch_size']}" + (f" · {run_id}" if multi_run else ""))
        color = backend_color(str(first["backend"]))
        for index, (process, points) in enumerate(case.groupby("process", sort=True)):
            hover = [f"<b>{name}</b> (process {int(process) + 1})<br>{fmt_num(r.rate_qps)} "
                     f"queries/s: p50 {fmt_num(r.p50_ms)} ms, p99 {fmt_num(r.p99_ms)} ms, "
                     f"completed {fmt_num(r.achieved_qps)}/s, "
                     f"{'met' if r.met else 'missed'} the target"
                     for r in points.itertuples()]
            fig.add_trace(go.Scatter(
                x=points["rate_qps"], y=points["p99_ms"], mode="lines+markers", name=name,
                legendgroup=case_id, showlegend=index == 0, line={"color": color, "width": 1},
                marker={"symbol": ["circle" if met else "x" for met in points["met"]]},
                customdata=hover, hovertemplate="%{customdata}" + _NO_HOVER_NAME))
        rates = [case["rate_qps"].min(), case["rate_qps"].max()]
        fig.add_trace(go.Scatter(
            x=rates, y=[first["slo_ms"]] * 2, mode="lines", legendgroup=case_id,
            showlegend=False, line={"color": color, "dash": "dash"},
            hovertemplate=f"p99 target of {name}: {fmt_num(first['slo_ms'])} ms"
            + _NO_HOVER_NAME))
        if not pd.isna(first["peak_qps"]):
            fig.add_trace(go.Scatter(
                x=[first["peak_qps"]], y=[first["slo_ms"]], mode="markers", legendgroup=case_id,
                showlegend=False, marker={"symbol": "star", "size": 16, "color": color},
                hovertemplate=f"peak of {name}: {fmt_num(first['peak_qps'])} queries/s "
                f"[{fmt_num(first['peak_ci_low_qps'])}, {fmt_num(first['peak_ci_high_qps'])}]"
                + _NO_HOVER_NAME))
    fig.update_xaxes(type="log", title_text="arrival rate, queries/s (log scale)")
    fig.update_yaxes(type="log", title_text="p99 latency, ms (log scale)")
    return finish(fig, title, 460)
