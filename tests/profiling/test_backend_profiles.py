"""The op table of a tiny model through each CPU backend, its trace, and the CUDA variants.

Each backend's runner is profiled the way a case does it (bind, then `runner.profile`): the
table must be non-empty, its categories mapped, and its shares must sum to the coverage; the
trace must be valid trace-event JSON with complete events. Nothing here depends on speed.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from harness.backends import get_backend
from harness.backends.base import CaseContext, no_cuda_reason
from harness.profiling.categories import OTHER
from harness.profiling.op_table import coverage, op_rows
from harness.profiling.request import ProfileRequest
from harness.profiling.step_cost import step_cost
from harness.profiling.traces import complete_events, read_trace
from suites.registry import get_suite

STEPS = 3
CPU_BACKENDS = ["cpu-eager", pytest.param("cpu-compile", marks=pytest.mark.slow), "ort-cpu",
                "ort-cpu-int8", "ov-cpu", pytest.param("cpu-aoti", marks=pytest.mark.slow)]
#: Backends whose compiler may fuse the model's main op into a kernel of its own.
FUSING = ("cpu-compile", "cpu-aoti")
CUDA_REASON = no_cuda_reason()


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


def profile_backend(backend_name: str, suite_name: str, cache_dir: Path, trace: Path,
                    batch: int = 4) -> tuple[list[dict], float]:
    """The op rows and coverage of `STEPS` profiled steps of a tiny model on a backend."""
    suite, backend = get_suite(suite_name), get_backend(backend_name)
    data = suite.data("tiny")
    cost = step_cost(suite, "tiny", data, "infer", batch, 0)
    runner = backend.inference(suite.model("tiny", data, 0),
                               CaseContext(cache_dir, 1, f"{suite_name}-tiny-test", 0))
    step = runner.bind(suite.synthetic_batch(data, batch, 0)[0])
    step()
    profile = runner.profile(step, ProfileRequest(STEPS, trace, backend.device, cost.op_flops))
    rows = op_rows(profile.timings, profile.steps, profile.step_ms)
    assert profile.steps == STEPS and profile.step_ms > 0
    assert profile.trace_bytes == trace.stat().st_size
    return rows, coverage(rows, backend.device)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("suite_name", ["cnn", "transformer"])
def test_op_table_of_a_tiny_model(backend: str, suite_name: str, cache_dir: Path,
                                  tmp_path: Path) -> None:
    trace = tmp_path / "t.trace.json.gz"
    rows, covered = profile_backend(backend, suite_name, cache_dir, trace)
    assert rows
    assert all(row["device"] == "cpu" and row["self_ms"] >= 0 for row in rows)
    assert math.isclose(sum(row["share"] for row in rows), covered, rel_tol=1e-9)
    assert covered > 0
    mapped = sum(row["self_ms"] for row in rows if row["category"] != OTHER)
    assert mapped >= 0.9 * sum(row["self_ms"] for row in rows)  # "other" is the exception
    expected = {"cnn": "convolution", "transformer": "matmul/linear"}[suite_name]
    if backend not in FUSING:  # inductor may fuse the op into its compiled graph
        assert expected in {row["category"] for row in rows}
    assert complete_events(trace)  # valid trace-event JSON with complete events
    if backend.startswith("ort"):
        assert all(row["provider"] == "CPUExecutionProvider" for row in rows)
    if backend.startswith("ov"):
        assert all(row["provider"] == "OpenVINO CPU" for row in rows)


def test_flops_go_to_the_op_that_holds_the_time(cache_dir: Path, tmp_path: Path) -> None:
    """Eager: every counted FLOP of the step lands on some op row (conv's on the oneDNN
    kernel under aten::convolution), and achieved FLOP/s follows from it."""
    suite = get_suite("cnn")
    cost = step_cost(suite, "tiny", suite.data("tiny"), "infer", 4, 0)
    rows, _ = profile_backend("cpu-eager", "cnn", cache_dir, tmp_path / "t.gz")
    with_flops = [row for row in rows if row["flops"] > 0]
    assert math.isclose(sum(row["flops"] for row in with_flops), cost.flops, rel_tol=1e-9)
    assert any(row["category"] == "convolution" for row in with_flops)
    assert all(row["achieved_flops"] > 0 for row in with_flops if row["self_ms"] > 0)


@pytest.mark.cuda
@pytest.mark.skipif(CUDA_REASON is not None, reason=CUDA_REASON or "")
@pytest.mark.parametrize("backend", ["cuda-eager", pytest.param("cuda-compile",
                                                                 marks=pytest.mark.slow)])
def test_cuda_profile_keeps_device_time_apart(backend: str, cache_dir: Path,
                                               tmp_path: Path) -> None:
    """Kernels are device rows, the ops that launched them CPU rows; coverage and shares count
    the device rows; the trace carries HTA's rank metadata."""
    trace = tmp_path / "t.trace.json.gz"
    rows, covered = profile_backend(backend, "transformer", cache_dir, trace)
    device_rows = [row for row in rows if row["device"] == "cuda"]
    assert device_rows and any(row["device"] == "cpu" for row in rows)
    # kernels only: a record_function range mirrored on the GPU would count them twice
    assert not [row["op"] for row in device_rows if row["category"] == "compiled region"]
    assert any(row["category"] == "matmul/linear" for row in device_rows)
    assert math.isclose(sum(row["share"] for row in device_rows), covered, rel_tol=1e-9)
    assert 0 < covered <= 1.05
    assert read_trace(trace)["distributedInfo"]["rank"] == 0
    assert complete_events(trace)


@pytest.mark.cuda
@pytest.mark.skipif(CUDA_REASON is not None, reason=CUDA_REASON or "")
def test_cuda_ceilings_are_timed_with_events(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.profiling import ceilings

    monkeypatch.setitem(ceilings.MATMUL_N, "cuda", 1024)
    monkeypatch.setitem(ceilings.COPY_MIB, "cuda", 64)
    measured = ceilings.measure("cuda", 1)
    assert measured["timer"] == "CUDA events"
    assert {"fp32", "fp16"} <= set(measured["peak_flops"])
    assert all(peak > 1e9 for peak in measured["peak_flops"].values())
    assert measured["bandwidth_bytes_s"] > 1e9
    assert torch.cuda.is_available()
