"""ONNX Runtime's profile JSON, parsed from a real profile this test makes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness.backends.base import CaseContext
from harness.backends.onnx_export import INPUT_NAME
from harness.backends.ort import ORT_CPU
from harness.profiling.ort_profile import parse_profile
from suites.registry import get_suite

WARMUP, RUNS = 2, 3


@pytest.fixture(scope="module")
def profile_events(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    """The events of a profiling session of the tiny CNN: WARMUP runs, then RUNS runs."""
    tmp = tmp_path_factory.mktemp("ort")
    suite = get_suite("cnn")
    data = suite.data("tiny")
    runner = ORT_CPU.inference(suite.model("tiny", data, 0),
                               CaseContext(tmp, 1, "cnn-tiny-ort-profile-test", 0))
    x = suite.synthetic_batch(data, 2, 0)[0]
    runner.bind(x)
    session = ORT_CPU.open_session(runner.path, 1, profile_prefix=str(tmp / "prof"))
    for _ in range(WARMUP + RUNS):
        session.run(None, {INPUT_NAME: np.ascontiguousarray(x.numpy())})
    return json.loads(Path(session.end_profiling()).read_text())


def test_node_kernel_times_of_the_profiled_runs_only(profile_events: list[dict]) -> None:
    """Every node of the CNN runs once per run: after dropping start-up and warm-up, each op
    type's calls are a multiple of RUNS, and no session event is counted."""
    timings = parse_profile(profile_events, skip_runs=WARMUP)
    assert timings
    assert all(t.calls % RUNS == 0 and t.calls > 0 for t in timings)
    assert all(t.provider == "CPUExecutionProvider" and t.device == "cpu" for t in timings)
    ops = {t.op for t in timings}
    assert not ops & {"model_run", "session_initialization", "model_loading_uri"}
    assert any("Conv" in op for op in ops)
    kernel_events = [e for e in profile_events
                     if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")]
    every_run = parse_profile(profile_events, skip_runs=0)
    assert sum(t.calls for t in every_run) == len(kernel_events)  # nothing else kept
    assert sum(t.calls for t in timings) * (WARMUP + RUNS) == len(kernel_events) * RUNS
    kept = sum(t.self_us for t in timings)
    assert 0 < kept < sum(e["dur"] for e in kernel_events)


def test_a_profile_without_its_profiled_runs_is_refused(profile_events: list[dict]) -> None:
    with pytest.raises(ValueError, match="expected more than"):
        parse_profile(profile_events, skip_runs=WARMUP + RUNS)
