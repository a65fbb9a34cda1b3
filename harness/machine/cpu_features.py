"""What this CPU can do natively, as the libraries that run the cases see it.

Two x86 machines with the same core count can differ by an order of magnitude on the same case:
one has AVX-512 with bf16 and VNNI instructions, another AVX2 only. Every row records the
difference (`cpu_isa`, `cpu_flags`), and the backends use it to decide what is native:

* **bf16 on the CPU** is native when the hardware has bf16 dot products (avx512_bf16 or
  amx_bf16) *and* the libraries may use them: ATen dispatches to an AVX-512 kernel set and
  oneDNN is not capped below its bf16 level (`ONEDNN_MAX_CPU_ISA=AVX2` with
  `ATEN_CPU_CAPABILITY=avx2` reproduces an AVX2 machine on an AVX-512 one). Elsewhere bf16 is
  emulated with fp32 arithmetic and conversions, slower than fp32, and oneDNN cannot build
  some bf16 primitives at all (LSTM).
* **int8 dot products without saturation** need VNNI (avx512_vnni or avx_vnni): without it,
  ONNX Runtime's U8S8 kernels use VPMADDUBSW, whose 16-bit intermediate sums can saturate.
  ONNX Runtime picks its kernels by cpuid, which env variables do not change, so this is read
  from the hardware flags alone.

The flags are the kernel's (/proc/cpuinfo): cpuid as the operating system enables it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

#: The variables that cap the kernel sets torch's libraries dispatch to.
ISA_CAPS = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA")

#: The flags that decide what is native for the precisions archbench runs, in reading order.
RELEVANT_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "avx512_vnni",
                  "avx_vnni", "amx_int8", "avx512_fp16")
BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
VNNI_FLAGS = frozenset({"avx512_vnni", "avx_vnni"})


@cache
def cpu_flags() -> frozenset[str]:
    """The relevant instruction-set flags this CPU reports (empty where /proc is missing)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return frozenset(line.split(":", 1)[1].split()) & frozenset(RELEVANT_FLAGS)
    return frozenset()


def cpu_isa() -> str:
    """The kernel set ATen dispatches to: 'AVX512', 'AVX2', 'DEFAULT' (or an Arm level)."""
    import torch  # here, not above: readers of results use this module and never need torch

    return torch.backends.cpu.get_cpu_capability()


def flags_text(flags: frozenset[str] | None = None) -> str:
    """The relevant flags present, space-separated in a fixed order (a row's `cpu_flags`)."""
    flags = cpu_flags() if flags is None else flags
    return " ".join(flag for flag in RELEVANT_FLAGS if flag in flags)


@dataclass(frozen=True)
class Bf16Support:
    """Whether bf16 runs natively on this CPU, and if not, why (one line)."""

    native: bool
    onednn: bool  # oneDNN builds bf16 primitives here (natively or emulated with AVX-512)
    reason: str


def cpu_bf16_support() -> Bf16Support:
    """Native bf16 needs the instructions, an AVX-512 ATen kernel set and an uncapped oneDNN."""
    import torch

    flags, isa = cpu_flags(), cpu_isa()
    onednn = bool(torch.backends.mkldnn.is_available()
                  and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    if not flags & BF16_FLAGS:
        reason = f"this CPU has no bf16 instructions (no {' or '.join(sorted(BF16_FLAGS))})"
    elif not isa.startswith("AVX512"):
        reason = f"ATen dispatches to {isa} kernels here (ATEN_CPU_CAPABILITY), not AVX-512"
    elif not onednn:
        reason = "oneDNN is capped below its bf16 instructions here (ONEDNN_MAX_CPU_ISA)"
    else:
        return Bf16Support(True, onednn, "")
    return Bf16Support(False, onednn, f"bf16 is emulated: {reason}")


def has_vnni() -> bool:
    """VNNI int8 dot products (ONNX Runtime's kernels avoid U8S8 saturation with them)."""
    return bool(cpu_flags() & VNNI_FLAGS)


def isa_caps_key() -> str:
    """A folder-safe name for the kernel-set caps in effect ('native' when none is set).

    torch.compile's on-disk cache (inductor) does not key its entries on these caps: a graph
    compiled with AVX-512 allowed and reused under `ATEN_CPU_CAPABILITY=avx2` gave wrong
    outputs (max error 0.32 on cnn/tiny) and the reverse crashed ("double free or
    corruption"), seen with torch 2.13. Cases therefore compile into a cache of their caps.
    """
    caps = [f"{name.lower()}-{os.environ[name]}" for name in ISA_CAPS if os.environ.get(name)]
    return "_".join(caps).replace("/", "-") or "native"
