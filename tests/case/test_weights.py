"""Trained reference weights: one cache entry per model, size, budget, seed and definition."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from harness.case import weights
from harness.case.process import budget_steps, run_case
from harness.case.weights import model_key, trained_state
from harness.cases import Case, SweepConfig
from suites.registry import BUILTIN, load_suite_file
from tests.conftest import MLP_SUITE_FILE

CNN = BUILTIN["cnn"]
ROOT = Path(__file__).resolve().parents[2]


def test_model_key_changes_with_everything_the_weights_depend_on() -> None:
    key = model_key(CNN, "tiny", steps=30, seed=0)
    assert key == model_key(CNN, "tiny", steps=30, seed=0)
    others = {model_key(CNN, "small", 30, 0), model_key(CNN, "tiny", 31, 0),
              model_key(CNN, "tiny", 30, 1), model_key(BUILTIN["rnn"], "tiny", 30, 0)}
    assert key not in others and len(others) == 4


@pytest.mark.parametrize("module", [
    "suites/cnn.py", "suites/base.py", "suites/digits.py", "harness/case/training.py",
    "harness/case/weights.py", "harness/backends/base.py", "harness/backends/eager.py",
    "harness/backends/torch_runtime.py"])
def test_model_key_changes_when_code_the_weights_depend_on_changes(module: str,
                                                                    monkeypatch) -> None:
    """Only the suite's module was hashed: an edit to the data, the budget, the optimizer or
    the training step reused stale weights (and stale ONNX exports)."""
    key = model_key(CNN, "tiny", 30, 0)
    read = weights.source_digest
    edited = ROOT / module

    def source_digest(path: str) -> str:
        return read(path) + ("+edit" if Path(path).resolve() == edited else "")

    monkeypatch.setattr(weights, "source_digest", source_digest)
    assert model_key(CNN, "tiny", 30, 0) != key


def test_model_key_changes_when_a_user_suite_file_is_edited(tmp_path: Path) -> None:
    path = tmp_path / "my_mlp.py"
    source = MLP_SUITE_FILE.read_text()
    path.write_text(source)
    (suite,) = load_suite_file(path)
    key = model_key(suite, "tiny", 30, 0)
    path.write_text(source.replace("nn.ReLU()", "nn.GELU()"))
    (edited,) = load_suite_file(path)
    assert model_key(edited, "tiny", 30, 0) != key
    assert model_key(edited, "tiny", 30, 0) == model_key(edited, "tiny", 30, 0)


def test_model_key_changes_with_the_task_data() -> None:
    data = CNN.data("tiny")
    y_train = data.y_train.clone()
    y_train[0] = (y_train[0] + 1) % data.num_classes
    relabelled = replace(data, y_train=y_train)
    key = model_key(CNN, "tiny", 30, 0)
    assert model_key(CNN, "tiny", 30, 0, data) == key  # the suite's own data by default
    assert model_key(CNN, "tiny", 30, 0, relabelled) != key
    other_loader = replace(CNN, task=replace(CNN.task, load=lambda config: relabelled))
    assert model_key(other_loader, "tiny", 30, 0) != key


def test_model_key_reads_each_source_file_once_per_process(monkeypatch) -> None:
    key = model_key(CNN, "tiny", 30, 0)

    def no_reading(self: Path) -> bytes:
        raise AssertionError(f"{self} read again")

    monkeypatch.setattr(Path, "read_bytes", no_reading)
    assert model_key(CNN, "tiny", 30, 0) == key


def test_trained_state_is_trained_once_then_read_from_the_cache(tmp_path: Path) -> None:
    data = CNN.data("tiny")
    initial = CNN.model("tiny", data, seed=0).state_dict()
    state = trained_state(CNN, "tiny", data, steps=5, seed=0, cache_dir=tmp_path, threads=1)
    (path,) = (tmp_path / "weights").glob("*.pt")
    assert path.name.startswith("cnn-tiny-")
    assert any(not torch.equal(initial[k], state[k]) for k in state)  # it did train
    mtime = path.stat().st_mtime_ns
    again = trained_state(CNN, "tiny", data, steps=5, seed=0, cache_dir=tmp_path, threads=1)
    assert path.stat().st_mtime_ns == mtime
    assert all(torch.equal(state[k], again[k]) for k in state)
    assert not list((tmp_path / "weights").glob("*.tmp"))


def test_training_is_deterministic(tmp_path: Path) -> None:
    data = CNN.data("tiny")
    a = trained_state(CNN, "tiny", data, 5, 0, tmp_path / "a", threads=1)
    b = trained_state(CNN, "tiny", data, 5, 0, tmp_path / "b", threads=1)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_reference_train_case_stores_the_weights_the_cache_would_train(tmp_path) -> None:
    """The cpu-eager train case runs the timing loop first, then the budget; reseeding makes
    its trained weights identical to training from scratch, so storing them is honest."""
    config = SweepConfig(quick=True, threads=1)
    run_case(Case("transformer", "tiny", "cpu-eager", "train", 8), config, tmp_path)
    suite = BUILTIN["transformer"]
    steps = budget_steps(suite, quick=True)
    data = suite.data("tiny")
    stored = trained_state(suite, "tiny", data, steps, 0, tmp_path, threads=1)
    from_scratch = trained_state(suite, "tiny", data, steps, 0, tmp_path / "fresh", threads=1)
    assert stored.keys() == from_scratch.keys()
    for name in stored:
        assert torch.equal(stored[name], from_scratch[name]), name
