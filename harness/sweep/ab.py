"""A/B on one machine: the same cases under two variants, alternating, then compared.

Two runs measured one after the other share nothing but the machine, and the machine is not
the same from one minute to the next (other tenants, thermal state, the host's own jobs): an
A/A pair of such runs disagreed by 33% on this project's CI machine. An A/B experiment makes
the two variants share the machine's phases instead: for every case, round after round, a
fresh process of the base variant and one of the new variant run back to back (the order
alternating between rounds, so that neither always runs on a machine the other just warmed).
Process r of base and process r of new are then a pair, and `compare` uses the paired test,
which cancels what the two shared.

A variant is a Python interpreter (another torch, another environment: `--base-python`,
`--new-python`) and/or a set of suite files (two revisions of a user's model:
`--base-suite-file`, `--new-suite-file`; their suites must have the same names). The two
runs are ordinary runs, `<id>-base` and `<id>-new`, whose manifests name each other (`ab`).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from tqdm import tqdm

from harness.cases import SweepConfig, expand
from harness.errors import UsageError
from harness.executors.local import run_next_process
from harness.machine.environment import PROJECT_ROOT
from harness.results.storage import write_json_atomic
from harness.results.store import MANIFEST, load_manifest, resolve_run
from harness.sweep.run import Sweep, new_run_id, start_run

VARIANTS = ("base", "new")


@dataclass(frozen=True)
class Variant:
    """One side of an A/B experiment: its run folder, configuration and interpreter."""

    name: str
    run_dir: Path
    config: SweepConfig
    python: str


def check_python(python: str) -> str:
    """The interpreter's torch version, or a UsageError saying why it cannot run cases."""
    try:
        done = subprocess.run([python, "-c", "import torch, harness.case.worker; "
                               "print(torch.__version__)"], capture_output=True, text=True,
                              timeout=120, cwd=PROJECT_ROOT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError(f"cannot run cases with python '{python}': {exc}") from exc
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise UsageError(f"python '{python}' cannot run archbench's cases (it needs torch and "
                         f"this checkout's dependencies): {last}")
    return done.stdout.strip()


def start_ab(config: SweepConfig, results_dir: Path, pythons: tuple[str, str],
             suite_files: tuple[tuple[str, ...], tuple[str, ...]],
             ab_id: str | None = None) -> tuple[Variant, Variant]:
    """Create the two runs (validating both variants first) and link them."""
    ab_id = ab_id or new_run_id()
    configs = [replace(config, suite_files=files) if files else config for files in suite_files]
    base_cases, new_cases = ([p.case for p in expand(c)] for c in configs)
    if base_cases != new_cases:
        raise UsageError("the two variants plan different cases (their suite files define "
                         "different suites or sizes); an A/B comparison needs the same cases")
    for python in dict.fromkeys(pythons):
        check_python(python)
    variants = []
    for name, variant_config, python in zip(VARIANTS, configs, pythons, strict=True):
        run_dir = start_run(variant_config, results_dir, f"{ab_id}-{name}")
        variants.append(Variant(name, run_dir, variant_config, python))
    for variant, other in ((variants[0], variants[1]), (variants[1], variants[0])):
        manifest = load_manifest(variant.run_dir)
        manifest["ab"] = {"id": ab_id, "variant": variant.name, "pair": other.run_dir.name,
                          "python": variant.python}
        write_json_atomic(variant.run_dir / MANIFEST, manifest)
    return variants[0], variants[1]


def resume_ab(ab_id: str, results_dir: Path) -> tuple[Variant, Variant]:
    """The two runs of an A/B experiment started earlier, to finish their processes."""
    variants = []
    for name in VARIANTS:
        run_dir = resolve_run(f"{ab_id}-{name}", results_dir)
        manifest = load_manifest(run_dir)
        if manifest.get("ab", {}).get("variant") != name:
            raise UsageError(f"run '{run_dir.name}' is not the {name} side of an A/B "
                             f"experiment '{ab_id}'")
        variants.append(Variant(name, run_dir, SweepConfig.from_dict(manifest["config"]),
                                manifest["ab"].get("python", sys.executable)))
    return variants[0], variants[1]


def run_ab(base: Variant, new: Variant, progress: bool | None = None) -> None:
    """Every process of both variants not yet run, in rounds, the variants back to back per
    case and their order alternating with the round (see the module docstring)."""
    sweeps = [Sweep.open(v.run_dir, v.config, v.python) for v in (base, new)]
    pairs = list(zip(sweeps[0].cases, sweeps[1].cases, strict=True))
    total = sum(sweep.remaining() for sweep in sweeps)
    with tqdm(total=total, unit="process", dynamic_ncols=True,
              disable=None if progress is None else not progress) as bar:
        for round_ in range(max(base.config.processes, new.config.processes)):
            for index, ((planned_b, result_b), (planned_n, result_n)) in enumerate(pairs):
                steps = [(sweeps[0], planned_b, result_b), (sweeps[1], planned_n, result_n)]
                if (round_ + index) % 2:
                    steps.reverse()
                for sweep, planned, result in steps:
                    bar.set_postfix_str(f"{sweep.run_dir.name} {planned.case.case_id}")
                    if run_next_process(sweep, planned, result, round_):
                        bar.update()
