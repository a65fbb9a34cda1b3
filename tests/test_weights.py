"""Trained reference weights: one cache entry per model, size, budget, seed and definition."""

from __future__ import annotations

from pathlib import Path

import torch

from harness.cases import Case, SweepConfig
from harness.execute import budget_steps, run_case
from harness.weights import model_key, trained_state
from suites.registry import BUILTIN

CNN = BUILTIN["cnn"]


def test_model_key_changes_with_everything_the_weights_depend_on() -> None:
    key = model_key(CNN, "tiny", steps=30, seed=0)
    assert key == model_key(CNN, "tiny", steps=30, seed=0)
    others = {model_key(CNN, "small", 30, 0), model_key(CNN, "tiny", 31, 0),
              model_key(CNN, "tiny", 30, 1), model_key(BUILTIN["rnn"], "tiny", 30, 0)}
    assert key not in others and len(others) == 4


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
