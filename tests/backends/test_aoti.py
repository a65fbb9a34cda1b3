"""AOTInductor packages: parity with eager at any batch from one package, the package cache, a
model that fixes its batch (one package per batch size, and the row says why), and a model
torch.export cannot take (one line naming what). Each build compiles C++ (seconds on 2 CPUs),
so the builds are few and shared through one cache."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from harness.backends.aoti import CPU_AOTI, CUDA_AOTI
from harness.backends.base import CaseContext
from harness.backends.eager import CPU_EAGER
from harness.measure.parity import TOLERANCES
from suites.registry import BUILTIN

pytestmark = pytest.mark.slow

if CPU_AOTI.unavailable_reason():
    pytest.skip(CPU_AOTI.unavailable_reason(), allow_module_level=True)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


def _rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def test_one_package_serves_every_batch_and_the_second_comes_from_the_cache(
        cache_dir: Path) -> None:
    suite = BUILTIN["cnn"]
    data = suite.data("tiny")
    model = suite.model("tiny", data, seed=0)
    ctx = CaseContext(cache_dir, 1, "cnn-tiny-aoti")
    runner = CPU_AOTI.inference(model, ctx)
    out = runner.bind(suite.synthetic_batch(data, 5, seed=5)[0])()
    assert isinstance(out, (tuple, list)) and out[0].shape == (5, 10)
    assert runner.facts["dynamic_batch"] is True and "batch_note" not in runner.facts
    assert runner.facts["aoti_runners"] == 1  # a CPU call has finished when it returns
    assert runner.facts["export_cached"] is False and runner.facts["export_s"] > 0
    assert runner.facts["artifact_bytes"] > 0 and runner.facts["load_s"] >= 0
    for size in (3, 1):
        batch = suite.synthetic_batch(data, size, seed=size)[0]
        eager = CPU_EAGER.inference(model, ctx).predict(batch)
        assert _rel_err(runner.predict(batch), eager) < TOLERANCES["fp32"]

    again = CPU_AOTI.inference(suite.model("tiny", data, seed=0), ctx)
    batch = suite.synthetic_batch(data, 3, seed=3)[0]
    assert torch.equal(again.predict(batch), runner.predict(batch))
    assert again.facts["export_cached"] is True and again.facts["export_s"] == 0


class FixedBatch(nn.Module):
    """Reshapes to the batch of 4 it was written for: no other batch can pass."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(6, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.reshape(4, 6))


def test_a_model_that_fixes_its_batch_gets_a_package_for_that_batch(cache_dir: Path) -> None:
    torch.manual_seed(0)
    model = FixedBatch().eval()
    runner = CPU_AOTI.inference(model, CaseContext(cache_dir, 1, "fixed-batch"))
    x = torch.randn(4, 6)
    runner.bind(x)()
    assert runner.facts["dynamic_batch"] is False
    assert runner.facts["batch_note"].startswith("the batch was fixed at 4: ")
    with torch.no_grad():
        assert _rel_err(runner.predict(x), model(x)) < TOLERANCES["fp32"]


class DataDependent(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:  # control flow on a value: torch.export cannot trace it
            return x * 2
        return x


def test_a_model_torch_export_cannot_take_is_one_line_with_its_reason(cache_dir: Path) -> None:
    runner = CPU_AOTI.inference(DataDependent(), CaseContext(cache_dir, 1, "data-dependent"))
    packages = cache_dir / "aoti"
    before = set(packages.iterdir()) if packages.exists() else set()
    with pytest.raises(RuntimeError, match="^torch.export failed: ") as caught:
        runner.bind(torch.randn(4, 3))
    assert "\n" not in str(caught.value)
    after = set(packages.iterdir()) if packages.exists() else set()
    assert after == before, "a failed build left something in the cache"


def test_training_and_cuda_say_why_not() -> None:
    assert "inference graph" in CPU_AOTI.phase_unsupported_reason("train")
    if not torch.cuda.is_available():
        assert "no CUDA device" in CUDA_AOTI.unavailable_reason()


class Positional(nn.Module):
    """A position table of 16: torch.export asks for the sequence axis to be at most 16 (as
    BERT's 512) before it keeps it dynamic."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("table", torch.randn(16, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x[..., None] * self.table[: x.shape[1]]).sum(1)  # as BERT's position ids


def test_a_range_the_model_needs_is_taken_from_torch_export_s_suggested_fix(
        cache_dir: Path) -> None:
    torch.manual_seed(0)
    model = Positional().eval()
    ctx = CaseContext(cache_dir, 1, "positional", dynamic_axes={"input": {1: "S"}})
    runner = CPU_AOTI.inference(model, ctx)
    runner.bind(torch.randn(4, 8))()
    assert runner.facts["dynamic_batch"] is True
    x = torch.randn(3, 5)  # another batch and another sequence length from one package
    with torch.no_grad():
        assert _rel_err(runner.predict(x), model(x)) < TOLERANCES["fp32"]
