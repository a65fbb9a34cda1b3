"""One function per report figure: a table from `tables` in, a plotly Figure out.

Every figure escapes the run text it shows (plotly.js renders names, tick labels and hover text
as HTML), labels its axes with units, and, where a run holds several phases, scenarios or batch
sizes, shows one at a time behind the shared dropdown (`plotting.finish`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from harness.report.markup import esc, escape_text_columns, wrap_markup
from harness.report.plotting import (
    RUN_DASHES,
    STATUS_COLORS,
    SYMBOLS,
    add_shape_legend,
    backend_color,
    finish,
    fmt_num,
    fmt_si,
    no_data,
    rows_height,
)
from harness.results.runs import (
    Group,
    backend_rank,
    group_label,
    groups,
    in_group,
    row_labels,
)

_NO_HOVER_NAME = "<extra></extra>"
_TOP_AXIS_PX = 50  # heatmaps put backend names and the axis title above the plot
_SUBPLOT_TITLE_PX = 26


def _prepare(table: pd.DataFrame) -> tuple[pd.DataFrame, bool, list[Group]]:
    """Escaped copy of `table`, whether it spans several runs, and its (phase, scenario,
    batch) groups.

    The groups come from the escaped copy: they select its rows and label the dropdown.
    """
    escaped = escape_text_columns(table)
    return escaped, table["run_id"].nunique() > 1, groups(escaped)


def _labels(found: list[Group]) -> list[str]:
    return [group_label(group) for group in found]


def _rows_per_group(table: pd.DataFrame, found: list[Group]) -> list[list[str]]:
    """Each group's row labels in table order: model, then backend."""
    return [list(dict.fromkeys(in_group(table, group)["label"])) for group in found]


def _backends(frame: pd.DataFrame) -> list[str]:
    return sorted(frame["backend"].unique(), key=backend_rank)


def _grid(rows: list[str], columns: list[str], fill: object = np.nan) -> np.ndarray:
    """A rows × columns array for a heatmap's values (NaN: no cell) or texts ("": none)."""
    dtype = object if isinstance(fill, str) else float
    return np.full((len(rows), len(columns)), fill, dtype=dtype)


def _cell_grids(rows: list[str], columns: list[str]) -> tuple[np.ndarray, ...]:
    """Values (NaN: no cell), texts and hovers ("": none) of one rows × columns heatmap."""
    return _grid(rows, columns), _grid(rows, columns, ""), _grid(rows, columns, "")


def _true(value: object) -> bool:
    """A nullable boolean cell as a plain bool: missing counts as False."""
    return not pd.isna(value) and bool(value)


def _legend_name(run_id: str, backend: str, multi_run: bool) -> str:
    return f"{run_id} · {backend}" if multi_run else backend


def _precision_line(case: pd.Series) -> str:
    """'known to ±4.6% (target ±5%: met)', or why it fell short; '' without an interval."""
    reached = case["ci_rel_half_width"]
    if pd.isna(reached):
        return ""
    line = f"<br>known to ±{fmt_num(100 * reached, '.1f')}%"
    if pd.isna(case["ci_target"]):
        return line
    verdict = "met" if _true(case["ci_met"]) else (
        f"not met: {case['ci_note']}" if not pd.isna(case["ci_note"]) and case["ci_note"]
        else "not met")
    return f"{line} (target ±{fmt_num(100 * case['ci_target'], '.0f')}%: {wrap_markup(verdict)})"


