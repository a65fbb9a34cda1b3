"""Weights as built: inference runs exactly what `build` returned, and the cache keys (weights,
ONNX export) follow the checkpoint those weights came from."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

import harness.case.process as execute
import harness.case.weights as weights
from harness.backends.onnx_export import cache_path
from harness.cases import Case, SweepConfig
from suites.base import AS_BUILT, TRAINED, Suite
from suites.registry import BUILTIN


def checkpoint_suite(checkpoint: Path) -> Suite:
    """A 'pretrained' model: its build loads the user's checkpoint file."""
    def build(config: object, data: object) -> nn.Module:
        model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
        model.load_state_dict(torch.load(checkpoint, weights_only=True))
        return model
    return Suite(name="pretrained", description="", sizes={"tiny": {}}, build=build,
                 default_sizes=("tiny",), inputs=("input:float32[B,6]",))


def save_checkpoint(path: Path, seed: int) -> None:
    torch.manual_seed(seed)
    torch.save(nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3)).state_dict(), path)


def same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and torch.equal(
        a.contiguous().view(torch.uint8), b.contiguous().view(torch.uint8))


@pytest.fixture(autouse=True)
def fresh_built_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(weights, "_BUILT", {})  # built weights are cached per process


def test_the_inference_case_runs_the_built_weights_bit_for_bit(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "model.pt", seed=123)
    suite = checkpoint_suite(tmp_path / "model.pt")

    def no_training(*args: object) -> None:
        raise AssertionError("weights as built must not be trained")

    timed: list[nn.Module] = []

    def new_model(run: execute.CaseRun, state: dict | None) -> nn.Module:
        timed.append(original(run, state))
        return timed[-1]

    original = execute._new_model
    monkeypatch.setattr(execute, "configure_threads", lambda config: 1)  # pytest's own pools
    monkeypatch.setattr(execute, "get_suite", lambda *args: suite)
    monkeypatch.setattr(execute, "trained_state", no_training)
    monkeypatch.setattr(execute, "_new_model", new_model)
    out = execute.run_case(Case("pretrained", "tiny", "cpu-eager", "infer", 2, "latency"),
                           SweepConfig(quick=True, threads=1), tmp_path / "cache")

    assert out.row["weights"] == AS_BUILT and out.row["parity_ok"]
    built = suite.model("tiny", None, seed=0).state_dict()
    ran = timed[0].state_dict()
    assert list(ran) == list(built)
    assert all(same_bits(ran[name], built[name]) for name in built)
    assert not (tmp_path / "cache" / "weights").exists()  # nothing trained, nothing cached


def test_the_key_follows_the_checkpoint_and_the_onnx_cache_with_it(tmp_path: Path) -> None:
    checkpoint = tmp_path / "model.pt"
    save_checkpoint(checkpoint, seed=1)
    suite = checkpoint_suite(checkpoint)
    key = weights.model_key(suite, "tiny", 0, 0)
    weights._BUILT.clear()
    assert weights.model_key(suite, "tiny", 0, 0) == key  # the same weights, the same key
    save_checkpoint(checkpoint, seed=2)  # a new checkpoint under the same name
    weights._BUILT.clear()
    new_key = weights.model_key(suite, "tiny", 0, 0)
    assert new_key != key
    assert cache_path(tmp_path, new_key, "fp32") != cache_path(tmp_path, key, "fp32")


def test_the_built_in_suites_keep_training_their_reference_weights() -> None:
    assert all(suite.weights == TRAINED and not suite.as_built for suite in BUILTIN.values())


def test_a_build_that_is_not_reproducible_is_an_error_not_a_parity_failure(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls = iter(range(100))

    def build(config: object, data: object) -> nn.Module:
        torch.manual_seed(next(calls))  # ignores the harness's seed: other weights each call
        return nn.Linear(6, 3)

    suite = Suite(name="drifting", description="", sizes={"tiny": {}}, build=build,
                  default_sizes=("tiny",), inputs=("input:float32[B,6]",))
    monkeypatch.setattr(execute, "configure_threads", lambda config: 1)
    monkeypatch.setattr(execute, "get_suite", lambda *args: suite)
    with pytest.raises(RuntimeError, match="build returned other weights"):
        execute.run_case(Case("drifting", "tiny", "cpu-eager", "infer", 2, "latency"),
                         SweepConfig(quick=True, threads=1), tmp_path / "cache")
