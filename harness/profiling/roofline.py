"""Roofline arithmetic: where a case sits against the machine's two measured ceilings.

Pure functions of numbers already stored (a row, the run's ceilings), so that the sweep, the
report and a test use the same definitions:

- achieved FLOP/s = FLOPs per step / median step time;
- % of peak (MFU) = achieved / the matmul ceiling of the case's precision on its device (no
  ceiling for a precision that is not native there: no % of peak, rather than a flattering one);
- arithmetic intensity = FLOPs per step / bytes per step (`step_cost` says how bytes are
  estimated);
- attainable FLOP/s at an intensity I = min(peak, bandwidth x I); the ridge, where the two
  meet, is peak / bandwidth: a case left of it is memory-bound at best, right of it
  compute-bound, and one far below the roof is bound by neither: by launch, dispatch or
  framework overhead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def _number(value: object) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
    return number


def ceiling_columns(ceilings: Mapping[str, Any], device: str, precision: str) -> dict[str, Any]:
    """The row's ceilings: the matmul peak of its precision and the bandwidth of its device."""
    measured = ceilings.get(device)
    if not measured:
        return {}
    peak = measured["peak_flops"].get(precision, math.nan)
    return {"ceiling_flops": peak, "ceiling_bytes_s": measured["bandwidth_bytes_s"],
            "ceiling_note": f"{device} {precision} matmul {measured['matmul_n']}^3, copy "
                            f"{measured['copy_mib']} MiB, {measured['threads']} threads"
                            + ("" if math.isfinite(peak) else
                               f"; {precision} is not native here: no ceiling")}


def efficiency_columns(row: Mapping[str, Any]) -> dict[str, float]:
    """achieved_flops, pct_of_peak and arithmetic_intensity of a row that has the FLOPs and
    bytes of its step, its median and its ceiling (NaN for what is missing)."""
    flops, step_bytes = _number(row.get("step_flops")), _number(row.get("step_bytes"))
    median_s = _number(row.get("median_ms")) / 1e3
    achieved = flops / median_s if median_s > 0 else math.nan
    peak = _number(row.get("ceiling_flops"))
    return {"achieved_flops": achieved,
            "pct_of_peak": 100 * achieved / peak if peak > 0 else math.nan,
            "arithmetic_intensity": flops / step_bytes if step_bytes > 0 else math.nan}


def attainable(intensity: float, peak_flops: float, bandwidth_bytes_s: float) -> float:
    """The roof at `intensity` FLOPs per byte."""
    return min(peak_flops, bandwidth_bytes_s * intensity)


def ridge(peak_flops: float, bandwidth_bytes_s: float) -> float:
    """The intensity where the memory roof meets the compute roof."""
    return peak_flops / bandwidth_bytes_s
