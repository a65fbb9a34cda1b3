"""The tables a report shows, derived from the results table: pure functions, frames in and out.

Each figure draws exactly one of these tables, and the same table is written as CSV beside the
page, so a number a reader hovers over can be found in a file without re-deriving it. Strings
stay raw here; escaping happens where text becomes markup (`markup`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from harness.results.runs import CASE_ID, ROW_KEY, backend_rank

#: What every per-case table starts with: the case, and its id for finding its files.
CASE_COLUMNS = [*CASE_ID, "case_id"]


def _ok(results: pd.DataFrame) -> pd.DataFrame:
    return results[results["status"] == "ok"]


def summary_table(results: pd.DataFrame) -> pd.DataFrame:
    """Every case with its throughput, its noise (and what else the machine did meanwhile),
    and whether it is the best of its row.

    A row is one model at one phase, scenario and batch size; "best" is the highest throughput
    among the cases of that row that finished. Failed and skipped cases stay in, with their reason.
    """
    table = results[[*CASE_COLUMNS, "status", "reason", "params", "flops_per_sample", "n",
                     "throughput_sps", "median_ms", "ci_low_ms", "ci_high_ms", "ci_level",
                     "processes", "between_cv", "iqr_ms", "noisy", "other_cpu_pct",
                     "steal_pct", "contention_note", "pct_of_peak", "ci_rel_half_width",
                     "ci_target", "ci_met", "ci_note"]].copy()
    table["iqr_pct"] = 100 * table["iqr_ms"] / table["median_ms"]
    ok = table["status"] == "ok"
    # dropna=False: an imported run may lack a phase, scenario or batch size; its rows still
    # compete
    row_best = table[ok].groupby(ROW_KEY, dropna=False)["throughput_sps"].transform("max")
    table["best"] = (ok & table["throughput_sps"].eq(row_best.reindex(table.index))).fillna(False)
    return table.astype({"best": bool})


def never_ran(summary: pd.DataFrame) -> pd.DataFrame:
    """The backends every case of which was skipped, one row per reason (their cases' most
    common one), with the backends in registry order and how many cases they skipped.

    On a machine without a GPU most of the registry is such backends; as heatmap columns they
    are grey from top to bottom and push the backends that ran off the page, so the report
    says them in a line each instead. A backend with a failed case ran: its cell says why.
    """
    skipped_only = summary.groupby("backend")["status"].agg(lambda s: bool((s == "skipped").all()))
    names = [b for b in skipped_only.index if skipped_only[b]]
    rows = []
    for backend in names:
        reasons = summary.loc[summary["backend"] == backend, "reason"].fillna("")
        rows.append({"backend": backend, "reason": reasons.value_counts().index[0],
                     "cases": len(reasons)})
    table = pd.DataFrame(rows, columns=["backend", "reason", "cases"])
    table["rank"] = table["backend"].map(backend_rank)
    grouped = table.sort_values("rank").groupby("reason", sort=False).agg(
        backends=("backend", list), cases=("cases", "sum"))
    return grouped.reset_index().sort_values("cases", ascending=False, kind="stable")


def box_stats(values: np.ndarray) -> dict[str, float]:
    """Tukey box statistics: quartiles, and whiskers at the furthest sample within 1.5 IQR.

    Computed here rather than handing every raw sample to plotly: a sweep can hold millions of
    iterations, which would make the page megabytes heavier for the same picture.
    """
    values = np.sort(np.asarray(values, dtype=float))
    q1, median, q3, p99 = np.percentile(values, [25, 50, 75, 99])
    iqr = q3 - q1
    inside = values[(values >= q1 - 1.5 * iqr) & (values <= q3 + 1.5 * iqr)]
    return {"n": len(values), "min_ms": values[0], "lower_whisker_ms": inside[0], "q1_ms": q1,
            "median_ms": median, "q3_ms": q3, "upper_whisker_ms": inside[-1], "p99_ms": p99,
            "max_ms": values[-1]}


def latency_table(results: pd.DataFrame, samples: pd.DataFrame) -> pd.DataFrame:
    """Box statistics of the timed iterations of every finished case, from the raw samples."""
    iters = samples[samples["metric"] == "iter_ms"]
    stats = [{"run_id": run_id, "case_id": case_id, **box_stats(group["value"].to_numpy())}
             for (run_id, case_id), group in iters.groupby(["run_id", "case_id"], sort=False)]
    columns = ["run_id", "case_id", *box_stats(np.zeros(1))]
    stats_frame = pd.DataFrame(stats, columns=columns).astype({"run_id": "string",
                                                               "case_id": "string"})
    cases = _ok(results)[CASE_COLUMNS]
    return cases.merge(stats_frame, on=["run_id", "case_id"], how="inner")


def speedup_table(results: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Each finished case's speedup over `baseline` on the same row: baseline median / median.

    Speedup is NaN where the baseline did not finish on that row: there is nothing to divide by,
    and a made-up 1.0 would read as "as fast as the baseline".
    """
    ok = _ok(results)
    table = ok[[*CASE_COLUMNS, "median_ms", "ci_low_ms", "ci_high_ms", "noisy"]]
    base = ok[ok["backend"] == baseline][[*ROW_KEY, "median_ms"]]
    table = table.merge(base.rename(columns={"median_ms": "baseline_median_ms"}), on=ROW_KEY,
                        how="left")
    table["speedup"] = table["baseline_median_ms"] / table["median_ms"]
    return table


