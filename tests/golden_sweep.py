"""The golden sweep: a fixed small `archbench run`, described by what must not change when the
harness is restructured (issue 18): which cases there are, their statuses, which columns each
row fills, the values that do not depend on the clock, the raw sample metrics, and the files
of the run folder.

`tests/test_golden_sweep.py` runs it and compares with `tests/fixtures/golden_sweep.json`,
written by the code before a restructuring:

    .venv/bin/python -m tests.golden_sweep --write    # run it twice, keep what both agree on

Which columns a row fills can depend on the clock, so the fixture keeps, per case, only the
filled columns that two runs agreed on, and the test checks those and that every schema column
is present. Two depend on the clock even when two runs agree, and are left out: the contention
note (whether another process was busy), and for a batch sweep the processes that made its
number and their interval (those whose knee was the first process's knee).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from harness.results.store import load_results, load_samples

FIXTURE = Path(__file__).parent / "fixtures" / "golden_sweep.json"
MLP_SUITE_FILE = Path(__file__).parent.parent / "examples" / "mlp_suite.py"
FAULTY_SUITE_FILE = Path(__file__).parent / "fixtures" / "faulty_suites.py"
#: Columns whose values do not depend on the clock, the machine's speed or the run's time.
STABLE_COLUMNS = ("suite", "size", "backend", "device", "precision", "phase", "scenario",
                  "batch_size", "hardware", "params", "flops_per_sample", "status",
                  "processes", "train_steps", "weights", "torch_threads",
                  "torch_interop_threads", "seed", "parity_tol", "quantization")
#: Columns whose presence depends on the clock (module docstring), per scenario ("": any).
CLOCK_DEPENDENT = {"": {"contention_note", "ci_note"},  # ci_note: only when short of target
                   "batch-sweep": {"processes", "between_cv", "ci_low_ms", "ci_high_ms",
                                   "ci_rel_half_width", "ci_met"}}


def run_golden_sweep(results_dir: Path) -> Path:
    """The fixed sweep, through the command line users type; its run folder."""
    subprocess.run([
        sys.executable, "-m", "harness.cli", "run", "--suite-file", str(MLP_SUITE_FILE),
        "--suite-file", str(FAULTY_SUITE_FILE), "--suite", "mlp", "raises", "--size", "tiny",
        "--backend", "cpu-eager", "ort-cpu", "--phase", "infer", "train",
        "--scenario", "latency", "batch-sweep", "--processes", "2", "--profile", "--quick",
        "--threads", "1", "--seed", "0", "--no-progress", "--run-id", "golden",
        "--results", str(results_dir)], check=False, capture_output=True, timeout=900)
    return results_dir / "golden"


def describe(run_dir: Path) -> dict[str, Any]:
    """What the golden test compares (module docstring), as JSON-able values."""
    rows = load_results(run_dir).set_index("case_id").sort_index()
    samples = load_samples(run_dir)
    cases = {}
    for case_id, row in rows.iterrows():
        metrics = sorted(samples.loc[samples["case_id"] == case_id, "metric"].unique())
        clock = CLOCK_DEPENDENT[""] | CLOCK_DEPENDENT.get(str(row["scenario"]), set())
        cases[str(case_id)] = {
            "filled": sorted(column for column, value in row.items()
                             if _filled(value) and column not in clock),
            "values": {column: _plain(row[column]) for column in STABLE_COLUMNS
                       if column in row and _filled(row[column]) and column not in clock},
            "reason_start": str(row["reason"])[:40] if _filled(row["reason"]) else "",
            "metrics": [str(metric) for metric in metrics],
        }
    files = sorted(str(path.relative_to(run_dir)) for path in run_dir.rglob("*")
                   if path.is_file() and "logs" not in path.parts)
    return {"columns": sorted(load_results(run_dir).columns), "cases": cases, "files": files}


def agreed(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """What two descriptions of the golden sweep agree on: per case, the filled columns both
    filled; everything else must be equal in both."""
    if first["cases"].keys() != second["cases"].keys() or first["files"] != second["files"]:
        raise SystemExit("two golden sweeps differ in their cases or files: not a fixture")
    cases = {}
    for case_id, one in first["cases"].items():
        other = second["cases"][case_id]
        cases[case_id] = {**one, "filled": sorted(set(one["filled"]) & set(other["filled"]))}
    return {**first, "cases": cases}


def _filled(value: object) -> bool:
    return not (value is None or (not isinstance(value, (list, dict)) and pd.isna(value))
                or value == "")


def _plain(value: object) -> object:
    return value.item() if hasattr(value, "item") else value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"write {FIXTURE}")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        first, second = (describe(run_golden_sweep(Path(folder) / name))
                         for name in ("one", "two"))
    fixture = agreed(first, second)
    text = json.dumps(fixture, indent=1, sort_keys=True) + "\n"
    if args.write:
        FIXTURE.write_text(text)
    print(text if not args.write else f"wrote {FIXTURE}")


if __name__ == "__main__":
    main()
