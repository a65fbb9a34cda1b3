"""Text from a run, made safe to put into the page and into plotly figures.

Model names, suite names, backend names and above all error messages come from runs, and a run
can carry anything: an exception text that quotes HTML, a user suite called ``<b>``. Both places
the report shows text interpret it as markup: the browser parses the page, and plotly.js renders
legend names, tick labels and hover text as (a subset of) HTML. So every string from a run is
escaped before it reaches either.

Only ``&``, ``<`` and ``>`` are escaped (``quote=False``): that is enough for text content, and
plotly.js decodes ``&amp; &lt; &gt;`` but shows ``&quot;`` literally. The report never puts run
text inside an HTML attribute.
"""

from __future__ import annotations

import html
import textwrap

import pandas as pd


def esc(value: object) -> str:
    """One value as safe text; missing values (None, NaN, pd.NA) become the empty string.

    ``str(pd.NA)`` is ``"<NA>"``, which would itself look like a tag, so missing values are
    handled before formatting rather than escaped after.
    """
    return html.escape(_text(value), quote=False)


def escape_text_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` whose text columns are escaped; numbers and booleans are untouched."""
    escaped = frame.copy()
    for column in escaped.columns:
        dtype = escaped[column].dtype
        if pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype):
            escaped[column] = escaped[column].map(esc).astype("string")
    return escaped


def wrap_markup(value: object, width: int = 80, limit: int = 400) -> str:
    """Long run text (an error message) as escaped lines joined by ``<br>``, for hover boxes.

    Wrapping happens on the raw text and escaping after, so a line break never splits an entity
    like ``&lt;``; the text is cut at `limit` characters because a hover box is not a log viewer
    (the full reason is in the failures table and its CSV).
    """
    text = _text(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return "<br>".join(esc(line) for line in textwrap.wrap(text, width) or [""])


def _text(value: object) -> str:
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return ""
    return str(value)
