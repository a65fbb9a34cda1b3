"""The tiny BERT of `examples/tiny_bert.py` as it had to be written before weights as built:
a wrapper that takes one tensor and returns the logits, and a task with labelled data, whose
budget the reference weights are trained for before any inference case runs.

Only for measuring what that cost (`benchmarks/results/own-model.md`): the labels are random,
so the accuracy means nothing; the training time is the point.
"""

from pathlib import Path

import torch
from torch import nn

from suites import Suite, Task, TaskData
from suites.importing import import_file

SEQ, VOCAB = 128, 30522
tiny_bert = import_file(Path(__file__).parents[1] / "examples" / "tiny_bert.py", "tiny_bert")


class LogitsOnly(nn.Module):
    """input_ids in, logits out: the one-tensor interface suites had."""

    def __init__(self) -> None:
        super().__init__()
        self.bert = tiny_bert.make()

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.bert(input_ids=input_ids, attention_mask=torch.ones_like(input_ids)).logits


def random_tokens(config: dict) -> TaskData:
    generator = torch.Generator().manual_seed(0)

    def tokens(n: int) -> torch.Tensor:
        return torch.randint(0, VOCAB, (n, SEQ), generator=generator)

    labels = torch.randint(0, 2, (640,), generator=generator)
    return TaskData(tokens(512), labels[:512], tokens(128), labels[512:], num_classes=2)


SUITE = Suite(name="bert-trained", description="tiny BERT behind a wrapper, with a task",
              sizes={"default": {}}, default_sizes=("default",),
              build=lambda config, data: LogitsOnly(),
              task=Task(name="random-tokens", load=random_tokens, lr=1e-4))
