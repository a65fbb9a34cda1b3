"""Turn pytest-benchmark JSON (`--benchmark-json` or an autosaved file) into an archbench run.

The result is an ordinary run folder (manifest, cases/, results.parquet, samples.parquet), so
`archbench show`, `report` and `compare` work on it unchanged. Rows of archbench's own
benchmark suite (`benchmarks/test_backends.py`) carry their identity in `extra_info`; any other
benchmark is imported too, named by its group and test name.

**Several files are several processes.** pytest-benchmark times every benchmark in one pytest
process, and on a shared machine fresh processes differ far more than the rounds of one
(`harness.analysis.compare`). So the files of P fresh pytest processes of the same benchmarks
import as one run with P processes per case, process r being file r: the row's number and its
interval come from the process medians, exactly as in a sweep (`harness.results.case_result`). This
needs the raw rounds (`--benchmark-save-data`); one file without them imports from
pytest-benchmark's own summary, with no interval (NA, not guessed).

**What did not finish is a row too.** A file lists only the benchmarks that finished. Where the
benchmarks' outcome log is given (`harness.ci.outcome_log`), a benchmark
that failed in process r is an `error` row with its error's line; one that was running when the
process died is `crashed`, with the process's exit status; one the process never reached, or
that is simply absent from its file, is an error saying so. The row names the process
("process 2 of 5: ..."), as a sweep's does, so a flaky benchmark shows as flaky.

The file is untrusted (an artefact from another machine's CI), and its names end up in file
names (`cases/<case-id>.json`). So every name of a case id is encoded (`harness.names`): a name
that follows the rule is kept, any other gets a safe stand-in, and the manifest's `renamed`
maps each stand-in back to the original. The import never refuses a name.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.measure.stats import NOISE_THRESHOLD
from harness.names import encode_name
from harness.protocol import Case, ProcessResult
from harness.results.case_result import CaseResult
from harness.results.schema import SCHEMA
from harness.results.storage import write_json_atomic
from harness.results.store import MANIFEST, write_records

# pytest-benchmark times rounds one at a time, synchronised: the latency scenario
_IDENTITY_DEFAULTS = {"phase": "infer", "scenario": "latency", "batch_size": 1, "device": "",
                      "precision": "", "hardware": ""}
_NAMES = ("suite", "size", "backend", "phase", "scenario")  # the names of a case id
#: The identity is the case's (encoded); a process's row never overrides it.
_IDENTITY_KEYS = (*_NAMES, "batch_size", "hardware", "case_id", "run_id")
_MAX_BATCH_SIZE = 2**31 - 1  # Int64 column; and 'bs<N>' must stay short, it is in a file name


@dataclass(frozen=True)
class BenchmarkProcess:
    """What one pytest process left: its JSON (None if it wrote none), its outcome log, its
    exit status (None when unknown, as for a file imported on its own) and the end of its
    output, which says why a process that died did."""

    json_path: Path | None
    outcomes_path: Path | None = None
    exit_code: int | None = None
    output_tail: str = ""


@dataclass
class _Seen:
    """One benchmark in one process: its result, or how far it got."""

    bench: dict[str, Any] | None = None
    started: bool = False
    outcome: str = ""
    message: str = ""


@dataclass
class _Case:
    identity: dict[str, Any]
    per_process: dict[int, _Seen] = field(default_factory=dict)


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


def _identity(extra: Mapping[str, Any], group: str, name: str,
              ) -> tuple[dict[str, Any], dict[str, str]]:
    """The identifying columns of a benchmark's row, case_id included, with its names
    encoded; and the names that had to change (stand-in -> original)."""
    if {"suite", "size", "backend"} <= set(extra):
        identity = {**_IDENTITY_DEFAULTS, **{k: extra[k] for k in extra if k in SCHEMA}}
        from_file = _NAMES
    else:  # someone else's benchmark: keep it, named by its group and test
        identity = {**_IDENTITY_DEFAULTS, "suite": group or "pytest-benchmark", "size": "-",
                    "backend": name}
        from_file = ("suite", "backend")  # size '-' is the importer's own placeholder
    renamed: dict[str, str] = {}
    for key in from_file:
        original = str(identity[key])
        identity[key] = encode_name(original)
        if identity[key] != original:
            renamed[identity[key]] = original
    case = Case(identity["suite"], identity["size"], identity["backend"], identity["phase"],
                int(identity["batch_size"]), identity["scenario"], str(identity["hardware"]))
    return {**identity, "case_id": case.case_id}, renamed


def _summary_row(stats: Mapping[str, Any], batch_size: int) -> dict[str, Any]:
    """The timing columns from pytest-benchmark's own summary, for a file without raw rounds:
    no interval (it needs the rounds), not a guessed one."""
    def ms(key: str) -> float:
        return stats[key] * 1e3 if stats.get(key) is not None else math.nan
    return {"n": stats["rounds"], "processes": 1, "median_ms": ms("median"),
            "mean_ms": ms("mean"), "std_ms": ms("stddev"), "min_ms": ms("min"),
            "max_ms": ms("max"), "iqr_ms": ms("iqr"),
            "throughput_sps": batch_size / (ms("median") / 1e3),
            "noisy": bool(ms("iqr") / ms("median") > NOISE_THRESHOLD)}


def _read_outcomes(path: Path | None) -> list[dict[str, Any]]:
    """The outcome log's lines; a line cut short by a dying process is left out."""
    if path is None or not path.exists():
        return []
    events = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict) and isinstance(event.get("case"), dict):
            events.append(event)
    return events


