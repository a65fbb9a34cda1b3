"""The machine's measured ceilings: peak matrix-multiply FLOP/s per precision, and memory
bandwidth. The roofline and every case's % of peak are relative to these.

Measured once per run, in a process of its own before the first case (`harness.sweep.run`), with
the thread count the cases get, and stored in the manifest and in every row:

- **Matmul FLOP/s**: an n x n x n `torch.mm` (2 n^3 FLOPs), best of repeats over a short budget,
  in fp32 always (TF32 off on CUDA, as the fp32 backends run), in bf16 where it is native
  (bf16 dot-product instructions on the CPU; every CUDA device torch supports bf16 on), fp16 on
  CUDA, and int8 (`torch._int_mm`) on CPUs with VNNI. A precision not measured has no ceiling,
  and its cases no % of peak: dividing by an emulated peak would flatter them.
- **Bandwidth**: a copy of a buffer far larger than the caches, counting the bytes read and
  the bytes written (2 x size), best of repeats.

On CUDA both are timed with CUDA events. "Best of" because a ceiling is what the machine can
do; a repeat that a neighbour slowed is not the machine's limit. The budget keeps the whole
measurement to a few seconds; the sizes and threads used are recorded with the numbers.

`python -m harness.profiling.ceilings --device cpu --threads 2` prints them as JSON.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

import torch

from harness.machine.cpu_features import cpu_bf16_support, has_vnni

MATMUL_N = {"cpu": 1024, "cuda": 8192}
COPY_MIB = {"cpu": 256, "cuda": 1024}
BUDGET_S = 0.5  # per measurement
MAX_REPEATS = 20
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16,
          "int8": torch.int8}


def native_precisions(device: str) -> list[str]:
    """The precisions whose matmul runs natively on `device` (module docstring)."""
    if device == "cuda":
        return ["fp32", "fp16"] + (["bf16"] if torch.cuda.is_bf16_supported() else [])
    return (["fp32"] + (["bf16"] if cpu_bf16_support().native else [])
            + (["int8"] if has_vnni() else []))


def _best_seconds(work: Callable[[], object], device: str) -> float:
    """The fastest of repeats of `work` within the budget (after one untimed call)."""
    work()
    times: list[float] = []
    spent = 0.0
    while len(times) < MAX_REPEATS and (spent < BUDGET_S or len(times) < 3):
        if device == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(
                enable_timing=True)
            start.record()
            work()
            end.record()
            end.synchronize()
            seconds = start.elapsed_time(end) / 1e3
        else:
            begin = time.perf_counter()
            work()
            seconds = time.perf_counter() - begin
        times.append(seconds)
        spent += seconds
    return min(times)


def matmul_flops(device: str, precision: str, n: int) -> float:
    """Peak FLOP/s of an n x n x n matrix multiply in `precision` on `device`."""
    if precision == "int8":
        a = torch.randint(-64, 64, (n, n), dtype=torch.int8, device=device)
        b = torch.randint(-64, 64, (n, n), dtype=torch.int8, device=device)
        return 2 * n**3 / _best_seconds(lambda: torch._int_mm(a, b), device)
    a = torch.randn(n, n, device=device).to(DTYPES[precision])
    b = torch.randn(n, n, device=device).to(DTYPES[precision])
    return 2 * n**3 / _best_seconds(lambda: torch.mm(a, b), device)


def copy_bandwidth(device: str, mib: int) -> float:
    """Bytes per second of a copy of `mib` MiB: read once, written once."""
    src = torch.ones(mib * 2**20 // 4, dtype=torch.float32, device=device)
    dst = torch.empty_like(src)
    return 2 * src.numel() * 4 / _best_seconds(lambda: dst.copy_(src), device)


def measure(device: str, threads: int) -> dict[str, Any]:
    """Every ceiling of `device` (module docstring), with how it was measured."""
    torch.set_num_threads(threads)
    torch.backends.cuda.matmul.allow_tf32 = False
    start = time.perf_counter()
    n, mib = MATMUL_N[device], COPY_MIB[device]
    peaks = {precision: matmul_flops(device, precision, n)
             for precision in native_precisions(device)}
    bandwidth = copy_bandwidth(device, mib)
    return {"device": device, "threads": threads, "matmul_n": n, "copy_mib": mib,
            "peak_flops": peaks, "bandwidth_bytes_s": bandwidth,
            "timer": "CUDA events" if device == "cuda" else "perf_counter",
            "seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=list(MATMUL_N), default="cpu")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    print(json.dumps(measure(args.device, args.threads)))


if __name__ == "__main__":
    main()
