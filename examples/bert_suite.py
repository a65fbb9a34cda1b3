"""A Hugging Face model as a suite file: `archbench run --suite-file examples/bert_suite.py`.

No task and no download: `build` makes BERT from a config (random weights); for your own
checkpoint already on disk, return
`BertForSequenceClassification.from_pretrained("/path/to/checkpoint", local_files_only=True)`.
The weights are benchmarked as built, and `logits` is the tensor parity compares.
"""

from transformers import BertConfig, BertForSequenceClassification

from suites import Suite


def build(config, data):
    return BertForSequenceClassification(BertConfig(**config, num_labels=2)).eval()


SUITE = Suite(
    name="bert", description="BERT classifier as built",
    sizes={"mini": {"hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4,
                    "intermediate_size": 1024}},
    default_sizes=("mini",), build=build, output="logits",
    inputs=["input_ids:int64[B,S=128]<30522", "attention_mask:int64[B,S=128]=1",
            "token_type_ids:int64[B,S=128]=0"],
)
