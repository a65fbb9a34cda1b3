"""Build a report: load runs, derive the tables, draw the figures, write the page and the CSVs.

This is the only module of `report` that writes files. The sentences under the figures live
here, next to the list of sections, so that the page reads top to bottom in one place.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from harness.analysis.compare import Comparison, compare, describe_rule
from harness.measure.contention import run_warning
from harness.report import (
    cost_figures,
    cost_tables,
    figures,
    profile_figures,
    profile_tables,
    serving_figures,
    serving_tables,
    ship_tables,
    tables,
)
from harness.report.page import Section, Table, render_page
from harness.results.runs import RunSet, backend_rank, load_runs


def write_report(run_dirs: Sequence[Path], out_dir: Path, baseline: str = "cpu-eager",
                 threshold: float = 0.10) -> Path:
    """Write ``index.html`` and one CSV per table into `out_dir`; return the page's path.

    With exactly two runs the page also compares them (the first is the base). A baseline
    backend that is in none of the runs is replaced by the first backend present in reading
    order, and the page says so, so that a default baseline never empties the speedup figures
    of a sweep that did not include it.
    """
    runs = load_runs(run_dirs)
    baseline, notes = _choose_baseline(runs.results, baseline)
    notes += contention_warnings(runs.results)
    comparison = None
    if len(runs.run_ids) == 2:
        base_id, new_id = runs.run_ids
        comparison = compare(runs.only(base_id), runs.only(new_id), threshold)
    out_dir = Path(out_dir)
    sections, csvs = _sections(runs, baseline, comparison, notes)
    if not profile_tables.profiled_cases(runs.results).empty:  # only where a run was profiled
        profile_sections, profile_csvs = _profile_sections(runs, out_dir)
        at = [s.id for s in sections].index("speedup") + 1
        sections[at:at] = profile_sections
        csvs.update(profile_csvs)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, frame in csvs.items():
        frame.to_csv(out_dir / name, index=False)
    title = "archbench report: " + " vs ".join(runs.run_ids)
    page = out_dir / "index.html"
    tmp = page.with_suffix(".html.tmp")
    tmp.write_text(render_page(title, _meta(runs, baseline), sections), encoding="utf-8")
    os.replace(tmp, page)
    return page


def _choose_baseline(results: pd.DataFrame, baseline: str) -> tuple[str, list[str]]:
    present = sorted(results["backend"].dropna().unique(), key=backend_rank)
    if baseline in present or not present:
        return baseline, []
    chosen = present[0]
    return chosen, [f"baseline backend '{baseline}' is not in these runs; speedups are "
                    f"relative to '{chosen}' instead"]


def contention_warnings(results: pd.DataFrame) -> list[str]:
    """Per run, a warning when some of its cases were timed while the machine was busy."""
    warnings = []
    for run_id, rows in results.groupby("run_id", sort=False):
        ok = rows[rows["status"] == "ok"]
        warning = run_warning(ok["other_cpu_pct"].astype(float).tolist(),
                              ok["steal_pct"].astype(float).tolist())
        if warning:
            warnings.append(f"run {run_id}: {warning} (hover a cell for the case's note)")
    return warnings


def _meta(runs: RunSet, baseline: str) -> list[str]:
    lines = []
    for run_id in runs.run_ids:
        statuses = runs.results.loc[runs.results["run_id"] == run_id, "status"].value_counts()
        counts = ", ".join(f"{count} {status}" for status, count in statuses.items())
        lines.append(f"run {run_id}: {statuses.sum()} cases ({counts or 'none'})")
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines.append(f"baseline backend: {baseline} · generated {generated}")
    return lines


def _sections(runs: RunSet, baseline: str, comparison: Comparison | None,
              notes: list[str]) -> tuple[list[Section], dict[str, pd.DataFrame]]:
    """Every section in page order, and the CSV files (name → table) they link to."""
    results = runs.results
    summary = tables.summary_table(results)
    latency = tables.latency_table(results, runs.samples)
    sweeps = tables.batch_sweep_table(results, runs.samples)
    loads = serving_tables.load_curve_table(results, runs.samples)
    peaks = serving_tables.peak_load_table(results)
    speedup = tables.speedup_table(results, baseline)
    memory = tables.memory_table(results)
    accuracy = tables.accuracy_table(results)
    cold = tables.cold_start_table(results)
    ship = ship_tables.ship_table(results)
    tradeoff = tables.tradeoff_table(results, baseline)
    failures = tables.failures_table(results)
    costs = cost_tables.cost_table(results)
    environment = tables.environment_table(runs.manifests)
    csvs = {"summary.csv": summary, "latency.csv": latency, "speedup.csv": speedup,
            "memory.csv": memory, "accuracy.csv": accuracy, "cold_start.csv": cold,
            "ship.csv": ship,
            "tradeoff.csv": tradeoff, "failures.csv": failures, "environment.csv": environment,
            "batch_sweep.csv": sweeps, "load_curves.csv": loads, "peak_load.csv": peaks,
            "cost.csv": costs}
    never = tables.never_ran(summary)
    ran = summary[~summary["backend"].isin([b for names in never["backends"] for b in names])]
    notes = notes + [f"ran nowhere in {'these runs' if len(runs.run_ids) > 1 else 'this run'} "
                     f"({row.cases} cases skipped; not drawn below): "
                     f"{', '.join(row.backends)}: {row.reason}" for row in never.itertuples()]
    sections = [Section(
        "summary", "Summary: fastest backend per model",
        "Each row is one model at one size, each column a backend. The number is throughput in "
        "samples per second; the colour is its share of the row's best, so the darkest cell "
        "(★) is the fastest backend for that model. Each number comes from several fresh "
        "processes of the case; ~ marks a noisy one (the iterations of a process, or the "
        "processes themselves, differ by more than 10%; hover for which, and for what else the "
        "machine was doing). Grey cells did not finish: hover for the status and the reason. "
        "The dropdown switches phase, scenario and batch size.",
        figures.summary_figure(ran), (Table(summary, "every case", collapsed=True),),
        ("summary.csv",), notes)]
    if comparison is not None:
        section, comparison_csvs = _comparison_section(comparison)
        sections.append(section)
        csvs.update(comparison_csvs)
    sections += [
        Section("throughput", "Throughput vs model size",
                "Each line is one backend on one suite, joining that suite's sizes (marker "
                "shape is the suite). Higher is faster; a line that falls more steeply than "
                "the others scales worse with model size. Both axes are logarithmic, so equal "
                "distances are equal ratios. Hover for FLOPs per sample.",
                figures.throughput_figure(summary), csv=("summary.csv",)),
        Section("latency", "Latency distributions",
                "Each box is the distribution of one case's timed iterations: the box spans "
                "the middle half, the line inside is the median, the whiskers reach the "
                "furthest iteration within 1.5 interquartile ranges. A wide box is a noisy "
                "number; n is how many iterations were timed. The axis is logarithmic.",
                figures.latency_figure(latency),
                (Table(latency, "box statistics", collapsed=True),), ("latency.csv",)),
        Section("speedup", f"Speedup over {baseline}",
                f"Each cell says how many times faster the backend is than {baseline} on the "
                "same model, phase, scenario and batch size (baseline median time / backend "
                "median time). Blue is faster, red slower, white equal; the scale is symmetric in "
                "ratio, so 2× and 0.5× are equally strong colours. A blank cell means the "
                "backend or the baseline did not finish on that row.",
                figures.speedup_figure(speedup, baseline),
                (Table(speedup, "speedups", collapsed=True),), ("speedup.csv",)),
        Section("memory", "Memory",
                "Top: peak resident memory of each case's process, which includes the Python "
                "interpreter and the libraries (the increase over the process baseline is in "
                "the hover). Bottom: GPU memory of the case: what the driver (NVML) attributes "
                "to its process just after the timed region, or else torch's reserved peak "
                "(which, for ONNX Runtime, covers only its IO buffers). Lower is cheaper.",
                figures.memory_figure(memory), (Table(memory, "memory", collapsed=True),),
                ("memory.csv",)),
        Section("accuracy", "Accuracy and parity",
                "Left: held-out task accuracy (train: after the training budget; infer: the "
                "trained weights run through the backend). Right: relative error of the "
                "backend's output against an fp64 reference on a fixed batch; a green circle "
                "is within the tolerance for its precision (the black tick), a red cross is "
                "outside it. The right axis is logarithmic.",
                figures.accuracy_figure(accuracy),
                (Table(accuracy, "accuracy and parity", collapsed=True),), ("accuracy.csv",)),
        Section("cold-start", "Cold-start costs",
                "The seconds each case spends before its first steady-state iteration, which "
                "the throughput figures leave out: building the artifact a deployment ships "
                "(ONNX export, OpenVINO conversion, AOTInductor compile; 0 when cached), "
                "loading it (ORT session, OpenVINO compiled model, AOTInductor package), "
                "torch.compile's compiling call, and the first call after that preparation. A "
                "short-lived process pays all but the build every time it starts.",
                figures.cold_start_figure(cold), (Table(cold, "cold start", collapsed=True),),
                ("cold_start.csv",)),
        Section("ship", "Which backend to ship",
                "One row per model, phase, scenario and batch size, among the backends whose "
                "output kept parity with the fp64 reference (those that did not are named): "
                "the fastest (median step time, with its interval; backends whose interval "
                "overlaps it are tied, not beaten), the smallest artifact on disk (ONNX file, "
                "OpenVINO IR, AOTInductor package; backends that ship the Python model have "
                "none), and the fastest cold start of a fresh process with the artifact "
                "already built (load + compiling call + first call).", None,
                (Table(ship, "which backend to ship"),), ("ship.csv",)),
        Section("tradeoff", "Accuracy vs throughput",
                f"Each point is one case, placed by how many times faster than {baseline} it "
                f"is (right is faster) and how many percentage points of accuracy it gains or "
                f"loses against {baseline} on the same model (up is better). Points right of "
                "the vertical line and not below the horizontal one are free speed; points "
                "below it bought speed with accuracy. Marker shape is the suite.",
                figures.tradeoff_figure(tradeoff, baseline),
                (Table(tradeoff, "trade-off", collapsed=True),), ("tradeoff.csv",)),
        Section("failures", "Failed and skipped cases",
                "How many cases of each backend did not finish, by status; the table lists "
                "each one with the reason the run recorded.",
                figures.failures_figure(failures) if len(failures) else None,
                (Table(failures, "cases that did not finish"),) if len(failures) else (),
                ("failures.csv",)),
        Section("environment", "Environment",
                "The machine, library versions and sweep configuration each run recorded. "
                "Highlighted rows differ between runs: such a difference can explain a change "
                "in the numbers before any backend does.", None,
                (Table(environment, "environment per run", highlight="differs"),),
                ("environment.csv",)),
    ]
    if not sweeps.empty:  # a section only where a run swept batch sizes
        sections.insert([s.id for s in sections].index("throughput") + 1, Section(
            "batch-sweep", "Batch sweep",
            "Each line is one case swept over batch sizes (doubling from 1): throughput on the "
            "left, the latency of one synchronised step on the right, both against batch size "
            "on log axes. The star marks the knee, the smallest batch within 10% of the best "
            "throughput: beyond it a larger batch buys latency, not throughput. A cross marks the "
            "largest batch that fits in device memory (CUDA), found by doubling single steps "
            "until one ran out of memory, then bisecting. Each point is the median over the "
            "processes that reached it.",
            figures.batch_sweep_figure(sweeps), (Table(sweeps, "every point", collapsed=True),),
            ("batch_sweep.csv",)))
    if not peaks.empty:  # a section only where a run searched a peak load
        sections.insert([s.id for s in sections].index("throughput") + 1, Section(
            "serving", "Serving under load: the highest load under the latency target",
            "Each line is one process of a server case: MLPerf LoadGen offered queries at "
            "random (Poisson) arrivals at each rate the search tried, the dynamic batcher "
            "served them, and LoadGen counted each query's latency from its scheduled time. "
            "A circle met the p99 target (the dashed line), a cross did not; the star is the "
            "case's peak, the centre over its processes, with its interval in the table. "
            "LoadGen's own summary and detail logs of each case are in the folder the table "
            "names.",
            serving_figures.load_curve_figure(loads),
            (Table(peaks, "highest load under the target, per case"),
             Table(loads, "every rate tried", collapsed=True)),
            ("peak_load.csv", "load_curves.csv")))
    if not costs.empty:  # a section only where a run was given prices or counted energy
        sections.insert([s.id for s in sections].index("tradeoff") + 1, Section(
            "cost", "What a step costs: dollars and energy per sample",
            "Each point is one finished case: the time of its step (down is faster) against "
            "what a million samples cost on its machine at its throughput (the hourly price the "
            "run was given, shared among the cases that ran on a node at once) and, where the "
            "hardware counted it, the joules a sample took (left is cheaper). A ring marks a "
            "case on the Pareto front of its model, phase, scenario and batch size: no other "
            "backend or machine is both cheaper and faster. Cost is the machine kept busy with "
            "the case; parity is in the table.",
            cost_figures.cost_figure(costs), (Table(costs, "cost per case", collapsed=True),),
            ("cost.csv",)))
    return sections, csvs


def _profile_sections(runs: RunSet, out_dir: Path) -> tuple[list[Section],
                                                             dict[str, pd.DataFrame]]:
    """"Where the time goes" and the roofline, for runs made with `--profile`."""
    categories = profile_tables.category_table(runs.results, runs.ops)
    top_ops = profile_tables.top_ops_table(runs.results, runs.ops)
    health = profile_tables.profile_health_table(runs.results, runs.run_dirs, out_dir)
    points = profile_tables.roofline_table(runs.results)
    ceilings = profile_tables.ceilings_table(runs.manifests)
    flagged = health[health["flagged"]]
    notes = [f"{case}: {flags}" for case, flags in zip(flagged["case_id"], flagged["flags"],
                                                       strict=True)]
    links = [(f"{run_id} · {case}", trace) for run_id, case, trace in
             zip(health["run_id"], health["case_id"], health["trace"], strict=True) if trace]
    csvs = {"profile_categories.csv": categories, "profile_top_ops.csv": top_ops,
            "profile_health.csv": health, "roofline.csv": points, "ceilings.csv": ceilings}
    return [
        Section("where-time-goes", "Where the time goes",
                "Each bar is one profiled case (archbench run --profile): the ms of one "
                "profiled step, split by op category (the ops' self time, so nested ops are "
                "not counted twice; on CUDA the kernels' device time). Grey is the part no op "
                "owns: Python, dispatch and the runtime between ops. Two backends of one model "
                "sit side by side in its panel, so where their difference lies reads at a "
                "glance. The tables list each case's top ops with their share of the step, "
                "and each profile's overhead (profiled step / unprofiled median) and coverage "
                "(what its ops explain); a profile with coverage under 80% or overhead over "
                "25% is flagged above. The traces open in ui.perfetto.dev.",
                profile_figures.category_figure(categories),
                (Table(top_ops, "top ops of each case"),
                 Table(health, "profile overhead, coverage and trace (flagged highlighted)",
                       highlight="flagged", collapsed=True)),
                ("profile_categories.csv", "profile_top_ops.csv", "profile_health.csv"),
                notes, links),
        Section("roofline", "Roofline",
                "Each point is a case: its FLOPs per step (FlopCounterMode) over its median "
                "step time, against its arithmetic intensity (FLOPs per byte of parameters, "
                "input and every tensor written once: an upper bound, see docs/profiling.md). "
                "The lines are the machine's measured ceilings: the sloped part is memory "
                "bandwidth (a large copy), the flat part the matmul peak of each precision. A "
                "point near the sloped roof is memory-bound, near the flat roof compute-bound; "
                "far below both it is bound by neither, but by launch, dispatch or framework "
                "overhead. Hover for the % of peak (MFU).",
                profile_figures.roofline_figure(points, ceilings),
                (Table(ceilings, "measured ceilings"),
                 Table(points, "every point", collapsed=True)), ("roofline.csv", "ceilings.csv")),
    ], csvs


def _comparison_section(comparison: Comparison) -> tuple[Section, dict[str, pd.DataFrame]]:
    """The two-run comparison, and its CSV files (name → table)."""
    csvs = {"comparison.csv": comparison.table}
    shown = [Table(comparison.table.assign(regression=comparison.table["verdict"] == "slower"),
                   f"{comparison.new_id} against {comparison.base_id} (regressions highlighted)",
                   highlight="regression")]
    if len(comparison.energy):
        shown.append(Table(comparison.energy.assign(regression=comparison.energy["verdict"]
                                                    == "more"),
                           "energy per sample, where both runs read it (more energy "
                           "highlighted; judged as time is, lower is better)",
                           highlight="regression"))
    csvs["energy_comparison.csv"] = comparison.energy
    for name, caption, cases in (
            ("newly_broken.csv", f"newly broken: ok in {comparison.base_id}, not in "
                                 f"{comparison.new_id}", comparison.newly_broken),
            ("now_skipped.csv", f"now skipped: ok in {comparison.base_id}, skipped in "
                                f"{comparison.new_id} (not counted as broken)",
             comparison.now_skipped),
            ("only_in_base.csv", f"cases only in {comparison.base_id}", comparison.only_in_base),
            ("only_in_new.csv", f"cases only in {comparison.new_id}", comparison.only_in_new)):
        csvs[name] = cases
        if len(cases):
            shown.append(Table(cases, caption))
    return Section(
        "comparison", f"Comparison: {comparison.new_id} against {comparison.base_id}",
        f"Outcome, as archbench compare sees it: {comparison.outcome()}. Each point is a case "
        f"present in both runs: its median iteration time in {comparison.new_id} divided by "
        f"that in {comparison.base_id}, with its confidence interval (bar; the method column "
        f"says which test). Left of 1 is faster, right slower; the grey band is the "
        f"±{comparison.threshold:.0%} threshold. {describe_rule(comparison.threshold)} "
        f"Cases that did not finish in both runs have no verdict; a case that "
        f"finished in {comparison.base_id} and failed in or is missing from "
        f"{comparison.new_id} is newly broken, which fails the comparison like a regression.",
        figures.comparison_figure(comparison.table, comparison.threshold), shown, tuple(csvs),
        comparison.warnings), csvs
