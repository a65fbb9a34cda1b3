"""What the CPU can do natively: flags, the ATen kernel set, native bf16 and VNNI."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from harness.machine import cpu_features
from harness.machine.cpu_features import Bf16Support, cpu_bf16_support

AVX2_ONLY = frozenset({"avx2", "fma"})
SAPPHIRE_RAPIDS = frozenset({"avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16",
                             "avx512_vnni", "avx_vnni", "amx_int8", "avx512_fp16"})


def test_flags_are_read_from_cpuinfo_and_kept_to_the_relevant_ones(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 fma avx512f avx512_vnni "
                       "sha_ni\n\nprocessor\t: 1\nflags\t\t: fpu\n")
    real_path = Path
    monkeypatch.setattr(cpu_features, "Path", lambda p: cpuinfo if p == "/proc/cpuinfo"
                        else real_path(p))
    cpu_features.cpu_flags.cache_clear()
    try:
        assert cpu_features.cpu_flags() == {"avx2", "fma", "avx512f", "avx512_vnni"}
        assert cpu_features.flags_text() == "avx2 fma avx512f avx512_vnni"
    finally:
        cpu_features.cpu_flags.cache_clear()


def test_flags_text_keeps_a_fixed_order() -> None:
    assert cpu_features.flags_text(frozenset({"avx_vnni", "avx2"})) == "avx2 avx_vnni"
    assert cpu_features.flags_text(frozenset()) == ""


def test_isa_is_what_aten_dispatches_to() -> None:
    assert cpu_features.cpu_isa() == torch.backends.cpu.get_cpu_capability()


@pytest.mark.parametrize(("flags", "isa", "onednn", "native", "why"), [
    (SAPPHIRE_RAPIDS, "AVX512", True, True, ""),
    (AVX2_ONLY, "AVX2", False, False, "no bf16 instructions"),
    (frozenset({"avx2", "avx512f"}), "AVX512", True, False, "no bf16 instructions"),
    (SAPPHIRE_RAPIDS, "AVX2", False, False, "ATEN_CPU_CAPABILITY"),
    (SAPPHIRE_RAPIDS, "AVX512", False, False, "ONEDNN_MAX_CPU_ISA"),
])
def test_bf16_is_native_only_with_instructions_and_uncapped_libraries(
        monkeypatch: pytest.MonkeyPatch, flags: frozenset[str], isa: str, onednn: bool,
        native: bool, why: str) -> None:
    monkeypatch.setattr(cpu_features, "cpu_flags", lambda: flags)
    monkeypatch.setattr(cpu_features, "cpu_isa", lambda: isa)
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: onednn)
    support = cpu_bf16_support()
    assert support == Bf16Support(native, onednn, support.reason)
    assert (support.reason == "") == native
    assert why in support.reason
    if not native:
        assert support.reason.startswith("bf16 is emulated: ")


@pytest.mark.parametrize(("flags", "vnni"), [
    (AVX2_ONLY, False), (frozenset({"avx512f", "avx512_vnni"}), True),
    (frozenset({"avx2", "avx_vnni"}), True)])
def test_vnni_is_either_flag(monkeypatch: pytest.MonkeyPatch, flags: frozenset[str],
                             vnni: bool) -> None:
    monkeypatch.setattr(cpu_features, "cpu_flags", lambda: flags)
    assert cpu_features.has_vnni() is vnni


def test_isa_caps_key_names_the_caps_in_effect(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in cpu_features.ISA_CAPS:
        monkeypatch.delenv(name, raising=False)
    assert cpu_features.isa_caps_key() == "native"
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx2")
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert cpu_features.isa_caps_key() == "aten_cpu_capability-avx2_onednn_max_cpu_isa-AVX2"
