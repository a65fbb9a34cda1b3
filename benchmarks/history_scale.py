"""How the history store scales: 1,000 runs x 200 cases of synthetic rows, added one at a
time, then `history show` over all of them.

    .venv/bin/python benchmarks/history_scale.py [--runs 1000] [--cases 200] [--folder DIR]

Each run is a real run folder (manifest with a commit and a fingerprint, results.parquet,
samples.parquet: 3 processes x 5 iterations per case), written before the clock starts; the
process medians of run r drift slowly and one case steps by 30% at run 600, so the show has
steps to find. Prints the time to add each run (median, p95, max, and for the last 100 runs:
does adding slow down as the store grows), the time `history show` takes (store open, query,
step detection, table; then the whole command as a user types it), the file's size, and the
steps found. Goals (issue 22): add < 1 s,
show < 2 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from harness.history.commands import show
from harness.history.store import HistoryStore
from harness.history.trends import Selection, find_steps, load_points
from harness.machine.fingerprint import FIELDS
from harness.results.schema import samples_frame, to_frame
from harness.results.store import MANIFEST, SAMPLES, TABLE, write_json_atomic

MACHINE = {name: "bench" for name in FIELDS}
BACKENDS = ("cpu-eager", "cpu-compile", "ort-cpu", "ort-cpu-int8", "cpu-amp-bf16")
PROCESSES, ITERATIONS = 3, 5


def write_run(folder: Path, index: int, cases: int, rng: np.random.Generator) -> Path:
    """Run `index` of the synthetic history: `cases` cases, 3 processes each."""
    run_id = f"run-{index:04d}"
    rows, samples = [], []
    for case in range(cases):
        backend, size = BACKENDS[case % len(BACKENDS)], f"s{case // len(BACKENDS)}"
        case_id = f"cnn-{size}-{backend}-infer-throughput-bs32"
        centre = (1 + case % 17) * (1.3 if case == 7 and index >= 600 else 1.0)
        rows.append({"run_id": run_id, "case_id": case_id, "suite": "cnn", "size": size,
                     "backend": backend, "phase": "infer", "scenario": "throughput",
                     "batch_size": 32, "status": "ok", "reason": "", "processes": PROCESSES,
                     "median_ms": centre})
        medians = centre * np.exp(rng.normal(0, 0.05, PROCESSES))
        for process, median in enumerate(medians):
            samples += [{"run_id": run_id, "case_id": case_id, "metric": "iter_ms",
                         "process": process, "idx": i, "value": float(v)}
                        for i, v in enumerate(median * np.exp(rng.normal(0, 0.01,
                                                                         ITERATIONS)))]
    run_dir = folder / run_id
    run_dir.mkdir(parents=True)
    write_json_atomic(run_dir / MANIFEST, {
        "run_id": run_id, "config": {}, "started": f"2026-01-01T00:00:{index % 60:02d}",
        "environment": {}, "fingerprint": MACHINE,
        "commit": {"sha": f"{index:08x}" + "0" * 32, "position": index + 1,
                   "subject": f"change {index}", "time": "2026-01-01", "branch": "main",
                   "dirty": False}})
    to_frame(rows).to_parquet(run_dir / TABLE, index=False)
    samples_frame(samples).to_parquet(run_dir / SAMPLES, index=False)
    return run_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--folder", type=Path, help="where to write (default: a temporary "
                                                    "folder, removed afterwards)")
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="archbench-history-scale-"))
    try:
        rng = np.random.default_rng(0)
        started = time.perf_counter()
        runs = [write_run(folder / "runs", index, args.cases, rng) for index in range(args.runs)]
        print(f"wrote {args.runs} runs x {args.cases} cases in "
              f"{time.perf_counter() - started:.0f} s")
        store_path = folder / "history.duckdb"
        add_s = []
        with HistoryStore(store_path) as store:
            for run in runs:
                begin = time.perf_counter()
                added = store.add_run(run)
                add_s.append(time.perf_counter() - begin)
                assert added.outcome == "added", added.line
        ordered = sorted(add_s)
        print(f"add one run: median {statistics.median(add_s):.3f} s, p95 "
              f"{ordered[int(0.95 * len(ordered))]:.3f} s, max {ordered[-1]:.3f} s; first 100 "
              f"median {statistics.median(add_s[:100]):.3f} s, last 100 median "
              f"{statistics.median(add_s[-100:]):.3f} s")
        print(f"store file: {store_path.stat().st_size / 2**20:.1f} MiB")
        for attempt in range(3):
            begin = time.perf_counter()
            text = show(store_path, Selection(), 0.10, 3, "text")
            shown = time.perf_counter() - begin
            print(f"history show, attempt {attempt + 1}: {shown:.2f} s "
                  f"({len(text.splitlines())} lines)")
        for attempt in range(3):
            begin = time.perf_counter()
            subprocess.run([sys.executable, "-m", "harness.cli", "history", "show",
                            "--history", str(store_path)], check=True, capture_output=True)
            print(f"archbench history show (the command: interpreter, imports, show), "
                  f"attempt {attempt + 1}: {time.perf_counter() - begin:.2f} s")
        with HistoryStore(store_path, create=False) as store:
            begin = time.perf_counter()
            points = load_points(store)
            loaded = time.perf_counter() - begin
        begin = time.perf_counter()
        steps = find_steps(points)
        print(f"of which: query {loaded:.2f} s ({len(points)} points), step detection "
              f"{time.perf_counter() - begin:.2f} s; steps found: {len(steps)}")
        print(steps[["case", "commit_short", "ratio", "persistence"]].to_string(index=False))
    finally:
        if args.folder is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
