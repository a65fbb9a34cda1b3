"""Drawing conventions every report figure shares: colours, the group selector, layout.

A reader compares figures with each other, so a backend keeps its colour in every figure, every
figure switches phase, scenario and batch size the same way, and an empty figure says why it is
empty instead of showing blank axes.
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.colors import qualitative

from harness.backends import COLORS

#: For backends without a colour of their own: none is a registered backend's colour, so an
#: unknown backend is never mistaken for a known one (plotly spells hex digits in upper case).
_SPARE_COLORS = [color for color in (*qualitative.D3, *qualitative.Dark2)
                 if color.lower() not in {known.lower() for known in COLORS.values()}]

STATUS_COLORS = {"error": "#d62728", "crashed": "#7f0000", "timeout": "#ff7f0e",
                 "oom": "#9467bd", "skipped": "#9e9e9e"}
#: Line dashes and marker symbols that tell runs apart where colour already means backend.
RUN_DASHES = ("solid", "dash", "dot", "dashdot", "longdash")
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "cross", "x", "star", "hexagon")

TEMPLATE = "plotly_white"
ROW_PX = 24  # height of one category row in heatmaps and horizontal bar/box charts
TITLE_PX = 56  # top margin the figure title needs
MENU_PX = 44  # extra top margin for the phase/scenario/batch dropdown


def backend_color(backend: str) -> str:
    """The backend's colour from the registry (`harness.backends.COLORS`); any other backend
    (one without a colour, an imported run's test name) gets a spare colour keyed by its name,
    so that it keeps that colour in every figure and every report."""
    if backend in COLORS:
        return COLORS[backend]
    return _SPARE_COLORS[sum(map(ord, backend)) % len(_SPARE_COLORS)]


def rows_height(rows: int, minimum: int = 260) -> int:
    """Plot height for a chart with one category row per case."""
    return max(minimum, 110 + ROW_PX * rows)


def finish(fig: go.Figure, title: str, height: int, trace_groups: Sequence[int | None] = (),
           labels: Sequence[str] = (), clearance: int = 0,
           row_order: tuple[Sequence[str], Sequence[Sequence[str]]] | None = None) -> go.Figure:
    """Title, template and margins; with several (phase, scenario, batch) groups, the
    dropdown.

    `height` is the plot's own height; the top margin is added to it so that a dropdown never
    squeezes the plot. `clearance` is what the figure draws above its plot area (top tick
    labels, subplot titles), which the dropdown must sit above, in pixels.

    `trace_groups` gives, for each trace in order, the index of the group it belongs to, or None
    for traces shown in every group (shape legends). Only the first group starts visible.

    `row_order` is (axis names, category list per group) for charts with one category row per
    case drawn by one trace per backend: plotly would otherwise order the rows by first
    appearance across traces, i.e. by backend. The dropdown switches the rows with the group,
    because one list for all groups would leave empty rows for cases missing from a group. The
    range is set with them (first row on top) so that side-by-side axes stay row-aligned;
    plotly.js does not re-derive categories of `matches`-linked axes on relayout, so such
    panels must be independent axes that share this order instead.
    """
    if trace_groups and len(trace_groups) != len(fig.data):
        raise ValueError("one group index per trace is needed")
    for trace, group in zip(fig.data, trace_groups, strict=False):
        trace.visible = group is None or group == 0
    axes, orders = row_order or ((), ())
    for axis in axes:
        fig.layout[axis].update(categoryorder="array", **_rows(orders[0]))
    menu = len(labels) > 1
    top = TITLE_PX + clearance + (MENU_PX if menu else 0)
    fig.update_layout(
        title={"text": title, "x": 0, "xanchor": "left", "yref": "container", "y": 1,
               "yanchor": "top", "pad": {"t": 14}},
        template=TEMPLATE, height=height + top, margin={"t": top, "l": 10, "r": 10, "b": 60},
        legend={"groupclick": "togglegroup"}, hoverlabel={"align": "left"})
    if menu:
        buttons = [{"label": label, "method": "update", "args": [
            {"visible": [g is None or g == index for g in trace_groups]},
            {f"{axis}.{key}": value for axis in axes
             for key, value in _rows(orders[index] if orders else []).items()}]}
            for index, label in enumerate(labels)]
        fig.update_layout(updatemenus=[{
            "buttons": buttons, "active": 0, "direction": "down", "x": 0, "xanchor": "left",
            "y": 1, "yanchor": "bottom", "pad": {"b": clearance + 8}, "showactive": True}])
    return fig


def _rows(categories: Sequence[str]) -> dict[str, object]:
    return {"categoryarray": list(categories), "range": [len(categories) - 0.5, -0.5],
            "autorange": False}


def add_shape_legend(fig: go.Figure, suites: Sequence[str]) -> list[None]:
    """Legend entries for the marker shapes (one per suite, in `SYMBOLS` order); returns their
    trace groups for `finish` (None: shown in every group)."""
    for position, suite in enumerate(suites):
        fig.add_trace(go.Scatter(
            x=[None], y=[None], mode="markers", name=f"suite {suite}", legendgroup="suites",
            legendgrouptitle={"text": "marker shape"} if position == 0 else None,
            marker={"symbol": SYMBOLS[position % len(SYMBOLS)], "color": "#555", "size": 9}))
    return [None] * len(suites)


def no_data(title: str, message: str) -> go.Figure:
    """A figure that says in its plot area why it has nothing to draw."""
    fig = finish(go.Figure(), title, 200)
    fig.add_annotation(text=message, x=0.5, y=0.5, xref="paper", yref="paper",
                       showarrow=False, font={"size": 15, "color": "#555"})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def fmt_si(value: object, unit: str = "") -> str:
    """A number with an SI prefix (1.2k, 3.4G), short enough for a heatmap cell; 'n/a' if none."""
    text = fmt_num(value, ".17g")
    if text == "n/a":
        return text
    number = float(text)
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(number) >= scale:
            return f"{number / scale:.3g}{prefix}{unit}"
    return f"{number:.3g}{unit}"


def fmt_num(value: object, spec: str = ".3g", unit: str = "") -> str:
    """A number for hover text, or 'n/a' where the run recorded none."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "n/a"
    if number != number:  # NaN
        return "n/a"
    return f"{number:{spec}}{unit}"
