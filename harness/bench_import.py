"""Turn pytest-benchmark JSON (`--benchmark-json` or an autosaved file) into an archbench run.

The result is an ordinary run folder (manifest, cases/, results.parquet, samples.parquet), so
`archbench show`, `report` and `compare` work on it unchanged. Rows of archbench's own
benchmark suite (`benchmarks/test_backends.py`) carry their identity in `extra_info`; any other
benchmark is imported too, named by its group and test name.

The file is untrusted (an artefact from another machine's CI), and its names end up in file
names (`cases/<case-id>.json`). So every name of a case id is encoded (`harness.names`): a name
that follows the rule is kept, any other gets a safe stand-in, and the manifest's `renamed`
maps each stand-in back to the original. The import never refuses a name.

Statistics are recomputed from the raw rounds when the file has them (`--benchmark-save-data`),
so the confidence interval and noise flag mean the same as in a sweep; otherwise they come from
pytest-benchmark's own summary, and the interval is missing (NA), not guessed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from harness.cases import Case
from harness.errors import UsageError
from harness.measure.stats import NOISE_THRESHOLD, summarize, timing_columns
from harness.names import encode_name
from harness.results.schema import SCHEMA
from harness.results.store import MANIFEST, save_case, write_json_atomic

# pytest-benchmark times rounds one at a time, synchronised: the latency scenario
_IDENTITY_DEFAULTS = {"phase": "infer", "scenario": "latency", "batch_size": 1, "device": "",
                      "precision": ""}
_NAMES = ("suite", "size", "backend", "phase", "scenario")  # the names of a case id
_MAX_BATCH_SIZE = 2**31 - 1  # Int64 column; and 'bs<N>' must stay short, it is in a file name


def read_benchmark_json(path: Path) -> dict[str, Any]:
    """Load and validate the parts of a pytest-benchmark file the import relies on."""
    try:
        document = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UsageError(f"no such pytest-benchmark file: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"malformed pytest-benchmark file {path}: not JSON ({exc})") from exc
    if not isinstance(document, dict) or not isinstance(document.get("benchmarks"), list):
        raise UsageError(f"malformed pytest-benchmark file {path}: expected an object with a "
                         "'benchmarks' list (written by pytest --benchmark-json)")
    for index, bench in enumerate(document["benchmarks"]):
        stats = bench.get("stats") if isinstance(bench, dict) else None
        if not isinstance(stats, dict) or not all(k in stats for k in ("median", "rounds")):
            raise UsageError(f"malformed pytest-benchmark file {path}: benchmark #{index} has "
                             "no 'stats' with 'median' and 'rounds'")
        batch_size = (bench.get("extra_info") or {}).get("batch_size", 1)
        if not (isinstance(stats["median"], (int, float)) and stats["median"] > 0
                and isinstance(batch_size, int) and 0 < batch_size <= _MAX_BATCH_SIZE):
            raise UsageError(f"malformed pytest-benchmark file {path}: benchmark #{index} needs "
                             "a positive median and an integer extra_info.batch_size from 1 to "
                             f"{_MAX_BATCH_SIZE}")
    return document


def _identity(bench: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The identifying columns of a benchmark's row, case_id included, with its names
    encoded; and the names that had to change (stand-in -> original)."""
    extra = bench.get("extra_info") or {}
    if {"suite", "size", "backend"} <= set(extra):
        identity = {**_IDENTITY_DEFAULTS, **{k: extra[k] for k in extra if k in SCHEMA}}
        from_file = _NAMES
    else:  # someone else's benchmark: keep it, named by its group and test
        identity = {**_IDENTITY_DEFAULTS, "suite": bench.get("group") or "pytest-benchmark",
                    "size": "-", "backend": bench.get("name", "?")}
        from_file = ("suite", "backend")  # size '-' is the importer's own placeholder
    renamed: dict[str, str] = {}
    for key in from_file:
        original = str(identity[key])
        identity[key] = encode_name(original)
        if identity[key] != original:
            renamed[identity[key]] = original
    case = Case(identity["suite"], identity["size"], identity["backend"], identity["phase"],
                int(identity["batch_size"]), identity["scenario"])
    return {**identity, "case_id": case.case_id}, renamed


def _statistics(stats: dict[str, Any], batch_size: int) -> tuple[dict[str, Any], list[float]]:
    data_ms = [value * 1e3 for value in stats.get("data") or []]
    if data_ms:
        row = timing_columns(summarize(data_ms), batch_size)
    else:
        def ms(key: str) -> float:
            return stats[key] * 1e3 if stats.get(key) is not None else math.nan
        row = {"n": stats["rounds"], "median_ms": ms("median"), "mean_ms": ms("mean"),
               "std_ms": ms("stddev"), "min_ms": ms("min"), "max_ms": ms("max"),
               "iqr_ms": ms("iqr"), "throughput_sps": batch_size / (ms("median") / 1e3),
               "noisy": bool(ms("iqr") / ms("median") > NOISE_THRESHOLD)}
    row["timed_s"] = stats.get("total")
    return row, data_ms


def import_benchmark_json(path: Path, results_dir: Path, run_id: str | None = None) -> Path:
    """Write the run folder for a pytest-benchmark file and return it."""
    document = read_benchmark_json(path)
    machine = document.get("machine_info") or {}
    commit = document.get("commit_info") or {}
    run_id = run_id or f"pytest-benchmark-{Path(path).stem}"
    run_dir = results_dir / run_id
    if (run_dir / MANIFEST).exists():
        raise UsageError(f"run '{run_id}' already exists in {results_dir}; pass another --run-id")
    cpu = machine.get("cpu") or {}
    environment = {
        "hostname": machine.get("node", ""), "cpu_model": cpu.get("brand_raw", ""),
        "cpu_cores": cpu.get("count"), "python_version": machine.get("python_version", ""),
        "archbench_commit": (commit.get("id") or "")[:12] + ("-dirty" if commit.get("dirty")
                                                              else ""),
    }
    identities = [_identity(bench) for bench in document["benchmarks"]]
    write_json_atomic(run_dir / MANIFEST, {
        "run_id": run_id, "source": f"pytest-benchmark {document.get('version', '?')}",
        "imported_from": str(Path(path).resolve()), "started": document.get("datetime", ""),
        "environment": environment, "config": {},
        "renamed": {new: old for _, renamed in identities for new, old in renamed.items()}})
    for bench, (identity, _) in zip(document["benchmarks"], identities, strict=True):
        statistics, samples = _statistics(bench["stats"], int(identity["batch_size"]))
        extra = bench.get("extra_info") or {}
        versions = {k: extra[k] for k in ("torch_version", "onnxruntime_version") if k in extra}
        row = {**environment, **versions, **identity, **statistics, "run_id": run_id,
               "status": "ok", "reason": "", "timestamp": document.get("datetime", "")}
        save_case(run_dir, row, {"iter_ms": samples} if samples else {})
    return run_dir
