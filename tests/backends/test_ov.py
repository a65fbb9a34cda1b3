"""OpenVINO backends: parity with eager on every built-in suite and on named inputs at another
sequence length, the hint that follows the scenario, the pipelined step, the IR cache, what the
runtime graph says it ran, and bf16 refused where it would not be bf16."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from harness.backends import ov
from harness.backends.base import BackendUnavailable, CaseContext
from harness.backends.eager import CPU_EAGER
from harness.backends.ov import OV_CPU, OV_CPU_BF16
from harness.machine.cpu_features import cpu_bf16_support
from harness.measure.parity import TOLERANCES
from suites.registry import BUILTIN, load_suite_file
from tests.conftest import FIXTURES

pytest.importorskip("openvino", reason="the openvino extra is not installed")

FACTS = {"export_s", "export_cached", "load_s", "artifact_bytes", "artifact_source",
         "dynamic_batch", "ov_hint", "ov_streams", "ov_requests", "ov_threads",
         "ov_precisions", "ov_kernels"}
MASKED = next(s for s in load_suite_file(FIXTURES / "own_model_suites.py") if s.name == "masked")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


def _rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


@pytest.mark.parametrize("suite_name", ["cnn", "rnn", "transformer"])
def test_ov_cpu_matches_eager_at_any_batch(suite_name: str, cache_dir: Path) -> None:
    suite = BUILTIN[suite_name]
    data = suite.data("tiny")
    model = suite.model("tiny", data, seed=0)
    ctx = CaseContext(cache_dir, 1, f"{suite_name}-tiny-ov", scenario="latency")
    runner = OV_CPU.inference(model, ctx)
    runner.bind(suite.synthetic_batch(data, 5, seed=5)[0])()
    batch = suite.synthetic_batch(data, 3, seed=3)[0]  # another batch size than the bound one
    eager = CPU_EAGER.inference(model, ctx).predict(batch)
    out = runner.predict(batch)
    assert out.dtype == torch.float32 and out.shape == eager.shape
    assert _rel_err(out, eager) < TOLERANCES["fp32"]
    assert set(runner.facts) >= FACTS
    assert runner.facts["ov_hint"] == "LATENCY" and runner.facts["ov_streams"] == 1
    assert runner.facts["artifact_source"] == "onnx" and runner.facts["artifact_bytes"] > 0
    # fp32 means fp32, although the CPU plugin defaults to bf16 where the CPU has it
    assert "bf16" not in runner.facts["ov_precisions"]
    assert runner.facts["ov_precisions"].startswith(("f32", "i32"))


def test_the_ir_comes_from_the_cache_the_second_time(cache_dir: Path) -> None:
    suite = BUILTIN["cnn"]
    data = suite.data("tiny")
    ctx = CaseContext(cache_dir, 1, "cnn-tiny-ov-cache")
    first, second = (OV_CPU.inference(suite.model("tiny", data, seed=0), ctx)
                     for _ in range(2))
    batch = suite.synthetic_batch(data, 4, seed=0)[0]
    first.bind(batch)
    second.bind(batch)
    assert first.facts["export_cached"] is False and first.facts["export_s"] > 0
    assert second.facts["export_cached"] is True and second.facts["export_s"] == 0
    assert second.facts["artifact_bytes"] == first.facts["artifact_bytes"]
    assert torch.equal(first.predict(batch), second.predict(batch))


def test_a_pipelined_scenario_keeps_requests_in_flight_until_sync(cache_dir: Path) -> None:
    suite = BUILTIN["cnn"]
    data = suite.data("tiny")
    ctx = CaseContext(cache_dir, 2, "cnn-tiny-ov-pipelined", scenario="throughput")
    runner = OV_CPU.inference(suite.model("tiny", data, seed=0), ctx)
    step = runner.bind(suite.synthetic_batch(data, 8, seed=0)[0])
    assert runner.facts["ov_hint"] == "THROUGHPUT"
    assert runner.facts["ov_requests"] >= 1 and runner.in_flight() == runner.facts["ov_requests"]
    for _ in range(5):
        step()
    runner.sync()
    assert runner.queue is not None and runner.queue.is_ready()


@pytest.mark.parametrize(("in_flight", "hint"), [(2, "THROUGHPUT"), (None, "LATENCY"),
                                                (1, "LATENCY")])
def test_a_server_keeps_requests_in_flight_each_with_its_fence_when_asked(
        cache_dir: Path, in_flight: int | None, hint: str) -> None:
    suite = BUILTIN["cnn"]
    data = suite.data("tiny")
    ctx = CaseContext(cache_dir, 2, "cnn-tiny-ov-server", scenario="server", in_flight=in_flight)
    runner = OV_CPU.inference(suite.model("tiny", data, seed=0), ctx)
    step = runner.bind(suite.synthetic_batch(data, 4, seed=0)[0])
    assert runner.facts["ov_hint"] == hint
    step()
    fence = runner.fence()
    if in_flight is None or in_flight == 1:  # one request at a time: infer() has finished
        assert fence is None and runner.in_flight() == 1
        return
    assert fence is not None and runner.in_flight() == runner.facts["ov_requests"]
    step()
    second = runner.fence()
    fence.synchronize()
    second.synchronize()
    assert second is not fence and runner.queue is not None
    runner.sync()
    assert runner.queue.is_ready()


def test_named_inputs_match_eager_at_another_sequence_length(cache_dir: Path) -> None:
    ctx = CaseContext(cache_dir, 1, "masked-tiny-ov", output=MASKED.output,
                      dynamic_axes=MASKED.dynamic_axes())
    model = MASKED.model("tiny", None, seed=0)
    runner = OV_CPU.inference(model, ctx)
    runner.bind(MASKED.synthetic_batch(None, 4, seed=0)[0])()  # exported at S=8
    generator = torch.Generator().manual_seed(5)
    batch = {"input_ids": torch.randint(0, 50, (3, 5), generator=generator),
             "attention_mask": torch.ones(3, 5, dtype=torch.int64)}
    eager = CPU_EAGER.inference(model, ctx).predict(batch)
    assert _rel_err(runner.predict(batch), eager) < TOLERANCES["fp32"]


def test_bf16_runs_in_bf16_or_is_refused(cache_dir: Path) -> None:
    suite = BUILTIN["transformer"]
    data = suite.data("tiny")
    ctx = CaseContext(cache_dir, 1, "transformer-tiny-ov-bf16")
    runner = OV_CPU_BF16.inference(suite.model("tiny", data, seed=0), ctx)
    batch = suite.synthetic_batch(data, 4, seed=0)[0]
    if OV_CPU_BF16.unavailable_reason() is not None:  # a oneDNN capped below bf16
        assert "ONEDNN_MAX_CPU_ISA" in OV_CPU_BF16.unavailable_reason()
        return
    if not cpu_bf16_support().native:
        with pytest.raises(BackendUnavailable, match="no layer in bf16"):
            runner.bind(batch)
        assert "bf16 is emulated" in OV_CPU_BF16.default_skip_reason("infer")
        return
    runner.bind(batch)
    assert "bf16" in runner.facts["ov_precisions"]
    eager = CPU_EAGER.inference(suite.model("tiny", data, seed=0), ctx).predict(batch)
    assert _rel_err(runner.predict(batch), eager) < TOLERANCES["bf16"]


def test_without_openvino_the_backend_says_how_to_install_it(monkeypatch) -> None:
    monkeypatch.setattr(ov, "openvino_version", lambda: "")
    assert OV_CPU.unavailable_reason() == "openvino is not installed (pip install -e .[openvino])"


def test_training_is_a_skipped_phase_with_the_reason() -> None:
    assert "inference only" in OV_CPU.phase_unsupported_reason("train")
    assert OV_CPU.phase_unsupported_reason("infer") is None
