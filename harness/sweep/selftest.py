"""How good is this machine for benchmarking? An A/A experiment and a planted slowdown.

A threshold for a CI gate is only as good as the machine that runs it: on a quiet one a 5%
change is visible; on a shared 2-core VM, fresh processes of the same case can differ by 10%
and a 5% threshold fails at random. `archbench selftest` measures it instead of guessing:

1. **A/A.** A few small real cases are timed twice with identical code, as an `archbench ab`
   experiment (alternating, P processes a side), and compared as CI would compare them. Each
   "slower" or "faster" is a false alarm. From both sides' process medians it estimates each
   case's spread between fresh processes (CV) and how much base and new processes of one round
   have in common (their correlation: a drift of the machine), and from those the smallest
   change this machine detects in 90% of comparisons (`detectable_change`), for two separate
   runs (`archbench compare`) and for an A/B experiment (`archbench ab`), at P processes.
2. **Planted slowdown.** A model that sleeps a set time per step is timed against the same
   model sleeping a fraction longer (25% by default), as an A/B experiment. Every comparison
   should say "slower"; the share that does is the power of the gate at that change.

The observed false alarms and power are few comparisons each, so the selftest also gives the
expected false-alarm rate at the measured spreads (the rule of `harness.analysis.compare`,
simulated with log-normal process medians): that is the number to weigh the threshold with.
"""

from __future__ import annotations

import math
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harness.analysis.compare import ALPHA, Comparison, compare_medians, compare_runs
from harness.cases import SweepConfig
from harness.measure.stats import detectable_change, process_level
from harness.results.store import load_samples
from harness.sweep.ab import Variant, run_ab, start_ab
from harness.sweep.run import new_run_id

AA_SELECTION = {"suites": ("cnn", "rnn", "transformer"), "sizes": ("small",),
                "backends": ("cpu-eager", "ort-cpu"), "phases": ("infer",),
                "scenarios": ("throughput",)}
PLANTED_SIZES = {f"sleep-{ms}ms": float(ms) for ms in (1, 2, 3, 4, 5, 6)}
POWER = 0.9
SIMULATED_COMPARISONS = 2000
MAX_PROCESSES = 40  # beyond this, "processes needed" says "more than 40"

#: A suite whose model sleeps `ms` x FACTOR per step: the planted slowdown's two variants.
PLANTED_SUITE = '''"""selftest: a model that sleeps {factor:g} x its size's milliseconds a step."""
import time

from torch import nn

from suites import Suite, Task
from suites.digits import digits_images

FACTOR = {factor!r}


class Sleeper(nn.Module):
    def __init__(self, ms: float, features: int, classes: int) -> None:
        super().__init__()
        self.seconds = ms * FACTOR / 1e3
        self.linear = nn.Linear(features, classes)

    def forward(self, x):
        time.sleep(self.seconds)
        return self.linear(x.flatten(1))


SUITE = Suite(
    name="planted", description="sleeps a set time per step (archbench selftest)",
    sizes={sizes!r}, default_sizes=tuple({sizes!r}),
    build=lambda config, data: Sleeper(config["ms"], 64, data.num_classes),
    task=Task(name="digits-images", load=lambda config: digits_images(8), train_steps=1),
)
'''


@dataclass(frozen=True)
class CaseNoise:
    """One case's spread between processes and what it lets a comparison detect."""

    case: str
    between_cv: float
    round_correlation: float
    detectable_runs: float  # smallest change called in 90% of comparisons of separate runs
    detectable_ab: float  # the same for an A/B experiment (paired rounds)
    expected_false_alarms: float  # per comparison of separate runs, at this spread
    processes_for_slowdown: int | None  # per run, to call the planted slowdown in 90%


@dataclass(frozen=True)
class SelftestReport:
    processes: int
    threshold: float
    slowdown: float
    noise: list[CaseNoise]
    aa: Comparison
    planted: Comparison

    def format_text(self) -> str:
        aa = self.aa.table.dropna(subset=["verdict"])
        alarms = int((aa["verdict"] != "same").sum())
        planted = self.planted.table.dropna(subset=["verdict"])
        called = int((planted["verdict"] == "slower").sum())
        table = pd.DataFrame({
            "case": [n.case for n in self.noise],
            "processes differ (CV)": [f"{n.between_cv:.1%}" for n in self.noise],
            "round correlation": [f"{n.round_correlation:+.2f}" for n in self.noise],
            f"detectable, separate runs (P={self.processes})": [_pct(n.detectable_runs)
                                                               for n in self.noise],
            f"detectable, ab (P={self.processes})": [_pct(n.detectable_ab) for n in self.noise],
            "expected false alarms": [f"{n.expected_false_alarms:.1%}" for n in self.noise],
            f"P for {self.slowdown:.0%}": [str(n.processes_for_slowdown or
                                               f">{MAX_PROCESSES}") for n in self.noise],
        })
        worst_runs = max(n.detectable_runs for n in self.noise)
        worst_ab = max(n.detectable_ab for n in self.noise)
        typical = float(np.median([n.detectable_runs for n in self.noise]))
        return "\n".join([
            f"A/A: the same code twice, {self.processes} processes a side, threshold "
            f"{self.threshold:.0%}",
            table.to_string(index=False),
            f"false alarms: {alarms} of {len(aa)} comparisons (expected at these spreads: "
            f"{np.mean([n.expected_false_alarms for n in self.noise]):.1%} per comparison)",
            "",
            f"planted {self.slowdown:.0%} slowdown (a model that sleeps {self.slowdown:.0%} "
            f"longer): called slower in {called} of {len(planted)} comparisons",
            "",
            f"With {self.processes} processes this machine detects, in {POWER:.0%} of "
            f"comparisons, a change of {_pct(typical)} between separate runs for the median "
            f"case above, and {_pct(worst_runs)} ({_pct(worst_ab)} in an A/B experiment) for "
            f"the worst. A CI gate that must hold for every case needs a threshold that large "
            f"(--threshold {_threshold(worst_runs, self.threshold):.2f} for `archbench "
            f"compare`, {_threshold(worst_ab, self.threshold):.2f} for `archbench ab`), or "
            f"the processes in the last column to catch a {self.slowdown:.0%} slowdown.",
        ])


