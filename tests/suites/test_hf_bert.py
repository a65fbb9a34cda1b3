"""A Hugging Face BERT as a user brings it: built from a config in this test (nothing is
downloaded), three named inputs, a `SequenceClassifierOutput` reduced to its `logits`.

Skipped where `transformers` is not installed (it is in the `[test]` extra).
"""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
import torch

from harness.backends.base import CaseContext
from harness.backends.eager import CPU_EAGER
from harness.backends.onnx_export import onnx_file
from harness.backends.ort import ORT_CPU, ORT_CPU_INT8
from harness.case.process import built_model, eval_inputs, fp64_reference
from harness.case.training import predict_in_batches
from harness.case.weights import built_state
from harness.measure.parity import PARITY_SAMPLES, parity
from harness.model_io import select_output
from suites.base import Suite
from suites.registry import load_suite_file

transformers = pytest.importorskip("transformers", reason="transformers is not installed")


def make_bert() -> torch.nn.Module:
    config = transformers.BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=37,
                                     max_position_embeddings=64, num_labels=3)
    return transformers.BertForSequenceClassification(config).eval()


SUITE = Suite(
    name="bert", description="tiny BERT from a config", sizes={"tiny": {}},
    default_sizes=("tiny",), build=lambda config, data: make_bert(),
    inputs=("input_ids:int64[B,S=16]<100", "attention_mask:int64[B,S=16]=1",
            "token_type_ids:int64[B,S=16]=0"),
    output="logits")


@pytest.fixture(scope="module")
def reference() -> tuple[dict, object]:
    weights = built_state(SUITE, "tiny", None, seed=0)
    return weights, fp64_reference(SUITE, "tiny", None, weights, seed=0)


@pytest.mark.parametrize("backend", [CPU_EAGER, ORT_CPU, ORT_CPU_INT8],
                         ids=["cpu-eager", "ort-cpu", "ort-cpu-int8"])
def test_a_tiny_bert_passes_parity_on_every_cpu_backend(backend, reference, tmp_path: Path
                                                        ) -> None:
    weights, fp64 = reference
    model = SUITE.model("tiny", None, seed=0)
    assert all(torch.equal(model.state_dict()[k], weights[k]) for k in weights)
    ctx = CaseContext(tmp_path, 1, "bert-tiny", output=SUITE.output,
                      dynamic_axes=SUITE.dynamic_axes())
    runner = backend.inference(model, ctx)
    runner.bind(SUITE.synthetic_batch(None, 4, seed=0)[0])()  # the whole output, timed
    logits = predict_in_batches(runner.predict, eval_inputs(SUITE, None, 0), 8)
    assert logits.shape == (PARITY_SAMPLES, 3)
    result = parity(logits.numpy(), fp64, backend.precision)
    assert result.ok, result


def test_the_onnx_file_keeps_the_sequence_axis_dynamic(tmp_path: Path) -> None:
    model = SUITE.model("tiny", None, seed=0)
    example = SUITE.synthetic_batch(None, 2, seed=0)[0]
    path = onnx_file(model, example, tmp_path, "bert-tiny", "fp32", SUITE.dynamic_axes()).path
    graph = onnx.load(path).graph
    assert {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]
            for i in graph.input} == {name: ["batch", "S"] for name in example}
    assert [o.name for o in graph.output] == ["logits"]
    ctx = CaseContext(tmp_path, 1, "bert-tiny", output="logits",
                      dynamic_axes=SUITE.dynamic_axes())
    shorter = {name: tensor[:, :10] for name, tensor in example.items()}
    out = ORT_CPU.inference(model, ctx).predict(shorter)
    with torch.inference_mode():
        eager = model(**shorter).logits
    assert float((out - eager).norm() / eager.norm()) < 1e-4


def test_the_readme_suite_file_builds_bert_as_built_and_runs_it() -> None:
    (suite,) = load_suite_file(Path(__file__).parents[2] / "examples" / "bert_suite.py")
    assert suite.name == "bert" and suite.as_built and suite.task is None
    batch = suite.synthetic_batch(None, 2, seed=0)[0]
    assert set(batch) == {"input_ids", "attention_mask", "token_type_ids"}
    model = built_model(suite, "mini", None, seed=0)  # its forward takes the declared inputs
    with torch.inference_mode():
        assert select_output(model(**batch), suite.output).shape == (2, 2)
