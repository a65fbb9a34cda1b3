"""Synthetic pytest-benchmark output of P processes, with known answers: what the gate tests
feed `archbench ci` instead of running pytest.

Benchmark i has a true median; each process's median is that times a log-normal factor (the
spread between fresh processes, `cv`) and, for some benchmarks, one process is an outlier slowed
by `outlier` (a process that shared the machine with something); the rounds of a process spread
by 2% around its median. A benchmark can be slowed by a factor, or fail in every process, and
the machine can drift: every benchmark of process r slowed by `drift[r]` (a slower host, another
tenant for that process's length).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from harness.results.pytest_benchmark import BenchmarkProcess

COUNT = 36
ROUNDS = 20


def name(index: int) -> str:
    return f"b{index:02d}"


def identity(index: int) -> dict[str, object]:
    return {"suite": "synthetic", "size": "tiny", "backend": name(index), "phase": "infer",
            "scenario": "latency", "batch_size": 32, "hardware": ""}


def write_processes(folder: Path, seed: int, processes: int = 7, cv: float = 0.10,
                    outlier: float = 1.6, slower: Mapping[int, float] | None = None,
                    cv_of: Mapping[int, float] | None = None,
                    failing: Mapping[int, str] | None = None,
                    drift: Sequence[float] | None = None) -> list[BenchmarkProcess]:
    """Write P processes' JSON and outcome logs into `folder`; what the runner would return."""
    folder.mkdir(parents=True, exist_ok=True)
    slower, cv_of, failing = slower or {}, cv_of or {}, failing or {}
    # the true medians are the same in every run; `seed` draws the noise
    medians = np.exp(np.random.default_rng(0).uniform(np.log(1e-4), np.log(3e-2), COUNT))
    rng = np.random.default_rng(seed)
    factors = np.exp(rng.normal(0, 1, (COUNT, processes)))
    outliers = rng.integers(0, processes, COUNT)
    result = []
    for process in range(processes):
        benchmarks, events = [], []
        for index in range(COUNT):
            case = {**identity(index),
                    "case_id": f"synthetic-tiny-{name(index)}-infer-latency-bs32"}
            events.append({"case": case, "event": "start"})
            if index in failing:
                events.append({"case": case, "event": "end", "outcome": "failed",
                               "message": failing[index]})
                continue
            events.append({"case": case, "event": "end", "outcome": "passed", "message": ""})
            median = (medians[index] * slower.get(index, 1.0)
                      * (drift[process] if drift is not None else 1.0)
                      * factors[index, process] ** cv_of.get(index, cv)
                      * (outlier if index % 3 == 0 and outliers[index] == process else 1.0))
            data = list(median * np.exp(rng.normal(0, 0.02, ROUNDS)))
            benchmarks.append({
                "group": "synthetic", "name": f"test_backend[{case['case_id']}]",
                "fullname": f"benchmarks/test_backends.py::test_backend[{case['case_id']}]",
                "extra_info": identity(index),
                "stats": {"median": float(np.median(data)), "rounds": ROUNDS,
                          "total": float(sum(data)), "data": data}})
        json_path = folder / f"process-{process + 1}.json"
        json_path.write_text(json.dumps({
            "machine_info": {"node": "ci-1"}, "commit_info": {"id": "0123456789abcdef",
                                                              "branch": "main"},
            "datetime": "2026-12-04T12:00:00", "version": "5.1.0", "benchmarks": benchmarks}))
        outcomes = folder / f"process-{process + 1}.outcomes.jsonl"
        outcomes.write_text("".join(json.dumps(event) + "\n" for event in events))
        result.append(BenchmarkProcess(json_path, outcomes, 1 if failing else 0))
    return result
