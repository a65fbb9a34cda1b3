"""The terminal summary of a results table: what `archbench show` and `run` print."""

from __future__ import annotations

import math

import pandas as pd

from harness.measure.contention import run_warning
from harness.measure.precision import first_stage_of
from harness.measure.stats import log_ratio_test
from harness.results.cost import cheapest_backends
from harness.results.runs import ROW_KEY, backend_rank


def _median_with_ci(row: pd.Series) -> str:
    """'1.23 [1.2, 1.3] ×3': the number, its interval, and how many processes gave it (an
    interval from one process covers that process only, so the count belongs with it)."""
    if pd.isna(row["median_ms"]):
        return ""
    text = f"{row['median_ms']:.3g}"
    low, high = row["ci_low_ms"], row["ci_high_ms"]
    if not (pd.isna(low) or pd.isna(high)):
        text += f" [{low:.3g}, {high:.3g}]"
    if not pd.isna(row["processes"]):
        text += f" ×{row['processes']}"
    if row["noisy"] is True:
        text += " noisy"
    return text


def _peak_load(row: pd.Series) -> str:
    """A server case's highest load under its target: '412 [380, 440] @ 50 ms'. (Its median
    column is 1000 / this: what compare judges, lower is better.)"""
    if pd.isna(row["peak_qps"]):
        return ""
    text = f"{row['peak_qps']:,.4g}"
    if not (pd.isna(row["peak_ci_low_qps"]) or pd.isna(row["peak_ci_high_qps"])):
        text += f" [{row['peak_ci_low_qps']:,.4g}, {row['peak_ci_high_qps']:,.4g}]"
    return f"{text} @ {row['slo_ms']:.3g} ms"


def _number(value: object, fmt: str) -> str:
    return "" if value is None or pd.isna(value) else format(value, fmt)


#: The backend a case's speedup is against (the report's default baseline too).
BASELINE = "cpu-eager"
#: Scenarios whose number is the step time of the case's processes (a speedup's interval comes
#: from their process medians); a server's number is its peak load, a sweep's its knee's.
STEP_SCENARIOS = ("latency", "throughput")
#: Skip reasons listed one line each under the table; the rest are counted in one more line.
MAX_SKIP_REASONS = 8
#: How many backends a line of grouped skips names before it counts the rest.
NAMED_BACKENDS = 4


def summary_text(frame: pd.DataFrame, reason_width: int = 60, all_rows: bool = False,
                 samples: pd.DataFrame | None = None) -> str:
    """One line per case that ran (or every case, `all_rows`), then the skipped cases grouped
    by reason (`skipped_summary`): a default sweep on a machine without a GPU skips most of
    its matrix (228 of 258 cases on 2 CPUs), and a line each for those buries the 30 that ran.

    A case's line: status, median with its interval and process count, throughput, memory,
    accuracy, its speedup over `BASELINE` with the interval of that ratio (given the run's
    `samples`: `speedups`), efficiency (% of peak, in a profiled run), and why a case failed
    or why its number may be off."""
    if frame.empty:
        return "(no cases)"
    frame = frame.assign(speedup=speedups(frame, samples) if samples is not None else "")
    shown = frame if all_rows else frame[frame["status"] != "skipped"]
    table = _case_table(shown, reason_width) if not shown.empty else "(no case ran)"
    skipped = None if all_rows else skipped_summary(frame)
    return table if skipped is None else f"{table}\n\n{skipped}"


def skipped_summary(frame: pd.DataFrame, reason_width: int = 110) -> str | None:
    """The skipped cases in a few lines, one per reason, most cases first, each naming its
    backends; None when nothing was skipped."""
    skipped = frame[frame["status"] == "skipped"]
    if skipped.empty:
        return None
    groups = sorted(skipped.groupby(skipped["reason"].fillna(""), sort=False),
                    key=lambda group: -len(group[1]))
    lines = [f"skipped: {len(skipped)} cases, by reason (archbench show --all lists each one)"]
    for reason, rows in groups[:MAX_SKIP_REASONS]:
        backends = sorted(set(rows["backend"].astype(str)), key=backend_rank)
        named = ", ".join(backends[:NAMED_BACKENDS]) + (
            f" +{len(backends) - NAMED_BACKENDS}" if len(backends) > NAMED_BACKENDS else "")
        text = reason or "(no reason recorded)"
        text = text if len(text) <= reason_width else text[:reason_width - 1] + "…"
        lines.append(f"  {len(rows):>4} {'case ' if len(rows) == 1 else 'cases'} "
                     f"[{named}]: {text}")
    rest = groups[MAX_SKIP_REASONS:]
    if rest:
        lines.append(f"  {sum(len(rows) for _, rows in rest):>4} cases under {len(rest)} other "
                     "reasons")
    return "\n".join(lines)