def summary_figure(summary: pd.DataFrame) -> go.Figure:
    """Suite × size rows against backend columns, coloured by share of the row's best throughput.

    Colour is relative to the row's best, not absolute, because a tiny RNN and a large
    transformer differ by orders of magnitude and one absolute scale would flatten every row
    but the fastest. Cells that did not finish are grey and carry their status and reason.
    """
    title = "Throughput of every case (★ best in row, ~ noisy)"
    if summary.empty:
        return no_data(title, "the run holds no cases")
    table, multi_run, found = _prepare(summary)
    table["row"] = row_labels(table, multi_run)
    fig, trace_groups, most_rows = go.Figure(), [], 0
    for index, group in enumerate(found):
        sub = in_group(table, group)
        rows, backends = list(dict.fromkeys(sub["row"])), _backends(sub)
        most_rows = max(most_rows, len(rows))
        share, text, hover = _cell_grids(rows, backends)
        failed, failed_text, failed_hover = _cell_grids(rows, backends)
        finished = sub["status"] == "ok"
        row_best = sub[finished].groupby("row")["throughput_sps"].max()
        for position, case in sub.iterrows():
            i, j = rows.index(case["row"]), backends.index(case["backend"])
            head = f"<b>{case['row']} · {case['backend']}</b><br>"
            if case["status"] != "ok":
                reason = wrap_markup(summary.at[position, "reason"])
                failed[i, j], failed_text[i, j] = 0.0, case["status"]
                failed_hover[i, j] = f"{head}status: {case['status']}<br>{reason}"
                continue
            share[i, j] = case["throughput_sps"] / row_best[case["row"]]
            label = fmt_si(case["throughput_sps"], "/s") + (" ★" if case["best"] else "") + (
                " ~" if _true(case["noisy"]) else "")
            text[i, j] = f"<b>{label}</b>" if case["best"] else label
            hover[i, j] = (
                f"{head}throughput {fmt_num(case['throughput_sps'], ',.1f')} samples/s<br>"
                f"median {fmt_num(case['median_ms'])} ms "
                f"({fmt_num(100 * case['ci_level'], '.0f')}% CI {fmt_num(case['ci_low_ms'])}–"
                f"{fmt_num(case['ci_high_ms'])} ms, {fmt_num(case['processes'], '.0f')} "
                "processes)<br>"
                f"IQR {fmt_num(case['iqr_pct'], '.1f')}% of median, "
                f"processes differ by {fmt_num(100 * case['between_cv'], '.1f')}%, "
                f"n={fmt_num(case['n'], '.0f')}<br>"
                f"{fmt_num(100 * share[i, j], '.0f')}% of the row's best"
                + _precision_line(case)
                + (f"<br>{wrap_markup(case['contention_note'])}"
                   if not pd.isna(case["contention_note"]) and case["contention_note"] else "")
            )
        fig.add_trace(go.Heatmap(
            z=share, x=backends, y=rows, text=text, texttemplate="%{text}", customdata=hover,
            hovertemplate="%{customdata}" + _NO_HOVER_NAME, hoverongaps=False, zmin=0, zmax=1,
            colorscale="Blues", colorbar={"title": {"text": "share of<br>row best"},
                                          "tickformat": ".0%"}, name=group_label(group)))
        fig.add_trace(go.Heatmap(
            z=failed, x=backends, y=rows, text=failed_text, texttemplate="%{text}",
            customdata=failed_hover, hovertemplate="%{customdata}" + _NO_HOVER_NAME,
            hoverongaps=False, colorscale=[[0, "#e0e0e0"], [1, "#e0e0e0"]], showscale=False,
            textfont={"color": "#b00020"}, name="did not finish"))
        trace_groups += [index, index]
    fig.update_yaxes(autorange="reversed", title_text="suite · size")
    fig.update_xaxes(side="top", title_text="backend")
    return finish(fig, title, rows_height(most_rows), trace_groups, _labels(found),
                  clearance=_TOP_AXIS_PX)


def throughput_figure(summary: pd.DataFrame) -> go.Figure:
    """Throughput against parameter count, log-log, one line per backend and suite.

    Lines join the sizes of one suite only: joining a CNN to a transformer of similar size
    would draw a trend that no model follows. Marker shape says which suite a line is.
    """
    title = "Throughput vs model size"
    ok = summary[(summary["status"] == "ok") & summary["params"].notna()]
    if ok.empty:
        return no_data(title, "no finished case with a parameter count")
    table, multi_run, found = _prepare(ok)
    suites = list(dict.fromkeys(table["suite"]))
    runs = list(dict.fromkeys(table["run_id"]))
    fig, trace_groups = go.Figure(), []
    for index, group in enumerate(found):
        sub = in_group(table, group)
        shown: set[str] = set()
        for backend in _backends(sub):
            for run_id in runs:
                name = _legend_name(run_id, backend, multi_run)
                for suite in suites:
                    line = sub[(sub["backend"] == backend) & (sub["run_id"] == run_id)
                               & (sub["suite"] == suite)].sort_values("params")
                    if line.empty:
                        continue
                    hover = [
                        f"<b>{r.suite} · {r.size} · {r.backend}</b><br>"
                        f"{fmt_num(r.throughput_sps, ',.1f')} samples/s<br>"
                        f"params {fmt_num(r.params, ',.0f')}, "
                        f"{fmt_si(r.flops_per_sample, ' FLOPs')}/sample<br>"
                        f"median {fmt_num(r.median_ms)} ms"
                        + (f"<br>run {r.run_id}" if multi_run else "")
                        for r in line.itertuples()
                    ]
                    fig.add_trace(go.Scatter(
                        x=line["params"].astype(float), y=line["throughput_sps"],
                        mode="lines+markers", name=name, legendgroup=name,
                        showlegend=name not in shown, customdata=hover,
                        hovertemplate="%{customdata}" + _NO_HOVER_NAME,
                        line={"color": backend_color(backend),
                              "dash": RUN_DASHES[runs.index(run_id) % len(RUN_DASHES)]},
                        marker={"symbol": SYMBOLS[suites.index(suite) % len(SYMBOLS)],
                                "size": 9}))
                    shown.add(name)
                    trace_groups.append(index)
    trace_groups += add_shape_legend(fig, suites)
    fig.update_xaxes(type="log", title_text="model size (trainable parameters, log scale)")
    fig.update_yaxes(type="log", title_text="throughput (samples/s, log scale)")
    return finish(fig, title, 460, trace_groups, _labels(found))


