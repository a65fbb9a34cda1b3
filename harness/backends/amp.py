"""Automatic mixed precision: autocast bf16 on the CPU and CUDA, fp16 on CUDA.

Training in fp16 uses a gradient scaler (see `TorchTrainer`). Ops that autocast cannot run in
the requested precision on this hardware fail in the case, which becomes an `error` row with
the message; the sweep goes on.

bf16 where the hardware has none is not bf16 as a user would ship it. On a GPU without native
bf16, `cuda-amp-bf16` is unavailable. On a CPU without it (`harness.machine.cpu_features`) the
emulation runs, slower than fp32 (a transformer/medium training case took over 10 minutes on
a 2-core AVX2 machine), so `cpu-amp-bf16` is left out of default sweeps with the reason, runs
when named, and its rows say that bf16 was emulated.
"""

from __future__ import annotations

from typing import Any

import torch

from harness.backends.torch_runtime import TorchBackend
from harness.machine.cpu_features import cpu_bf16_support


class AutocastBackend(TorchBackend):
    def unavailable_reason(self) -> str | None:
        reason = super().unavailable_reason()
        if reason:
            return reason
        # including_emulation=False: emulated bf16 is not bf16, and the emulation probe would
        # create a CUDA context in the sweep's parent process.
        if (self.device == "cuda" and self.autocast_dtype == torch.bfloat16
                and not torch.cuda.is_bf16_supported(including_emulation=False)):
            return "this GPU has no native bf16 (compute capability < 8.0)"
        return None

    def _emulation_note(self) -> str:
        """Why this precision is emulated here; "" where it is native."""
        if self.device == "cpu" and self.autocast_dtype == torch.bfloat16:
            return cpu_bf16_support().reason
        return ""

    def default_skip_reason(self, phase: str) -> str | None:
        note = self._emulation_note()
        return f"{note}; left out of default sweeps, runs when named (--backend {self.name})" \
            if note else None

    def settings(self) -> dict[str, Any]:
        note = self._emulation_note()
        return {**super().settings(), "precision_emulated": bool(note), "precision_note": note}


CPU_AMP_BF16 = AutocastBackend("cpu-amp-bf16", "cpu", "bf16", "autocast bf16, CPU",
                               autocast_dtype=torch.bfloat16)
CUDA_AMP_BF16 = AutocastBackend("cuda-amp-bf16", "cuda", "bf16", "autocast bf16, CUDA",
                                autocast_dtype=torch.bfloat16)
CUDA_AMP_FP16 = AutocastBackend("cuda-amp-fp16", "cuda", "fp16",
                                "autocast fp16, CUDA (gradient scaler when training)",
                                autocast_dtype=torch.float16)
