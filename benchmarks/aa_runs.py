"""A/A runs: how often `archbench compare` cries wolf, and how often a run's interval holds a
re-run's number, on this machine.

The same small matrix (cnn, rnn and transformer at small and medium, cpu-eager and ort-cpu,
inference) is run R times in a row as separate runs, the way a CI gate compares a stored
baseline with a new run. Every pair of runs is compared case by case: each "slower" or
"faster" is a false alarm. And for every ordered pair (A, B) and case, does A's interval hold
B's median? That is the coverage a user relies on when reading a row's interval as "a re-run
lands here". The verdicts are given at alpha 0.05 (compare's rule) and, from the same data,
at 0.01, to show what the choice trades.

    .venv/bin/python benchmarks/aa_runs.py --runs 3 --processes 3 --results /tmp/aa
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np

from harness.analysis.compare import compare_medians, compare_runs
from harness.cases import SweepConfig
from harness.results.store import load_results, load_samples
from harness.sweep.run import run_sweep, start_run

MATRIX = {"suites": ("cnn", "rnn", "transformer"), "sizes": ("small", "medium"),
          "backends": ("cpu-eager", "ort-cpu"), "phases": ("infer",),
          "scenarios": ("latency",), "batch_sizes": (32,)}


def process_medians(run_dir: Path) -> dict[str, list[float]]:
    iters = load_samples(run_dir)
    iters = iters[iters["metric"] == "iter_ms"]
    grouped = iters.groupby(["case_id", "process"])["value"].median()
    return {str(c): g.tolist() for c, g in grouped.groupby(level="case_id")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--threshold", type=float, default=0.10)
    parser.add_argument("--results", type=Path, default=Path("results"))
    args = parser.parse_args()
    config = SweepConfig(processes=args.processes, **MATRIX)
    runs = []
    for index in range(args.runs):
        run_dir = start_run(config, args.results, f"aa-{index}")
        run_sweep(run_dir, config, progress=False)
        runs.append(run_dir)

    alarms = {0.05: 0, 0.01: 0}
    comparisons = 0
    for base, new in itertools.combinations(runs, 2):
        table = compare_runs(base, new, threshold=args.threshold).table.dropna(subset=["ratio"])
        comparisons += len(table)
        alarms[0.05] += int((table["verdict"] != "same").sum())
        medians = [process_medians(run) for run in (base, new)]
        for case in medians[0]:
            verdict = compare_medians(medians[0][case], medians[1][case], args.threshold,
                                      alpha=0.01).verdict
            alarms[0.01] += verdict != "same"
    covered = total = 0
    rows = {run: load_results(run).set_index("case_id") for run in runs}
    for a, b in itertools.permutations(runs, 2):
        joined = rows[a][["ci_low_ms", "ci_high_ms"]].join(rows[b]["median_ms"])
        inside = (joined["ci_low_ms"] <= joined["median_ms"]) & (
            joined["median_ms"] <= joined["ci_high_ms"])
        covered += int(inside.sum())
        total += len(joined)
    cvs = np.concatenate([rows[r]["between_cv"].dropna().to_numpy() for r in runs])
    print(f"{args.runs} runs x {len(rows[runs[0]])} cases, {args.processes} processes, "
          f"threshold {args.threshold:.0%}")
    print(f"between-process CV: median {np.median(cvs):.1%}, range {cvs.min():.1%} to "
          f"{cvs.max():.1%}")
    for alpha, count in alarms.items():
        print(f"A/A false alarms at alpha {alpha}: {count} of {comparisons} "
              f"({count / comparisons:.1%})")
    print(f"coverage: a run's interval held a re-run's median in {covered} of {total} "
          f"({covered / total:.0%})")


if __name__ == "__main__":
    main()
