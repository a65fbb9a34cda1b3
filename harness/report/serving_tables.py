"""The tables of the report's serving section: the latency-against-load curves and the highest
load each case meets its target at. Pure functions, frames in and out, as `tables`."""

from __future__ import annotations

import pandas as pd

from harness.report.tables import CASE_COLUMNS

#: The curve samples each server process keeps, one value per rate it tried.
CURVE_METRICS = ("load_qps", "load_p50_ms", "load_p99_ms", "load_achieved_qps", "load_met")


def load_curve_table(results: pd.DataFrame, samples: pd.DataFrame) -> pd.DataFrame:
    """Every rate each process of a finished server case tried, with LoadGen's p50 and p99
    there and whether it met the target; the case's target and peak come along for the figure.

    Processes search separately, so they try different rates: the points are per process,
    not medians over processes (a median over rates nobody shared would be invented)."""
    case = ["slo_ms", "peak_qps", "peak_ci_low_qps", "peak_ci_high_qps"]
    columns = [*CASE_COLUMNS, "process", "rate_qps", "p50_ms", "p99_ms", "achieved_qps", "met",
               *case]
    curves = samples[samples["metric"].isin(CURVE_METRICS)]
    if curves.empty:
        return pd.DataFrame(columns=columns)
    wide = curves.pivot_table(index=["run_id", "case_id", "process", "idx"], columns="metric",
                              values="value").reset_index()
    wide = wide.rename(columns={"load_qps": "rate_qps", "load_p50_ms": "p50_ms",
                                "load_p99_ms": "p99_ms", "load_achieved_qps": "achieved_qps",
                                "load_met": "met"})
    wide["met"] = wide["met"] > 0.5
    cases = results[results["status"] == "ok"][[*CASE_COLUMNS, *case]]
    table = cases.merge(wide, on=["run_id", "case_id"], how="inner")
    return table[columns].sort_values([*CASE_COLUMNS, "process", "rate_qps"]).reset_index(
        drop=True)


def peak_load_table(results: pd.DataFrame) -> pd.DataFrame:
    """The highest load under the target, per server case, beside what else decides a backend:
    accuracy, parity, memory, and the load's p99 by both accounts."""
    columns = [*CASE_COLUMNS, "processes", "slo_ms", "slo_source", "peak_qps", "peak_ci_low_qps",
               "peak_ci_high_qps", "peak_note", "loadgen_p99_ms", "serve_p99_ms", "mean_batch",
               "serving_max_wait_ms", "serving_in_flight", "step1_ms", "step_max_ms", "accuracy",
               "parity_ok", "peak_rss_mb", "loadgen_log_dir"]
    server = results[(results["status"] == "ok") & results["peak_qps"].notna()]
    return server[columns].sort_values(["suite", "size", "peak_qps"],
                                       ascending=[True, True, False]).reset_index(drop=True)
