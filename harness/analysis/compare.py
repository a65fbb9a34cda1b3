"""Compare two runs case by case and call a change only when it is both real and large.

The unit of replication is the process, not the iteration. On a shared machine fresh processes
of one case differ by 30-50% (memory layout, thread placement, other tenants) while the
iterations of one process differ by a few percent, so iterations pooled across a run are not
independent samples, and a test on them finds "p = 1e-129" between two identical runs. Each
case is therefore timed in P fresh processes, and compared through its process medians
(`harness.measure.stats` derives the model: log-normal process medians, analysed as
cluster means).

**The rule.** Per case, each process's median iteration time; then

* **with >= 2 processes in both runs**: effect = ratio of centers, new / base, a center being
  the geometric mean of the process medians. Its interval and p-value come from Welch's t test
  on the log process medians, or, when the two runs are the two arms of one ``archbench ab``
  experiment (each manifest's ``ab.pair`` names the other run) and the case has the same
  process indices in both, from a paired t test on log(new_r / base_r): base and new process r
  ran back to back, so a drift of the machine shared by the round cancels. The interval is the
  (1 - alpha) t interval, which excludes 1 exactly when p < alpha. Method ``welch`` or
  ``paired``. A run with a precision budget planned each case's processes from its first
  rounds (its rows' ``ci_first_stage``); Welch's test counts that side's degrees of freedom
  from those, as its interval does (`harness.measure.precision`: A/A false alarms stay at
  their level under the rule).
* **with 1 process in either run** (runs from before processes were recorded, or
  ``processes = 1``): today's method, Mann-Whitney U on the iterations, p < 0.01, with the
  interval ``[new_low / base_high, new_high / base_low]`` from the two distribution-free 99%
  intervals of the medians (>= 98%). Method ``iterations``; the row's note and a warning of the
  comparison say that one process cannot show the spread between processes, so its verdict may
  be a false alarm.
* **verdict**: ``slower`` / ``faster`` only when p < alpha *and* the ratio is beyond the
  threshold (default 10%) either way; otherwise ``same``. Cases that did not finish in one of
  the runs get no verdict: they are listed with their status instead.

**Why alpha = 0.05 for the process tests.** The acceptance targets are at most 5% false alarms
per case comparison between identical runs (A/A) and a 25% slowdown called in at least 90% of
comparisons. A false alarm needs p < alpha *and* a ratio beyond the threshold, so alpha bounds
the A/A rate whatever the spread, and the threshold cuts it far below alpha where processes
spread by less than the threshold. alpha = 0.01 is too strict for P = 3: three medians per side
leave a t test about 4 degrees of freedom, and the 25% slowdown would be called in only about
half of the comparisons at a 5% between-process CV. Simulated with `compare_medians`
(log-normal process medians, threshold 10%, 20,000 comparisons per cell, P processes per run;
CV = the between-process coefficient of variation; "shared" = the share of the variance that
the two runs' processes of one round have in common, i.e. a drift of the machine):

    ======  ==  ======  =======================  =========================
    method  P   shared  A/A false alarms         25% slowdown called
                        CV 3% / 5% / 8%          CV 3% / 5% / 8%
    ======  ==  ======  =======================  =========================
    welch   3   0       0.0% / 0.5% / 2.2%       100.0% / 93.6% / 61.3%
    welch   5   0       0.0% / 0.2% / 2.4%       100.0% / 100.0% / 96.1%
    welch   3   3/4     0.0% / 0.0% / 0.0%       100.0% / 97.5% / 71.3%
    paired  3   3/4     0.0% / 0.0% / 0.1%       100.0% / 99.8% / 90.3%
    paired  3   0       0.0% / 0.4% / 2.2%       98.5% / 77.7% / 45.8%
    ======  ==  ======  =======================  =========================

Without the threshold, Welch's A/A rate is 3.6% at P = 3 (it is conservative with three
medians a side), at most alpha in any case. So P = 3 meets both targets up to a CV of about 5%;
at a CV of 8% it needs P = 5, or paired rounds that share most of the spread (pairing halves
the degrees of freedom, and wins only then). `harness.measure.stats.detectable_change` gives
the change a machine can detect from its measured CVs, for the ``selftest`` command. Across a
sweep the expected number of false alarms is the per-case rate times the number of cases.

**Why ratios and medians.** Medians ignore the odd descheduled iteration that drags a mean; a
ratio is unitless, so one threshold ("10% slower") fits a 50 us and a 5 s case.

**Many cases at once: ``family_wise``.** Each case's test keeps its false alarms below alpha,
so a gate over K cases raises a false alarm somewhere in up to K x alpha of identical runs: 36
benchmarks at a 2% per-case rate fail half of all A/A runs. A gate that judges a whole run
(``archbench ci``) therefore adjusts the p-values of the compared cases together, by
Benjamini-Hochberg (scipy's ``false_discovery_control``): when nothing changed, the chance that
any case is called stays below alpha for the whole run (BH controls the family-wise rate when
every null hypothesis is true and the tests are independent or positively dependent). What it
cannot remove is a drift that moves a whole run: the per-case tests assume process medians
independent across runs, and on the 2-core VM they called 5.2% of 756 A/A benchmark comparisons
(docs/measurements.md, "The CI gate"), above their nominal 5%; the threshold and the
adjustment together called none. When some cases did change, BH keeps more power than
Bonferroni or Holm, since it bounds the share of false calls among the calls rather than the
chance of one. The adjusted p-value is the row's ``p_adjusted``, and the verdict uses it; the
interval stays the case's own (1 - alpha) interval.

A gate must also fail on a case that stopped working, which no timing can show: a case ``ok``
in base that is ``error``, ``crashed`` or ``timeout`` in new, or absent from new, is *newly
broken* and fails the comparison like a regression, unless ``allow_broken``. A case ``ok`` in
base and ``skipped`` in new is not broken: a skip is decided before anything runs (a backend
this machine cannot run, a phase the backend lacks), so it says where the run ran, not that
the code broke; it is listed as *now skipped*, so that lost coverage is still seen.

**Energy** is judged as time is, lower being better: where both runs read a case's energy per
sample (`harness.measure.energy`: one reading per process), its process readings take the place
of the process medians, with the same test, threshold and adjustment (over the energy rows
alone), at least 2 processes a side. More energy beyond the threshold fails the comparison as
a slowdown does; a run without an energy counter (a VM) has no energy rows, never a verdict.

Numbers from different machines, libraries, thread counts or timing rules differ for those
reasons alone, so the comparison warns about each such difference, and ``strict`` refuses it
(`harness.analysis.facts`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control, mannwhitneyu

from harness.analysis.facts import fact_warnings, run_facts
from harness.errors import UsageError
from harness.measure.energy import ENERGY_METRIC
from harness.measure.precision import first_stage_of
from harness.measure.stats import CONFIDENCE, log_ratio_test, median_ci, process_level
from harness.results.runs import CASE_KEY, RunSet, case_name, load_runs

#: Per side of a comparison, the processes a precision budget planned the others from, or None
#: (`harness.measure.precision`): Welch's degrees of freedom count those.
FirstStages = tuple[int | None, int | None]
#: Significance level of the tests between processes (Welch, paired): see the module docstring.
ALPHA = 0.05
#: Significance level of Mann-Whitney on the iterations of one process (today's method, kept).
ITERATIONS_ALPHA = 0.01
#: Statuses of a case that was run and did not finish (`skipped` was never run).
BROKEN_STATUSES = ("error", "crashed", "timeout", "oom")

#: The samples a case's time is compared on: its iteration times, per process.
TIME_METRIC = "iter_ms"
#: What an energy row's verdict says, for the time table's verdict of the same change.
ENERGY_VERDICTS = {"slower": "more", "faster": "less", "same": "same"}
ENERGY_COLUMNS = [*CASE_KEY, "verdict", "ratio", "ci_low", "ci_high", "p_value", "p_adjusted",
                  "base_j_per_sample", "new_j_per_sample", "base_processes", "new_processes",
                  "method"]

#: Verdict first: it is what a reader scans for; the evidence follows. `peak_load`: the case's
#: number is 1000 / its peak rate (a server case searching its peak, `harness.scenarios.
#: serving`), judged as a time (a lower peak is slower) and shown as the peak it is.
COLUMNS = [*CASE_KEY, "verdict", "ratio", "ci_low", "ci_high", "p_value", "p_adjusted",
           "base_median_ms",
           "new_median_ms", "base_n", "new_n", "base_processes", "new_processes", "method",
           "base_status", "new_status", "peak_load", "note"]
#: How a peak-load row's verdict reads in a table.
PEAK_VERDICTS = {"slower": "slower: lower peak", "faster": "faster: higher peak"}
_VERDICT_ORDER = {"slower": 0, "faster": 1, "same": 2}
#: The row's note when a run timed the case in one process.
ONE_PROCESS_NOTE = ("one process in {sides}: the spread between fresh processes is unknown, so "
                    "this verdict may be a false alarm")


@dataclass(frozen=True)
class SampleComparison:
    """The change between two runs' times of one case, and how it was tested."""

    #: the centers compared: geometric mean of process medians, or median of the iterations
    base_median: float
    new_median: float
    ratio: float
    ci_low: float
    ci_high: float
    p_value: float
    verdict: str
    #: "welch", "paired" (between processes) or "iterations" (one process, Mann-Whitney)
    method: str