def _limit_text(case: pd.Series) -> str:
    """What is known above the largest batch that fitted: the first that did not, and why the
    search stopped where it did."""
    text = ("" if pd.isna(case["max_batch_oom"])
            else f" (batch {int(case['max_batch_oom'])} did not)")
    note = case["max_batch_note"]
    return text + (f"<br>{note}" if isinstance(note, str) and note else "")


def batch_sweep_figure(sweeps: pd.DataFrame) -> go.Figure:
    """Throughput and p50 latency against batch size, one line per swept case, the knee and
    the largest batch that fits marked.

    Both axes are logarithmic: batches double, and throughput and latency span decades. The
    knee (a star) is the smallest batch within 10% of the best throughput; the largest batch (a
    cross on the throughput axis at the curve's last value) is where memory ran out, on CUDA.
    """
    title = "Batch sweep: throughput and latency against batch size"
    if sweeps.empty:
        return no_data(title, "no finished batch sweep (archbench run --scenario batch-sweep)")
    table = escape_text_columns(sweeps)
    fig = make_subplots(rows=1, cols=2, subplot_titles=(
        "throughput (samples/s)", "p50 latency of one step (ms)"))
    multi_run = table["run_id"].nunique() > 1
    for (run_id, case_id), curve in table.groupby(["run_id", "case_id"], sort=False):
        first = curve.iloc[0]
        name = (f"{first['suite']} · {first['size']} · {first['backend']} · {first['phase']}"
                + (f" · {run_id}" if multi_run else ""))
        color = backend_color(str(first["backend"]))
        hover = [f"<b>{name}</b><br>batch {int(r.batch)}: {fmt_num(r.throughput_sps, ',.0f')} "
                 f"samples/s, step {fmt_num(r.step_ms)} ms, p50 {fmt_num(r.p50_ms)} ms "
                 f"({int(r.processes)} processes)" for r in curve.itertuples()]
        for column, y in ((1, curve["throughput_sps"]), (2, curve["p50_ms"])):
            fig.add_trace(go.Scatter(
                x=curve["batch"], y=y, mode="lines+markers", name=name, legendgroup=case_id,
                showlegend=column == 1, line={"color": color}, customdata=hover,
                hovertemplate="%{customdata}" + _NO_HOVER_NAME), row=1, col=column)
        knee = curve[curve["batch"] == first["knee_batch"]]
        fig.add_trace(go.Scatter(
            x=knee["batch"], y=knee["throughput_sps"], mode="markers", legendgroup=case_id,
            showlegend=False, marker={"symbol": "star", "size": 16, "color": color},
            hovertemplate=f"knee of {name}: batch %{{x}}" + _NO_HOVER_NAME), row=1, col=1)
        if not pd.isna(first["max_batch"]):
            fig.add_trace(go.Scatter(
                x=[first["max_batch"]], y=[curve["throughput_sps"].iloc[-1]], mode="markers",
                legendgroup=case_id, showlegend=False,
                marker={"symbol": "x", "size": 14, "color": color},
                hovertemplate=f"largest batch that fits, {name}: %{{x}}{_limit_text(first)}"
                + _NO_HOVER_NAME), row=1, col=1)
    fig.update_xaxes(type="log", title_text="batch size (log scale)")
    fig.update_yaxes(type="log")
    return finish(fig, title, 460, clearance=_SUBPLOT_TITLE_PX)


