"""The case process's contract: whatever the case does, OUT.json says what happened."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import harness.execute
from harness import worker
from harness.backends.base import BackendUnavailable
from harness.cases import Case, SweepConfig


def test_one_line_is_the_type_and_first_line() -> None:
    assert worker.one_line(ValueError("bad\nmore detail")) == "ValueError: bad"
    assert worker.one_line(KeyError()) == "KeyError"
    long = worker.one_line(RuntimeError("x" * 1000))
    assert len(long) == 300 and long.endswith("...")


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "spec.json"
    case = Case("cnn", "tiny", "cpu-eager", "infer", 4)
    path.write_text(json.dumps({"case": case.__dict__, "config": SweepConfig().to_dict(),
                                "cache_dir": str(tmp_path / "cache")}))
    return path


def run_worker(spec: Path, monkeypatch: pytest.MonkeyPatch, run_case) -> dict:
    monkeypatch.setattr(harness.execute, "run_case", run_case)
    out = spec.parent / "out.json"
    assert worker.main(str(spec), str(out)) == 0
    return json.loads(out.read_text())


def test_a_finished_case_is_ok_with_its_row(spec: Path, monkeypatch) -> None:
    def run_case(case, config, cache_dir):
        assert case.case_id == "cnn-tiny-cpu-eager-infer-bs4"
        return harness.execute.CaseOutput(row={"median_ms": 1.0}, samples={"iter_ms": [1.0]})

    result = run_worker(spec, monkeypatch, run_case)
    assert result == {"status": "ok", "reason": "", "row": {"median_ms": 1.0},
                      "samples": {"iter_ms": [1.0]}}


def test_an_exception_is_an_error_with_reason_and_traceback(spec: Path, monkeypatch) -> None:
    def run_case(case, config, cache_dir):
        raise RuntimeError("out of memory\nwhile allocating 12 GB")

    result = run_worker(spec, monkeypatch, run_case)
    assert result["status"] == "error"
    assert result["reason"] == "RuntimeError: out of memory"
    assert "Traceback" in result["traceback"] and "while allocating" in result["traceback"]
    assert result["row"] == {} and result["samples"] == {}


def test_a_backend_found_unavailable_inside_the_case_is_skipped(spec: Path, monkeypatch) -> None:
    def run_case(case, config, cache_dir):
        raise BackendUnavailable("CUDAExecutionProvider failed to load")

    result = run_worker(spec, monkeypatch, run_case)
    assert result["status"] == "skipped"
    assert result["reason"] == "CUDAExecutionProvider failed to load"
