"""The training budget's batches, the reported final loss, and fixed-shape batched prediction."""

from __future__ import annotations

import pytest
import torch

from harness.case.training import final_loss, predict_in_batches, run_budget, train_batches
from suites.base import TaskData


def toy_data(n_train: int = 10) -> TaskData:
    x = torch.arange(n_train, dtype=torch.float32).unsqueeze(1)
    y = torch.arange(n_train) % 3
    return TaskData(x, y, x[:4], y[:4], num_classes=3)


def test_batches_have_the_fixed_size_and_cover_an_epoch_without_repeats() -> None:
    data = toy_data(10)
    batches = train_batches(data, batch_size=3, steps=3, seed=0)  # one epoch: 3 full batches
    assert len(batches) == 3 and all(len(x) == len(y) == 3 for x, y in batches)
    seen = torch.cat([x for x, _ in batches]).squeeze(1).tolist()
    assert len(set(seen)) == 9  # one sample of ten is dropped: no partial batch


def test_batches_wrap_into_new_epochs_until_the_budget_is_spent() -> None:
    batches = train_batches(toy_data(10), batch_size=3, steps=7, seed=0)
    assert len(batches) == 7 and all(len(x) == 3 for x, _ in batches)


def test_batches_are_reproducible_from_the_seed_and_labels_follow_inputs() -> None:
    data = toy_data(10)
    a = train_batches(data, 4, 5, seed=1)
    b = train_batches(data, 4, 5, seed=1)
    c = train_batches(data, 4, 5, seed=2)
    assert all(torch.equal(xa, xb) and torch.equal(ya, yb)
               for (xa, ya), (xb, yb) in zip(a, b, strict=True))
    assert not all(torch.equal(xa, xc) for (xa, _), (xc, _) in zip(a, c, strict=True))
    for x, y in a:
        assert torch.equal(x.squeeze(1).long() % 3, y)


def test_a_batch_larger_than_the_training_set_is_refused() -> None:
    with pytest.raises(ValueError, match="smaller than one batch"):
        train_batches(toy_data(10), batch_size=11, steps=1, seed=0)


def test_run_budget_returns_one_loss_per_step() -> None:
    calls = []

    def step(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        calls.append(len(x))
        return torch.tensor(float(len(calls)))

    losses = run_budget(step, toy_data(10), batch_size=2, steps=12, seed=0)
    assert losses == [float(i) for i in range(1, 13)]
    assert calls == [2] * 12


def test_final_loss_is_the_mean_of_the_last_tenth() -> None:
    assert final_loss([float(i) for i in range(100)]) == pytest.approx(sum(range(90, 100)) / 10)
    assert final_loss([5.0, 3.0]) == 3.0  # at least one step


def test_predict_in_batches_pads_the_last_batch_and_drops_the_padding() -> None:
    x = torch.arange(10, dtype=torch.float32).unsqueeze(1)
    shapes = []

    def predict(batch: torch.Tensor) -> torch.Tensor:
        shapes.append(tuple(batch.shape))
        return batch * 2

    out = predict_in_batches(predict, x, batch_size=4)
    assert shapes == [(4, 1)] * 3  # 4 + 4 + (2 real + 2 padding)
    assert torch.equal(out, x * 2)
