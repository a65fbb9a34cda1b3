"""Facts about a model that do not depend on the backend: parameters and forward FLOPs."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from harness.model_io import call
from suites.inputs import Batch


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def flops_per_sample(model: nn.Module, one_sample: Batch) -> int:
    """Forward FLOPs for a batch of one, counted by torch's FlopCounterMode.

    Fused kernels are single opaque ops with no FLOP formula, so counting avoids them: oneDNN is
    switched off (its fused RNN kernel serves nn.LSTM on the CPU), autograd stays enabled,
    which keeps nn.TransformerEncoderLayer off its fused inference "fast path", and attention
    uses SDPA's math backend (the CPU flash kernel has no formula). The native
    paths dispatch the same matrix products one by one, so the counter sees them. The count is
    of the math, not of a kernel, so it is the same for every backend.
    """
    was_training = model.training
    model.eval()
    try:
        with countable(), FlopCounterMode(display=False) as counter:
            call(model, one_sample)
    finally:
        model.train(was_training)
    return int(counter.get_total_flops())


@contextlib.contextmanager
def countable() -> Iterator[None]:
    """The unfused paths `flops_per_sample` counts on (see there): oneDNN off, autograd on,
    SDPA's math backend."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # oneDNN's TF32 notice when toggling its flags
        with torch.backends.mkldnn.flags(enabled=False), torch.enable_grad(), \
                sdpa_kernel(SDPBackend.MATH):
            yield