def latency_figure(latency: pd.DataFrame) -> go.Figure:
    """Distribution of the timed iterations of every finished case, one box each, with n."""
    title = "Latency distribution per iteration (box: quartiles, whiskers: 1.5 IQR)"
    if latency.empty:
        return no_data(title, "no raw iteration samples in the run")
    table, multi_run, found = _prepare(latency)
    table["label"] = row_labels(table, multi_run, with_backend=True) + " (n=" + table[
        "n"].astype(str) + ")"
    fig, trace_groups, most_rows = go.Figure(), [], 0
    for index, group in enumerate(found):
        sub = in_group(table, group)
        most_rows = max(most_rows, len(sub))
        for backend in _backends(sub):
            cases = sub[sub["backend"] == backend]
            fig.add_trace(go.Box(
                y=cases["label"], q1=cases["q1_ms"], median=cases["median_ms"],
                q3=cases["q3_ms"], lowerfence=cases["lower_whisker_ms"],
                upperfence=cases["upper_whisker_ms"], orientation="h", name=backend,
                legendgroup=backend, marker_color=backend_color(backend), hoverinfo="x+y"))
            trace_groups.append(index)
    fig.update_xaxes(type="log", title_text="time per iteration (ms, log scale)")
    fig.update_yaxes(title_text="case (n = timed iterations)")
    fig.update_layout(boxmode="overlay")
    return finish(fig, title, rows_height(most_rows), trace_groups, _labels(found),
                  row_order=(["yaxis"], _rows_per_group(table, found)))


def speedup_figure(speedup: pd.DataFrame, baseline: str) -> go.Figure:
    """Speedup over the baseline backend per case, on a colour scale symmetric in log2.

    The scale is symmetric in log2 so that 2× faster and 2× slower are equally strong colours;
    a linear scale would make every slowdown look small.
    """
    title = f"Speedup over {esc(baseline)} (baseline median time / backend median time)"
    known = speedup[speedup["speedup"].notna()]
    if known.empty:
        return no_data(title, f"no row where {esc(baseline)} finished; choose another baseline")
    table, multi_run, found = _prepare(speedup)
    table["row"] = row_labels(table, multi_run)
    limit = max(1.0, float(np.abs(np.log2(known["speedup"])).max()))
    ticks = list(range(-math.ceil(limit), math.ceil(limit) + 1))
    fig, trace_groups, most_rows = go.Figure(), [], 0
    for index, group in enumerate(found):
        sub = in_group(table, group)
        rows, backends = list(dict.fromkeys(sub["row"])), _backends(sub)
        most_rows = max(most_rows, len(rows))
        z, text, hover = _cell_grids(rows, backends)
        for case in sub.itertuples():
            if pd.isna(case.speedup):
                continue  # the baseline did not finish on this row: nothing to divide by
            i, j = rows.index(case.row), backends.index(case.backend)
            head = f"<b>{case.row} · {case.backend}</b><br>"
            z[i, j] = math.log2(case.speedup)
            text[i, j] = f"{case.speedup:.2f}×" + (" ~" if _true(case.noisy) else "")
            hover[i, j] = (f"{head}{case.speedup:.2f}× the speed of {esc(baseline)}<br>"
                           f"median {fmt_num(case.median_ms)} ms vs "
                           f"{fmt_num(case.baseline_median_ms)} ms")
        fig.add_trace(go.Heatmap(
            z=z, x=backends, y=rows, text=text, texttemplate="%{text}", customdata=hover,
            hovertemplate="%{customdata}" + _NO_HOVER_NAME, hoverongaps=False,
            colorscale="RdBu", zmid=0, zmin=-limit, zmax=limit, name=group_label(group),
            colorbar={"title": {"text": "speedup"}, "tickvals": ticks,
                      "ticktext": [f"{2.0 ** t:g}×" for t in ticks]}))
        trace_groups.append(index)
    fig.update_yaxes(autorange="reversed", title_text="suite · size")
    fig.update_xaxes(side="top", title_text="backend")
    return finish(fig, title, rows_height(most_rows), trace_groups, _labels(found),
                  clearance=_TOP_AXIS_PX)


