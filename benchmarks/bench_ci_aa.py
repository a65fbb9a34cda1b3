"""A/A of the CI gate: how often `make bench-ci` fails on unchanged code, per run and per benchmark.

Run `make bench-ci` R times in a row on unchanged code into one results folder (each run is
judged against the previous passing one, as CI jobs are), then:

    .venv/bin/python benchmarks/bench_ci_aa.py /tmp/aa-ci/results

prints each run's verdict and wall time, and from every pair of runs (not only consecutive
ones) the per-benchmark false-alarm rate by the gate's rule (family-wise) and by the per-case
rule of a plain `archbench compare`, and the share of pairs in which the whole gate would fail.
Pairs share runs, so they are not independent: the rates are descriptive, with the number of
comparisons they rest on.

Runs of ``archbench ci --base`` (`make bench-ci BENCH_CI_BASE=HEAD`: the base measured in the
same job) are judged against their own base: for them the rates come from each run's
comparison with its base, by both rules. For each such run it also prints whether pairing by
round would pay: the median (over benchmarks) correlation between a round's base and new log
process medians, and the spread of the paired log ratios beside the unpaired ones.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
from pathlib import Path

import numpy as np
import pandas as pd

from harness.analysis.baseline import ci_manifest
from harness.analysis.compare import compare_runs
from harness.results.store import load_samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="the folder the runs went to")
    parser.add_argument("--threshold", type=float, default=0.10)
    args = parser.parse_args()
    runs = sorted((run for run in args.results.iterdir()
                   if ci_manifest(run) and not ci_manifest(run)["ci"].get("role")),
                  key=lambda run: ci_manifest(run)["ci"]["started"])
    print(f"{len(runs)} runs of archbench ci in {args.results}")
    for run in runs:
        ci = ci_manifest(run)["ci"]
        wall = (dt.datetime.fromisoformat(ci["finished"])
                - dt.datetime.fromisoformat(ci["started"])).total_seconds()
        print(f"  {run.name}: {ci['verdict']:11s} against {ci.get('baseline') or '-':28s} "
              f"{wall:5.0f} s")
    with_base = [run for run in runs if ci_manifest(run)["ci"].get("interleaved")]
    stored = [run for run in runs if run not in with_base]
    for family_wise in (True, False):
        rule = "gate (family-wise)" if family_wise else "per-case (compare)"
        for kind, pairs in (
                ("stored baselines, every pair", list(itertools.combinations(stored, 2))),
                ("--base, each run against its base",
                 [(run.with_name(f"{run.name}-base"), run) for run in with_base])):
            if pairs:
                _false_alarms(f"{rule}, {kind}", pairs, args.threshold, family_wise)
    for run in with_base:
        _pairing(run.with_name(f"{run.name}-base"), run)


def _false_alarms(label: str, pairs: list[tuple[Path, Path]], threshold: float,
                  family_wise: bool) -> None:
    alarms = failing_pairs = compared = 0
    for base, new in pairs:
        table = compare_runs(base, new, threshold, family_wise=family_wise).table
        judged = table[table["verdict"].notna()]
        calls = int((judged["verdict"] != "same").sum())
        compared += len(judged)
        alarms += calls
        failing_pairs += calls > 0
    print(f"{label}: {alarms} false alarms in {compared} benchmark comparisons "
          f"({alarms / max(compared, 1):.2%}); {failing_pairs} of {len(pairs)} run pairs "
          f"would fail")

def _pairing(base: Path, new: Path) -> None:
    """Whether the two processes of a round share their noise (what pairing would cancel)."""
    def log_medians(run: Path) -> pd.DataFrame:
        samples = load_samples(run)
        samples = samples[samples["metric"] == "iter_ms"]
        return np.log(samples.groupby(["case_id", "process"])["value"].median().unstack())

    b, n = log_medians(base), log_medians(new)
    b, n = b.loc[b.index.intersection(n.index)], n.loc[b.index.intersection(n.index)]
    rounds = b.shape[1]
    corr = pd.Series([np.corrcoef(b.loc[c], n.loc[c])[0, 1] for c in b.index])
    paired = (n - b).std(axis=1, ddof=1) / np.sqrt(rounds)
    unpaired = np.sqrt((b.var(axis=1, ddof=1) + n.var(axis=1, ddof=1)) / rounds)
    print(f"  {new.name}: round correlation of base and new (median over benchmarks) "
          f"{corr.median():.2f}; standard error of the log ratio, median: paired "
          f"{paired.median():.3f}, unpaired {unpaired.median():.3f}")


if __name__ == "__main__":
    main()
