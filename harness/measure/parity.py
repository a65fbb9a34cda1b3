"""Numerical parity of a backend's outputs against an fp64 reference of the same weights.

Tolerances are relative errors ||out - ref|| / ||ref||, one per precision. They are stated, not
tuned per case: fp32 must agree to round-off (TF32 is off for fp32 backends), bf16 keeps 8
mantissa bits (~0.4% per rounding, accumulated over layers), fp16 keeps 11, and int8 dynamic
quantisation of weights and activations loses most. A failure shows in the row (parity_ok).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TOLERANCES: dict[str, float] = {"fp64": 1e-10, "fp32": 1e-4, "fp16": 2e-2, "bf16": 6e-2,
                                "int8": 2e-1}
PARITY_SAMPLES = 64  # the fixed held-out batch: the first 64 held-out samples


@dataclass(frozen=True)
class Parity:
    max_abs_err: float
    rel_err: float
    top1_agree: float
    tol: float

    @property
    def ok(self) -> bool:
        return bool(self.rel_err <= self.tol)


def parity(out: np.ndarray, ref: np.ndarray, precision: str) -> Parity:
    """Compare logits (samples x classes) of a backend with the reference's."""
    if precision not in TOLERANCES:
        raise ValueError(f"no parity tolerance for precision '{precision}'; "
                         f"known: {', '.join(TOLERANCES)}")
    out = np.asarray(out, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if out.shape != ref.shape:
        raise ValueError(f"output shape {out.shape} differs from reference shape {ref.shape}")
    diff = out - ref
    ref_norm = np.linalg.norm(ref)
    rel = float(np.linalg.norm(diff) / ref_norm) if ref_norm > 0 else float(np.linalg.norm(diff))
    agree = float(np.mean(out.argmax(axis=-1) == ref.argmax(axis=-1)))
    return Parity(float(np.abs(diff).max()), rel, agree, TOLERANCES[precision])
