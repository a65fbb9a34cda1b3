"""A Hugging Face model as it is: `archbench run --model examples/tiny_bert.py:make ...`.

`make` builds a BertForSequenceClassification from a config written here, with random
weights, so the example runs anywhere without a download (it needs `transformers`). For your
own checkpoint on disk, return it instead; `local_files_only=True` makes sure nothing is
fetched at run time:

    return BertForSequenceClassification.from_pretrained("/path/to/checkpoint",
                                                         local_files_only=True)

The model returns a `SequenceClassifierOutput`; `--output logits` names the tensor that
parity compares.
"""

from __future__ import annotations

from transformers import BertConfig, BertForSequenceClassification

#: BERT's shape at a size that runs in seconds on a laptop CPU: 4 layers of width 256
#: (BERT-base has 12 of 768), a 30,522-token vocabulary, 2 classes.
CONFIG = BertConfig(vocab_size=30522, hidden_size=256, num_hidden_layers=4,
                    num_attention_heads=4, intermediate_size=1024,
                    max_position_embeddings=512, num_labels=2)


def make() -> BertForSequenceClassification:
    return BertForSequenceClassification(CONFIG).eval()