def _gather(documents: Sequence[dict[str, Any] | None], processes: Sequence[BenchmarkProcess],
            ) -> tuple[dict[str, _Case], dict[str, str]]:
    """Every benchmark any process knows of, by case id, with what each process saw of it."""
    cases: dict[str, _Case] = {}
    renamed: dict[str, str] = {}

    def seen(identity: dict[str, Any], process: int) -> _Seen:
        case = cases.setdefault(identity["case_id"], _Case(identity))
        return case.per_process.setdefault(process, _Seen())

    for index, process in enumerate(processes):
        for event in _read_outcomes(process.outcomes_path):
            identity, changed = _identity(event["case"], "", "")
            renamed.update(changed)
            entry = seen(identity, index)
            if event.get("event") in ("start", "end"):
                entry.started = True
            if event.get("event") == "end":
                entry.outcome, entry.message = str(event.get("outcome")), str(
                    event.get("message") or "")
        for bench in (documents[index] or {}).get("benchmarks", []):
            identity, changed = _identity(bench.get("extra_info") or {},
                                          bench.get("group") or "", bench.get("name", "?"))
            renamed.update(changed)
            entry = seen(identity, index)
            entry.bench, entry.started = bench, True
            known = cases[identity["case_id"]].identity
            known.update({k: v for k, v in identity.items() if k not in known})
    return cases, renamed


def _process_result(index: int, entry: _Seen | None, process: BenchmarkProcess,
                    raw: bool) -> ProcessResult:
    """What process `index` gives for one benchmark."""
    if entry is not None and entry.bench is not None:
        bench = entry.bench
        extra = bench.get("extra_info") or {}
        row = {k: v for k, v in extra.items() if k in SCHEMA and k not in _IDENTITY_KEYS}
        row["timed_s"] = bench["stats"].get("total")
        if not raw:
            row.update(_summary_row(bench["stats"], int(extra.get("batch_size", 1))))
            return ProcessResult(index, "ok", row=row)
        samples = [value * 1e3 for value in bench["stats"]["data"]]
        return ProcessResult(index, "ok", row=row, samples={"iter_ms": samples})
    status = f"status {process.exit_code}" if process.exit_code is not None else "no status"
    tail = f": {process.output_tail}" if process.output_tail else ""
    if entry is not None and entry.outcome == "skipped":
        return ProcessResult(index, "skipped", entry.message or "skipped by pytest")
    if entry is not None and entry.outcome == "failed":
        return ProcessResult(index, "error", entry.message or "the benchmark failed")
    if entry is not None and entry.started:
        return ProcessResult(index, "crashed", f"the pytest process died while this benchmark "
                                               f"ran ({status}){tail}")
    if process.exit_code not in (None, 0, 1):
        return ProcessResult(index, "crashed", f"the pytest process ended ({status}) before "
                                               f"reaching this benchmark{tail}")
    return ProcessResult(index, "error", "absent from this process's pytest-benchmark output "
                                         "(not collected, or it failed)")