def memory_figure(memory: pd.DataFrame) -> go.Figure:
    """Peak host memory (resident set) and peak device memory per case, grouped by backend."""
    title = "Peak memory per case"
    if memory[["peak_rss_mb", "device_mb"]].isna().all(axis=None):  # also when empty
        return no_data(title, "no finished case recorded its memory")
    table, multi_run, found = _prepare(memory)
    table["row"] = row_labels(table, multi_run)
    has_device = table["device_mb"].notna().any()
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.1,
                        subplot_titles=("host: peak resident memory of the case's process",
                                        "device: GPU memory of the case"))
    trace_groups = []
    for index, group in enumerate(found):
        sub = in_group(table, group)
        for backend in _backends(sub):
            cases = sub[sub["backend"] == backend]
            hover = [f"<b>{c.row} · {c.backend}</b><br>peak RSS {fmt_num(c.peak_rss_mb, '.1f')} MB"
                     f" (+{fmt_num(c.rss_increase_mb, '.1f')} MB over the process baseline)<br>"
                     f"device {fmt_num(c.device_mb, '.1f')} MB (torch allocated "
                     f"{fmt_num(c.cuda_peak_allocated_mb, '.1f')} MB, reserved "
                     f"{fmt_num(c.cuda_peak_reserved_mb, '.1f')} MB)" for c in cases.itertuples()]
            for row, column in ((1, "peak_rss_mb"), (2, "device_mb")):
                fig.add_trace(go.Bar(
                    x=cases["row"], y=cases[column], name=backend, legendgroup=backend,
                    showlegend=row == 1, offsetgroup=backend, customdata=hover,
                    hovertemplate="%{customdata}" + _NO_HOVER_NAME,
                    marker_color=backend_color(backend)), row=row, col=1)
                trace_groups.append(index)
    if not has_device:
        fig.add_annotation(text="no device memory recorded (no CUDA backend ran)", x=0.5,
                           y=0.2, xref="paper", yref="paper", showarrow=False,
                           font={"color": "#555"})
        fig.update_yaxes(range=[0, 1], showticklabels=False, row=2, col=1)
    fig.update_yaxes(title_text="MB", row=1, col=1)
    fig.update_yaxes(title_text="MB", row=2, col=1)
    fig.update_xaxes(title_text="suite · size", row=2, col=1)
    fig.update_layout(barmode="group")
    return finish(fig, title, 560, trace_groups, _labels(found), clearance=_SUBPLOT_TITLE_PX)


def accuracy_figure(accuracy: pd.DataFrame) -> go.Figure:
    """Task accuracy (bars) beside parity error against the fp64 reference (markers, log)."""
    title = "Accuracy and numerical parity"
    if accuracy[["accuracy", "parity_rel_err"]].isna().all(axis=None):  # also when empty
        return no_data(title, "no finished case recorded its accuracy or parity")
    table, multi_run, found = _prepare(accuracy)
    table["label"] = row_labels(table, multi_run, with_backend=True)
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.04,
                        subplot_titles=("task accuracy (held-out)",
                                        "parity: relative error vs fp64 reference"))
    trace_groups, most_rows = [], 0
    verdicts = {"passes parity": ("#2ca02c", "circle", True),
                "fails parity": ("#d62728", "x", False)}
    for index, group in enumerate(found):
        sub = in_group(table, group)
        most_rows = max(most_rows, len(sub))
        for backend in _backends(sub):
            cases = sub[sub["backend"] == backend]
            fig.add_trace(go.Bar(
                y=cases["label"], x=100 * cases["accuracy"], orientation="h", name=backend,
                legendgroup=backend, marker_color=backend_color(backend),
                customdata=[f"<b>{c.label}</b><br>accuracy {fmt_num(100 * c.accuracy, '.1f')}%"
                            f"<br>final loss {fmt_num(c.final_loss)} after "
                            f"{fmt_num(c.train_steps, '.0f')} steps"
                            for c in cases.itertuples()],
                hovertemplate="%{customdata}" + _NO_HOVER_NAME), row=1, col=1)
            trace_groups.append(index)
        for name, (color, symbol, passed) in verdicts.items():
            verdict = sub["parity_ok"].astype("boolean")
            cases = sub[(verdict if passed else ~verdict).fillna(False)]
            fig.add_trace(go.Scatter(
                y=cases["label"], x=cases["parity_rel_err"], mode="markers", name=name,
                legendgroup=name, marker={"color": color, "symbol": symbol, "size": 10},
                customdata=[f"<b>{c.label}</b><br>relative error {fmt_num(c.parity_rel_err)}"
                            f" (tolerance {fmt_num(c.parity_tol)})<br>top-1 agreement "
                            f"{fmt_num(100 * c.parity_top1_agree, '.1f')}%"
                            for c in cases.itertuples()],
                hovertemplate="%{customdata}" + _NO_HOVER_NAME), row=1, col=2)
            trace_groups.append(index)
        fig.add_trace(go.Scatter(
            y=sub["label"], x=sub["parity_tol"], mode="markers", name="tolerance",
            legendgroup="tolerance", hoverinfo="skip",
            marker={"symbol": "line-ns-open", "size": 16, "color": "#333", "line_width": 2}),
            row=1, col=2)
        trace_groups.append(index)
    fig.update_xaxes(title_text="accuracy (%)", range=[0, 100], row=1, col=1)
    fig.update_xaxes(title_text="relative error (‖out − ref‖ / ‖ref‖, log scale)", type="log",
                     row=1, col=2)
    fig.update_yaxes(showticklabels=False, row=1, col=2)
    return finish(fig, title, rows_height(most_rows), trace_groups, _labels(found),
                  clearance=_SUBPLOT_TITLE_PX,
                  row_order=(["yaxis", "yaxis2"], _rows_per_group(table, found)))


