"""Reading a written report page back: its figures as data, for the report tests."""

from __future__ import annotations

import json
import re

#: The sections of a report that draw a figure, in page order.
FIGURE_SECTIONS = ["summary", "throughput", "latency", "speedup", "memory", "accuracy",
                   "cold-start", "tradeoff", "failures"]


def plotted_figures(page: str) -> dict[str, tuple[list, dict]]:
    """Every ``Plotly.newPlot(id, data, layout, ...)`` call in the page, decoded as JSON."""
    decoder, found = json.JSONDecoder(), {}
    for match in re.finditer(r"Plotly\.newPlot\(\s*", page):
        position = match.end()
        values = []
        for _ in range(3):
            value, position = decoder.raw_decode(page, position)
            values.append(value)
            position = re.compile(r"\s*,\s*").match(page, position).end()
        found[values[0]] = (values[1], values[2])
    return found


def strings_in(value: object) -> list[str]:
    """All strings anywhere inside a decoded JSON value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in strings_in(item)]
    if isinstance(value, list):
        return [s for item in value for s in strings_in(item)]
    return []
