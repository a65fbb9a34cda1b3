"""Parameter and FLOP counts against hand counts (a multiply-add is 2 FLOPs)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from harness.measure.model_facts import count_params, flops_per_sample
from suites.registry import BUILTIN


def test_params_of_a_linear_layer() -> None:
    assert count_params(nn.Linear(5, 3)) == 5 * 3 + 3
    assert count_params(nn.Linear(5, 3, bias=False)) == 15


def test_frozen_params_are_not_counted() -> None:
    model = nn.Sequential(nn.Linear(5, 3), nn.Linear(3, 2))
    model[0].requires_grad_(False)
    assert count_params(model) == 3 * 2 + 2


@pytest.mark.parametrize(("n_in", "n_out"), [(5, 3), (64, 10), (7, 1)])
def test_flops_of_a_linear_layer(n_in: int, n_out: int) -> None:
    assert flops_per_sample(nn.Linear(n_in, n_out), torch.randn(1, n_in)) == 2 * n_in * n_out


def test_flop_count_restores_training_mode() -> None:
    model = nn.Linear(4, 2).train()
    flops_per_sample(model, torch.randn(1, 4))
    assert model.training
    model.eval()
    flops_per_sample(model, torch.randn(1, 4))
    assert not model.training


def _model(suite: str, size: str) -> tuple[nn.Module, torch.Tensor]:
    s = BUILTIN[suite]
    data = s.data(size)
    return s.model(size, data, seed=0), data.x_test[:1]


def cnn_flops(side: int, width: int, depth: int, fc: int, classes: int = 10) -> int:
    """5x5 'same' convolutions (max-pools halve the side), then three linear layers."""
    total, channels = 0, 1
    for block in range(depth):
        out = width * 2**block
        total += 2 * channels * 25 * out * side * side
        channels, side = out, side // 2
    flat, hidden = channels * side * side, fc * 7 // 10
    return total + 2 * (flat * fc + fc * hidden + hidden * classes)


def lstm_flops(side: int, hidden: int, layers: int, classes: int = 10) -> int:
    """Per time step and layer, the four gates' input and recurrent products; then the head."""
    total, features = 0, side
    for _ in range(layers):
        total += side * 2 * 4 * hidden * (features + hidden)
        features = hidden
    return total + 2 * hidden * classes


def transformer_flops(side: int, d_model: int, heads: int, layers: int, ff: int,
                      classes: int = 10) -> int:
    """Per layer: Q, K, V and output projections, scores and weighted sum, feed-forward."""
    seq = side * side
    per_layer = (2 * seq * d_model * 3 * d_model   # Q, K, V
                 + 2 * seq * seq * d_model         # Q K^T, all heads together
                 + 2 * seq * seq * d_model         # attention x V
                 + 2 * seq * d_model * d_model     # output projection
                 + 2 * 2 * seq * d_model * ff)     # two feed-forward layers
    return layers * per_layer + 2 * d_model * classes


@pytest.mark.parametrize("size", ["tiny", "small"])
def test_cnn_flops_match_hand_count(size: str) -> None:
    model, x = _model("cnn", size)
    assert flops_per_sample(model, x) == cnn_flops(**BUILTIN["cnn"].config(size))


@pytest.mark.parametrize("size", ["tiny", "small", "medium"])
def test_lstm_flops_are_counted_through_the_recurrence(size: str) -> None:
    """The fused oneDNN LSTM kernel has no FLOP formula; the counter must still see the gates."""
    model, x = _model("rnn", size)
    flops = flops_per_sample(model, x)
    config = BUILTIN["rnn"].config(size)
    head = 2 * config["hidden"] * 10
    assert flops > 10 * head
    assert flops == lstm_flops(**config)


def test_transformer_small_flops_equal_the_hand_count() -> None:
    model, x = _model("transformer", "small")
    assert transformer_flops(**BUILTIN["transformer"].config("small")) == 10_487_040
    assert flops_per_sample(model, x) == 10_487_040


@pytest.mark.parametrize("size", ["tiny", "medium"])
def test_transformer_flops_match_hand_count(size: str) -> None:
    model, x = _model("transformer", size)
    assert flops_per_sample(model, x) == transformer_flops(**BUILTIN["transformer"].config(size))