def cold_start_figure(cold: pd.DataFrame) -> go.Figure:
    """Seconds before the first steady-state iteration, split into what they were spent on."""
    title = "Cold-start cost per case (export + load + compile + first call)"
    if cold.empty or cold["cold_total_s"].isna().all():
        return no_data(title, "no cold-start times recorded")
    table, multi_run, found = _prepare(cold)
    table["label"] = row_labels(table, multi_run, with_backend=True)
    parts = {"export_s": ("export (artifact built)", "#9467bd"),
             "load_s": ("artifact load (session, compiled model, package)", "#ff7f0e"),
             "compile_s": ("torch.compile (compiling call)", "#d62728"),
             "first_call_s": ("first call after preparation", "#1f77b4")}
    fig, trace_groups, most_rows = go.Figure(), [], 0
    for index, group in enumerate(found):
        sub = in_group(table, group)
        most_rows = max(most_rows, len(sub))
        hover = [f"<b>{c.label}</b><br>total {fmt_num(c.cold_total_s, '.3g', ' s')}<br>"
                 f"export {fmt_num(c.export_s, '.3g', ' s')}"
                 + (" (cached)" if _true(c.export_cached) else "")
                 + f", load {fmt_num(c.load_s, '.3g', ' s')}<br>"
                 f"compile {fmt_num(c.compile_s, '.3g', ' s')}, "
                 f"first call after it {fmt_num(c.first_call_s, '.3g', ' s')}<br>"
                 f"first warm iteration {fmt_num(c.first_iter_ms, '.3g', ' ms')}"
                 for c in sub.itertuples()]
        for column, (name, color) in parts.items():
            fig.add_trace(go.Bar(
                y=sub["label"], x=sub[column].fillna(0.0), orientation="h", name=name,
                legendgroup=name, marker_color=color, customdata=hover,
                hovertemplate="%{customdata}" + _NO_HOVER_NAME))
            trace_groups.append(index)
    fig.update_xaxes(title_text="seconds before the first steady-state iteration (s)")
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(barmode="stack")
    return finish(fig, title, rows_height(most_rows), trace_groups, _labels(found))


