"""A run's backends side by side, as Markdown: speed, accuracy and cold start per case.

For the record of a sweep (benchmarks/results/*.md): per suite, size and phase, each backend's
median time with its 99% interval, its speedup over the baseline backend, held-out accuracy
and its change against the baseline, parity, and the one-off costs kept out of the timings.
The numbers come from the report's own tables, so the file and the HTML report agree.

    .venv/bin/python benchmarks/backend_table.py RUN [--baseline cpu-eager] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pandas as pd

from harness.report.tables import cold_start_table, tradeoff_table
from harness.results.markdown import markdown_table
from harness.results.store import load_manifest, load_results, resolve_run

ENVIRONMENT = ("hostname", "cpu_model", "cpu_cores", "gpu_name", "cuda_version",
               "python_version", "torch_version", "onnxruntime_version", "archbench_commit")


def _fmt(value: object, spec: str, suffix: str = "") -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{format(value, spec)}{suffix}"


def backend_table(results: pd.DataFrame, baseline: str) -> pd.DataFrame:
    trade = tradeoff_table(results, baseline)
    cold = cold_start_table(results)[["case_id", "compile_s", "export_s", "load_s"]]
    table = trade.merge(cold, on="case_id").sort_values(["suite", "size", "phase", "speedup"],
                                                        ascending=[True, True, True, False])
    return pd.DataFrame({
        "suite": table["suite"], "size": table["size"], "phase": table["phase"],
        "bs": table["batch_size"], "backend": table["backend"],
        "median ms [99% CI]": [
            f"{m:.3g} [{_fmt(lo, '.3g')}, {_fmt(hi, '.3g')}]" + (" noisy" if n is True else "")
            for m, lo, hi, n in zip(table["median_ms"], table["ci_low_ms"],
                                    table["ci_high_ms"], table["noisy"], strict=True)],
        f"speedup vs {baseline}": table["speedup"].map(lambda v: _fmt(v, ".2f", "x")),
        "accuracy": table["accuracy"].map(lambda v: _fmt(v, ".3f")),
        "Δacc (pp)": table["accuracy_delta_pp"].map(lambda v: _fmt(v, "+.1f")),
        "parity": table["parity_ok"].map(lambda v: "" if v is pd.NA else ("ok" if v else "FAIL")),
        "compile s": table["compile_s"].map(lambda v: _fmt(v, ".1f")),
        "export s": table["export_s"].map(lambda v: _fmt(v, ".2f")),
        "session s": table["load_s"].map(lambda v: _fmt(v, ".3f")),
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--baseline", default="cpu-eager")
    parser.add_argument("--results", default="results")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    run_dir = resolve_run(args.run, args.results)
    results = load_results(run_dir)
    environment = load_manifest(run_dir)["environment"]
    lines = [f"# Backends side by side: run {run_dir.name}", "",
             *(f"- {key}: {environment.get(key) or '-'}" for key in ENVIRONMENT), "",
             markdown_table(backend_table(results, args.baseline)), ""]
    skipped = results[results["status"] != "ok"].groupby(["backend", "status", "reason"]).size()
    if len(skipped):
        lines += ["Cases that did not run:", "",
                  *(f"- {backend} ({status}, {count} cases): {reason}"
                    for (backend, status, reason), count in skipped.items()), ""]
    text = "\n".join(lines)
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
