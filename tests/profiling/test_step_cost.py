"""FLOPs and bytes of a step: a whole training step is counted, and the extrapolation from
batches 2 and 3 equals a count at the real batch."""

from __future__ import annotations

import pytest
import torch

from harness.profiling.step_cost import _count, step_cost
from suites.registry import get_suite


@pytest.mark.parametrize("suite_name", ["cnn", "rnn", "transformer"])
def test_extrapolated_cost_equals_a_direct_count(suite_name: str) -> None:
    suite = get_suite(suite_name)
    data = suite.data("tiny")
    for phase in ("infer", "train"):
        model = suite.model("tiny", data, 0).train(phase == "train")
        loss = suite.task.loss() if phase == "train" else None
        direct = _count(model, loss, *suite.synthetic_batch(data, 6, 0))
        cost = step_cost(suite, "tiny", data, phase, 6, 0)
        assert cost.flops == pytest.approx(direct.flops)
        assert cost.bytes == pytest.approx(direct.bytes)
        assert sum(cost.op_flops.values()) == pytest.approx(cost.flops)


def test_training_counts_the_backward_pass() -> None:
    """A linear layer's backward is two matmuls of the forward's size: 3x, measured, with the
    backward's own ops (mm) among the counted ones."""
    suite = get_suite("transformer")
    data = suite.data("tiny")
    infer = step_cost(suite, "tiny", data, "infer", 4, 0)
    train = step_cost(suite, "tiny", data, "train", 4, 0)
    assert 2.5 * infer.flops < train.flops < 3.5 * infer.flops
    assert train.bytes > infer.bytes
    assert torch.is_grad_enabled()
