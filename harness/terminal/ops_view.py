"""The op table in the terminal: what `archbench ops` and `archbench trace` print.

In the spirit of torch.profiler's `key_averages().table()`: one line per op, largest self
time first, with its share of the profiled step, calls and FLOPs; or one line per category
(`--by category`). Each case starts with a line of its profile's honesty numbers, so a table
whose ops explain little of the step, or whose profiler slowed the step, says so above itself.
"""

from __future__ import annotations

import pandas as pd

from harness.errors import UsageError, unknown_choice
from harness.profiling.op_table import profile_flags
from harness.terminal.summary import human_count

#: What `--by` may group on.
GROUPINGS = ("op", "category")
def select_cases(ops: pd.DataFrame, results: pd.DataFrame, case: str | None) -> list[str]:
    """The profiled case ids to show: all, or the one named (a one-line error otherwise)."""
    profiled = list(dict.fromkeys(ops["case_id"]))
    if not profiled:
        errors = results.loc[results["profile_error"].fillna("") != "", "profile_error"]
        why = f" (profile errors: {errors.iloc[0]})" if len(errors) else (
            "; run it with `archbench run --profile`")
        raise UsageError(f"run has no op table{why}")
    if case is None:
        return profiled
    if case not in profiled:
        raise unknown_choice("case", case, profiled, "with a profile")
    return [case]


def grouped(ops: pd.DataFrame, by: str) -> pd.DataFrame:
    """One case's ops, or their sums per category, largest self time first."""
    if by == "op":
        return ops.sort_values("self_ms", ascending=False)
    sums = ops.groupby(["category", "device"], as_index=False)[
        ["self_ms", "share", "calls_per_step", "flops"]].sum(min_count=1)
    sums["op"] = sums["category"]
    sums["input_shapes"] = ""
    return sums.sort_values("self_ms", ascending=False)


def case_text(row: pd.Series, ops: pd.DataFrame, top: int, by: str) -> str:
    """One case: a line of its profile, then its top ops (or categories)."""
    head = (f"{row['case_id']}: profiled step {row['profile_ms']:.3g} ms (unprofiled median "
            f"{row['median_ms']:.3g} ms, overhead {row['profile_overhead']:.2f}x), coverage "
            f"{row['profile_coverage']:.0%}, {int(row['profile_steps'])} steps; trace "
            f"{row['trace_file']}")
    flags = "".join(f"\n  warning: {flag}" for flag in profile_flags(
        float(row["profile_coverage"]), float(row["profile_overhead"])))
    table = grouped(ops, by).head(top)
    view = pd.DataFrame({
        "Name" if by == "op" else "Category": table["op"].map(lambda s: s[:60]),
        **({"Category": table["category"]} if by == "op" else {}),
        "Device": table["device"], "Self ms": table["self_ms"].map(lambda v: f"{v:.4f}"),
        "Self %": table["share"].map(lambda v: f"{100 * v:.1f}"),
        "Calls/step": table["calls_per_step"].map(lambda v: f"{v:g}"),
        "FLOPs": table["flops"].map(lambda v: "" if pd.isna(v) else human_count(v)),
        **({"Input shapes": table["input_shapes"].fillna("").map(lambda s: s[:50])}
           if by == "op" else {}),
    })
    unmapped = sorted(set(ops.loc[ops["category"] == "other", "op"]))
    other = (f"\n  unmapped ops (category 'other'): {', '.join(unmapped)}" if unmapped else "")
    return f"{head}{flags}\n{view.to_string(index=False)}{other}"


def ops_text(ops: pd.DataFrame, results: pd.DataFrame, case: str | None, top: int,
             by: str) -> str:
    """Every selected case's table, separated by blank lines."""
    if by not in GROUPINGS:
        raise unknown_choice("grouping", by, GROUPINGS)
    if top < 1:
        raise UsageError(f"--top must be a positive number of rows, got {top}")
    return "\n\n".join(case_text(results[results["case_id"] == case_id].iloc[0],
                                 ops[ops["case_id"] == case_id], top, by)
                       for case_id in select_cases(ops, results, case))


def trace_text(results: pd.DataFrame, run_dir_text: str, case: str) -> str:
    """Where a case's trace is and how to open it."""
    traced = results.loc[results["trace_file"].fillna("") != "", "case_id"].tolist()
    if not traced:
        raise UsageError("run has no traces; run it with `archbench run --profile`")
    if case not in traced:
        raise unknown_choice("case", case, traced, "with a trace")
    path = f"{run_dir_text}/{results.set_index('case_id').loc[case, 'trace_file']}"
    return (f"{path}\nOpen it at https://ui.perfetto.dev (Open trace file, or drag it onto the "
            "page; gzip is fine) or in chrome://tracing. On CUDA it carries HTA's rank "
            "metadata: hta.trace_analysis.TraceAnalysis(trace_dir=<its folder>).")
