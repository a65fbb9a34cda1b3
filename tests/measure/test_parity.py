"""Parity verdicts on crafted logits: the tolerance per precision, and top-1 agreement."""

from __future__ import annotations

import numpy as np
import pytest

from harness.measure.parity import TOLERANCES, parity


@pytest.fixture
def reference() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.normal(size=(64, 10))


def with_relative_error(ref: np.ndarray, rel: float, seed: int = 1) -> np.ndarray:
    """`ref` plus noise whose norm is exactly `rel` times the norm of `ref`."""
    noise = np.random.default_rng(seed).normal(size=ref.shape)
    return ref + noise * (rel * np.linalg.norm(ref) / np.linalg.norm(noise))


def test_identical_outputs_agree_perfectly(reference: np.ndarray) -> None:
    result = parity(reference.copy(), reference, "fp32")
    assert result.ok
    assert result.max_abs_err == 0.0 and result.rel_err == 0.0
    assert result.top1_agree == 1.0
    assert result.tol == TOLERANCES["fp32"]


def test_float32_rounding_passes_fp32(reference: np.ndarray) -> None:
    out = reference.astype(np.float32)  # what an fp32 backend's exact answer looks like
    result = parity(out, reference, "fp32")
    assert result.ok and 0 < result.rel_err < 1e-6


def test_bf16_sized_error_fails_fp32_but_passes_bf16(reference: np.ndarray) -> None:
    out = with_relative_error(reference, 1e-2)
    fp32, bf16 = parity(out, reference, "fp32"), parity(out, reference, "bf16")
    assert fp32.rel_err == pytest.approx(1e-2) == bf16.rel_err
    assert not fp32.ok
    assert bf16.ok
    assert fp32.max_abs_err == pytest.approx(np.abs(out - reference).max())


def test_error_above_the_bf16_tolerance_fails_it(reference: np.ndarray) -> None:
    out = with_relative_error(reference, 1.5 * TOLERANCES["bf16"])
    assert not parity(out, reference, "bf16").ok
    assert parity(out, reference, "int8").ok  # int8's tolerance is wider still


def test_tolerances_order_with_precision() -> None:
    order = ["fp64", "fp32", "fp16", "bf16", "int8"]
    assert [TOLERANCES[p] for p in order] == sorted(TOLERANCES.values())


def test_top1_agreement_counts_rows_whose_argmax_matches() -> None:
    ref = np.eye(4, 10)  # row i votes for class i
    out = ref.copy()
    out[3, 3], out[3, 7] = 0.0, 1.0  # one of four rows changes its vote
    result = parity(out, ref, "int8")
    assert result.top1_agree == 0.75


def test_outputs_of_another_dtype_and_list_input_are_accepted(reference: np.ndarray) -> None:
    result = parity(reference.tolist(), reference.astype(np.float32), "fp32")
    assert result.ok


def test_shape_mismatch_raises(reference: np.ndarray) -> None:
    with pytest.raises(ValueError, match="shape"):
        parity(reference[:, :9], reference, "fp32")


def test_unknown_precision_raises_naming_known_ones(reference: np.ndarray) -> None:
    with pytest.raises(ValueError, match="fp8.*fp32"):
        parity(reference, reference, "fp8")
