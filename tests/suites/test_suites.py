"""The built-in suites: sizes that really grow, models that fit their data, tasks that learn."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from harness.backends.base import CaseContext
from harness.backends.eager import CPU_EAGER
from harness.case.training import run_budget
from harness.errors import UsageError
from harness.measure.model_facts import count_params
from suites import digits
from suites.base import top1_accuracy
from suites.registry import BUILTIN

SUITES = sorted(BUILTIN)
SIZES = ("tiny", "small", "medium", "large")  # the sizes a CPU test can build and run
GPU_SIZES = ("xl",)  # sized for a GPU: too heavy for the CPU tests here
N_TRAIN, N_TEST = 1437, 360  # 80/20 of the 1,797 digits


def test_builtin_suites_are_the_three_families() -> None:
    assert SUITES == ["cnn", "rnn", "transformer"]
    for suite in BUILTIN.values():
        assert tuple(suite.sizes) == (*SIZES, *GPU_SIZES)
        assert set(suite.defaults(cuda=False)) <= set(SIZES)
        assert set(suite.defaults(cuda=True)) <= set(suite.sizes)


@pytest.mark.parametrize("name", SUITES)
def test_sizes_grow_strictly_and_span_two_orders_of_magnitude(name: str) -> None:
    suite = BUILTIN[name]
    params = [count_params(suite.model(size, suite.data(size), seed=0)) for size in SIZES]
    assert params == sorted(set(params)), params  # strictly increasing
    assert params[-1] >= 100 * params[0]


@pytest.mark.parametrize("name", SUITES)
@pytest.mark.parametrize("size", SIZES)
def test_model_maps_a_synthetic_batch_to_class_logits(name: str, size: str) -> None:
    suite = BUILTIN[name]
    data = suite.data(size)
    model = suite.model(size, data, seed=0).eval()
    x, y = suite.synthetic_batch(data, batch_size=3, seed=0)
    with torch.no_grad():
        logits = model(x)
    assert logits.shape == (3, data.num_classes) == (3, 10)
    assert logits.dtype == torch.float32 and torch.isfinite(logits).all()
    assert y.shape == (3,) and y.dtype == torch.int64
    assert int(y.min()) >= 0 and int(y.max()) < 10


@pytest.mark.parametrize("name", SUITES)
@pytest.mark.parametrize("size", ["tiny", "large"])
def test_synthetic_batch_looks_like_the_real_data(name: str, size: str) -> None:
    suite = BUILTIN[name]
    data = suite.data(size)
    x, _ = suite.synthetic_batch(data, batch_size=512, seed=0)
    real = data.x_train
    assert x.dtype == real.dtype
    assert x.shape == (512, *real.shape[1:])
    if real.is_floating_point():  # standardised real data; standard normal synthetic data
        assert abs(float(real.mean())) < 1e-4 and float(real.std()) == pytest.approx(1, abs=1e-4)
        assert abs(float(x.mean())) < 0.05 and float(x.std()) == pytest.approx(1, abs=0.05)
    else:  # tokens: only ids the embedding has, and the whole observed range is used
        assert int(x.min()) == 0 and int(x.max()) == int(real.max())
        assert int(real.min()) >= 0 and int(real.max()) < digits.TOKEN_LEVELS


@pytest.mark.parametrize("name", SUITES)
def test_synthetic_batch_is_reproducible_from_its_seed(name: str) -> None:
    suite = BUILTIN[name]
    data = suite.data("tiny")
    x1, y1 = suite.synthetic_batch(data, 8, seed=3)
    x2, y2 = suite.synthetic_batch(data, 8, seed=3)
    x3, _ = suite.synthetic_batch(data, 8, seed=4)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert not torch.equal(x1, x3)


def test_data_split_is_fixed_and_stratified() -> None:
    first = digits.digits_images(8)
    first = [t.clone() for t in (first.x_train, first.y_train, first.x_test, first.y_test)]
    for cached in (digits._split, digits.digits_images):  # recompute from scratch
        cached.cache_clear()
    second = digits.digits_images(8)
    again = (second.x_train, second.y_train, second.x_test, second.y_test)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert (len(second.y_train), len(second.y_test)) == (N_TRAIN, N_TEST)
    assert torch.bincount(second.y_test, minlength=10).tolist() == pytest.approx([36] * 10,
                                                                                 abs=1)


def test_every_representation_shares_the_split() -> None:
    images, rows, tokens = digits.digits_images(8), digits.digits_rows(8), digits.digits_tokens(8)
    assert torch.equal(images.y_test, rows.y_test) and torch.equal(rows.y_test, tokens.y_test)
    assert images.sample_shape == (1, 8, 8)
    assert rows.sample_shape == (8, 8)
    assert tokens.sample_shape == (64,) and tokens.x_train.dtype == torch.int64


def test_held_out_data_is_scaled_with_training_statistics_only() -> None:
    data = digits.digits_rows(8)
    assert float(data.x_train.mean()) == pytest.approx(0, abs=1e-5)
    assert float(data.x_test.mean()) != pytest.approx(0, abs=1e-5)


@pytest.mark.parametrize("name", SUITES)
def test_models_are_reproducible_from_their_seed(name: str) -> None:
    suite = BUILTIN[name]
    data = suite.data("tiny")
    a, b = (suite.model("tiny", data, seed=7).state_dict() for _ in range(2))
    c = suite.model("tiny", data, seed=8).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_unknown_size_names_the_valid_ones() -> None:
    with pytest.raises(UsageError, match="unknown size 'huge'.*tiny, small, medium, large"):
        BUILTIN["cnn"].config("huge")


@pytest.mark.parametrize("name", SUITES)
def test_tiny_learns_above_chance_within_its_budget(name: str, tmp_path: Path) -> None:
    """The task's own budget, through the cpu-eager trainer: held-out accuracy well above the
    10% of guessing. (How long the budget takes is measured, not asserted here: see
    docs/measurements.md; a test must not depend on the machine's speed.)"""
    suite = BUILTIN[name]
    data = suite.data("tiny")
    model = suite.model("tiny", data, seed=0)
    trainer = CPU_EAGER.training(model, suite.task, CaseContext(tmp_path, 1, "test"))
    losses = run_budget(trainer.step, data, suite.task.train_batch, suite.task.train_steps,
                        seed=0)
    model.eval()
    with torch.no_grad():
        accuracy = top1_accuracy(model(data.x_test), data.y_test)
    assert len(losses) == suite.task.train_steps
    assert sum(losses[-20:]) < sum(losses[:20])
    assert accuracy > 0.3, f"{name} tiny: held-out accuracy {accuracy:.3f} after " \
                           f"{suite.task.train_steps} steps"
