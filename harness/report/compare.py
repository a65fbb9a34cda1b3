"""Compare two runs case by case and call a change only when it is both real and large.

The statistics, and why these:

* **Effect: ratio of medians, new / base.** Medians ignore the odd descheduled iteration that
  drags a mean; a ratio is unitless, so one threshold ("10% slower") fits a 50 µs and a 5 s case.
* **Interval: from the two distribution-free 99% intervals of the medians.** Each median's
  interval is a pair of order statistics (binomial, no distribution assumed). If both cover
  their medians, ``[new_low / base_high, new_high / base_low]`` covers the ratio, so it holds
  with at least 98% (each fails at most 1% of the time). It is deterministic (no resampling
  seed to fix) and costs one sort for millions of samples. It is wider than a bootstrap
  interval, which is the side to err on for a gate that fails CI.
* **Significance: Mann-Whitney U, two-sided, p < 0.01**, on the raw iteration times: no
  normality assumed (iteration times are skewed, with a long right tail), robust to outliers.
  Successive iterations are not independent (clock boost, thermal drift, caches), which makes
  p-values optimistic on long runs; the threshold is what keeps a tiny but "significant" shift
  from failing CI.
* **Verdict:** ``slower`` / ``faster`` only when p < 0.01 *and* the median moved by more than
  the threshold (default 10%) either way; otherwise ``same``. Cases that did not finish in one
  of the runs get no verdict: they are listed with their status instead.

A gate must also fail on a case that stopped working, which no timing can show: a case ``ok``
in base that is ``error``, ``crashed`` or ``timeout`` in new, or absent from new, is *newly
broken* and fails the comparison like a regression, unless ``allow_broken``. A case ``ok`` in
base and ``skipped`` in new is not broken: a skip is decided before anything runs (a backend
this machine cannot run, a phase the backend lacks), so it says where the run ran, not that
the code broke; it is listed as *now skipped*, so that lost coverage is still seen.

Numbers from different machines, libraries, thread counts or timing rules differ for those
reasons alone, so the comparison warns about each such difference, and ``strict`` refuses it
(`harness.report.facts`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import mannwhitneyu

from harness.errors import UsageError
from harness.measure.stats import median_ci
from harness.report.facts import fact_warnings, run_facts
from harness.report.runs import CASE_KEY, RunSet, load_runs

ALPHA = 0.01
#: Statuses of a case that was run and did not finish (`skipped` was never run).
BROKEN_STATUSES = ("error", "crashed", "timeout")

#: Verdict first: it is what a reader scans for; the evidence follows.
COLUMNS = [*CASE_KEY, "verdict", "ratio", "ci_low", "ci_high", "p_value", "base_median_ms",
           "new_median_ms", "base_n", "new_n", "base_status", "new_status", "note"]
_VERDICT_ORDER = {"slower": 0, "faster": 1, "same": 2}


@dataclass(frozen=True)
class SampleComparison:
    """The change between two sets of iteration times of one case."""

    base_median: float
    new_median: float
    ratio: float
    ci_low: float
    ci_high: float
    p_value: float
    verdict: str


def verdict(ratio: float, p_value: float, threshold: float, alpha: float = ALPHA) -> str:
    """'slower' or 'faster' only when the change is significant and beyond the threshold."""
    if not p_value < alpha:  # also catches NaN (no test possible)
        return "same"
    if ratio > 1 + threshold:
        return "slower"
    if ratio < 1 - threshold:
        return "faster"
    return "same"


def compare_samples(base: np.ndarray, new: np.ndarray, threshold: float,
                    alpha: float = ALPHA) -> SampleComparison:
    """Ratio of medians with its interval, Mann-Whitney p-value and verdict for one case."""
    base, new = np.asarray(base, dtype=float), np.asarray(new, dtype=float)
    if len(base) == 0 or len(new) == 0:
        raise ValueError("both sample sets need at least one value")
    base_median, new_median = float(np.median(base)), float(np.median(new))
    base_low, base_high = median_ci(base)
    new_low, new_high = median_ci(new)
    p_value = float(mannwhitneyu(base, new, alternative="two-sided").pvalue)
    ratio = new_median / base_median
    return SampleComparison(base_median=base_median, new_median=new_median, ratio=ratio,
                            ci_low=new_low / base_high, ci_high=new_high / base_low,
                            p_value=p_value, verdict=verdict(ratio, p_value, threshold, alpha))


@dataclass
class Comparison:
    """Every case of two runs, matched on `CASE_KEY`, with a verdict where both finished, and
    the cases that stopped finishing."""

    base_id: str
    new_id: str
    threshold: float
    table: pd.DataFrame
    only_in_base: pd.DataFrame
    only_in_new: pd.DataFrame
    #: ok in base, error/crashed/timeout in new or missing from it (status 'missing').
    newly_broken: pd.DataFrame
    #: ok in base, skipped in new: listed, not counted as broken.
    now_skipped: pd.DataFrame
    allow_broken: bool = False
    warnings: list[str] = field(default_factory=list)

    @property
    def has_regression(self) -> bool:
        """Whether a case got significantly slower beyond the threshold."""
        return bool((self.table["verdict"] == "slower").any())

    @property
    def fails_on_broken(self) -> bool:
        """Whether newly broken cases fail the comparison (some exist and are not allowed)."""
        return len(self.newly_broken) > 0 and not self.allow_broken

    @property
    def exit_code(self) -> int:
        """1 when a case got significantly slower beyond the threshold, or a case that finished
        in base is broken or missing in new (unless allowed): either fails CI. Else 0."""
        return 1 if self.has_regression or self.fails_on_broken else 0

    def outcome(self) -> str:
        """The verdict of the whole comparison in words, with the exit code."""
        counts = self.table["verdict"].value_counts()
        allowed = " (allowed)" if self.allow_broken and len(self.newly_broken) else ""
        failing = [what for what, fails in (("a regression", self.has_regression),
                                            ("newly broken cases", self.fails_on_broken))
                   if fails]
        result = f"{' and '.join(failing)} (exit 1)" if failing else "no regression (exit 0)"
        return (f"{counts.get('slower', 0)} slower, {counts.get('faster', 0)} faster, "
                f"{counts.get('same', 0)} same, {len(self.newly_broken)} newly broken{allowed}: "
                f"{result}")

    def format_text(self) -> str:
        """The comparison for a terminal: warnings, broken cases, the table, the rest."""
        lines = [f"Comparing new run '{self.new_id}' against base run '{self.base_id}': "
                 f"ratio = new/base median time; a change is called when Mann-Whitney "
                 f"p < {ALPHA:g} and the median moved more than {self.threshold:.0%}."]
        lines += [f"warning: {warning}" for warning in self.warnings]
        if len(self.newly_broken):
            lines += ["", f"Newly broken ({len(self.newly_broken)}): ok in base, not in new"
                          + (" (allowed)" if self.allow_broken else "")]
            lines += [f"  {_case_name(row)}: {row.status}" + _in_parentheses(row.reason)
                      for row in self.newly_broken.itertuples()]
        if len(self.now_skipped):
            lines += ["", f"Now skipped ({len(self.now_skipped)}): ok in base, skipped in new "
                          "(not counted as broken)"]
            lines += [f"  {_case_name(row)}: skipped" + _in_parentheses(row.reason)
                      for row in self.now_skipped.itertuples()]
        judged = self.table[self.table["verdict"].notna()]
        if len(judged):
            lines += ["", _format_judged(judged).to_string(index=False)]
        unjudged = self.table[self.table["verdict"].isna()]
        if len(unjudged):
            lines += ["", f"Not compared ({len(unjudged)}): did not finish in both runs "
                          "or has no raw samples"]
            lines += [f"  {_case_name(row)}: base {row.base_status}, new {row.new_status}"
                      + _in_parentheses(row.note) for row in unjudged.itertuples()]
        for name, cases in (("base", self.only_in_base), ("new", self.only_in_new)):
            if len(cases):
                lines += ["", f"Only in {name} ({len(cases)}):"]
                lines += [f"  {_case_name(row)} ({row.status})" for row in cases.itertuples()]
        lines += ["", self.outcome()]
        return "\n".join(lines)


def compare_frames(base: pd.DataFrame, new: pd.DataFrame, base_samples: pd.DataFrame,
                   new_samples: pd.DataFrame, threshold: float) -> dict[str, pd.DataFrame]:
    """The case tables of a comparison (pure: frames in), named as `Comparison`'s fields:
    ``table``, ``only_in_base``, ``only_in_new``, ``newly_broken`` and ``now_skipped``."""
    keep = [*CASE_KEY, "case_id", "status", "reason"]
    merged = base[keep].merge(new[keep], on=CASE_KEY, how="outer", suffixes=("_base", "_new"),
                              indicator=True)
    only_base = merged[merged["_merge"] == "left_only"]
    only_new = merged[merged["_merge"] == "right_only"]
    both = merged[merged["_merge"] == "both"]
    base_iters, new_iters = _iterations(base_samples), _iterations(new_samples)
    rows = [_compare_row(case, base_iters, new_iters, threshold) for case in both.itertuples()]
    table = pd.DataFrame(rows, columns=COLUMNS).astype({"base_n": "Int64", "new_n": "Int64"})
    table["rank"] = table["verdict"].map(_VERDICT_ORDER).fillna(len(_VERDICT_ORDER))
    table = table.sort_values(["rank", "ratio"], ascending=[True, False], kind="stable")
    was_ok = both["status_base"].eq("ok").fillna(False)
    skipped = both[was_ok & both["status_new"].eq("skipped").fillna(False)]
    return {"table": table.drop(columns="rank").reset_index(drop=True),
            "only_in_base": _one_side(only_base, "_base"),
            "only_in_new": _one_side(only_new, "_new"),
            "newly_broken": _newly_broken(both[was_ok], only_base),
            "now_skipped": _one_side(skipped, "_new")}


def _newly_broken(was_ok: pd.DataFrame, only_base: pd.DataFrame) -> pd.DataFrame:
    """Cases ok in base (`was_ok`: matched in both runs) that failed in new or are gone."""
    broke = was_ok[was_ok["status_new"].isin(BROKEN_STATUSES).fillna(False)]
    gone = only_base[only_base["status_base"].eq("ok").fillna(False)]
    return pd.concat([
        _one_side(broke, "_new"),
        _one_side(gone, "_base").assign(status="missing", reason="not in the new run"),
    ], ignore_index=True)


def compare_runs(base_dir: Path, new_dir: Path, threshold: float = 0.10, strict: bool = False,
                 allow_broken: bool = False) -> Comparison:
    """Load two runs and compare them; with `strict`, refuse runs that measured differently
    (`harness.report.facts`); with `allow_broken`, newly broken cases are listed, not failed."""
    return compare(load_runs([base_dir]), load_runs([new_dir]), threshold, strict, allow_broken)


def compare(base: RunSet, new: RunSet, threshold: float = 0.10, strict: bool = False,
            allow_broken: bool = False) -> Comparison:
    """Compare two loaded single runs (the report reuses this for its comparison section)."""
    if not 0 <= threshold < 1:
        raise UsageError(f"threshold must be a fraction in [0, 1), e.g. 0.1 for 10%; "
                         f"got {threshold}")
    (base_id, base_manifest), = base.manifests.items()
    (new_id, new_manifest), = new.manifests.items()
    warnings = fact_warnings(base_id, run_facts(base_manifest, base.results),
                             new_id, run_facts(new_manifest, new.results))
    if strict and warnings:
        raise UsageError("refusing to compare (--strict): " + "; ".join(warnings))
    return Comparison(base_id=base_id, new_id=new_id, threshold=threshold,
                      allow_broken=allow_broken, warnings=warnings,
                      **compare_frames(base.results, new.results, base.samples, new.samples,
                                       threshold))


def _iterations(samples: pd.DataFrame) -> dict[str, np.ndarray]:
    iters = samples[samples["metric"] == "iter_ms"]
    return {str(case_id): group["value"].to_numpy()
            for case_id, group in iters.groupby("case_id", sort=False)}


def _compare_row(case: Any, base_iters: Mapping[str, np.ndarray],
                 new_iters: Mapping[str, np.ndarray], threshold: float) -> dict[str, Any]:
    row: dict[str, Any] = {key: getattr(case, key) for key in CASE_KEY}
    row.update(base_status=case.status_base, new_status=case.status_new, note="")
    if case.status_base != "ok" or case.status_new != "ok":
        row["note"] = _reasons(case)
        return row
    base = base_iters.get(str(case.case_id_base), np.empty(0))
    new = new_iters.get(str(case.case_id_new), np.empty(0))
    row.update(base_n=len(base), new_n=len(new))
    if len(base) == 0 or len(new) == 0:
        row["note"] = "no raw iteration samples in " + ("base" if len(base) == 0 else "new")
        return row
    result = compare_samples(base, new, threshold)
    row.update(base_median_ms=result.base_median, new_median_ms=result.new_median,
               ratio=result.ratio, ci_low=result.ci_low, ci_high=result.ci_high,
               p_value=result.p_value, verdict=result.verdict)
    return row


def _reasons(case: Any) -> str:
    """Why a case did not finish, once when both runs say the same thing."""
    reasons = {side: str(reason) for side, status, reason in (
        ("base", case.status_base, case.reason_base), ("new", case.status_new, case.reason_new))
        if status != "ok" and not pd.isna(reason) and reason}
    if len(reasons) == 2 and len(set(reasons.values())) == 1:
        return reasons["base"]
    return "; ".join(f"{side}: {reason}" for side, reason in reasons.items())


def _one_side(cases: pd.DataFrame, suffix: str) -> pd.DataFrame:
    columns = {f"{name}{suffix}": name for name in ("case_id", "status", "reason")}
    return cases[[*CASE_KEY, *columns]].rename(columns=columns).reset_index(drop=True)


def _in_parentheses(text: object) -> str:
    return "" if pd.isna(text) or not text else f" ({text})"


def _case_name(row: Any) -> str:
    return f"{row.suite} · {row.size} · {row.backend} · {row.phase} · bs {row.batch_size}"


def _format_judged(judged: pd.DataFrame) -> pd.DataFrame:
    def num(value: float, spec: str) -> str:
        return "n/a" if pd.isna(value) else f"{value:{spec}}"

    return pd.DataFrame({
        "case": [_case_name(row) for row in judged.itertuples()],
        "base ms": [num(v, ".4g") for v in judged["base_median_ms"]],
        "new ms": [num(v, ".4g") for v in judged["new_median_ms"]],
        "new/base": [num(v, ".3f") for v in judged["ratio"]],
        "CI (>=98%)": [f"[{num(lo, '.3f')}, {num(hi, '.3f')}]"
                       for lo, hi in zip(judged["ci_low"], judged["ci_high"], strict=True)],
        "p": [num(v, ".2g") for v in judged["p_value"]],
        "verdict": judged["verdict"],
    })
