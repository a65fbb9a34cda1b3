"""Assemble the report page: one self-contained HTML file that opens from disk with no network.

plotly.js (several megabytes) is embedded once in the head and every figure is emitted without
it, so ten figures cost one copy. All text that came from a run is escaped here or, inside
figures, by `figures`; the text this module writes itself (titles, sentences) is escaped too,
because a sentence may quote a backend name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from harness.report.markup import esc

_PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
       color: #222; background: #fafafa; }
header, main { max-width: 1400px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 16px; }
h1 { margin-bottom: 4px; }
.meta { color: #555; margin: 2px 0; }
nav { margin: 12px 0 8px; line-height: 1.9; }
nav a { margin-right: 14px; white-space: nowrap; }
section { background: #fff; border: 1px solid #e3e3e3; border-radius: 6px; margin: 18px 0;
          padding: 8px 18px 14px; }
.how { color: #333; max-width: 1000px; margin: 6px 0 10px; }
.note { background: #fff4e5; border-left: 4px solid #ff9800; padding: 6px 10px; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
th, td { border-bottom: 1px solid #e6e6e6; padding: 3px 8px; text-align: left;
         vertical-align: top; }
th { background: #f2f2f2; position: sticky; top: 0; }
td { white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.long { white-space: normal; min-width: 320px; }
tr.highlight td { background: #fff4e5; }
.table-wrap { max-height: 520px; overflow: auto; }
.csv { font-size: 13px; color: #555; }
"""


@dataclass(frozen=True)
class Table:
    """A table shown in the page; `highlight` names a boolean column marking rows to highlight."""

    frame: pd.DataFrame
    caption: str
    highlight: str | None = None
    collapsed: bool = False


@dataclass(frozen=True)
class Section:
    """One part of the report: a figure with the sentence that says how to read it, and tables.

    All text fields are plain text (escaped when rendered), never markup; `markup` is the one
    exception: HTML the report built itself, every run text in it already escaped (the history
    page's filters and timelines), placed after the tables.
    """

    id: str
    title: str
    how_to_read: str
    figure: go.Figure | None = None
    tables: Sequence[Table] = ()
    csv: Sequence[str] = ()
    notes: Sequence[str] = ()
    links: Sequence[tuple[str, str]] = ()  # (text, relative path): files beside the runs
    markup: str = ""


def render_page(title: str, meta: Sequence[str], sections: Sequence[Section]) -> str:
    """The whole page as one string (plotly.js inlined once, in the head)."""
    nav = "".join(f'<a href="#{section.id}">{esc(section.title)}</a>' for section in sections)
    body = "\n".join(_render_section(section) for section in sections)
    meta_html = "".join(f'<p class="meta">{esc(line)}</p>' for line in meta)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{esc(title)}</title>\n<style>{_CSS}</style>\n"
        f"<script>{get_plotlyjs()}</script>\n</head>\n<body>\n"
        f"<header><h1>{esc(title)}</h1>{meta_html}<nav>{nav}</nav></header>\n"
        f"<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def render_table(table: Table) -> str:
    """An HTML table with every cell escaped; numbers right-aligned and shortened to 4 digits."""
    frame = table.frame
    shown = [column for column in frame.columns if column != table.highlight]
    head = "".join(f"<th>{esc(column)}</th>" for column in shown)
    marks = frame[table.highlight].fillna(False) if table.highlight else [False] * len(frame)
    rows = []
    for values, marked in zip(frame[shown].itertuples(index=False), marks, strict=True):
        cells = "".join(_cell(value) for value in values)
        rows.append(f'<tr class="highlight">{cells}</tr>' if marked else f"<tr>{cells}</tr>")
    html = (f"<div class=\"table-wrap\"><table><caption>{esc(table.caption)}</caption>"
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>")
    if table.collapsed:
        return f"<details><summary>{esc(table.caption)} (table)</summary>{html}</details>"
    return html


def _cell(value: object) -> str:
    if isinstance(value, (bool, np.bool_)) or pd.isna(value):
        return f"<td>{esc(value) or '—'}</td>"
    if isinstance(value, (float, np.floating)):
        return f'<td class="num">{value:.4g}</td>'
    if isinstance(value, (int, np.integer)):
        return f'<td class="num">{value}</td>'
    text = esc(value)
    return f'<td class="long">{text}</td>' if len(text) > 60 else f"<td>{text}</td>"


def _render_section(section: Section) -> str:
    parts = [f'<section id="{section.id}">', f"<h2>{esc(section.title)}</h2>"]
    parts += [f'<p class="note">{esc(note)}</p>' for note in section.notes]
    if section.figure is not None:
        parts.append(section.figure.to_html(full_html=False, include_plotlyjs=False,
                                            div_id=f"fig-{section.id}", config=_PLOTLY_CONFIG))
    parts.append(f'<p class="how">{esc(section.how_to_read)}</p>')
    parts += [render_table(table) for table in section.tables]
    if section.markup:
        parts.append(section.markup)
    if section.links:
        items = "".join(f'<li><a href="{esc(href)}">{esc(text)}</a></li>'
                        for text, href in section.links)
        parts.append(f'<details><summary>files ({len(section.links)})</summary>'
                     f'<ul class="csv">{items}</ul></details>')
    if section.csv:
        links = ", ".join(f'<a href="{name}">{esc(name)}</a>' for name in section.csv)
        parts.append(f'<p class="csv">Data: {links}</p>')
    parts.append("</section>")
    return "\n".join(parts)
