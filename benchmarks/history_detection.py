"""How well `harness.history.steps` finds planted steps in histories built from this machine's
real process medians, and how often it finds steps that were never planted.

    .venv/bin/python benchmarks/history_detection.py              # from the committed CSV
    .venv/bin/python benchmarks/history_detection.py --collect DIR [--processes 10]
        # first runs `archbench run` --runs times into DIR (minutes), rewrites the CSV

**The data.** `benchmarks/results/history-process-medians.csv` holds the process medians
(median iteration time of each process, as the history store keeps them) of six small cases
(cnn, rnn, transformer at size tiny, on cpu-eager and ort-cpu, inference at throughput),
timed in five separate `archbench run`s of 10 processes each on the 2-core VM, one after the
other, with other work on the machine beside them as on a shared CI runner (archbench flagged
contention in collect-3, 2 cases, and collect-5, all 6: other processes used up to 50% of the
CPUs):

    archbench run --suite cnn rnn transformer --size tiny --backend cpu-eager ort-cpu \
        --phase infer --scenario throughput --processes 10 --no-energy --no-progress \
        --results DIR --run-id collect-N        # N = 1..5; --collect does exactly this

Two things in it make a history noisy, and the generator keeps both. Processes of one run
differ: most within a few percent, and in most runs some 1.2x to 3x slower (once 300x), never
faster: heavy, one-sided tails. And whole runs differ: in collect-1, 6 of transformer/ort-cpu's
10 processes took 1.9x as long, so that run's median is 1.9x the others'.

**The generator.** A commit of a real history is one run: its processes share that run's
state of the machine. So a synthetic commit picks one of the case's real runs at random, then
P of that run's processes at random without replacement; its process medians are theirs. Run
to run drift is kept (a commit inherits its run's offset), and so are the heavy tails (an
outlying process is drawn as often as it occurred). Commits are independent: the collected
runs are too few to model how a machine's state persists from one run to the next (asv's
AR(1) noise). A planted step multiplies every process median from its commit on by 1 + size
(slower) or 1 - size (faster), so "50% faster" halves the time.

**The histories.** For each of the six cases and each P (3, and 5 as a second column),
`--repeats` series of `--commits` commits for each of: no step; one step of 10%, 25% or 50%;
two steps of one size (in opposite or the same direction, at least 20 commits apart). Step
commits are drawn uniformly between commit 10 and `commits - 10`, direction at random; the
seed makes every number rerunnable.

**The measures.** A planted step is *found* when a reported step in its direction lies within
1 commit of it (the brief's "commits off within 1"); the table also gives the share found
anywhere within 5 commits, and how far off those are. A *false step* is a reported step not
within 1 commit of a planted one (so one found 3 commits off counts as missed *and* false);
false steps are counted per 100 commit-case points, over all series, and over the series with
no step alone. The time `detect_steps` takes per series is measured on the side.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import platform
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.history.steps import DEFAULT_MIN_PERSISTENCE, DEFAULT_THRESHOLD, detect_steps

HERE = Path(__file__).parent
CSV_PATH = HERE / "results" / "history-process-medians.csv"
SIZES = (0.10, 0.25, 0.50)
CASES_ARGS = ["--suite", "cnn", "rnn", "transformer", "--size", "tiny", "--backend",
              "cpu-eager", "ort-cpu", "--phase", "infer", "--scenario", "throughput"]
#: A found step this many commits from a planted one counts as found "nearby" (the spread of
#: the location error is reported within it).
NEAR = 5
#: Planted steps keep this many commits from either end of the series and from each other.
MARGIN, APART = 10, 20

#: case -> run -> that run's process medians (ms)
Medians = dict[str, dict[str, np.ndarray]]


def collect(folder: Path, runs: int, processes: int) -> None:
    """Time the six cases in `runs` separate runs of `processes` processes and write their
    process medians to the CSV (what the committed CSV was made with)."""
    from harness.results.store import load_samples

    rows = []
    for number in range(1, runs + 1):
        run_id = f"collect-{number}"
        if not (folder / run_id).exists():
            subprocess.run([sys.executable, "-m", "harness.cli", "run", *CASES_ARGS,
                            "--processes", str(processes), "--no-energy", "--no-progress",
                            "--results", str(folder), "--run-id", run_id], check=True)
        samples = load_samples(folder / run_id)
        iters = samples[samples["metric"] == "iter_ms"]
        medians = iters.groupby(["case_id", "process"], sort=True)["value"].median()
        rows += [(str(case), run_id, int(process), float(value))
                 for (case, process), value in medians.items()]
    with CSV_PATH.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["case", "run", "process", "median_ms"])
        writer.writerows((case, run, process, f"{value:.6g}")
                         for case, run, process, value in rows)


def load(path: Path = CSV_PATH) -> Medians:
    """The process medians of the CSV, by case and run."""
    found: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    with path.open() as handle:
        for row in csv.DictReader(handle):
            found[row["case"]][row["run"]].append(float(row["median_ms"]))
    return {case: {run: np.array(values) for run, values in runs.items()}
            for case, runs in found.items()}


@dataclass(frozen=True)
class Planted:
    index: int
    ratio: float


def plant(rng: np.random.Generator, commits: int, size: float, count: int) -> list[Planted]:
    """`count` steps of `size` at random commits (module docstring), random directions."""
    while True:
        indices = sorted(rng.integers(MARGIN, commits - MARGIN, count).tolist())
        if all(b - a >= APART for a, b in zip(indices, indices[1:], strict=False)):
            break
    return [Planted(index, 1 + size if rng.random() < 0.5 else 1 - size) for index in indices]


def history(rng: np.random.Generator, runs: dict[str, np.ndarray], commits: int,
            processes: int, steps: Sequence[Planted]) -> list[np.ndarray]:
    """One synthetic series: per commit, one real run at random and `processes` of its process
    medians, times the planted steps up to that commit."""
    names = sorted(runs)
    factor = np.ones(commits)
    for step in steps:
        factor[step.index:] *= step.ratio
    series = []
    for commit in range(commits):
        run = runs[names[rng.integers(len(names))]]
        series.append(rng.choice(run, processes, replace=False) * factor[commit])
    return series


@dataclass
class Tally:
    planted: int = 0
    found: int = 0
    near: int = 0
    offsets: list[int] | None = None


def measure(medians: Medians, processes: int, commits: int, repeats: int, seed: int,
            threshold: float, persistence: int) -> dict[str, object]:
    """Detection per size, location error, false steps, for one P (module docstring)."""
    rng = np.random.default_rng([seed, processes])
    tallies = {size: Tally(offsets=[]) for size in SIZES}
    false_all = false_flat = points_all = points_flat = 0
    seconds: list[float] = []
    for case in sorted(medians):
        for _ in range(repeats):
            for kind in ("none", *((size, count) for size in SIZES for count in (1, 2))):
                planted = [] if kind == "none" else plant(rng, commits, kind[0], kind[1])
                series = history(rng, medians[case], commits, processes, planted)
                started = time.perf_counter()
                found = detect_steps(series, threshold, persistence)
                seconds.append(time.perf_counter() - started)
                false = sum(not any(abs(s.index - p.index) <= 1 for p in planted)
                            for s in found)
                false_all += false
                points_all += commits
                if kind == "none":
                    false_flat += false
                    points_flat += commits
                    continue
                tally = tallies[kind[0]]
                for step in planted:
                    tally.planted += 1
                    same_way = [s.index - step.index for s in found
                                if (s.ratio > 1) == (step.ratio > 1)
                                and abs(s.index - step.index) <= NEAR]
                    if same_way:
                        off = min(same_way, key=abs)
                        tally.near += 1
                        tally.found += abs(off) <= 1
                        tally.offsets.append(off)
    return {"tallies": tallies, "false_all": 100 * false_all / points_all,
            "false_flat": 100 * false_flat / points_flat, "series": len(seconds),
            "ms_per_series": 1000 * float(np.mean(seconds))}


def time_long(points: int = 1000, processes: int = 3, rounds: int = 50) -> float:
    """Mean ms of `detect_steps` on a `points`-point series of `processes` values with two
    steps (the store's `history show` budget: 200 cases x 1,000 commits in < 2 s)."""
    rng = np.random.default_rng(0)
    level = np.where(np.arange(points) < points // 3, 1.0, 1.3)
    level[2 * points // 3:] *= 0.8
    series = [list(level[i] * np.exp(rng.normal(0, 0.05, processes))) for i in range(points)]
    detect_steps(series)
    started = time.perf_counter()
    for _ in range(rounds):
        detect_steps(series)
    return 1000 * (time.perf_counter() - started) / rounds


def describe_data(medians: Medians) -> list[str]:
    """A line per case: runs, processes, spread within runs and between them."""
    lines = []
    for case in sorted(medians):
        runs = medians[case]
        logs = {run: np.log(values) for run, values in runs.items()}
        within = np.median([np.median(np.abs(v - np.median(v))) * 1.4826 for v in logs.values()])
        tails = np.mean(np.concatenate([v - np.median(v) > math.log(1.2) for v in logs.values()]))
        centres = [float(np.median(v)) for v in logs.values()]
        apart = math.exp(max(centres) - min(centres)) - 1
        lines.append(f"| {case} | {len(runs)} x {len(next(iter(runs.values())))} | "
                     f"{within:.1%} | {tails:.0%} | {apart:.0%} |")
    return lines


def table(results: dict[int, dict[str, object]]) -> list[str]:
    """The markdown table of `measure`'s results, one column per P."""
    ps = sorted(results)
    lines = ["| | " + " | ".join(f"P = {p}" for p in ps) + " |",
             "|---|" + "---|" * len(ps)]

    def row(name: str, cell) -> None:
        lines.append(f"| {name} | " + " | ".join(cell(results[p]) for p in ps) + " |")

    for size in SIZES:
        row(f"{size:.0%} steps found within 1 commit",
            lambda r, s=size: _share(r["tallies"][s].found, r["tallies"][s].planted))
    for size in SIZES:
        row(f"{size:.0%} steps found within {NEAR} commits",
            lambda r, s=size: _share(r["tallies"][s].near, r["tallies"][s].planted))
    for size in SIZES:
        row(f"{size:.0%}: of those, off by 0 / 1 / more",
            lambda r, s=size: _offsets(r["tallies"][s].offsets))
    row("false steps per 100 points, all series", lambda r: f"{r['false_all']:.2f}")
    row("false steps per 100 points, series with no step", lambda r: f"{r['false_flat']:.2f}")
    row("series (of 200 commits unless told)", lambda r: f"{r['series']}")
    row("detect_steps per series, ms", lambda r: f"{r['ms_per_series']:.2f}")
    return lines


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%} ({part}/{whole})" if whole else "-"


def _offsets(offsets: list[int]) -> str:
    if not offsets:
        return "-"
    off = np.abs(np.array(offsets))
    return " / ".join(f"{share:.0%}" for share in ((off == 0).mean(), (off == 1).mean(),
                                                   (off > 1).mean()))


def machine() -> str:
    """The CPU model and core count, as /proc/cpuinfo and nproc give them."""
    model = platform.processor() or "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{model}, {os.cpu_count()} cores"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--collect", type=Path, metavar="DIR",
                        help="first time the six cases into DIR and rewrite the CSV")
    parser.add_argument("--runs", type=int, default=5, help="runs to collect (default 5)")
    parser.add_argument("--processes", type=int, default=10,
                        help="processes per collected run (default 10)")
    parser.add_argument("--commits", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=60,
                        help="series per case and kind of history (default 60)")
    parser.add_argument("--p", type=int, nargs="+", default=[3, 5], dest="ps",
                        help="processes per commit (default 3 5)")
    parser.add_argument("--seed", type=int, default=20260)
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument("--persistence", type=int, default=DEFAULT_MIN_PERSISTENCE)
    args = parser.parse_args(argv)
    if args.commits < 2 * MARGIN + APART + 1:
        parser.error(f"--commits must be at least {2 * MARGIN + APART + 1} to plant two steps "
                     f"{APART} apart and {MARGIN} from either end")
    if args.collect:
        collect(args.collect, args.runs, args.processes)
    medians = load()
    started = time.perf_counter()
    results = {p: measure(medians, p, args.commits, args.repeats, args.seed, args.threshold,
                          args.persistence) for p in args.ps}
    print(f"machine: {machine()}; data: {CSV_PATH.relative_to(HERE.parent)}")
    print("| case | runs x processes | within a run (robust CV) | processes > 20% slow "
          "| run centres differ by |")
    print("|---|---|---|---|---|")
    print("\n".join(describe_data(medians)))
    print()
    print("\n".join(table(results)))
    print()
    print(f"detect_steps on 1,000 points x 3 processes: {time_long():.2f} ms per series")
    print(f"total {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