def describe_rule(threshold: float, family_wise: bool = False) -> str:
    """The rule a verdict follows, in one paragraph, for the text output and the report."""
    adjusted = (" The p-values of all compared cases are adjusted together "
                "(Benjamini-Hochberg), so that a run of identical code fails about "
                f"{ALPHA:g} of the time at most, however many cases it has." if family_wise
                else "")
    return (f"ratio = new/base time of a case: the geometric mean of its process medians (the "
            f"median of its iterations with one process). A change is called when the ratio "
            f"is beyond ±{threshold:.0%} and significant: Welch's t test on the log process "
            f"medians (paired by round for the two runs of an ab experiment), p < {ALPHA:g}, "
            f"interval {1 - ALPHA:.0%}; with one process in a run, Mann-Whitney U on the "
            f"iterations, p < {ITERATIONS_ALPHA:g}, interval >= {2 * CONFIDENCE - 1:.0%}."
            + adjusted)


def verdict(ratio: float, p_value: float, threshold: float, alpha: float = ALPHA) -> str:
    """'slower' or 'faster' only when the change is significant and beyond the threshold."""
    if not p_value < alpha:  # also catches NaN (no test possible)
        return "same"
    if ratio > 1 + threshold:
        return "slower"
    if ratio < 1 - threshold:
        return "faster"
    return "same"