def _case_table(frame: pd.DataFrame, reason_width: int) -> str:
    """The one-line-per-case table of `summary_text`."""
    view = pd.DataFrame({
        "suite": frame["suite"], "size": frame["size"], "backend": frame["backend"],
        "phase": frame["phase"], "scenario": frame["scenario"], "bs": frame["batch_size"],
        **({"hardware": frame["hardware"].fillna("")}  # a --per-hardware run's case dimension
           if frame["hardware"].notna().any() else {}),
        "status": frame["status"],
        f"median ms [{_levels(frame)} CI] ×processes": frame.apply(_median_with_ci, axis=1),
        "n": frame["n"].map(lambda v: _number(v, "d")),
        "samples/s": frame["throughput_sps"].map(lambda v: _number(v, ",.0f")),
        "peak MB": frame["peak_rss_mb"].map(lambda v: _number(v, ".0f")),
        "acc": frame["accuracy"].map(lambda v: _number(v, ".3f")),
        "parity": frame["parity_ok"].map(lambda v: "" if pd.isna(v) else ("ok" if v else "FAIL")),
        **({f"× {BASELINE} [95% CI]": frame["speedup"]} if frame["speedup"].ne("").any()
           else {}),
        **({"% peak": frame["pct_of_peak"].map(lambda v: _number(v, ".2g"))}
           if frame["pct_of_peak"].notna().any() else {}),
        **({"$/M samples": frame["usd_per_million_samples"].map(lambda v: _number(v, ".3g"))}
           if frame["usd_per_million_samples"].notna().any() else {}),
        **({"peak q/s [CI] @ p99 target": frame.apply(_peak_load, axis=1)}
           if frame["peak_qps"].notna().any() else {}),
        "reason / note": _reason_or_note(frame).map(
            lambda r: r if len(r) <= reason_width else r[:reason_width - 1] + "…"),
    })
    return view.to_string(index=False)


def speedups(frame: pd.DataFrame, samples: pd.DataFrame, baseline: str = BASELINE,
             level: float = 0.95) -> pd.Series:
    """Per case, how many times faster than `baseline` on the same row (`ROW_KEY`) it ran:
    baseline time / its time, and where both have two processes or more the `level` interval
    of that ratio over their process medians (`log_ratio_test`, Welch: the same test `compare`
    judges with, so "1.6x [1.4, 1.8]" is a speedup the processes support, and an interval
    across 1 is one they do not). "" for the baseline itself, a row it did not finish, or a
    scenario whose number is not a step time."""
    medians = (samples[samples["metric"] == "iter_ms"].groupby(["case_id", "process"])["value"]
               .median())
    by_case = {case: group.to_numpy() for case, group in medians.groupby(level=0)}
    ok = frame[(frame["status"] == "ok") & frame["scenario"].isin(STEP_SCENARIOS)]
    base = ok[ok["backend"] == baseline].set_index(ROW_KEY)
    texts = pd.Series("", index=frame.index)
    for index, row in ok[ok["backend"] != baseline].iterrows():
        key = tuple(row[column] for column in ROW_KEY)
        if key not in base.index:
            continue
        reference = base.loc[key]
        speedup = float(reference["median_ms"]) / float(row["median_ms"])
        text = f"{speedup:.2f}x"
        mine, theirs = by_case.get(row["case_id"], []), by_case.get(reference["case_id"], [])
        if len(mine) >= 2 and len(theirs) >= 2:
            test = log_ratio_test(theirs, mine, level, first_stages=(
                first_stage_of(reference.get("ci_first_stage")),
                first_stage_of(row.get("ci_first_stage"))))
            text += f" [{1 / test.ci_high:.2f}, {1 / test.ci_low:.2f}]"
        texts[index] = text
    return texts


def _levels(frame: pd.DataFrame) -> str:
    """The confidence level(s) of the intervals shown, e.g. '95%' or '95%/99%'."""
    levels = sorted(frame["ci_level"].dropna().unique())
    return "/".join(f"{level:.0%}" for level in levels) or "99%"


