"""int8 accuracy with and without VNNI: why ort-cpu-int8 uses reduce_range on CPUs without it.

For each built-in suite at small and medium, the trained reference weights are exported once
and dynamically quantised with four settings. Each file's logits on the parity batch are
compared with the fp64 reference (relative error, top-1 agreement), natively and, through
qemu's user-mode emulator, on CPUs without VNNI (`-cpu Haswell`: AVX2; `-cpu Skylake-Server`:
AVX-512), where ONNX Runtime's U8S8 kernels use VPMADDUBSW and can saturate. Accuracy only:
emulated speed means nothing.

    .venv/bin/python benchmarks/int8_saturation.py > benchmarks/results/int8-vnni.md
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic

from harness.backends.onnx_export import onnx_file
from harness.case.process import fp64_reference
from harness.case.weights import trained_state
from harness.machine.cpu_features import flags_text
from harness.measure.parity import PARITY_SAMPLES, parity
from suites.registry import BUILTIN

SETTINGS = {
    "per tensor, 8-bit (the old default)": {},
    "per channel, 8-bit (VNNI choice)": {"per_channel": True},
    "per channel, 7-bit reduce_range (no-VNNI choice)": {"per_channel": True,
                                                         "reduce_range": True},
    "U8U8, per tensor": {"weight_type": QuantType.QUInt8},
}
EMULATED_CPUS = ("Haswell", "Skylake-Server")
RUN = """
import json, sys, numpy as np, onnxruntime as ort
out = {}
for path in sys.argv[1:]:
    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    out[path] = s.run(None, {"input": np.load(path + ".x.npy")})[0].tolist()
print(json.dumps(out))
"""


def prepare(workdir: Path) -> dict[str, tuple[np.ndarray, list[str]]]:
    """Quantised files per case, with the fp64 reference logits of the parity batch."""
    cases = {}
    for name in ("cnn", "rnn", "transformer"):
        for size in ("small", "medium"):
            suite = BUILTIN[name]
            data = suite.data(size)
            steps = suite.task.train_steps
            weights = trained_state(suite, size, data, steps, 0, workdir,
                                    torch.get_num_threads())
            model = suite.model(size, data, 0)
            model.load_state_dict(weights)
            fp32 = onnx_file(model, data.x_test[:2], workdir, f"{name}-{size}").path
            files = []
            for kwargs in SETTINGS.values():
                path = workdir / f"{name}-{size}-{len(files)}.onnx"
                quantize_dynamic(fp32, path, **{"weight_type": QuantType.QInt8, **kwargs})
                np.save(str(path) + ".x.npy", data.x_test[:PARITY_SAMPLES].numpy())
                files.append(str(path))
            cases[f"{name}/{size}"] = (fp64_reference(suite, size, data, weights, 0), files)
    return cases


def logits_on(cpu: str | None, files: list[str]) -> dict[str, np.ndarray]:
    prefix = [] if cpu is None else [shutil.which("qemu-x86_64") or "qemu-x86_64", "-cpu", cpu]
    done = subprocess.run([*prefix, sys.executable, "-c", RUN, *files], check=True,
                          capture_output=True, text=True)
    return {k: np.asarray(v) for k, v in json.loads(done.stdout.splitlines()[-1]).items()}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cases = prepare(Path(tmp))
        every_file = [f for _, files in cases.values() for f in files]
        cpus = {f"native ({flags_text()})": None, **{f"qemu {c}": c for c in EMULATED_CPUS}}
        results = {label: logits_on(cpu, every_file) for label, cpu in cpus.items()}
    print("Relative error of int8 logits against fp64 (top-1 agreement), parity batch of "
          f"{PARITY_SAMPLES}; `{' '.join(sys.argv)}`\n")
    for cpu_label in cpus:
        print(f"### {cpu_label}\n")
        print("| case | " + " | ".join(SETTINGS) + " |")
        print("|---" * (len(SETTINGS) + 1) + "|")
        for case, (reference, files) in cases.items():
            cells = []
            for path in files:
                result = parity(results[cpu_label][path], reference, "int8")
                cells.append(f"{result.rel_err:.4f} ({result.top1_agree:.2f})")
            print(f"| {case} | " + " | ".join(cells) + " |")
        print()


if __name__ == "__main__":
    main()
