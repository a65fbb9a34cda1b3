"""CNN family: the classic tutorial network (conv-pool blocks, then fully connected layers).

As in PyTorch's "Neural Networks" tutorial (LeNet: conv 5x5 -> ReLU -> max-pool, twice, then
fc 120 -> fc 84 -> classes), scaled by `width` (channels of the first block, doubling per block),
`depth` (conv-pool blocks) and `fc` (width of the first fully connected layer). The digits are
resampled to `side` x `side` so that larger sizes also see larger images.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from suites.base import Suite, Task, TaskData
from suites.digits import digits_images


class ConvNet(nn.Module):
    def __init__(self, in_channels: int, side: int, width: int, depth: int, fc: int,
                 num_classes: int) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        channels = in_channels
        for block in range(depth):
            out = width * 2**block
            blocks += [nn.Conv2d(channels, out, kernel_size=5, padding=2), nn.ReLU(),
                       nn.MaxPool2d(2)]
            channels = out
        self.features = nn.Sequential(*blocks)
        flat = channels * (side // 2**depth) ** 2
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(flat, fc), nn.ReLU(), nn.Linear(fc, fc * 7 // 10), nn.ReLU(),
            nn.Linear(fc * 7 // 10, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


def build(config: Mapping[str, Any], data: TaskData) -> nn.Module:
    channels, side, _ = data.sample_shape
    return ConvNet(channels, side, config["width"], config["depth"], config["fc"],
                   data.num_classes)


SUITE = Suite(
    name="cnn",
    description="LeNet-style conv/pool/fc classifier on digit images",
    sizes={
        "tiny": {"side": 8, "width": 4, "depth": 1, "fc": 16},
        "small": {"side": 16, "width": 8, "depth": 2, "fc": 64},
        "medium": {"side": 32, "width": 16, "depth": 2, "fc": 120},
        "large": {"side": 32, "width": 64, "depth": 3, "fc": 256},
        # wide and deep: four blocks to 1,024 channels and a 2,048-wide classifier (28M)
        "xl": {"side": 32, "width": 128, "depth": 4, "fc": 2048},
    },
    gpu_default_sizes=("medium", "large", "xl"),
    build=build,
    task=Task(name="digits-images", load=lambda config: digits_images(config["side"])),
)
