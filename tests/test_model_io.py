"""Batches of named inputs and structured outputs: called, sliced, reduced to one tensor."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import pytest
import torch
from torch import nn

from harness.case.training import predict_in_batches
from harness.model_io import (
    ModelInputError,
    call,
    check_accepts,
    named_outputs,
    pad_to,
    select_output,
    take,
)


@dataclass
class Output:
    """Shaped like a Hugging Face ModelOutput: optional fields, None when absent."""

    logits: torch.Tensor
    loss: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None


class ModelOutputLike(OrderedDict):
    """An OrderedDict of its non-None fields, as `transformers.ModelOutput` is."""


class TwoInputs(nn.Module):
    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> dict:
        return {"logits": (input_ids * attention_mask).float(), "ids": input_ids}


def test_every_tensor_of_an_output_has_a_path() -> None:
    a, b, c = torch.zeros(1), torch.ones(1), torch.full((1,), 2.0)
    assert list(named_outputs(a)) == ["logits"]
    assert named_outputs((a, (b, c))) == {"0": a, "1.0": b, "1.1": c}
    assert list(named_outputs({"logits": a, "extra": {"h": b}})) == ["logits", "extra.h"]
    assert list(named_outputs(Output(a, hidden_states=(b, c)))) == [
        "logits", "hidden_states.0", "hidden_states.1"]  # the None loss is left out
    assert list(named_outputs(ModelOutputLike(logits=a))) == ["logits"]


def test_select_output_reduces_to_the_named_tensor() -> None:
    logits, hidden = torch.randn(2, 3), torch.randn(2, 4)
    assert select_output(Output(logits, hidden_states=(hidden,)), "logits") is logits
    assert select_output(logits, None) is logits
    assert select_output(Output(logits), None) is logits  # the only tensor
    assert select_output((logits, hidden), "1") is hidden


def test_a_missing_or_ambiguous_output_is_one_line_naming_what_there_is() -> None:
    out = {"scores": torch.zeros(1), "pooled": torch.zeros(1)}
    with pytest.raises(ValueError, match="no tensor 'logits'; it has: scores, pooled"):
        select_output(out, "logits")
    with pytest.raises(ValueError, match=r"several tensors \(scores, pooled\); name the one"):
        select_output(out, None)
    with pytest.raises(ValueError, match="no tensor"):
        select_output("text", "logits")


def test_a_forward_that_rejects_the_declared_inputs_says_which() -> None:
    model = TwoInputs()
    check_accepts(model, {"input_ids": torch.zeros(1), "attention_mask": torch.ones(1)})
    with pytest.raises(ModelInputError) as info:
        check_accepts(model, {"input_ids": torch.zeros(1), "mask": torch.ones(1)})
    message = str(info.value)
    assert "rejects the declared inputs (input_ids, mask)" in message
    assert "it takes (input_ids, attention_mask)" in message and "\n" not in message
    with pytest.raises(ModelInputError, match="missing"):
        check_accepts(model, torch.zeros(1))


def test_named_inputs_are_sliced_padded_and_called_together() -> None:
    batch = {"input_ids": torch.arange(10).reshape(5, 2),
             "attention_mask": torch.ones(5, 2, dtype=torch.int64)}
    assert torch.equal(take(batch, 1, 3)["input_ids"], batch["input_ids"][1:3])
    padded = pad_to(take(batch, 4, 5), 3)
    assert torch.equal(padded["input_ids"], batch["input_ids"][[4, 4, 4]])
    assert torch.equal(call(TwoInputs(), batch)["ids"], batch["input_ids"])


def test_predict_in_batches_takes_named_inputs() -> None:
    batch = {"input_ids": torch.arange(14).reshape(7, 2),
             "attention_mask": torch.ones(7, 2, dtype=torch.int64)}
    sizes = []

    def predict(chunk: dict) -> torch.Tensor:
        sizes.append(len(chunk["input_ids"]))
        return select_output(call(TwoInputs(), chunk), "logits")

    out = predict_in_batches(predict, batch, batch_size=3)
    assert sizes == [3, 3, 3] and torch.equal(out, batch["input_ids"].float())
