"""A real profiled run end to end: rows, the op table, traces, ceilings in the manifest."""

from __future__ import annotations

import json
import math
from pathlib import Path

import harness
from harness.profiling.op_table import coverage
from harness.profiling.traces import complete_events
from harness.results.store import MANIFEST


def test_rows_carry_the_profile_and_the_efficiency(profiled_run: Path) -> None:
    rows = harness.load_results(profiled_run)
    assert list(rows["status"]) == ["ok", "ok"]
    assert rows["profile_error"].isna().all()
    assert (rows["profile_steps"] == 5).all()
    assert (rows["profile_overhead"] > 0).all() and (rows["profile_coverage"] > 0).all()
    for row in rows.itertuples():
        assert math.isclose(row.achieved_flops, row.step_flops / (row.median_ms / 1e3))
        assert math.isclose(row.pct_of_peak, 100 * row.achieved_flops / row.ceiling_flops)
        assert math.isclose(row.arithmetic_intensity, row.step_flops / row.step_bytes)
    manifest = json.loads((profiled_run / MANIFEST).read_text())
    cpu = manifest["ceilings"]["cpu"]
    assert cpu["threads"] == 1 and cpu["peak_flops"]["fp32"] > 0
    assert (rows["ceiling_flops"] == cpu["peak_flops"]["fp32"]).all()
    assert (rows["ceiling_bytes_s"] == cpu["bandwidth_bytes_s"]).all()


def test_op_table_is_stored_beside_the_results(profiled_run: Path) -> None:
    assert (profiled_run / "ops.parquet").is_file()
    ops = harness.load_ops(profiled_run)
    rows = harness.load_results(profiled_run).set_index("case_id")
    assert set(ops["case_id"]) == set(rows.index)
    for case_id, case_ops in ops.groupby("case_id"):
        assert math.isclose(coverage(case_ops.to_dict("records"), "cpu"),
                            rows.loc[case_id, "profile_coverage"], rel_tol=1e-9)


def test_every_trace_is_valid_and_bounded(profiled_run: Path) -> None:
    rows = harness.load_results(profiled_run)
    for row in rows.itertuples():
        path = profiled_run / row.trace_file
        assert complete_events(path)
        assert math.isclose(path.stat().st_size / 1024, row.trace_kb)
        assert path.stat().st_size < 1024**2  # K small: a tiny model's trace is kilobytes
