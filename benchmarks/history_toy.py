"""A real history, end to end: commits of a toy suite in its own git repository, each measured
by `archbench run`, judged against the rolling baseline of the runs before it (as a main-line
CI job does), then added; one commit makes the model larger.

    .venv/bin/python benchmarks/history_toy.py [--commits 10] [--wider-at 7] [--width 584]
                                               [--processes 5] [--folder DIR]

The toy suite is tests/fixtures/toy_history_suite.py: an MLP of 4 hidden layers, 512 wide;
584 wide is 1.29x its FLOPs. The commits before the wider one are A/A comparisons (unchanged
code against the history of the same code), the wider one is the planted change, the ones
after it show how the rolling baseline catches up. Prints each commit's verdict on the toy
case (ratio and interval), then `archbench history regressions` (where the step was found)
and `archbench history show`.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SUITE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "toy_history_suite.py"
CLI = [sys.executable, "-m", "harness.cli"]


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def _archbench(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*CLI, *args], capture_output=True, text=True, check=False)
    if check and done.returncode not in (0, 1):
        raise SystemExit(f"archbench {' '.join(args)} failed ({done.returncode}):\n"
                         f"{done.stderr}")
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=10)
    parser.add_argument("--wider-at", type=int, default=7)
    parser.add_argument("--width", type=int, default=584)
    parser.add_argument("--processes", type=int, default=5)
    parser.add_argument("--folder", type=Path, help="where to work (default: a temporary "
                                                    "folder, removed afterwards)")
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="archbench-history-toy-"))
    repo, results, store = folder / "toy", folder / "results", folder / "history.duckdb"
    try:
        repo.mkdir(parents=True)
        _git(repo, "init", "-q", "-b", "main")
        _git(repo, "config", "user.email", "bench@example.com")
        _git(repo, "config", "user.name", "bench")
        text = SUITE.read_text()
        print(f"{'commit':>6}  {'width':>5}  verdict against the runs before it")
        for number in range(1, args.commits + 1):
            width = args.width if number >= args.wider_at else 512
            (repo / "toy_suite.py").write_text(re.sub(r"WIDTH = \d+", f"WIDTH = {width}", text))
            (repo / "log.txt").write_text(f"commit {number}\n")
            _git(repo, "add", ".")
            _git(repo, "commit", "-q", "-m", f"toy {number}: width {width}")
            run_id = f"c{number:02d}"
            _archbench("run", "--suite-file", str(repo / "toy_suite.py"), "--suite", "toy",
                       "--backend", "cpu-eager", "--phase", "infer", "--scenario",
                       "throughput", "--quick", "--processes", str(args.processes),
                       "--threads", "1", "--no-energy", "--no-progress", "--results",
                       str(results), "--run-id", run_id)
            verdict = "(first run: nothing to compare with)"
            if number > 1:
                judged = json.loads(_archbench("compare", run_id, "--baseline",
                                               f"history:{store}", "--results", str(results),
                                               "--format", "json").stdout)
                case = judged["cases"][0]
                verdict = (f"{case['verdict']}: x{case['ratio']:.3f} "
                           f"[{case['ci_low']:.3f}, {case['ci_high']:.3f}] "
                           f"vs {judged['base']}")
            print(f"{number:>6}  {width:>5}  {verdict}", flush=True)
            _archbench("history", "add", run_id, "--history", str(store), "--results",
                       str(results))
        print("\n$ archbench history regressions")
        print(_archbench("history", "regressions", "--history", str(store)).stdout)
        print("$ archbench history show")
        print(_archbench("history", "show", "--history", str(store)).stdout)
    finally:
        if args.folder is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
