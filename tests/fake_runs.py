"""Fake run folders for the report and comparison tests: small, synthetic, known answers.

A run is 3 suites × 2 sizes × 3 backends × 2 phases at one batch size, in the latency scenario
unless a test names others (each scenario then repeats every case, as a sweep does). Iteration
times are drawn from a log-normal around a median that is a known function of the case, so a test
can slow one case down by a known factor and expect the comparison to find exactly that. Some cases
do not finish: ONNX Runtime skips training, one compiled transformer errors (with a reason that
carries markup, to test escaping), and one compiled RNN times out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np

from harness.results.schema import samples_frame, to_frame
from harness.results.store import MANIFEST, SAMPLES, TABLE, write_json_atomic

XSS = "<script>alert(1)</script><img src=x onerror=alert(2)>"
SUITES = {"cnn": {"tiny": 20_000, "small": 200_000},
          "rnn": {"tiny": 15_000, "small": 150_000},
          "transformer": {"tiny": 50_000, "small": 500_000}}
#: Median-time factor per backend, and accuracy / parity error per backend.
BACKENDS = {"cpu-eager": (1.0, 0.95, 1e-6), "cpu-compile": (0.6, 0.95, 2e-6),
            "ort-cpu-int8": (0.4, 0.91, 3e-2)}
PHASES = {"infer": 1.0, "train": 3.0}
#: Median-time factor per scenario: pipelined steps take less time each than synchronised ones,
#: so a figure that mixed the two scenarios would show a difference no backend made.
SCENARIOS = {"latency": 1.0, "throughput": 0.5, "batch-sweep": 1.0}
BATCH = 16
N_SAMPLES = 80
ENVIRONMENT = {"hostname": "bench-1", "cpu_model": "Test CPU 9000", "cpu_cores": 8,
               "gpu_name": "", "python_version": "3.11.9", "torch_version": "2.4.0",
               "onnxruntime_version": "1.18.0", "archbench_commit": "abc1234"}
ERROR_CASE = f"transformer-small-cpu-compile-train-latency-bs{BATCH}"
TIMEOUT_CASE = f"rnn-small-cpu-compile-infer-latency-bs{BATCH}"


def case_id(suite: str, size: str, backend: str, phase: str, scenario: str = "latency") -> str:
    return f"{suite}-{size}-{backend}-{phase}-{scenario}-bs{BATCH}"


def _status(cid: str, backend: str, phase: str,
            failures: Mapping[str, tuple[str, str]]) -> tuple[str, str]:
    if cid in failures:
        return failures[cid]
    if backend.startswith("ort-") and phase == "train":
        return "skipped", "ONNX Runtime backends run inference only"
    if cid == ERROR_CASE:
        return "error", f"RuntimeError: compile failed {XSS}"
    if cid == TIMEOUT_CASE:
        return "timeout", "exceeded the 60 s case timeout"
    return "ok", ""


def _timing(samples: np.ndarray) -> dict[str, Any]:
    q1, median, q3, p90, p99 = np.percentile(samples, [25, 50, 75, 90, 99])
    ordered = np.sort(samples)
    return {"n": len(samples), "median_ms": median, "mean_ms": samples.mean(),
            "std_ms": samples.std(ddof=1), "min_ms": ordered[0], "max_ms": ordered[-1],
            "iqr_ms": q3 - q1, "p90_ms": p90, "p99_ms": p99, "ci_low_ms": ordered[28],
            "ci_high_ms": ordered[-29], "noisy": (q3 - q1) / median > 0.10,
            "throughput_sps": BATCH * 1000 / median, "timed_s": samples.sum() / 1000,
            "warmup_iters": 5, "warmup_s": 0.1, "stop_reason": "converged"}


def write_run(results_dir: Path, run_id: str, *, seed: int = 0,
              slowdown: Mapping[str, float] | None = None, sigma: float = 0.03,
              drop: set[str] | frozenset[str] = frozenset(),
              failures: Mapping[str, tuple[str, str]] | None = None,
              environment: Mapping[str, Any] | None = None,
              config: Mapping[str, Any] | None = None,
              rows: Mapping[str, Mapping[str, Any]] | None = None,
              manifest: Mapping[str, Any] | None = None,
              scenarios: Sequence[str] = ("latency",)) -> Path:
    """Write `<results_dir>/<run_id>/` with manifest, results and samples; return the folder.

    `slowdown` multiplies the median time of the named case ids; `drop` leaves cases out;
    `failures` gives the named cases a status other than ok, with its reason (case id ->
    (status, reason)); `seed` and `sigma` set the noise (log-normal, sigma of the log);
    `environment` overrides manifest and row fields; `config` adds to the manifest's sweep
    configuration; `rows` overrides columns of the named cases' rows only (case id ->
    columns), as a resumed session would; `manifest` adds or replaces top-level manifest keys;
    `scenarios` are the scenarios every case is measured in (`SCENARIOS` scales their medians).
    """
    slowdown = slowdown or {}
    rng = np.random.default_rng(seed)
    table, samples = [], []
    for suite, sizes in SUITES.items():
        for size, params in sizes.items():
            for backend, (factor, accuracy, rel_err) in BACKENDS.items():
                for (phase, phase_factor), scenario in product(PHASES.items(), scenarios):
                    cid = case_id(suite, size, backend, phase, scenario)
                    if cid in drop:
                        continue
                    status, reason = _status(cid, backend, phase, failures or {})
                    row: dict[str, Any] = {
                        "run_id": run_id, "case_id": cid, "suite": suite, "size": size,
                        "backend": backend, "device": "cpu",
                        "precision": "int8" if "int8" in backend else "fp32", "phase": phase,
                        "scenario": scenario, "batch_size": BATCH, "params": params,
                        "flops_per_sample": 2.0 * params,
                        "status": status, "reason": reason, **ENVIRONMENT,
                        **(environment or {}), "timestamp": "2025-01-01T00:00:00Z"}
                    if status == "ok":
                        median = (params / 1e4 * factor * phase_factor * SCENARIOS[scenario]
                                  * slowdown.get(cid, 1.0))
                        iters = median * rng.lognormal(0.0, sigma, N_SAMPLES)
                        samples += [{"run_id": run_id, "case_id": cid, "metric": "iter_ms",
                                     "idx": i, "value": v} for i, v in enumerate(iters)]
                        if phase == "train":
                            samples += [{"run_id": run_id, "case_id": cid,
                                         "metric": "train_loss", "idx": i, "value": 2.0 / (i + 1)}
                                        for i in range(20)]
                        ort = backend.startswith("ort-")
                        row.update(_timing(iters), **{
                            "accuracy": accuracy, "train_steps": 200, "final_loss": 0.1,
                            "parity_rel_err": rel_err, "parity_max_abs_err": rel_err * 3,
                            "parity_top1_agree": 1.0 if rel_err < 1e-3 else 0.97,
                            "parity_tol": 1e-2 if ort else 1e-4,
                            "parity_ok": rel_err <= (1e-2 if ort else 1e-4),
                            "peak_rss_mb": 400 + params / 1e3, "rss_increase_mb": params / 1e3,
                            "cold_call_s": 0.5 if "compile" in backend else 0.05,
                            "first_call_s": 0.5 if "compile" in backend else 0.05,
                            "compile_s": 11.5 if "compile" in backend else None,
                            "first_iter_ms": median * 1.5,
                            "export_s": 1.5 if ort else None, "export_cached": False if ort
                            else None, "load_s": 0.3 if ort else None})
                    table.append({**row, **(rows or {}).get(cid, {})})
    run_dir = results_dir / run_id
    run_dir.mkdir(parents=True)
    write_json_atomic(run_dir / MANIFEST, {
        "run_id": run_id, "environment": {**ENVIRONMENT, **(environment or {})},
        "config": {"suites": list(SUITES), "backends": list(BACKENDS), "batch_sizes": [BATCH],
                   "scenarios": list(scenarios), **(config or {})}, **(manifest or {})})
    to_frame(table).to_parquet(run_dir / TABLE, index=False)
    samples_frame(samples).to_parquet(run_dir / SAMPLES, index=False)
    return run_dir

