"""The report's "which backend to ship" reading: per model, phase, scenario and batch size, the
backend that answers each of the three questions a deployment asks, among the backends that
kept the model's accuracy (parity within the tolerance of their precision).

- **Fastest**: the lowest median step time; the backends whose interval overlaps the winner's
  are listed as tied, so that a difference the measurement cannot resolve is not read as a win.
- **Smallest artifact**: the fewest bytes a user ships (`artifact_bytes`: the ONNX file, the
  OpenVINO IR, the AOTInductor package); backends that ship the Python model have none.
- **Fastest cold start**: what a fresh server process pays before its first answer, given the
  artifact already built: loading it (`load_s`), torch.compile's compiling call (`compile_s`,
  from the case's first process) and the first call (`first_call_s`). Export time is a
  build cost, not a start-up cost, and is in the cold-start table.

A pure function, frames in and out, as `tables`.
"""

from __future__ import annotations

import pandas as pd

from harness.report.tables import ROW_KEY

SHIP_COLUMNS = [*ROW_KEY, "candidates", "fastest", "fastest_ms", "fastest_ci_ms", "tied",
                "smallest_artifact", "artifact_bytes", "fastest_cold_start", "cold_start_s",
                "failed_parity"]


def cold_start_s(results: pd.DataFrame) -> pd.Series:
    """A fresh process's seconds to its first answer (module docstring); NaN without a first
    call measured."""
    parts = results[["load_s", "compile_s"]].astype(float).fillna(0.0).sum(axis=1)
    return parts + results["first_call_s"].astype(float)


def ship_table(results: pd.DataFrame) -> pd.DataFrame:
    """One row per comparable group of finished cases (`ROW_KEY`), with the three answers."""
    finished = results[results["status"] == "ok"].copy()
    if finished.empty:
        return pd.DataFrame(columns=SHIP_COLUMNS)
    finished["cold_start_s"] = cold_start_s(finished)
    rows = []
    for key, group in finished.groupby(ROW_KEY, dropna=False, sort=True):
        kept = group[group["parity_ok"].astype("boolean").fillna(True)]
        row = dict(zip(ROW_KEY, key, strict=True))
        row.update(candidates=len(kept), failed_parity=", ".join(
            sorted(set(group["backend"]) - set(kept["backend"]))))
        row.update(_fastest(kept))
        row.update(_least(kept, "artifact_bytes", "smallest_artifact"))
        row.update(_least(kept, "cold_start_s", "fastest_cold_start"))
        rows.append(row)
    return pd.DataFrame(rows, columns=SHIP_COLUMNS)


def _fastest(kept: pd.DataFrame) -> dict[str, object]:
    timed = kept[kept["median_ms"].notna()]
    if timed.empty:
        return {}
    best = timed.loc[timed["median_ms"].astype(float).idxmin()]
    low, high = float(best["ci_low_ms"]), float(best["ci_high_ms"])
    others = timed[timed.index != best.name]
    tied = others[others["ci_low_ms"].astype(float) <= high]["backend"]
    return {"fastest": best["backend"], "fastest_ms": float(best["median_ms"]),
            "fastest_ci_ms": f"[{low:.3g}, {high:.3g}]" if low == low and high == high else "",
            "tied": ", ".join(sorted(tied))}


def _least(kept: pd.DataFrame, column: str, name: str) -> dict[str, object]:
    known = kept[kept[column].notna()]
    if known.empty:
        return {}
    best = known.loc[known[column].astype(float).idxmin()]
    return {name: best["backend"], column: best[column]}
