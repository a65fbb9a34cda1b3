"""The benchmarks in P fresh pytest processes, one after another, for one or two versions.

One pytest process times every benchmark once; P processes in a row give each benchmark P
process medians, and since each process runs every benchmark before the next process starts,
the processes are interleaved rounds, as a sweep's are: a drift of the machine over the P
rounds touches every benchmark alike instead of one benchmark's every process. They run one at
a time because a second process would take the first one's cores.

With two versions of the code (`Version`: the code under test and a checkout of its base), each
round runs one process of each, in an order shuffled per round by a recorded seed (randomized
multiple interleaved trials, as Laaber et al. recommend for benchmarks on cloud machines): both
versions are measured over the same minutes, so a machine that is slower now than an hour ago
slows both alike, and no version always goes first.

The processes of one version share one export cache (`harness.ci.CACHE_ENV`, a temporary
folder removed after the rounds), so only its first process exports each model to ONNX: on a
2-core VM that halved a process (21 s to 10 s for 36 benchmarks), and every process still
opens its own sessions and times its own steps.

Each process writes its pytest-benchmark JSON with the raw rounds, the benchmarks' outcome log
(`harness.ci.outcome_log`) and its output, in `out_dir`. A process that runs past its timeout
is killed (its benchmarks say so); an interrupt kills the running process before it returns,
so nothing keeps running after the gate is gone. A usage error of pytest's (an unknown option,
an unknown suite) or an empty selection ends the gate in one line after the first process.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.ci import CACHE_ENV
from harness.errors import UsageError
from harness.results.pytest_benchmark import BenchmarkProcess

#: pytest's exit statuses: interrupted (here: an error while collecting, e.g. an unknown suite
#: named in the options), a wrong command line, nothing selected.
_PYTEST_INTERRUPTED, _PYTEST_USAGE, _PYTEST_NO_TESTS = 2, 4, 5
_TAIL_LINES = 3


def pytest_command(benchmarks: Path, pytest_args: Sequence[str], json_path: Path,
                   outcomes_path: Path) -> list[str]:
    """The command line of one process: the benchmarks, their raw rounds and outcome log."""
    return [sys.executable, "-m", "pytest", str(benchmarks), "-q", "-p", "no:cacheprovider",
            "-p", "harness.ci.outcome_log", "--benchmark-only", "--benchmark-save-data",
            f"--benchmark-json={json_path}", f"--archbench-outcomes={outcomes_path}",
            *pytest_args]


@dataclass(frozen=True)
class Version:
    """One version of the code under test: where its pytest processes run and write."""

    name: str
    #: the folder pytest runs in (its benchmarks and suite files resolve from there); None: here
    folder: Path | None
    #: where its processes write their JSON, outcome logs and output
    out_dir: Path


def run_processes(benchmarks: Path, pytest_args: Sequence[str], processes: int, out_dir: Path,
                  timeout_s: float, say: Callable[[str], None] = print,
                  ) -> list[BenchmarkProcess]:
    """Run the benchmarks in `processes` fresh pytest processes here; what each one left."""
    (done,) = run_rounds(benchmarks, pytest_args, [Version("", None, out_dir)], processes,
                         timeout_s, say=say).values()
    return done


def run_rounds(benchmarks: Path, pytest_args: Sequence[str], versions: Sequence[Version],
               rounds: int, timeout_s: float, seed: int = 0,
               say: Callable[[str], None] = print) -> dict[str, list[BenchmarkProcess]]:
    """Run `rounds` rounds of one pytest process per version, in an order shuffled per round
    by `seed`; what each version's processes left, in round order (process r ran in round r)."""
    for version in versions:
        version.out_dir.mkdir(parents=True, exist_ok=True)
    shuffle = random.Random(seed).shuffle
    done: dict[str, list[BenchmarkProcess]] = {version.name: [] for version in versions}
    with tempfile.TemporaryDirectory(prefix="archbench-ci-cache-") as caches:
        for index in range(rounds):
            order = list(versions)
            if len(order) > 1:
                shuffle(order)
            for version in order:
                cache = Path(caches) / (version.name or "this")
                process = _run_one(benchmarks, pytest_args, version, index, timeout_s, cache)
                label = f"{version.name} " if version.name else ""
                say(f"{label}process {index + 1}/{rounds}: {process.summary}")
                done[version.name].append(process.result)
    return done


@dataclass(frozen=True)
class _Ran:
    result: BenchmarkProcess
    summary: str


def _run_one(benchmarks: Path, pytest_args: Sequence[str], version: Version, index: int,
             timeout_s: float, cache: Path) -> _Ran:
    """One pytest process of `version`; a usage error of pytest's in the first is one line."""
    out_dir = version.out_dir.resolve()
    json_path = out_dir / f"process-{index + 1}.json"
    outcomes_path = out_dir / f"process-{index + 1}.outcomes.jsonl"
    log_path = out_dir / f"process-{index + 1}.log"
    command = pytest_command(benchmarks, pytest_args, json_path, outcomes_path)
    start = time.perf_counter()
    with log_path.open("w") as log:
        try:
            code = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, timeout=timeout_s,
                                  cwd=version.folder,
                                  env={**os.environ, CACHE_ENV: str(cache)}).returncode
            tail = _tail(log_path) if code not in (0, 1) else ""
        except subprocess.TimeoutExpired:  # run() killed it
            code, tail = -9, f"killed after the timeout of {timeout_s:g} s"
    if index == 0 and (code in (_PYTEST_USAGE, _PYTEST_NO_TESTS) or (
            code == _PYTEST_INTERRUPTED and "during collection" in log_path.read_text(
                errors="replace"))):
        where = f" (in {version.folder})" if version.folder is not None else ""
        raise UsageError(_usage_line(code, log_path) + where)
    return _Ran(BenchmarkProcess(json_path, outcomes_path, code, tail),
                f"{_summary(log_path, code)} ({time.perf_counter() - start:.0f} s)")


def _tail(log_path: Path) -> str:
    """The last lines of a process's output, joined into one."""
    lines = [line.strip() for line in log_path.read_text(errors="replace").splitlines()
             if line.strip()]
    return " | ".join(lines[-_TAIL_LINES:])


def _summary(log_path: Path, code: int) -> str:
    """pytest's closing line ('36 passed in 18.3s'), or the exit status when there is none."""
    lines = [line.strip(" =") for line in log_path.read_text(errors="replace").splitlines()]
    closing = [line for line in lines if " in " in line and (
        "passed" in line or "failed" in line or "error" in line)]
    return closing[-1] if closing else f"pytest exited with status {code}"


def _usage_line(code: int, log_path: Path) -> str:
    """One line for a pytest command that was wrong, from pytest's own error."""
    if code == _PYTEST_NO_TESTS:
        return ("no benchmark selected: the options select no case this machine can run "
                f"(pytest's output: {log_path})")
    lines = log_path.read_text(errors="replace").splitlines()
    # pytest's own usage errors start with 'ERROR: '; an error raised while collecting is the
    # last 'E   ' line of its report
    errors = ([line.removeprefix("ERROR: ") for line in lines if line.startswith("ERROR: ")]
              or [line[1:].strip() for line in lines if line.startswith("E   ")])
    message = (errors[-1].removeprefix("pytest.UsageError: ") if errors
               else f"see {log_path}")
    return f"pytest refused the benchmark options: {message}"