def import_benchmark_json(paths: Path | Sequence[Path], results_dir: Path,
                          run_id: str | None = None) -> Path:
    """Write the run folder for one pytest-benchmark file, or for the files of several fresh
    processes of the same benchmarks (one process each), and return it."""
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    return import_processes([BenchmarkProcess(Path(p)) for p in paths], results_dir,
                            run_id or f"pytest-benchmark-{Path(paths[0]).stem}")


def import_processes(processes: Sequence[BenchmarkProcess], results_dir: Path, run_id: str,
                     manifest: Mapping[str, Any] | None = None,
                     environment: Mapping[str, Any] | None = None) -> Path:
    """Write the run folder of P pytest processes' outputs (module docstring) and return it.

    `manifest`: extra manifest entries (e.g. the CI gate's); `environment`: the run's
    environment when the caller collected it on this machine (else read from the files)."""
    if not processes:
        raise UsageError("no pytest-benchmark file to import")
    run_dir = results_dir / run_id
    if (run_dir / MANIFEST).exists():
        raise UsageError(f"run '{run_id}' already exists in {results_dir}; pass another --run-id")
    documents = [read_benchmark_json(p.json_path) if p.json_path is not None
                 and (p.json_path.exists() or p.exit_code is None) else None
                 for p in processes]
    present = [d for d in documents if d is not None]
    raw = all(b["stats"].get("data") for d in present for b in d["benchmarks"])
    if len(processes) > 1 and not raw:
        raise UsageError("several pytest-benchmark files import as processes of one run only "
                         "with their raw rounds: run pytest with --benchmark-save-data")
    first = present[0] if present else {}
    environment = dict(environment) if environment is not None else _environment(first)
    cases, renamed = _gather(documents, processes)
    records = []
    for case in cases.values():
        identity = {**environment, **case.identity, "run_id": run_id,
                    "timestamp": first.get("datetime", "")}
        result = CaseResult(identity, len(processes), [
            _process_result(index, case.per_process.get(index), process, raw)
            for index, process in enumerate(processes)])
        records.append(result.to_json())
    write_json_atomic(run_dir / MANIFEST, {
        "run_id": run_id, "source": f"pytest-benchmark {first.get('version', '?')}",
        "imported_from": [str(p.json_path.resolve()) for p in processes
                          if p.json_path is not None],
        "started": first.get("datetime", ""), "processes": len(processes),
        "environment": environment, "config": {}, "renamed": renamed, **(manifest or {})})
    write_records(run_dir, records)
    return run_dir


def _environment(document: Mapping[str, Any]) -> dict[str, Any]:
    """The environment columns a pytest-benchmark file records (machine_info, commit_info)."""
    machine = document.get("machine_info") or {}
    commit = document.get("commit_info") or {}
    cpu = machine.get("cpu") or {}
    return {
        "hostname": machine.get("node", ""), "cpu_model": cpu.get("brand_raw", ""),
        "cpu_cores": cpu.get("count"), "python_version": machine.get("python_version", ""),
        "archbench_commit": (commit.get("id") or "")[:12] + ("-dirty" if commit.get("dirty")
                                                              else ""),
    }


def merge_benchmark_json(paths: Sequence[Path]) -> dict[str, Any]:
    """One pytest-benchmark document for the files of several processes, for tools that read
    pytest-benchmark's format: each benchmark's statistics over the rounds of every process
    that ran it (pytest-benchmark's own `Stats`), its rounds in `data`, and in `extra_info`
    the number of processes and each one's median (the numbers the gate judges)."""
    from pytest_benchmark.stats import Stats

    documents = [read_benchmark_json(path) for path in paths]
    merged = {**documents[0], "benchmarks": []}
    by_name: dict[str, list[dict[str, Any]]] = {}
    for document in documents:
        for bench in document["benchmarks"]:
            by_name.setdefault(bench.get("fullname") or bench.get("name", "?"), []).append(bench)
    for runs in by_name.values():
        stats = Stats()
        for bench in runs:
            for value in bench["stats"].get("data") or []:
                stats.update(value)
        if not stats.rounds:
            raise UsageError("merging pytest-benchmark files needs their raw rounds: run pytest "
                             "with --benchmark-save-data")
        extra = {**(runs[0].get("extra_info") or {}), "archbench_processes": len(runs),
                 "archbench_process_medians": [b["stats"]["median"] for b in runs]}
        merged["benchmarks"].append({**runs[0], "extra_info": extra,
                                     "stats": {**stats.as_dict(), "data": list(stats.data)}})
    return merged
