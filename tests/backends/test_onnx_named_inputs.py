"""Named inputs and structured outputs through the ONNX export and every runner: the file
keeps the names and the declared dynamic axes, sessions agree with eager at another sequence
length, and an axis the model fixes is one line saying what to change."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
import torch
from torch import nn

from harness.backends.base import CaseContext
from harness.backends.compile import CPU_COMPILE
from harness.backends.eager import CPU_EAGER
from harness.backends.onnx_export import onnx_file
from harness.backends.ort import ORT_CPU, ORT_CPU_INT8, ORT_CUDA, OrtBackend
from harness.measure.parity import TOLERANCES
from harness.model_io import select_output
from suites.registry import load_suite_file
from tests.conftest import FIXTURES

SUITE = next(s for s in load_suite_file(FIXTURES / "own_model_suites.py") if s.name == "masked")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


def _ctx(cache_dir: Path) -> CaseContext:
    return CaseContext(cache_dir, 1, "masked-tiny", output=SUITE.output,
                       dynamic_axes=SUITE.dynamic_axes())


def _batch(batch: int, seq: int) -> dict[str, torch.Tensor]:
    """A batch whose sequence length differs from the spec's example (8), half masked."""
    generator = torch.Generator().manual_seed(seq)
    ids = torch.randint(0, 50, (batch, seq), generator=generator)
    mask = torch.ones(batch, seq, dtype=torch.int64)
    mask[:, seq // 2:] = 0
    return {"input_ids": ids, "attention_mask": mask}


def test_the_file_has_named_inputs_dynamic_axes_and_every_output(cache_dir: Path) -> None:
    model = SUITE.model("tiny", None, seed=0)
    example = SUITE.synthetic_batch(None, 4, seed=0)[0]
    path = onnx_file(model, example, cache_dir, "masked-tiny", "fp32",
                     SUITE.dynamic_axes()).path
    graph = onnx.load(path).graph
    dims = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]
            for i in graph.input}
    assert dims == {"input_ids": ["batch", "S"], "attention_mask": ["batch", "S"]}
    assert [o.name for o in graph.output] == ["pooled", "logits"]


@pytest.mark.parametrize("backend", [ORT_CPU, ORT_CPU_INT8], ids=["ort-cpu", "ort-cpu-int8"])
def test_sessions_match_eager_at_another_sequence_length(backend: OrtBackend,
                                                         cache_dir: Path) -> None:
    model = SUITE.model("tiny", None, seed=0)
    ctx = _ctx(cache_dir)
    runner = backend.inference(model, ctx)
    runner.bind(SUITE.synthetic_batch(None, 4, seed=0)[0])()  # exported at S=8
    batch = _batch(3, 5)
    eager = CPU_EAGER.inference(model, ctx).predict(batch)
    out = runner.predict(batch)
    assert out.shape == (3, 3)
    assert float((out - eager).norm() / eager.norm()) < TOLERANCES[backend.precision]


def test_the_timed_torch_step_computes_the_whole_output(cache_dir: Path) -> None:
    for backend in (CPU_EAGER, CPU_COMPILE):
        runner = backend.inference(SUITE.model("tiny", None, seed=0), _ctx(cache_dir))
        out = runner.bind(_batch(2, 8))()
        assert set(out) == {"pooled", "logits"}
        assert torch.equal(select_output(out, "logits"), runner.predict(_batch(2, 8)))


class FixedLength(nn.Module):
    """Adds a positional table of 8 rows: its sequence length cannot be dynamic."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(50, 4)
        self.register_buffer("positions", torch.randn(8, 4))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return ((self.embed(input_ids) + self.positions) * attention_mask.unsqueeze(-1)).sum(1)


def test_an_axis_the_model_fixes_is_one_line_saying_what_to_change(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError) as info:
        onnx_file(FixedLength(), _batch(2, 8), tmp_path, "fixed", "fp32", SUITE.dynamic_axes())
    message = str(info.value)
    assert message.startswith("ONNX export fixed the dynamic axis S of input 'input_ids' to 8")
    assert "declare it static in the input spec (e.g. 8 instead of S=8)" in message
    assert "\n" not in message
    assert not list((tmp_path / "onnx").glob("*.onnx"))  # nothing left for a later case


def test_an_export_that_fails_is_one_line_naming_the_dynamic_axes(tmp_path: Path) -> None:
    class Rejects(nn.Module):
        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            if int(input_ids.sum()) > 0:  # control flow on data: export cannot trace it
                return input_ids.float() * 2
            return attention_mask.float()

    with pytest.raises(RuntimeError) as info:
        onnx_file(Rejects(), _batch(2, 8), tmp_path, "rejects", "fp32", SUITE.dynamic_axes())
    message = str(info.value)
    assert message.startswith("ONNX export with dynamic axes batch, S failed: ")
    assert "\n" not in message


CUDA_REASON = ORT_CUDA.unavailable_reason()


@pytest.mark.cuda
@pytest.mark.skipif(CUDA_REASON is not None, reason=CUDA_REASON or "")
def test_io_binding_binds_every_named_input_and_output(cache_dir: Path) -> None:
    model = SUITE.model("tiny", None, seed=0)
    ctx = _ctx(cache_dir)
    runner = ORT_CUDA.inference(model, ctx)
    step = runner.bind(_batch(3, 8))
    step()
    runner.sync()
    ids, mask, pooled, logits = runner.device_buffers
    assert ids.device.type == "cuda" and logits.shape == (3, 3) and pooled.shape == (3, 16)
    eager = CPU_EAGER.inference(model, ctx).predict(_batch(3, 8))
    assert float((logits.cpu() - eager).norm() / eager.norm()) < TOLERANCES["fp32"]
