"""RNN family: an LSTM sequence classifier reading a digit image one row per time step.

Scaled by `hidden` (LSTM hidden size) and `layers` (stacked LSTM layers); larger sizes also read
longer sequences (`side` rows of `side` pixels). The class comes from the last time step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from suites.base import Suite, Task, TaskData
from suites.digits import digits_rows


class LSTMClassifier(nn.Module):
    def __init__(self, features: int, hidden: int, layers: int, num_classes: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(features, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, num_classes)

    def forward(self, x):
        outputs, _ = self.lstm(x)
        return self.head(outputs[:, -1])


def build(config: Mapping[str, Any], data: TaskData) -> nn.Module:
    _, features = data.sample_shape
    return LSTMClassifier(features, config["hidden"], config["layers"], data.num_classes)


SUITE = Suite(
    name="rnn",
    description="LSTM classifier over digit rows",
    sizes={
        "tiny": {"side": 8, "hidden": 16, "layers": 1},
        "small": {"side": 8, "hidden": 64, "layers": 1},
        "medium": {"side": 16, "hidden": 128, "layers": 2},
        "large": {"side": 16, "hidden": 384, "layers": 3},
        # a four-layer LSTM of hidden size 1,024 (30M)
        "xl": {"side": 16, "hidden": 1024, "layers": 4},
    },
    gpu_default_sizes=("medium", "large", "xl"),
    build=build,
    task=Task(name="digits-rows", load=lambda config: digits_rows(config["side"])),
)