def _reason_or_note(frame: pd.DataFrame) -> pd.Series:
    """Why a case did not finish; for a finished one, what the cluster lost of it and ran again,
    and why its number may be slow or noisy."""
    reason = frame["reason"].fillna("")
    note = frame["contention_note"].fillna("")
    retried = "retried: " + frame["lost_nodes"].fillna("") + note.map(lambda n: f"; {n}" if n
                                                                       else "")
    note = note.where(frame["retries"].fillna(0) == 0, retried)
    return reason.where(frame["status"] != "ok", note)


def cheapest_summary(frame: pd.DataFrame) -> str | None:
    """For a run given prices: per model and measurement, the cheapest backend per million
    samples that passed parity, and the next one; None for a run without prices."""
    cheapest = cheapest_backends(frame)
    if cheapest.empty:
        return None
    lines = ["cheapest backend per million samples (parity passed):"]
    for _, row in cheapest.iterrows():
        what = " ".join(p for p in (row["suite"], row["size"], row["phase"], row["scenario"],
                                    f"bs{row['batch_size']}", row["hardware"]) if p)
        line = f"  {what}: {row['backend']} ${row['usd_per_million_samples']:.3g}"
        if row["next_backend"]:
            line += (f" (next: {row['next_backend']} "
                     f"${row['next_usd_per_million_samples']:.3g})")
        lines.append(line)
    return "\n".join(lines)


#: Cases short of the precision target named one a line; the rest are counted.
MAX_SHORT_CASES = 6


def precision_summary(frame: pd.DataFrame) -> str | None:
    """How many timed cases met the run's precision target, and the ones that did not with the
    precision they reached, their processes and why they got no more; None without a target
    (a run from before targets) or a case with an interval."""
    timed = frame[frame["ci_met"].notna()]
    if timed.empty:
        return None
    target = float(timed["ci_target"].iloc[0])
    short = timed[~timed["ci_met"].astype(bool)].sort_values("ci_rel_half_width",
                                                             ascending=False)
    lines = [f"precision (95% interval within ±{target:.0%} of its centre): "
             f"{len(timed) - len(short)} of {len(timed)} timed cases met it"]
    for _, row in short.head(MAX_SHORT_CASES).iterrows():
        name = " ".join(str(row[c]) for c in ("suite", "size", "backend", "phase", "scenario"))
        note = row["ci_note"] if isinstance(row["ci_note"], str) and row["ci_note"] else (
            "no reason recorded (the sweep stopped before it said)")
        lines.append(f"  {name} bs{row['batch_size']}: ±{row['ci_rel_half_width']:.1%} "
                     f"×{row['processes']}: {note}")
    if len(short) > MAX_SHORT_CASES:
        lines.append(f"  and {len(short) - MAX_SHORT_CASES} more (column ci_note)")
    return "\n".join(lines)


def contention_summary(frame: pd.DataFrame) -> str | None:
    """The warning a terminal summary ends with when cases were timed on a busy machine."""
    ok = frame[frame["status"] == "ok"]
    return run_warning(ok["other_cpu_pct"].astype(float).tolist(),
                       ok["steal_pct"].astype(float).tolist())


def sweep_totals(frame: pd.DataFrame, run_now: list[str], elapsed_s: float) -> str:
    """The line a sweep ends with: its cases by status, and of the cases run in this session
    (`run_now`, not a resumed run's earlier ones), how much of the wall time was timed."""
    now = frame[frame["case_id"].isin(run_now)]
    timed_s, warmup_s = now["timed_s"].sum(), now["warmup_s"].sum()
    return (f"{len(frame)} cases ({status_counts(frame)}); {len(now)} run now in "
            f"{elapsed_s:.0f} s wall: {timed_s:.0f} s timed ({timed_s / elapsed_s:.0%}), "
            f"{warmup_s:.0f} s warm-up")


def status_counts(frame: pd.DataFrame) -> str:
    counts = frame["status"].value_counts()
    return ", ".join(f"{int(counts[s])} {s}" for s in counts.index)


def human_count(value: float) -> str:
    """1234567 -> '1.23M', for parameter and FLOP counts."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{unit}"
    return f"{value:.0f}" if not math.isnan(value) else ""
