"""Where a sweep's case processes spend their wall time, outside the timed region and in it.

From a run folder's case files (every process's own row), per kind of process (a case's first,
which also measures accuracy, parity and model facts, and its repeats), the seconds summed over
the processes of the run:

* **interpreter and imports**: from the process's start to its case (`import_s`; runs from
  before it was recorded fold it into the next line);
* **case set-up and cold call**: data, weights, the fp64 reference, the model, the bind (export,
  session, compilation) and its first call, up to the first warm-up iteration (`startup_s`
  less the line above);
* **warm-up** and **timed** (`warmup_s`, `timed_s`);
* **after timing**: accuracy, parity, writing the result, and the launcher's own start and
  reaping (the process's `wall_s`, measured by the sweep, less the lines above).

    .venv/bin/python benchmarks/process_cost.py RUN_DIR [RUN_DIR ...]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from harness.results.store import case_records

PARTS = ("interpreter and imports", "case set-up and cold call", "warm-up", "timed",
         "after timing")


def breakdown(run_dir: Path) -> dict[str, dict[str, float]]:
    """Seconds per part, summed over the run's finished processes, for "first" and "repeats"
    (and "processes": their count)."""
    totals = {kind: dict.fromkeys((*PARTS, "wall", "processes"), 0.0)
              for kind in ("first", "repeats")}
    for record in case_records(run_dir).values():
        for process in record.get("processes", []):
            row = process.get("row", {})
            if process.get("status") != "ok" or "startup_s" not in row:
                continue
            part = totals["first" if process["process"] == 0 else "repeats"]
            imports = row.get("import_s", math.nan)
            imports = 0.0 if not isinstance(imports, float) or math.isnan(imports) else imports
            startup, warmup, timed = row["startup_s"], row["warmup_s"], row["timed_s"]
            part["interpreter and imports"] += imports
            part["case set-up and cold call"] += startup - imports
            part["warm-up"] += warmup
            part["timed"] += timed
            part["after timing"] += process["wall_s"] - startup - warmup - timed
            part["wall"] += process["wall_s"]
            part["processes"] += 1
    return totals


def table(run_dirs: list[Path]) -> str:
    lines = ["| run | processes | " + " | ".join(PARTS) + " | wall |",
             "|---|---|" + "---|" * (len(PARTS) + 1)]
    for run_dir in run_dirs:
        for kind, part in breakdown(run_dir).items():
            count = int(part["processes"])
            if not count:
                continue
            cells = " | ".join(f"{part[name]:.0f} s ({part[name] / count:.2f})" for name in PARTS)
            lines.append(f"| {run_dir.name} {kind} | {count} | {cells} | {part['wall']:.0f} s |")
    return "\n".join(lines) + "\n\n(seconds over the run's processes; per process in brackets)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+", help="run folders")
    print(table(parser.parse_args().runs))


if __name__ == "__main__":
    main()
