"""Roofline arithmetic: fed numbers, checked against hand-computed answers."""

from __future__ import annotations

import math

from harness.profiling.roofline import (
    attainable,
    ceiling_columns,
    efficiency_columns,
    ridge,
)

CEILINGS = {"cpu": {"peak_flops": {"fp32": 100e9}, "bandwidth_bytes_s": 10e9, "matmul_n": 8,
                    "copy_mib": 1, "threads": 2}}


def test_efficiency_of_a_row() -> None:
    row = {"step_flops": 2e9, "step_bytes": 1e8, "median_ms": 100.0, "ceiling_flops": 100e9}
    columns = efficiency_columns(row)
    assert columns["achieved_flops"] == 2e10  # 2 GFLOP in 0.1 s
    assert columns["pct_of_peak"] == 20.0
    assert columns["arithmetic_intensity"] == 20.0


def test_missing_inputs_give_nan_not_zero() -> None:
    columns = efficiency_columns({"median_ms": 1.0})
    assert all(math.isnan(value) for value in columns.values())


def test_ceiling_of_a_precision_not_measured_is_nan_and_says_why() -> None:
    columns = ceiling_columns(CEILINGS, "cpu", "bf16")
    assert math.isnan(columns["ceiling_flops"]) and "not native" in columns["ceiling_note"]
    assert ceiling_columns(CEILINGS, "cuda", "fp32") == {}
    assert ceiling_columns(CEILINGS, "cpu", "fp32")["ceiling_flops"] == 100e9


def test_roof_and_ridge() -> None:
    assert ridge(100e9, 10e9) == 10.0
    assert attainable(1.0, 100e9, 10e9) == 10e9  # memory-bound left of the ridge
    assert attainable(50.0, 100e9, 10e9) == 100e9  # compute-bound right of it
