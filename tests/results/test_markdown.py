"""The one markdown table writer: header, rule, a row per row, and a cell's pipe escaped."""

from __future__ import annotations

import pandas as pd

from harness.results.markdown import markdown_table


def test_a_table_has_its_header_rule_and_rows_with_pipes_escaped() -> None:
    frame = pd.DataFrame({"case": ["a", "b"], "reason": ["ok", "x | y"], "n": [1, 2]})
    assert markdown_table(frame).splitlines() == [
        "| case | reason | n |", "|---|---|---|", "| a | ok | 1 |", "| b | x \\| y | 2 |"]
