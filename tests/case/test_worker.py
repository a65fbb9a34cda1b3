"""The case process's contract: whatever the case does, OUT.json says what happened."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import harness.case.process
from harness.backends.base import BackendUnavailable
from harness.case import worker
from harness.cases import SweepConfig
from harness.protocol import Case, ProcessResult, WorkerSpec


def test_one_line_is_the_type_and_first_line() -> None:
    assert worker.one_line(ValueError("bad\nmore detail")) == "ValueError: bad"
    assert worker.one_line(KeyError()) == "KeyError"
    long = worker.one_line(RuntimeError("x" * 1000))
    assert len(long) == 300 and long.endswith("...")


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "spec.json"
    case = Case("cnn", "tiny", "cpu-eager", "infer", 4, "throughput")
    path.write_text(json.dumps(WorkerSpec(case, SweepConfig().for_case().to_dict(),
                                          str(tmp_path / "cache"), process=2).to_json()))
    return path


def run_worker(spec: Path, monkeypatch: pytest.MonkeyPatch, run_case) -> ProcessResult:
    monkeypatch.setattr(harness.case.process, "run_case", run_case)
    out = spec.parent / "out.json"
    assert worker.main(str(spec), str(out)) == 0
    return ProcessResult.from_json(json.loads(out.read_text()))


def test_a_finished_case_is_ok_with_its_row(spec: Path, monkeypatch) -> None:
    def run_case(case, config, cache_dir, process=0, run_dir=None):
        assert case.case_id == "cnn-tiny-cpu-eager-infer-throughput-bs4"  # the spec's scenario
        assert process == 2
        return harness.case.process.CaseOutput(row={"median_ms": 1.0}, samples={"iter_ms": [1.0]})

    result = run_worker(spec, monkeypatch, run_case)
    assert result == ProcessResult(2, "ok", "", row={"median_ms": 1.0},
                                   samples={"iter_ms": [1.0]})


def test_an_exception_is_an_error_with_its_line_and_the_traceback_in_the_log(
        spec: Path, monkeypatch, capsys) -> None:
    def run_case(case, config, cache_dir, process=0, run_dir=None):
        raise RuntimeError("forward failed\nin the second layer")

    result = run_worker(spec, monkeypatch, run_case)
    assert (result.status, result.process) == ("error", 2)
    assert result.reason == "RuntimeError: forward failed"
    log = capsys.readouterr().err
    assert "Traceback" in log and "in the second layer" in log
    assert result.row == {} and result.samples == {}


def test_a_failed_allocation_anywhere_in_the_case_is_oom_with_what_it_asked_for(
        spec: Path, monkeypatch) -> None:
    """Not only a batch that does not fit (`OutOfMemory`): a model too large to build fails
    in torch's allocator, and that is out of memory too, with the same columns."""
    def run_case(case, config, cache_dir, process=0, run_dir=None):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: "
                           "can't allocate memory: you tried to allocate 34359738368 bytes.")

    result = run_worker(spec, monkeypatch, run_case)
    assert result.status == "oom"
    assert result.reason.startswith("DefaultCPUAllocator: can't allocate memory")
    assert "; asked for 32 GiB; peak " in result.reason
    assert result.row["peak_rss_mb"] > 0


def test_a_backend_found_unavailable_inside_the_case_is_skipped(spec: Path, monkeypatch) -> None:
    def run_case(case, config, cache_dir, process=0, run_dir=None):
        raise BackendUnavailable("CUDAExecutionProvider failed to load")

    result = run_worker(spec, monkeypatch, run_case)
    assert result.status == "skipped"
    assert result.reason == "CUDAExecutionProvider failed to load"


def test_a_worker_whose_sweep_is_gone_ends_before_running_the_case(spec: Path) -> None:
    """The spec's lifeline is held first thing: with the sweep's end of the pipe closed, the
    case's process group is killed before the case starts, and no result is written."""
    read_end, write_end = os.pipe()
    os.close(write_end)  # the sweep is gone
    spec.write_text(json.dumps({**json.loads(spec.read_text()), "lifeline": {
        "parent_pid": os.getpid(), "fd": read_end, "deadline_s": 60}}))
    out = spec.parent / "out.json"
    try:
        process = subprocess.run([sys.executable, "-m", "harness.case.worker", str(spec), str(out)],
                                 pass_fds=(read_end,), start_new_session=True, timeout=60,
                                 capture_output=True, text=True,
                                 cwd=Path(__file__).parents[2])
    finally:
        os.close(read_end)
    assert process.returncode == -signal.SIGKILL, process.stderr
    assert "the sweep is gone" in process.stderr and not out.exists()