def _pct(value: float) -> str:
    return "n/a" if math.isnan(value) else ("none" if math.isinf(value) else f"{value:.0%}")


def _threshold(detectable: float, threshold: float) -> float:
    return threshold if math.isnan(detectable) else max(threshold, math.ceil(detectable * 20) / 20)


def run_selftest(results_dir: Path, processes: int = 5, threshold: float = 0.10,
                 slowdown: float = 0.25, threads: int = 0, run_id: str | None = None,
                 progress: bool | None = None) -> SelftestReport:
    """Run both experiments (see the module docstring) and summarise them."""
    python = sys.executable
    aa_config = SweepConfig(processes=processes, threads=threads, **AA_SELECTION)
    stamp = run_id or new_run_id()
    base, new = start_ab(aa_config, results_dir, (python, python), ((), ()),
                         f"{stamp}-selftest-aa")
    run_ab(base, new, progress)
    aa = compare_runs(base.run_dir, new.run_dir, threshold=threshold)
    noise = case_noise(base, new, processes, threshold, slowdown)
    with tempfile.TemporaryDirectory(prefix="archbench-selftest-") as tmp:
        files = []
        for name, factor in (("base", 1.0), ("new", 1.0 + slowdown)):
            path = Path(tmp) / f"planted_{name}.py"
            path.write_text(PLANTED_SUITE.format(factor=factor, sizes={
                size: {"ms": ms} for size, ms in PLANTED_SIZES.items()}))
            files.append((str(path),))
        planted_config = SweepConfig(suites=("planted",), backends=("cpu-eager",),
                                     phases=("infer",), scenarios=("latency",),
                                     processes=processes, threads=threads)
        base, new = start_ab(planted_config, results_dir, (python, python),
                             (files[0], files[1]), f"{stamp}-selftest-planted")
        run_ab(base, new, progress)
        planted = compare_runs(base.run_dir, new.run_dir, threshold=threshold)
    return SelftestReport(processes, threshold, slowdown, noise, aa, planted)


def case_noise(base: Variant, new: Variant, processes: int, threshold: float,
               slowdown: float = 0.25) -> list[CaseNoise]:
    """Per case of an A/A experiment: the spread between processes, pooled over both sides
    (they ran the same code), the correlation of the two sides' rounds, and what follows."""
    medians = {name: _process_medians(variant.run_dir) for name, variant in
               (("base", base), ("new", new))}
    noise = []
    for case_id, base_medians in medians["base"].items():
        new_medians = medians["new"].get(case_id, [])
        if min(len(base_medians), len(new_medians)) < 2:
            continue
        cv = process_level([*base_medians, *new_medians]).between_cv
        count = min(len(base_medians), len(new_medians))
        correlation = _correlation(np.log(base_medians[:count]), np.log(new_medians[:count]))
        noise.append(CaseNoise(
            case_id, cv, correlation,
            detectable_change(cv, cv, processes, processes, ALPHA, POWER,
                              threshold=threshold),
            detectable_change(cv, cv, processes, processes, ALPHA, POWER, paired=True,
                              correlation=max(0.0, correlation), threshold=threshold),
            expected_false_alarms(cv, processes, threshold),
            processes_needed(cv, slowdown, threshold)))
    return noise


def processes_needed(cv: float, slowdown: float, threshold: float) -> int | None:
    """The fewest processes per run (2 to MAX_PROCESSES) with which two separate runs call
    `slowdown` in 90% of comparisons at this spread; None when even the most cannot."""
    for processes in range(2, MAX_PROCESSES + 1):
        if detectable_change(cv, cv, processes, processes, ALPHA, POWER,
                             threshold=threshold) <= slowdown:
            return processes
    return None


def _process_medians(run_dir: Path) -> dict[str, list[float]]:
    iters = load_samples(run_dir)
    iters = iters[iters["metric"] == "iter_ms"]
    medians = iters.groupby(["case_id", "process"])["value"].median()
    return {str(case): group.sort_index().tolist()
            for case, group in medians.groupby(level="case_id")}


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3 or np.std(a) == 0 or np.std(b) == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def expected_false_alarms(cv: float, processes: int, threshold: float,
                          seed: int = 0) -> float:
    """The share of A/A comparisons of two separate runs that `compare` calls a change, for
    log-normal process medians with this spread (simulated)."""
    if math.isnan(cv) or cv == 0:
        return 0.0
    rng = np.random.default_rng(seed)
    draws = np.exp(rng.normal(0.0, cv, size=(SIMULATED_COMPARISONS, 2, processes)))
    return float(np.mean([compare_medians(b, n, threshold).verdict != "same"
                          for b, n in draws]))