def tradeoff_figure(tradeoff: pd.DataFrame, baseline: str) -> go.Figure:
    """Speedup (x) against accuracy change (y) relative to the baseline, one point per case.

    Up and to the right is better on both; a point far right but below the line is speed
    bought with accuracy (typically fp16 or int8).
    """
    title = f"Accuracy vs throughput, relative to {esc(baseline)}"
    known = tradeoff[tradeoff["speedup"].notna() & tradeoff["accuracy_delta_pp"].notna()]
    if known.empty:
        return no_data(title, f"no case with both a speedup and an accuracy against "
                              f"{esc(baseline)}; choose another baseline")
    table, multi_run, found = _prepare(known)
    table["label"] = row_labels(table, multi_run, with_backend=True)
    suites = list(dict.fromkeys(table["suite"]))
    fig, trace_groups = go.Figure(), []
    for index, group in enumerate(found):
        sub = in_group(table, group)
        for backend in _backends(sub):
            cases = sub[sub["backend"] == backend]
            fig.add_trace(go.Scatter(
                x=cases["speedup"], y=cases["accuracy_delta_pp"], mode="markers", name=backend,
                legendgroup=backend, marker={
                    "color": backend_color(backend), "size": 11, "line": {"width": 1},
                    "symbol": [SYMBOLS[suites.index(s) % len(SYMBOLS)] for s in cases["suite"]]},
                customdata=[f"<b>{c.label}</b><br>{c.speedup:.2f}× the speed of "
                            f"{esc(baseline)}<br>accuracy {fmt_num(100 * c.accuracy, '.1f')}% "
                            f"({c.accuracy_delta_pp:+.1f} pp)<br>parity relative error "
                            f"{fmt_num(c.parity_rel_err)}" for c in cases.itertuples()],
                hovertemplate="%{customdata}" + _NO_HOVER_NAME))
            trace_groups.append(index)
    fig.add_vline(x=1, line={"color": "#888", "dash": "dot"})
    fig.add_hline(y=0, line={"color": "#888", "dash": "dot"})
    fig.update_xaxes(type="log", title_text=f"speedup over {esc(baseline)} (×, log scale)")
    fig.update_yaxes(title_text=f"accuracy change vs {esc(baseline)} (percentage points)")
    return finish(fig, title, 460, trace_groups, _labels(found))


def failures_figure(failures: pd.DataFrame) -> go.Figure:
    """How many cases of each backend did not finish, split by status."""
    title = "Cases that did not finish, per backend"
    if failures.empty:
        return no_data(title, "every case finished")
    table = escape_text_columns(failures)
    counts = table.groupby(["backend", "status"]).size().unstack(fill_value=0)
    backends = sorted(counts.index, key=backend_rank)
    fig = go.Figure([
        go.Bar(x=backends, y=counts.loc[backends, status], name=status,
               marker_color=STATUS_COLORS.get(status, "#555"),
               hovertemplate="%{x}: %{y} " + status + _NO_HOVER_NAME)
        for status in counts.columns
    ])
    fig.update_xaxes(title_text="backend")
    fig.update_yaxes(title_text="cases (count)")
    fig.update_layout(barmode="stack")
    return finish(fig, title, 300)


def comparison_figure(comparison: pd.DataFrame, threshold: float) -> go.Figure:
    """Ratio of median times new/base per case with its confidence interval (a forest plot)."""
    title = "Change in median time per case (new / base)"
    known = comparison[comparison["ratio"].notna()]
    if known.empty:
        return no_data(title, "no case finished in both runs")
    table = escape_text_columns(known)
    table["label"] = (table["suite"] + " · " + table["size"] + " · " + table["backend"] + " · "
                      + table["phase"] + " · " + table["scenario"].fillna("") + " · bs "
                      + table["batch_size"].astype(str))
    colors = {"slower": "#d62728", "faster": "#2ca02c", "same": "#7f7f7f"}
    fig = go.Figure()
    for verdict, color in colors.items():
        cases = table[table["verdict"] == verdict]
        fig.add_trace(go.Scatter(
            x=cases["ratio"], y=cases["label"], mode="markers", name=verdict,
            marker={"color": color, "size": 10},
            error_x={"type": "data", "symmetric": False,
                     "array": (cases["ci_high"] - cases["ratio"]).fillna(0),
                     "arrayminus": (cases["ratio"] - cases["ci_low"]).fillna(0)},
            customdata=[f"<b>{c.label}</b><br>new/base {c.ratio:.3f} (CI {fmt_num(c.ci_low)}–"
                        f"{fmt_num(c.ci_high)})<br>median {fmt_num(c.base_median_ms)} → "
                        f"{fmt_num(c.new_median_ms)} ms<br>{c.method} p = "
                        f"{fmt_num(c.p_value, '.2g')}" for c in cases.itertuples()],
            hovertemplate="%{customdata}" + _NO_HOVER_NAME))
    fig.add_vrect(x0=1 - threshold, x1=1 + threshold, fillcolor="#bbbbbb", opacity=0.25,
                  line_width=0)
    fig.add_vline(x=1, line={"color": "#555"})
    fig.update_xaxes(type="log", title_text="new time / base time (log scale)")
    fig.update_yaxes(autorange="reversed")
    return finish(fig, title, rows_height(len(table)))
