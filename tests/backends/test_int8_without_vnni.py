"""int8 on a CPU without VNNI, where ONNX Runtime's U8S8 products can saturate.

ONNX Runtime chooses its int8 kernels by cpuid, which no environment variable changes, so an
AVX-512/VNNI machine cannot reach the AVX2 path by itself. qemu's user-mode emulator can: with
`-cpu Haswell` the process sees an AVX2 CPU without VNNI, and ORT takes the VPMADDUBSW kernels
that saturate. The test quantises the tiny models with the settings archbench chooses for such
a CPU (reduce_range) and checks, under that emulated CPU, that parity passes the product's int8
tolerance there, as it does natively, and stays within 2% of the native result. With the
full-range weights a VNNI machine uses, the same emulated CPU failed parity (rnn/tiny: 0.22 >
0.2). Float kernels differ between the two CPUs too (the LSTM's), so the results agree closely,
not bit for bit. CI installs qemu-user; where it is missing the test says so and skips.
"""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from harness.backends.base import CaseContext
from harness.backends.onnx_export import cache_path
from harness.backends.ort import ORT_CPU_INT8
from harness.case.process import fp64_reference
from harness.case.weights import trained_state
from harness.measure.parity import PARITY_SAMPLES, TOLERANCES, parity
from suites.registry import BUILTIN

QEMU = shutil.which("qemu-x86_64")
pytestmark = pytest.mark.skipif(
    QEMU is None or platform.machine() != "x86_64",
    reason="needs qemu-x86_64 on an x86-64 machine (apt-get install qemu-user) to emulate a "
           "CPU without VNNI")

SUITES = ("cnn", "rnn", "transformer")
#: Runs under the emulated CPU: only numpy and onnxruntime, no torch (fast to import there).
EMULATED = """
import json, sys, numpy as np, onnxruntime as ort
from numpy._core._multiarray_umath import __cpu_features__ as cpu
out = {"vnni": bool(cpu.get("AVX512VNNI")), "avx2": bool(cpu.get("AVX2")), "logits": {}}
for path in sys.argv[1:]:
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    x = np.load(path + ".x.npy")
    out["logits"][path] = session.run(None, {"input": x})[0].tolist()
print(json.dumps(out))
"""


def test_reduce_range_int8_passes_parity_on_an_emulated_avx2_cpu(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("harness.backends.onnx_export.has_vnni", lambda: False)
    native, reference, files = {}, {}, []
    for name in SUITES:
        suite = BUILTIN[name]
        data = suite.data("tiny")
        weights = trained_state(suite, "tiny", data, 30, 0, tmp_path, torch.get_num_threads())
        model = suite.model("tiny", data, 0)
        model.load_state_dict(weights)
        ctx = CaseContext(tmp_path, 1, f"{name}-tiny-trained")
        runner = ORT_CPU_INT8.inference(model, ctx)
        x = data.x_test[:PARITY_SAMPLES]
        native[name] = runner.predict(x).numpy()
        assert "7-bit (reduce_range)" in runner.facts["quantization"]
        reference[name] = fp64_reference(suite, "tiny", data, weights, 0)
        path = str(cache_path(tmp_path, ctx.model_key, "int8"))
        np.save(path + ".x.npy", x.numpy())
        files.append(path)

    done = subprocess.run([QEMU, "-cpu", "Haswell", sys.executable, "-c", EMULATED, *files],
                          capture_output=True, text=True, timeout=300, check=True)
    emulated = json.loads(done.stdout.strip().splitlines()[-1])
    assert emulated["avx2"] and not emulated["vnni"]  # the path under test really ran
    for name, path in zip(SUITES, files, strict=True):
        logits = np.asarray(emulated["logits"][path])
        result = parity(logits, reference[name], "int8")
        assert result.ok, f"{name}: rel. error {result.rel_err:.4f} > {TOLERANCES['int8']}"
        assert parity(native[name], reference[name], "int8").ok, name
        # Float kernels of the two CPUs differ by < 0.5% here; saturation moved the full-range
        # files by 5% (cnn) and failed parity outright (rnn: 0.22 > 0.2).
        assert parity(logits, native[name], "int8").rel_err < 0.02, name