def tradeoff_table(results: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Speedup and accuracy change against `baseline`: what fp16, int8 or compile buy and cost.

    Both are relative to the baseline on the same row so that models of different sizes and
    tasks land on one chart; accuracy change is in percentage points.
    """
    ok = _ok(results)
    table = speedup_table(results, baseline).merge(
        ok[[*CASE_ID, "accuracy", "parity_rel_err", "parity_ok"]], on=CASE_ID)
    base = ok[ok["backend"] == baseline][[*ROW_KEY, "accuracy"]]
    table = table.merge(base.rename(columns={"accuracy": "baseline_accuracy"}), on=ROW_KEY,
                        how="left")
    table["accuracy_delta_pp"] = 100 * (table["accuracy"] - table["baseline_accuracy"])
    return table


def memory_table(results: pd.DataFrame) -> pd.DataFrame:
    """Peak host and device memory of every finished case.

    ``device_mb`` prefers NVML's count over torch's allocator: NVML also sees what ONNX
    Runtime and the CUDA context hold, which torch's allocator does not; the allocator's
    reserved peak is the fallback where NVML recorded nothing.
    """
    table = _ok(results)[[*CASE_COLUMNS, "peak_rss_mb", "rss_increase_mb", "cuda_peak_allocated_mb",
                          "cuda_peak_reserved_mb", "device_mem_used_mb"]].copy()
    table["device_mb"] = table["device_mem_used_mb"].fillna(table["cuda_peak_reserved_mb"])
    return table.reset_index(drop=True)


def accuracy_table(results: pd.DataFrame) -> pd.DataFrame:
    """Task accuracy and numerical parity against the fp64 reference of every finished case."""
    return _ok(results)[[*CASE_COLUMNS, "precision", "accuracy", "train_steps", "final_loss",
                         "parity_rel_err", "parity_tol", "parity_ok", "parity_top1_agree",
                         "parity_max_abs_err"]].reset_index(drop=True)


def cold_start_table(results: pd.DataFrame) -> pd.DataFrame:
    """What a case pays before its first steady-state iteration, kept out of the timings.

    ``cold_total_s`` adds the stages a backend goes through, each measured on its own by the
    harness: producing the artifact (export), loading it (session, compiled model, package),
    torch.compile's compiling call, and the first call after that preparation. It is NaN only
    when none of them was recorded.
    """
    table = _ok(results)[[*CASE_COLUMNS, "export_s", "export_cached", "load_s", "cold_call_s",
                          "first_call_s", "compile_s", "first_iter_ms", "warmup_s",
                          "artifact_bytes"]].copy()
    parts = table[["export_s", "load_s", "compile_s", "first_call_s"]]
    table["cold_total_s"] = parts.sum(axis=1, min_count=1)
    return table.reset_index(drop=True)


def batch_sweep_table(results: pd.DataFrame, samples: pd.DataFrame) -> pd.DataFrame:
    """One row per batch size of every finished batch sweep: the curve across processes.

    Each process measured its own curve (`sweep_batch`, `sweep_ms`, `sweep_p50_ms` samples);
    a point here is the median over the processes that reached that batch, with how many did.
    The case's knee and largest batch (with the bracket the search reached) come along so the
    figure can mark them.
    """
    limits = ["knee_batch", "max_batch", "max_batch_oom", "max_batch_note"]
    columns = [*CASE_COLUMNS, "batch", "step_ms", "p50_ms", "throughput_sps", "processes",
               *limits]
    curves = samples[samples["metric"].isin(("sweep_batch", "sweep_ms", "sweep_p50_ms"))]
    if curves.empty:
        return pd.DataFrame(columns=columns)
    wide = curves.pivot_table(index=["run_id", "case_id", "process", "idx"], columns="metric",
                              values="value").reset_index()
    points = wide.groupby(["run_id", "case_id", "sweep_batch"]).agg(
        step_ms=("sweep_ms", "median"), p50_ms=("sweep_p50_ms", "median"),
        processes=("process", "nunique")).reset_index().rename(columns={"sweep_batch": "batch"})
    points["throughput_sps"] = points["batch"] / (points["step_ms"] / 1e3)
    cases = _ok(results)[[*CASE_COLUMNS, *limits]]
    table = cases.merge(points, on=["run_id", "case_id"], how="inner")
    return table[columns].sort_values([*CASE_COLUMNS, "batch"]).reset_index(drop=True)


def failures_table(results: pd.DataFrame) -> pd.DataFrame:
    """Every case that did not finish, with the reason the run recorded."""
    failed = results[results["status"] != "ok"]
    return failed[[*CASE_COLUMNS, "status", "reason"]].reset_index(drop=True)


def environment_table(manifests: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """One row per environment and configuration field, one column per run, and whether the
    runs differ on it.

    A difference here (another machine, another torch, another timing budget) explains a
    difference in the numbers before any backend does, so the page highlights those rows.
    Configuration fields are prefixed ``config.``.
    """
    envs = {run: {**(manifest.get("environment") or {}),
                  **{f"config.{key}": value for key, value in
                     (manifest.get("config") or {}).items()}}
            for run, manifest in manifests.items()}
    fields = list(dict.fromkeys(key for env in envs.values() for key in env))
    table = pd.DataFrame({"field": fields, **{
        run: [_scalar_text(env.get(field)) for field in fields] for run, env in envs.items()
    }}, dtype="string")
    values = table[list(envs)]
    table["differs"] = values.nunique(axis=1, dropna=False) > 1 if len(envs) > 1 else False
    return table


def _scalar_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str)
    return str(value)