def compare_medians(base_medians: Sequence[float], new_medians: Sequence[float],
                    threshold: float, paired: bool = False, alpha: float = ALPHA,
                    first_stages: FirstStages = (None, None)) -> SampleComparison:
    """Ratio of centers with its (1 - alpha) interval, the t test's p-value and the verdict, from
    the process medians of one case in two runs (>= 2 each; `paired`: same order, same rounds;
    `first_stages`: per side, the processes a precision budget planned the rest from)."""
    test = log_ratio_test(base_medians, new_medians, level=1 - alpha, paired=paired,
                          first_stages=first_stages)
    return SampleComparison(base_median=process_level(base_medians).center,
                            new_median=process_level(new_medians).center, ratio=test.ratio,
                            ci_low=test.ci_low, ci_high=test.ci_high, p_value=test.p_value,
                            verdict=verdict(test.ratio, test.p_value, threshold, alpha),
                            method="paired" if paired else "welch")


def compare_samples(base: np.ndarray, new: np.ndarray, threshold: float,
                    alpha: float = ITERATIONS_ALPHA) -> SampleComparison:
    """Ratio of medians with its interval, Mann-Whitney p-value and verdict for one case, from
    iteration times treated as independent: right only within one process (module docstring)."""
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
                            p_value=p_value, verdict=verdict(ratio, p_value, threshold, alpha),
                            method="iterations")


