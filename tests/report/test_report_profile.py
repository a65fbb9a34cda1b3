"""The report's profile sections: present for a profiled run, with working trace links and
the efficiency column; absent for a run without a profile."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from harness.report import write_report
from harness.report.profile_tables import UNATTRIBUTED, category_table
from harness.results.runs import load_runs


def test_a_profiled_run_has_where_the_time_goes_and_a_roofline(profiled_run: Path,
                                                                tmp_path: Path) -> None:
    out = tmp_path / "report"
    html = write_report([profiled_run], out).read_text()
    assert 'id="where-time-goes"' in html and 'id="roofline"' in html
    assert "fig-where-time-goes" in html and "fig-roofline" in html
    links = re.findall(r'href="([^"#]+\.trace\.json\.gz)"', html)
    assert len(links) == 2
    assert all((out / link).resolve().is_file() for link in links)  # relative, and they work
    summary = pd.read_csv(out / "summary.csv")
    assert summary["pct_of_peak"].notna().all()
    assert (out / "roofline.csv").is_file() and (out / "profile_top_ops.csv").is_file()


def test_each_bar_reaches_the_profiled_step(profiled_run: Path) -> None:
    """Categories plus the unattributed rest add up to the profiled step time."""
    runs = load_runs([profiled_run])
    table = category_table(runs.results, runs.ops)
    assert UNATTRIBUTED in set(table["category"])
    totals = table.groupby("case_id")["ms_per_step"].sum()
    steps = runs.results.set_index("case_id")["profile_ms"]
    for case_id, total in totals.items():
        assert abs(total - steps[case_id]) <= 1e-9 * steps[case_id] or total > steps[case_id]


def test_a_run_without_profile_has_no_profile_section(fake_run: Callable[..., Path],
                                                      tmp_path: Path) -> None:
    html = write_report([fake_run("plain")], tmp_path / "report").read_text()
    assert 'id="where-time-goes"' not in html and 'id="roofline"' not in html
    assert 'id="summary"' in html
