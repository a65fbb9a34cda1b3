"""The tables of the report's profile sections, from the results and op tables: pure functions.

`category_table` gives each profiled case's step split by op category in ms per step, plus
the part no op owns ("unattributed": the profiled step minus the ops' self time), so a bar
reaches the profiled step time and a low coverage shows as a grey block rather than vanishing.
Only the ops on the case's own device count (on CUDA: kernels; the host's dispatch rows are in
the op table and `archbench ops`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from harness.profiling.op_table import profile_flags
from harness.report.tables import CASE_COLUMNS

UNATTRIBUTED = "unattributed"
_PROFILE_COLUMNS = ["device", "precision", "median_ms", "profile_ms", "profile_overhead",
                    "profile_coverage", "trace_file"]


def profiled_cases(results: pd.DataFrame) -> pd.DataFrame:
    """The finished cases that have a profile."""
    keep = (results["status"] == "ok") & results["profile_ms"].notna()
    return results.loc[keep, [*CASE_COLUMNS, *_PROFILE_COLUMNS]]


def _device_ops(results: pd.DataFrame, ops: pd.DataFrame) -> pd.DataFrame:
    """The ops of profiled cases that ran on the case's own device, with the case columns."""
    cases = profiled_cases(results)
    merged = ops.merge(cases, on=["run_id", "case_id"], suffixes=("", "_case"))
    return merged[merged["device"] == merged["device_case"]]


def category_table(results: pd.DataFrame, ops: pd.DataFrame) -> pd.DataFrame:
    """ms per step of each category of each profiled case, with an unattributed remainder."""
    cases = profiled_cases(results)
    if cases.empty:
        return pd.DataFrame(columns=[*CASE_COLUMNS, "category", "ms_per_step", "share"])
    device_ops = _device_ops(results, ops)
    sums = (device_ops.groupby(["run_id", "case_id", "category"], as_index=False)["self_ms"]
            .sum().rename(columns={"self_ms": "ms_per_step"}))
    covered = sums.groupby(["run_id", "case_id"], as_index=False)["ms_per_step"].sum()
    rest = cases[["run_id", "case_id", "profile_ms"]].merge(covered, how="left")
    rest = rest.assign(category=UNATTRIBUTED, ms_per_step=(
        rest["profile_ms"] - rest["ms_per_step"].fillna(0)).clip(lower=0))
    table = pd.concat([sums, rest[["run_id", "case_id", "category", "ms_per_step"]]],
                      ignore_index=True)
    table = cases[CASE_COLUMNS + ["profile_ms"]].merge(table, on=["run_id", "case_id"])
    table["share"] = table["ms_per_step"] / table["profile_ms"]
    return table.drop(columns="profile_ms")


def top_ops_table(results: pd.DataFrame, ops: pd.DataFrame, top: int = 5) -> pd.DataFrame:
    """Each profiled case's `top` ops by self time, with their share of the profiled step."""
    device_ops = _device_ops(results, ops).sort_values(["run_id", "case_id", "self_ms"],
                                                       ascending=[True, True, False])
    table = device_ops.groupby(["run_id", "case_id"], sort=False).head(top)
    return table[["run_id", "case_id", "backend", "op", "category", "provider", "self_ms",
                  "share", "calls_per_step", "flops"]].reset_index(drop=True)


def profile_health_table(results: pd.DataFrame, run_dirs: Mapping[str, Path],
                         out_dir: Path) -> pd.DataFrame:
    """Each profiled case's overhead, coverage and flags, with its trace's path relative to
    the report (a link that works wherever the report and the runs are moved together)."""
    cases = profiled_cases(results).copy()
    cases["flags"] = [" ".join(profile_flags(c, o)) for c, o in
                      zip(cases["profile_coverage"], cases["profile_overhead"], strict=True)]
    cases["flagged"] = cases["flags"] != ""
    cases["trace"] = [
        os.path.relpath(Path(run_dirs[run_id]) / trace, out_dir)
        if run_id in run_dirs and isinstance(trace, str) and trace else ""
        for run_id, trace in zip(cases["run_id"], cases["trace_file"], strict=True)]
    return cases[["run_id", "case_id", "backend", "median_ms", "profile_ms",
                  "profile_overhead", "profile_coverage", "flags", "flagged", "trace"]]


def roofline_table(results: pd.DataFrame) -> pd.DataFrame:
    """Every finished case with an achieved FLOP/s and an intensity (a roofline point)."""
    keep = ((results["status"] == "ok") & results["achieved_flops"].notna()
            & results["arithmetic_intensity"].notna())
    return results.loc[keep, [*CASE_COLUMNS, "device", "precision", "step_flops",
                              "step_bytes", "arithmetic_intensity", "achieved_flops",
                              "pct_of_peak", "ceiling_flops", "ceiling_bytes_s"]]


def ceilings_table(manifests: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """One row per run, device and precision: the measured matmul peak and the bandwidth."""
    rows = []
    for run_id, manifest in manifests.items():
        for device, measured in manifest.get("ceilings", {}).items():
            if not isinstance(measured, dict):
                continue  # "<device>_error": the reason a device has no ceilings
            for precision, peak in measured["peak_flops"].items():
                rows.append({"run_id": run_id, "device": device, "precision": precision,
                             "peak_flops": peak,
                             "bandwidth_bytes_s": measured["bandwidth_bytes_s"],
                             "matmul_n": measured["matmul_n"], "copy_mib": measured["copy_mib"],
                             "threads": measured["threads"], "timer": measured["timer"]})
    return pd.DataFrame(rows, columns=["run_id", "device", "precision", "peak_flops",
                                       "bandwidth_bytes_s", "matmul_n", "copy_mib", "threads",
                                       "timer"])