def compare_processes(base: Mapping[int, np.ndarray], new: Mapping[int, np.ndarray],
                      threshold: float, paired: bool = False,
                      first_stages: FirstStages = (None, None)) -> tuple[SampleComparison, str]:
    """One case's comparison from its iteration times per process index, by the module's rule,
    and the row's note (empty when there is nothing to add).

    `paired` says the runs are the two arms of one ab experiment; the case is compared paired
    only if both timed the same process indices (process r of each ran in round r).
    """
    if min(len(base), len(new)) < 2:
        sides = " and ".join(side for side, processes in (("base", base), ("new", new))
                             if len(processes) < 2)
        pooled = [np.concatenate(list(processes.values())) for processes in (base, new)]
        return compare_samples(*pooled, threshold), ONE_PROCESS_NOTE.format(sides=sides)
    pair = paired and set(base) == set(new)
    note = "" if pair or not paired else (
        f"ab runs, but base timed processes {sorted(base)} and new {sorted(new)}: unpaired")
    base_medians, new_medians = (
        [float(np.median(processes[index])) for index in sorted(processes)]
        for processes in (base, new))
    return compare_medians(base_medians, new_medians, threshold, paired=pair,
                           first_stages=first_stages), note


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
    #: energy per sample of the cases whose processes read it in both runs (`ENERGY_COLUMNS`;
    #: verdict more / less / same): judged as time is, lower is better
    energy: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=ENERGY_COLUMNS))
    allow_broken: bool = False
    warnings: list[str] = field(default_factory=list)
    #: the cases' p-values were adjusted together (module docstring)
    family_wise: bool = False

    @property
    def has_regression(self) -> bool:
        """Whether a case got significantly slower, or took more energy per sample, beyond
        the threshold."""
        return bool((self.table["verdict"] == "slower").any()
                    or (self.energy["verdict"] == "more").any())

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
        energy = self.energy["verdict"].value_counts()
        joules = (f"; energy: {energy.get('more', 0)} more, {energy.get('less', 0)} less, "
                  f"{energy.get('same', 0)} same" if len(self.energy) else "")
        return (f"{counts.get('slower', 0)} slower, {counts.get('faster', 0)} faster, "
                f"{counts.get('same', 0)} same, {len(self.newly_broken)} newly broken{allowed}"
                f"{joules}: {result}")

    def format_text(self, only_changes: bool = False) -> str:
        """The comparison for a terminal: warnings, broken cases, the table, the rest;
        `only_changes`: the table holds the cases called slower or faster, and a count of
        the others (a CI log, where 40 unchanged rows hide the one that matters)."""
        lines = [f"Comparing new run '{self.new_id}' against base run '{self.base_id}': "
                 + describe_rule(self.threshold, self.family_wise)]
        lines += [f"warning: {warning}" for warning in self.warnings]
        if len(self.newly_broken):
            lines += ["", f"Newly broken ({len(self.newly_broken)}): ok in base, not in new"
                          + (" (allowed)" if self.allow_broken else "")]
            lines += [f"  {case_name(row)}: {row.status}" + _in_parentheses(row.reason)
                      for row in self.newly_broken.itertuples()]
        if len(self.now_skipped):
            lines += ["", f"Now skipped ({len(self.now_skipped)}): ok in base, skipped in new "
                          "(not counted as broken)"]
            lines += [f"  {case_name(row)}: skipped" + _in_parentheses(row.reason)
                      for row in self.now_skipped.itertuples()]
        judged = self.table[self.table["verdict"].notna()]
        if only_changes:
            unchanged = int((judged["verdict"] == "same").sum())
            judged = judged[judged["verdict"] != "same"]
            lines += ["", f"{unchanged} compared cases unchanged (not listed)"]
        if len(judged):
            lines += ["", format_judged(judged).to_string(index=False)]
        energy = self.energy[self.energy["verdict"] != "same"] if only_changes else self.energy
        if len(self.energy):
            lines += ["", f"Energy per sample ({len(self.energy)} cases read it in both runs"
                          + (f"; {len(self.energy) - len(energy)} unchanged not listed"
                             if only_changes else "") + "):"]
            lines += [format_energy(energy).to_string(index=False)] if len(energy) else []
        unjudged = self.table[self.table["verdict"].isna()]
        if len(unjudged):
            lines += ["", f"Not compared ({len(unjudged)}): did not finish in both runs "
                          "or has no raw samples"]
            lines += [f"  {case_name(row)}: base {row.base_status}, new {row.new_status}"
                      + _in_parentheses(row.note) for row in unjudged.itertuples()]
        for name, cases in (("base", self.only_in_base), ("new", self.only_in_new)):
            if len(cases):
                lines += ["", f"Only in {name} ({len(cases)}):"]
                lines += [f"  {case_name(row)} ({row.status})" for row in cases.itertuples()]
        lines += ["", self.outcome()]
        return "\n".join(lines)


