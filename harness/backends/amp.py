"""Automatic mixed precision: autocast bf16 on the CPU and CUDA, fp16 on CUDA.

Training in fp16 uses a gradient scaler (see `TorchTrainer`). Ops that autocast cannot run in
the requested precision on this hardware fail in the case, which becomes an `error` row with
the message; the sweep goes on.
"""

from __future__ import annotations

import torch

from harness.backends.torch_runtime import TorchBackend


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


CPU_AMP_BF16 = AutocastBackend("cpu-amp-bf16", "cpu", "bf16", "autocast bf16, CPU",
                               autocast_dtype=torch.bfloat16)
CUDA_AMP_BF16 = AutocastBackend("cuda-amp-bf16", "cuda", "bf16", "autocast bf16, CUDA",
                                autocast_dtype=torch.bfloat16)
CUDA_AMP_FP16 = AutocastBackend("cuda-amp-fp16", "cuda", "fp16",
                                "autocast fp16, CUDA (gradient scaler when training)",
                                autocast_dtype=torch.float16)
