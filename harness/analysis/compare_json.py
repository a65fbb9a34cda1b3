"""A comparison as JSON, for a script or a bot that posts its own summary.

The same content as the markdown (`harness.analysis.compare_markdown`), as data: the outcome
and exit code, the rule, the warnings, every compared case with its verdict and evidence
(slower first, then faster, then unchanged), energy per sample where both runs read it, the
cases that broke, were skipped or are only on
one side. NaN is written as null, so any JSON reader takes it.
"""

from __future__ import annotations

import json

from harness.analysis.compare import Comparison, describe_rule
from harness.results.json_rows import json_rows


def comparison_json(comparison: Comparison, report_url: str = "") -> str:
    """The comparison as an indented JSON document (module docstring)."""
    return json.dumps({
        "outcome": comparison.outcome(), "exit_code": comparison.exit_code,
        "base": comparison.base_id, "new": comparison.new_id,
        "threshold": comparison.threshold, "family_wise": comparison.family_wise,
        "rule": describe_rule(comparison.threshold, comparison.family_wise),
        "report": report_url or None, "warnings": list(comparison.warnings),
        "cases": json_rows(comparison.table),
        "energy": json_rows(comparison.energy),
        "newly_broken": json_rows(comparison.newly_broken),
        "now_skipped": json_rows(comparison.now_skipped),
        "only_in_base": json_rows(comparison.only_in_base),
        "only_in_new": json_rows(comparison.only_in_new)}, indent=1) + "\n"