def compare_frames(base: pd.DataFrame, new: pd.DataFrame, base_samples: pd.DataFrame,
                   new_samples: pd.DataFrame, threshold: float, paired: bool = False,
                   family_wise: bool = False) -> dict[str, pd.DataFrame]:
    """The case tables of a comparison (pure: frames in), named as `Comparison`'s fields:
    ``table``, ``energy``, ``only_in_base``, ``only_in_new``, ``newly_broken`` and
    ``now_skipped``; `paired`: the runs are the two arms of one ab experiment
    (`compare_processes`); `family_wise`: the verdicts use p-values adjusted over all cases
    (module docstring)."""
    tables = _judged_frames(base, new, base_samples, new_samples, threshold, paired,
                            family_wise, TIME_METRIC)
    energy = _judged_frames(base, new, base_samples, new_samples, threshold, paired,
                            family_wise, ENERGY_METRIC)["table"]
    return {**tables, "energy": _energy_table(energy)}


def _energy_table(judged: pd.DataFrame) -> pd.DataFrame:
    """Energy per sample judged as time is, on the cases whose processes read it in both runs,
    at least 2 a side: one reading per process has no iterations to fall back on."""
    energy = judged[judged["method"].isin(("welch", "paired"))]
    return energy.rename(columns={"base_median_ms": "base_j_per_sample",
                                  "new_median_ms": "new_j_per_sample"}) \
        .assign(verdict=energy["verdict"].map(ENERGY_VERDICTS))[ENERGY_COLUMNS] \
        .reset_index(drop=True)


def _judged_frames(base: pd.DataFrame, new: pd.DataFrame, base_samples: pd.DataFrame,
                   new_samples: pd.DataFrame, threshold: float, paired: bool,
                   family_wise: bool, metric: str) -> dict[str, pd.DataFrame]:
    """`compare_frames`' tables, the cases judged on `metric`'s samples."""
    keep = [*CASE_KEY, "case_id", "status", "reason", "ci_first_stage", "peak_qps"]
    merged = base.reindex(columns=keep).merge(new.reindex(columns=keep), on=CASE_KEY, how="outer",
                                              suffixes=("_base", "_new"), indicator=True)
    only_base = merged[merged["_merge"] == "left_only"]
    only_new = merged[merged["_merge"] == "right_only"]
    both = merged[merged["_merge"] == "both"]
    base_iters, new_iters = _by_process(base_samples, metric), _by_process(new_samples, metric)
    rows = [_compare_row(case, base_iters, new_iters, threshold, paired)
            for case in both.itertuples()]
    table = pd.DataFrame(rows, columns=COLUMNS).astype(
        {column: "Int64" for column in ("base_n", "new_n", "base_processes", "new_processes")})
    if family_wise:
        table = adjust_family_wise(table, threshold)
    table["rank"] = table["verdict"].map(_VERDICT_ORDER).fillna(len(_VERDICT_ORDER))
    table = table.sort_values(["rank", "ratio"], ascending=[True, False], kind="stable")
    was_ok = both["status_base"].eq("ok").fillna(False)
    skipped = both[was_ok & both["status_new"].eq("skipped").fillna(False)]
    return {"table": table.drop(columns="rank").reset_index(drop=True),
            "only_in_base": _one_side(only_base, "_base"),
            "only_in_new": _one_side(only_new, "_new"),
            "newly_broken": _newly_broken(both[was_ok], only_base),
            "now_skipped": _one_side(skipped, "_new")}


