"""The results table: its schema, how a run is stored on disk, and how it is loaded back.

A run is a folder::

    <results>/<run_id>/
        manifest.json       the sweep's configuration and the run-level environment
        cases/<case>.json   one finished case: its row and its raw samples (written atomically,
                            the moment the case ends, so a killed sweep keeps what it finished)
        results.parquet     one row per case (rebuilt from cases/ after every case)
        samples.parquet     the raw samples, long format: case_id, metric, idx, value

`results.parquet` is derived from `cases/`, never the other way round: the per-case files are
the durable record, and the table is a convenience that `load_results` rebuilds if it is stale.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from harness.errors import UsageError

MANIFEST = "manifest.json"
CASES_DIR = "cases"
TABLE = "results.parquet"
SAMPLES = "samples.parquet"

STATUSES = ("ok", "error", "timeout", "crashed", "skipped")

#: Every column of the results table, in order, with its meaning. Units are in the names.
SCHEMA: dict[str, str] = {
    # identifiers
    "run_id": "the sweep this row belongs to",
    "case_id": "suite-size-backend-phase-bsN, unique within a run",
    "suite": "architecture family (cnn, rnn, transformer or a user suite)",
    "size": "named size of the suite (tiny, small, medium, large)",
    "backend": "backend name as listed by `archbench list`",
    "device": "cpu or cuda",
    "precision": "numeric precision the backend ran in (fp32, bf16, fp16, int8)",
    "phase": "train (forward, loss, backward, optimizer step) or infer (forward only)",
    "batch_size": "samples per iteration",
    # model facts
    "params": "trainable parameters of the model",
    "flops_per_sample": "forward FLOPs per sample (torch.utils.flop_counter)",
    # outcome
    "status": "ok, error, timeout, crashed or skipped",
    "reason": "one line saying why the case did not run or did not finish (empty when ok)",
    # timing statistics over the timed samples, milliseconds per iteration
    "n": "number of timed iterations",
    "median_ms": "median iteration time",
    "mean_ms": "mean iteration time",
    "std_ms": "sample standard deviation",
    "min_ms": "fastest iteration",
    "max_ms": "slowest iteration",
    "iqr_ms": "interquartile range (p75 - p25)",
    "p90_ms": "90th percentile",
    "p99_ms": "99th percentile",
    "ci99_low_ms": "lower bound of the distribution-free 99% confidence interval of the median",
    "ci99_high_ms": "upper bound of that interval (NaN when n is too small to have one)",
    "noisy": "True when IQR / median > 10%",
    "throughput_sps": "batch_size / median iteration time; on CUDA every iteration ends in a "
    "device sync, so this is unpipelined throughput (launch latency included)",
    "timed_s": "seconds spent inside timed iterations",
    "warmup_iters": "untimed warm-up iterations",
    "warmup_s": "seconds spent warming up",
    "stop_reason": "why sampling stopped: converged (IQR within target) or t_max",
    # cold start, kept out of the steady-state numbers above
    "cold_call_s": "the first call after preparation (lazy compilation, autotuning, allocation)",
    "first_iter_ms": "the second call: first latency after the cold call",
    "compile_s": "torch.compile time (the cold call of a compiled model)",
    "export_s": "torch.onnx.export time (0 when the export came from the cache)",
    "export_cached": "True when the ONNX file came from the export cache",
    "session_s": "ONNX Runtime session creation time",
    "onnx_file_mb": "size of the ONNX file the session loaded",
    "quantized_ops": "int8: the integer ops of the quantised graph, e.g. 'ConvInteger:2'",
    "float_weight_ops": "int8: weighted ops quantize_dynamic left in float, e.g. 'LSTM:1' "
    "(empty: everything was quantised)",
    "graph_breaks": "torch.compile graph breaks, including frames dynamo could not trace at all",
    "compiled_graphs": "graphs torch.compile compiled (0: nothing was compiled, the model ran "
    "in eager)",
    "recompiles": "torch.compile recompilations beyond the first compile",
    # memory
    "peak_rss_mb": "peak resident memory of the case's process (kernel high-water mark) from "
    "the model's creation through preparation and the timed region",
    "rss_increase_mb": "peak_rss_mb minus the process's baseline before the model was built "
    "(NaN where the kernel would not reset its high-water mark)",
    "cuda_peak_allocated_mb": "torch allocator peak allocated during the timed region (for ORT "
    "only its IO-binding buffers: see device_mem_used_mb)",
    "cuda_peak_reserved_mb": "torch allocator peak reserved during the timed region",
    "device_mem_used_mb": "GPU memory NVML attributes to this process just after the timed "
    "region (sees ORT's allocations too; NaN where the driver lists no per-process usage)",
    # accuracy
    "accuracy": "held-out task accuracy (train: after the training budget; infer: trained weights "
    "evaluated through this backend)",
    "train_steps": "training budget in optimizer steps (train phase and the weights used by infer)",
    "final_loss": "mean training loss over the last 10% of the budget",
    "parity_max_abs_err": "max |out - ref| against an fp64 reference on a fixed held-out batch",
    "parity_rel_err": "||out - ref|| / ||ref||",
    "parity_top1_agree": "fraction of that batch where the backend's top-1 equals the reference's",
    "parity_tol": "relative-error tolerance for this precision",
    "parity_ok": "parity_rel_err <= parity_tol",
    # settings that shape the numbers
    "torch_threads": "torch intra-op threads (set explicitly)",
    "torch_interop_threads": "torch inter-op threads (set explicitly)",
    "ort_threads": "ONNX Runtime intra-op threads (matched to torch's)",
    "cudnn_benchmark": "torch.backends.cudnn.benchmark during the case",
    "tf32_matmul": "torch.backends.cuda.matmul.allow_tf32 during the case",
    "tf32_cudnn": "torch.backends.cudnn.allow_tf32 during the case",
    "seed": "seed of model initialisation, data split and synthetic inputs",
    "wall_s": "wall time of the whole case, process start to finish",
    # environment
    "hostname": "machine name",
    "cpu_model": "CPU model string",
    "cpu_cores": "logical CPUs available to the process",
    "gpu_name": "CUDA device name (empty without CUDA)",
    "cuda_version": "CUDA version torch was built with (empty for CPU builds)",
    "python_version": "Python version",
    "torch_version": "torch version",
    "onnxruntime_version": "onnxruntime version",
    "archbench_commit": "git commit of the archbench checkout (with -dirty when modified)",
    "timestamp": "UTC time the case finished, ISO 8601",
}

COLUMNS = list(SCHEMA)

_INT_COLUMNS = {"batch_size", "params", "n", "warmup_iters", "train_steps", "graph_breaks",
                "compiled_graphs", "recompiles", "torch_threads", "torch_interop_threads",
                "ort_threads", "seed", "cpu_cores"}
_FLOAT_COLUMNS = {"flops_per_sample", "median_ms", "mean_ms", "std_ms", "min_ms", "max_ms",
                  "iqr_ms", "p90_ms", "p99_ms", "ci99_low_ms", "ci99_high_ms",
                  "throughput_sps", "timed_s", "warmup_s", "cold_call_s", "first_iter_ms",
                  "compile_s", "export_s", "session_s", "onnx_file_mb", "peak_rss_mb",
                  "rss_increase_mb", "cuda_peak_allocated_mb", "cuda_peak_reserved_mb",
                  "device_mem_used_mb", "accuracy", "final_loss", "parity_max_abs_err",
                  "parity_rel_err", "parity_top1_agree", "parity_tol", "wall_s"}
_BOOL_COLUMNS = {"noisy", "export_cached", "parity_ok", "cudnn_benchmark", "tf32_matmul",
                 "tf32_cudnn"}


def to_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Build the results table from row dicts: every schema column present, in order, typed.

    Missing values are NA, never 0: a skipped case has no median, and a report must not draw
    one. Extra keys are rejected so that a typo in a backend cannot invent a silent column.
    """
    rows = list(rows)
    for row in rows:
        unknown = set(row) - set(SCHEMA)
        if unknown:
            raise ValueError(f"unknown result columns: {sorted(unknown)}")
    frame = pd.DataFrame(rows, columns=COLUMNS)
    for column in COLUMNS:
        if column in _INT_COLUMNS:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("Int64")
        elif column in _FLOAT_COLUMNS:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
        elif column in _BOOL_COLUMNS:
            frame[column] = frame[column].astype("boolean")
        else:
            frame[column] = frame[column].astype("string")
    return frame


