"""Input specs: the one-line form parses to what it says, a bad one is one line naming the
syntax, and a suite without a task is checked when it is made."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from harness.errors import UsageError
from suites.base import AS_BUILT, Suite
from suites.inputs import Dim, dynamic_axes, make_batch, parse_input, parse_inputs


def test_a_token_spec_parses_to_its_name_dtype_shape_and_range() -> None:
    spec = parse_input("input_ids:int64[B,128]<30522")
    assert (spec.name, spec.dtype, spec.high, spec.constant) == ("input_ids", torch.int64,
                                                                30522, None)
    assert spec.dims == (Dim(0, "B"), Dim(128))
    assert str(spec) == "input_ids:int64[B,128]<30522"


def test_values_follow_the_spec() -> None:
    generator = torch.Generator().manual_seed(0)
    ids = parse_input("ids:int64[B,64]<7").make(32, generator)
    mask = parse_input("mask:int64[B,64]=1").make(32, generator)
    pixels = parse_input("pixels:float32[B,3,4,4]").make(256, generator)
    assert ids.shape == (32, 64) and ids.dtype == torch.int64
    assert int(ids.min()) == 0 and int(ids.max()) == 6  # every id of [0, 7) drawn, none beyond
    assert torch.equal(mask, torch.ones(32, 64, dtype=torch.int64))
    assert pixels.shape == (256, 3, 4, 4) and pixels.dtype == torch.float32
    assert abs(float(pixels.mean())) < 0.05 and abs(float(pixels.std()) - 1) < 0.05


def test_a_batch_is_reproducible_from_its_seed() -> None:
    specs = parse_inputs(["a:int64[B,5]<100", "b:float16[B,2]"])
    first = make_batch(specs, 4, torch.Generator().manual_seed(3))
    again = make_batch(specs, 4, torch.Generator().manual_seed(3))
    other = make_batch(specs, 4, torch.Generator().manual_seed(4))
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not torch.equal(first["a"], other["a"])
    assert first["b"].dtype == torch.float16


def test_named_axes_are_dynamic_and_shared_between_inputs() -> None:
    specs = parse_inputs(["input_ids:int64[B,S=16]<10", "attention_mask:int64[B,S=16]=1",
                          "image:float32[B,3,8,8]"])
    assert dynamic_axes(specs) == {"input_ids": {0: "batch", 1: "S"},
                                   "attention_mask": {0: "batch", 1: "S"},
                                   "image": {0: "batch"}}
    assert make_batch(specs, 2, torch.Generator())["input_ids"].shape == (2, 16)


@pytest.mark.parametrize(("text", "expected"), [
    ("input_ids int64[B,128]", "does not parse"),
    ("input_ids:int64(B,128)<5", "does not parse"),
    ("input_ids:long[B,128]<5", "unknown dtype 'long'"),
    ("input_ids:int64[128,B]<5", "first dimension must be the batch"),
    ("input_ids:int64[B,0]<5", "dimension '0' is not a positive integer"),
    ("input_ids:int64[B,S]<5", "needs an example size"),
    ("input_ids:int64[B,128]", "give its range"),
    ("input_ids:int64[B,128]<0", "positive HIGH"),
    ("x:float32[B,4]<abc", "does not parse"),
])
def test_a_bad_spec_is_one_line_saying_what_is_valid(text: str, expected: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_input(text)
    message = str(info.value)
    assert expected in message and "\n" not in message


def test_specs_must_have_unique_names_and_one_size_per_axis() -> None:
    with pytest.raises(UsageError, match="unique"):
        parse_inputs(["a:float32[B,2]", "a:float32[B,3]"])
    with pytest.raises(UsageError, match="'S' has two sizes"):
        parse_inputs(["a:int64[B,S=4]<2", "b:int64[B,S=5]<2"])


def _build(config: object, data: object) -> nn.Module:
    return nn.Linear(2, 2)


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({}, "has no task: declare its inputs="),
    ({"inputs": ("x:float32[B,2]",), "synthetic": lambda n, g: torch.zeros(n, 2)},
     "not both"),
    ({"inputs": ("x:float32[B,2]",), "weights": "trained"}, "needs a task to train on"),
    ({"inputs": ("x:float32[B,2]",), "weights": "pretrained"}, "unknown weights"),
    ({"inputs": ("x:float32[B,2]",), "train_loss": nn.MSELoss}, "go together"),
    ({"inputs": ("x:float32[B 2]",)}, "is not a positive integer"),
])
def test_a_suite_without_a_task_is_checked_when_made(kwargs: dict, expected: str) -> None:
    with pytest.raises(UsageError, match=expected):
        Suite(name="mine", description="", sizes={"tiny": {}}, build=_build, **kwargs)


def test_a_suite_with_inputs_has_its_weights_as_built_and_no_training() -> None:
    suite = Suite(name="mine", description="", sizes={"tiny": {}}, build=_build,
                  inputs=("x:float32[B,2]",))
    assert suite.weights == AS_BUILT and suite.as_built
    assert suite.data("tiny") is None and suite.objective() is None
    assert "no task and no declared loss" in suite.train_skip_reason()
    x, y = suite.synthetic_batch(None, 3, seed=0)
    assert x["x"].shape == (3, 2) and y is None


def test_declared_loss_and_targets_make_a_synthetic_objective() -> None:
    suite = Suite(name="mine", description="", sizes={"tiny": {}}, build=_build,
                  inputs=("x:float32[B,2]",), train_loss=nn.CrossEntropyLoss,
                  targets="labels:int64[B]<2")
    objective = suite.objective()
    assert objective is not None and objective.load is None
    assert isinstance(objective.loss(), nn.CrossEntropyLoss)
    assert suite.train_skip_reason() is None
    _, y = suite.synthetic_batch(None, 5, seed=0)
    assert y.shape == (5,) and int(y.max()) < 2


def test_a_synthetic_function_makes_the_batch() -> None:
    suite = Suite(name="mine", description="", sizes={"tiny": {}}, build=_build,
                  synthetic=lambda n, g: {"x": torch.rand(n, 2, generator=g)})
    first, _ = suite.synthetic_batch(None, 4, seed=1)
    again, _ = suite.synthetic_batch(None, 4, seed=1)
    assert torch.equal(first["x"], again["x"]) and suite.dynamic_axes() == {}
