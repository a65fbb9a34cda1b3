"""A table as GitHub-flavoured markdown, for the summaries CI posts (`compare`, `history`) and
the benchmark scripts' result files: one writer, so every table escapes a cell's pipe the same
way (a backend's error text may hold one)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


def markdown_table(frame: pd.DataFrame) -> str:
    """The frame's columns as the header, one row per row, cells as `str` with `|` escaped."""
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(str(value).replace("|", "\\|") for value in row) + " |"
            for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])