def samples_frame(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Long-format raw samples: one row per (case_id, metric, idx).

    Metrics: ``iter_ms`` (every timed iteration, in order) and ``train_loss`` (the loss of every
    step of the training budget, i.e. the loss curve).
    """
    frame = pd.DataFrame(list(records), columns=["run_id", "case_id", "metric", "idx", "value"])
    return frame.astype({"run_id": "string", "case_id": "string", "metric": "string",
                         "idx": "int64", "value": "float64"})


# --- storage -------------------------------------------------------------------------------


def write_json_atomic(path: Path, payload: Any) -> None:
    """Write JSON so that a reader (or a crash) never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=1, default=str, allow_nan=True))
    os.replace(tmp, path)


def save_case(run_dir: Path, row: Mapping[str, Any], samples: Mapping[str, list[float]]) -> None:
    """Persist one finished case immediately, then refresh the run's tables."""
    write_json_atomic(run_dir / CASES_DIR / f"{row['case_id']}.json",
                      {"row": dict(row), "samples": {k: list(v) for k, v in samples.items()}})
    rebuild_tables(run_dir)


def read_cases(run_dir: Path) -> list[dict[str, Any]]:
    """The per-case records of a run, sorted by case id; a malformed file is a UsageError."""
    records = []
    for path in sorted((run_dir / CASES_DIR).glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise UsageError(f"malformed case file {path}: {exc}") from exc
        if not (isinstance(record, dict) and isinstance(record.get("row"), dict)
                and isinstance(record.get("samples"), dict)):
            raise UsageError(f"malformed case file {path}: expected an object with 'row' and "
                             "'samples' objects")
        records.append(record)
    return records


def rebuild_tables(run_dir: Path) -> None:
    """Regenerate results.parquet and samples.parquet from the per-case files."""
    records = read_cases(run_dir)
    table = to_frame(record["row"] for record in records)
    samples = samples_frame(
        {"run_id": record["row"]["run_id"], "case_id": record["row"]["case_id"],
         "metric": metric, "idx": idx, "value": value}
        for record in records
        for metric, values in record["samples"].items()
        for idx, value in enumerate(values)
    )
    table.to_parquet(run_dir / TABLE, index=False)
    samples.to_parquet(run_dir / SAMPLES, index=False)


def finished_case_ids(run_dir: Path) -> set[str]:
    """Case ids that already have a record, whatever their status (resume skips these)."""
    return {path.stem for path in (run_dir / CASES_DIR).glob("*.json")}


def resolve_run(path: str | Path, results_dir: str | Path = "results") -> Path:
    """Accept a run folder, its results.parquet, or a bare run id under `results_dir`."""
    candidate = Path(path)
    if candidate.is_file() and candidate.name in (TABLE, SAMPLES, MANIFEST):
        candidate = candidate.parent
    if not candidate.exists() and (Path(results_dir) / candidate).exists():
        candidate = Path(results_dir) / candidate
    if not (candidate / MANIFEST).is_file():
        runs = sorted(p.name for p in Path(results_dir).glob("*") if (p / MANIFEST).is_file())
        known = ", ".join(runs[-5:]) if runs else "none"
        raise UsageError(f"no archbench run at '{path}' (recent runs in {results_dir}/: {known})")
    return candidate


def load_manifest(run_dir: Path) -> dict[str, Any]:
    path = run_dir / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, OSError) as exc:
        raise UsageError(f"malformed run manifest {path}: {exc}") from exc
    if not (isinstance(manifest, dict) and isinstance(manifest.get("config"), dict)):
        raise UsageError(f"malformed run manifest {path}: expected an object with a 'config' "
                         "object")
    return manifest


def load_results(path: str | Path, results_dir: str | Path = "results") -> pd.DataFrame:
    """The results table of a run (one row per case, schema `SCHEMA`)."""
    return _load_table(path, results_dir, TABLE, to_frame)


def load_samples(path: str | Path, results_dir: str | Path = "results") -> pd.DataFrame:
    """The raw samples of a run (long format, see `samples_frame`)."""
    return _load_table(path, results_dir, SAMPLES, samples_frame)


def _load_table(path: str | Path, results_dir: str | Path, name: str,
                typed: Callable[[Iterable[Mapping[str, Any]]], pd.DataFrame]) -> pd.DataFrame:
    run_dir = resolve_run(path, results_dir)
    _refresh_if_stale(run_dir)
    try:
        return typed(pd.read_parquet(run_dir / name).to_dict("records"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"malformed table {run_dir / name}: {exc}") from exc


def _refresh_if_stale(run_dir: Path) -> None:
    table = run_dir / TABLE
    case_files = list((run_dir / CASES_DIR).glob("*.json"))
    newest = max((p.stat().st_mtime for p in case_files), default=0.0)
    if not table.exists() or table.stat().st_mtime < newest:
        rebuild_tables(run_dir)