def adjust_family_wise(table: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """The table with each compared case's p-value adjusted over all of them
    (Benjamini-Hochberg) in ``p_adjusted``, and its verdict judged on that (pure)."""
    table = table.copy()
    judged = table["p_value"].notna()
    if not judged.any():
        return table
    table.loc[judged, "p_adjusted"] = false_discovery_control(
        table.loc[judged, "p_value"].astype(float).to_numpy(), method="bh")
    table.loc[judged, "verdict"] = [
        verdict(row.ratio, row.p_adjusted, threshold,
                ITERATIONS_ALPHA if row.method == "iterations" else ALPHA)
        for row in table[judged].itertuples()]
    return table


def _newly_broken(was_ok: pd.DataFrame, only_base: pd.DataFrame) -> pd.DataFrame:
    """Cases ok in base (`was_ok`: matched in both runs) that failed in new or are gone."""
    broke = was_ok[was_ok["status_new"].isin(BROKEN_STATUSES).fillna(False)]
    gone = only_base[only_base["status_base"].eq("ok").fillna(False)]
    return pd.concat([
        _one_side(broke, "_new"),
        _one_side(gone, "_base").assign(status="missing", reason="not in the new run"),
    ], ignore_index=True)


def compare_runs(base_dir: Path, new_dir: Path, threshold: float = 0.10, strict: bool = False,
                 allow_broken: bool = False, family_wise: bool = False) -> Comparison:
    """Load two runs and compare them; with `strict`, refuse runs that measured differently
    (`harness.analysis.facts`); with `allow_broken`, newly broken cases are listed, not failed;
    with `family_wise`, p-values are adjusted over all cases (module docstring)."""
    return compare(load_runs([base_dir]), load_runs([new_dir]), threshold, strict, allow_broken,
                   family_wise)


def compare(base: RunSet, new: RunSet, threshold: float = 0.10, strict: bool = False,
            allow_broken: bool = False, family_wise: bool = False) -> Comparison:
    """Compare two loaded single runs (the report reuses this for its comparison section)."""
    if not 0 <= threshold < 1:
        raise UsageError(f"threshold must be a fraction in [0, 1), e.g. 0.1 for 10%; "
                         f"got {threshold}")
    (base_id, base_manifest), = base.manifests.items()
    (new_id, new_manifest), = new.manifests.items()
    warnings = fact_warnings(base_id, run_facts(base_manifest, base.results),
                             new_id, run_facts(new_manifest, new.results))
    warnings += _unrecorded_scenario_warning(base_id, base.results, new_id, new.results)
    if strict and warnings:
        raise UsageError("refusing to compare (--strict): " + "; ".join(warnings))
    tables = compare_frames(base.results, new.results, base.samples, new.samples, threshold,
                            paired=_ab_pair(base_id, base_manifest, new_id, new_manifest),
                            family_wise=family_wise)
    # Not a reason for --strict to refuse: the runs measured alike, only too few processes.
    warnings += _one_process_warning(tables["table"])
    return Comparison(base_id=base_id, new_id=new_id, threshold=threshold,
                      allow_broken=allow_broken, warnings=warnings, family_wise=family_wise,
                      **tables)


def _unrecorded_scenario_warning(base_id: str, base: pd.DataFrame, new_id: str,
                                 new: pd.DataFrame) -> list[str]:
    """Why nothing matched, when one run records no scenario and the other does.

    Cases match on their scenario (`CASE_KEY`), and a run written before scenarios existed has
    none, so none of its cases matches a newer run's: every case lands in the "only in" lists
    and the finished ones of base count as newly broken. Said once, up front, rather than left
    for a reader to infer from a list of every case.
    """
    silent = [run_id for run_id, results in ((base_id, base), (new_id, new))
              if len(results) and results["scenario"].isna().all()]
    if len(silent) != 1:
        return []
    return [f"run '{silent[0]}' records no scenario (it was written before scenarios existed), "
            "so none of its cases matches a case of the other run; compare runs that both "
            "record their scenarios"]


def _ab_pair(base_id: str, base_manifest: Mapping[str, Any], new_id: str,
             new_manifest: Mapping[str, Any]) -> bool:
    """Whether the runs are the two arms of one ab experiment: each manifest's ``ab.pair``
    names the other run, so their process r ran in the same round."""
    base_ab, new_ab = base_manifest.get("ab"), new_manifest.get("ab")
    return (isinstance(base_ab, Mapping) and isinstance(new_ab, Mapping)
            and base_ab.get("pair") == new_id and new_ab.get("pair") == base_id)


def _one_process_warning(table: pd.DataFrame) -> list[str]:
    judged = table["method"].notna()
    count = int((table["method"] == "iterations").sum())
    if not count:
        return []
    return [f"{count} of {int(judged.sum())} compared cases were timed in one process in a run: "
            f"the iterations of one process cannot show how much fresh processes differ "
            f"(often 30-50% on a shared machine), so a verdict on them may be a false alarm; "
            f"time each case in several processes (archbench run --processes 3)"]


def _by_process(samples: pd.DataFrame, metric: str = TIME_METRIC
                ) -> dict[str, dict[int, np.ndarray]]:
    """Each case's `metric` samples (iteration times, or a process's energy reading) by
    process index. Samples from before processes were recorded have no ``process`` column (or
    NA in it): all their iterations are process 0."""
    iters = samples[samples["metric"] == metric]
    process = (iters["process"] if "process" in iters else pd.Series(0, index=iters.index))
    cases: dict[str, dict[int, np.ndarray]] = {}
    for (case_id, index), group in iters.groupby(
            [iters["case_id"].astype(str), process.fillna(0).astype(int)], sort=True):
        cases.setdefault(case_id, {})[int(index)] = group["value"].to_numpy()
    return cases


def _compare_row(case: Any, base_iters: Mapping[str, Mapping[int, np.ndarray]],
                 new_iters: Mapping[str, Mapping[int, np.ndarray]], threshold: float,
                 paired: bool) -> dict[str, Any]:
    row: dict[str, Any] = {key: getattr(case, key) for key in CASE_KEY}
    row.update(base_status=case.status_base, new_status=case.status_new, note="",
               peak_load=bool(pd.notna(case.peak_qps_base) or pd.notna(case.peak_qps_new)))
    if case.status_base != "ok" or case.status_new != "ok":
        row["note"] = _reasons(case)
        return row
    base = base_iters.get(str(case.case_id_base), {})
    new = new_iters.get(str(case.case_id_new), {})
    row.update(base_n=sum(map(len, base.values())), new_n=sum(map(len, new.values())),
               base_processes=len(base), new_processes=len(new))
    if not base or not new:
        row["note"] = "no raw iteration samples in " + ("base" if not base else "new")
        return row
    result, note = compare_processes(base, new, threshold, paired, (
        first_stage_of(case.ci_first_stage_base), first_stage_of(case.ci_first_stage_new)))
    row.update(base_median_ms=result.base_median, new_median_ms=result.new_median,
               ratio=result.ratio, ci_low=result.ci_low, ci_high=result.ci_high,
               p_value=result.p_value, verdict=result.verdict, method=result.method, note=note)
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


def format_energy(energy: pd.DataFrame) -> pd.DataFrame:
    """The energy rows as text columns (terminal and markdown tables)."""
    return format_judged(energy.rename(columns={"base_j_per_sample": "base_median_ms",
                                                "new_j_per_sample": "new_median_ms"})) \
        .rename(columns={"base ms": "base J/sample", "new ms": "new J/sample"})


def format_judged(judged: pd.DataFrame) -> pd.DataFrame:
    """The compared cases as text columns (terminal and markdown tables)."""
    def num(value: float, spec: str) -> str:
        return "n/a" if pd.isna(value) else f"{value:{spec}}"

    def measured(value: float, peak: bool) -> str:
        """A time as it is; a peak row's number (1000 / the peak) as the peak rate."""
        return num(value, ".4g") if not peak or pd.isna(value) else f"{1e3 / value:.4g} q/s"

    peak = (judged["peak_load"].fillna(False).astype(bool) if "peak_load" in judged
            else pd.Series(False, index=judged.index))
    adjusted = ({"p (BH)": [num(v, ".2g") for v in judged["p_adjusted"]]}
                if judged["p_adjusted"].notna().any() else {})
    return pd.DataFrame({
        "case": [case_name(row) for row in judged.itertuples()],
        "base ms": [measured(v, p) for v, p in zip(judged["base_median_ms"], peak, strict=True)],
        "new ms": [measured(v, p) for v, p in zip(judged["new_median_ms"], peak, strict=True)],
        "new/base": [num(v, ".3f") for v in judged["ratio"]],
        "CI": [f"[{num(lo, '.3f')}, {num(hi, '.3f')}]"
               for lo, hi in zip(judged["ci_low"], judged["ci_high"], strict=True)],
        "p": [num(v, ".2g") for v in judged["p_value"]],
        **adjusted,
        "method": judged["method"],
        "verdict": [PEAK_VERDICTS.get(v, v) if p else v
                    for v, p in zip(judged["verdict"], peak, strict=True)],
    })
