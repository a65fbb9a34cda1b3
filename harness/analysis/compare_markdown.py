"""A comparison as markdown, for a pull request's comment or a CI job's summary page.

The reader of a pull request wants the verdict in the first line, what changed (with how much
and how sure) next, and the unchanged cases out of the way: they sit in a collapsed block. One
formatter serves `archbench compare --format markdown` and `archbench ci`, so the two never
tell the same comparison differently.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from harness.analysis.compare import Comparison, describe_rule, format_energy, format_judged
from harness.results.markdown import markdown_table
from harness.results.runs import case_name


def comparison_markdown(comparison: Comparison, title: str = "archbench compare",
                        context: Sequence[str] = (), report_url: str = "") -> str:
    """The comparison as markdown: a headline with the outcome, `context` lines (e.g. which
    baseline), a link to the report, warnings, what changed or broke (slower first, then
    faster), the unchanged cases collapsed, the rule."""
    judged = comparison.table[comparison.table["verdict"].notna()]
    changed = judged[judged["verdict"] != "same"]
    mark = "❌" if comparison.exit_code else "✅"
    lines = [f"### {mark} {title}: {comparison.outcome()}", ""]
    lines += [f"{line}  " for line in context]
    lines += [f"[Report]({report_url})  "] if report_url else []
    lines += [f"> ⚠️ {warning}" for warning in comparison.warnings]
    if context or report_url or comparison.warnings:
        lines.append("")
    if len(changed):
        lines += [f"**Changed ({len(changed)})**", "", _table(format_judged(changed)), ""]
    energy = comparison.energy[comparison.energy["verdict"] != "same"]
    if len(energy):
        lines += [f"**Energy per sample changed ({len(energy)} of {len(comparison.energy)} "
                  "read in both runs)**", "", _table(format_energy(energy)), ""]
    for heading, cases in ((f"Newly broken ({len(comparison.newly_broken)}): ok in base, not "
                            "in new" + (" (allowed)" if comparison.allow_broken else ""),
                            comparison.newly_broken),
                           (f"Now skipped ({len(comparison.now_skipped)}): ok in base, "
                            "skipped in new (not counted as broken)", comparison.now_skipped)):
        if len(cases):
            lines += [f"**{heading}**", ""]
            lines += [f"- `{case_name(row)}`: {row.status}" + _reason(row.reason)
                      for row in cases.itertuples()]
            lines.append("")
    same = judged[judged["verdict"] == "same"]
    if len(same):
        lines += [f"<details><summary>{len(same)} unchanged</summary>", "",
                  _table(format_judged(same)), "", "</details>", ""]
    unjudged = comparison.table[comparison.table["verdict"].isna()]
    if len(unjudged):
        lines += [f"<details><summary>{len(unjudged)} not compared</summary>", ""]
        lines += [f"- `{case_name(row)}`: base {row.base_status}, new {row.new_status}"
                  + _reason(row.note) for row in unjudged.itertuples()]
        lines += ["", "</details>", ""]
    lines.append(f"<sub>{describe_rule(comparison.threshold, comparison.family_wise)}</sub>")
    return "\n".join(lines) + "\n"


def _table(frame: pd.DataFrame) -> str:
    """A markdown table of compared cases, formatted as the terminal's."""
    frame = frame.copy()
    frame["case"] = [f"`{name}`" for name in frame["case"]]
    return markdown_table(frame)


def _reason(text: object) -> str:
    return "" if pd.isna(text) or not text else f" ({str(text).replace(chr(10), ' ')})"
