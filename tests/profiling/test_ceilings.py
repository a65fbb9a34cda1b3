"""Machine ceilings: positive, and in FLOP/s and bytes/s (checked with a known duration)."""

from __future__ import annotations

import pytest

from harness.profiling import ceilings


def test_units_from_a_known_duration(monkeypatch: pytest.MonkeyPatch) -> None:
    """With every repeat taking 0.5 s, n x n x n is 2 n^3 / 0.5 FLOP/s and a copy of m MiB
    moves 2 m MiB in 0.5 s: the formulas, not the machine."""
    monkeypatch.setattr(ceilings, "_best_seconds", lambda work, device: 0.5)
    assert ceilings.matmul_flops("cpu", "fp32", 16) == 2 * 16**3 / 0.5
    assert ceilings.copy_bandwidth("cpu", 2) == 2 * 2 * 2**20 / 0.5


def test_measured_ceilings_are_positive_and_recorded_with_their_sizes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ceilings.MATMUL_N, "cpu", 128)
    monkeypatch.setitem(ceilings.COPY_MIB, "cpu", 8)
    monkeypatch.setattr(ceilings, "BUDGET_S", 0.02)
    measured = ceilings.measure("cpu", 1)
    assert measured["threads"] == 1 and measured["matmul_n"] == 128
    assert measured["copy_mib"] == 8
    assert "fp32" in measured["peak_flops"]
    assert set(measured["peak_flops"]) == set(ceilings.native_precisions("cpu"))
    # above 10 MFLOP/s and 10 MB/s: positive, and not off by a unit prefix (s vs ms)
    assert all(peak > 1e7 for peak in measured["peak_flops"].values())
    assert measured["bandwidth_bytes_s"] > 1e7
